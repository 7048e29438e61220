// list.js: the webhooks list, a page at a time with the API's page and
// size, with an empty state that says what to do, and delete with a
// confirmation dialog. As the seeds' "Saved Webhooks" table it shows who
// created each webhook (Login: the API key id), whose activity triggers it
// (For Login: its filter's data.owner) and the Team (data.team), and
// filters the list by them (the API's created_by, owner and team).

import { webhooks } from './api.js';
import { confirmDialog, flash, h, link, path, time } from './dom.js';
import { rateText } from './health.js';

export const PAGE_SIZES = [10, 20, 50, 100];

function intParam(params, name, def, min, max) {
  const v = Number.parseInt(params.get(name) || '', 10);
  return Number.isInteger(v) && v >= min && v <= max ? v : def;
}

// The list's own filters: console route parameter = API query parameter.
export const LIST_FILTERS = [
  { name: 'created_by', label: 'Login' },
  { name: 'owner', label: 'For Login' },
  { name: 'team', label: 'Team' },
];

function filtersOf(params) {
  const out = {};
  for (const f of LIST_FILTERS) {
    const v = (params.get(f.name) || '').trim();
    if (v) out[f.name] = v;
  }
  return out;
}

function listRoute(page, size, filters = {}) {
  const q = new URLSearchParams({ page: String(page), size: String(size) });
  for (const [k, v] of Object.entries(filters)) q.set(k, v);
  return `/?${q.toString()}`;
}

export async function renderList(ctx) {
  document.title = 'Webhooks · hookline';
  const page = intParam(ctx.params, 'page', 1, 1, 1000000);
  const size = intParam(ctx.params, 'size', 20, 1, 100);
  const filters = filtersOf(ctx.params);
  const filtered = Object.keys(filters).length > 0;
  const head = h('div', { class: 'page-head' },
    h('h1', { text: 'Webhooks' }),
    link('/new', 'Create webhook', { class: 'button primary', id: 'create-webhook' }));
  const body = h('div', { class: 'loading', text: 'Loading webhooks…', attrs: { 'aria-busy': 'true' } });
  ctx.view.append(head, filterForm(filters, size), body);
  ctx.focus();

  const list = await webhooks.list(page, size, filters);
  body.className = '';
  body.removeAttribute('aria-busy');
  body.textContent = '';
  if (list.count === 0) {
    body.append(filtered
      ? h('div', { class: 'empty', id: 'no-match' },
        h('p', { text: 'No webhook matches these filters.' }),
        link(listRoute(1, size), 'Show every webhook', { class: 'button' }))
      : emptyState());
    return;
  }
  if (list.elements.length === 0) {
    body.append(h('div', { class: 'empty' },
      h('p', { text: `There is no page ${page}: ${list.count} webhook${list.count === 1 ? '' : 's'} ${filtered ? 'match' : 'in all'}.` }),
      link(listRoute(1, size, filters), 'Go to the first page', { class: 'button' })));
    return;
  }
  body.append(table(list.elements), pager(list, page, size, filters));
}

// Login / For Login / Team: a submit goes to the first page with them.
function filterForm(filters, size) {
  const inputs = LIST_FILTERS.map((f) => h('input', {
    type: 'text', id: `filter-${f.name}`, name: f.name, value: filters[f.name] || '',
    attrs: { autocomplete: 'off', maxlength: f.name === 'created_by' ? 47 : 1024 },
  }));
  const form = h('form', { class: 'list-filters', id: 'list-filters', attrs: { role: 'search', 'aria-label': 'Filter webhooks' } },
    LIST_FILTERS.map((f, i) => h('div', { class: 'list-filter' },
      h('label', { htmlFor: `filter-${f.name}`, text: f.label }), inputs[i])),
    h('div', { class: 'list-filter-actions' },
      h('button', { type: 'submit', class: 'button', text: 'Filter' }),
      Object.keys(filters).length ? link(listRoute(1, size), 'Clear', { class: 'button', id: 'clear-filters' }) : null));
  form.addEventListener('submit', (ev) => {
    ev.preventDefault();
    const chosen = {};
    LIST_FILTERS.forEach((f, i) => {
      const v = inputs[i].value.trim();
      if (v) chosen[f.name] = v;
    });
    location.hash = '#' + listRoute(1, size, chosen);
  });
  return form;
}

// A filter condition's value(s) as text, or null when the webhook has none.
function filterValue(wh, path) {
  const v = wh.filter && Object.prototype.hasOwnProperty.call(wh.filter, path) ? wh.filter[path] : undefined;
  if (v === undefined || v === null) return null;
  return Array.isArray(v) ? v.map(String).join(', ') : String(v);
}

function emptyState() {
  return h('div', { class: 'empty', id: 'empty-state' },
    h('h2', { text: 'No webhooks yet' }),
    h('p', { text: 'A webhook sends a signed HTTPS POST to your endpoint each time an event you choose happens, such as a booking being scheduled or a conversation starting.' }),
    h('p', { text: 'Create one: give it a name, the https:// URL that should receive the events, and pick the events.' }),
    link('/new', 'Create your first webhook', { class: 'button primary' }));
}

