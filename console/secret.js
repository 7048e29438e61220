// secret.js: a signing secret, shown once. The API returns a secret only in
// the answer to create and rotate-secret; the console holds it in memory
// just long enough to show it on the next page, then forgets it.

import { h } from './dom.js';

let pending = null;

// Keep 'secret' of webhook 'id' for the page that shows it.
export function holdSecret(id, secret) {
  pending = { id, secret };
}

// The held secret of 'id', once: a second call (or a reload) gets null.
export function takeSecret(id) {
  const p = pending;
  pending = null;
  return p && p.id === id ? p.secret : null;
}

// The panel: warning, the secret in a read-only field, Copy, and the
// close buttons. 'onClose' runs on "Copy & close" and "Close".
export function secretPanel(secret, { title, onClose }) {
  const input = h('input', { type: 'text', id: 'secret-value', readOnly: true, value: secret, spellcheck: false, class: 'mono secret-input', attrs: { 'aria-describedby': 'secret-warning' } });
  const status = h('span', { class: 'copy-status', attrs: { role: 'status', 'aria-live': 'polite' } });
  const copy = async () => {
    const ok = await copyText(input);
    status.textContent = ok ? 'Copied to the clipboard.' : 'Select the secret and copy it with Ctrl+C (⌘C).';
    return ok;
  };
  const panel = h('section', { class: 'secret-panel', id: 'secret-panel', attrs: { 'aria-labelledby': 'secret-title' } },
    h('h2', { id: 'secret-title', text: title }),
    h('div', { class: 'warning', id: 'secret-warning', attrs: { role: 'alert' } },
      h('strong', { text: 'Copy this secret now: it will not be shown again. ' }),
      'Store it where your receiving service can read it; it verifies that requests really come from hookline (the webhook-signature header). If you lose it, rotate the secret to get a new one.'),
    h('label', { htmlFor: 'secret-value', text: 'Signing secret' }),
    h('div', { class: 'secret-row' },
      input,
      h('button', { type: 'button', class: 'primary', id: 'copy-secret', text: 'Copy', onclick: copy })),
    status,
    h('div', { class: 'actions' },
      h('button', {
        type: 'button', id: 'copy-close', text: 'Copy & close',
        onclick: async () => {
          if (await copy()) close();
        },
      }),
      h('button', { type: 'button', class: 'secondary', id: 'close-secret', text: 'Close', onclick: () => close() })));
  input.addEventListener('focus', () => input.select());
  function close() {
    input.value = '';
    panel.remove();
    onClose();
  }
  return panel;
}

async function copyText(input) {
  try {
    await navigator.clipboard.writeText(input.value);
    return true;
  } catch {
    // no clipboard permission (or an insecure origin): fall back to the
    // selection, which the user can copy by hand
    input.focus();
    input.select();
    try {
      return document.execCommand('copy');
    } catch {
      return false;
    }
  }
}
