// poll.js: poll endpoints in the console. The form's choice between
// pushing events to endpoints and letting the tenant's consumer fetch them
// (an endpoint {"kind": "poll"}, the webhook's only one), and the details
// page's panel with the poll URL and the acknowledged position.

import { api } from './api.js';
import { h, time } from './dom.js';

// Whether 'wh' (as the API shows it) has a poll endpoint.
export function isPollWebhook(wh) {
  return (wh.endpoints || []).some((ep) => ep.kind === 'poll');
}

// The URL a consumer fetches the events of webhook 'id' from.
export function pollUrl(id) {
  return `${location.origin}/v1/webhooks/${encodeURIComponent(id)}/poll`;
}

// The endpoints step's first question: how the events get there.
// 'onChange' runs when the choice changes. poll() says what is chosen.
export function deliveryChoice(wh, onChange) {
  const push = h('input', { type: 'radio', name: 'delivery-kind', id: 'kind-push', value: 'push', checked: !isPollWebhook(wh) });
  const poll = h('input', { type: 'radio', name: 'delivery-kind', id: 'kind-poll', value: 'poll', checked: isPollWebhook(wh) });
  const hint = h('p', { class: 'hint poll-hint', id: 'poll-hint',
    text: 'hookline sends nothing: your consumer fetches the events, in order, from the webhook\'s poll URL (shown on its page) with an API key. Events wait as long as the delivery log is kept.' });
  const el = h('fieldset', { class: 'delivery-kind', id: 'delivery-kind' },
    h('legend', { text: 'How events get to you' }),
    h('div', { class: 'check' }, push, h('label', { htmlFor: 'kind-push' }, h('strong', { text: 'Pushed' }),
      h('span', { class: 'hint', text: ' Signed HTTPS POSTs to your endpoints.' }))),
    h('div', { class: 'check' }, poll, h('label', { htmlFor: 'kind-poll' }, h('strong', { text: 'Polled' }),
      h('span', { class: 'hint', text: ' Your service fetches them (no URL needed).' }))),
    hint);
  const sync = () => {
    hint.hidden = !poll.checked;
    onChange(poll.checked);
  };
  push.addEventListener('change', sync);
  poll.addEventListener('change', sync);
  return { el, poll: () => poll.checked, sync };
}

// The details page's "Polling" card for a poll webhook, else null. It
// fetches without a cursor, which acknowledges nothing, to show the
// acknowledged position and whether events wait.
export function pollPanel(wh) {
  if (!isPollWebhook(wh)) return null;
  const url = pollUrl(wh.id);
  const position = h('dd', { id: 'poll-acked', text: 'Loading…' });
  const waiting = h('dd', { id: 'poll-waiting', text: 'Loading…' });
  const refresh = h('button', { type: 'button', class: 'secondary small', id: 'poll-refresh', text: 'Refresh' });
  const card = h('section', { class: 'card', id: 'poll', attrs: { 'aria-labelledby': 'poll-title' } },
    h('h2', { id: 'poll-title', text: 'Polling' }),
    h('p', { class: 'hint', text: 'Nothing is pushed to this webhook. Your consumer fetches its events, oldest first, with GET on the poll URL and a key with webhooks:read. Pass the next_cursor of each answer as cursor to the next fetch: that acknowledges the events before it. Without a cursor a fetch starts at the acknowledged position.' }),
    h('dl', { class: 'settings' },
      h('dt', { text: 'Poll URL' }), h('dd', {}, h('code', { id: 'poll-url', class: 'mono', text: url })),
      h('dt', { text: 'Acknowledged position' }), position,
      h('dt', { text: 'Waiting' }), waiting),
    h('div', { class: 'actions' }, refresh));

  async function load() {
    refresh.disabled = true;
    try {
      const page = await api('GET', `/v1/webhooks/${encodeURIComponent(wh.id)}/poll?limit=1`);
      position.replaceChildren(h('code', { text: page.acked_cursor }),
        page.acked_at ? h('span', {}, ' (acknowledged ', time(page.acked_at), ')') : h('span', { class: 'muted', text: ' (nothing acknowledged yet)' }));
      waiting.textContent = page.data && page.data.length ? 'Events are waiting to be fetched.' : 'Nothing waits: every event was fetched.';
    } catch (e) {
      if (e.status === 410 && e.body && e.body.oldest_cursor) {
        position.replaceChildren(h('span', { text: `Some events were removed by retention before they were fetched; continue from ${e.body.oldest_cursor}.` }));
        waiting.textContent = '';
      } else if (e.status !== 401) {
        position.textContent = `Could not read it: ${e.message}`;
        waiting.textContent = '';
      }
    } finally {
      refresh.disabled = false;
    }
  }
  refresh.addEventListener('click', load);
  load();
  return card;
}
