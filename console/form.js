// form.js: creating a webhook in three steps (name and description;
// endpoints with optional headers and credentials; events and retries) and editing one on
// a single page built from the same sections. Errors from the API go
// beside the field they concern; the new webhook's secret is handed to the
// next page, which shows it once.

import { webhooks } from './api.js';
import { clear, field, flash, h, link, path, setFieldError } from './dom.js';
import { deliveryChoice } from './poll.js';
import { orderedCheckbox } from './ordered.js';
import { holdSecret } from './secret.js';

const NAME_MAX = 128;
const AUTH_USERNAME_MAX = 256;
const AUTH_PASSWORD_MAX = 1024;
const AUTH_TOKEN_MAX = 4096;

/* ---- an endpoint's credentials ------------------------------------------- */

// Basic or Bearer credentials, sent as the Authorization header. Saved ones
// are never shown (the API gives their type only): the fields stay empty,
// and empty fields of the saved type keep them.
function authEditor(saved) {
  const savedType = saved && saved.type ? saved.type : '';
  const type = h('select', { class: 'auth-type' },
    h('option', { value: '', text: 'None' }),
    h('option', { value: 'basic', text: 'Basic (username and password)' }),
    h('option', { value: 'bearer', text: 'Bearer token' }));
  type.value = savedType;
  const typeField = field('Authentication', type,
    'Sent as the Authorization header of every request. Stored encrypted; never shown again.');
  const username = field('Username', h('input', { type: 'text', class: 'auth-username', autocomplete: 'off', spellcheck: false, attrs: { maxlength: AUTH_USERNAME_MAX } }));
  const password = field('Password', h('input', { type: 'password', class: 'auth-password', autocomplete: 'new-password', attrs: { maxlength: AUTH_PASSWORD_MAX } }));
  const token = field('Token', h('input', { type: 'password', class: 'auth-token', autocomplete: 'off', spellcheck: false, attrs: { maxlength: AUTH_TOKEN_MAX } }));
  const keepNote = h('p', { class: 'hint auth-saved', text: 'Credentials are saved. Leave these fields empty to keep them, or type new ones to replace them.' });
  const basicBox = h('div', { class: 'auth-fields auth-basic' }, username.wrap, password.wrap);
  const bearerBox = h('div', { class: 'auth-fields auth-bearer' }, token.wrap);
  const error = h('p', { class: 'field-error auth-error', hidden: true });
  const box = h('div', { class: 'auth-block' }, typeField.wrap, keepNote, basicBox, bearerBox, error);
  const typed = () => (type.value === 'basic' ? username.control.value || password.control.value : token.control.value) !== '';
  const keeping = () => type.value !== '' && type.value === savedType && !typed();
  function sync() {
    basicBox.hidden = type.value !== 'basic';
    bearerBox.hidden = type.value !== 'bearer';
    keepNote.hidden = !(type.value !== '' && type.value === savedType);
  }
  type.addEventListener('change', () => { setError(''); sync(); });
  sync();
  function setError(msg) {
    setFieldError(type, error, msg);
  }
  return {
    el: box,
    type,
    fields: { username, password, token },
    setError,
    check() {
      setError('');
      username.setError('');
      token.setError('');
      if (type.value === '' || keeping()) return null;
      if (type.value === 'basic') {
        const u = username.control.value;
        if (!u) return { f: username, msg: 'Enter the username, or choose None.' };
        if (u.includes(':')) return { f: username, msg: 'A Basic username cannot contain ":".' };
        return null;
      }
      if (!token.control.value) return { f: token, msg: 'Enter the token, or choose None.' };
      if (/[^\x21-\x7e]/.test(token.control.value)) return { f: token, msg: 'A token is visible ASCII characters without spaces.' };
      return null;
    },
    read() {
      if (type.value === '') return null;
      if (keeping()) return { type: type.value };
      if (type.value === 'basic') return { type: 'basic', username: username.control.value, password: password.control.value };
      return { type: 'bearer', token: token.control.value };
    },
  };
}

