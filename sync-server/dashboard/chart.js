// The sync activity chart: one bar per time bucket (GET /v1/admin/activity), syncs that went
// through in blue and failed ones in red stacked on top, drawn as SVG with DOM calls. Each bar
// has a tooltip, and a sentence under the chart says the same for someone who cannot see it.
import { el, svg } from './dom.js';
import { plural } from './words.js';

const WIDTH = 720;
const HEIGHT = 220;
const LEFT = 40;
const RIGHT = 10;
const TOP = 12;
const BOTTOM = 28;

function hourLabel(ms) {
  return new Date(ms).toLocaleTimeString('en-GB', { hour: '2-digit', minute: '2-digit' });
}

// A round top for the y axis: 1, 2, 5, 10, 20, 50, ...
function axisTop(max) {
  let step = 1;
  while (true) {
    for (const factor of [1, 2, 5]) {
      if (step * factor >= max) return step * factor;
    }
    step *= 10;
  }
}

export function activityChart(activity) {
  const buckets = activity.buckets;
  const top = axisTop(Math.max(2, ...buckets.map((bucket) => bucket.syncs)));
  const plotWidth = WIDTH - LEFT - RIGHT;
  const plotHeight = HEIGHT - TOP - BOTTOM;
  const slot = plotWidth / buckets.length;
  const barWidth = Math.max(2, slot * 0.7);
  const y = (count) => TOP + plotHeight - (count / top) * plotHeight;

  const chart = svg('svg', {
    class: 'chart', viewBox: `0 0 ${WIDTH} ${HEIGHT}`, role: 'img',
    'aria-labelledby': 'chart-title', preserveAspectRatio: 'xMidYMid meet',
  });
  chart.append(svg('title', { id: 'chart-title', text: 'Syncs per hour over the last 24 hours' }));
  for (const value of [0, top / 2, top]) {
    chart.append(svg('line', { class: 'grid', x1: LEFT, x2: WIDTH - RIGHT, y1: y(value), y2: y(value) }));
    chart.append(svg('text', { class: 'axis', x: LEFT - 6, y: y(value) + 4, 'text-anchor': 'end',
      text: String(value) }));
  }
  buckets.forEach((bucket, index) => {
    const x = LEFT + index * slot + (slot - barWidth) / 2;
    const ok = bucket.syncs - bucket.failed_syncs;
    const end = bucket.start_ms + activity.bucket_minutes * 60 * 1000;
    const group = svg('g', { class: 'bar' },
      svg('title', { text: `${hourLabel(bucket.start_ms)} to ${hourLabel(end)}: ` +
        `${plural(bucket.syncs, 'sync')}, ${bucket.failed_syncs} failed` }));
    group.append(svg('rect', { class: 'slot', x: LEFT + index * slot, y: TOP, width: slot,
      height: plotHeight }));
    if (ok > 0) {
      group.append(svg('rect', { class: 'ok', x, y: y(bucket.syncs), width: barWidth,
        height: y(bucket.failed_syncs) - y(bucket.syncs) }));
    }
    if (bucket.failed_syncs > 0) {
      group.append(svg('rect', { class: 'failed', x, y: y(bucket.failed_syncs), width: barWidth,
        height: y(0) - y(bucket.failed_syncs) }));
    }
    chart.append(group);
    if (index % 3 === 0) {
      chart.append(svg('text', { class: 'axis', x: LEFT + index * slot + slot / 2, y: HEIGHT - 8,
        'text-anchor': 'middle', text: hourLabel(bucket.start_ms) }));
    }
  });
  chart.append(svg('line', { class: 'baseline', x1: LEFT, x2: WIDTH - RIGHT, y1: y(0), y2: y(0) }));

  const syncs = buckets.reduce((sum, bucket) => sum + bucket.syncs, 0);
  const failed = buckets.reduce((sum, bucket) => sum + bucket.failed_syncs, 0);
  const busiest = buckets.reduce((best, bucket) => (bucket.syncs > best.syncs ? bucket : best),
    buckets[0]);
  const summary = syncs === 0 ? 'No device synced in the last 24 hours.'
    : `${plural(syncs, 'sync')} in the last 24 hours, ${failed} of them failed. ` +
      `Busiest hour: ${hourLabel(busiest.start_ms)} (${plural(busiest.syncs, 'sync')}).`;
  return el('figure', { class: 'chart-figure' },
    chart,
    el('figcaption', {},
      el('span', { class: 'key ok', text: 'Synced' }),
      el('span', { class: 'key failed', text: 'Failed' }),
      el('span', { class: 'chart-summary', text: summary })));
}
