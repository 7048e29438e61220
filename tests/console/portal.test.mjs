// portal.test.mjs: the console opened by a portal session's link, framed
// by a page of another origin, in headless Debian Chromium driven by
// playwright-core.
//
// Run by tests/e2e/test_console.c, whose api has
// HOOKLINE_PORTAL_FRAME_ANCESTORS=http://localhost:* and gets:
//   HOOKLINE_CONSOLE_URL        the api's base URL ("http://127.0.0.1:PORT")
//   HOOKLINE_ADMIN_KEY          the deployment's admin key
//   HOOKLINE_RECEIVER_URL       "https://127.0.0.1:PORT"
//   HOOKLINE_CONSOLE_ARTIFACTS  where screenshots go
//   HOOKLINE_CHROMIUM           the browser (default /usr/bin/chromium)
// This script serves the embedding page itself, on http://localhost:<port>
// (listed: a cross-site frame, as in an operator's product) and on
// http://127.0.0.2:<port> (not listed). Prints "ok - <step>" /
// "not ok - <step>" and last "N passed, N failed"; exits 1 if any failed.

import assert from 'node:assert/strict';
import http from 'node:http';
import { createHarness, request } from './harness.mjs';

const { need, launch, step, shot, close, finish } = createHarness({
  name: 'portal', stepTimeoutMs: 90000, failedShotPrefix: 'FAILED-portal-',
});
const BASE = need('HOOKLINE_CONSOLE_URL');
const ADMIN = need('HOOKLINE_ADMIN_KEY');
const RECEIVER = need('HOOKLINE_RECEIVER_URL');
const TENANT = 'portal-a';
const OTHER = 'portal-b';

// The REST API directly, as the operator's backend would call it.
const api = (method, p, key, body) => request(BASE, key, method, p, body);

async function tenantWithKey(id) {
  const t = await api('POST', '/v1/tenants', ADMIN, { id });
  assert.equal(t.status, 201, JSON.stringify(t.json));
  const k = await api('POST', `/v1/tenants/${id}/keys`, ADMIN, { scopes: ['webhooks:read', 'webhooks:write'] });
  assert.equal(k.status, 201, JSON.stringify(k.json));
  return k.json.key;
}

async function webhook(key, name) {
  const r = await api('POST', '/v1/webhooks', key, { name, url: `${RECEIVER}/${name}`, events: 'booking' });
  assert.equal(r.status, 201, JSON.stringify(r.json));
  return r.json;
}

