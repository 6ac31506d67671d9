// The dashboard's entry point: checks for a session, shows the login view or the view the
// address names (#/overview, #/devices, #/devices/<id>, #/conflicts, #/rejections), and sends
// the admin back to the login view with a clear message when the session ends.
import { ApiError, SessionEnded, currentSession, forgetSession, logIn, logOut } from './api.js';
import { el } from './dom.js';
import * as views from './views.js';

const main = document.getElementById('view');
let session = null;
let loginMessage = '';
let drawing = 0;  // each draw's number: an older draw that finishes late draws nothing

function setLoggedIn(value) {
  session = value;
  document.getElementById('nav').hidden = !session;
  document.getElementById('who').hidden = !session;
  document.getElementById('who-name').textContent = session ? `Logged in as ${session.name}` : '';
}

function explain(failure) {
  if (failure instanceof ApiError) {
    if (failure.status === 403) {
      return 'Your admin token does not allow this. ' + (failure.message || '') +
        ' Ask for a token with the monitor role to see devices, or the enrol role to revoke them.';
    }
    if (failure.status === 404) return 'Not found: it may have been removed. ' + failure.message;
    if (failure.status === 0) return failure.message;
    return `The server answered ${failure.status}: ${failure.message || failure.error}`;
  }
  return 'Something went wrong in the page: ' + failure.message;
}

function showError(failure) {
  if (failure instanceof SessionEnded) {
    sessionEnded();
    return;
  }
  const notice = el('p', { class: 'notice error', role: 'alert', text: explain(failure) });
  main.prepend(notice);
}

function sessionEnded() {
  forgetSession();
  setLoggedIn(null);
  loginMessage = 'Your session has ended, so you were logged out. Log in again to carry on.';
  drawLogin();
}

function drawLogin() {
  const token = el('input', { id: 'token', name: 'token', type: 'password', autocomplete: 'off',
    spellcheck: 'false', required: true });
  const message = el('p', { id: 'login-message', class: loginMessage ? 'notice' : 'hidden',
    role: 'status', text: loginMessage });
  const button = el('button', { type: 'submit', class: 'button primary', id: 'login-button',
    text: 'Log in' });
  const form = el('form', { class: 'login', id: 'login-form' },
    el('h1', { text: 'Log in' }),
    message,
    el('label', { for: 'token', text: 'Admin token' }),
    token,
    el('p', { class: 'muted', text: 'Paste the admin token you were given. It is made on the ' +
      'server with “fieldsync-server admin create-token”. The page does not keep it: you stay ' +
      'logged in until you log out or the session ends.' }),
    button);
  form.addEventListener('submit', async (event) => {
    event.preventDefault();
    const value = token.value.trim();
    token.value = '';
    button.disabled = true;
    try {
      setLoggedIn(await logIn(value));
      loginMessage = '';
      if (!location.hash || location.hash === '#/login') location.hash = '#/overview';
      else draw();
    } catch (failure) {
      button.disabled = false;
      message.className = 'notice error';
      if (failure instanceof ApiError && failure.status === 401) {
        message.textContent = 'That token was not accepted. It may be mistyped, expired or withdrawn.';
      } else if (failure instanceof ApiError && failure.status === 429) {
        message.textContent = 'Too many attempts. Wait a few minutes, then try again.';
      } else {
        message.textContent = explain(failure);
      }
      token.focus();
    }
  });
  main.replaceChildren(form);
  token.focus();
}

function route() {
  const hash = location.hash.replace(/^#/, '') || '/overview';
  const [path, query] = hash.split('?');
  const parts = path.split('/').filter(Boolean);
  return { name: parts[0] || 'overview', id: parts[1] ? decodeURIComponent(parts[1]) : '',
    params: new URLSearchParams(query || '') };
}

async function draw() {
  if (!session) {
    drawLogin();
    return;
  }
  const number = ++drawing;
  const { name, id, params } = route();
  for (const link of document.querySelectorAll('#nav a')) {
    link.classList.toggle('current', link.dataset.view === name);
  }
  const target = el('div', { class: 'drawn' });
  try {
    if (name === 'devices' && id) await views.device(target, params, session, id, { showError, redraw: draw });
    else if (name === 'devices') await views.devices(target, params);
    else if (name === 'conflicts') await views.conflicts(target, params);
    else if (name === 'rejections') await views.rejections(target, params);
    else await views.overview(target);
    if (number !== drawing) return;
    main.replaceChildren(...target.childNodes);
    main.dataset.view = id ? 'device' : name;
    document.title = `${main.querySelector('h1') ? main.querySelector('h1').textContent : 'fieldsync'} · fieldsync admin`;
  } catch (failure) {
    if (number !== drawing) return;
    main.replaceChildren();
    showError(failure);
  }
}

document.getElementById('logout').addEventListener('click', async () => {
  try {
    await logOut();
  } catch (failure) {
    // The session is gone either way for this page; the server's answer changes nothing here.
  }
  setLoggedIn(null);
  loginMessage = 'You have logged out.';
  location.hash = '#/login';
  drawLogin();
});

window.addEventListener('hashchange', () => {
  if (session) draw();
});

async function start() {
  try {
    setLoggedIn(await currentSession());
  } catch (failure) {
    main.replaceChildren();
    showError(failure);
    return;
  }
  draw();
}

start();
