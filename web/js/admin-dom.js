// Small DOM and formatting helpers for the teacher's console. Text is only ever set with
// textContent (never as HTML), and no inline style is ever written (the CSP forbids it).
import { api, ApiError, clearSession } from './api.js';
import { ta } from './admin-strings.js';

// el('p', { class: 'hint', text: '…', on: { click } }, child, [children], 'text'): an element.
// `true` sets an empty attribute, `false`/null/undefined leave it out; `value` and `checked`
// are set as properties.
export function el(tag, props = {}, ...children) {
  const node = document.createElement(tag);
  for (const [key, value] of Object.entries(props)) {
    if (value === undefined || value === null || value === false) continue;
    if (key === 'text') node.textContent = String(value);
    else if (key === 'on') for (const [type, fn] of Object.entries(value)) node.addEventListener(type, fn);
    else if (key === 'class') node.className = value;
    else if (key === 'style') throw new Error('inline styles are refused by the CSP');
    else if (key === 'value' || key === 'checked') node[key] = value;
    else if (value === true) node.setAttribute(key, '');
    else node.setAttribute(key, String(value));
  }
  append(node, children);
  return node;
}

function append(node, children) {
  for (const child of children) {
    if (child === null || child === undefined || child === false) continue;
    if (Array.isArray(child)) append(node, child);
    else if (child instanceof Node) node.appendChild(child);
    else node.appendChild(document.createTextNode(String(child)));
  }
}

// Empties `node` and puts `children` in.
export function fill(node, ...children) {
  node.replaceChildren();
  append(node, children);
  return node;
}

let uidCounter = 0;
// A fresh element id with `prefix`.
export function uid(prefix) {
  uidCounter += 1;
  return `${prefix}-${uidCounter}`;
}

// A labelled control: <div class="field"><label for=id>…</label>control<p class=hint></p></div>.
export function field(label, control, hint) {
  if (!control.id) control.id = uid('f');
  const parts = [el('label', { for: control.id, text: label }), control];
  if (hint) {
    const hintId = control.id + '-hint';
    const prior = control.getAttribute('aria-describedby');
    control.setAttribute('aria-describedby', prior ? `${prior} ${hintId}` : hintId);
    parts.push(el('p', { class: 'hint', id: hintId, text: hint }));
  }
  return el('div', { class: 'field' }, parts);
}

// A message line that screen readers announce: `say(line, text, 'error'|'ok'|'')`.
export function messageLine(id) {
  return el('p', { class: 'msg', id, role: 'status', 'aria-live': 'polite' });
}

export function say(line, text, kind = '') {
  line.textContent = text || '';
  line.className = 'msg' + (kind ? ' ' + kind : '');
  if (kind === 'error') line.setAttribute('role', 'alert');
  else line.setAttribute('role', 'status');
}

// The human text of a refusal (api.js's ApiError reads API.md's error body).
export function errorText(error) {
  if (error instanceof ApiError) {
    if (error.status === 0) return ta('error.network');
    if (error.status === 429) return ta('error.rateLimited');
    if (error.message !== `HTTP ${error.status}`) return `${error.message} (${error.code})`;
    return ta('error.http', { status: error.status });
  }
  return String((error && error.message) || error);
}

export function errorCode(error) {
  return error instanceof ApiError ? error.code : '';
}

// api() that also ends the session on 401, so the console goes back to the sign-in form.
export async function call(method, path, options) {
  try {
    return await api(method, path, options);
  } catch (error) {
    if (error instanceof ApiError && error.status === 401 && !path.startsWith('/api/auth/login')) {
      clearSession();
      window.dispatchEvent(new CustomEvent('admin-signed-out', { detail: ta('signin.expired') }));
    }
    throw error;
  }
}

const pad = (n) => String(n).padStart(2, '0');

export function localZone() {
  try {
    return Intl.DateTimeFormat().resolvedOptions().timeZone || ta('time.local');
  } catch {
    return ta('time.local');
  }
}

// "28 Nov 2026, 20:00:00" in the browser's zone.
export function fmtLocal(iso) {
  if (!iso) return '—';
  const d = new Date(iso);
  if (Number.isNaN(d.getTime())) return String(iso);
  return d.toLocaleString(undefined, {
    year: 'numeric', month: 'short', day: 'numeric', hour: '2-digit', minute: '2-digit', second: '2-digit',
  });
}

