// deliveries.js: a webhook's delivery log (newest first, a page at a time,
// filtered by outcome) with Retry and Delete on every record. After a test
// event it refreshes itself for a while so the new delivery shows up.

import { webhooks } from './api.js';
import { append, clear, confirmDialog, flash, h, time } from './dom.js';
import { deliveryView } from './delivery_view.js';

const PAGE_SIZE = 20;
const AUTO_REFRESH_MS = 2000;
const AUTO_REFRESH_FOR_MS = 30000;

// Fill 'section' with the log of webhook 'id'. Returns {refresh, refreshSoon}.
export function renderDeliveries(section, id) {
  let page = 1;
  let success = '';
  let timer = null;
  let until = 0;
  const opened = new Set();   // records shown open: they stay open when the log refreshes
  const outcome = h('select', { id: 'delivery-filter', name: 'success' },
    h('option', { value: '', text: 'All' }),
    h('option', { value: 'true', text: 'Succeeded' }),
    h('option', { value: 'false', text: 'Failed' }));
  const refreshButton = h('button', { type: 'button', class: 'secondary small', id: 'refresh-deliveries', text: 'Refresh' });
  const status = h('p', { class: 'sr-only', attrs: { role: 'status', 'aria-live': 'polite' } });
  const body = h('div', { id: 'deliveries-body' });
  section.append(
    h('div', { class: 'log-tools' },
      h('label', { htmlFor: 'delivery-filter' }, 'Show ', outcome),
      refreshButton),
    status, body);

  outcome.addEventListener('change', () => {
    success = outcome.value;
    page = 1;
    refresh();
  });
  refreshButton.addEventListener('click', () => refresh());

  async function refresh() {
    if (!section.isConnected && body.childNodes.length) return stop();
    section.setAttribute('aria-busy', 'true');
    try {
      const list = await webhooks.deliveries(id, { page, size: PAGE_SIZE, success });
      append(clear(body), [list.count === 0 ? empty() : table(list.elements), list.count ? pager(list) : null]);
      status.textContent = `${list.count} deliver${list.count === 1 ? 'y' : 'ies'} in the log.`;
    } catch (e) {
      if (e.status !== 401) clear(body).append(h('p', { class: 'form-error', text: `The delivery log could not be loaded: ${e.message}` }));
    } finally {
      section.removeAttribute('aria-busy');
    }
  }

  function stop() {
    if (timer) clearInterval(timer);
    timer = null;
  }

  // poll for a while: the dispatcher records the attempt a moment later
  function refreshSoon() {
    until = Date.now() + AUTO_REFRESH_FOR_MS;
    if (timer) return;
    timer = setInterval(() => {
      if (Date.now() > until || !section.isConnected) stop();
      else refresh();
    }, AUTO_REFRESH_MS);
  }

  function empty() {
    return h('p', { class: 'empty small-empty', id: 'deliveries-empty' },
      success ? 'No deliveries with this outcome.' : 'No deliveries yet. Send a test event above to see one here.');
  }

  function table(elements) {
    // one wrapper per cell: on narrow screens the cell is a label/value grid
    const cell = (label, ...content) => h('td', { attrs: { 'data-label': label } }, h('div', { class: 'cell' }, ...content));
    const dash = () => h('span', { class: 'muted', text: '—' });
    const rows = elements.map((d) => {
      const retry = h('button', { type: 'button', class: 'secondary small', text: 'Retry', attrs: { 'aria-label': `Retry delivery ${d.id}` } });
      const del = h('button', { type: 'button', class: 'danger small', text: 'Delete', attrs: { 'aria-label': `Delete delivery record ${d.id}` } });
      const open = h('button', { type: 'button', class: 'secondary small open-delivery', text: 'Details', attrs: { 'aria-expanded': 'false', 'aria-label': `Details of delivery ${d.id}` } });
      open.addEventListener('click', () => toggleView(d, open));
      retry.addEventListener('click', () => retryOne(d, retry));
      del.addEventListener('click', () => deleteOne(d, del));
      const tr = h('tr', { dataset: { id: d.id } },
        cell('Status', outcomeBadge(d)),
        cell('Event', h('span', { class: 'mono event-type', text: d.event_type }), h('br'), h('small', { class: 'mono muted event-id', text: d.event_id })),
        cell('Endpoint', h('span', { class: 'mono url-cell', text: d.endpoint_url || '' })),
        cell('Attempt', String(d.attempt)),
        cell('Response', responseCell(d)),
        cell('Error', d.error ? h('span', { class: 'error-text', text: d.error }) : dash()),
        cell('Sent', time(d.sent_at, true), d.duration_ms === null || d.duration_ms === undefined ? null
          : h('small', { class: 'muted duration', text: `took ${d.duration_ms} ms` })),
        cell('Next attempt', time(d.next_attempt_at, true)),
        cell('Actions', h('span', { class: 'row-actions' }, open, retry, del)));
      return opened.has(d.id) ? [tr, viewRow(d, open)] : tr;
    });
    return h('div', { class: 'table-wrap' },
      h('table', { class: 'data deliveries', id: 'deliveries-table' },
        h('caption', { class: 'sr-only', text: 'Delivery attempts, newest first' }),
        h('thead', {}, h('tr', {}, ['Status', 'Event', 'Endpoint', 'Attempt', 'Response', 'Error', 'Sent', 'Next attempt', 'Actions']
          .map((t) => h('th', { attrs: { scope: 'col' }, text: t })))),
        h('tbody', {}, rows)));
  }

  function pager(list) {
    const max = list.pages ? list.pages.max : 1;
    if (max <= 1) return null;
    const prev = h('button', { type: 'button', class: 'secondary small', text: 'Newer', disabled: page <= 1, onclick: () => { page--; refresh(); } });
    const next = h('button', { type: 'button', class: 'secondary small', text: 'Older', disabled: page >= max, onclick: () => { page++; refresh(); } });
    return h('nav', { class: 'pager', attrs: { 'aria-label': 'Delivery log pages' } }, prev, h('span', { class: 'pager-status', text: `Page ${page} of ${max}` }), next);
  }

  // what was sent and what came back, in a row under the record (delivery_view.js)
  function toggleView(d, button) {
    const row = button.closest('tr');
    const next = row.nextElementSibling;
    if (next && next.classList.contains('delivery-view-row')) {
      next.remove();
      opened.delete(d.id);
      button.setAttribute('aria-expanded', 'false');
      button.textContent = 'Details';
      return;
    }
    opened.add(d.id);
    row.after(viewRow(d, button));
  }

  function viewRow(d, button) {
    button.setAttribute('aria-expanded', 'true');
    button.textContent = 'Hide';
    return h('tr', { class: 'delivery-view-row' }, h('td', { attrs: { colspan: '9' } }, deliveryView(id, d.id)));
  }

  async function retryOne(d, button) {
    button.disabled = true;
    try {
      await webhooks.retry(id, d.id);
      flash(`Delivery of ${d.event_type} to ${d.endpoint_url || 'the endpoint'} will be retried now.`);
      refreshSoon();
      refresh();
    } catch (e) {
      if (e.status !== 401) flash(`Could not retry: ${e.message}`, 'error');
    } finally {
      button.disabled = false;
    }
  }

  async function deleteOne(d, button) {
    const ok = await confirmDialog({
      title: 'Delete this delivery record?',
      message: `The record of attempt ${d.attempt} for event ${d.event_id} is removed from the log. The event itself is not affected.`,
      confirmLabel: 'Delete record',
      danger: true,
    });
    if (!ok) {
      button.focus();
      return;
    }
    button.disabled = true;
    try {
      await webhooks.removeDelivery(id, d.id);
      flash('Delivery record deleted.');
      await refresh();
      refreshButton.focus();
    } catch (e) {
      button.disabled = false;
      if (e.status !== 401) flash(`Could not delete the record: ${e.message}`, 'error');
    }
  }

  refresh();
  return { refresh, refreshSoon };
}

function outcomeBadge(d) {
  if (d.success) return h('span', { class: 'badge ok', text: 'Succeeded' });
  if (d.next_attempt_at) return h('span', { class: 'badge warn', text: 'Failed, will retry' });
  return h('span', { class: 'badge bad', text: 'Failed' });
}

// The status code, and under it the start of the body the endpoint answered.
function responseCell(d) {
  const code = d.status_code === null || d.status_code === undefined ? null : String(d.status_code);
  if (code === null && !d.response) return h('span', { class: 'muted', text: '—' });
  return h('span', { class: 'response' },
    code ? h('span', { class: 'status-code', title: 'HTTP status code', text: code }) : h('span', { class: 'muted', text: 'no status' }),
    d.response ? h('span', { class: 'mono excerpt', title: d.response, text: excerpt(d.response) }) : null);
}

function excerpt(s) {
  const one = String(s).replace(/\s+/g, ' ').trim();
  return one.length > 120 ? `${one.slice(0, 117)}…` : one;
}
