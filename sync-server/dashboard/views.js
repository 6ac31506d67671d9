// The dashboard's views, each drawn into the page's <main> from the admin API: the overview,
// the device table, one device, the conflict log and the rejected work. Every value that came
// from a device or the server goes in as text (dom.js), never as markup.
import { get, post } from './api.js';
import { activityChart } from './chart.js';
import { el, fill } from './dom.js';
import {
  REJECTION_CODES, STATE_ADVICE, STATES, STATUS_WORDS, SYNC_OUTCOMES, ago, bytes, clockOffset,
  deviceSummary, duration, percent, plural, setServerTime, shortId, unsynced, when,
} from './words.js';

const PAGE_SIZE = 50;
let rules = null;  // the server's health rules, from the overview

async function healthRules() {
  if (!rules) await overviewData();
  return rules;
}

async function overviewData() {
  const overview = await get('/v1/admin/overview');
  setServerTime(overview.server_time_ms);
  rules = overview.rules;
  return overview;
}

function stateBadge(state) {
  const look = STATES[state] || { label: state, icon: '?' };
  return el('span', { class: `badge state-${state}` },
    el('span', { class: 'icon', 'aria-hidden': 'true', text: look.icon }), look.label);
}

function deviceName(device) {
  return device.user_name ? device.user_name : device.user_id;
}

function heading(text, ...extra) {
  return el('div', { class: 'heading' }, el('h1', { text }), ...extra);
}

function emptyRow(columns, text) {
  return el('tr', {}, el('td', { colspan: columns, class: 'empty', text }));
}

function table(className, headers, rows, emptyText) {
  return el('div', { class: 'table-scroll' },
    el('table', { class: className },
      el('thead', {}, el('tr', {}, headers)),
      el('tbody', {}, rows.length ? rows : emptyRow(headers.length, emptyText))));
}

function pager(total, offset, go) {
  if (total <= PAGE_SIZE) return null;
  const last = Math.min(offset + PAGE_SIZE, total);
  return el('div', { class: 'pager' },
    el('button', { type: 'button', class: 'button quiet', disabled: offset === 0,
      on: { click: () => go(Math.max(0, offset - PAGE_SIZE)) }, text: '‹ Previous' }),
    el('span', { text: `${offset + 1} to ${last} of ${total}` }),
    el('button', { type: 'button', class: 'button quiet', disabled: last >= total,
      on: { click: () => go(offset + PAGE_SIZE) }, text: 'Next ›' }));
}

function hashWith(base, params) {
  const query = new URLSearchParams();
  for (const [name, value] of Object.entries(params)) {
    if (value !== '' && value !== null && value !== undefined && value !== 0) query.set(name, value);
  }
  const text = query.toString();
  return text ? `${base}?${text}` : base;
}

// --- Overview ---

function stat(label, value, detail, className) {
  return el('div', { class: `stat ${className || ''}` },
    el('div', { class: 'stat-value', text: value }),
    el('div', { class: 'stat-label', text: label }),
    detail ? el('div', { class: 'stat-detail', text: detail }) : null);
}

function stateCard(state, count) {
  const look = STATES[state];
  return el('a', { class: `stat state-card state-${state}`, href: `#/devices?state=${state}` },
    el('div', { class: 'stat-value' },
      el('span', { class: 'icon', 'aria-hidden': 'true', text: look.icon }), String(count)),
    el('div', { class: 'stat-label', text: look.label }),
    el('div', { class: 'stat-detail', text: STATE_ADVICE[state] }));
}

function activityPanel(title, activity) {
  return el('section', { class: 'panel' },
    el('h2', { text: title }),
    el('div', { class: 'stats' },
      stat('syncs', activity.syncs.toLocaleString('en-GB')),
      stat('failed', activity.failed_syncs.toLocaleString('en-GB'),
        `${percent(activity.error_rate)} of syncs`, activity.failed_syncs ? 'warn' : ''),
      stat('changes received', activity.changes_pushed.toLocaleString('en-GB')),
      stat('changes sent out', activity.changes_pulled.toLocaleString('en-GB')),
      stat('conflicts', activity.conflicts.toLocaleString('en-GB')),
      stat('refused groups', activity.rejections.toLocaleString('en-GB'), null,
        activity.rejections ? 'warn' : '')));
}