// "2026-11-28 19:00:00 UTC".
export function fmtUtc(iso) {
  if (!iso) return '—';
  const d = new Date(iso);
  if (Number.isNaN(d.getTime())) return String(iso);
  return d.toISOString().replace('T', ' ').replace(/\.\d+Z$/, '').replace(/Z$/, '') + ' UTC';
}

// Both, for tables: local first, UTC after.
export function fmtBoth(iso) {
  return `${fmtLocal(iso)} (${fmtUtc(iso)})`;
}

// An RFC 3339 time as the value of an <input type=datetime-local> in the browser's zone.
export function toLocalInput(iso) {
  if (!iso) return '';
  const d = new Date(iso);
  if (Number.isNaN(d.getTime())) return '';
  const base = `${d.getFullYear()}-${pad(d.getMonth() + 1)}-${pad(d.getDate())}T${pad(d.getHours())}:${pad(d.getMinutes())}`;
  return d.getSeconds() ? `${base}:${pad(d.getSeconds())}` : base;
}

// The value of an <input type=datetime-local> (browser's zone) as UTC RFC 3339, or null.
export function fromLocalInput(value) {
  if (!value) return null;
  const m = /^(\d{4})-(\d{2})-(\d{2})T(\d{2}):(\d{2})(?::(\d{2})(?:\.(\d+))?)?$/.exec(value);
  if (!m) return null;
  const d = new Date(+m[1], +m[2] - 1, +m[3], +m[4], +m[5], +(m[6] || 0));
  if (Number.isNaN(d.getTime())) return null;
  return d.toISOString().replace(/\.000Z$/, 'Z');
}

// "1:02:03" / "2 d 01:02:03" for a count of milliseconds.
export function fmtDuration(ms) {
  const total = Math.max(0, Math.floor(ms / 1000));
  const days = Math.floor(total / 86400);
  const h = Math.floor((total % 86400) / 3600);
  const m = Math.floor((total % 3600) / 60);
  const s = total % 60;
  const clock = `${pad(h)}:${pad(m)}:${pad(s)}`;
  return days ? ta('time.days', { days, clock }) : clock;
}

// Offers `text` as a file download through a Blob URL.
export function downloadText(text, filename, type = 'text/csv') {
  const url = URL.createObjectURL(new Blob([text], { type }));
  const link = el('a', { href: url, download: filename, class: 'visually-hidden', text: filename });
  document.body.appendChild(link);
  link.click();
  link.remove();
  setTimeout(() => URL.revokeObjectURL(url), 10000);
}

// A table in a horizontally scrolling, focusable wrapper (usable at 320 px).
export function table(caption, headers, rows) {
  const thead = el('thead', {}, el('tr', {}, headers.map((h) => el('th', { scope: 'col', text: h }))));
  const tbody = el('tbody', {}, rows.map((cells) => el('tr', {}, cells.map((c) => el('td', {}, c)))));
  const captionEl = caption ? el('caption', { class: 'visually-hidden', text: caption }) : null;
  return el('div', { class: 'table-wrap', tabindex: '0', role: 'region', 'aria-label': caption || headers.join(', ') },
    el('table', {}, captionEl, thead, tbody));
}

// RFC 4180 CSV into rows of strings (quoted fields, doubled quotes, CRLF or LF).
export function parseCsv(text) {
  const rows = [];
  let row = [];
  let cell = '';
  let quoted = false;
  for (let i = 0; i < text.length; i++) {
    const c = text[i];
    if (quoted) {
      if (c === '"' && text[i + 1] === '"') {
        cell += '"';
        i++;
      } else if (c === '"') quoted = false;
      else cell += c;
    } else if (c === '"') quoted = true;
    else if (c === ',') {
      row.push(cell);
      cell = '';
    } else if (c === '\n' || c === '\r') {
      if (c === '\r' && text[i + 1] === '\n') i++;
      row.push(cell);
      rows.push(row);
      row = [];
      cell = '';
    } else cell += c;
  }
  if (cell !== '' || row.length) {
    row.push(cell);
    rows.push(row);
  }
  return rows;
}
