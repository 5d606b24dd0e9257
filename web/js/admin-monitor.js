// The live monitor of one contest: countdown (WebSocket state frames, else the contest's
// server_time), counts and submissions per second (bulk-stats every 2 s), the runtime's
// figures (/health), p99 latencies, warm-up, announcements, accommodations, leaderboard, CSV.
import { getToken } from './api.js';
import { ta } from './admin-strings.js';
import { el, fill, field, messageLine, say, errorText, call, table, fmtLocal, fmtUtc, fmtBoth, fmtDuration, toLocalInput, fromLocalInput, downloadText, parseCsv } from './admin-dom.js';
import { drawRateChart } from './admin-chart.js';

const POLL_MS = 2000;
const SLOW_MS = 10000;
const AUTO_MS = 60000;

// A poller that never overlaps itself and stops with the page.
function every(ms, fn, onCleanup) {
  let busy = false;
  const run = async () => {
    if (busy) return;
    busy = true;
    try {
      await fn();
    } finally {
      busy = false;
    }
  };
  const handle = setInterval(run, ms);
  onCleanup(() => clearInterval(handle));
  return run;
}

function figure(id, label, value = '—') {
  return el('div', { class: 'figure' },
    el('span', { class: 'figure-label', id: id + '-label', text: label }),
    el('output', { id, class: 'figure-value', 'aria-labelledby': id + '-label', text: value }));
}