export async function overview(main) {
  const [data, activity, attention] = await Promise.all([
    overviewData(),
    get('/v1/admin/activity?hours=24&bucket_minutes=60'),
    get(`/v1/admin/devices?state=at_risk,stale&limit=10`),
  ]);
  const counts = data.devices;
  fill(main,
    heading('Overview', el('p', { class: 'subtitle',
      text: `${plural(counts.total, 'device')} enrolled. A device is “not synced recently” ` +
        `after ${plural(data.rules.stale_after_h, 'hour')} without a sync.` })),
    el('section', { class: 'states', 'aria-label': 'Devices by state' },
      ['at_risk', 'stale', 'healthy', 'revoked', 'retired'].map(
        (state) => stateCard(state, counts[state] || 0))),
    el('section', { class: 'panel' },
      el('h2', { text: 'Devices that need attention' }),
      attention.total === 0 ? el('p', { class: 'good', text: 'None: every device has synced recently.' })
        : deviceTable(attention.devices, null),
      attention.total > attention.devices.length
        ? el('p', {}, el('a', { href: '#/devices?state=at_risk,stale',
          text: `See all ${attention.total}` })) : null),
    el('section', { class: 'panel' },
      el('h2', { text: 'Sync activity, last 24 hours' }),
      activityChart(activity)),
    el('div', { class: 'two' },
      activityPanel('Last hour', data.last_hour),
      activityPanel('Last 24 hours', data.last_day)),
    el('section', { class: 'panel' },
      el('h2', { text: 'Server' }),
      el('div', { class: 'stats' },
        stat('up for', duration(data.uptime_s * 1000)),
        stat('data stored', bytes(data.storage_bytes)),
        el('a', { class: `stat ${data.open_conflicts ? 'warn' : ''}`, href: '#/conflicts' },
          el('div', { class: 'stat-value', text: data.open_conflicts.toLocaleString('en-GB') }),
          el('div', { class: 'stat-label', text: 'open conflicts' })))));
}

// --- Devices ---

const DEVICE_COLUMNS = [
  { label: 'State', sort: 'state' },
  { label: 'Worker', sort: 'user' },
  { label: 'Why', sort: null },
  { label: 'Last synced', sort: 'last_sync', hide: 'narrow' },
  { label: 'Unsynced changes', sort: 'pending', hide: 'narrow' },
  { label: 'Platform', sort: 'platform', hide: 'optional' },
  { label: 'App version', sort: 'app_version', hide: 'optional' },
];

function deviceRow(device) {
  const link = `#/devices/${encodeURIComponent(device.device_id)}`;
  return el('tr', { class: `device state-${device.state}`, 'data-device': device.device_id },
    el('td', {}, stateBadge(device.state)),
    el('td', {}, el('a', { href: link, class: 'device-link' }, deviceName(device)),
      el('div', { class: 'muted nowrap', text: `device ${shortId(device.device_id)}` })),
    el('td', { class: 'why', text: deviceSummary(device, rules) }),
    el('td', { class: 'narrow', text: ago(device.last_sync_ms) }),
    el('td', { class: device.pending_changes ? 'narrow number warn-text' : 'narrow number',
      text: device.pending_changes ? device.pending_changes.toLocaleString('en-GB') : 'none' }),
    el('td', { class: 'optional', text: device.platform }),
    el('td', { class: 'optional version', text: device.app_version }));
}

// `sorting`: {sort, go(sortKey)} for sortable headers, or null.
function deviceTable(devices, sorting) {
  const headers = DEVICE_COLUMNS.map((column) => {
    const cell = el('th', { scope: 'col', class: column.hide || '' });
    if (!sorting || !column.sort) {
      cell.textContent = column.label;
      return cell;
    }
    const current = sorting.sort.replace(/^-/, '');
    const descending = sorting.sort.startsWith('-');
    const active = current === column.sort;
    cell.setAttribute('aria-sort', active ? (descending ? 'descending' : 'ascending') : 'none');
    cell.append(el('button', { type: 'button', class: 'sort', 'data-sort': column.sort,
      on: { click: () => sorting.go(active && !descending ? `-${column.sort}` : column.sort) } },
    column.label, el('span', { 'aria-hidden': 'true', class: 'arrow',
      text: active ? (descending ? ' ▼' : ' ▲') : '' })));
    return cell;
  });
  return table('devices', headers, devices.map(deviceRow), 'No device matches.');
}

