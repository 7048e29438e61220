// details.js: one webhook: every field, enable/disable, edit, rotate the
// secret (the new one shown once), delete, send a test event, and the
// delivery log. Also the page that shows a new webhook's secret once.

import { webhooks } from './api.js';
import { clear, confirmDialog, field, flash, h, link, path, time } from './dom.js';
import { renderDeliveries } from './deliveries.js';
import { recoverSection } from './recover.js';
import { renderHealth } from './health.js';
import { statusBadge } from './list.js';
import { pollPanel } from './poll.js';
import { orderedPanel } from './ordered.js';
import { secretPanel, takeSecret } from './secret.js';

const KNOWN = new Set(['id', 'name', 'description', 'url', 'auth', 'endpoints', 'events', 'headers', 'max_retries',
  'rate_limit', 'is_active', 'disabled_reason', 'filter', 'secret', 'created_at', 'updated_at', 'created_by', 'version', 'previous_secret_expires_at']);

/* ---- the new webhook's secret ------------------------------------------- */

export function renderCreated(ctx, id) {
  const secret = takeSecret(id);
  const details = '#' + path('webhooks', id);
  if (!secret) {
    // a reload, or a link: the secret is gone for good, as promised
    location.replace(details);
    return;
  }
  document.title = 'Webhook created · hookline';
  ctx.view.append(
    h('div', { class: 'page-head' }, h('h1', { text: 'Webhook created' })),
    secretPanel(secret, {
      title: 'Your webhook signing secret',
      onClose: () => { location.hash = details; },
    }));
  ctx.focus();
}

/* ---- details --------------------------------------------------------------- */

export async function renderDetails(ctx, id) {
  document.title = 'Webhook · hookline';
  const loading = h('p', { class: 'loading', text: 'Loading the webhook…' });
  ctx.view.append(loading);
  let wh;
  try {
    wh = await webhooks.get(id);
  } catch (e) {
    loading.remove();
    if (e.status === 404) {
      document.title = 'Webhook not found · hookline';
      ctx.view.append(h('h1', { text: 'Webhook not found' }),
        h('p', {}, 'It may have been deleted. ', link('/', 'Back to your webhooks')));
      ctx.focus();
      return;
    }
    throw e;
  }
  loading.remove();
  document.title = `${wh.name} · hookline`;

  const secretSlot = h('div', { id: 'secret-slot' });
  const toggle = h('button', { type: 'button', id: 'toggle-active', class: 'secondary', text: wh.is_active ? 'Disable' : 'Enable' });
  const rotate = h('button', { type: 'button', id: 'rotate-secret', class: 'secondary', text: 'Rotate secret' });
  const del = h('button', { type: 'button', id: 'delete-webhook', class: 'danger', text: 'Delete webhook' });
  const badge = h('span', { id: 'status-badge' }, statusBadge(wh));
  const settings = h('div', { id: 'settings' }, settingsList(wh, enableEndpoint));

  ctx.view.append(
    h('p', { class: 'crumbs' }, link('/', '← Webhooks')),
    h('div', { class: 'page-head' },
      h('h1', {}, h('span', { class: 'wh-title', text: wh.name }), ' ', badge),
      h('div', { class: 'toolbar', attrs: { role: 'group', 'aria-label': 'Webhook actions' } },
        toggle, link(path('webhooks', id, 'edit'), 'Edit', { class: 'button secondary', id: 'edit-webhook' }), rotate, del)),
    secretSlot,
    h('section', { class: 'card', attrs: { 'aria-labelledby': 'settings-title' } },
      h('h2', { id: 'settings-title', text: 'Settings' }), settings),
    pollPanel(wh),
    orderedPanel(wh),
    testSection(wh, () => log.refreshSoon()),
    recoverSection(wh, () => log.refreshSoon()),
    h('section', { class: 'card', id: 'health', attrs: { 'aria-labelledby': 'health-title' } },
      h('h2', { id: 'health-title', text: 'Delivery health, last 24 hours' })),
    h('section', { class: 'card', id: 'deliveries', attrs: { 'aria-labelledby': 'deliveries-title' } },
      h('h2', { id: 'deliveries-title', text: 'Delivery log' })));
  const log = renderDeliveries(ctx.view.querySelector('#deliveries'), id);
  renderHealth(ctx.view.querySelector('#health'), id);
  ctx.focus();

  function update(next) {
    wh = next;
    clear(settings).append(settingsList(wh, enableEndpoint));
    clear(badge).append(statusBadge(wh));
    toggle.textContent = wh.is_active ? 'Disable' : 'Enable';
  }

  // One endpoint disabled by hookline (410 Gone, or failing for days):
  // the endpoints as they are, that one with "is_active": true.
  async function enableEndpoint(ep, button) {
    button.disabled = true;
    try {
      // "auth" left out: each endpoint keeps its saved credentials
      const endpoints = wh.endpoints.map((e) => ({ url: e.url, headers: e.headers || {}, ...(e.id === ep.id ? { is_active: true } : {}) }));
      update(await webhooks.patch(id, { endpoints }));
      flash(`Endpoint ${ep.url} enabled: new events will be delivered to it.`);
    } catch (e) {
      button.disabled = false;
      if (e.status !== 401) flash(`Could not enable the endpoint: ${e.message}`, 'error');
    }
  }

  toggle.addEventListener('click', async () => {
    const want = !wh.is_active;
    toggle.disabled = true;
    try {
      update(await webhooks.patch(id, { is_active: want }));
      flash(want ? 'Webhook enabled: new events will be delivered.' : 'Webhook disabled: no events are delivered until you enable it again.');
    } catch (e) {
      if (e.status !== 401) flash(`Could not ${want ? 'enable' : 'disable'} the webhook: ${e.message}`, 'error');
    } finally {
      toggle.disabled = false;
    }
  });

  rotate.addEventListener('click', async () => {
    const ok = await confirmDialog({
      title: 'Rotate the signing secret?',
      message: 'A new secret is made and shown once. For the next 24 hours each request is signed with both the old and the new secret, so you can switch your receiver over without losing events.',
      confirmLabel: 'Rotate secret',
    });
    if (!ok) {
      rotate.focus();
      return;
    }
    rotate.disabled = true;
    try {
      const res = await webhooks.rotate(id);
      clear(secretSlot).append(secretPanel(res.secret, {
        title: 'New signing secret',
        onClose: () => rotate.focus(),
      }));
      secretSlot.querySelector('#secret-value').focus();
      update(res);
    } catch (e) {
      if (e.status !== 401) flash(`Could not rotate the secret: ${e.message}`, 'error');
    } finally {
      rotate.disabled = false;
    }
  });

  del.addEventListener('click', async () => {
    const ok = await confirmDialog({
      title: 'Delete this webhook?',
      message: `“${wh.name}” will stop receiving events at once, and its delivery log goes with it. This cannot be undone.`,
      confirmLabel: 'Delete webhook',
      danger: true,
    });
    if (!ok) {
      del.focus();
      return;
    }
    del.disabled = true;
    try {
      await webhooks.remove(id);
      flash(`Webhook “${wh.name}” was deleted.`, 'info', true);
      location.hash = '#/';
    } catch (e) {
      del.disabled = false;
      if (e.status !== 401) flash(`Could not delete the webhook: ${e.message}`, 'error');
    }
  });
}

