// api.js: the console's only way to the server: hookline's public REST API
// on this origin, with the API key from this tab's sessionStorage as
// x-api-key. The key never goes to localStorage, a cookie or a URL.
//
// Opened by a portal session's link (/portal#token=hlp_...), the console
// uses that token instead: it is read from the fragment (which the browser
// never sends to a server) and taken out of the address bar at once. It is
// held in memory, and in this tab's sessionStorage too where the browser
// allows it: inside a third-party iframe it often does not (storage is
// blocked with third-party cookies), and no cookie is ever needed.

const KEY_NAME = 'hookline.apiKey';
const PORTAL_NAME = 'hookline.portalToken';
let portalToken = null;

// Whether this page is the console of a portal session's link.
export function isPortal() {
  return location.pathname === '/portal';
}

// sessionStorage, or null where the browser refuses it to this frame.
function storage() {
  try {
    return window.sessionStorage;
  } catch {
    return null;
  }
}

export function apiKey() {
  if (isPortal()) return portalToken || (storage() ? storage().getItem(PORTAL_NAME) : null);
  return storage() ? storage().getItem(KEY_NAME) : null;
}

export function signIn(key) {
  if (!isPortal() && storage()) storage().setItem(KEY_NAME, key);
}

export function signOut() {
  if (isPortal()) portalToken = null;
  if (storage()) storage().removeItem(isPortal() ? PORTAL_NAME : KEY_NAME);
}

// On /portal: keep the token of "#token=hlp_..." (replacing an older one)
// and take it out of the address bar and the history entry, before any
// request or navigation can carry it anywhere.
export function takePortalToken() {
  if (!isPortal()) return;
  const m = /^#token=(hlp_[A-Za-z0-9]+)$/.exec(location.hash);
  if (location.hash.startsWith('#token=')) {
    history.replaceState(null, '', `${location.pathname}#/`);
    signOut();
  }
  if (m) {
    portalToken = m[1];
    if (storage()) storage().setItem(PORTAL_NAME, m[1]);
  }
}

// An error answer: status (0 when the server could not be reached), the
// message from {"error": "..."} and the whole body.
export class ApiError extends Error {
  constructor(status, body, fallback) {
    const msg = body && typeof body.error === 'string' ? body.error : fallback;
    super(msg);
    this.status = status;
    this.body = body;
  }
}

let onUnauthorized = () => {};

// 'fn' runs when a call answers 401 (the key was revoked or is wrong).
export function setUnauthorizedHandler(fn) {
  onUnauthorized = fn;
}

// Call 'method path' with an optional JSON body. Resolves with the parsed
// answer (null when empty); rejects with ApiError. A 401 also signs out
// through the handler, unless opts.quiet401.
export async function api(method, path, body, opts = {}) {
  const key = opts.key || apiKey();
  const headers = { accept: 'application/json' };
  if (key) headers['x-api-key'] = key;
  const init = { method, headers, cache: 'no-store', credentials: 'omit', redirect: 'error' };
  if (body !== undefined) {
    headers['content-type'] = 'application/json';
    init.body = JSON.stringify(body);
  }
  let res;
  try {
    res = await fetch(path, init);
  } catch (e) {
    throw new ApiError(0, null, 'Cannot reach the hookline server. Check your connection and try again.');
  }
  const text = await res.text();
  let data = null;
  if (text) {
    try {
      data = JSON.parse(text);
    } catch {
      data = null;
    }
  }
  if (!res.ok) {
    const err = new ApiError(res.status, data, `The server answered ${res.status}.`);
    if (res.status === 401 && !opts.quiet401) onUnauthorized(err);
    throw err;
  }
  return data;
}

// Query string from an object, skipping empty values.
export function query(params) {
  const q = new URLSearchParams();
  for (const [k, v] of Object.entries(params)) {
    if (v !== undefined && v !== null && v !== '') q.set(k, String(v));
  }
  const s = q.toString();
  return s ? `?${s}` : '';
}

const enc = encodeURIComponent;

export const webhooks = {
  // filters: { created_by, owner, team }, blank ones left out
  list: (page, size, filters = {}) => api('GET', `/v1/webhooks${query({ page, size, ...filters })}`),
  get: (id) => api('GET', `/v1/webhooks/${enc(id)}`),
  create: (body) => api('POST', '/v1/webhooks', body),
  patch: (id, body) => api('PATCH', `/v1/webhooks/${enc(id)}`, body),
  remove: (id) => api('DELETE', `/v1/webhooks/${enc(id)}`),
  rotate: (id) => api('POST', `/v1/webhooks/${enc(id)}/rotate-secret`),
  test: (id, payload) => api('POST', `/v1/webhooks/${enc(id)}/test`, payload === undefined ? undefined : { payload }),
  deliveries: (id, params) => api('GET', `/v1/webhooks/${enc(id)}/deliveries${query(params)}`),
  retry: (id, did) => api('POST', `/v1/webhooks/${enc(id)}/deliveries/${enc(did)}/retry`),
  removeDelivery: (id, did) => api('DELETE', `/v1/webhooks/${enc(id)}/deliveries/${enc(did)}`),
  types: () => api('GET', '/v1/webhook-types'),
  stats: (id, params) => api('GET', `/v1/webhooks/${enc(id)}/stats${query(params)}`),
  delivery: (id, did) => api('GET', `/v1/webhooks/${enc(id)}/deliveries/${enc(did)}`),
};
