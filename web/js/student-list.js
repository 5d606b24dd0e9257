// "My contests": every contest the student may see, with their own times (in the browser's
// time zone), a countdown for upcoming and open ones, and what they submitted.

import { api } from './api.js';
import { formatDateTime, formatDuration, parseTime } from './clock.js';
import { h, replaceChildren, timeEl } from './student-dom.js';
import { errorText, sessionClock, statusLabel } from './student-common.js';
import { t } from './strings.js';

const BULK_MAX = 100;

async function submissionsOf(ids) {
  const byContest = new Map();
  for (let i = 0; i < ids.length; i += BULK_MAX) {
    const chunk = ids.slice(i, i + BULK_MAX);
    const res = await api('GET', `/api/contests/my-submissions-bulk?contest_ids=${chunk.join(',')}`);
    for (const s of res.submissions || []) byContest.set(s.contest_id, s);
  }
  return byContest;
}

export function listView(root, ctx) {
  let timer = null;
  let reloadTimer = null;
  let gone = false;
  let loadedAt = 0;
  const countdowns = [];

  const heading = h('h1', { tabindex: '-1' }, t('myContests'));
  const message = h('p', { class: 'message', role: 'status' }, t('loading'));
  const list = h('ul', { class: 'contest-list', id: 'contests' });
  replaceChildren(root, heading, message, list);

  const tick = () => {
    const now = sessionClock.now();
    for (const c of countdowns) {
      const remaining = c.target - now;
      if (remaining <= 0) {
        // The status has changed: ask the server (at most every few seconds, in case the
        // clocks disagree a little).
        if (!reloadTimer) reloadTimer = setTimeout(load, Math.max(1500, loadedAt + 5000 - Date.now()));
        if (c.el.textContent !== '') c.el.textContent = '';
        continue;
      }
      const text = t(c.kind, { time: formatDuration(remaining) });
      if (c.el.textContent !== text) c.el.textContent = text;
    }
  };

  function item(c, sub) {
    const start = parseTime(c.start_time);
    const end = parseTime(c.end_time);
    const details = [
      h('span', { class: `badge status-${c.status}`, 'data-test': 'status' }, statusLabel(c.status)),
      h(
        'dl',
        { class: 'times' },
        h('div', null, h('dt', null, t('startsAt')), h('dd', null, timeEl(c.start_time, formatDateTime(c.start_time)))),
        h('div', null, h('dt', null, t('endsAt')), h('dd', null, timeEl(c.end_time, formatDateTime(c.end_time)))),
      ),
    ];
    if (c.status !== 'closed' && !c.submitted) {
      const el = h('span', { class: 'list-countdown', 'data-test': 'list-countdown' });
      countdowns.push(
        c.status === 'upcoming' ? { el, target: start, kind: 'startsIn' } : { el, target: end, kind: 'endsIn' },
      );
      details.push(el);
    }
    if (c.submitted) {
      const bits = [t(sub && sub.auto ? 'submittedAuto' : 'submitted')];
      if (sub && sub.score !== null && sub.score !== undefined) {
        bits.push(t('scoreOf', { score: sub.score, max: sub.max_score }));
      } else {
        bits.push(t('resultsLater'));
      }
      details.push(h('p', { class: 'submitted', 'data-test': 'submitted' }, bits.join(' · ')));
    } else if (c.status === 'closed') {
      details.push(h('p', { class: 'submitted' }, t('notSubmitted')));
    }
    return h(
      'li',
      { class: 'contest-item' },
      h('a', { href: `#/contest/${c.id}`, 'data-test': 'contest', 'data-id': c.id, class: 'contest-link' }, c.title),
      h('div', { class: 'contest-meta' }, details),
    );
  }

  async function load() {
    clearTimeout(reloadTimer);
    reloadTimer = null;
    loadedAt = Date.now();
    try {
      const { contests } = await api('GET', '/api/contests');
      const submittedIds = contests.filter((c) => c.submitted).map((c) => c.id);
      let subs = new Map();
      if (submittedIds.length) {
        try {
          subs = await submissionsOf(submittedIds);
        } catch (err) {
          if (ctx.expired(err)) return;
        }
      }
      if (gone) return;
      countdowns.length = 0;
      replaceChildren(list, contests.map((c) => item(c, subs.get(c.id))));
      message.textContent = contests.length ? '' : t('noContests');
      message.hidden = contests.length > 0;
      tick();
    } catch (err) {
      if (gone || ctx.expired(err)) return;
      message.hidden = false;
      replaceChildren(message, errorText(err), ' ', h('button', { type: 'button', onclick: load }, t('retry')));
    }
  }

  load();
  timer = setInterval(tick, 500);
  return () => {
    gone = true;
    clearInterval(timer);
    clearTimeout(reloadTimer);
  };
}
