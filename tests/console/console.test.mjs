// console.test.mjs: the web console end to end, in headless Debian Chromium
// driven by playwright-core (never a downloaded browser).
//
// Run by tests/e2e/test_console.c, which starts the stack (api, broker, one
// dispatcher), an HTTPS receiver (answering the first request to /gone with
// 410) and a tenant key, and passes:
//   HOOKLINE_CONSOLE_URL        the api's base URL ("http://127.0.0.1:PORT")
//   HOOKLINE_CONSOLE_KEY        a tenant key with every tenant scope
//   HOOKLINE_RECEIVER_URL       "https://127.0.0.1:PORT" (trusted by the dispatcher)
//   HOOKLINE_CONSOLE_ARTIFACTS  where screenshots go (default build/tests/artifacts/console)
//   HOOKLINE_CHROMIUM           the browser (default /usr/bin/chromium)
// Steps run in order and share one browser tab, as a person would use it.
// Prints "ok - <step>" / "not ok - <step>" and last "N passed, N failed";
// exits 1 if any step failed.

import assert from 'node:assert/strict';
import { apiClient, createHarness } from './harness.mjs';

const { need, launch, step, shot, until, close, finish } = createHarness({
  name: 'console', stepTimeoutMs: 60000, failedShotPrefix: 'FAILED-', untilMs: 30000, untilEvery: 500,
});
const BASE = need('HOOKLINE_CONSOLE_URL');
const KEY = need('HOOKLINE_CONSOLE_KEY');
const RECEIVER = need('HOOKLINE_RECEIVER_URL');
const XSS_NAME = '<img src=x onerror=alert(1)>';
const XSS_DESCRIPTION = '<script>alert(2)</script>';
// the credentials given to the second endpoint in the form (test_console.c checks the receiver got them)
const AUDIT_USER = 'audit-bot';
const AUDIT_PASSWORD = 'console-pass-7Qx2';
const CRM_TOKEN = 'crm-token-Zk93.abc';

// The REST API directly, to check what the console did.
const api = apiClient(BASE, KEY);

async function webhookNamed(name) {
  const { json } = await api('GET', `/v1/webhooks?size=100&name=${encodeURIComponent(name)}`);
  return json.elements.find((w) => w.name === name);
}

const bodyText = () => page.locator('body').innerText();

/* ---- the browser ------------------------------------------------------------ */

const page = await launch({
  viewport: { width: 1280, height: 900 },
  defaultTimeout: 15000,
  clearShots: true, // screenshots of this run only
  permissions: { names: ['clipboard-read', 'clipboard-write'], origin: BASE },
});

const jsDialogs = [];      // alert/confirm/prompt: the console must never raise one
const pageErrors = [];     // uncaught exceptions
const cspViolations = [];  // anything the Content-Security-Policy blocked
page.on('dialog', async (d) => {
  jsDialogs.push(`${d.type()}: ${d.message()}`);
  await d.dismiss().catch(() => {});
});
page.on('pageerror', (e) => pageErrors.push(String(e)));
page.on('console', (m) => {
  if (m.type() === 'error' && /Content Security Policy|Refused to/i.test(m.text())) cspViolations.push(m.text());
});

let firstSecret = null;
let crm = null;