export async function devices(main, params) {
  const state = params.get('state') || '';
  const sort = params.get('sort') || 'state';
  const q = params.get('q') || '';
  const offset = Number(params.get('offset') || 0);
  await healthRules();
  const query = hashWith('', { state, sort, q, offset, limit: PAGE_SIZE });
  const list = await get(`/v1/admin/devices${query}`);
  const go = (changes) => {
    location.hash = hashWith('#/devices', { state, sort, q, offset: 0, ...changes });
  };

  const filter = el('select', { id: 'state-filter', on: { change: (event) => go({ state: event.target.value }) } },
    el('option', { value: '', text: 'Every state' }),
    el('option', { value: 'at_risk,stale', text: 'Needs attention (at risk or not synced)' }),
    Object.entries(STATES).map(([name, look]) => el('option', { value: name, text: look.label })));
  filter.value = state;
  const search = el('input', { id: 'device-search', type: 'search', value: q,
    placeholder: 'Worker name, user or device id' });
  const form = el('form', { class: 'filters', on: { submit: (event) => {
    event.preventDefault();
    go({ q: search.value.trim() });
  } } },
  el('label', { for: 'state-filter', text: 'Show' }), filter,
  el('label', { for: 'device-search', text: 'Search' }), search,
  el('button', { type: 'submit', class: 'button', text: 'Search' }));

  fill(main,
    heading('Devices', el('p', { class: 'subtitle',
      text: `${plural(list.total, 'device')}${state ? ' in this view' : ''}. ` +
        'Devices that need attention are listed first.' })),
    form,
    deviceTable(list.devices, { sort, go: (key) => go({ sort: key }) }),
    pager(list.total, offset, (next) => go({ offset: next })));
}

// --- One device ---

function fact(label, value, className) {
  return [el('dt', { text: label }), el('dd', { class: className || '', text: value })];
}

function errorText(error) {
  if (!error) return 'None';
  return error.message ? `${error.code}: ${error.message}` : error.code;
}

function syncRow(sync) {
  return el('tr', { class: `outcome-${sync.outcome}` },
    el('td', { text: when(sync.at_ms) }),
    el('td', { text: SYNC_OUTCOMES[sync.outcome] || sync.outcome }),
    el('td', { class: 'number', text: `${sync.duration_ms} ms` }),
    el('td', { class: 'number', text: String(sync.changes_pushed) }),
    el('td', { class: 'number', text: String(sync.changes_pulled) }),
    el('td', { class: 'number', text: String(sync.groups_rejected) }),
    el('td', { class: 'number', text: String(sync.conflicts) }),
    el('td', { class: 'message', text: sync.error ? errorText(sync.error) : '' }));
}

function conflictRows(conflicts) {
  return conflicts.map((conflict) => el('tr', {},
    el('td', { text: when(conflict.updated_at_ms) }),
    el('td', { text: `${conflict.collection} ${shortId(conflict.record_id)}` }),
    el('td', { text: conflict.field }),
    el('td', { text: shortId(conflict.case_id) }),
    el('td', { text: `${conflict.lost.user_id}, ${when(conflict.lost.made_at_ms)}` }),
    el('td', { text: conflict.winner
      ? `${conflict.winner.user_id}${conflict.winner.device_id ? '' : ' (admin)'}, ` +
        when(conflict.winner.made_at_ms) : 'none' }),
    el('td', { text: conflict.resolved ? 'Resolved' : 'Open' })));
}

const CONFLICT_HEADERS = ['Last change', 'Record', 'Field', 'Case', 'Overwritten: by, made',
  'Kept: by, made', 'State'];

function rejectionRows(rejections, withDevice) {
  return rejections.map((rejection) => el('tr', {},
    el('td', { text: when(rejection.rejected_at_ms) }),
    withDevice ? el('td', {}, el('a', { href: `#/devices/${encodeURIComponent(rejection.device_id)}`,
      text: `${rejection.user_id}, device ${shortId(rejection.device_id)}` })) : null,
    el('td', { text: REJECTION_CODES[rejection.code] || rejection.code }),
    el('td', { class: 'message', text: rejection.message }),
    el('td', { text: rejection.record_id
      ? `${shortId(rejection.record_id)}${rejection.field ? ' / ' + rejection.field : ''}` : 'whole group' }),
    el('td', { class: 'number', text: String(rejection.change_count) })));
}