/* ---- step 1: name and description ---------------------------------------- */

function basicsSection(wh) {
  const name = field('Name', h('input', { type: 'text', id: 'wh-name', name: 'name', required: true, autocomplete: 'off', value: wh.name || '', attrs: { maxlength: NAME_MAX } }),
    'A unique name for this webhook, with at least one letter or digit.');
  const description = field('Description (optional)', h('textarea', { id: 'wh-description', name: 'description', rows: 3, value: wh.description || '' }),
    'What this webhook is for, to tell it apart later.');
  const el = h('div', { class: 'section-body' }, name.wrap, description.wrap);
  return {
    el,
    fields: { name, description },
    check() {
      name.setError('');
      description.setError('');
      if (!name.control.value.trim()) return { f: name, msg: 'Enter a name for the webhook.' };
      return null;
    },
    read: () => ({ name: name.control.value.trim(), description: description.control.value.trim() }),
  };
}

/* ---- step 2: endpoints with headers -------------------------------------- */

function endpointsSection(wh) {
  const list = h('div', { class: 'endpoints', id: 'endpoints' });
  const editors = [];
  const addButton = h('button', { type: 'button', class: 'secondary', id: 'add-endpoint', text: 'Add another endpoint' });
  const pushHint = h('p', { class: 'hint', text: 'Each endpoint receives every event of this webhook as a signed HTTPS POST. Headers are sent with each request, e.g. an Authorization token your service expects.' });
  // a poll endpoint (poll.js) is the webhook's only one: the push endpoints hide meanwhile
  const kind = deliveryChoice(wh, (poll) => { pushHint.hidden = poll; list.hidden = poll; addButton.hidden = poll; });
  const el = h('div', { class: 'section-body' }, kind.el, pushHint, list, addButton);

  function renumber() {
    editors.forEach((ed, i) => {
      ed.legend.textContent = `Endpoint ${i + 1}`;
      ed.remove.hidden = editors.length === 1;
      ed.remove.setAttribute('aria-label', `Remove endpoint ${i + 1}`);
    });
  }

  function addEndpoint(ep, focus) {
    const url = field('URL', h('input', { type: 'url', name: 'url', class: 'endpoint-url', placeholder: 'https://example.com/webhooks', autocomplete: 'off', value: ep.url || '' }),
      'Must start with https://.');
    const headers = h('div', { class: 'headers' });
    const headersError = h('p', { class: 'field-error', hidden: true });
    const rows = [];
    const legend = h('legend', {});
    const remove = h('button', { type: 'button', class: 'button-link danger-text', text: 'Remove endpoint' });
    const addHeader = h('button', { type: 'button', class: 'secondary small add-header', text: 'Add header' });
    const auth = authEditor(ep.auth);
    const box = h('fieldset', { class: 'endpoint' }, legend, url.wrap, auth.el,
      h('div', { class: 'headers-block' },
        h('h3', { class: 'small-heading', text: 'Headers (optional)' }), headers, headersError, addHeader),
      remove);
    const ed = { box, legend, remove, url, rows, headersError, auth };

    function addRow(name, value, focusRow) {
      const n = h('input', { type: 'text', class: 'header-name', autocomplete: 'off', spellcheck: false, value: name || '', placeholder: 'X-Team' });
      const v = h('input', { type: 'text', class: 'header-value', autocomplete: 'off', spellcheck: false, value: value || '', placeholder: 'ops' });
      const nf = field('Header name', n);
      const vf = field('Value', v);
      const row = { n, v };
      const del = h('button', {
        type: 'button', class: 'button-link danger-text', text: 'Remove',
        attrs: { 'aria-label': 'Remove this header' },
        onclick: () => {
          rows.splice(rows.indexOf(row), 1);
          rowEl.remove();
          addHeader.focus();
        },
      });
      const rowEl = h('div', { class: 'header-row' }, nf.wrap, vf.wrap, del);
      rows.push(row);
      headers.append(rowEl);
      if (focusRow) n.focus();
    }
    addHeader.addEventListener('click', () => addRow('', '', true));
    for (const [k, v] of Object.entries(ep.headers || {})) addRow(k, v, false);
    remove.addEventListener('click', () => {
      editors.splice(editors.indexOf(ed), 1);
      box.remove();
      renumber();
      addButton.focus();
    });
    editors.push(ed);
    list.append(box);
    renumber();
    if (focus) url.control.focus();
  }

  addButton.addEventListener('click', () => addEndpoint({}, true));
  const pushed = (wh.endpoints || []).filter((ep) => ep.kind !== 'poll');
  const initial = pushed.length ? pushed : [{}];
  initial.forEach((ep) => addEndpoint(ep, false));
  kind.sync();

  return {
    el,
    editors,
    check() {
      let first = null;
      if (kind.poll()) return null;
      for (const ed of editors) {
        ed.url.setError('');
        setFieldError(ed.box, ed.headersError, '');
      }
      for (const ed of editors) {
        if (!ed.url.control.value.trim()) {
          ed.url.setError('Enter the URL that should receive the events.');
          first = first || { f: ed.url, msg: null };
        }
        for (const r of ed.rows) {
          if (!r.n.value.trim() && r.v.value.trim()) {
            setFieldError(ed.box, ed.headersError, 'Every header with a value needs a name.');
            first = first || { f: { control: r.n, setError: () => {} }, msg: null };
          }
        }
        const bad = ed.auth.check();
        if (bad) {
          bad.f.setError(bad.msg);
          first = first || { f: bad.f, msg: null };
        }
      }
      return first;
    },
    read: () => (kind.poll() ? [{ kind: 'poll' }] : editors.map((ed) => {
      const headers = {};
      for (const r of ed.rows) if (r.n.value.trim()) headers[r.n.value.trim()] = r.v.value;
      return { url: ed.url.control.value.trim(), headers, auth: ed.auth.read() };
    })),
  };
}

