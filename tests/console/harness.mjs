// harness.mjs: what the console's browser scripts (console, portal, poll,
// health, ordered .test.mjs) share: their environment, a step runner with
// a timeout and a screenshot on failure, polling with a deadline, the REST
// API called directly, signing in, and one headless Debian Chromium (never a downloaded
// browser) in a throwaway profile.
//
//   const t = createHarness({ name: 'poll', stepTimeoutMs: 60000, failedShotPrefix: 'FAILED-poll-' });
//   const BASE = t.need('HOOKLINE_CONSOLE_URL');
//   const page = await t.launch({ viewport: { width: 1280, height: 900 } });
//   try {
//     await t.step('sign in', async () => { ... });
//   } finally {
//     await t.close();
//   }
//   t.finish();
//
// A script prints "ok - <step> (N ms)" or "not ok - <step>" and the error
// for each step, and last "N passed, N failed"; it exits 1 if any step
// failed, 2 if a variable it needs is not set.
//
// Plain ES module: node built-ins and playwright-core only.

import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { chromium } from 'playwright-core';

const here = path.dirname(fileURLToPath(import.meta.url));

// Where screenshots go: HOOKLINE_CONSOLE_ARTIFACTS (test_console.c sets it),
// else build/tests/artifacts/console of this tree.
export const ARTIFACTS = process.env.HOOKLINE_CONSOLE_ARTIFACTS || path.resolve(here, '../../build/tests/artifacts/console');
const CHROMIUM = process.env.HOOKLINE_CHROMIUM || '/usr/bin/chromium';
const CHROMIUM_ARGS = ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
  '--disable-background-networking', '--disable-component-update', '--disable-sync'];

// One call of the REST API as 'key' (x-api-key), with 'body' sent as JSON
// when given. Resolves to { status, json } (json null for an empty reply).
export async function request(base, key, method, p, body) {
  const res = await fetch(base + p, {
    method,
    headers: { 'x-api-key': key, ...(body ? { 'content-type': 'application/json' } : {}) },
    body: body ? JSON.stringify(body) : undefined,
  });
  const text = await res.text();
  return { status: res.status, json: text ? JSON.parse(text) : null };
}

// request() bound to 'base' and 'key': api(method, path, body).
export function apiClient(base, key) {
  return (method, p, body) => request(base, key, method, p, body);
}

// Sign 'page' in to the console at 'base' with 'key', as a user does:
// the sign-in page, the key typed, and the list of webhooks shown.
export async function signIn(page, base, key) {
  await page.goto(base + '/');
  await page.waitForURL(/#\/signin$/);
  await page.getByLabel('API key').fill(key);
  await page.getByRole('button', { name: 'Sign in' }).click();
  await page.getByRole('heading', { name: 'Webhooks', exact: true }).waitFor();
}

// A harness for one script. Options:
//   name              the script's name: "<name>.test.mjs" in messages, and
//                     the profile directory's prefix "hookline-<name>-"
//   stepTimeoutMs     how long one step may take before it fails
//   failedShotPrefix  a failed step's screenshot is <prefix><step as a slug>.png
//   untilMs, untilEvery  until()'s default deadline and interval (ms)
// Returns { ARTIFACTS, need, launch, step, shot, until, close, finish }:
// functions that need no 'this'.
export function createHarness({ name, stepTimeoutMs, failedShotPrefix, untilMs = 30000, untilEvery = 500 }) {
  let passed = 0;
  let failed = 0;
  let context = null;
  let profile = null;
  let page = null;

  // The value of environment variable 'v'; exits 2 if it is not set.
  function need(v) {
    const value = process.env[v];
    if (!value) {
      console.error(`${name}.test.mjs: ${v} is not set (run it through tests/e2e/test_console.c)`);
      process.exit(2);
    }
    return value;
  }

  // Start Chromium in a new profile and return its first tab. Options:
  //   viewport        { width, height }
  //   args            Chromium flags added to the usual ones
  //   defaultTimeout  the page's default timeout for actions and waits (ms)
  //   clearShots      remove the *.png in ARTIFACTS first (this run's only)
  //   permissions     { names, origin }: granted to the context
  async function launch({ viewport, args = [], defaultTimeout = 15000, clearShots = false, permissions = null }) {
    fs.mkdirSync(ARTIFACTS, { recursive: true });
    if (clearShots) {
      for (const f of fs.readdirSync(ARTIFACTS)) {
        if (f.endsWith('.png')) fs.rmSync(path.join(ARTIFACTS, f));
      }
    }
    profile = fs.mkdtempSync(path.join(os.tmpdir(), `hookline-${name}-`));
    context = await chromium.launchPersistentContext(profile, {
      executablePath: CHROMIUM,
      headless: true,
      args: [...CHROMIUM_ARGS, ...args],
      viewport,
      locale: 'en-US',
      timezoneId: 'UTC',
    });
    if (permissions) await context.grantPermissions(permissions.names, { origin: permissions.origin });
    page = context.pages()[0] || await context.newPage();
    page.setDefaultTimeout(defaultTimeout);
    return page;
  }

  // A full-page screenshot of the tab as ARTIFACTS/<file>.png.
  async function shot(file) {
    await page.screenshot({ path: path.join(ARTIFACTS, `${file}.png`), fullPage: true });
  }

  // Run step 'title' (async 'fn'), at most stepTimeoutMs; print its outcome
  // and count it. A failure is printed with its stack and a screenshot is
  // taken; it never throws, so the next step runs.
  async function step(title, fn) {
    const started = Date.now();
    let timer;
    try {
      await Promise.race([
        fn(),
        new Promise((_, reject) => { timer = setTimeout(() => reject(new Error(`step timed out after ${stepTimeoutMs} ms`)), stepTimeoutMs); }),
      ]);
      passed++;
      console.log(`ok - ${title} (${Date.now() - started} ms)`);
    } catch (e) {
      failed++;
      console.log(`not ok - ${title}\n  ${String(e && e.stack ? e.stack : e).split('\n').join('\n  ')}`);
      await shot(`${failedShotPrefix}${title.replace(/[^a-z0-9]+/gi, '-').toLowerCase()}`).catch(() => {});
    } finally {
      clearTimeout(timer);
    }
  }

  // Poll 'fn' (async, returns truthy when done) every 'every' ms until 'ms'
  // have passed; resolves to its value, or throws naming 'what' and the last
  // value or error seen.
  async function until(what, fn, ms = untilMs, every = untilEvery) {
    const deadline = Date.now() + ms;
    let last;
    for (;;) {
      try {
        last = await fn();
        if (last) return last;
      } catch (e) {
        last = e;
      }
      if (Date.now() > deadline) throw new Error(`timed out waiting for ${what} (last: ${last instanceof Error ? last.message : JSON.stringify(last)})`);
      await new Promise((r) => setTimeout(r, every));
    }
  }

  // Close the browser and remove its profile. Never throws.
  async function close() {
    if (context) await context.close().catch(() => {});
    if (profile) fs.rmSync(profile, { recursive: true, force: true });
  }

  // Print "screenshots in <dir>" (with 'screenshots') and "N passed, N
  // failed", and exit: 1 if a step failed, else 0.
  function finish({ screenshots = false } = {}) {
    if (screenshots) console.log(`screenshots in ${ARTIFACTS}`);
    console.log(`${passed} passed, ${failed} failed`);
    process.exit(failed ? 1 : 0);
  }

  return { ARTIFACTS, need, launch, step, shot, until, close, finish };
}
