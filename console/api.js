// api.js: the console's only way to the server: hookline's public REST API
// on this origin, with the API key from this tab's sessionStorage as
// x-api-key. The key never goes to localStorage, a cookie or a URL.

const KEY_NAME = 'hookline.apiKey';

export function apiKey() {
  return sessionStorage.getItem(KEY_NAME);
}

export function signIn(key) {
  sessionStorage.setItem(KEY_NAME, key);
}

export function signOut() {
  sessionStorage.removeItem(KEY_NAME);
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
};