/* ---- step 3: events and retries ------------------------------------------ */

// The operational group is hookline's own events about this tenant's
// webhooks, not a prefix: its description (from the server) says what it is.
function groupHint(g) {
  if (g.name === 'operational') return `${g.description || ''} Best on a webhook of its own that watches the others.`;
  return `${g.description || ''} Includes ${g.name}.* types added later.`;
}

function eventsSection(wh, catalog) {
  const chosen = new Set(wh.events || []);
  const groupBoxes = [];
  const typeBoxes = [];
  const groups = catalog.groups || [];
  const descr = new Map((catalog.elements || []).map((t) => [t.name, t.description]));
  const lists = groups.map((g) => {
    const gid = `ev-group-${g.name}`;
    const gbox = h('input', { type: 'checkbox', id: gid, value: g.name, class: 'group-choice', checked: chosen.has(g.name) });
    const members = g.types.map((t) => {
      const tid = `ev-${t}`;
      const box = h('input', { type: 'checkbox', id: tid, value: t, class: 'type-choice', checked: chosen.has(t) || chosen.has(g.name), disabled: chosen.has(g.name) });
      box.dataset.own = chosen.has(t) ? '1' : '';
      typeBoxes.push(box);
      return h('li', { class: 'check' }, box,
        h('label', { htmlFor: tid }, h('span', { class: 'mono', text: t }), descr.get(t) ? h('span', { class: 'hint', text: descr.get(t) }) : null));
    });
    gbox.addEventListener('change', () => {
      // the group covers every member, including types added later
      for (const li of members) {
        const box = li.querySelector('input');
        if (gbox.checked) {
          box.dataset.own = box.checked ? '1' : '';
          box.checked = true;
          box.disabled = true;
        } else {
          box.checked = box.dataset.own === '1';
          box.disabled = false;
        }
      }
    });
    groupBoxes.push(gbox);
    return h('fieldset', { class: 'event-group' },
      h('legend', { text: g.name }),
      h('div', { class: 'check group-check' }, gbox,
        h('label', { htmlFor: gid }, h('strong', { text: `All ${g.name} events` }), h('span', { class: 'hint', text: groupHint(g) }))),
      h('ul', { class: 'plain event-types' }, members));
  });
  const eventsError = h('p', { class: 'field-error', id: 'events-error', hidden: true });
  const eventsBox = h('fieldset', { class: 'events', id: 'events', attrs: { 'aria-describedby': 'events-error' } },
    h('legend', { text: 'Events' }),
    h('p', { class: 'hint', text: 'Pick a whole group, or single event types.' }),
    lists, eventsError);
  const retries = field('Maximum retries (optional)', h('input', { type: 'number', id: 'wh-max-retries', name: 'max_retries', min: 0, step: 1, value: wh.max_retries === undefined ? '' : String(wh.max_retries), attrs: { inputmode: 'numeric' } }),
    'How many times a failed delivery is tried again, spread over about three days. Empty: the most the server allows.');
  const ordered = orderedCheckbox(wh);
  const el = h('div', { class: 'section-body' }, eventsBox, retries.wrap, ordered.el);
  const selected = () => {
    const out = groupBoxes.filter((b) => b.checked).map((b) => b.value);
    for (const b of typeBoxes) if (b.checked && !b.disabled) out.push(b.value);
    return out;
  };
  const eventsField = { control: groupBoxes[0] || eventsBox, setError: (m) => setFieldError(eventsBox, eventsError, m) };
  return {
    el,
    fields: { events: eventsField, max_retries: retries },
    check() {
      eventsField.setError('');
      retries.setError('');
      if (selected().length === 0) return { f: eventsField, msg: 'Pick at least one event.' };
      const r = retries.control.value.trim();
      if (r !== '' && !/^\d+$/.test(r)) return { f: retries, msg: 'Enter a whole number, or leave it empty.' };
      return null;
    },
    read() {
      const r = retries.control.value.trim();
      const out = { events: selected(), ordered: ordered.value() };
      if (r !== '') out.max_retries = Number.parseInt(r, 10);
      return out;
    },
  };
}

