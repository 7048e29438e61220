// dom.js: building the page safely. Every piece of data reaches the DOM as
// text (textContent, text nodes, attribute values): nothing here parses
// HTML, so a webhook named <img src=x onerror=...> shows as those characters.

const PROPS = new Set(['id', 'type', 'name', 'value', 'checked', 'disabled', 'hidden', 'htmlFor',
  'placeholder', 'required', 'min', 'max', 'step', 'rows', 'readOnly', 'tabIndex', 'autocomplete',
  'spellcheck', 'title', 'href', 'selected', 'open']);

// h('button', {class: 'primary', onclick: fn, attrs: {'aria-label': 'x'}}, 'Save')
// Children may be strings, numbers, nodes, arrays of them, or null/false (skipped).
export function h(tag, props, ...children) {
  const el = document.createElement(tag);
  for (const [k, v] of Object.entries(props || {})) {
    if (v === undefined || v === null || v === false && k !== 'checked' && k !== 'value') continue;
    if (k === 'class') el.className = Array.isArray(v) ? v.filter(Boolean).join(' ') : v;
    else if (k === 'text') el.textContent = String(v);
    else if (k === 'attrs') for (const [a, av] of Object.entries(v)) { if (av !== null && av !== undefined && av !== false) el.setAttribute(a, String(av)); }
    else if (k === 'dataset') Object.assign(el.dataset, v);
    else if (k.startsWith('on') && typeof v === 'function') el.addEventListener(k.slice(2), v);
    else if (PROPS.has(k)) el[k] = v;
    else throw new Error(`h(): unknown property ${k}`);
  }
  append(el, children);
  return el;
}

export function append(el, children) {
  for (const c of children.flat(Infinity)) {
    if (c === null || c === undefined || c === false) continue;
    el.append(c instanceof Node ? c : document.createTextNode(String(c)));
  }
  return el;
}

export function clear(el) {
  while (el.firstChild) el.removeChild(el.firstChild);
  return el;
}

// A same-page link to a console route; 'route' is built from ids with
// encodeURIComponent by the caller (see path()).
export function link(route, text, props = {}) {
  return h('a', { ...props, href: '#' + route }, text);
}

// '/webhooks/' + encodeURIComponent(id) + ...: the parts are encoded.
export function path(...parts) {
  return '/' + parts.map((p) => encodeURIComponent(String(p))).join('/');
}

const dateFmt = new Intl.DateTimeFormat(undefined, { dateStyle: 'medium', timeStyle: 'medium' });
const shortFmt = new Intl.DateTimeFormat(undefined, { month: 'short', day: 'numeric', hour: '2-digit', minute: '2-digit', second: '2-digit' });

// A <time> for an RFC 3339 string (the exact value as its tooltip), or a
// dash when absent; 'short' leaves out the year, for tables.
export function time(iso, short = false) {
  if (!iso) return h('span', { class: 'muted', text: '—' });
  const d = new Date(iso);
  if (Number.isNaN(d.getTime())) return h('span', { text: iso });
  return h('time', { attrs: { datetime: iso }, title: iso, text: (short ? shortFmt : dateFmt).format(d) });
}

// A field: label, control, hint and the place for its error, tied together
// with aria-describedby. Returns {wrap, control, error, setError(msg)}.
let fieldSeq = 0;
export function field(labelText, control, hint) {
  const id = control.id || `f${++fieldSeq}`;
  control.id = id;
  const error = h('p', { class: 'field-error', id: `${id}-error`, hidden: true });
  const hintEl = hint ? h('p', { class: 'hint', id: `${id}-hint`, text: hint }) : null;
  control.setAttribute('aria-describedby', [hintEl && hintEl.id, error.id].filter(Boolean).join(' '));
  const wrap = h('div', { class: 'field' }, h('label', { htmlFor: id, text: labelText }), control, hintEl, error);
  const setError = (msg) => setFieldError(control, error, msg);
  // an error is about what was there: editing the field clears it
  control.addEventListener('input', () => setError(''));
  return { wrap, control, error, setError };
}

export function setFieldError(control, errorEl, msg) {
  if (msg) {
    errorEl.textContent = msg;
    errorEl.hidden = false;
    control.setAttribute('aria-invalid', 'true');
  } else {
    errorEl.textContent = '';
    errorEl.hidden = true;
    control.removeAttribute('aria-invalid');
  }
}

// A modal confirmation on a real <dialog>. Resolves true when confirmed,
// false on Cancel or Escape. Focus starts on Cancel: the safe choice.
export function confirmDialog({ title, message, detail, confirmLabel = 'Confirm', danger = false }) {
  return new Promise((resolve) => {
    const cancel = h('button', { type: 'button', class: 'secondary', text: 'Cancel' });
    const ok = h('button', { type: 'button', class: danger ? 'danger' : 'primary', text: confirmLabel });
    const titleId = `dlg${++fieldSeq}`;
    const dlg = h('dialog', { class: 'confirm', attrs: { 'aria-labelledby': titleId } },
      h('h2', { id: titleId, text: title }),
      h('p', { text: message }),
      detail ? h('p', { class: 'dialog-detail', text: detail }) : null,
      h('div', { class: 'actions' }, cancel, ok));
    cancel.addEventListener('click', () => dlg.close('cancel'));
    ok.addEventListener('click', () => dlg.close('confirm'));
    dlg.addEventListener('close', () => {
      dlg.remove();
      resolve(dlg.returnValue === 'confirm');
    });
    document.body.append(dlg);
    dlg.showModal();
    cancel.focus();
  });
}

// A one-line message under the header (kept across one navigation).
let pendingFlash = null;
export function flash(msg, kind = 'info', nextPage = false) {
  if (nextPage) {
    pendingFlash = { msg, kind };
    return;
  }
  showFlash(msg, kind);
}

function showFlash(msg, kind) {
  const el = document.getElementById('flash');
  clear(el);
  if (!msg) return;
  el.append(h('p', { class: `flash-msg ${kind}`, text: msg },
    h('button', { type: 'button', class: 'button-link flash-close', attrs: { 'aria-label': 'Dismiss message' }, text: '×', onclick: () => clear(el) })));
}

// Called by the router on every page: shows a flash meant for this page.
export function flashOnNavigate() {
  const f = pendingFlash;
  pendingFlash = null;
  showFlash(f ? f.msg : '', f ? f.kind : 'info');
}