export async function renderMonitor(view, params, { onCleanup }) {
  const id = Number(params.id);
  fill(view, el('p', { text: ta('loading') }));
  let contest;
  try {
    contest = await call('GET', `/api/contests/${id}`);
  } catch (error) {
    fill(view, el('p', { class: 'msg error', role: 'alert', text: errorText(error) }));
    return;
  }
  let stopped = false;
  let socket = null;
  let retry = 1000;
  onCleanup(() => {
    stopped = true;
  });

  // Clock: the server's time, as the last frame (or the contest's server_time) told it.
  const clock = {
    offset: Date.parse(contest.server_time) - Date.now(),
    start: Date.parse(contest.start_time),
    end: Date.parse(contest.end_time),
    status: contest.status,
  };
  const countdownLabel = el('span', { id: 'countdown-label', class: 'figure-label', text: '' });
  const countdown = el('span', { id: 'countdown', class: 'countdown', role: 'timer', 'aria-labelledby': 'countdown-label', text: '--:--:--' });
  const transition = el('p', { class: 'visually-hidden', role: 'status', 'aria-live': 'polite', id: 'countdown-status' });
  const statusBadge = el('span', { id: 'monitor-status', class: `badge ${contest.status}`, text: ta('status.' + contest.status) });
  const windowLine = el('p', { id: 'monitor-window' });
  const wsStatus = el('span', { id: 'ws-status', class: 'hint', text: ta('monitor.wsConnecting') });

  const showWindow = () => {
    const start = new Date(clock.start).toISOString();
    const end = new Date(clock.end).toISOString();
    windowLine.textContent = ta('monitor.window', { start: fmtBoth(start), end: fmtBoth(end) });
  };
  showWindow();
  let lastStatus = clock.status;
  const tick = () => {
    const now = Date.now() + clock.offset;
    let status;
    let remaining;
    if (now < clock.start) {
      status = 'upcoming';
      remaining = clock.start - now;
    } else if (now < clock.end) {
      status = 'open';
      remaining = clock.end - now;
    } else {
      status = 'closed';
      remaining = 0;
    }
    countdownLabel.textContent = ta('countdown.' + status);
    countdown.textContent = fmtDuration(remaining);
    if (status !== lastStatus) {
      lastStatus = status;
      transition.textContent = ta('countdown.now.' + status);
    }
    statusBadge.textContent = ta('status.' + status);
    statusBadge.className = `badge ${status}`;
  };
  const ticker = setInterval(tick, 250);
  onCleanup(() => clearInterval(ticker));

  // Figures.
  const rateCanvas = el('canvas', { id: 'rate-chart', class: 'chart', role: 'img', 'aria-label': ta('rate.aria', { now: 0, peak: 0 }) });
  const rateText = el('p', { id: 'rate-now', class: 'hint', 'aria-hidden': 'true' });
  const statsMsg = messageLine('stats-message');

  // Warm-up.
  const warm = el('button', { type: 'button', id: 'warm-up', class: 'primary', text: ta('warm.button') });
  const warmMsg = messageLine('warm-up-result');

  // Announcements.
  const annText = el('textarea', { id: 'announcement-text', name: 'text', rows: '3', maxlength: '2000' });
  const annCount = el('span', { id: 'announcement-count', class: 'hint', 'aria-live': 'off', text: ta('announce.count', { n: 0 }) });
  const annSend = el('button', { type: 'submit', id: 'send-announcement', class: 'primary', text: ta('announce.send') });
  const annMsg = messageLine('announcement-message');
  const annList = el('ol', { id: 'announcement-list', class: 'announcements', reversed: true });
  const annForm = el('form', { id: 'announcement-form', novalidate: true },
    field(ta('announce.text'), annText, ta('announce.hint')), annCount, el('div', {}, annSend), annMsg);

  // Accommodations.
  const accStudent = el('input', { id: 'accommodation-student', name: 'student', autocomplete: 'off', list: 'known-students' });
  const accExtra = el('input', { id: 'accommodation-extra', name: 'extra_minutes', type: 'number', min: '0', max: '10080', step: '1', inputmode: 'numeric' });
  const accStart = el('input', { id: 'accommodation-start', name: 'start_time', type: 'datetime-local', step: '1' });
  const accEnd = el('input', { id: 'accommodation-end', name: 'end_time', type: 'datetime-local', step: '1' });
  const accSave = el('button', { type: 'submit', id: 'save-accommodation', class: 'primary', text: ta('acc.save') });
  const accMsg = messageLine('accommodation-message');
  const accList = el('div', { id: 'accommodation-list' });
  const knownList = el('datalist', { id: 'known-students' });
  const accForm = el('form', { id: 'accommodation-form', novalidate: true },
    field(ta('acc.student'), accStudent, ta('acc.studentHint')),
    field(ta('acc.extra'), accExtra, ta('acc.extraHint')),
    el('div', { class: 'grid' },
      field(ta('acc.start'), accStart, ta('acc.timeHint')),
      field(ta('acc.end'), accEnd, ta('acc.timeHint'))),
    accSave, accMsg, knownList);

  // Leaderboard, export, performance.
  const board = el('div', { id: 'leaderboard' }, el('p', { text: ta('loading') }));
  const exportButton = el('button', { type: 'button', id: 'export-csv', text: ta('export.button') });
  const exportMsg = messageLine('export-message');
  const perf = el('div', { id: 'performance' }, el('p', { text: ta('loading') }));
  const health = el('div', { class: 'figures' },
    figure('monitor-mailbox', ta('health.mailbox')),
    figure('monitor-subscribers', ta('health.subscribers')),
    figure('monitor-sockets', ta('health.sockets')),
    figure('monitor-writer-queue', ta('health.writerQueue')),
    figure('monitor-writer-batch', ta('health.writerBatch')),
    figure('monitor-db', ta('health.db')));

  const section = (idName, title, ...children) => el('section', { class: 'card', 'aria-labelledby': idName },
    el('h2', { id: idName, text: title }), children);

  fill(view, el('div', { id: 'monitor' },
    el('h1', { tabindex: '-1', text: ta('monitor.heading', { title: contest.title }) }),
    el('p', { class: 'actions' }, statusBadge,
      el('a', { href: `#/contests/${id}`, text: contest.status === 'upcoming' ? ta('contests.edit') : ta('contests.key') }),
      el('a', { href: `#/contests/${id}/preview`, text: ta('contests.preview') }), wsStatus),
    windowLine,
    el('div', { class: 'figures big' },
      el('div', { class: 'figure' }, countdownLabel, countdown),
      figure('monitor-enrolled', ta('stats.enrolled')),
      figure('monitor-submitted', ta('stats.submitted')),
      figure('monitor-average', ta('stats.average')),
      figure('monitor-auto', ta('stats.auto')),
      figure('monitor-drafts', ta('stats.drafts'), ta('stats.draftsUnavailable'))),
    transition, statsMsg,
    section('rate-heading', ta('rate.heading'), rateCanvas, rateText),
    el('div', { class: 'grid' },
      section('warm-heading', ta('warm.heading'), el('p', { class: 'hint', text: ta('warm.hint') }), warm, warmMsg),
      section('health-heading', ta('health.heading'), health)),
    el('div', { class: 'grid' },
      section('announce-heading', ta('announce.heading'), annForm, el('h3', { text: ta('announce.list') }), annList),
      section('acc-heading', ta('acc.heading'), accForm, el('h3', { text: ta('acc.list') }), accList)),
    section('board-heading', ta('board.heading'), board,
      el('div', { class: 'actions' }, exportButton), exportMsg),
    section('perf-heading', ta('perf.heading'), perf)));
  tick();

  // Counts and rate.
  const samples = [];
  let last = null;
  const drawRate = () => {
    drawRateChart(rateCanvas, samples);
    const now = samples.length ? samples[samples.length - 1] : 0;
    const peak = samples.length ? Math.max(...samples) : 0;
    rateText.textContent = ta('rate.text', { now: now.toFixed(1), peak: peak.toFixed(1) });
    rateCanvas.setAttribute('aria-label', ta('rate.aria', { now: now.toFixed(1), peak: peak.toFixed(1) }));
  };
  const onResize = () => drawRate();
  window.addEventListener('resize', onResize);
  onCleanup(() => window.removeEventListener('resize', onResize));

  const pollStats = async () => {
    try {
      const { stats } = await call('GET', `/api/contests/bulk-stats?contest_ids=${id}`, { retries: 0 });
      const s = stats[0];
      if (stopped || !s) return;
      document.getElementById('monitor-enrolled').textContent = String(s.enrolled);
      document.getElementById('monitor-submitted').textContent = String(s.submitted);
      document.getElementById('monitor-average').textContent = s.average_score === null
        ? '—' : ta('stats.averageOf', { avg: Math.round(s.average_score * 100) / 100, max: s.max_score });
      const t = performance.now();
      if (last) {
        const dt = (t - last.t) / 1000;
        samples.push(dt > 0 ? Math.max(0, s.submitted - last.submitted) / dt : 0);
        if (samples.length > 60) samples.shift();
      }
      last = { t, submitted: s.submitted };
      drawRate();
      say(statsMsg, '');
    } catch (error) {
      if (!stopped) say(statsMsg, errorText(error), 'error');
    }
  };
  const pollHealth = async () => {
    try {
      const response = await fetch('/health', { headers: { Accept: 'application/json' } });
      const h = await response.json();
      if (stopped) return;
      const mine = (h.actors && h.actors.contests || []).find((c) => c.contest_id === id);
      const sockets = (h.actors && h.actors.contests || []).reduce((n, c) => n + (c.subscribers || 0), 0);
      document.getElementById('monitor-mailbox').textContent = mine ? String(mine.mailbox_depth) : ta('health.cold');
      document.getElementById('monitor-subscribers').textContent = mine ? String(mine.subscribers) : '0';
      document.getElementById('monitor-drafts').textContent = mine ? String(mine.drafts) : ta('health.cold');
      document.getElementById('monitor-sockets').textContent = String(sockets);
      document.getElementById('monitor-writer-queue').textContent = h.writer ? String(h.writer.queue_depth) : '—';
      document.getElementById('monitor-writer-batch').textContent = h.writer
        ? ta('health.batch', { size: h.writer.last_batch_size, ms: Math.round(h.writer.last_flush_ms * 10) / 10 }) : '—';
      document.getElementById('monitor-db').textContent = h.db
        ? ta('health.dbText', { ok: h.db.ok ? ta('health.ok') : ta('health.down'), idle: h.db.pool_idle, size: h.db.pool_size, max: h.db.pool_max })
        : '—';
    } catch {
      if (!stopped) document.getElementById('monitor-db').textContent = ta('health.unreachable');
    }
  };
  const pollPerf = async () => {
    try {
      const p = await call('GET', '/api/contests/performance', { retries: 0 });
      if (stopped) return;
      const routes = (p.routes || []).filter((r) => r.count > 0).sort((a, b) => b.p99_ms - a.p99_ms).slice(0, 12);
      const ms = (x) => (Math.round(x * 10) / 10).toFixed(1);
      const pct = (x) => `${Math.round((x || 0) * 1000) / 10}%`;
      fill(perf,
        routes.length === 0 ? el('p', { text: ta('perf.none') }) : table(ta('perf.caption', { s: p.window_s }),
          [ta('perf.route'), ta('perf.count'), 'p50 ms', 'p95 ms', 'p99 ms'],
          routes.map((r) => [`${r.method} ${r.route}`, String(r.count), ms(r.p50_ms), ms(r.p95_ms), ms(r.p99_ms)])),
        p.caches ? el('p', { class: 'hint', text: ta('perf.caches', { token: pct(p.caches.token && p.caches.token.hit_rate), contest: pct(p.caches.contest && p.caches.contest.hit_rate) }) }) : null,
        p.rate_limited ? el('p', { class: 'hint', text: ta('perf.limited', { n: Object.values(p.rate_limited).reduce((a, b) => a + (Number(b) || 0), 0) }) }) : null);
    } catch (error) {
      if (!stopped) fill(perf, el('p', { class: 'msg error', text: errorText(error) }));
    }
  };
  // Without the socket, the contest itself tells the clock and the times.
  const pollContest = async () => {
    try {
      const c = await call('GET', `/api/contests/${id}`, { retries: 0 });
      if (stopped) return;
      clock.offset = Date.parse(c.server_time) - Date.now();
      clock.start = Date.parse(c.start_time);
      clock.end = Date.parse(c.end_time);
      showWindow();
      tick();
    } catch {
      // The clock keeps counting from the last figures.
    }
  };
  const knownNames = new Map();
  const pollBoard = async () => {
    try {
      const { entries } = await call('GET', `/api/contests/${id}/leaderboard?limit=50`, { retries: 0 });
      if (stopped) return;
      for (const e of entries) knownNames.set(e.username, e.student_id);
      refreshKnown();
      fill(board, entries.length === 0 ? el('p', { text: ta('board.none') }) : table(ta('board.heading'),
        [ta('board.rank'), ta('board.student'), ta('board.score'), ta('board.at')],
        entries.map((e) => [String(e.rank), `${e.username} (#${e.student_id})`, String(e.score), fmtLocal(e.submitted_at)])));
    } catch (error) {
      if (!stopped) fill(board, el('p', { class: 'msg error', text: errorText(error) }));
    }
  };
  const pollAuto = async () => {
    try {
      const csv = await call('GET', `/api/contests/${id}/submissions`, { accept: 'text', retries: 0 });
      if (stopped) return;
      const rows = parseCsv(csv);
      const header = rows.shift() || [];
      const auto = header.indexOf('auto');
      const user = header.indexOf('username');
      const sid = header.indexOf('student_id');
      if (user >= 0 && sid >= 0) for (const r of rows) if (r[user]) knownNames.set(r[user], Number(r[sid]));
      refreshKnown();
      document.getElementById('monitor-auto').textContent = auto < 0 ? '—' : String(rows.filter((r) => r[auto] === 'true').length);
    } catch {
      // Shown as unknown; the counts above still move.
    }
  };
  const refreshKnown = () => {
    fill(knownList, [...knownNames.keys()].slice(0, 500).map((name) => el('option', { value: name })));
  };

  const runStats = every(POLL_MS, async () => {
    await pollStats();
    await pollHealth();
  }, onCleanup);
  const runPerf = every(SLOW_MS, async () => {
    if (!socket) await pollContest();
    await pollPerf();
    await pollBoard();
  }, onCleanup);
  const runAuto = every(AUTO_MS, pollAuto, onCleanup);
  runStats();
  runPerf();
  runAuto();

  // Announcements.
  const shownAnnouncements = new Set();
  const addAnnouncement = (a, atTop) => {
    if (shownAnnouncements.has(a.id)) return;
    shownAnnouncements.add(a.id);
    const item = el('li', { 'data-id': String(a.id) },
      el('time', { datetime: a.created_at, text: fmtLocal(a.created_at) }), ' ', el('span', { class: 'announcement-text', text: a.text }));
    if (atTop) annList.prepend(item);
    else annList.appendChild(item);
  };
  call('GET', `/api/contests/${id}/announcements`).then(({ announcements }) => {
    if (!stopped) announcements.forEach((a) => addAnnouncement(a, false));
  }).catch((error) => say(annMsg, errorText(error), 'error'));
  const updateCount = () => {
    annCount.textContent = ta('announce.count', { n: [...annText.value].length });
  };
  annText.addEventListener('input', updateCount);
  annForm.addEventListener('submit', async (event) => {
    event.preventDefault();
    const text = annText.value;
    if (!text.trim()) {
      say(annMsg, ta('announce.empty'), 'error');
      annText.focus();
      return;
    }
    if ([...text].length > 2000) {
      say(annMsg, ta('announce.long'), 'error');
      annText.focus();
      return;
    }
    annSend.disabled = true;
    try {
      const a = await call('POST', `/api/contests/${id}/announcements`, { body: { text }, retries: 0 });
      addAnnouncement(a, true);
      annText.value = '';
      updateCount();
      say(annMsg, ta('announce.sent', { time: fmtLocal(a.created_at) }), 'ok');
    } catch (error) {
      say(annMsg, errorText(error), 'error');
    } finally {
      annSend.disabled = false;
    }
  });

  // Warm-up.
  warm.addEventListener('click', async () => {
    warm.disabled = true;
    say(warmMsg, ta('warm.working'));
    try {
      const w = await call('POST', '/api/contests/warm-cache', { body: { contest_id: id } });
      say(warmMsg, ta('warm.done', { enrolled: w.enrolled, submitted: w.submitted, questions: w.questions, ms: Math.round(w.load_ms * 10) / 10 }), 'ok');
      runStats();
    } catch (error) {
      say(warmMsg, errorText(error), 'error');
    } finally {
      warm.disabled = false;
    }
  });

  // Accommodations.
  const showAccommodations = async () => {
    try {
      const { accommodations } = await call('GET', `/api/contests/${id}/accommodations`);
      if (stopped) return;
      const nameOf = new Map([...knownNames].map(([name, sid]) => [sid, name]));
      fill(accList, accommodations.length === 0 ? el('p', { text: ta('acc.none') }) : table(ta('acc.list'),
        [ta('acc.studentCol'), ta('acc.extraCol'), ta('acc.startCol'), ta('acc.endCol'), ''],
        accommodations.map((a) => [
          nameOf.has(a.student_id) ? `${nameOf.get(a.student_id)} (#${a.student_id})` : `#${a.student_id}`,
          String(a.extra_minutes ?? 0),
          el('span', {}, fmtLocal(a.start_time), el('br'), el('small', { text: fmtUtc(a.start_time) })),
          el('span', {}, fmtLocal(a.end_time), el('br'), el('small', { text: fmtUtc(a.end_time) })),
          el('span', { class: 'actions' },
            el('button', { type: 'button', class: 'small', text: ta('acc.edit'), 'aria-label': ta('acc.editNamed', { id: a.student_id }),
              on: { click: () => {
                accStudent.value = String(a.student_id);
                accExtra.value = String(a.extra_minutes ?? 0);
                accStart.value = '';
                accEnd.value = '';
                accStudent.focus();
              } } }),
            el('button', { type: 'button', class: 'small danger', text: ta('acc.remove'), 'aria-label': ta('acc.removeNamed', { id: a.student_id }),
              on: { click: async (event) => {
                event.currentTarget.disabled = true;
                try {
                  await call('DELETE', `/api/contests/${id}/accommodations/${a.student_id}`);
                  say(accMsg, ta('acc.removed', { id: a.student_id }), 'ok');
                } catch (error) {
                  say(accMsg, errorText(error), 'error');
                }
                showAccommodations();
              } } })),
        ])));
    } catch (error) {
      if (!stopped) fill(accList, el('p', { class: 'msg error', text: errorText(error) }));
    }
  };
  showAccommodations();
  accForm.addEventListener('submit', async (event) => {
    event.preventDefault();
    const who = accStudent.value.trim();
    let studentId = /^#?\d+$/.test(who) ? Number(who.replace('#', '')) : knownNames.get(who);
    if (!studentId) {
      say(accMsg, who ? ta('acc.unknownName', { name: who }) : ta('acc.needStudent'), 'error');
      accStudent.focus();
      return;
    }
    const body = {};
    if (accExtra.value.trim() !== '') {
      const extra = Number(accExtra.value);
      if (!Number.isInteger(extra) || extra < 0 || extra > 10080) {
        say(accMsg, ta('acc.badExtra'), 'error');
        accExtra.focus();
        return;
      }
      body.extra_minutes = extra;
    }
    if (accStart.value) body.start_time = fromLocalInput(accStart.value);
    if (accEnd.value) body.end_time = fromLocalInput(accEnd.value);
    if (Object.keys(body).length === 0) {
      say(accMsg, ta('acc.needSomething'), 'error');
      accExtra.focus();
      return;
    }
    accSave.disabled = true;
    try {
      const a = await call('PUT', `/api/contests/${id}/accommodations/${studentId}`, { body, retries: 1 });
      say(accMsg, ta('acc.saved', { id: a.student_id, extra: a.extra_minutes ?? 0, start: fmtBoth(a.start_time), end: fmtBoth(a.end_time) }), 'ok');
      await showAccommodations();
    } catch (error) {
      say(accMsg, errorText(error), 'error');
    } finally {
      accSave.disabled = false;
    }
  });
  accStart.addEventListener('focus', () => {
    if (!accStart.value) accStart.placeholder = toLocalInput(contest.start_time);
  });

  // Export.
  exportButton.addEventListener('click', async () => {
    exportButton.disabled = true;
    try {
      const csv = await call('GET', `/api/contests/${id}/submissions`, { accept: 'text' });
      downloadText(csv, `contest-${id}-submissions.csv`);
      say(exportMsg, ta('export.done', { n: Math.max(0, parseCsv(csv).length - 1) }), 'ok');
    } catch (error) {
      say(exportMsg, errorText(error), 'error');
    } finally {
      exportButton.disabled = false;
    }
  });

  // The live socket: state frames move the clock; announcements join the list.
  const connect = () => {
    if (stopped) return;
    const token = getToken();
    if (!token) return;
    const scheme = location.protocol === 'https:' ? 'wss:' : 'ws:';
    socket = new WebSocket(`${scheme}//${location.host}/ws/contests/${id}?token=${encodeURIComponent(token)}`);
    socket.addEventListener('open', () => {
      retry = 1000;
      wsStatus.textContent = ta('monitor.wsLive');
    });
    socket.addEventListener('message', (event) => {
      let frame;
      try {
        frame = JSON.parse(event.data);
      } catch {
        return;
      }
      if (frame.server_time) clock.offset = Date.parse(frame.server_time) - Date.now();
      if (frame.start_time && frame.end_time) {
        const changed = Date.parse(frame.start_time) !== clock.start || Date.parse(frame.end_time) !== clock.end;
        clock.start = Date.parse(frame.start_time);
        clock.end = Date.parse(frame.end_time);
        if (changed) showWindow();
      }
      if (frame.type === 'announcement') addAnnouncement(frame, true);
      if (frame.type === 'schedule_changed') transition.textContent = ta('countdown.rescheduled');
      tick();
    });
    socket.addEventListener('close', () => {
      socket = null;
      if (stopped) return;
      wsStatus.textContent = ta('monitor.wsRetry');
      setTimeout(connect, retry);
      retry = Math.min(retry * 2, 30000);
    });
  };
  connect();
  onCleanup(() => {
    if (socket) socket.close();
  });
}
