// health.test.mjs: delivery health at a glance, in headless Debian Chromium
// driven by playwright-core, on a 390 px wide phone screen.
//
// Run by tests/e2e/test_console.c after console.test.mjs, with the same
// variables (HOOKLINE_CONSOLE_URL, HOOKLINE_CONSOLE_KEY, HOOKLINE_RECEIVER_URL,
// HOOKLINE_CONSOLE_ARTIFACTS, HOOKLINE_CHROMIUM). A webhook with one endpoint
// on the test's receiver (200) and one that refuses connections gets three
// test events: each succeeds once and fails once. Then:
//   - the details page draws the last 24 h as an inline SVG whose buckets
//     carry exactly what GET /v1/webhooks/{id}/stats answers, with both
//     bar kinds and the p50/p95 lines, fitting the 390 px screen; a
//     screenshot is saved as health-chart-390.png;
//   - the list shows the webhook's 24 h success rate as the api has it;
//   - opening a record of the delivery log shows the payload pretty-printed,
//     the request headers with the signature sent (and no secret), the
//     response and the attempt history (health-delivery-390.png).
// Prints "ok - <step>" / "not ok - <step>" and "N passed, N failed"; exits 1
// if any step failed.

import assert from 'node:assert/strict';
import path from 'node:path';
import { ARTIFACTS, apiClient, createHarness, signIn } from './harness.mjs';

const { need, launch, step, until, close, finish } = createHarness({
  name: 'health', stepTimeoutMs: 90000, failedShotPrefix: 'health-FAILED-', untilMs: 60000, untilEvery: 500,
});
const BASE = need('HOOKLINE_CONSOLE_URL');
const KEY = need('HOOKLINE_CONSOLE_KEY');
const RECEIVER = need('HOOKLINE_RECEIVER_URL');
const WIDTH = 390;
const api = apiClient(BASE, KEY);

// Elements that reach past the right edge of the screen (none: no sideways scroll).
function overflowing() {
  return page.evaluate(() => {
    if (document.documentElement.scrollWidth <= window.innerWidth) return [];
    return [...document.querySelectorAll('body *')]
      .filter((el) => el.getBoundingClientRect().right > window.innerWidth + 1)
      .slice(0, 8)
      .map((el) => `${el.tagName.toLowerCase()}.${el.className} ${Math.round(el.getBoundingClientRect().right)}px`);
  });
}

// The chart's buckets as the page has them.
function chartBuckets() {
  return page.$$eval('#health svg.health-chart g.bucket', (gs) => gs.map((g) => ({
    start: g.dataset.start,
    succeeded: Number(g.dataset.succeeded),
    failed: Number(g.dataset.failed),
    p50_ms: g.dataset.p50 === '' ? null : Number(g.dataset.p50),
    p95_ms: g.dataset.p95 === '' ? null : Number(g.dataset.p95),
    bars: [...g.querySelectorAll('rect.bar')].map((r) => r.getAttribute('class')),
  })));
}

const page = await launch({ viewport: { width: WIDTH, height: 844 }, defaultTimeout: 15000 });
const pageErrors = [];
const cspViolations = [];
page.on('pageerror', (e) => pageErrors.push(String(e)));
page.on('console', (m) => {
  if (m.type() === 'error' && /Content Security Policy|Refused to/i.test(m.text())) cspViolations.push(m.text());
});