function table(elements) {
  const rows = elements.map((wh) => {
    const urls = (wh.endpoints || []).map((ep) => (ep.kind === 'poll' ? 'Polled (no URL)' : ep.url));
    // one wrapper per cell: on narrow screens the cell is a label/value grid
    const cell = (label, ...content) => h('td', { attrs: { 'data-label': label } }, h('div', { class: 'cell' }, ...content));
    const del = h('button', {
      type: 'button', class: 'danger small', text: 'Delete',
      attrs: { 'aria-label': `Delete webhook ${wh.name}` },
      onclick: () => deleteWebhook(wh, del),
    });
    return h('tr', { dataset: { id: wh.id } },
      cell('Name', link(path('webhooks', wh.id), wh.name, { class: 'wh-name' })),
      cell('Description', wh.description ? wh.description : h('span', { class: 'muted', text: '—' })),
      cell('URL(s)', h('ul', { class: 'plain urls' }, urls.map((u) => h('li', { class: 'mono', text: u })))),
      cell('Events', h('ul', { class: 'plain chips' }, (wh.events || []).map((e) => h('li', { class: 'chip', text: e })))),
      cell('Login', h('span', { class: 'mono', text: wh.created_by || '—' })),
      cell('For Login', filterValue(wh, 'data.owner') ?? h('span', { class: 'muted', text: '—' })),
      cell('Team', filterValue(wh, 'data.team') ?? h('span', { class: 'muted', text: '—' })),
      cell('Active', statusBadge(wh)),
      cell('Success 24 h', h('span', { class: 'success-rate', title: 'Deliveries that succeeded over the last 24 hours', text: rateText(wh.success_rate_24h) })),
      cell('Created', time(wh.created_at)),
      cell('Actions', del));
  });
  return h('div', { class: 'table-wrap' },
    h('table', { class: 'data', id: 'webhooks-table' },
      h('caption', { class: 'sr-only', text: 'Your webhooks' }),
      h('thead', {}, h('tr', {}, ['Name', 'Description', 'URL(s)', 'Events', 'Login', 'For Login', 'Team', 'Active', 'Success 24 h', 'Created', 'Actions']
        .map((t) => h('th', { attrs: { scope: 'col' }, text: t })))),
      h('tbody', {}, rows)));
}

export function statusBadge(wh) {
  if (!wh.is_active) return h('span', { class: 'badge off', text: 'Disabled', title: wh.disabled_reason || undefined });
  // hookline disables an endpoint alone (410 Gone, or failing for days)
  const off = (wh.endpoints || []).filter((ep) => ep.is_active === false).length;
  return off
    ? h('span', { class: 'badge warn', text: `Active, ${off} of ${wh.endpoints.length} endpoints disabled` })
    : h('span', { class: 'badge ok', text: 'Active' });
}

async function deleteWebhook(wh, button) {
  const ok = await confirmDialog({
    title: 'Delete this webhook?',
    message: `“${wh.name}” will stop receiving events at once, and its delivery log goes with it. This cannot be undone.`,
    confirmLabel: 'Delete webhook',
    danger: true,
  });
  if (!ok) {
    button.focus();
    return;
  }
  button.disabled = true;
  try {
    await webhooks.remove(wh.id);
    flash(`Webhook “${wh.name}” was deleted.`, 'info', true);
    window.dispatchEvent(new HashChangeEvent('hashchange'));
  } catch (e) {
    button.disabled = false;
    if (e.status !== 401) flash(`Could not delete “${wh.name}”: ${e.message}`, 'error');
  }
}

function pager(list, page, size, filters) {
  const max = list.pages ? list.pages.max : 1;
  const prev = page > 1 ? link(listRoute(page - 1, size, filters), 'Previous', { class: 'button', attrs: { rel: 'prev' } })
    : h('span', { class: 'button disabled', attrs: { 'aria-disabled': 'true' }, text: 'Previous' });
  const next = page < max ? link(listRoute(page + 1, size, filters), 'Next', { class: 'button', attrs: { rel: 'next' } })
    : h('span', { class: 'button disabled', attrs: { 'aria-disabled': 'true' }, text: 'Next' });
  const select = h('select', { id: 'page-size', name: 'size' },
    PAGE_SIZES.map((n) => h('option', { value: String(n), text: String(n), selected: n === size })));
  select.addEventListener('change', () => {
    location.hash = '#' + listRoute(1, select.value, filters);
  });
  return h('nav', { class: 'pager', attrs: { 'aria-label': 'Pages' } },
    prev,
    h('span', { class: 'pager-status', text: `Page ${page} of ${max} · ${list.count} webhook${list.count === 1 ? '' : 's'}` }),
    next,
    h('label', { class: 'pager-size', htmlFor: 'page-size' }, 'Per page ', select));
}
