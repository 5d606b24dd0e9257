// The student's page: sign in, "My contests" (#/) and one contest (#/contest/ID).

import { api, clearSession, getToken, getUser, setSession } from './api.js';
import { h, replaceChildren } from './student-dom.js';
import { errorText } from './student-common.js';
import { listView } from './student-list.js';
import { contestView } from './student-contest.js';
import { t } from './strings.js';

const app = document.getElementById('app');
const brand = document.getElementById('brand');
const session = document.getElementById('session');
const whoami = document.getElementById('whoami');
const signOutButton = document.getElementById('sign-out');

brand.textContent = t('appName');
signOutButton.textContent = t('signOut');

let teardown = null;
let firstRoute = true;
let loginNotice = '';

// The view's answer to a refusal: a dead token sends the student back to sign in.
const ctx = {
  expired(err) {
    if (!err || err.status !== 401) return false;
    clearSession();
    loginNotice = t('sessionExpired');
    route();
    return true;
  },
};

function showSession() {
  const user = getUser();
  session.hidden = !user;
  replaceChildren(whoami, user ? t('signedInAs', { username: user.username }) : '');
}

function route() {
  if (teardown) {
    teardown();
    teardown = null;
  }
  document.title = t('appName');
  showSession();
  if (!getToken()) {
    teardown = loginView(app);
    firstRoute = false;
    return;
  }
  const match = /^#\/contest\/(\d+)\/?$/.exec(location.hash);
  if (match) {
    teardown = contestView(app, Number(match[1]), ctx);
  } else {
    teardown = listView(app, ctx);
    const user = getUser();
    if (user && user.role === 'admin') {
      app.appendChild(h('p', { class: 'muted' }, t('adminHint'), ' ', h('a', { href: '/admin' }, t('adminLink'))));
    }
  }
  // Moving between views: focus the new view's heading, so keyboards and screen readers
  // start there.
  if (!firstRoute) {
    const heading = app.querySelector('h1');
    if (heading) heading.focus();
  }
  firstRoute = false;
}

function loginView(root) {
  const username = h('input', { id: 'username', name: 'username', autocomplete: 'username', required: true, autocapitalize: 'none', spellcheck: 'false' });
  const password = h('input', { id: 'password', name: 'password', type: 'password', autocomplete: 'current-password', required: true });
  const button = h('button', { type: 'submit', id: 'sign-in', class: 'primary' }, t('signIn'));
  const error = h('p', { id: 'sign-in-error', class: 'error', role: 'alert' }, loginNotice);
  loginNotice = '';
  const form = h(
    'form',
    { id: 'sign-in-form', class: 'sign-in', 'aria-labelledby': 'sign-in-heading', novalidate: true },
    h('div', { class: 'field' }, h('label', { for: 'username' }, t('username')), username),
    h('div', { class: 'field' }, h('label', { for: 'password' }, t('password')), password),
    error,
    h('div', { class: 'actions' }, button),
  );
  let busy = false;
  form.addEventListener('submit', async (event) => {
    event.preventDefault();
    if (busy) return;
    if (!username.value || !password.value) {
      error.textContent = t('wrongCredentials');
      (username.value ? password : username).focus();
      return;
    }
    busy = true;
    button.disabled = true;
    button.textContent = t('signingIn');
    error.textContent = '';
    try {
      const res = await api('POST', '/api/auth/login', {
        body: { username: username.value, password: password.value },
        retries: 0,
      });
      setSession(res.token, res.user);
      if (/^#\/contest\/\d+\/?$/.test(location.hash)) route();
      else if (location.hash === '#/') route();
      else location.hash = '#/';
      return;
    } catch (err) {
      if (err.status === 401) error.textContent = t('wrongCredentials');
      else if (err.status === 429) error.textContent = t('tooManyAttempts');
      else error.textContent = errorText(err);
      password.select();
      password.focus();
    } finally {
      busy = false;
      button.disabled = false;
      button.textContent = t('signIn');
    }
  });
  replaceChildren(root, h('h1', { id: 'sign-in-heading', tabindex: '-1' }, t('signInTitle')), form);
  username.focus();
  return null;
}

signOutButton.addEventListener('click', async () => {
  if (teardown) {
    teardown();
    teardown = null;
  }
  try {
    await api('POST', '/api/auth/logout', { retries: 1 });
  } catch {
    // The token dies with the session anyway: sessionStorage is cleared below.
  }
  clearSession();
  if (location.hash === '#/' || location.hash === '') route();
  else location.hash = '#/';
});

window.addEventListener('hashchange', route);
route();
