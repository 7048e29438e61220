// ordered.test.mjs: ordered webhooks in the console, in headless Debian
// Chromium driven by playwright-core: the create form's "Deliver in order"
// checkbox makes an ordered webhook; its details page's "Order" card shows
// the endpoint's head (held: its endpoint answers 500, scripted by
// test_console.c for /ordered), how many wait behind it and those, in
// order; Skip, confirmed in a dialog, gives the head up and the next one
// becomes the head; the edit form unticks it and
// the card goes.
//
// Run by tests/e2e/test_console.c, which passes HOOKLINE_CONSOLE_URL,
// HOOKLINE_CONSOLE_KEY, HOOKLINE_RECEIVER_URL, HOOKLINE_CONSOLE_ARTIFACTS.
// Prints "ok - <step>" / "not ok - <step>" and last "N passed, N failed";
// exits 1 if any step failed.

import assert from 'node:assert/strict';
import { apiClient, createHarness, signIn } from './harness.mjs';

const { need, launch, step, shot, until, close, finish } = createHarness({
  name: 'ordered', stepTimeoutMs: 90000, failedShotPrefix: 'FAILED-ordered-', untilMs: 45000, untilEvery: 250,
});
const BASE = need('HOOKLINE_CONSOLE_URL');
const KEY = need('HOOKLINE_CONSOLE_KEY');
const RECEIVER = need('HOOKLINE_RECEIVER_URL');
const NAME = 'Booking mirror (in order)';
const api = apiClient(BASE, KEY);

const page = await launch({ viewport: { width: 1280, height: 900 }, defaultTimeout: 15000 });
const pageErrors = [];
page.on('pageerror', (e) => pageErrors.push(String(e)));
let wh = null;
const events = [];

try {
  await step('sign in', async () => {
    await signIn(page, BASE, KEY);
  });

  await step('create an ordered webhook: the "Deliver in order" checkbox', async () => {
    await page.goto(`${BASE}/#/new`);
    await page.getByRole('heading', { name: 'Create a webhook' }).waitFor();
    await page.getByLabel('Name', { exact: true }).fill(NAME);
    await page.getByRole('button', { name: 'Next' }).click();
    await page.getByRole('heading', { name: 'Step 2 of 3: Endpoints' }).waitFor();
    await page.locator('input.endpoint-url').first().fill(`${RECEIVER}/ordered`);
    await page.getByRole('button', { name: 'Next' }).click();
    await page.getByRole('heading', { name: 'Step 3 of 3: Events' }).waitFor();
    await page.locator('#ev-group-booking').check();
    assert.equal(await page.locator('#wh-ordered').isChecked(), false, 'unordered by default');
    await page.getByLabel('Deliver in order').check();
    await shot('ordered-01-create-step3');
    await page.getByRole('button', { name: 'Create webhook' }).click();
    await page.getByRole('heading', { name: 'Webhook created' }).waitFor();
    const { json } = await api('GET', `/v1/webhooks?size=100&name=${encodeURIComponent(NAME)}`);
    wh = json.elements.find((w) => w.name === NAME);
    assert.ok(wh, 'the webhook exists');
    assert.equal(wh.ordered, true);
  });

  await step('three events, the first held (500): the Order card shows it and 2 waiting', async () => {
    for (let i = 1; i <= 3; i++) {
      const r = await api('POST', '/v1/events', { type: 'booking.scheduled', data: { seq: i } });
      assert.equal(r.status, 202);
      events.push(r.json.id);
    }
    await page.goto(`${BASE}/#/webhooks/${wh.id}`);
    await page.getByRole('heading', { name: 'Order', exact: true }).waitFor();
    await until('the head, failed, with 2 behind it', async () => {
      await page.locator('#ordered-refresh').click();
      const text = await page.locator('#ordered-lines').innerText();
      return text.includes(events[0]) && text.includes('2 waiting behind it') && /last answer 500/.test(text)
        && await page.locator('.ordered-skip').isEnabled();
    });
    // the two behind it, shown waiting in the order they go
    assert.deepEqual(await page.locator('.ordered-next li code').allInnerTexts(), [events[1], events[2]]);
    assert.match(await page.locator('.ordered-next').innerText(), /booking\.scheduled .* waiting/);
    await shot('ordered-02-held');
  });

  await step('Skip, confirmed in a dialog (cancel changes nothing): the head is given up, the next one is the head', async () => {
    await page.locator('.ordered-skip').click();
    let dlg = page.locator('dialog[open]');
    await dlg.getByRole('heading', { name: 'Skip this delivery?' }).waitFor();
    await dlg.getByRole('button', { name: 'Cancel' }).click();
    await dlg.waitFor({ state: 'detached' });
    assert.equal((await api('GET', `/v1/webhooks/${wh.id}/waiting`)).json.endpoints[0].head.event_id, events[0]);
    await page.locator('.ordered-skip').click();
    dlg = page.locator('dialog[open]');
    await dlg.getByRole('button', { name: 'Skip delivery' }).click();
    await page.locator('.flash-msg').filter({ hasText: 'Skipped' }).waitFor();
    await until('the second event at the head, 1 behind it', async () => {
      const text = await page.locator('#ordered-lines').innerText();
      if (!text.includes(events[1])) await page.locator('#ordered-refresh').click();
      return text.includes(events[1]) && text.includes('1 waiting behind it');
    });
    const { json } = await api('GET', `/v1/webhooks/${wh.id}/waiting`);
    assert.equal(json.endpoints[0].head.event_id, events[1]);
    assert.equal(json.endpoints[0].waiting, 1);
    await shot('ordered-03-skipped');
  });

  await step('the edit form shows it ticked; unticked and saved, the Order card goes', async () => {
    await page.goto(`${BASE}/#/webhooks/${wh.id}/edit`);
    await page.locator('#wh-ordered').waitFor();
    assert.equal(await page.locator('#wh-ordered').isChecked(), true);
    await page.getByLabel('Deliver in order').uncheck();
    await page.getByRole('button', { name: 'Save changes' }).click();
    await until('saved', async () => (await api('GET', `/v1/webhooks/${wh.id}`)).json.ordered === false);
    await page.goto(`${BASE}/#/webhooks/${wh.id}`);
    await page.getByRole('heading', { name: 'Settings', exact: true }).waitFor();
    assert.equal(await page.locator('#ordered').count(), 0);
  });

  await step('no script errors on the page', async () => {
    assert.deepEqual(pageErrors, []);
  });
} finally {
  await close();
}
finish();