const ENDPOINT_REASONS = {
  gone: 'it answered 410 Gone',
  failing: 'every delivery to it failed for too long',
};

// An endpoint's own state: hookline disables one that answers 410 Gone or
// keeps failing, while the webhook's other endpoints go on.
function endpointState(ep, onEnable) {
  if (ep.is_active !== false) return h('span', { class: 'badge ok ep-state', text: 'Active' });
  const why = ENDPOINT_REASONS[ep.disabled_reason] || ep.disabled_reason || 'disabled by hookline';
  const enable = h('button', { type: 'button', class: 'secondary small enable-endpoint', text: 'Enable endpoint',
    attrs: { 'aria-label': `Enable endpoint ${ep.url}` } });
  enable.addEventListener('click', () => onEnable(ep, enable));
  return h('span', { class: 'ep-disabled' },
    h('span', { class: 'badge bad ep-state', text: 'Disabled' }),
    h('span', { class: 'reason' }, ` Nothing is delivered to it: ${why}`, ep.disabled_at ? h('span', {}, ' (', time(ep.disabled_at), ').') : '.'),
    ' ', enable);
}

function settingsList(wh, onEnable) {
  const rows = [];
  const row = (label, ...value) => rows.push(h('dt', { text: label }), h('dd', {}, ...value));
  const none = (text = 'None') => h('span', { class: 'muted', text });
  row('ID', h('code', { text: wh.id }));
  row('Name', wh.name);
  row('Description', wh.description ? wh.description : none());
  const live = (wh.endpoints || []).filter((ep) => ep.is_active !== false).length;
  const total = (wh.endpoints || []).length;
  row('Status', !wh.is_active ? 'Disabled: no events are delivered.'
    : live < total ? `Active: events are delivered to ${live} of its ${total} endpoints.` : 'Active: events are delivered.',
    wh.disabled_reason ? h('span', { class: 'reason' }, ' Reason: ', wh.disabled_reason) : null);
  row('Endpoints', h('ul', { class: 'plain endpoints-list' }, (wh.endpoints || []).map((ep) =>
    h('li', { class: 'endpoint-item' },
      ep.kind === 'poll' ? h('span', { text: 'Poll endpoint: nothing is pushed; events wait to be fetched.' })
        : h('span', { class: 'mono', text: ep.url }), ' ', endpointState(ep, onEnable),
      authNote(ep.auth), headerList(ep.headers)))));
  row('Events', h('ul', { class: 'plain chips' }, (wh.events || []).map((e) => h('li', { class: 'chip', text: e }))));
  row('Maximum retries', wh.max_retries === undefined || wh.max_retries === null ? none('Default') : String(wh.max_retries));
  row('Rate limit', wh.rate_limit ? `${wh.rate_limit} deliveries per second per endpoint` : none('No limit'));
  row('Headers for every endpoint', Object.keys(wh.headers || {}).length ? headerList(wh.headers) : none());
  row('Filter', wh.filter && Object.keys(wh.filter).length ? h('pre', { class: 'json', text: JSON.stringify(wh.filter, null, 2) }) : none('None: every matching event'));
  row('Signing secret', none('Hidden. It is shown only once, when the webhook is created or the secret is rotated.'));
  if (wh.previous_secret_expires_at) row('Previous secret signs until', time(wh.previous_secret_expires_at));
  row('Created', time(wh.created_at));
  row('Updated', time(wh.updated_at));
  if (wh.created_by) row('Created by key', h('code', { text: wh.created_by }));
  if (wh.version !== undefined) row('Version', String(wh.version));
  for (const [k, v] of Object.entries(wh)) {
    // fields a newer API adds show too, as JSON
    if (!KNOWN.has(k)) row(k, h('pre', { class: 'json', text: JSON.stringify(v, null, 2) }));
  }
  return h('dl', { class: 'settings' }, rows);
}

