// Building the page with DOM calls only. Text goes in through textContent and attributes through
// setAttribute, never as markup, so a string a device reported ("<script>...") shows as itself.

// el('td', {class: 'x', text: 'y', href: '#/z'}, child, ...): an element with attributes, text
// and children (elements, strings, or null to skip).
export function el(tag, properties = {}, ...children) {
  const element = document.createElement(tag);
  setProperties(element, properties);
  append(element, children);
  return element;
}

const SVG_NS = 'http://www.w3.org/2000/svg';

export function svg(tag, properties = {}, ...children) {
  const element = document.createElementNS(SVG_NS, tag);
  setProperties(element, properties);
  append(element, children);
  return element;
}

function setProperties(element, properties) {
  for (const [name, value] of Object.entries(properties)) {
    if (value === undefined || value === null || value === false) continue;
    if (name === 'text') {
      element.textContent = String(value);
    } else if (name === 'on') {
      for (const [event, handler] of Object.entries(value)) element.addEventListener(event, handler);
    } else if (name === 'style' || name.startsWith('on')) {
      throw new Error('inline styles and handlers are not used: ' + name);
    } else {
      element.setAttribute(name, value === true ? '' : String(value));
    }
  }
}

function append(element, children) {
  for (const child of children.flat()) {
    if (child === null || child === undefined || child === false) continue;
    element.append(child instanceof Node ? child : document.createTextNode(String(child)));
  }
}

// Replaces what `element` holds with `children` (null ones skipped, as in el()).
export function fill(element, ...children) {
  element.replaceChildren();
  append(element, children);
}
