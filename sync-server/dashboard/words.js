// Plain English for what the admin API answers: how long ago, how many, what a device's state
// means and what to do about it. Times are measured against the server's clock (the overview
// tells the page its offset), so a laptop whose clock is wrong still reads "2 days ago" right.

let serverOffsetMs = 0;

export function setServerTime(serverTimeMs) {
  serverOffsetMs = serverTimeMs - Date.now();
}

export function serverNow() {
  return Date.now() + serverOffsetMs;
}

const MINUTE = 60 * 1000;
const HOUR = 60 * MINUTE;
const DAY = 24 * HOUR;

export function plural(count, one, many) {
  return `${count.toLocaleString('en-GB')} ${count === 1 ? one : many || one + 's'}`;
}

// 90 seconds -> "2 minutes"; 50 hours -> "2 days".
export function duration(ms) {
  const span = Math.abs(ms);
  if (span < MINUTE) return 'less than a minute';
  if (span < HOUR) return plural(Math.round(span / MINUTE), 'minute');
  if (span < 2 * DAY) return plural(Math.round(span / HOUR), 'hour');
  return plural(Math.round(span / DAY), 'day');
}

export function ago(atMs) {
  if (atMs === null || atMs === undefined) return 'never';
  const span = serverNow() - atMs;
  if (span < MINUTE) return 'just now';
  return duration(span) + ' ago';
}

// "26 Nov 2026, 14:05", in the browser's time zone.
export function when(atMs) {
  if (atMs === null || atMs === undefined) return 'never';
  return new Date(atMs).toLocaleString('en-GB', {
    day: 'numeric', month: 'short', year: 'numeric', hour: '2-digit', minute: '2-digit',
  });
}

export function bytes(count) {
  if (count < 1024) return plural(count, 'byte');
  const units = ['KB', 'MB', 'GB', 'TB'];
  let value = count / 1024;
  let unit = 0;
  while (value >= 1024 && unit < units.length - 1) {
    value /= 1024;
    unit += 1;
  }
  return `${value.toFixed(value < 10 ? 1 : 0)} ${units[unit]}`;
}

export function percent(rate) {
  if (!rate) return '0%';
  const value = rate * 100;
  return `${value < 1 ? value.toFixed(1) : Math.round(value)}%`;
}

export function shortId(id) {
  return id ? id.slice(0, 8) : '';
}

// How each state looks: a colour (by class), an icon and a label, so colour is never alone.
export const STATES = {
  at_risk: { label: 'At risk', icon: '⚠', order: 0 },
  stale: { label: 'Not synced recently', icon: '◷', order: 1 },
  healthy: { label: 'Healthy', icon: '✓', order: 2 },
  revoked: { label: 'Revoked', icon: '✕', order: 3 },
  retired: { label: 'Retired', icon: '○', order: 4 },
};

export const STATE_ADVICE = {
  at_risk: 'Work on these devices could be lost. Contact the worker today.',
  stale: 'These devices have not synced for a while. Ask the worker to connect and sync.',
  healthy: 'Syncing normally.',
  revoked: 'Revoked by an admin: wiped at their next sync.',
  retired: 'Handed back: wiped once their last changes are in.',
};

// One sentence on why a device is in its state, for the table and the device's page.
// `rules` is the overview's {stale_after_h, failing_after}.
export function deviceSummary(device, rules) {
  const parts = [];
  if (device.state === 'revoked') {
    parts.push(device.status === 'wiped' ? 'Revoked and wiped' : 'Revoked: wiped at its next sync');
  } else if (device.state === 'retired') {
    parts.push(device.status === 'retired' ? 'Retired and wiped'
      : 'Being retired: wiped once its last changes are in');
  } else {
    if (device.last_sync_ms === null) {
      parts.push(`Never synced (enrolled ${ago(device.enrolled_at_ms)})`);
    } else if (device.state === 'healthy') {
      parts.push(`Synced ${ago(device.last_sync_ms)}`);
    } else {
      parts.push(`Not synced for ${duration(serverNow() - device.last_sync_ms)}`);
    }
    if (device.pending_changes > 0) {
      parts.push(`holds ${plural(device.pending_changes, 'unsynced change')}`);
    }
    const failing = rules ? rules.failing_after : 3;
    if (device.failed_in_a_row >= failing) {
      parts.push(`its last ${plural(device.failed_in_a_row, 'sync')} failed or had work refused`);
    } else if (device.failed_in_a_row > 0) {
      parts.push('its last sync failed or had work refused');
    }
  }
  const sentence = parts.join(', ');
  return sentence.charAt(0).toUpperCase() + sentence.slice(1);
}

export function unsynced(device) {
  if (!device.pending_changes) return 'None';
  const count = `Holds ${plural(device.pending_changes, 'unsynced change')}`;
  if (!device.oldest_pending_at_ms) return count;
  return `${count}, the oldest made ${ago(device.oldest_pending_at_ms)}`;
}

export function clockOffset(ms) {
  if (Math.abs(ms) < MINUTE) return 'Matches the server';
  return `${duration(ms)} ${ms > 0 ? 'ahead of' : 'behind'} the server`;
}

export const SYNC_OUTCOMES = {
  ok: 'Synced',
  rejected: 'Synced, some work refused',
  failed: 'Failed',
  upgrade_required: 'Refused: app too old',
  revoked: 'Refused: device revoked',
};

export const REJECTION_CODES = {
  validation: 'Did not pass the form rules',
  scope: 'Case not allocated to this worker',
  frozen: 'Case closed to changes',
  clock_skew: 'Device clock too far ahead',
  duplicate_mismatch: 'Sent again with different content',
  malformed: 'Could not be read',
};

export const STATUS_WORDS = {
  active: 'In use',
  revoked: 'Revoked (not yet wiped)',
  retiring: 'Being retired',
  wiped: 'Revoked and wiped',
  retired: 'Retired and wiped',
};
