// delivery_view.js: one delivery opened from the log: what was sent (the
// request line, hookline's headers with the signature it went out with,
// the payload pretty-printed) and what came back (status, the response
// excerpt, the error), and every attempt of that event to that endpoint.
// The signing secret is never part of it: the api answers the signature
// as it was sent (GET /v1/webhooks/{id}/deliveries/{did}).

import { webhooks } from './api.js';
import { clear, h, time } from './dom.js';

const HEADER_ORDER = ['content-type', 'user-agent', 'webhook-id', 'webhook-timestamp', 'webhook-signature'];

function pretty(payload) {
  if (payload === null || payload === undefined) return '(not kept)';
  if (typeof payload === 'string') return payload;
  return JSON.stringify(payload, null, 2);
}

function headersList(headers) {
  const names = [...HEADER_ORDER.filter((n) => n in headers), ...Object.keys(headers).filter((n) => !HEADER_ORDER.includes(n))];
  return h('dl', { class: 'headers-list mono' }, names.map((n) => [
    h('dt', { text: n }),
    h('dd', { dataset: { header: n }, text: headers[n] === null ? '(not recorded for this attempt)' : String(headers[n]) }),
  ]));
}

function history(list, current) {
  const outcome = (a) => [
    a.success ? h('span', { class: 'badge ok', text: 'Succeeded' }) : h('span', { class: 'badge bad', text: 'Failed' }),
    h('small', { class: 'muted history-meta', text: [a.status_code === null || a.status_code === undefined ? 'no response' : `HTTP ${a.status_code}`,
      a.duration_ms === null || a.duration_ms === undefined ? null : `${a.duration_ms} ms`].filter(Boolean).join(' · ') }),
    a.error ? h('small', { class: 'history-error', text: a.error }) : null,
  ];
  // not a .data table: it stays a table on a phone, three columns that wrap
  return h('table', { class: 'history' },
    h('caption', { class: 'sr-only', text: 'Attempts of this event to this endpoint, oldest first' }),
    h('thead', {}, h('tr', {}, ['#', 'Sent', 'Outcome'].map((t) => h('th', { attrs: { scope: 'col' }, text: t })))),
    h('tbody', {}, list.map((a) => h('tr', { class: a.id === current ? 'current' : null, dataset: { id: a.id } },
      h('td', { text: String(a.attempt) }),
      h('td', {}, time(a.sent_at, true)),
      h('td', {}, outcome(a))))));
}

// The view of delivery 'did' of webhook 'id', filled in once loaded.
export function deliveryView(id, did) {
  const box = h('div', { class: 'delivery-view', dataset: { delivery: did } }, h('p', { class: 'loading', text: 'Loading the delivery…' }));
  webhooks.delivery(id, did).then((d) => {
    const req = d.request || { method: 'POST', url: d.endpoint_url, headers: {} };
    clear(box).append(
      h('div', { class: 'view-part' },
        h('h3', { text: 'Request sent' }),
        h('p', { class: 'mono request-line', text: `${req.method} ${req.url}` }),
        headersList(req.headers || {}),
        h('h4', { text: 'Payload' }),
        h('pre', { class: 'payload', tabIndex: 0, text: pretty(d.payload) })),
      h('div', { class: 'view-part' },
        h('h3', { text: 'Response' }),
        h('p', { class: 'response-status', text: d.status_code === null || d.status_code === undefined ? 'No HTTP response.' : `HTTP ${d.status_code}${d.duration_ms !== undefined ? `, after ${d.duration_ms} ms` : ''}` }),
        d.error ? h('p', { class: 'error-text', text: d.error }) : null,
        d.response ? h('pre', { class: 'response-body', tabIndex: 0, text: d.response }) : h('p', { class: 'muted', text: 'No response body.' })),
      h('div', { class: 'view-part wide' },
        h('h3', { text: 'Attempts of this event to this endpoint' }),
        history(d.history || [], d.id)));
  }).catch((e) => {
    if (e.status !== 401) clear(box).append(h('p', { class: 'form-error', text: `The delivery could not be loaded: ${e.message}` }));
  });
  return box;
}
