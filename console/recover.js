// recover.js: the details page's "Recover failed deliveries since..."
// action: a date and time (the browser's own time zone, sent as UTC),
// a confirmation, then POST /v1/webhooks/{id}/recover and its count.

import { api } from './api.js';
import { confirmDialog, field, h } from './dom.js';

const DAY_MS = 24 * 3600 * 1000;
const WINDOW_DAYS = 31; // the API's longest window

// "YYYY-MM-DDTHH:MM" of 'date' in local time: what <input type=datetime-local> takes.
function localValue(date) {
  const p = (n) => String(n).padStart(2, '0');
  return `${date.getFullYear()}-${p(date.getMonth() + 1)}-${p(date.getDate())}T${p(date.getHours())}:${p(date.getMinutes())}`;
}

// The card for webhook 'wh'; 'scheduled' runs once deliveries were scheduled.
export function recoverSection(wh, scheduled) {
  const now = new Date();
  const input = h('input', {
    type: 'datetime-local', id: 'recover-since', name: 'since', required: true,
    value: localValue(new Date(now.getTime() - DAY_MS)),
    attrs: { min: localValue(new Date(now.getTime() - WINDOW_DAYS * DAY_MS)), max: localValue(now) },
  });
  const since = field('Failed since', input,
    `Your local time. Up to ${WINDOW_DAYS} days back; each failed event is delivered once more, signed with the current secret.`);
  const button = h('button', { type: 'submit', class: 'primary', id: 'recover-submit', text: 'Recover failed deliveries since…' });
  const result = h('p', { class: 'result', id: 'recover-result', attrs: { role: 'status', 'aria-live': 'polite' } });
  const form = h('form', { id: 'recover-form', attrs: { novalidate: '' } }, since.wrap, h('div', { class: 'actions' }, button), result);

  form.addEventListener('submit', async (ev) => {
    ev.preventDefault();
    since.setError('');
    result.textContent = '';
    const at = input.value ? new Date(input.value) : null;
    if (!at || Number.isNaN(at.getTime())) {
      since.setError('Choose the date and time from which failed deliveries are recovered.');
      input.focus();
      return;
    }
    if (at.getTime() >= Date.now()) {
      since.setError('Choose a time in the past.');
      input.focus();
      return;
    }
    const ok = await confirmDialog({
      title: 'Recover failed deliveries?',
      message: `Every event whose delivery to “${wh.name}” failed for good since ${at.toLocaleString()} is delivered again, once, at a gentle pace.`,
      detail: 'Deliveries that later succeeded or are still being retried are left alone.',
      confirmLabel: 'Recover deliveries',
    });
    if (!ok) {
      button.focus();
      return;
    }
    button.disabled = true;
    try {
      const res = await api('POST', `/v1/webhooks/${encodeURIComponent(wh.id)}/recover`, { since: at.toISOString() });
      const n = res.recovered;
      result.textContent = n === 0
        ? 'No failed deliveries to recover since then (0).'
        : `${n} failed ${n === 1 ? 'delivery' : 'deliveries'} will be delivered again. ${n === 1 ? 'It appears' : 'They appear'} in the log below as ${n === 1 ? 'it goes' : 'they go'} out.`;
      if (res.more) {
        result.textContent += ` More remain (at most 100,000 at a time): recover again from ${new Date(res.next_since).toLocaleString()}.`;
        input.value = localValue(new Date(res.next_since));
      }
      if (n > 0) scheduled();
    } catch (e) {
      if (e.status !== 401) since.setError(e.message);
    } finally {
      button.disabled = false;
    }
  });

  return h('section', { class: 'card', id: 'recover', attrs: { 'aria-labelledby': 'recover-title' } },
    h('h2', { id: 'recover-title', text: 'Recover failed deliveries' }),
    h('p', { class: 'hint', text: 'After your endpoint was down: deliver again everything that failed for good since a moment you choose.' }),
    form);
}