/* ---- errors from the API -------------------------------------------------- */

// Which field an API error message concerns: the messages quote the field
// ("A valid \"url\" must be specified."), so those win over loose words.
export function errorField(status, msg) {
  if (/"(endpoints\.)?auth[".]/.test(msg)) return 'auth';
  const quoted = [['max_retries', 'max_retries'], ['events', 'events'], ['endpoints.headers', 'headers'],
    ['headers', 'headers'], ['endpoints', 'url'], ['url', 'url'], ['name', 'name'], ['description', 'description']];
  for (const [tok, f] of quoted) if (msg.includes(`"${tok}"`)) return f;
  if (status === 409) return 'name';
  const m = msg.toLowerCase();
  if (m.includes('max_retries')) return 'max_retries';
  if (status === 422 || m.includes('event')) return 'events';
  if (m.includes('header')) return 'headers';
  if (m.includes('url') || m.includes('endpoint')) return 'url';
  if (m.includes('name')) return 'name';
  return null;
}

// Put 'err' beside its field; returns the index of the section holding it
// (0 basics, 1 endpoints, 2 events) or -1 for the form's own error box.
function placeError(err, sections, generalBox) {
  let msg = err.message;
  if (err.status === 422 && err.body && Array.isArray(err.body.unavailable)) {
    msg = `${msg}: ${err.body.unavailable.join(', ')}.`;
  }
  const which = errorField(err.status, err.message || '');
  const [basics, endpoints, events] = sections;
  let target = null;
  let index = -1;
  if (which === 'name' || which === 'description') {
    target = basics.fields[which];
    index = 0;
  } else if (which === 'events' || which === 'max_retries') {
    target = events.fields[which];
    index = 2;
  } else if (which === 'url' || which === 'headers' || which === 'auth') {
    index = 1;
    const eds = endpoints.editors;
    // the endpoint whose URL the message names, else the first that is not https://
    let ed = eds.find((e) => e.url.control.value.trim() && msg.includes(e.url.control.value.trim()));
    if (which === 'auth') {
      ed = ed || eds.find((e) => e.auth.type.value) || eds[0];
      ed.auth.setError(msg);
      target = { control: ed.auth.type, setError: () => {} };
    } else if (which === 'headers') {
      ed = ed || eds.find((e) => e.rows.some((r) => r.n.value.trim() && msg.includes(`"${r.n.value.trim()}"`))) || eds.find((e) => e.rows.length) || eds[0];
      setFieldError(ed.box, ed.headersError, msg);
      const row = ed.rows.find((r) => msg.includes(`"${r.n.value.trim()}"`)) || ed.rows[0];
      target = { control: row ? row.n : ed.url.control, setError: () => {} };
    } else {
      ed = ed || eds.find((e) => !isHttps(e.url.control.value.trim())) || eds[0];
      target = ed.url;
    }
  }
  if (target) {
    target.setError(msg);
  } else {
    generalBox.textContent = msg;
    generalBox.hidden = false;
  }
  return { index, control: target ? target.control : generalBox };
}