function rejectionHeaders(withDevice) {
  return ['Refused', withDevice ? 'Device' : null, 'Why', 'Server message', 'Record / field',
    'Changes'].filter(Boolean).map((text) => el('th', { scope: 'col', text }));
}

function actions(device, session, reload) {
  if (!session.roles.includes('enrol')) return null;
  const open = device.status === 'active' || device.status === 'retiring';
  if (!open) return null;
  const buttons = el('div', { class: 'actions' });
  buttons.append(el('button', { type: 'button', class: 'button danger', id: 'revoke',
    on: { click: () => changeStatus(device, 'revoke', reload) }, text: 'Revoke (lost or stolen)' }));
  if (device.status === 'active') {
    buttons.append(el('button', { type: 'button', class: 'button', id: 'retire',
      on: { click: () => changeStatus(device, 'retire', reload) }, text: 'Retire (handed back)' }));
  }
  return buttons;
}

const ACTIONS = {
  revoke: {
    title: 'Revoke this device?',
    text: 'Do this when a device is lost or stolen. The next time it connects it is wiped, and ' +
      'its token stops working at once. Work on it that has not synced is lost.',
    button: 'Revoke device',
  },
  retire: {
    title: 'Retire this device?',
    text: 'Do this when a device is handed back. Its last unsynced work is accepted at its ' +
      'next sync, and then it is wiped.',
    button: 'Retire device',
  },
};

function changeStatus(device, action, reload) {
  const dialog = document.getElementById('confirm');
  const words = ACTIONS[action];
  document.getElementById('confirm-title').textContent = words.title;
  document.getElementById('confirm-text').textContent =
    `${words.text} Device ${shortId(device.device_id)} of ${deviceName(device)}.`;
  document.getElementById('confirm-ok').textContent = words.button;
  const reason = document.getElementById('confirm-reason');
  reason.value = '';
  dialog.returnValue = '';
  dialog.addEventListener('close', async () => {
    if (dialog.returnValue !== 'confirm') return;
    await reload(() => post(`/v1/admin/devices/${encodeURIComponent(device.device_id)}/${action}`,
      { reason: reason.value.trim() }));
  }, { once: true });
  dialog.showModal();
}

// `page`: {showError(failure), redraw()} from app.js, for after a revoke or retire.
export async function device(main, params, session, id, page) {
  await healthRules();
  const path = `/v1/admin/devices/${encodeURIComponent(id)}`;
  const [entry, conflicts, rejections] = await Promise.all([
    get(`${path}?history=20`),
    get(`/v1/admin/conflicts?state=all&limit=20&device=${encodeURIComponent(id)}`),
    get(`/v1/admin/rejections?limit=20&device=${encodeURIComponent(id)}`),
  ]);
  const reload = async (change) => {
    try {
      await change();
    } catch (failure) {
      page.showError(failure);
      return;
    }
    page.redraw();
  };
  const totals = entry.totals;
  fill(main,
    el('p', { class: 'back' }, el('a', { href: '#/devices', text: '‹ All devices' })),
    heading(`${deviceName(entry)}’s device`, stateBadge(entry.state)),
    el('p', { class: `summary state-${entry.state}`, id: 'device-summary', text: deviceSummary(entry, rules) }),
    actions(entry, session, reload),
    el('section', { class: 'panel' },
      el('h2', { text: 'About this device' }),
      el('dl', { class: 'facts' },
        fact('Worker', `${deviceName(entry)} (${entry.user_id}), team ${entry.team_id || 'none'}`),
        fact('Device id', entry.device_id, 'id'),
        fact('Status', STATUS_WORDS[entry.status] || entry.status),
        entry.status_reason ? fact('Reason given', entry.status_reason) : null,
        fact('Platform', entry.platform || 'not reported', 'version'),
        fact('App version', entry.app_version || 'not reported', 'version'),
        fact('Core version', entry.core_version || 'not reported', 'version'),
        fact('Enrolled', `${when(entry.enrolled_at_ms)} (${ago(entry.enrolled_at_ms)})`),
        fact('Last successful sync', entry.last_sync_ms === null ? 'Never'
          : `${when(entry.last_sync_ms)} (${ago(entry.last_sync_ms)})`),
        fact('Last contact', entry.last_seen_ms === null ? 'Never' : ago(entry.last_seen_ms)),
        fact('Unsynced changes', unsynced(entry), entry.pending_changes ? 'warn-text' : ''),
        fact('Syncs in a row that failed or had work refused', String(entry.failed_in_a_row), entry.failed_in_a_row ? 'warn-text' : ''),
        fact('Last error from the server', entry.last_error
          ? `${errorText(entry.last_error)} (${ago(entry.last_error.at_ms)})` : 'None', 'message'),
        fact('Last error reported by the device', errorText(entry.device_error), 'message'),
        fact('Device clock', clockOffset(entry.clock_offset_ms)),
        fact('Since enrolment', `${plural(totals.syncs, 'sync')} (${totals.failed_syncs} failed), ` +
          `${plural(totals.changes_pushed, 'change')} received, ${totals.changes_pulled} sent out, ` +
          `${plural(totals.conflicts, 'conflict')}, ${plural(totals.rejections, 'refused group')}, ` +
          `${bytes(totals.bytes_in)} in, ${bytes(totals.bytes_out)} out`))),
    el('section', { class: 'panel' },
      el('h2', { text: 'Recent syncs' }),
      table('syncs', ['When', 'Outcome', 'Took', 'Received', 'Sent out', 'Refused groups',
        'Conflicts', 'Error'].map((text) => el('th', { scope: 'col', text })),
      entry.recent_syncs.map(syncRow), 'This device has not synced yet.')),
    el('section', { class: 'panel' },
      el('h2', { text: `Conflicts (${conflicts.total})` }),
      el('p', { class: 'muted', text: 'A value overwritten by someone who had not seen it. ' +
        'Only who and when are shown here; the values stay on the case owners’ devices.' }),
      table('conflicts', CONFLICT_HEADERS.map((text) => el('th', { scope: 'col', text })),
        conflictRows(conflicts.conflicts), 'No conflicts involve this device.')),
    el('section', { class: 'panel' },
      el('h2', { text: `Refused work (${rejections.total})` }),
      table('rejections', rejectionHeaders(false), rejectionRows(rejections.rejections, false),
        'Nothing this device sent was refused.')));
}

