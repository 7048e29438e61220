// ordered.js: ordered webhooks in the console ("ordered": true: each
// endpoint gets its events one at a time, in order, a failed one holding
// the others back). The form's checkbox, and the details page's "Order"
// card with each endpoint's head (the delivery the others wait behind),
// how many wait and the first of them in their order, and a Skip button
// (confirmed) for the head.

import { api } from './api.js';
import { confirmDialog, flash, h, time } from './dom.js';

// The form's checkbox; value() says whether it is ticked.
export function orderedCheckbox(wh) {
  const box = h('input', { type: 'checkbox', id: 'wh-ordered', name: 'ordered', checked: wh.ordered === true });
  const el = h('div', { class: 'check', id: 'ordered-field' }, box,
    h('label', { htmlFor: 'wh-ordered' }, h('strong', { text: 'Deliver in order' }),
      h('span', { class: 'hint', text: ' One event at a time per endpoint, in the order they happened; a failed delivery holds back the ones after it until it succeeds, its retries run out, or you skip it.' })));
  return { el, value: () => box.checked };
}

const STATE_TEXT = {
  sending: 'being delivered now',
  held: 'held: it failed and waits for its next attempt',
  due: 'due now',
};

// The first deliveries waiting behind the head, in the order they go; null when none.
function nextList(line) {
  const next = line.next || [];
  if (!next.length) return null;
  const more = line.waiting - next.length;
  return h('ol', { class: 'ordered-next', attrs: { 'aria-label': 'Waiting behind it, in order' } },
    next.map((n) => h('li', {}, h('span', { text: n.event_type }), ' ', h('code', { class: 'mono', text: n.event_id }),
      h('span', { class: 'muted', text: ' waiting' }))),
    more > 0 ? h('li', { class: 'muted ordered-more', text: `and ${more} more` }) : null);
}

// One endpoint's line: its head, what waits behind it, and Skip.
function lineItem(wh, line, reload) {
  const head = line.head;
  const item = h('li', { class: 'ordered-line', dataset: { endpoint: line.endpoint_id } },
    h('div', {}, h('code', { class: 'mono', text: line.url || line.endpoint_id })));
  if (!head) {
    item.append(h('p', { class: 'muted ordered-head', text: 'Nothing waits.' }));
    return item;
  }
  const skip = h('button', { type: 'button', class: 'danger small ordered-skip', text: 'Skip',
    disabled: !head.delivery_id || head.state === 'sending',
    attrs: { 'aria-label': `Skip ${head.event_type} ${head.event_id}` } });
  skip.addEventListener('click', async () => {
    const ok = await confirmDialog({
      title: 'Skip this delivery?',
      message: `${head.event_type} ${head.event_id} is given up for ${line.url || line.endpoint_id}, and the next one goes at once.`,
      detail: 'Its attempts stay in the delivery log as failed; Retry there can still send it later, out of order.',
      confirmLabel: 'Skip delivery',
      danger: true,
    });
    if (!ok) {
      skip.focus();
      return;
    }
    skip.disabled = true;
    try {
      await api('POST', `/v1/webhooks/${encodeURIComponent(wh.id)}/deliveries/${encodeURIComponent(head.delivery_id)}/skip`);
      flash(`Skipped ${head.event_type} ${head.event_id}; the next one goes now.`, 'info');
    } catch (e) {
      if (e.status !== 401) flash(`Could not skip it: ${e.message}`, 'error');
    } finally {
      reload();
    }
  });
  item.append(
    h('p', { class: 'ordered-head' },
      h('strong', { text: head.event_type }), ' ', h('code', { class: 'mono', text: head.event_id }),
      `, attempt ${head.attempt}, `, h('span', { class: 'ordered-state', text: STATE_TEXT[head.state] || head.state }),
      head.state === 'held' ? h('span', {}, ' (next ', time(head.due_at), ')') : null,
      head.last_status ? ` — last answer ${head.last_status}` : null),
    h('p', { class: 'ordered-waiting', text: `${line.waiting} waiting behind it` }),
    nextList(line),
    h('div', { class: 'actions' }, skip));
  return item;
}

// The details page's "Order" card for an ordered webhook, else null.
export function orderedPanel(wh) {
  if (wh.ordered !== true) return null;
  const list = h('ul', { class: 'plain ordered-lines', id: 'ordered-lines' }, h('li', { class: 'muted', text: 'Loading…' }));
  const refresh = h('button', { type: 'button', class: 'secondary small', id: 'ordered-refresh', text: 'Refresh' });
  const card = h('section', { class: 'card', id: 'ordered', attrs: { 'aria-labelledby': 'ordered-title' } },
    h('h2', { id: 'ordered-title', text: 'Order' }),
    h('p', { class: 'hint', text: 'Each endpoint gets this webhook\'s events one at a time, in order. The first one waiting is the head: the others wait behind it. Skipping a held head gives it up (its attempts stay in the log, and Retry there can still send it) and lets the next one go.' }),
    list,
    h('div', { class: 'actions' }, refresh));

  async function load() {
    refresh.disabled = true;
    try {
      const lines = await api('GET', `/v1/webhooks/${encodeURIComponent(wh.id)}/waiting`);
      list.replaceChildren(...lines.endpoints.map((line) => lineItem(wh, line, load)));
    } catch (e) {
      if (e.status !== 401) list.replaceChildren(h('li', { class: 'muted', text: `Could not read it: ${e.message}` }));
    } finally {
      refresh.disabled = false;
    }
  }
  refresh.addEventListener('click', load);
  load();
  return card;
}
