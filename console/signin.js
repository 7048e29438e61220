// signin.js: the sign-in page. The key is checked with one small read of
// the webhooks list before it is kept (in sessionStorage: this tab only).

import { api, signIn, signOut } from './api.js';
import { field, h } from './dom.js';

export function renderSignIn(ctx, done) {
  document.title = 'Sign in · hookline';
  const input = h('input', { type: 'password', name: 'api-key', id: 'api-key', autocomplete: 'off', spellcheck: false, required: true });
  const key = field('API key', input,
    'Your key is kept in this browser tab only, until you sign out or close the tab. It needs the webhooks:read scope; creating and changing webhooks needs webhooks:write.');
  const submit = h('button', { type: 'submit', class: 'primary', text: 'Sign in' });
  const form = h('form', { class: 'card narrow', attrs: { novalidate: '' } },
    h('h1', { text: 'Sign in to hookline' }),
    h('p', { text: 'Manage your webhooks: where hookline sends your events, which events, and what happened to each delivery.' }),
    key.wrap,
    h('div', { class: 'actions' }, submit));
  form.addEventListener('submit', async (ev) => {
    ev.preventDefault();
    const value = input.value.trim();
    if (!value) {
      key.setError('Enter your API key.');
      input.focus();
      return;
    }
    key.setError('');
    submit.disabled = true;
    submit.textContent = 'Signing in…';
    try {
      await api('GET', '/v1/webhooks?size=1', undefined, { key: value, quiet401: true });
      signIn(value);
      input.value = '';
      done();
    } catch (e) {
      signOut();
      key.setError(e.status === 401 ? 'This API key is not valid. Check it and try again.'
        : e.status === 403 ? 'This key cannot read webhooks: it needs the webhooks:read scope.'
          : e.message);
      input.focus();
    } finally {
      submit.disabled = false;
      submit.textContent = 'Sign in';
    }
  });
  ctx.view.append(form);
  input.focus();
}