let wh = null;
try {
  await step('a webhook whose deliveries succeed on one endpoint and fail on the other', async () => {
    const made = await api('POST', '/v1/webhooks', {
      name: `health-${Date.now()}`,
      events: ['webhook.test'],
      endpoints: [{ url: `${RECEIVER}/health-ok` }, { url: 'https://127.0.0.1:9/health-refused' }],
    });
    assert.equal(made.status, 201, JSON.stringify(made.json));
    wh = made.json;
    for (let i = 0; i < 3; i++) {
      assert.equal((await api('POST', `/v1/webhooks/${wh.id}/test`, { payload: { n: i, note: 'health' } })).status, 202);
    }
    await until('3 succeeded and 3 failed attempts', async () => {
      const t = (await api('GET', `/v1/webhooks/${wh.id}/stats`)).json.totals;
      return t.succeeded === 3 && t.failed >= 3;
    });
  });

  await step('sign in on a 390 px screen', async () => {
    await signIn(page, BASE, KEY);
  });

  await step('the list shows the 24 h success rate the api answers', async () => {
    const cell = page.locator(`tr[data-id="${wh.id}"] .success-rate`);
    await cell.waitFor();
    const listed = (await api('GET', `/v1/webhooks?size=100&name=${encodeURIComponent(wh.name)}`)).json.elements[0];
    assert.ok(listed.success_rate_24h > 0 && listed.success_rate_24h <= 0.5, `rate ${listed.success_rate_24h}`);
    await until('the shown rate to match', async () => {
      await page.reload();
      await cell.waitFor();
      const now = (await api('GET', `/v1/webhooks?size=100&name=${encodeURIComponent(wh.name)}`)).json.elements[0];
      const pct = now.success_rate_24h * 100;
      return (await cell.innerText()).trim() === `${pct.toFixed(1)} %`;
    }, 30000, 1000);
  });

  await step('the details page charts the last 24 h per hour: the stats, bars and p50/p95 lines, within 390 px', async () => {
    await page.goto(`${BASE}/#/webhooks/${wh.id}`);
    await page.locator('#health svg.health-chart').waitFor();
    // the figures move while retries are made: the chart and the api agree at some moment
    await until('the chart to show what the api answers', async () => {
      const since = new Date(Date.now() - 23 * 3600 * 1000).toISOString().replace(/\.\d+Z$/, 'Z');
      const stats = (await api('GET', `/v1/webhooks/${wh.id}/stats?since=${since}&bucket=1h`)).json;
      const drawn = await chartBuckets();
      const want = stats.buckets.map((b) => ({ start: b.start, succeeded: b.succeeded, failed: b.failed, p50_ms: b.p50_ms, p95_ms: b.p95_ms }));
      const got = drawn.map(({ bars, ...b }) => b);
      if (JSON.stringify(got) === JSON.stringify(want)) return true;
      await page.reload();
      await page.locator('#health svg.health-chart').waitFor();
      return false;
    }, 60000, 1000);
    const drawn = await chartBuckets();
    assert.equal(drawn.length, 24, 'one bucket per hour');
    const busy = drawn.filter((b) => b.succeeded + b.failed > 0);
    assert.ok(busy.length >= 1 && busy.length <= 2, 'the deliveries fall in this hour (or the last)');
    assert.equal(busy.reduce((n, b) => n + b.succeeded, 0), 3);
    assert.ok(busy.some((b) => b.bars.includes('bar ok') && b.bars.includes('bar failed')), 'succeeded and failed bars');
    assert.ok(busy.every((b) => b.p50_ms !== null && b.p95_ms !== null && b.p50_ms <= b.p95_ms));
    assert.equal(await page.locator('#health polyline.p50-line').count(), 1);
    assert.equal(await page.locator('#health polyline.p95-line').count(), 1);
    assert.match(await page.locator('#health-caption').innerText(), /Last 24 hours: 3 succeeded, \d+ failed/);
    // readable at 390 px: the chart fits the screen, and its labels are not shrunk
    const box = await page.locator('#health svg.health-chart').boundingBox();
    assert.ok(box.x >= 0 && box.x + box.width <= WIDTH, `chart within the screen: ${JSON.stringify(box)}`);
    assert.ok(box.width >= 280, `chart wide enough: ${box.width}`);
    const fontPx = await page.$eval('#health svg.health-chart .axis-label', (t) => t.getBoundingClientRect().height);
    assert.ok(fontPx >= 10, `axis labels ${fontPx} px high`);
    assert.deepEqual(await overflowing(), [], 'no sideways scroll');
    assert.equal(await page.locator('script[src^="http"]').count(), 0, 'no third-party script');
    await page.locator('#health').scrollIntoViewIfNeeded();
    await page.locator('#health').screenshot({ path: path.join(ARTIFACTS, 'health-chart-390.png') });
  });

  await step('a delivery opened shows the payload, the headers as sent, the response and the history', async () => {
    const log = (await api('GET', `/v1/webhooks/${wh.id}/deliveries?success=true`)).json.elements;
    const d = log[log.length - 1];
    const full = (await api('GET', `/v1/webhooks/${wh.id}/deliveries/${d.id}`)).json;
    assert.ok(full.request.headers['webhook-signature'].startsWith('v1,'));
    const row = page.locator(`#deliveries-table tr[data-id="${d.id}"]`);
    await until('the record in the log', async () => (await row.count()) === 1, 30000, 500);
    await row.getByRole('button', { name: `Details of delivery ${d.id}` }).click();
    const view = page.locator(`.delivery-view[data-delivery="${d.id}"]`);
    await view.locator('.payload').waitFor();
    assert.equal(await view.locator('.payload').innerText(), JSON.stringify(full.payload, null, 2));
    assert.equal(await view.locator('dd[data-header="webhook-signature"]').innerText(), full.request.headers['webhook-signature']);
    assert.equal(await view.locator('dd[data-header="webhook-id"]').innerText(), d.event_id);
    assert.equal(await view.locator('dd[data-header="content-type"]').innerText(), 'application/json');
    assert.match(await view.locator('dd[data-header="user-agent"]').innerText(), /^hookline\//);
    assert.match(await view.locator('.response-status').innerText(), /^HTTP 200/);
    assert.equal(await view.locator('table.history tbody tr').count(), full.history.length);
    assert.ok(!(await view.innerText()).includes('whsec_'), 'no secret shown');
    // a failed one: no HTTP response, the error, and its retries in the history
    const bad = (await api('GET', `/v1/webhooks/${wh.id}/deliveries?success=false`)).json.elements[0];
    const badRow = page.locator(`#deliveries-table tr[data-id="${bad.id}"]`);
    if (await badRow.count()) {
      await badRow.getByRole('button', { name: `Details of delivery ${bad.id}` }).click();
      const badView = page.locator(`.delivery-view[data-delivery="${bad.id}"]`);
      await badView.locator('.response-status').waitFor();
      assert.equal(await badView.locator('.response-status').innerText(), 'No HTTP response.');
      assert.ok((await badView.locator('.error-text').innerText()).length > 0);
    }
    assert.deepEqual(await overflowing(), [], 'no sideways scroll');
    await view.scrollIntoViewIfNeeded();
    await view.screenshot({ path: path.join(ARTIFACTS, 'health-delivery-390.png') });
    // it stays open when the log refreshes (the table is drawn again), and closes
    const before = await view.elementHandle();
    await page.locator('#refresh-deliveries').click();
    await until('the log drawn again', async () => !(await before.evaluate((el) => el.isConnected)), 15000, 100);
    await view.locator('.payload').waitFor();
    assert.equal(await row.getByRole('button', { name: `Details of delivery ${d.id}` }).getAttribute('aria-expanded'), 'true');
    await row.getByRole('button', { name: `Details of delivery ${d.id}` }).click();
    assert.equal(await view.count(), 0);
  });

  await step('no script error or CSP violation', async () => {
    assert.deepEqual(pageErrors, []);
    assert.deepEqual(cspViolations, []);
  });
} finally {
  if (wh) await api('DELETE', `/v1/webhooks/${wh.id}`).catch(() => {});
  await close();
}

finish({ screenshots: true });