async function session(ttl_s) {
  const r = await api('POST', '/v1/portal-sessions', ADMIN, { tenant: TENANT, ttl_s });
  assert.equal(r.status, 201, JSON.stringify(r.json));
  assert.match(r.json.url, /\/portal#token=hlp_[A-Za-z0-9]+$/);
  return r.json;
}

/* ---- the embedding page ------------------------------------------------------ */

// GET /embed?src=<url>: a page of the operator's product with the link in
// an iframe. Served on every address the server listens on.
const server = http.createServer((req, res) => {
  const u = new URL(req.url, 'http://x');
  if (u.pathname !== '/embed') {
    res.writeHead(404).end();
    return;
  }
  const src = (u.searchParams.get('src') || '').replace(/[<>"&]/g, '');
  res.writeHead(200, { 'content-type': 'text/html; charset=utf-8' });
  res.end(`<!doctype html><html lang="en"><head><meta charset="utf-8"><title>Operator product</title></head>
<body><h1>Operator product</h1><iframe id="portal" title="Webhooks" width="1100" height="760" src="${src}"></iframe></body></html>`);
});
const servers = [];
async function listen(host) {
  const s = host === '127.0.0.1' ? server : http.createServer(server.listeners('request')[0]);
  await new Promise((resolve, reject) => {
    s.once('error', reject);
    s.listen(0, host, resolve);
  });
  servers.push(s);
  return s.address().port;
}
const LISTED = `http://localhost:${await listen('127.0.0.1')}`;  // HOOKLINE_PORTAL_FRAME_ANCESTORS has http://localhost:*
const UNLISTED = `http://127.0.0.2:${await listen('127.0.0.2')}`;

/* ---- the browser ------------------------------------------------------------ */

const page = await launch({
  viewport: { width: 1280, height: 900 },
  // "localhost" is the embedding site: one address, whatever /etc/hosts says
  args: ['--host-resolver-rules=MAP localhost 127.0.0.1'],
  defaultTimeout: 20000,
});

const pageErrors = [];
const frameRefusals = [];
page.on('pageerror', (e) => pageErrors.push(String(e)));
page.on('console', (m) => {
  if (/frame-ancestors/i.test(m.text())) frameRefusals.push(m.text());
});
// every URL the browser asked the api for: the token must never be in one
const apiRequests = [];
page.on('request', (r) => {
  if (r.url().startsWith(BASE)) apiRequests.push(r.url());
});

const frame = () => page.frameLocator('#portal');
const portalFrame = () => page.frames().find((f) => f !== page.mainFrame());

async function embed(origin, url) {
  await page.goto(`${origin}/embed?src=${encodeURIComponent(url)}`);
  await page.getByRole('heading', { name: 'Operator product' }).waitFor();
}

let keyA;
let keyB;
let first;

try {
  await step('set-up: two tenants, a webhook each, a portal session for the first', async () => {
    keyA = await tenantWithKey(TENANT);
    keyB = await tenantWithKey(OTHER);
    await webhook(keyA, 'a-existing');
    await webhook(keyB, 'b-private');
    first = await session(600);
  });

  await step('the link opens the console in an iframe of another site, signed in, with the token gone from its address', async () => {
    await embed(LISTED, first.url);
    await frame().getByRole('heading', { name: 'Webhooks', exact: true }).waitFor();
    await frame().getByText('a-existing').first().waitFor();
    const f = portalFrame();
    assert.ok(f, 'the frame is there');
    const href = await f.evaluate(() => location.href);
    assert.ok(!href.includes('hlp_') && !href.includes('token'), `no token in the frame's address: ${href}`);
    assert.equal(new URL(href).pathname, '/portal');
    // no way to sign out or in: the operator's product owns the session
    assert.equal(await frame().getByRole('button', { name: 'Sign out' }).isVisible(), false);
    // no cookie, nothing in localStorage (where the frame may use storage at all)
    assert.equal(await f.evaluate(() => document.cookie), '');
    assert.equal(await f.evaluate(() => { try { return localStorage.length; } catch { return 0; } }), 0);
    await shot('portal-01-framed-list');
  });

  await step('only that tenant\'s data: the other tenant\'s webhook is nowhere', async () => {
    const text = await frame().locator('body').innerText();
    assert.ok(text.includes('a-existing'));
    assert.ok(!text.includes('b-private'), 'the other tenant\'s webhook is not listed');
  });

  await step('create a webhook from inside the frame: it belongs to that tenant alone', async () => {
    await frame().getByRole('link', { name: 'Create webhook' }).first().click();
    await frame().getByRole('heading', { name: 'Create a webhook' }).waitFor();
    await frame().getByLabel('Name', { exact: true }).fill('from-the-portal');
    await frame().getByRole('button', { name: 'Next' }).click();
    await frame().getByRole('heading', { name: 'Step 2 of 3: Endpoints' }).waitFor();
    await frame().locator('input.endpoint-url').nth(0).fill(`${RECEIVER}/portal`);
    await frame().getByRole('button', { name: 'Next' }).click();
    await frame().getByRole('heading', { name: 'Step 3 of 3: Events' }).waitFor();
    await frame().locator('#ev-group-booking').check();
    await frame().getByRole('button', { name: 'Create webhook' }).click();
    await frame().getByRole('heading', { name: 'Webhook created' }).waitFor();
    await shot('portal-02-created');
    const mine = await api('GET', '/v1/webhooks?size=100', keyA);
    const made = mine.json.elements.find((w) => w.name === 'from-the-portal');
    assert.ok(made, 'the tenant sees it');
    assert.equal(made.created_by, first.id, 'created by the portal session');
    const theirs = await api('GET', '/v1/webhooks?size=100', keyB);
    assert.deepEqual(theirs.json.elements.map((w) => w.name), ['b-private']);
    await frame().getByRole('link', { name: 'Webhooks', exact: true }).click();
    await frame().getByText('from-the-portal').first().waitFor();
  });

  await step('the token never went into a request URL', async () => {
    assert.ok(apiRequests.length > 3, 'the console called the api');
    for (const u of apiRequests) assert.ok(!u.includes('hlp_'), `token in ${u}`);
  });

  await step('after DELETE /v1/portal-sessions/{id} the link stops working at once, with no sign-in form', async () => {
    const r = await api('DELETE', `/v1/portal-sessions/${first.id}`, ADMIN);
    assert.equal(r.status, 200);
    await portalFrame().evaluate(() => { location.hash = '#/?page=1'; });
    await frame().getByRole('heading', { name: 'This link has expired' }).waitFor();
    assert.equal(await frame().getByLabel('API key').count(), 0, 'no key is asked for in a frame');
    await shot('portal-03-revoked');
    // opening the same link again does not bring it back
    await embed(LISTED, first.url);
    await frame().getByRole('heading', { name: 'This link has expired' }).waitFor();
  });

  await step('a 10 s link works, then stops working at its expiry', async () => {
    // under load a page may take a while: a fresh link until one is seen working
    let s;
    for (let attempt = 0; ; attempt++) {
      s = await session(10);
      await embed(LISTED, s.url);
      const seen = await Promise.race([
        frame().getByRole('heading', { name: 'Webhooks', exact: true }).waitFor({ timeout: 10000 }).then(() => 'list'),
        frame().getByRole('heading', { name: 'This link has expired' }).waitFor({ timeout: 10000 }).then(() => 'ended'),
      ]).catch(() => 'none');
      if (seen === 'list') break;
      assert.ok(attempt < 3 && Date.now() >= Date.parse(s.expires_at), `the fresh link showed ${seen}`);
    }
    await frame().getByText('from-the-portal').first().waitFor();
    const wait = Date.parse(s.expires_at) - Date.now() + 500;
    if (wait > 0) await new Promise((r) => setTimeout(r, wait));
    await portalFrame().evaluate(() => { location.hash = '#/?page=1'; });
    await frame().getByRole('heading', { name: 'This link has expired' }).waitFor();
    await shot('portal-04-expired');
  });

  await step('a page on an origin not listed cannot frame the portal', async () => {
    const s = await session(600);
    frameRefusals.length = 0;
    await embed(UNLISTED, s.url);
    const deadline = Date.now() + 20000;
    while (frameRefusals.length === 0 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 200));
    assert.ok(frameRefusals.length > 0, 'Chromium reported the frame-ancestors refusal');
    assert.equal(await frame().getByRole('heading', { name: 'Webhooks', exact: true }).count(), 0);
    await shot('portal-05-unlisted-refused');
  });

  await step('the listed origin cannot frame the ordinary console (/) either', async () => {
    frameRefusals.length = 0;
    await embed(LISTED, `${BASE}/`);
    const deadline = Date.now() + 20000;
    while (frameRefusals.length === 0 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 200));
    assert.ok(frameRefusals.length > 0, 'Chromium reported the frame-ancestors refusal');
    assert.equal(await frame().getByRole('heading').count(), 0);
  });

  await step('no uncaught error in any page', async () => {
    assert.deepEqual(pageErrors, []);
  });
} finally {
  await close();
  for (const s of servers) s.close();
}

finish();
