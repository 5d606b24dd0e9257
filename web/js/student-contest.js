// One contest for the student: the countdown on the server's clock, the live socket, the
// announcements, the questions with autosave, submitting with a receipt, and what happens at
// the deadline.

import { api, newIdempotencyKey, retryDelay } from './api.js';
import { formatClockTime, formatDateTime, formatDuration, formatFullDateTime, parseTime } from './clock.js';
import { openLive } from './live.js';
import { h, replaceChildren, timeEl } from './student-dom.js';
import { errorText, rememberClock, sessionClock } from './student-common.js';
import { collectAnswers, describeAnswer, loadAnswers, renderQuestion } from './student-questions.js';
import { t } from './strings.js';

const SAVE_DEBOUNCE_MS = 2000;
const SAVE_PERIOD_MS = 15000;
const TICK_MS = 250;
const WARN_MINUTES = [10, 5, 1];
// After the end, how long to look for the automatic submission (API.md: grace ≤ 300 s, then
// within 2 s).
const AUTO_WATCH_MS = 310000;

export function contestView(root, contestId, ctx) {
  const clock = sessionClock;
  const s = {
    contest: null,
    start: NaN,
    end: NaN,
    mode: 'loading', // upcoming | form | receipt | closed | error
    answers: new Map(),
    draftLoaded: false,
    version: 0,
    savedVersion: 0,
    rejectedVersion: -1,
    saving: false,
    saveTimer: null,
    saveAttempt: 0,
    locked: false,
    submitting: false,
    fired: new Set(),
    lastRemaining: null,
    reloadTimer: null,
    loadedAt: 0,
    wasLive: false,
    hasDraft: false,
    pollTimer: null,
    pollAttempt: 0,
    announcements: new Map(),
    gone: false,
    liveState: null,
  };
  let live = null;
  let formQuestions = [];

  // The frame of the page; the body changes with the mode.
  const heading = h('h1', { tabindex: '-1', class: 'contest-title' }, t('loading'));
  const countdown = h('p', { id: 'countdown', class: 'countdown', role: 'timer', 'aria-atomic': 'true' });
  const connectionText = h('span', { class: 'connection-text' }, t('connectionReconnecting'));
  const connection = h(
    'p',
    { id: 'connection', class: 'connection', 'data-state': 'reconnecting', title: t('connectionLabel') },
    h('span', { class: 'dot', 'aria-hidden': 'true' }),
    connectionText,
  );
  const saveStatus = h('p', { id: 'save-status', class: 'save-status', 'data-state': 'saved' }, t('saveNothing'));
  const windowLine = h('p', { class: 'window' });
  const warnings = h('div', { id: 'warnings', class: 'warnings', 'aria-live': 'polite' });
  const annEmpty = h('p', { class: 'muted' }, t('noAnnouncements'));
  const annList = h('ul', { id: 'announcements', class: 'announcement-list' });
  const annSection = h(
    'section',
    { class: 'announcements', 'aria-labelledby': 'announcements-heading' },
    h('h2', { id: 'announcements-heading' }, t('announcements')),
    annEmpty,
    annList,
  );
  const message = h('div', { class: 'message', role: 'status' });
  const body = h('div', { class: 'contest-body' });

  // The confirmation dialog.
  const unansweredIntro = h('p', { id: 'unanswered-intro' });
  const unanswered = h('ul', { id: 'unanswered', class: 'unanswered' });
  const confirmCancel = h('button', { type: 'button', id: 'confirm-cancel' }, t('cancel'));
  const confirmSubmit = h('button', { type: 'button', id: 'confirm-submit', class: 'primary' }, t('confirmSubmit'));
  const dialog = h(
    'dialog',
    { id: 'confirm', 'aria-labelledby': 'confirm-title', 'aria-describedby': 'confirm-text' },
    h('h2', { id: 'confirm-title' }, t('confirmTitle')),
    h('p', { id: 'confirm-text' }, t('confirmText')),
    unansweredIntro,
    unanswered,
    h('div', { class: 'actions' }, confirmCancel, confirmSubmit),
  );
  confirmCancel.addEventListener('click', () => dialog.close());
  confirmSubmit.addEventListener('click', () => {
    dialog.close();
    submit();
  });

  replaceChildren(
    root,
    h('nav', { class: 'crumbs' }, h('a', { href: '#/' }, t('backToList'))),
    heading,
    h('div', { class: 'contest-bar' }, countdown, connection, saveStatus),
    windowLine,
    warnings,
    annSection,
    message,
    body,
    dialog,
  );

  // ---- Times -------------------------------------------------------------------------

  function setTimes(startIso, endIso) {
    const start = parseTime(startIso);
    const end = parseTime(endIso);
    if (!Number.isFinite(start) || !Number.isFinite(end)) return;
    if (end !== s.end) {
      // A later end: the warnings it brings back may come again.
      const remaining = end - clock.now();
      for (const m of WARN_MINUTES) if (remaining > m * 60000) s.fired.delete(m);
      s.lastRemaining = null;
    }
    s.start = start;
    s.end = end;
    replaceChildren(
      windowLine,
      h('span', { class: 'label' }, t('yourWindow') + ': '),
      timeEl(startIso, formatDateTime(startIso)),
      ' – ',
      timeEl(endIso, formatDateTime(endIso)),
    );
  }

  function tick() {
    if (s.gone || !Number.isFinite(s.end)) return;
    const now = clock.now();
    let remaining;
    let text;
    if (now < s.start) {
      remaining = s.start - now;
      text = t('countdownStartsIn', { time: formatDuration(remaining) });
      countdown.dataset.phase = 'upcoming';
    } else if (now < s.end) {
      remaining = s.end - now;
      text = t('countdownTimeLeft', { time: formatDuration(remaining) });
      countdown.dataset.phase = 'open';
    } else {
      remaining = 0;
      text = t('countdownEnded');
      countdown.dataset.phase = 'closed';
    }
    countdown.dataset.remainingMs = String(Math.round(remaining));
    if (countdown.textContent !== text) countdown.textContent = text;
    countdown.classList.toggle('urgent', now >= s.start && remaining > 0 && remaining <= 60000);

    if (s.mode === 'upcoming' && now >= s.start) reloadSoon(500);
    if (s.mode === 'form' && !s.locked) {
      const left = s.end - now;
      if (s.lastRemaining !== null) {
        for (const m of WARN_MINUTES) {
          const at = m * 60000;
          if (s.lastRemaining > at && left <= at && !s.fired.has(m)) {
            s.fired.add(m);
            warn(m);
          }
        }
      }
      s.lastRemaining = left;
      if (left <= 0) lockForm();
    }
  }

  function warn(minutes) {
    const text = minutes === 1 ? t('warningMinute') : t('warningMinutes', { n: minutes });
    replaceChildren(warnings, h('p', { class: 'warning', 'data-minutes': minutes }, text));
  }

  // ---- Loading -----------------------------------------------------------------------

  // At most one load every 2 s, in case the clocks disagree on a moment.
  function reloadSoon(delay = 300) {
    if (s.gone || s.reloadTimer) return;
    s.reloadTimer = setTimeout(load, Math.max(delay, s.loadedAt + 2000 - Date.now()));
  }

  async function load() {
    clearTimeout(s.reloadTimer);
    s.reloadTimer = null;
    s.loadedAt = Date.now();
    let contest;
    const sent = Date.now();
    try {
      contest = await api('GET', `/api/contests/${contestId}`);
    } catch (err) {
      if (s.gone || ctx.expired(err)) return;
      showError(err);
      return;
    }
    if (s.gone) return;
    clock.http(parseTime(contest.server_time), sent, Date.now());
    rememberClock();
    s.contest = contest;
    heading.textContent = contest.title;
    document.title = t('pageTitle', { title: contest.title });
    setTimes(contest.start_time, contest.end_time);
    if (!live) startLive();
    tick();
    if (contest.status === 'upcoming') {
      showUpcoming();
      return;
    }
    if (s.mode === 'receipt') return;
    const sub = await mySubmission();
    if (s.gone || sub === undefined) return;
    if (sub) {
      showReceipt(sub, false);
    } else if (contest.status === 'open') {
      await showForm(contest);
    } else {
      await showClosed();
    }
  }

  // The student's submission, null when there is none, undefined when the request failed
  // (the failure is shown).
  async function mySubmission() {
    try {
      return await api('GET', `/api/contests/${contestId}/my-submission`);
    } catch (err) {
      if (err.status === 404) return null;
      if (!s.gone && !ctx.expired(err)) showError(err);
      return undefined;
    }
  }

  function showError(err) {
    replaceChildren(message, h('p', { class: 'error' }, errorText(err)), h('button', { type: 'button', onclick: () => { replaceChildren(message); load(); } }, t('retry')));
    if (s.mode === 'loading') s.mode = 'error';
  }

  function showUpcoming() {
    s.mode = 'upcoming';
    replaceChildren(message);
    replaceChildren(body, h('p', { class: 'notice' }, t('contestUpcoming')));
  }

  // ---- Announcements -------------------------------------------------------------------

  async function loadAnnouncements() {
    try {
      const { announcements } = await api('GET', `/api/contests/${contestId}/announcements`);
      for (const a of announcements) addAnnouncement(a, false);
    } catch (err) {
      if (!s.gone) ctx.expired(err);
    }
    annList.setAttribute('aria-live', 'polite');
  }

  const newer = (a, b) => (a.created_at === b.created_at ? a.id > b.id : parseTime(a.created_at) > parseTime(b.created_at));

  function addAnnouncement(a, fresh) {
    if (!a || s.announcements.has(a.id)) return;
    s.announcements.set(a.id, a);
    const li = h(
      'li',
      { class: fresh ? 'announcement fresh' : 'announcement', 'data-id': a.id },
      h('p', { class: 'announcement-time' }, timeEl(a.created_at, formatDateTime(a.created_at))),
      h('p', { class: 'announcement-text' }, a.text),
    );
    // Newest first.
    const before = Array.from(annList.children).find((other) => newer(a, s.announcements.get(Number(other.dataset.id))));
    annList.insertBefore(li, before || null);
    annEmpty.hidden = true;
  }

  // ---- The live socket -------------------------------------------------------------------

  function startLive() {
    live = openLive(contestId, {
      clock,
      onStatus(status) {
        connection.dataset.state = status;
        connectionText.textContent = t(status === 'live' ? 'connectionLive' : 'connectionReconnecting');
        // Back after a gap: announcements may have been missed.
        if (status === 'live' && s.wasLive && s.liveState === 'reconnecting') loadAnnouncements();
        if (status === 'live') s.wasLive = true;
        s.liveState = status;
      },
      onFrame,
    });
    loadAnnouncements();
  }

  function onFrame(frame) {
    if (s.gone) return;
    rememberClock();
    if (frame.contest_id !== undefined && Number(frame.contest_id) !== Number(contestId)) return;
    switch (frame.type) {
      case 'state':
        setTimes(frame.start_time, frame.end_time);
        if (s.mode === 'upcoming' && frame.status !== 'upcoming') reloadSoon();
        else if (s.mode === 'form' && frame.status === 'closed') lockForm();
        else if (s.mode === 'form' && s.locked && frame.status === 'open') reloadSoon();
        else if (s.mode === 'closed' && frame.status === 'open') reloadSoon();
        break;
      case 'started':
      case 'schedule_changed':
        setTimes(frame.start_time, frame.end_time);
        reloadSoon();
        break;
      case 'ended':
        setTimes(frame.start_time, frame.end_time);
        if (s.mode === 'form') lockForm();
        else if (s.mode === 'upcoming') reloadSoon();
        break;
      case 'announcement':
        addAnnouncement(frame, true);
        break;
      case 'regraded':
        if (s.mode === 'receipt') refreshReceipt(true);
        break;
      default:
        break;
    }
    tick();
  }

  // ---- The form and autosave --------------------------------------------------------------

  const submitButton = h('button', { type: 'button', id: 'submit', class: 'primary' }, t('submit'));
  const submitError = h('p', { class: 'error', role: 'alert', id: 'submit-error' });
  const lockNotice = h('p', { class: 'notice', id: 'time-over', hidden: true }, t('saveClosed'));
  submitButton.addEventListener('click', openConfirm);

  function setSave(state, text) {
    saveStatus.dataset.state = state;
    saveStatus.textContent = text;
  }

  async function showForm(contest) {
    const questions = contest.questions || [];
    const same =
      s.mode === 'form' &&
      formQuestions.length === questions.length &&
      formQuestions.every((q, i) => q.id === questions[i].id);
    formQuestions = questions;
    if (!s.draftLoaded) {
      try {
        const draft = await api('GET', `/api/contests/${contestId}/draft`);
        loadAnswers(questions, draft.answers, s.answers);
        setSave('saved', t('saveSaved', { time: formatClockTime(draft.saved_at) }));
        s.hasDraft = true;
      } catch (err) {
        if (s.gone || (err.status !== 404 && ctx.expired(err))) return;
      }
      s.draftLoaded = true;
      if (s.gone) return;
    }
    replaceChildren(message);
    if (same) {
      // The times changed (or the end moved later): keep the form as it is, typing included.
      unlockForm();
      return;
    }
    s.mode = 'form';
    s.locked = false;
    const fieldsets = questions.map((q, i) => renderQuestion(q, i, s.answers, changed));
    const form = h(
      'form',
      { class: 'questions', id: 'questions', 'aria-labelledby': 'questions-heading', novalidate: true },
      h('h2', { id: 'questions-heading', class: 'visually-hidden' }, t('questionsHeading')),
      h('fieldset', { class: 'all-questions', id: 'all-questions' }, fieldsets),
      lockNotice,
      h('div', { class: 'actions' }, submitButton),
      submitError,
    );
    form.addEventListener('submit', (event) => event.preventDefault());
    replaceChildren(body, form);
    unlockForm();
  }

  function unlockForm() {
    s.locked = false;
    lockNotice.hidden = true;
    const all = body.querySelector('#all-questions');
    if (all) all.disabled = false;
    submitButton.disabled = s.submitting;
    s.lastRemaining = null;
  }

  function changed() {
    s.version += 1;
    clearTimeout(s.saveTimer);
    s.saveTimer = setTimeout(save, SAVE_DEBOUNCE_MS);
    // A save is on its way: the status must not still say the work is saved.
    if (saveStatus.dataset.state !== 'error') setSave('saving', t('saveSaving'));
  }

  const dirty = () => s.version !== s.savedVersion && s.version !== s.rejectedVersion;

  async function save() {
    clearTimeout(s.saveTimer);
    s.saveTimer = null;
    if (s.saving || s.submitting || s.mode !== 'form' || !dirty()) return;
    const version = s.version;
    const answers = collectAnswers(formQuestions, s.answers);
    s.saving = true;
    setSave('saving', t('saveSaving'));
    let retry = false;
    try {
      const saved = await api('PUT', `/api/contests/${contestId}/draft`, { body: { answers }, retries: 0 });
      s.savedVersion = Math.max(s.savedVersion, version);
      s.saveAttempt = 0;
      s.hasDraft = true;
      setSave('saved', t('saveSaved', { time: formatClockTime(saved.saved_at) }));
    } catch (err) {
      if (ctx.expired(err)) return;
      if (err.code === 'already_submitted') {
        // Submitted elsewhere (another tab, or automatically): show that submission.
        if (!s.submitting) refreshReceipt(false);
      } else if (err.code === 'contest_not_open') {
        setSave('error', t('saveRejected', { message: err.message }));
        lockForm();
      } else if (err.status === 400) {
        // This body will never be accepted: wait for the next change.
        s.rejectedVersion = version;
        setSave('error', t('saveRejected', { message: err.message }));
      } else {
        retry = true;
        setSave('error', t('saveError'));
      }
    } finally {
      s.saving = false;
    }
    if (s.gone || s.mode !== 'form') return;
    if (retry) {
      s.saveTimer = setTimeout(save, retryDelay(s.saveAttempt + 2));
      s.saveAttempt += 1;
    } else if (dirty() && !s.saveTimer) {
      s.saveTimer = setTimeout(save, SAVE_DEBOUNCE_MS);
    }
  }

  // The student's end has passed: no more changes; the last ones are saved at once (a grace
  // period may still take them), then the automatic submission is looked for.
  function lockForm() {
    if (s.locked || s.mode !== 'form') return;
    s.locked = true;
    if (dialog.open) dialog.close();
    const all = body.querySelector('#all-questions');
    if (all) all.disabled = true;
    submitButton.disabled = true;
    lockNotice.hidden = false;
    if (dirty() && !s.saving) save();
    s.pollAttempt = 0;
    clearTimeout(s.pollTimer);
    s.pollTimer = setTimeout(watchAuto, 2500);
  }

  async function watchAuto() {
    s.pollTimer = null;
    if (s.gone || s.mode === 'receipt') return;
    const sub = await mySubmission();
    if (s.gone || s.mode === 'receipt') return;
    if (sub) {
      showReceipt(sub, false);
      return;
    }
    if (s.mode === 'form' && !s.locked) return;
    if (s.mode === 'form' && !s.hasDraft && !dirty() && !s.saving) {
      // Nothing was saved: nothing will be submitted automatically.
      await showClosed();
      return;
    }
    if (clock.now() - s.end < AUTO_WATCH_MS) {
      s.pollAttempt += 1;
      s.pollTimer = setTimeout(watchAuto, Math.min(30000, 2500 * 2 ** s.pollAttempt));
    } else if (s.mode === 'form') {
      await showClosed();
    }
  }

  // Closed without a submission: if a draft is still waiting for its automatic submission,
  // say so and look again; else there is nothing.
  async function showClosed() {
    let draft = null;
    try {
      draft = await api('GET', `/api/contests/${contestId}/draft`);
    } catch (err) {
      if (s.gone || (err.status !== 404 && ctx.expired(err))) return;
    }
    if (s.gone) return;
    replaceChildren(message);
    if (draft && clock.now() - s.end < AUTO_WATCH_MS) {
      s.mode = 'closed';
      replaceChildren(body, h('p', { class: 'notice', id: 'waiting-auto' }, t('waitingAuto')));
      if (!s.pollTimer) s.pollTimer = setTimeout(watchAuto, 2500);
      return;
    }
    s.mode = 'closed';
    replaceChildren(body, h('p', { class: 'notice' }, t('contestClosed')), h('p', { id: 'no-submission' }, t('noSubmission')));
  }

  // ---- Submitting -------------------------------------------------------------------------

  function openConfirm() {
    if (s.locked || s.submitting || s.mode !== 'form') return;
    const missing = formQuestions
      .map((q, i) => ({ q, n: i + 1 }))
      .filter(({ q }) => !s.answers.has(q.id));
    unansweredIntro.textContent = missing.length ? t('unansweredIntro') : t('allAnswered');
    replaceChildren(
      unanswered,
      missing.map(({ q, n }) =>
        h('li', { 'data-id': q.id }, t('questionHeading', { n }) + ': ', h('span', { class: 'q-prompt-short' }, q.prompt)),
      ),
    );
    unanswered.hidden = missing.length === 0;
    dialog.showModal();
  }

  async function submit() {
    if (s.locked || s.submitting || s.mode !== 'form') return;
    // One key per attempt; api() repeats it on its own retries of this attempt.
    const key = newIdempotencyKey();
    s.submitting = true;
    clearTimeout(s.saveTimer);
    s.saveTimer = null;
    submitButton.disabled = true;
    submitButton.textContent = t('submitting');
    submitError.textContent = '';
    const answers = collectAnswers(formQuestions, s.answers);
    try {
      const result = await api('POST', `/api/contests/${contestId}/submissions`, {
        body: { answers },
        headers: { 'Idempotency-Key': key },
        retries: 4,
      });
      if (s.gone) return;
      showReceipt(result, true);
      return;
    } catch (err) {
      if (s.gone || ctx.expired(err)) return;
      if (err.code === 'already_submitted') {
        const sub = await mySubmission();
        if (sub) {
          showReceipt(sub, true);
          return;
        }
      }
      submitError.textContent =
        err.code === 'contest_not_open' ? t('submitNotOpen') : t('submitFailed', { message: errorText(err) });
    } finally {
      s.submitting = false;
      submitButton.textContent = t('submit');
      submitButton.disabled = s.locked;
    }
  }

  // ---- The receipt ----------------------------------------------------------------------

  async function refreshReceipt(regraded) {
    const sub = await mySubmission();
    if (sub && !s.gone) {
      showReceipt(sub, false);
      if (regraded) {
        const note = h('p', { class: 'notice', id: 'regraded' }, t('regraded'));
        body.querySelector('#receipt')?.prepend(note);
      }
    }
  }

  function showReceipt(sub, fresh) {
    s.mode = 'receipt';
    s.locked = true;
    clearTimeout(s.saveTimer);
    clearTimeout(s.pollTimer);
    s.saveTimer = s.pollTimer = null;
    if (dialog.open) dialog.close();
    replaceChildren(message);
    replaceChildren(warnings);
    const receiptJson = JSON.stringify(sub.receipt);
    const copyStatus = h('p', { class: 'copy-status', role: 'status' });
    const copyButton = h('button', { type: 'button', id: 'copy-receipt' }, t('copyReceipt'));
    const pre = h('pre', { id: 'receipt-json', class: 'receipt-json', tabindex: '0' }, receiptJson);
    copyButton.addEventListener('click', () => copyReceipt(receiptJson, pre, copyStatus));
    const hasScore = sub.score !== null && sub.score !== undefined;
    const rows = [
      h('div', null, h('dt', null, t('receiptId')), h('dd', null, h('code', { id: 'receipt-id' }, sub.id))),
      h('div', null, h('dt', null, t('receiptTime')), h('dd', { id: 'receipt-time' }, timeEl(sub.submitted_at, formatFullDateTime(sub.submitted_at)))),
    ];
    if (hasScore) {
      rows.push(
        h('div', null, h('dt', null, t('score')), h('dd', { id: 'score', 'data-score': sub.score, 'data-max-score': sub.max_score }, t('scoreValue', { score: sub.score, max: sub.max_score }))),
      );
    }
    const title = h('h2', { id: 'receipt-heading', tabindex: '-1' }, t('receiptTitle'));
    const section = h(
      'section',
      { id: 'receipt', class: 'receipt', 'aria-labelledby': 'receipt-heading', 'data-submission-id': sub.id },
      title,
      sub.auto ? h('p', { id: 'auto-submitted', class: 'notice' }, t('autoSubmitted')) : null,
      h('dl', { class: 'receipt-facts' }, rows),
      hasScore ? null : h('p', { class: 'muted', id: 'score-pending' }, t('scorePending')),
      h('h3', null, t('receiptJson')),
      h('p', { class: 'muted' }, t('receiptHelp')),
      pre,
      h('div', { class: 'actions' }, copyButton),
      copyStatus,
      answersSummary(sub),
    );
    replaceChildren(body, section);
    if (fresh) title.focus();
  }

  function answersSummary(sub) {
    const questions = (s.contest && s.contest.questions) || [];
    if (!questions.length || !Array.isArray(sub.answers)) return null;
    const byId = new Map(sub.answers.map((a) => [a.question_id, a]));
    return h(
      'details',
      { class: 'my-answers' },
      h('summary', null, t('yourAnswers')),
      h(
        'ol',
        null,
        questions.map((q) =>
          h('li', null, h('span', { class: 'q-prompt' }, q.prompt), h('span', { class: 'my-answer' }, describeAnswer(q, byId.get(q.id)))),
        ),
      ),
    );
  }

  async function copyReceipt(text, pre, status) {
    try {
      await navigator.clipboard.writeText(text);
      status.textContent = t('copied');
    } catch {
      // No clipboard permission (or not a secure context): select the text instead.
      const range = document.createRange();
      range.selectNodeContents(pre);
      const selection = window.getSelection();
      selection.removeAllRanges();
      selection.addRange(range);
      let ok = false;
      try {
        ok = document.execCommand('copy');
      } catch {
        ok = false;
      }
      status.textContent = t(ok ? 'copied' : 'copyFailed');
    }
  }

  // ---- Start and stop -----------------------------------------------------------------------

  const ticker = setInterval(tick, TICK_MS);
  const periodic = setInterval(() => {
    if (dirty() && !s.saving && s.mode === 'form') save();
  }, SAVE_PERIOD_MS);
  const onHidden = () => {
    if (document.visibilityState === 'hidden' && dirty()) save();
    else tick();
  };
  document.addEventListener('visibilitychange', onHidden);

  load();

  return () => {
    if (dirty() && s.mode === 'form' && !s.locked) save();
    s.gone = true;
    clearInterval(ticker);
    clearInterval(periodic);
    clearTimeout(s.reloadTimer);
    clearTimeout(s.pollTimer);
    document.removeEventListener('visibilitychange', onHidden);
    if (dialog.open) dialog.close();
    if (live) live.close();
    rememberClock();
  };
}