// Credentials show their kind only: the API never returns them.
const AUTH_KINDS = { basic: 'Basic (username and password)', bearer: 'Bearer token' };

function authNote(auth) {
  if (!auth || !auth.type) return null;
  return h('p', { class: 'auth-note' }, h('span', { class: 'muted', text: 'Authentication: ' }),
    AUTH_KINDS[auth.type] || auth.type, h('span', { class: 'muted', text: ' (saved, hidden)' }));
}

function headerList(headers) {
  const entries = Object.entries(headers || {});
  if (!entries.length) return null;
  return h('ul', { class: 'plain header-list' }, entries.map(([k, v]) =>
    h('li', {}, h('span', { class: 'mono header-k', text: `${k}: ` }), h('span', { class: 'mono', text: v }))));
}

/* ---- test event ------------------------------------------------------------ */

function testSection(wh, sent) {
  const payload = field('Custom payload (optional)', h('textarea', { id: 'test-payload', name: 'payload', rows: 4, spellcheck: false, class: 'mono', placeholder: '{"booking_id": "b_123"}' }),
    'A JSON object sent as the event\'s "data". Empty: a standard test message.');
  const button = h('button', { type: 'submit', class: 'primary', id: 'send-test', text: 'Send test event' });
  const result = h('p', { class: 'result', id: 'test-result', attrs: { role: 'status', 'aria-live': 'polite' } });
  const form = h('form', { id: 'test-form', attrs: { novalidate: '' } }, payload.wrap, h('div', { class: 'actions' }, button), result);
  form.addEventListener('submit', async (ev) => {
    ev.preventDefault();
    payload.setError('');
    result.textContent = '';
    const text = payload.control.value.trim();
    let data;
    if (text) {
      try {
        data = JSON.parse(text);
      } catch (e) {
        payload.setError(`This is not valid JSON: ${e.message}`);
        payload.control.focus();
        return;
      }
      if (data === null || typeof data !== 'object' || Array.isArray(data)) {
        payload.setError('The payload must be a JSON object, like {"key": "value"}.');
        payload.control.focus();
        return;
      }
    }
    button.disabled = true;
    try {
      const res = await webhooks.test(wh.id, data);
      result.textContent = `Test event ${res.event_id} sent. Its deliveries appear in the log below within a few seconds.`;
      sent();
    } catch (e) {
      if (e.status !== 401) payload.setError(e.message);
    } finally {
      button.disabled = false;
    }
  });
  return h('section', { class: 'card', attrs: { 'aria-labelledby': 'test-title' } },
    h('h2', { id: 'test-title', text: 'Send a test event' }),
    h('p', { class: 'hint', text: 'Sends a webhook.test event to this webhook\'s endpoints only, signed like any other.' }),
    form);
}
