// app.js: the console's entry point: hash routes, the header, sign-out,
// and what happens when the API refuses the key.
//
//   #/signin                 sign in with an API key
//   #/  (?page=&size=)       webhooks list
//   #/new                    create a webhook (three steps)
//   #/webhooks/ID            details, test event, delivery log
//   #/webhooks/ID/edit       edit
//   #/webhooks/ID/created    the new webhook's secret, shown once
//
// On /portal (a portal session's link) there is no sign-in: the token
// comes with the link, and without a valid one the page says so.

import { apiKey, isPortal, setUnauthorizedHandler, signOut, takePortalToken } from './api.js';
import { clear, flash, flashOnNavigate, h, link } from './dom.js';
import { renderSignIn } from './signin.js';
import { renderList } from './list.js';
import { renderCreate, renderEdit } from './form.js';
import { renderDetails, renderCreated } from './details.js';

const main = document.getElementById('main');
let afterSignIn = '#/';

function parseHash() {
  const raw = location.hash.replace(/^#/, '') || '/';
  const [p, q = ''] = raw.split('?');
  const parts = p.split('/').filter(Boolean).map((s) => {
    try {
      return decodeURIComponent(s);
    } catch {
      return s;
    }
  });
  return { parts, params: new URLSearchParams(q) };
}

const portal = isPortal();

// The page of a portal link that no longer works (or never came with a
// token): no sign-in form, since a framed page must not ask for keys.
function renderPortalEnded(view) {
  document.title = 'Link expired · hookline';
  view.append(h('div', { class: 'card narrow' },
    h('h1', { text: 'This link has expired' }),
    h('p', { text: 'The link that opened this page has expired or was revoked. Open the webhooks page again from where you found it to get a new one.' })));
  focusHeading(view);
}

function route() {
  const { parts, params } = parseHash();
  const signedIn = Boolean(apiKey());
  document.getElementById('topnav').hidden = !signedIn;
  if (portal && (!signedIn || parts[0] === 'signin')) {
    const view = document.createElement('div');
    view.className = 'view';
    clear(main).append(view);
    document.getElementById('topnav').hidden = true;
    renderPortalEnded(view);
    return;
  }
  if (!signedIn && parts[0] !== 'signin') {
    afterSignIn = location.hash && location.hash !== '#/signin' ? location.hash : '#/';
    location.replace('#/signin');
    return;
  }
  // every page gets a fresh container: a slow answer for a page already
  // left lands in a detached node and changes nothing on screen
  const view = document.createElement('div');
  view.className = 'view';
  clear(main).append(view);
  flashOnNavigate();
  const ctx = { view, params, focus: () => focusHeading(view) };
  let page;
  if (parts[0] === 'signin') {
    if (signedIn) return location.replace('#/');
    page = renderSignIn(ctx, () => {
      location.hash = afterSignIn;
      afterSignIn = '#/';
    });
  } else if (parts.length === 0 || (parts[0] === 'webhooks' && parts.length === 1)) {
    page = renderList(ctx);
  } else if (parts[0] === 'new' && parts.length === 1) {
    page = renderCreate(ctx);
  } else if (parts[0] === 'webhooks' && parts.length === 2) {
    page = renderDetails(ctx, parts[1]);
  } else if (parts[0] === 'webhooks' && parts.length === 3 && parts[2] === 'edit') {
    page = renderEdit(ctx, parts[1]);
  } else if (parts[0] === 'webhooks' && parts.length === 3 && parts[2] === 'created') {
    page = renderCreated(ctx, parts[1]);
  } else {
    document.title = 'Not found · hookline';
    view.append(h('h1', { text: 'Page not found' }),
      h('p', {}, 'There is no such page in the console. ', link('/', 'Go to your webhooks')));
    focusHeading(view);
  }
  Promise.resolve(page).catch((e) => {
    if (e && e.status === 401) return;
    flash(e && e.message ? e.message : String(e), 'error');
  });
}

function focusHeading(view) {
  // moving focus to the new page's heading tells keyboard and screen
  // reader users that the page changed
  const h1 = view.querySelector('h1');
  if (h1 && view.isConnected) {
    h1.tabIndex = -1;
    h1.focus({ preventScroll: false });
  }
}

setUnauthorizedHandler(() => {
  signOut();
  if (portal) {
    route();
    return;
  }
  flash('The API key was refused (revoked or wrong). Sign in again.', 'error', true);
  location.hash = '#/signin';
});

document.getElementById('sign-out').addEventListener('click', () => {
  signOut();
  flash('Signed out. The key is no longer kept in this tab.', 'info', true);
  afterSignIn = '#/';
  location.hash = '#/signin';
});

// the skip link must not change the route
document.querySelector('.skip-link').addEventListener('click', (ev) => {
  ev.preventDefault();
  main.focus();
});

// in a portal session the link's holder does not sign out: the operator's
// product decides how long the session lasts
document.getElementById('sign-out').hidden = portal;

window.addEventListener('hashchange', route);
takePortalToken();
route();