function isHttps(s) {
  try {
    return new URL(s).protocol === 'https:';
  } catch {
    return false;
  }
}

function clearErrors(sections, generalBox) {
  generalBox.textContent = '';
  generalBox.hidden = true;
  for (const ed of sections[1].editors) {
    ed.url.setError('');
    setFieldError(ed.box, ed.headersError, '');
    ed.auth.setError('');
  }
  sections[0].fields.name.setError('');
  sections[0].fields.description.setError('');
  sections[2].fields.events.setError('');
  sections[2].fields.max_retries.setError('');
}

/* ---- create: three steps -------------------------------------------------- */

const STEP_TITLES = ['Name and description', 'Endpoints', 'Events'];

export async function renderCreate(ctx) {
  document.title = 'Create a webhook · hookline';
  const stepsNav = h('ol', { class: 'steps', attrs: { 'aria-label': 'Steps' } },
    STEP_TITLES.map((t, i) => h('li', { dataset: { step: String(i) } }, h('span', { class: 'step-no', text: String(i + 1) }), ' ', t)));
  ctx.view.append(h('div', { class: 'page-head' }, h('h1', { text: 'Create a webhook' })), stepsNav);
  const loading = h('p', { class: 'loading', text: 'Loading the event catalog…' });
  ctx.view.append(loading);
  ctx.focus();
  const catalog = await webhooks.types();
  loading.remove();

  const sections = [basicsSection({}), endpointsSection({}), eventsSection({}, catalog)];
  const panels = sections.map((s, i) => h('section', { class: 'step-panel', id: `step-${i + 1}`, hidden: i !== 0, attrs: { 'aria-labelledby': `step-${i + 1}-title` } },
    h('h2', { id: `step-${i + 1}-title`, text: `Step ${i + 1} of 3: ${STEP_TITLES[i]}` }), s.el));
  const general = h('p', { class: 'form-error', id: 'form-error', hidden: true, attrs: { role: 'alert' } });
  const back = h('button', { type: 'button', class: 'secondary', id: 'step-back', text: 'Back' });
  const next = h('button', { type: 'submit', class: 'primary', id: 'step-next', text: 'Next' });
  const form = h('form', { class: 'card wizard', id: 'create-form', attrs: { novalidate: '' } },
    panels, general,
    h('div', { class: 'actions' }, back, next, link('/', 'Cancel', { class: 'button-link cancel' })));
  ctx.view.append(form);
  let step = 0;

  function show(i, focusControl) {
    step = i;
    panels.forEach((p, k) => { p.hidden = k !== i; });
    stepsNav.querySelectorAll('li').forEach((li, k) => {
      li.classList.toggle('done', k < i);
      if (k === i) li.setAttribute('aria-current', 'step');
      else li.removeAttribute('aria-current');
    });
    back.hidden = i === 0;
    next.textContent = i === 2 ? 'Create webhook' : 'Next';
    if (focusControl) focusControl.focus();
    else {
      const first = panels[i].querySelector('input, textarea, select');
      if (first) first.focus();
    }
  }
  back.addEventListener('click', () => show(step - 1));
  show(0);
  sections[0].fields.name.control.focus();

  form.addEventListener('submit', async (ev) => {
    ev.preventDefault();
    general.hidden = true;
    const found = sections[step].check();
    if (found) {
      if (found.msg) found.f.setError(found.msg);
      found.f.control.focus();
      return;
    }
    if (step < 2) {
      show(step + 1);
      return;
    }
    const body = { ...sections[0].read(), endpoints: sections[1].read(), ...sections[2].read() };
    next.disabled = true;
    next.textContent = 'Creating…';
    try {
      const wh = await webhooks.create(body);
      holdSecret(wh.id, wh.secret);
      location.hash = '#' + path('webhooks', wh.id, 'created');
    } catch (e) {
      next.disabled = false;
      next.textContent = 'Create webhook';
      if (e.status === 401) return;
      clearErrors(sections, general);
      const placed = placeError(e, sections, general);
      show(placed.index >= 0 ? placed.index : step, placed.control);
    }
  });
}