try {
  await step('sign in with an API key (kept in sessionStorage only)', async () => {
    await page.goto(BASE + '/');
    await page.waitForURL(/#\/signin$/);
    await page.getByRole('heading', { name: 'Sign in to hookline' }).waitFor();
    const keyInput = page.getByLabel('API key');
    // a wrong key: the error shows beside the field, and nothing is kept
    await keyInput.fill('not-a-key');
    await page.getByRole('button', { name: 'Sign in' }).click();
    const err = page.locator('#api-key-error');
    await err.waitFor({ state: 'visible' });
    assert.match(await err.innerText(), /not valid/);
    assert.equal(await keyInput.getAttribute('aria-invalid'), 'true');
    // keyboard only: the field has focus; type and press Enter
    await keyInput.fill('');
    await keyInput.focus();
    await page.keyboard.type(KEY);
    await page.keyboard.press('Enter');
    await page.getByRole('heading', { name: 'Webhooks', exact: true }).waitFor();
    assert.equal(await page.evaluate(() => sessionStorage.getItem('hookline.apiKey')), KEY);
    assert.equal(await page.evaluate(() => localStorage.length), 0);
    assert.ok(!(await page.evaluate(() => document.cookie)), 'no cookie');
  });

  await step('an empty list says what to do', async () => {
    const empty = page.locator('#empty-state');
    await empty.waitFor();
    assert.match(await empty.innerText(), /No webhooks yet/);
    assert.match(await empty.innerText(), /Create one/);
    await empty.getByRole('link', { name: 'Create your first webhook' }).waitFor();
    await shot('01-list-empty');
  });

  await step('create a webhook in three steps: two endpoints (one with a header), the group "booking"', async () => {
    await page.locator('#empty-state').getByRole('link', { name: 'Create your first webhook' }).click();
    await page.getByRole('heading', { name: 'Create a webhook' }).waitFor();
    // step 1: a name is required
    await page.getByRole('button', { name: 'Next' }).click();
    await page.locator('#wh-name-error').waitFor({ state: 'visible' });
    assert.equal(await page.getByRole('button', { name: 'Back' }).isVisible(), false, 'no Back on step 1');
    await page.getByLabel('Name', { exact: true }).fill('Bookings to CRM');
    assert.equal(await page.locator('#wh-name-error').isVisible(), false, 'typing clears the error');
    await page.getByLabel('Description (optional)').fill('Sends every booking to the CRM and the audit log.');
    await shot('02-create-step1');
    await page.getByRole('button', { name: 'Next' }).click();
    // step 2: endpoints
    await page.getByRole('heading', { name: 'Step 2 of 3: Endpoints' }).waitFor();
    const urls = page.locator('input.endpoint-url');
    assert.equal(await page.getByRole('button', { name: /^Remove endpoint/ }).isVisible(), false, 'the only endpoint cannot be removed');
    await urls.nth(0).fill(`${RECEIVER}/crm`);
    await page.locator('fieldset.endpoint').nth(0).getByRole('button', { name: 'Add header' }).click();
    await page.locator('fieldset.endpoint').nth(0).locator('input.header-name').fill('X-Team');
    await page.locator('fieldset.endpoint').nth(0).locator('input.header-value').fill('ops');
    await page.getByRole('button', { name: 'Add another endpoint' }).click();
    await urls.nth(1).waitFor();
    assert.equal(await page.evaluate(() => document.activeElement.classList.contains('endpoint-url')), true, 'the new URL field has focus');
    await urls.nth(1).fill(`${RECEIVER}/audit`);
    // credentials for the second endpoint: Basic
    const audit = page.locator('fieldset.endpoint').nth(1);
    assert.equal(await audit.locator('input.auth-username').isVisible(), false, 'no credential fields until a type is chosen');
    await audit.getByLabel('Authentication').selectOption('basic');
    await audit.getByLabel('Username').fill(AUDIT_USER);
    await audit.getByLabel('Password').fill(AUDIT_PASSWORD);
    assert.equal(await audit.locator('input.auth-password').getAttribute('type'), 'password');
    await shot('03-create-step2');
    await page.getByRole('button', { name: 'Next' }).click();
    // step 3: events from the catalog, groups offered as a choice
    await page.getByRole('heading', { name: 'Step 3 of 3: Events' }).waitFor();
    const group = page.locator('#ev-group-booking');
    await group.check();
    assert.equal(await page.locator('input[value="booking.scheduled"]').isDisabled(), true, 'the group covers its types');
    await page.getByLabel('Maximum retries (optional)').fill('3');
    await shot('04-create-step3');
    await page.getByRole('button', { name: 'Create webhook' }).click();
    await page.getByRole('heading', { name: 'Webhook created' }).waitFor();

    crm = await webhookNamed('Bookings to CRM');
    assert.ok(crm, 'the webhook exists');
    assert.deepEqual(crm.events, ['booking']);
    assert.equal(crm.max_retries, 3);
    assert.equal(crm.description, 'Sends every booking to the CRM and the audit log.');
    assert.deepEqual(crm.endpoints.map((e) => e.url), [`${RECEIVER}/crm`, `${RECEIVER}/audit`]);
    assert.deepEqual(crm.endpoints[0].headers, { 'X-Team': 'ops' });
    assert.deepEqual(crm.endpoints[1].headers, {});
    // the credentials show as their type only
    assert.equal(crm.endpoints[0].auth, null);
    assert.deepEqual(crm.endpoints[1].auth, { type: 'basic' });
    assert.ok(!JSON.stringify(crm).includes(AUDIT_PASSWORD) && !JSON.stringify(crm).includes(AUDIT_USER), 'never returned');
  });

  await step('the secret is shown once, with Copy and a warning, and never again', async () => {
    const secretInput = page.locator('#secret-value');
    firstSecret = await secretInput.inputValue();
    assert.match(firstSecret, /^whsec_[A-Za-z0-9+/=]{32,}$/);
    assert.match(await page.locator('#secret-warning').innerText(), /will not be shown again/);
    await shot('05-secret');
    await page.getByRole('button', { name: 'Copy', exact: true }).click();
    await until('the copy confirmation', async () => /Copied/.test(await page.locator('.copy-status').innerText()), 5000, 100);
    assert.equal(await page.evaluate(() => navigator.clipboard.readText()), firstSecret);
    await page.getByRole('button', { name: 'Close', exact: true }).click();
    await page.waitForURL(new RegExp(`#/webhooks/${crm.id}$`));
    await page.locator('#settings dl').waitFor();
    assert.ok(!(await bodyText()).includes(firstSecret), 'details page does not show the secret');
    assert.ok(!(await page.content()).includes(firstSecret), 'nor holds it in the DOM');
    // neither a reload nor the "created" address brings it back
    await page.goto(`${BASE}/#/webhooks/${crm.id}/created`);
    await page.waitForURL(new RegExp(`#/webhooks/${crm.id}$`));
    await page.locator('#settings dl').waitFor();
    assert.ok(!(await page.content()).includes(firstSecret));
  });

  await step('the details page shows every field', async () => {
    const settings = await page.locator('#settings').innerText();
    for (const want of [crm.id, 'Bookings to CRM', 'Sends every booking to the CRM', `${RECEIVER}/crm`, `${RECEIVER}/audit`,
      'X-Team: ops', 'booking', 'Active', 'Hidden', 'Authentication: Basic']) {
      assert.ok(settings.includes(want), `settings show ${want}`);
    }
    assert.match(settings, /Maximum retries\s+3/);
    assert.doesNotMatch(settings, /\bnull\b|\bundefined\b|\[object /, 'no raw values leak into the settings');
    assert.ok(!(await page.content()).includes(AUDIT_PASSWORD), 'the password is nowhere in the page');
    await shot('06-details');
  });

  await step('send a test event with a custom payload and see its deliveries in the log', async () => {
    await page.getByLabel('Custom payload (optional)').fill('not json');
    await page.getByRole('button', { name: 'Send test event' }).click();
    await page.locator('#test-payload-error').waitFor({ state: 'visible' });
    await page.getByLabel('Custom payload (optional)').fill('{"hello": "console", "n": 7}');
    await page.getByRole('button', { name: 'Send test event' }).click();
    await until('the test event id', async () => /Test event evt_\w+ sent/.test(await page.locator('#test-result').innerText()), 10000, 100);
    const rows = page.locator('#deliveries-table tbody tr');
    await until('two successful deliveries in the log', async () => {
      await page.locator('#refresh-deliveries').click();
      await page.waitForTimeout(300);
      const texts = await rows.allInnerTexts();
      return texts.length === 2 && texts.every((t) => /Succeeded/.test(t) && /webhook\.test/.test(t));
    }, 45000, 1000);
    assert.deepEqual(await rows.locator('td[data-label="Response"] .status-code').allInnerTexts(), ['200', '200']);
    assert.deepEqual(await rows.locator('td[data-label="Attempt"]').allInnerTexts(), ['1', '1']);
    const all = (await rows.allInnerTexts()).join('\n');
    assert.doesNotMatch(await page.locator('#deliveries').innerText(), /\bnull\b|\bundefined\b|\[object /, 'no raw values leak into the log');
    assert.ok(all.includes(`${RECEIVER}/crm`) && all.includes(`${RECEIVER}/audit`), 'one per endpoint');
    await shot('07-delivery-log');
  });

  await step('retry and delete a delivery record', async () => {
    const rows = page.locator('#deliveries-table tbody tr');
    await rows.nth(0).getByRole('button', { name: /^Retry delivery/ }).click();
    await until('the retried attempt', async () => {
      await page.locator('#refresh-deliveries').click();
      await page.waitForTimeout(300);
      return (await rows.count()) === 3;
    }, 30000, 1000);
    const attempts = await rows.locator('td[data-label="Attempt"]').allInnerTexts();
    assert.ok(attempts.includes('2'), `a second attempt is listed (${attempts})`);
    const before = (await api('GET', `/v1/webhooks/${crm.id}/deliveries`)).json.count;
    await rows.nth(0).getByRole('button', { name: /^Delete delivery record/ }).click();
    const dlg = page.locator('dialog[open]');
    await dlg.waitFor();
    assert.match(await dlg.innerText(), /Delete this delivery record\?/);
    await dlg.getByRole('button', { name: 'Delete record' }).click();
    await until('the record gone', async () => (await rows.count()) === before - 1, 10000, 200);
    assert.equal((await api('GET', `/v1/webhooks/${crm.id}/deliveries`)).json.count, before - 1);
  });

  await step('disable and enable the webhook (PATCH is_active)', async () => {
    await page.getByRole('button', { name: 'Disable', exact: true }).click();
    await until('the Disabled badge', async () => /Disabled/.test(await page.locator('#status-badge').innerText()), 10000, 100);
    assert.equal((await api('GET', `/v1/webhooks/${crm.id}`)).json.is_active, false);
    await shot('08-details-disabled');
    await page.getByRole('button', { name: 'Enable', exact: true }).click();
    await until('the Active badge', async () => /Active/.test(await page.locator('#status-badge').innerText()), 10000, 100);
    assert.equal((await api('GET', `/v1/webhooks/${crm.id}`)).json.is_active, true);
  });

  await step('rotate the secret: confirmed in a dialog, the new one shown once and different', async () => {
    await page.getByRole('button', { name: 'Rotate secret' }).click();
    const dlg = page.locator('dialog[open]');
    await dlg.waitFor();
    // Escape cancels: nothing rotates
    await page.keyboard.press('Escape');
    await dlg.waitFor({ state: 'detached' });
    assert.equal(await page.locator('#secret-value').count(), 0);
    await page.getByRole('button', { name: 'Rotate secret' }).click();
    await page.locator('dialog[open]').getByRole('button', { name: 'Rotate secret' }).click();
    const input = page.locator('#secret-value');
    await input.waitFor();
    const second = await input.inputValue();
    assert.match(second, /^whsec_/);
    assert.notEqual(second, firstSecret);
    assert.match(await page.locator('#secret-warning').innerText(), /will not be shown again/);
    await shot('09-rotated-secret');
    await page.getByRole('button', { name: 'Close', exact: true }).click();
    await input.waitFor({ state: 'detached' });
    assert.ok(!(await page.content()).includes(second));
    await page.reload();
    await page.locator('#settings dl').waitFor();
    const html = await page.content();
    assert.ok(!html.includes(second) && !html.includes(firstSecret), 'no secret after a reload');
  });

  await step('edit the webhook (PATCH) from the details page', async () => {
    await page.getByRole('link', { name: 'Edit', exact: true }).click();
    await page.getByRole('heading', { name: /^Edit/ }).waitFor();
    assert.equal(await page.locator('input.endpoint-url').count(), 2);
    assert.equal(await page.locator('#ev-group-booking').isChecked(), true);
    await page.getByLabel('Description (optional)').fill('Bookings for the CRM (edited).');
    await page.getByRole('button', { name: 'Save changes' }).click();
    await page.waitForURL(new RegExp(`#/webhooks/${crm.id}$`));
    await until('the new description', async () => (await page.locator('#settings').innerText()).includes('(edited)'), 10000, 100);
    const now = (await api('GET', `/v1/webhooks/${crm.id}`)).json;
    assert.equal(now.description, 'Bookings for the CRM (edited).');
    assert.deepEqual(now.endpoints.map((e) => e.url), crm.endpoints.map((e) => e.url));
    assert.deepEqual(now.endpoints[0].headers, { 'X-Team': 'ops' });
    // saved credentials were kept (the form sent {"type"} alone for them)
    assert.deepEqual(now.endpoints[1].auth, { type: 'basic' });
  });

  await step('edit the credentials: saved ones are kept unless replaced, and a new Bearer token is sent', async () => {
    await page.getByRole('link', { name: 'Edit', exact: true }).click();
    await page.getByRole('heading', { name: /^Edit/ }).waitFor();
    const crmBox = page.locator('fieldset.endpoint').nth(0);
    const auditBox = page.locator('fieldset.endpoint').nth(1);
    assert.equal(await auditBox.getByLabel('Authentication').inputValue(), 'basic');
    assert.equal(await auditBox.locator('input.auth-password').inputValue(), '', 'a saved password is never filled in');
    assert.equal(await auditBox.locator('.auth-saved').isVisible(), true, 'says the saved ones are kept');
    assert.equal(await crmBox.getByLabel('Authentication').inputValue(), '');
    // a token the API would refuse is caught in the form
    await crmBox.getByLabel('Authentication').selectOption('bearer');
    await crmBox.getByLabel('Token').fill('two words');
    await page.getByRole('button', { name: 'Save changes' }).click();
    await until('the token error', async () => /visible ASCII/.test(await crmBox.innerText()), 5000, 100);
    await crmBox.getByLabel('Token').fill(CRM_TOKEN);
    // a clash with a custom Authorization header: the API's 400 goes beside the credentials
    await crmBox.getByRole('button', { name: 'Add header' }).click();
    await crmBox.locator('input.header-name').nth(1).fill('Authorization');
    await crmBox.locator('input.header-value').nth(1).fill('Bearer other');
    await page.getByRole('button', { name: 'Save changes' }).click();
    const authError = crmBox.locator('.auth-error');
    await authError.waitFor({ state: 'visible' });
    assert.match(await authError.innerText(), /"auth".*Authorization/);
    assert.equal(await page.locator('#form-error').isVisible(), false, 'not a general error');
    await shot('09b-edit-auth-error');
    await crmBox.locator('.header-row').nth(1).getByRole('button', { name: 'Remove' }).click();
    await page.getByRole('button', { name: 'Save changes' }).click();
    await page.waitForURL(new RegExp(`#/webhooks/${crm.id}$`));
    await until('the Bearer credentials', async () => /Bearer token/.test(await page.locator('#settings').innerText()), 10000, 100);
    const now = (await api('GET', `/v1/webhooks/${crm.id}`)).json;
    assert.deepEqual(now.endpoints[0].auth, { type: 'bearer' });
    assert.deepEqual(now.endpoints[1].auth, { type: 'basic' });
    assert.deepEqual(now.endpoints[0].headers, { 'X-Team': 'ops' });
    // a second test event: the receiver must get the new token and the kept password
    const sent = await api('POST', `/v1/webhooks/${crm.id}/test`, { payload: { hello: 'edited' } });
    assert.equal(sent.status, 202);
  });

  await step('API validation errors appear beside their field (http:// URL, max_retries)', async () => {
    await page.goto(`${BASE}/#/new`);
    await page.getByLabel('Name', { exact: true }).fill('Plain http');
    await page.getByRole('button', { name: 'Next' }).click();
    await page.locator('input.endpoint-url').nth(0).fill('http://127.0.0.1:9/hook');
    await page.getByRole('button', { name: 'Next' }).click();
    await page.locator('input[value="booking.scheduled"]').check();
    await page.getByLabel('Maximum retries (optional)').fill('99');
    await page.getByRole('button', { name: 'Create webhook' }).click();
    // the API refuses the URL: the wizard goes back to step 2, error under the URL
    await page.getByRole('heading', { name: 'Step 2 of 3: Endpoints' }).waitFor();
    const urlField = page.locator('fieldset.endpoint').nth(0).locator('.field').filter({ has: page.locator('input.endpoint-url') });
    const urlError = urlField.locator('.field-error');
    await urlError.waitFor({ state: 'visible' });
    assert.match(await urlError.innerText(), /"url".*https:\/\//);
    assert.equal(await page.locator('input.endpoint-url').nth(0).getAttribute('aria-invalid'), 'true');
    assert.equal(await page.evaluate(() => document.activeElement.classList.contains('endpoint-url')), true, 'focus on the URL');
    assert.equal(await page.locator('#form-error').isVisible(), false, 'not a general error');
    await shot('10-validation-url');
    // fix it: the next refusal is max_retries, under that field on step 3
    await page.locator('input.endpoint-url').nth(0).fill(`${RECEIVER}/plain`);
    await page.getByRole('button', { name: 'Next' }).click();
    await page.getByRole('button', { name: 'Create webhook' }).click();
    const retriesError = page.locator('#wh-max-retries-error');
    await retriesError.waitFor({ state: 'visible' });
    assert.match(await retriesError.innerText(), /max_retries/);
    assert.equal(await urlError.isVisible(), false, 'the old URL error is gone');
    await page.getByLabel('Maximum retries (optional)').fill('');
    await page.getByRole('button', { name: 'Create webhook' }).click();
    await page.getByRole('heading', { name: 'Webhook created' }).waitFor();
    await page.getByRole('button', { name: 'Close', exact: true }).click();
    await page.locator('#settings dl').waitFor();
  });

  await step('a webhook named like HTML renders as text and runs nothing', async () => {
    await page.goto(`${BASE}/#/new`);
    await page.getByLabel('Name', { exact: true }).fill(XSS_NAME);
    await page.getByLabel('Description (optional)').fill(XSS_DESCRIPTION);
    await page.getByRole('button', { name: 'Next' }).click();
    await page.locator('input.endpoint-url').nth(0).fill(`${RECEIVER}/xss`);
    await page.locator('fieldset.endpoint').nth(0).getByRole('button', { name: 'Add header' }).click();
    await page.locator('input.header-name').fill('X-Note');
    await page.locator('input.header-value').fill('<b>bold</b>');
    await page.getByRole('button', { name: 'Next' }).click();
    await page.locator('#ev-group-conversation').check();
    await page.getByRole('button', { name: 'Create webhook' }).click();
    await page.getByRole('heading', { name: 'Webhook created' }).waitFor();
    await page.getByRole('button', { name: 'Close', exact: true }).click();
    await page.locator('#settings dl').waitFor();
    assert.equal(await page.locator('h1 .wh-title').innerText(), XSS_NAME);
    const settings = await page.locator('#settings').innerText();
    assert.ok(settings.includes(XSS_DESCRIPTION) && settings.includes('X-Note: <b>bold</b>'));
    await page.goto(`${BASE}/#/`);
    await page.locator('#webhooks-table').waitFor();
    const names = await page.locator('#webhooks-table a.wh-name').allInnerTexts();
    assert.ok(names.includes(XSS_NAME), `the list shows the name as text (${names})`);
    assert.ok((await page.locator('#webhooks-table').innerText()).includes(XSS_DESCRIPTION));
    assert.equal(await page.locator('main img, main script, main b').count(), 0, 'no element came from the data');
    await page.waitForTimeout(500);
    assert.deepEqual(jsDialogs, [], 'no alert/confirm/prompt fired');
  });

  await step('the list shows every column and pages with the API\'s page and size', async () => {
    await page.goto(`${BASE}/#/`);
    const table = page.locator('#webhooks-table');
    await table.waitFor();
    assert.doesNotMatch(await page.locator('main').innerText(), /\bnull\b|\bundefined\b|\[object /, 'no raw values leak into the list');
    const heads = await table.locator('thead th').allInnerTexts();
    assert.deepEqual(heads, ['Name', 'Description', 'URL(s)', 'Events', 'Login', 'For Login', 'Team', 'Active', 'Success 24 h', 'Created', 'Actions']);
    const crmRow = table.locator('tbody tr', { hasText: 'Bookings to CRM' });
    const text = await crmRow.innerText();
    for (const want of [`${RECEIVER}/crm`, `${RECEIVER}/audit`, 'booking', 'Active', '(edited)']) {
      assert.ok(text.includes(want), `row shows ${want}`);
    }
    assert.match(await crmRow.locator('td[data-label="Created"] time').getAttribute('datetime'), /^\d{4}-\d\d-\d\dT/);
    await shot('11-list');
    await page.goto(`${BASE}/#/?page=1&size=2`);
    await page.locator('.pager-status').waitFor();
    assert.match(await page.locator('.pager-status').innerText(), /Page 1 of 2 · 3 webhooks/);
    const first = await page.locator('#webhooks-table a.wh-name').allInnerTexts();
    assert.equal(first.length, 2);
    await page.getByRole('link', { name: 'Next' }).click();
    await until('page 2', async () => /Page 2 of 2/.test(await page.locator('.pager-status').innerText()), 10000, 100);
    const second = await page.locator('#webhooks-table a.wh-name').allInnerTexts();
    assert.equal(second.length, 1);
    assert.ok(!first.includes(second[0]), 'page 2 holds another webhook');
  });

  await step('the list shows Login, For Login and Team, and filters by each', async () => {
    const mk = async (name, filter) => {
      const r = await api('POST', '/v1/webhooks', { name, url: `${RECEIVER}/team`, events: 'booking', ...(filter ? { filter } : {}) });
      assert.equal(r.status, 201, JSON.stringify(r.json));
      return r.json;
    };
    const sales = await mk('Sales owner 42', { 'data.owner': 'u_42', 'data.team': ['sales', 'ops'] });
    const support = await mk('Support owner 7', { 'data.owner': 'u_7', 'data.team': 'support' });
    try {
      await page.goto(`${BASE}/#/?page=1&size=100`);
      const table = page.locator('#webhooks-table');
      await table.waitFor();
      const row = table.locator('tbody tr', { hasText: 'Sales owner 42' });
      assert.equal(await row.locator('td[data-label="Login"]').innerText(), sales.created_by);
      assert.match(sales.created_by, /^key_/);
      assert.equal(await row.locator('td[data-label="For Login"]').innerText(), 'u_42');
      assert.equal(await row.locator('td[data-label="Team"]').innerText(), 'sales, ops');
      const crmRow = table.locator('tbody tr', { hasText: 'Bookings to CRM' });
      assert.equal(await crmRow.locator('td[data-label="For Login"]').innerText(), '—', 'no filter: a dash');

      await page.getByLabel('For Login', { exact: true }).fill('u_42');
      await page.getByRole('button', { name: 'Filter', exact: true }).click();
      await until('only the u_42 webhook', async () => {
        const names = await page.locator('#webhooks-table a.wh-name').allInnerTexts();
        return names.length === 1 && names[0] === 'Sales owner 42';
      }, 10000, 100);
      assert.match(page.url(), /owner=u_42/);
      await shot('11b-list-filtered');

      await page.getByRole('link', { name: 'Clear' }).click();
      await page.getByLabel('Team', { exact: true }).fill('support');
      await page.getByRole('button', { name: 'Filter', exact: true }).click();
      await until('only the support webhook', async () => {
        const names = await page.locator('#webhooks-table a.wh-name').allInnerTexts();
        return names.length === 1 && names[0] === 'Support owner 7';
      }, 10000, 100);

      // Login: the key that created them; another key id shows no webhook
      await page.goto(`${BASE}/#/?page=1&size=100&created_by=${encodeURIComponent(sales.created_by)}`);
      await until('every webhook of that key', async () => {
        const names = await page.locator('#webhooks-table a.wh-name').allInnerTexts();
        return names.includes('Sales owner 42') && names.includes('Support owner 7');
      }, 10000, 100);
      assert.equal(await page.getByLabel('Login', { exact: true }).inputValue(), sales.created_by, 'the form shows the filter in use');
      await page.goto(`${BASE}/#/?created_by=key_nobody`);
      await page.locator('#no-match').waitFor();
      assert.match(await page.locator('#no-match').innerText(), /No webhook matches these filters/);
    } finally {
      await api('DELETE', `/v1/webhooks/${sales.id}`);
      await api('DELETE', `/v1/webhooks/${support.id}`);
    }
  });

  await step('readable on a narrow screen', async () => {
    await page.setViewportSize({ width: 390, height: 844 });
    await page.goto(`${BASE}/#/`);
    await page.locator('#webhooks-table').waitFor();
    const overflow = await page.evaluate(() => document.documentElement.scrollWidth - window.innerWidth);
    assert.ok(overflow <= 1, `no sideways scrolling on the list (${overflow}px)`);
    await shot('12-list-narrow');
    await page.locator('#webhooks-table a.wh-name', { hasText: 'Bookings to CRM' }).click();
    await page.locator('#deliveries-table').waitFor();
    const overflow2 = await page.evaluate(() => document.documentElement.scrollWidth - window.innerWidth);
    assert.ok(overflow2 <= 1, `no sideways scrolling on the details (${overflow2}px)`);
    await shot('13-details-narrow');
    await page.setViewportSize({ width: 1280, height: 900 });
  });

  await step('delete a webhook only after confirming in a <dialog>', async () => {
    await page.goto(`${BASE}/#/`);
    const row = page.locator('#webhooks-table tbody tr', { hasText: 'Bookings to CRM' });
    await row.waitFor();
    await row.getByRole('button', { name: /^Delete webhook/ }).click();
    const dlg = page.locator('dialog[open]');
    await dlg.waitFor();
    assert.equal(await dlg.evaluate((d) => d.tagName), 'DIALOG');
    assert.match(await dlg.innerText(), /Delete this webhook\?/);
    assert.match(await dlg.innerText(), /Bookings to CRM/);
    await shot('14-delete-confirm');
    await dlg.getByRole('button', { name: 'Cancel' }).click();
    await dlg.waitFor({ state: 'detached' });
    assert.equal((await api('GET', `/v1/webhooks/${crm.id}`)).status, 200, 'Cancel keeps it');
    await row.getByRole('button', { name: /^Delete webhook/ }).click();
    await page.locator('dialog[open]').getByRole('button', { name: 'Delete webhook' }).click();
    await until('the row gone', async () => (await page.locator('#webhooks-table tbody tr', { hasText: 'Bookings to CRM' }).count()) === 0, 10000, 100);
    assert.match(await page.locator('#flash').innerText(), /was deleted/);
    assert.equal((await api('GET', `/v1/webhooks/${crm.id}`)).status, 404);
    // and from the details page
    const xss = await webhookNamed(XSS_NAME);
    await page.goto(`${BASE}/#/webhooks/${xss.id}`);
    await page.getByRole('button', { name: 'Delete webhook' }).click();
    await page.locator('dialog[open]').getByRole('button', { name: 'Delete webhook' }).click();
    await page.waitForURL(/#\/$/);
    await page.locator('#webhooks-table').waitFor();
    assert.equal((await api('GET', `/v1/webhooks/${xss.id}`)).status, 404);
    assert.deepEqual(jsDialogs, [], 'window.confirm was never used');
  });

  await step('an endpoint hookline disabled (410 Gone) shows on the details page, and is enabled again there', async () => {
    // test_console.c has the receiver answer the first request to /gone with 410
    const made = (await api('POST', '/v1/webhooks', { name: 'Two endpoints', events: 'booking',
      endpoints: [{ url: `${RECEIVER}/keep` }, { url: `${RECEIVER}/gone` }] })).json;
    assert.equal((await api('POST', `/v1/webhooks/${made.id}/test`)).status, 202);
    await until('the 410 endpoint disabled', async () => (await api('GET', `/v1/webhooks/${made.id}`)).json.endpoints[1].is_active === false, 30000, 300);
    await page.goto(`${BASE}/#/webhooks/${made.id}`);
    const items = page.locator('#settings .endpoints-list li');
    const enable = items.nth(1).getByRole('button', { name: `Enable endpoint ${RECEIVER}/gone` });
    await enable.waitFor();
    assert.match(await items.nth(1).innerText(), /Disabled/);
    assert.match(await items.nth(1).innerText(), /410 Gone/);
    assert.match(await items.nth(0).innerText(), /Active/);
    assert.equal(await items.nth(0).getByRole('button').count(), 0);
    assert.match(await page.locator('#status-badge').innerText(), /1 of 2 endpoints disabled/);
    assert.match(await page.locator('#settings').innerText(), /delivered to 1 of its 2 endpoints/);
    assert.doesNotMatch(await page.locator('#settings').innerText(), /\bnull\b|\bundefined\b|\[object /);
    await shot('15-endpoint-disabled');
    await enable.click();
    await until('both endpoints enabled', async () => (await api('GET', `/v1/webhooks/${made.id}`)).json.endpoints.every((e) => e.is_active === true), 10000, 200);
    await until('the page says so', async () => (await page.locator('.enable-endpoint').count()) === 0 &&
      (await page.locator('#status-badge').innerText()).trim() === 'Active', 10000, 100);
    assert.match(await page.locator('#flash').innerText(), /enabled/);
    const now = (await api('GET', `/v1/webhooks/${made.id}`)).json;
    assert.deepEqual(now.endpoints.map((e) => e.id), made.endpoints.map((e) => e.id), 'the same endpoints, ids kept');
    assert.equal((await api('DELETE', `/v1/webhooks/${made.id}`)).status, 200);
  });

  await step('recover failed deliveries since a date and time: confirmed in a dialog, the count shown, delivered again', async () => {
    // test_console.c has the receiver answer the first request to /flaky with 500
    const made = (await api('POST', '/v1/webhooks', { name: 'Recover me', events: 'booking', url: `${RECEIVER}/flaky`, max_retries: 0 })).json;
    assert.equal((await api('POST', `/v1/webhooks/${made.id}/test`)).status, 202);
    await until('the failed delivery recorded', async () => {
      const els = (await api('GET', `/v1/webhooks/${made.id}/deliveries`)).json.elements;
      return els.length === 1 && els[0].success === false;
    }, 30000, 300);
    await page.goto(`${BASE}/#/webhooks/${made.id}`);
    const input = page.getByLabel('Failed since');
    await input.waitFor();
    const submit = page.getByRole('button', { name: 'Recover failed deliveries since…' });
    // a time in the future is refused beside the field, before any request
    await input.fill('2999-01-01T00:00');
    await submit.click();
    await until('the field error', async () => /in the past/.test(await page.locator('#recover-since-error').innerText()), 5000, 100);
    // the browser runs in UTC (timezoneId): an hour ago in its local time
    const hourAgo = new Date(Date.now() - 3600 * 1000).toISOString().slice(0, 16);
    await input.fill(hourAgo);
    await submit.click();
    let dlg = page.locator('dialog[open]');
    await dlg.waitFor();
    assert.match(await dlg.innerText(), /Recover failed deliveries\?/);
    // Cancel: nothing is recovered
    await dlg.getByRole('button', { name: 'Cancel' }).click();
    await dlg.waitFor({ state: 'detached' });
    assert.equal((await page.locator('#recover-result').innerText()).trim(), '');
    await submit.click();
    dlg = page.locator('dialog[open]');
    await dlg.getByRole('button', { name: 'Recover deliveries' }).click();
    await until('the count', async () => /^1 failed delivery will be delivered again/.test(await page.locator('#recover-result').innerText()), 10000, 100);
    await shot('16-recover');
    await until('a second attempt, succeeded, in the log', async () => {
      const els = (await api('GET', `/v1/webhooks/${made.id}/deliveries`)).json.elements;
      return els.length === 2 && els.some((d) => d.attempt === 2 && d.success === true);
    }, 30000, 300);
    await until('the log on the page shows it', async () => {
      await page.locator('#refresh-deliveries').click();
      await page.waitForTimeout(300);
      return (await page.locator('#deliveries-table tbody tr').count()) === 2;
    }, 15000, 500);
    // once delivered there is nothing left to recover
    await submit.click();
    await page.locator('dialog[open]').getByRole('button', { name: 'Recover deliveries' }).click();
    await until('a count of 0', async () => /\(0\)/.test(await page.locator('#recover-result').innerText()), 10000, 100);
    assert.equal((await api('DELETE', `/v1/webhooks/${made.id}`)).status, 200);
  });

  await step('sign out forgets the key', async () => {
    await page.getByRole('button', { name: 'Sign out' }).click();
    await page.getByRole('heading', { name: 'Sign in to hookline' }).waitFor();
    assert.equal(await page.evaluate(() => sessionStorage.getItem('hookline.apiKey')), null);
    await page.goto(`${BASE}/#/`);
    await page.waitForURL(/#\/signin$/);
    assert.equal(await page.locator('#topnav').isVisible(), false);
    await shot('17-signed-out');
  });

  await step('no script error, CSP violation or JavaScript dialog during the run', async () => {
    assert.deepEqual(pageErrors, []);
    assert.deepEqual(cspViolations, []);
    assert.deepEqual(jsDialogs, []);
  });
} finally {
  await close();
}

finish({ screenshots: true });
