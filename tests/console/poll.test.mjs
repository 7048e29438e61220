// poll.test.mjs: poll endpoints in the console, in headless Debian
// Chromium driven by playwright-core: the create form makes a webhook whose
// endpoint is {"kind": "poll"} (no URL asked), its details page shows the
// poll URL and the acknowledged position, which follows a consumer's
// fetches; the edit form keeps it a poll webhook; at 390 px it still reads.
//
// Run by tests/e2e/test_console.c (stack with one dispatcher), which passes
//   HOOKLINE_CONSOLE_URL, HOOKLINE_CONSOLE_KEY, HOOKLINE_CONSOLE_ARTIFACTS,
//   HOOKLINE_CHROMIUM (default /usr/bin/chromium).
// Prints "ok - <step>" / "not ok - <step>" and last "N passed, N failed";
// exits 1 if any step failed.

import assert from 'node:assert/strict';
import { apiClient, createHarness, signIn } from './harness.mjs';

const { need, launch, step, shot, until, close, finish } = createHarness({
  name: 'poll', stepTimeoutMs: 60000, failedShotPrefix: 'FAILED-poll-', untilMs: 30000, untilEvery: 250,
});
const BASE = need('HOOKLINE_CONSOLE_URL');
const KEY = need('HOOKLINE_CONSOLE_KEY');
const NAME = 'Nightly import (polled)';
const api = apiClient(BASE, KEY);

const page = await launch({ viewport: { width: 1280, height: 900 }, defaultTimeout: 15000 });
const pageErrors = [];
page.on('pageerror', (e) => pageErrors.push(String(e)));
let wh = null;

try {
  await step('sign in', async () => {
    await signIn(page, BASE, KEY);
  });

  await step('create a poll webhook: "Polled" hides the endpoint URLs, and none is asked for', async () => {
    await page.goto(`${BASE}/#/new`);
    await page.getByRole('heading', { name: 'Create a webhook' }).waitFor();
    await page.getByLabel('Name', { exact: true }).fill(NAME);
    await page.getByRole('button', { name: 'Next' }).click();
    await page.getByRole('heading', { name: 'Step 2 of 3: Endpoints' }).waitFor();
    assert.equal(await page.locator('#kind-push').isChecked(), true, 'pushed by default');
    assert.equal(await page.locator('#poll-hint').isVisible(), false);
    await page.locator('#kind-poll').check();
    assert.equal(await page.locator('input.endpoint-url').isVisible(), false, 'no URL for a poll endpoint');
    assert.equal(await page.locator('#add-endpoint').isVisible(), false, 'a poll endpoint is the only one');
    assert.match(await page.locator('#poll-hint').innerText(), /fetches the events/);
    await shot('poll-01-create-step2');
    await page.getByRole('button', { name: 'Next' }).click();
    await page.getByRole('heading', { name: 'Step 3 of 3: Events' }).waitFor();
    await page.locator('#ev-group-booking').check();
    await page.getByRole('button', { name: 'Create webhook' }).click();
    await page.getByRole('heading', { name: 'Webhook created' }).waitFor();
    const { json } = await api('GET', `/v1/webhooks?size=100&name=${encodeURIComponent(NAME)}`);
    wh = json.elements.find((w) => w.name === NAME);
    assert.ok(wh, 'the webhook exists');
    assert.equal(wh.endpoints.length, 1);
    assert.equal(wh.endpoints[0].kind, 'poll');
    assert.equal(wh.endpoints[0].url, null);
  });

  await step('the details page shows the poll URL and that nothing is acknowledged yet', async () => {
    await page.goto(`${BASE}/#/webhooks/${wh.id}`);
    await page.getByRole('heading', { name: 'Polling' }).waitFor();
    assert.equal(await page.locator('#poll-url').innerText(), `${BASE}/v1/webhooks/${wh.id}/poll`);
    await until('the position', async () => /pc_0/.test(await page.locator('#poll-acked').innerText()));
    assert.match(await page.locator('#poll-acked').innerText(), /nothing acknowledged yet/);
    assert.match(await page.locator('.endpoints-list').innerText(), /Poll endpoint/);
  });

  await step('a consumer fetches and acknowledges: the page shows the new position', async () => {
    assert.equal((await api('POST', `/v1/webhooks/${wh.id}/test`, {})).status, 202);
    assert.equal((await api('POST', `/v1/webhooks/${wh.id}/test`, {})).status, 202);
    const page1 = await until('two events to fetch', async () => {
      const r = await api('GET', `/v1/webhooks/${wh.id}/poll?limit=1`);
      return r.status === 200 && r.json.data.length === 1 && !r.json.done ? r.json : null;
    });
    assert.equal(page1.data[0].type, 'webhook.test');
    await page.locator('#poll-refresh').click();
    await until('events shown waiting', async () => /waiting to be fetched/.test(await page.locator('#poll-waiting').innerText()));
    // fetching with the cursor acknowledges the first event
    const r = await api('GET', `/v1/webhooks/${wh.id}/poll?limit=10&cursor=${page1.next_cursor}`);
    assert.equal(r.status, 200);
    assert.equal(r.json.data.length, 1);
    await page.locator('#poll-refresh').click();
    await until('the acknowledged position', async () => (await page.locator('#poll-acked').innerText()).includes(page1.next_cursor)
      && !/nothing acknowledged/.test(await page.locator('#poll-acked').innerText()));
    await shot('poll-02-details');
  });

  await step('the edit form keeps it a poll webhook', async () => {
    await page.goto(`${BASE}/#/webhooks/${wh.id}/edit`);
    await page.locator('#kind-poll').waitFor();
    assert.equal(await page.locator('#kind-poll').isChecked(), true);
    assert.equal(await page.locator('input.endpoint-url').isVisible(), false);
    await page.getByLabel('Description (optional)').fill('Fetched every night.');
    await page.getByRole('button', { name: 'Save changes' }).click();
    await page.getByRole('heading', { name: 'Polling' }).waitFor();
    const now = (await api('GET', `/v1/webhooks/${wh.id}`)).json;
    assert.equal(now.description, 'Fetched every night.');
    assert.equal(now.endpoints[0].kind, 'poll');
    assert.equal(now.endpoints[0].id, wh.endpoints[0].id, 'the same endpoint');
  });

  await step('at 390 px the poll URL stays within the page', async () => {
    await page.setViewportSize({ width: 390, height: 844 });
    await page.goto(`${BASE}/#/webhooks/${wh.id}`);
    await page.getByRole('heading', { name: 'Polling' }).waitFor();
    const overflow = await page.evaluate(() => document.documentElement.scrollWidth - document.documentElement.clientWidth);
    assert.ok(overflow <= 1, `the page scrolls sideways by ${overflow} px`);
    await shot('poll-03-details-390');
    await page.setViewportSize({ width: 1280, height: 900 });
    assert.equal((await api('DELETE', `/v1/webhooks/${wh.id}`)).status, 200);
  });

  await step('no script error during the run', async () => {
    assert.deepEqual(pageErrors, []);
  });
} finally {
  await close();
}

finish();