/* ---- edit: one page ------------------------------------------------------- */

export async function renderEdit(ctx, id) {
  document.title = 'Edit webhook · hookline';
  const loading = h('p', { class: 'loading', text: 'Loading…' });
  ctx.view.append(loading);
  const [wh, catalog] = await Promise.all([webhooks.get(id), webhooks.types()]);
  loading.remove();
  document.title = `Edit ${wh.name} · hookline`;
  const sections = [basicsSection(wh), endpointsSection(wh), eventsSection(wh, catalog)];
  const general = h('p', { class: 'form-error', id: 'form-error', hidden: true, attrs: { role: 'alert' } });
  const save = h('button', { type: 'submit', class: 'primary', id: 'save-webhook', text: 'Save changes' });
  const form = h('form', { class: 'card', id: 'edit-form', attrs: { novalidate: '' } },
    sections.map((s, i) => h('section', { class: 'edit-section' }, h('h2', { text: STEP_TITLES[i] }), s.el)),
    general,
    h('div', { class: 'actions' }, save, link(path('webhooks', id), 'Cancel', { class: 'button-link cancel' })));
  ctx.view.append(h('div', { class: 'page-head' }, h('h1', {}, 'Edit ', h('span', { class: 'wh-title', text: wh.name }))), form);
  ctx.focus();
  form.addEventListener('submit', async (ev) => {
    ev.preventDefault();
    clearErrors(sections, general);
    for (const s of sections) {
      const found = s.check();
      if (found) {
        if (found.msg) found.f.setError(found.msg);
        found.f.control.focus();
        return;
      }
    }
    const body = { ...sections[0].read(), endpoints: sections[1].read(), ...sections[2].read() };
    save.disabled = true;
    try {
      await webhooks.patch(id, body);
      flash('Changes saved.', 'info', true);
      location.hash = '#' + path('webhooks', id);
    } catch (e) {
      save.disabled = false;
      if (e.status === 401) return;
      if (e.status === 404) {
        clear(ctx.view);
        flash('This webhook no longer exists.', 'error');
        return;
      }
      const placed = placeError(e, sections, general);
      placed.control.focus();
    }
  });
}
