// The HTTP side of API.md for both consoles: the token (sessionStorage: no cookies, so no
// CSRF), JSON requests with `Authorization`, and the retries the contract asks clients for:
// `503` and `429` after `Retry-After`, network failures, and a proxy's `502`/`504` for requests
// safe to repeat, a few times with jitter.

const TOKEN = 'contestd.token';
const USER = 'contestd.user';

export function getToken() {
  return sessionStorage.getItem(TOKEN);
}

export function getUser() {
  const user = sessionStorage.getItem(USER);
  return user ? JSON.parse(user) : null;
}

export function setSession(token, user) {
  sessionStorage.setItem(TOKEN, token);
  sessionStorage.setItem(USER, JSON.stringify(user));
}

export function clearSession() {
  sessionStorage.removeItem(TOKEN);
  sessionStorage.removeItem(USER);
}

// A refused request: the HTTP status, API.md's error code and message, and the body.
// API.md's error body is `{"error": {"code", "message"}}`; a flat `{"error", "message"}`
// (the static file server's 404, and the network errors made up below) is read too.
export class ApiError extends Error {
  constructor(status, body) {
    const nested = body && body.error && typeof body.error === 'object' ? body.error : null;
    const source = nested || body || {};
    super(source.message || `HTTP ${status}`);
    this.status = status;
    this.code = (typeof source.code === 'string' && source.code) ||
      (typeof source.error === 'string' && source.error) || 'http_' + status;
    this.body = body;
  }
}

const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

// How long to wait before retry `attempt` (0-based): `Retry-After` when the server gave one,
// else an exponential step; with up to 50% jitter, so many pages do not come back at once.
export function retryDelay(attempt, retryAfter) {
  const seconds = Number(retryAfter);
  const base = Number.isFinite(seconds) && seconds >= 0 ? seconds * 1000 : 500 * 2 ** attempt;
  return Math.min(base, 30000) * (1 + Math.random() * 0.5);
}

// Sends one request and returns the parsed JSON (null for an empty body). `body` is sent as
// JSON; `headers` adds headers (e.g. `Idempotency-Key`, the same on every retry of this call);
// `accept: 'text'` returns the body as text (CSV). `503`, `429` and network failures are retried
// `retries` times, a proxy's `502`/`504` too when the request is safe to repeat (GET, PUT,
// DELETE, or a keyed submission); any other refusal throws an ApiError at once.
export async function api(method, path, { body, headers = {}, accept = 'json', retries = 3 } = {}) {
  const init = { method, headers: { ...headers } };
  const token = getToken();
  if (token) init.headers.Authorization = 'Bearer ' + token;
  if (body !== undefined) {
    init.headers['Content-Type'] = 'application/json';
    init.body = JSON.stringify(body);
  }
  if (accept === 'text') init.headers.Accept = 'text/csv';
  const repeatable = ['GET', 'PUT', 'DELETE'].includes(method) || 'Idempotency-Key' in headers;
  for (let attempt = 0; ; attempt++) {
    let response;
    try {
      response = await fetch(path, init);
    } catch (networkError) {
      if (attempt >= retries) throw new ApiError(0, { error: 'network', message: String(networkError) });
      await sleep(retryDelay(attempt));
      continue;
    }
    if ((response.status === 503 || response.status === 429) && attempt < retries) {
      await sleep(retryDelay(attempt, response.headers.get('Retry-After')));
      continue;
    }
    // A proxy's 502/504 (a node died while answering): it may have applied the request, so
    // only what is safe to repeat is sent again.
    if ((response.status === 502 || response.status === 504) && repeatable && attempt < retries) {
      await sleep(retryDelay(attempt, response.headers.get('Retry-After')));
      continue;
    }
    const text = await response.text();
    if (!response.ok) {
      let parsed = null;
      try {
        parsed = JSON.parse(text);
      } catch {
        parsed = null;
      }
      throw new ApiError(response.status, parsed);
    }
    if (accept === 'text') return text;
    return text ? JSON.parse(text) : null;
  }
}

// A fresh idempotency key (API.md: 1–64 of A-Z a-z 0-9 _ -).
export function newIdempotencyKey() {
  const bytes = crypto.getRandomValues(new Uint8Array(16));
  return Array.from(bytes, (b) => b.toString(16).padStart(2, '0')).join('');
}