// --- Conflicts and rejections across the fleet ---

export async function conflicts(main, params) {
  const state = params.get('state') || 'open';
  const offset = Number(params.get('offset') || 0);
  const list = await get(`/v1/admin/conflicts${hashWith('', { state, offset, limit: PAGE_SIZE })}`);
  const go = (changes) => { location.hash = hashWith('#/conflicts', { state, offset: 0, ...changes }); };
  const filter = el('select', { id: 'conflict-filter', on: { change: (event) => go({ state: event.target.value }) } },
    el('option', { value: 'open', text: 'Open' }),
    el('option', { value: 'resolved', text: 'Resolved' }),
    el('option', { value: 'all', text: 'All' }));
  filter.value = state;
  fill(main,
    heading('Conflicts', el('p', { class: 'subtitle', text:
      'A conflict is a value overwritten by someone who had not seen it. Both people are told on ' +
      'their devices; a manager resolves it there. Only who and when are shown here.' })),
    el('div', { class: 'filters' }, el('label', { for: 'conflict-filter', text: 'Show' }), filter),
    table('conflicts', CONFLICT_HEADERS.map((text) => el('th', { scope: 'col', text })),
      conflictRows(list.conflicts), 'No conflicts.'),
    pager(list.total, offset, (next) => go({ offset: next })));
}

export async function rejections(main, params) {
  const code = params.get('code') || '';
  const offset = Number(params.get('offset') || 0);
  const list = await get(`/v1/admin/rejections${hashWith('', { code, offset, limit: PAGE_SIZE })}`);
  const go = (changes) => { location.hash = hashWith('#/rejections', { code, offset: 0, ...changes }); };
  const filter = el('select', { id: 'rejection-filter', on: { change: (event) => go({ code: event.target.value }) } },
    el('option', { value: '', text: 'Every reason' }),
    Object.entries(REJECTION_CODES).map(([name, text]) => el('option', { value: name, text })));
  filter.value = code;
  fill(main,
    heading('Refused work', el('p', { class: 'subtitle', text:
      'Groups of changes the server refused. The device keeps them and shows the worker why; ' +
      'nothing is lost. The values are never shown here.' })),
    el('div', { class: 'filters' }, el('label', { for: 'rejection-filter', text: 'Show' }), filter),
    table('rejections', rejectionHeaders(true), rejectionRows(list.rejections, true),
      'Nothing was refused.'),
    pager(list.total, offset, (next) => go({ offset: next })));
}
