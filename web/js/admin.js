// The teacher's console (/admin): sign-in, then hash routes for courses, contests (editor,
// key correction, student preview) and the live monitor of one contest.
import { api, getToken, getUser, setSession, clearSession } from './api.js';
import { ta } from './admin-strings.js';
import { el, fill, field, messageLine, say, errorText } from './admin-dom.js';
import { renderCourses } from './admin-courses.js';
import { renderContests, renderEditor, renderPreview } from './admin-editor.js';
import { renderMonitor } from './admin-monitor.js';

const top = document.getElementById('top');
const app = document.getElementById('app');

const ROUTES = [
  [/^#\/courses\/?$/, renderCourses, 'nav-courses'],
  [/^#\/courses\/(?<id>\d+)$/, renderCourses, 'nav-courses'],
  [/^#\/contests\/?$/, renderContests, 'nav-contests'],
  [/^#\/contests\/new$/, renderEditor, 'nav-new-contest'],
  [/^#\/contests\/(?<id>\d+)$/, renderEditor, 'nav-contests'],
  [/^#\/contests\/(?<id>\d+)\/preview$/, renderPreview, 'nav-contests'],
  [/^#\/contests\/(?<id>\d+)\/monitor$/, renderMonitor, 'nav-contests'],
];

let cleanups = [];
let pendingMessage = '';

function stopPage() {
  for (const fn of cleanups.splice(0)) {
    try {
      fn();
    } catch {
      // A page's clean-up never stops the next page.
    }
  }
}

function isAdmin() {
  const user = getUser();
  return Boolean(getToken() && user && user.role === 'admin');
}

function renderTop(user, current) {
  const link = (id, href, key) => el('a', { id, href, text: ta(key), 'aria-current': id === current ? 'page' : false });
  const skip = el('a', { class: 'skip', href: '#app', text: ta('nav.skip'), on: {
    click: (event) => {
      event.preventDefault();
      app.focus();
    },
  } });
  fill(top, skip,
    el('p', { class: 'brand', text: ta('app.name') }),
    user ? el('nav', { 'aria-label': ta('nav.label') },
      el('ul', {},
        el('li', {}, link('nav-courses', '#/courses', 'nav.courses')),
        el('li', {}, link('nav-contests', '#/contests', 'nav.contests')),
        el('li', {}, link('nav-new-contest', '#/contests/new', 'nav.newContest')))) : null,
    user ? el('div', { class: 'who' },
      el('span', { id: 'signed-in-as', text: ta('nav.signedInAs', { name: user.username }) }),
      el('button', { type: 'button', id: 'sign-out', class: 'small', text: ta('nav.signOut'), on: { click: signOut } })) : null);
}

async function signOut() {
  try {
    await api('POST', '/api/auth/logout', { retries: 0 });
  } catch {
    // The token is dropped here whatever the server said.
  }
  clearSession();
  pendingMessage = ta('signin.signedOut');
  route();
}

function renderSignIn() {
  renderTop(null);
  const username = el('input', { id: 'username', name: 'username', autocomplete: 'username', required: true, autocapitalize: 'none', spellcheck: 'false' });
  const password = el('input', { id: 'password', name: 'password', type: 'password', autocomplete: 'current-password', required: true });
  const button = el('button', { type: 'submit', id: 'sign-in', class: 'primary', text: ta('signin.button') });
  const msg = messageLine('sign-in-message');
  const form = el('form', { id: 'sign-in-form', class: 'card narrow', novalidate: true },
    el('h1', { tabindex: '-1', text: ta('signin.heading') }),
    el('p', { class: 'hint', text: ta('signin.hint') }),
    field(ta('signin.username'), username),
    field(ta('signin.password'), password),
    button, msg);
  const view = el('div', { class: 'view' }, form);
  fill(app, view);
  if (pendingMessage) {
    say(msg, pendingMessage, 'error');
    pendingMessage = '';
  }
  form.addEventListener('submit', async (event) => {
    event.preventDefault();
    if (!username.value.trim() || !password.value) {
      say(msg, ta('signin.required'), 'error');
      (username.value.trim() ? password : username).focus();
      return;
    }
    button.disabled = true;
    say(msg, ta('signin.working'));
    try {
      clearSession();
      const answer = await api('POST', '/api/auth/login', {
        body: { username: username.value.trim(), password: password.value },
        retries: 0,
      });
      if (!answer.user || answer.user.role !== 'admin') {
        // A student's token is of no use here: end it at once and say why.
        try {
          await api('POST', '/api/auth/logout', { headers: { Authorization: 'Bearer ' + answer.token }, retries: 0 });
        } catch {
          // It expires on its own.
        }
        say(msg, ta('signin.notAdmin', { name: answer.user ? answer.user.username : '' }), 'error');
        password.value = '';
        password.focus();
        return;
      }
      setSession(answer.token, answer.user);
      if (!location.hash || location.hash === '#' || location.hash === '#/') location.hash = '#/courses';
      else route();
    } catch (error) {
      say(msg, error.status === 401 ? ta('signin.wrong') : errorText(error), 'error');
      password.focus();
    } finally {
      button.disabled = false;
    }
  });
  if (!username.value) username.focus();
}

async function route() {
  stopPage();
  if (!isAdmin()) {
    renderSignIn();
    return;
  }
  const hash = location.hash || '';
  const found = ROUTES.map(([pattern, render, nav]) => ({ m: pattern.exec(hash), render, nav })).find((r) => r.m);
  if (!found) {
    location.replace('#/courses');
    return;
  }
  renderTop(getUser(), found.nav);
  const view = el('div', { class: 'view' });
  fill(app, view);
  const page = { onCleanup: (fn) => cleanups.push(fn) };
  try {
    await found.render(view, (found.m.groups || {}), page);
  } catch (error) {
    fill(view, el('p', { class: 'msg error', role: 'alert', text: errorText(error) }));
  }
  // Move focus to the new page's heading, unless the user is already working in it.
  const active = document.activeElement;
  if (view.isConnected && (!active || active === document.body || !view.contains(active))) {
    const heading = view.querySelector('h1');
    if (heading) heading.focus({ preventScroll: true });
  }
  const heading = view.querySelector('h1');
  document.title = heading ? `${heading.textContent} — ${ta('app.name')}` : ta('app.name');
}

window.addEventListener('hashchange', route);
window.addEventListener('admin-signed-out', (event) => {
  if (document.getElementById('sign-in-form')) return;
  pendingMessage = event.detail || ta('signin.expired');
  route();
});
route();
