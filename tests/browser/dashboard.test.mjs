// The admin dashboard in Debian's chromium (headless, a fresh profile, no network but
// 127.0.0.1), driven by playwright-core. Run by tests/integration/test_dashboard_browser.cpp,
// which starts the server, syncs the devices and writes the scene file this script reads:
//   node dashboard.test.mjs <scene.json>
// Each check prints "ok - ..." or "not ok - ..."; the exit status is 1 if any failed.
// Screenshots go to the scene's artifacts folder.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { chromium } from 'playwright-core';

const scene = JSON.parse(fs.readFileSync(process.argv[2], 'utf8'));
const failures = [];
let checks = 0;

function check(condition, what, detail = '') {
  checks += 1;
  if (condition) {
    console.log(`ok - ${what}`);
  } else {
    failures.push(what);
    console.log(`not ok - ${what}${detail ? `\n    ${detail}` : ''}`);
  }
}

const profile = fs.mkdtempSync(path.join(os.tmpdir(), 'fieldsync-chromium-'));
const context = await chromium.launchPersistentContext(profile, {
  executablePath: scene.chromium,
  headless: true,
  args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
    '--disable-background-networking', '--disable-component-update', '--disable-sync'],
  viewport: { width: 1366, height: 900 },
});
context.setDefaultTimeout(15000);
const page = context.pages()[0] || await context.newPage();

// What must never happen: a dialog opening, a script error, a request leaving 127.0.0.1.
const dialogs = [];
const pageErrors = [];
const consoleErrors = [];
const elsewhere = [];
page.on('dialog', (dialog) => {
  dialogs.push(dialog.message());
  dialog.dismiss().catch(() => {});
});
page.on('pageerror', (error) => pageErrors.push(error.message));
page.on('console', (message) => {
  if (message.type() === 'error') consoleErrors.push(message.text());
});
page.on('request', (request) => {
  if (!request.url().startsWith(scene.url + '/')) elsewhere.push(request.url());
});

let width = 1366;
const seen = [];  // every view checked, for the summary

async function screenshot(name) {
  await page.screenshot({ path: path.join(scene.artifacts, `${name}-${width}.png`), fullPage: true });
}

// Checks every rendered view must pass: nothing injected ran, no case content, no sideways scroll.
async function checkPage(name) {
  seen.push(`${name}@${width}`);
  const html = await page.content();
  const text = await page.evaluate(() => document.body.innerText);
  check(!html.includes(scene.sentinel) && !text.includes(scene.sentinel),
    `${name} at ${width}px: no case content in the page`);
  check(!/\b(null|undefined|NaN)\b|\[object /.test(text), `${name} at ${width}px: no value left unwritten`,
    (text.match(/.*\b(null|undefined|NaN)\b.*/) || [''])[0]);
  check(await page.evaluate(() => window.__fieldsyncInjected === undefined),
    `${name} at ${width}px: nothing a device reported ran`);
  check(await page.evaluate(() => document.querySelectorAll('script').length === 1),
    `${name} at ${width}px: the page holds only its own script element`);
  const overflow = await page.evaluate(() =>
    document.documentElement.scrollWidth - document.documentElement.clientWidth);
  check(overflow <= 0, `${name} at ${width}px: the page does not scroll sideways`,
    `wider than the window by ${overflow}px`);
  await screenshot(name);
}

// Goes to a view (#/...) and waits until it is drawn.
async function show(hash, view, ready) {
  await page.evaluate((target) => {
    document.getElementById('view').dataset.view = '';
    location.hash = target;
  }, hash);
  await page.waitForSelector(`main[data-view="${view}"]`);
  if (ready) await page.waitForSelector(ready);
}

async function logIn(token) {
  await page.fill('#token', token);
  await page.click('#login-button');
}

function row(device) {
  return page.locator(`tr.device[data-device="${device}"]`);
}

try {
  // --- Login.
  await page.goto(`${scene.url}/admin`);
  await page.waitForSelector('#login-form');
  await checkPage('login');
  await logIn('not-a-token');
  await page.waitForSelector('#login-message.error');
  check((await page.textContent('#login-message')).includes('not accepted'),
    'a wrong token is refused with a clear message');
  await logIn(scene.token);
  await page.waitForSelector('main[data-view="overview"] .states');
  check(await page.isVisible('#who-name'), 'logged in: the admin\'s name is shown');
  check((await page.textContent('#who-name')).includes('Dana Admin'), 'the name is the token\'s');
  const kept = await page.evaluate(() => ({
    local: localStorage.length, session: sessionStorage.length, cookie: document.cookie,
  }));
  check(kept.local === 0 && kept.session === 0, 'the token is kept in no storage of the page');
  check(!kept.cookie.includes('fieldsync_session'), 'the session cookie is out of the script\'s reach');
  check(!(await page.content()).includes(scene.token), 'the token is nowhere in the page');

  // --- Overview and the chart.
  const card = async (state) => Number((await page.textContent(`.state-card.state-${state} .stat-value`)).replace(/\D/g, ''));
  check(await card('at_risk') === 2, 'the overview counts 2 devices at risk');
  check(await card('stale') === 1, 'the overview counts 1 device not synced recently');
  check(await page.locator('svg.chart g.bar').count() === 24, 'the chart has a bar for each of 24 hours');
  check(await page.locator('svg.chart rect.ok').count() >= 1, 'the chart shows today\'s syncs');
  check(await page.locator('svg.chart rect.failed').count() >= 1, 'the chart shows the failed syncs');
  check((await page.textContent('.chart-summary')).includes('in the last 24 hours'),
    'the chart says what it shows in words');
  check(await page.locator(`.panel tr.device[data-device="${scene.devices.stale}"]`).count() === 1,
    'the stale device is listed under "needs attention"');
  await checkPage('overview');

  // --- The device table.
  await show('#/devices', 'devices', 'tr.device');
  const stale = row(scene.devices.stale);
  check(await stale.evaluate((r) => r.classList.contains('state-stale')), 'the stale device\'s row is marked');
  check((await stale.textContent()).includes('Not synced recently'), 'the stale device is labelled in words');
  check((await stale.locator('.icon').textContent()).trim() !== '', 'the stale device has an icon');
  check((await stale.locator('.why').textContent()).includes('Not synced for 2 days'),
    'the stale device says how long: "Not synced for 2 days"', await stale.locator('.why').textContent());
  const background = (locator) => locator.locator('td.why').evaluate((cell) => getComputedStyle(cell).backgroundColor);
  const healthyBackground = await background(row(scene.devices.healthy));
  check(await background(stale) !== healthyBackground, 'the stale device is coloured apart from a healthy one');
  const unsynced = row(scene.devices.at_risk_unsynced);
  check(await unsynced.evaluate((r) => r.classList.contains('state-at_risk')), 'the device holding unsynced work is at risk');
  check(/holds \d+ unsynced changes/.test(await unsynced.locator('.why').textContent()),
    'it says how many changes it holds', await unsynced.locator('.why').textContent());
  check(await background(unsynced) !== healthyBackground && await background(unsynced) !== await background(stale),
    'at risk has a colour of its own');
  check((await row(scene.devices.at_risk_failing).locator('.why').textContent()).includes('last 3 syncs failed'),
    'the failing device says its last 3 syncs failed');
  const order = await page.locator('tr.device').evaluateAll((rows) => rows.map((r) => r.className));
  check(order[0].includes('at_risk') && order[1].includes('at_risk') && order[2].includes('stale'),
    'devices that need attention come first', order.join(', '));
  check((await row(scene.devices.scripted_version).locator('.version').textContent()) === scene.script_version,
    'an app version holding <script> shows as its text');
  await checkPage('devices');

  await page.click('button.sort[data-sort="user"]');
  await page.waitForSelector('th[aria-sort="ascending"] > button.sort[data-sort="user"]');
  const workers = await page.locator('tr.device a.device-link').allTextContents();
  check(workers.join('|') === [...workers].sort().join('|'), 'sorting by worker orders the rows', workers.join(', '));
  await page.selectOption('#state-filter', 'stale');
  await page.waitForFunction(() => location.hash.includes('state=stale') && document.querySelectorAll('tr.device').length > 0 &&
    [...document.querySelectorAll('tr.device')].every((r) => r.classList.contains('state-stale')));
  check(await page.locator('tr.device').count() === 1, 'filtering by state lists only the stale device');

  // --- One device: the stale one, then the ones that reported markup.
  await show(`#/devices/${scene.devices.stale}`, 'device', '#device-summary');
  check((await page.textContent('#device-summary')).includes('Not synced for 2 days'), 'the device page says why it is stale');
  check(await page.locator('table.syncs tbody tr').count() >= 1, 'the device page lists its recent syncs');
  await checkPage('device-stale');

  await show(`#/devices/${scene.devices.healthy}`, 'device', '#device-summary');
  check(await page.locator('table.conflicts tbody tr:not(:has(td.empty))').count() === 1,
    'the manager\'s phone shows its conflict (who and when only)');
  await checkPage('device-conflict');

  await show(`#/devices/${scene.devices.scripted_version}`, 'device', '#device-summary');
  check((await page.locator('.facts dd.version').allTextContents()).includes(scene.script_version),
    'the device page shows the <script> app version as text');
  await checkPage('device-script-version');

  await show(`#/devices/${scene.devices.scripted_error}`, 'device', '#device-summary');
  check((await page.locator('.facts dd.message').allTextContents()).some((text) => text.includes(scene.image_error)),
    'the device page shows the <img onerror> error message as text');
  check(await page.evaluate(() => document.querySelectorAll('img').length === 1 &&
    document.querySelector('img').getAttribute('src') === '/admin/icon.svg'),
    'no image element came from the message');
  check(await page.locator('table.rejections tbody tr:not(:has(td.empty))').count() === 1,
    'the device page lists its refused work');
  await checkPage('device-script-error');

  // Revoke it, as an admin with the enrol role: confirmation first, then the CSRF-guarded call.
  await page.click('#revoke');
  await page.waitForSelector('dialog#confirm[open]');
  await screenshot('revoke-confirmation');
  await page.fill('#confirm-reason', 'reported lost in the test');
  await page.click('#confirm-ok');
  await page.waitForFunction(() => document.querySelector('main .heading .badge.state-revoked'));
  check((await page.textContent('.facts')).includes('reported lost in the test'), 'revoking records the reason');
  check(await page.locator('#revoke').count() === 0, 'a revoked device offers no revoke button');

  await show('#/conflicts', 'conflicts', 'table.conflicts');
  check(await page.locator('table.conflicts tbody tr:not(:has(td.empty))').count() === 1, 'the conflict log lists the conflict');
  await checkPage('conflicts');
  await show('#/rejections', 'rejections', 'table.rejections');
  check(await page.locator('table.rejections tbody tr:not(:has(td.empty))').count() === 1, 'the refused work is listed');
  await checkPage('rejections');

  // --- A tablet held upright.
  width = 768;
  await page.setViewportSize({ width: 768, height: 1024 });
  await show('#/overview', 'overview', '.states');
  await checkPage('overview');
  await show('#/devices', 'devices', 'tr.device');
  check(await page.evaluate(() => [...document.querySelectorAll('.table-scroll')]
    .every((box) => box.scrollWidth <= box.clientWidth)), 'the device table fits a tablet without scrolling');
  check((await row(scene.devices.at_risk_unsynced).locator('.why').textContent()).includes('unsynced changes'),
    'on a tablet the "why" column still says what the hidden columns would');
  await checkPage('devices');
  await show(`#/devices/${scene.devices.at_risk_unsynced}`, 'device', '#device-summary');
  await checkPage('device-at-risk');
  await show('#/conflicts', 'conflicts', 'table.conflicts');
  await checkPage('conflicts');

  // --- Log out; a monitor-only admin sees no revoke button.
  width = 1366;
  await page.setViewportSize({ width: 1366, height: 900 });
  await page.click('#logout');
  await page.waitForSelector('#login-form');
  check((await page.textContent('#login-message')).includes('logged out'), 'logging out says so');
  check(await page.isHidden('#nav'), 'after logging out the menu is gone');
  await logIn(scene.monitor_token);
  await page.waitForSelector('main[data-view="overview"] .states');
  await show(`#/devices/${scene.devices.healthy}`, 'device', '#device-summary');
  check(await page.locator('#revoke, #retire').count() === 0, 'an admin without the enrol role gets no revoke or retire button');

  // --- The session ends (its cookie expires): back to the login view, with a clear message.
  await context.clearCookies();
  await page.evaluate(() => { location.hash = '#/devices'; });
  await page.waitForSelector('#login-form');
  check((await page.textContent('#login-message')).includes('session has ended'),
    'an ended session goes back to the login view and says why');
  await checkPage('session-ended');

  check(dialogs.length === 0, 'no dialog ever opened', dialogs.join('; '));
  check(pageErrors.length === 0, 'no script error', pageErrors.join('; '));
  const unexpected = consoleErrors.filter((text) => !/status of 401/.test(text));
  check(unexpected.length === 0, 'no console error but the expected 401s (no policy violation)', unexpected.join('; '));
  check(elsewhere.length === 0, 'nothing was requested from anywhere but the server', elsewhere.join(', '));
} catch (error) {
  failures.push(`stopped: ${error.message}`);
  console.log(`not ok - the script stopped: ${error.stack}`);
  await screenshot('failure').catch(() => {});
} finally {
  await context.close();
  fs.rmSync(profile, { recursive: true, force: true });
}

console.log(`${checks - failures.length} passed, ${failures.length} failed (views: ${seen.join(', ')})`);
process.exit(failures.length === 0 ? 0 : 1);
