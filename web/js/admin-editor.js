// Contests: the list, and the editor. A new or upcoming contest is edited whole (POST, or
// PATCH with the questions); once it has opened, its answer key is corrected per question.
import { ta } from './admin-strings.js';
import { el, fill, field, uid, messageLine, say, errorText, errorCode, call, table, fmtLocal, fmtUtc, fmtBoth, toLocalInput, fromLocalInput, localZone } from './admin-dom.js';

const TYPES = ['single', 'multiple', 'numeric', 'text'];

// The message a newly created contest's editor opens with.
let flash = '';

export async function renderContests(view) {
  const box = el('div', { id: 'contest-list' }, el('p', { text: ta('loading') }));
  fill(view,
    el('h1', { tabindex: '-1', text: ta('contests.heading') }),
    el('p', {}, el('a', { href: '#/contests/new', class: 'button primary', id: 'new-contest', text: ta('contests.new') })),
    box);
  try {
    const [{ contests }, { courses }] = await Promise.all([call('GET', '/api/contests'), call('GET', '/api/courses')]);
    const courseName = new Map(courses.map((c) => [c.id, c.code]));
    const stats = new Map();
    for (let i = 0; i < contests.length; i += 100) {
      const ids = contests.slice(i, i + 100).map((c) => c.id).join(',');
      try {
        const answer = await call('GET', `/api/contests/bulk-stats?contest_ids=${ids}`);
        for (const s of answer.stats) stats.set(s.contest_id, s);
      } catch {
        // The list is still useful without the counts.
      }
    }
    if (contests.length === 0) {
      fill(box, el('p', { text: ta('contests.none') }));
      return;
    }
    fill(box, table(ta('contests.heading'),
      [ta('contests.title'), ta('contests.course'), ta('contests.start'), ta('contests.end'), ta('contests.status'), ta('contests.submittedOf'), ''],
      contests.map((c) => {
        const s = stats.get(c.id);
        return [
          c.title, courseName.get(c.course_id) || String(c.course_id),
          el('span', {}, fmtLocal(c.start_time), el('br'), el('small', { text: fmtUtc(c.start_time) })),
          el('span', {}, fmtLocal(c.end_time), el('br'), el('small', { text: fmtUtc(c.end_time) })),
          el('span', { class: `badge ${c.status}`, text: ta('status.' + c.status) }),
          s ? `${s.submitted} / ${s.enrolled}` : '—',
          el('span', { class: 'actions' },
            el('a', { href: `#/contests/${c.id}`, text: c.status === 'upcoming' ? ta('contests.edit') : ta('contests.key'), 'aria-label': `${c.status === 'upcoming' ? ta('contests.edit') : ta('contests.key')}: ${c.title}` }),
            el('a', { href: `#/contests/${c.id}/preview`, text: ta('contests.preview'), 'aria-label': `${ta('contests.preview')}: ${c.title}` }),
            el('a', { href: `#/contests/${c.id}/monitor`, text: ta('contests.monitor'), 'aria-label': `${ta('contests.monitor')}: ${c.title}` })),
        ];
      })));
  } catch (error) {
    fill(box, el('p', { class: 'msg error', role: 'alert', text: errorText(error) }));
  }
}

// A datetime-local input with a line under it showing the time in the local zone and in UTC.
function timeInput(id, label, iso) {
  const input = el('input', { id, name: id, type: 'datetime-local', step: '1', value: toLocalInput(iso) });
  const echo = el('p', { class: 'hint', id: id + '-echo', 'aria-live': 'polite' });
  const update = () => {
    const utc = fromLocalInput(input.value);
    echo.textContent = utc ? ta('editor.timeEcho', { local: fmtLocal(utc), zone: localZone(), utc: fmtUtc(utc) }) : ta('editor.timeEmpty', { zone: localZone() });
  };
  input.addEventListener('input', update);
  input.addEventListener('change', update);
  update();
  input.setAttribute('aria-describedby', echo.id);
  return { input, node: el('div', { class: 'field' }, el('label', { for: id, text: label }), input, echo) };
}

export async function renderEditor(view, params) {
  const id = params.id ? Number(params.id) : null;
  fill(view, el('p', { text: ta('loading') }));
  let courses = [];
  let contest = null;
  try {
    courses = (await call('GET', '/api/courses')).courses || [];
    if (id) contest = await call('GET', `/api/contests/${id}`);
  } catch (error) {
    fill(view, el('p', { class: 'msg error', role: 'alert', text: errorText(error) }));
    return;
  }
  const locked = contest && contest.status !== 'upcoming';

  const title = el('input', { id: 'contest-title', name: 'title', required: true, maxlength: '200', value: contest ? contest.title : '' });
  const course = el('select', { id: 'contest-course', name: 'course_id', disabled: !!contest },
    courses.length ? null : el('option', { value: '', text: ta('courses.none') }),
    courses.map((c) => el('option', { value: String(c.id), text: `${c.code} — ${c.title}` })));
  if (contest) course.value = String(contest.course_id);
  else if (courses.length) course.value = String(courses[courses.length - 1].id);
  const start = timeInput('contest-start', ta('editor.start'), contest && contest.start_time);
  const end = timeInput('contest-end', ta('editor.end'), contest && contest.end_time);
  const results = el('select', { id: 'contest-results', name: 'results', disabled: !!contest },
    el('option', { value: 'after_close', text: ta('editor.resultsAfter') }),
    el('option', { value: 'immediate', text: ta('editor.resultsImmediate') }));
  if (contest) results.value = contest.results;
  const grace = el('input', { id: 'contest-grace', name: 'grace_seconds', type: 'number', min: '0', max: '300', step: '1', inputmode: 'numeric', value: contest ? String(contest.grace_seconds ?? 0) : '0' });
  const duration = el('input', { id: 'contest-duration', name: 'duration_minutes', type: 'number', min: '1', max: '1440', step: '1', inputmode: 'numeric', value: contest && contest.duration_minutes ? String(contest.duration_minutes) : '' });
  const shuffleQ = el('input', { id: 'contest-shuffle-questions', name: 'shuffle_questions', type: 'checkbox', checked: !!(contest && contest.shuffle && contest.shuffle.questions), disabled: locked });
  const shuffleO = el('input', { id: 'contest-shuffle-options', name: 'shuffle_options', type: 'checkbox', checked: !!(contest && contest.shuffle && contest.shuffle.options), disabled: locked });
  const active = contest ? el('input', { id: 'contest-active', name: 'is_active', type: 'checkbox', checked: contest.is_active !== false }) : null;

  const questionList = el('ol', { id: 'question-list', class: 'questions' });
  const addQuestion = el('button', { type: 'button', id: 'add-question', text: ta('editor.addQuestion') });
  const msg = messageLine('contest-message');
  const save = el('button', { type: 'submit', id: 'save-contest', class: 'primary', text: contest ? ta('editor.saveChanges') : ta('editor.create') });

  const heading = contest ? ta('editor.editHeading', { title: contest.title }) : ta('editor.newHeading');
  const form = el('form', { id: 'contest-editor', novalidate: true, 'aria-labelledby': 'editor-heading' },
    el('fieldset', { class: 'card' },
      el('legend', { text: ta('editor.details') }),
      field(ta('editor.title'), title),
      field(ta('editor.course'), course, contest ? ta('editor.fixedAfterCreate') : null),
      el('div', { class: 'grid' }, start.node, end.node),
      field(ta('editor.results'), results, contest ? ta('editor.fixedAfterCreate') : null),
      el('div', { class: 'grid' },
        field(ta('editor.grace'), grace, ta('editor.graceHint')),
        field(ta('editor.duration'), duration, ta('editor.durationHint'))),
      el('div', { class: 'checks' },
        el('div', { class: 'check' }, shuffleQ, el('label', { for: shuffleQ.id, text: ta('editor.shuffleQuestions') })),
        el('div', { class: 'check' }, shuffleO, el('label', { for: shuffleO.id, text: ta('editor.shuffleOptions') })),
        active ? el('div', { class: 'check' }, active, el('label', { for: active.id, text: ta('editor.active') })) : null),
      locked ? el('p', { class: 'hint', text: ta('editor.lockedHint') }) : null),
    locked ? null : el('fieldset', { class: 'card' },
      el('legend', { text: ta('editor.questions') }),
      questionList,
      addQuestion),
    el('div', { class: 'save-row' }, save, msg));

  const keySection = locked ? el('section', { class: 'card', 'aria-labelledby': 'key-heading' },
    el('h2', { id: 'key-heading', text: ta('key.heading') }),
    el('p', { class: 'hint', text: ta('key.hint') }),
    el('ol', { class: 'questions' }, contest.questions.map((q, i) => keyCorrector(contest.id, q, i)))) : null;

  fill(view,
    el('h1', { id: 'editor-heading', tabindex: '-1', text: heading }),
    contest ? el('p', { class: 'actions' },
      el('span', { class: `badge ${contest.status}`, text: ta('status.' + contest.status) }),
      el('a', { href: `#/contests/${contest.id}/preview`, text: ta('contests.preview') }),
      el('a', { href: `#/contests/${contest.id}/monitor`, text: ta('contests.monitor') })) : null,
    form, keySection);

  if (flash) {
    say(msg, flash, 'ok');
    flash = '';
  }

  const renumber = () => {
    [...questionList.children].forEach((li, i) => {
      li.querySelector('legend').textContent = ta('question.legend', { n: i + 1 });
      li.querySelector('[data-move=up]').disabled = i === 0;
      li.querySelector('[data-move=down]').disabled = i === questionList.children.length - 1;
    });
  };
  const addBlock = (q, focus) => {
    const block = questionEditor(q, renumber);
    questionList.appendChild(block);
    renumber();
    if (focus) block.querySelector('[name=prompt]').focus();
  };
  if (!locked) {
    if (contest) contest.questions.forEach((q) => addBlock(q, false));
    else addBlock(null, false);
    addQuestion.addEventListener('click', () => addBlock(null, true));
  }

  form.addEventListener('submit', async (event) => {
    event.preventDefault();
    const problem = (text, control) => {
      say(msg, text, 'error');
      if (control) control.focus();
    };
    const body = {};
    const titleText = title.value.trim();
    if (!titleText) return problem(ta('editor.needTitle'), title);
    body.title = titleText;
    if (!contest) {
      if (!course.value) return problem(ta('editor.needCourse'), course);
      body.course_id = Number(course.value);
      body.results = results.value;
    }
    const startIso = fromLocalInput(start.input.value);
    const endIso = fromLocalInput(end.input.value);
    if (!startIso) return problem(ta('editor.needStart'), start.input);
    if (!endIso) return problem(ta('editor.needEnd'), end.input);
    if (Date.parse(startIso) >= Date.parse(endIso)) return problem(ta('editor.startBeforeEnd'), end.input);
    body.start_time = startIso;
    body.end_time = endIso;
    const graceValue = grace.value.trim() === '' ? 0 : Number(grace.value);
    if (!Number.isInteger(graceValue) || graceValue < 0 || graceValue > 300) return problem(ta('editor.badGrace'), grace);
    body.grace_seconds = graceValue;
    if (duration.value.trim() !== '') {
      const minutes = Number(duration.value);
      if (!Number.isInteger(minutes) || minutes < 1 || minutes > 1440) return problem(ta('editor.badDuration'), duration);
      body.duration_minutes = minutes;
    } else if (contest && contest.duration_minutes) {
      return problem(ta('editor.durationKept'), duration);
    }
    if (active) body.is_active = active.checked;
    if (!locked) {
      body.shuffle = { questions: shuffleQ.checked, options: shuffleO.checked };
      const blocks = [...questionList.children];
      if (blocks.length === 0) return problem(ta('editor.needQuestion'), addQuestion);
      body.questions = [];
      for (let i = 0; i < blocks.length; i++) {
        const read = readQuestion(blocks[i], i);
        if (read.error) return problem(read.error, read.control);
        body.questions.push(read.question);
      }
    }
    save.disabled = true;
    say(msg, ta('editor.saving'));
    try {
      const saved = contest
        ? await call('PATCH', `/api/contests/${contest.id}`, { body, retries: 1 })
        : await call('POST', '/api/contests', { body, retries: 0 });
      say(msg, contest ? ta('editor.saved', { title: saved.title }) : ta('editor.created', { title: saved.title, id: saved.id }), 'ok');
      if (!contest) {
        // The new contest opens in the editor, with a link to its monitor.
        flash = ta('editor.created', { title: saved.title, id: saved.id });
        location.hash = `#/contests/${saved.id}`;
      } else {
        contest = saved;
      }
    } catch (error) {
      if (errorCode(error) === 'contest_started') say(msg, ta('editor.started'), 'error');
      else say(msg, errorText(error), 'error');
    } finally {
      save.disabled = false;
    }
  });
}

// One question's editor: <li data-test=question-editor> with the fields the hooks name.
function questionEditor(q, renumber) {
  const type = el('select', { name: 'type', id: uid('q-type') },
    TYPES.map((t) => el('option', { value: t, text: ta('type.' + t) })));
  type.value = (q && q.type) || 'single';
  const prompt = el('textarea', { name: 'prompt', id: uid('q-prompt'), rows: '2', value: q ? q.prompt : '' });
  const points = el('input', { name: 'points', id: uid('q-points'), type: 'number', min: '0', step: '1', inputmode: 'numeric', value: q ? String(q.points) : '1' });
  const options = el('textarea', { name: 'options', id: uid('q-options'), rows: '4', value: q && q.options ? q.options.join('\n') : '' });
  const numbering = el('ol', { class: 'option-index', start: '0', 'aria-label': ta('question.indexes') });
  let correctValue = '';
  if (q && q.type === 'multiple') correctValue = (q.correct_options || []).join(',');
  else if (q && q.correct_option !== undefined) correctValue = String(q.correct_option);
  const correct = el('input', { name: 'correct', id: uid('q-correct'), autocomplete: 'off', value: correctValue });
  const scoring = el('select', { name: 'scoring', id: uid('q-scoring') },
    el('option', { value: 'all_or_nothing', text: ta('scoring.all_or_nothing') }),
    el('option', { value: 'partial', text: ta('scoring.partial') }));
  if (q && q.scoring) scoring.value = q.scoring;
  const value = el('input', { name: 'value', id: uid('q-value'), type: 'text', inputmode: 'decimal', autocomplete: 'off', value: q && q.answer ? String(q.answer.value) : '' });
  const tolerance = el('input', { name: 'tolerance', id: uid('q-tolerance'), type: 'text', inputmode: 'decimal', autocomplete: 'off', value: q && q.answer ? String(q.answer.tolerance) : '0' });
  const accepted = el('textarea', { name: 'accepted', id: uid('q-accepted'), rows: '3', value: q && q.accepted ? q.accepted.join('\n') : '' });

  const optionsField = field(ta('question.options'), options, ta('question.optionsHint'));
  optionsField.appendChild(numbering);
  const correctField = field(ta('question.correct'), correct, ta('question.correctHintSingle'));
  const correctHint = correctField.querySelector('.hint');
  const scoringField = field(ta('question.scoring'), scoring);
  const numericFields = el('div', { class: 'grid' },
    field(ta('question.value'), value), field(ta('question.tolerance'), tolerance, ta('question.toleranceHint')));
  const acceptedField = field(ta('question.accepted'), accepted, ta('question.acceptedHint'));

  const showIndexes = () => {
    const lines = options.value.split('\n').map((s) => s.trim()).filter(Boolean);
    fill(numbering, lines.map((line, i) => el('li', { text: `${i}: ${line}` })));
  };
  options.addEventListener('input', showIndexes);
  showIndexes();

  const showType = () => {
    const t = type.value;
    optionsField.hidden = !(t === 'single' || t === 'multiple');
    correctField.hidden = !(t === 'single' || t === 'multiple');
    correctHint.textContent = t === 'multiple' ? ta('question.correctHintMultiple') : ta('question.correctHintSingle');
    scoringField.hidden = t !== 'multiple';
    numericFields.hidden = t !== 'numeric';
    acceptedField.hidden = t !== 'text';
  };
  type.addEventListener('change', showType);
  showType();

  const li = el('li', { class: 'question card', 'data-test': 'question-editor' });
  const move = (dir) => (event) => {
    const button = event.currentTarget;
    const sibling = dir === 'up' ? li.previousElementSibling : li.nextElementSibling;
    if (!sibling) return;
    if (dir === 'up') li.parentNode.insertBefore(li, sibling);
    else li.parentNode.insertBefore(sibling, li);
    renumber();
    if (button.disabled) li.querySelector(dir === 'up' ? '[data-move=down]' : '[data-move=up]').focus();
    else button.focus();
  };
  const remove = () => {
    const list = li.parentNode;
    const next = li.nextElementSibling || li.previousElementSibling;
    li.remove();
    renumber();
    const target = next ? next.querySelector('[name=prompt]') : document.getElementById('add-question');
    if (target) target.focus();
    if (!list.children.length) document.getElementById('add-question').focus();
  };
  fill(li, el('fieldset', {},
    el('legend', { text: '' }),
    el('div', { class: 'grid' }, field(ta('question.type'), type), field(ta('question.points'), points)),
    field(ta('question.prompt'), prompt),
    optionsField, correctField, scoringField, numericFields, acceptedField,
    el('div', { class: 'actions' },
      el('button', { type: 'button', 'data-move': 'up', class: 'small', text: ta('question.up'), on: { click: move('up') } }),
      el('button', { type: 'button', 'data-move': 'down', class: 'small', text: ta('question.down'), on: { click: move('down') } }),
      el('button', { type: 'button', 'data-action': 'remove', class: 'small danger', text: ta('question.remove'), on: { click: remove } }))));
  return li;
}

function lines(textarea) {
  return textarea.value.split('\n').map((s) => s.trim()).filter(Boolean);
}

function indexList(text) {
  return text.split(/[\s,;]+/).filter(Boolean).map(Number);
}

// The question of one editor block as API.md's body, or {error, control}.
function readQuestion(block, i) {
  const get = (name) => block.querySelector(`[name=${name}]`);
  const n = i + 1;
  const fail = (key, name) => ({ error: ta(key, { n }), control: get(name) });
  const type = get('type').value;
  const prompt = get('prompt').value.trim();
  if (!prompt) return fail('question.needPrompt', 'prompt');
  const pointsText = get('points').value.trim();
  const points = pointsText === '' ? 1 : Number(pointsText);
  if (!Number.isInteger(points) || points < 0) return fail('question.badPoints', 'points');
  const question = { type, prompt, points };
  if (type === 'single' || type === 'multiple') {
    const options = lines(get('options'));
    if (options.length < 2 || options.length > 10) return fail('question.badOptions', 'options');
    question.options = options;
    const indexes = indexList(get('correct').value);
    if (indexes.length === 0 || indexes.some((x) => !Number.isInteger(x) || x < 0 || x >= options.length)) {
      return fail(type === 'single' ? 'question.badCorrectSingle' : 'question.badCorrectMultiple', 'correct');
    }
    if (type === 'single') {
      if (indexes.length !== 1) return fail('question.badCorrectSingle', 'correct');
      question.correct_option = indexes[0];
    } else {
      if (new Set(indexes).size !== indexes.length) return fail('question.badCorrectMultiple', 'correct');
      question.correct_options = indexes;
      question.scoring = get('scoring').value;
    }
  } else if (type === 'numeric') {
    const value = Number(get('value').value.trim().replace(',', '.'));
    if (get('value').value.trim() === '' || !Number.isFinite(value)) return fail('question.badValue', 'value');
    const tolText = get('tolerance').value.trim();
    const tolerance = tolText === '' ? 0 : Number(tolText.replace(',', '.'));
    if (!Number.isFinite(tolerance) || tolerance < 0) return fail('question.badTolerance', 'tolerance');
    question.answer = { value, tolerance };
  } else {
    const accepted = lines(get('accepted'));
    if (accepted.length < 1 || accepted.length > 20) return fail('question.badAccepted', 'accepted');
    question.accepted = accepted;
  }
  return { question };
}

// The key of one question of an opened contest, corrected with PATCH …/questions/{qid}.
function keyCorrector(contestId, q, i) {
  const box = el('li', { class: 'question card', 'data-test': 'key-corrector', 'data-question-id': String(q.id) });
  const msg = messageLine(uid('key-msg'));
  const points = el('input', { name: 'points', id: uid('k-points'), type: 'number', min: '0', step: '1', value: String(q.points) });
  const controls = [field(ta('question.points'), points)];
  let correct = null;
  let scoring = null;
  let value = null;
  let tolerance = null;
  let accepted = null;
  if (q.type === 'single' || q.type === 'multiple') {
    controls.unshift(el('ol', { class: 'option-index', start: '0', 'aria-label': ta('question.indexes') },
      q.options.map((o, k) => el('li', { text: `${k}: ${o}` }))));
    correct = el('input', { name: 'correct', id: uid('k-correct'), autocomplete: 'off',
      value: q.type === 'single' ? String(q.correct_option) : (q.correct_options || []).join(',') });
    controls.push(field(ta('question.correct'), correct, q.type === 'single' ? ta('question.correctHintSingle') : ta('question.correctHintMultiple')));
    if (q.type === 'multiple') {
      scoring = el('select', { name: 'scoring', id: uid('k-scoring') },
        el('option', { value: 'all_or_nothing', text: ta('scoring.all_or_nothing') }),
        el('option', { value: 'partial', text: ta('scoring.partial') }));
      scoring.value = q.scoring || 'all_or_nothing';
      controls.push(field(ta('question.scoring'), scoring));
    }
  } else if (q.type === 'numeric') {
    value = el('input', { name: 'value', id: uid('k-value'), inputmode: 'decimal', value: String(q.answer.value) });
    tolerance = el('input', { name: 'tolerance', id: uid('k-tol'), inputmode: 'decimal', value: String(q.answer.tolerance) });
    controls.push(field(ta('question.value'), value), field(ta('question.tolerance'), tolerance));
  } else {
    accepted = el('textarea', { name: 'accepted', id: uid('k-acc'), rows: '3', value: (q.accepted || []).join('\n') });
    controls.push(field(ta('question.accepted'), accepted, ta('question.acceptedHint')));
  }
  const button = el('button', { type: 'submit', class: 'primary', 'data-test': 'correct-key', text: ta('key.save') });
  const form = el('form', { novalidate: true },
    el('h3', { text: ta('key.questionHeading', { n: i + 1, type: ta('type.' + q.type) }) }),
    el('p', { class: 'prompt', text: q.prompt }),
    controls, button, msg);
  form.addEventListener('submit', async (event) => {
    event.preventDefault();
    const body = {};
    const p = Number(points.value);
    if (!Number.isInteger(p) || p < 0) {
      say(msg, ta('question.badPoints', { n: i + 1 }), 'error');
      points.focus();
      return;
    }
    body.points = p;
    if (correct) {
      const idx = indexList(correct.value);
      const bad = idx.length === 0 || idx.some((x) => !Number.isInteger(x) || x < 0 || x >= q.options.length)
        || (q.type === 'single' && idx.length !== 1) || new Set(idx).size !== idx.length;
      if (bad) {
        say(msg, ta(q.type === 'single' ? 'question.badCorrectSingle' : 'question.badCorrectMultiple', { n: i + 1 }), 'error');
        correct.focus();
        return;
      }
      if (q.type === 'single') body.correct_option = idx[0];
      else body.correct_options = idx;
    }
    if (scoring) body.scoring = scoring.value;
    if (value) {
      const v = Number(value.value.trim().replace(',', '.'));
      const t = Number(tolerance.value.trim().replace(',', '.') || '0');
      if (!Number.isFinite(v) || value.value.trim() === '') {
        say(msg, ta('question.badValue', { n: i + 1 }), 'error');
        value.focus();
        return;
      }
      if (!Number.isFinite(t) || t < 0) {
        say(msg, ta('question.badTolerance', { n: i + 1 }), 'error');
        tolerance.focus();
        return;
      }
      body.answer = { value: v, tolerance: t };
    }
    if (accepted) {
      const list = lines(accepted);
      if (list.length < 1 || list.length > 20) {
        say(msg, ta('question.badAccepted', { n: i + 1 }), 'error');
        accepted.focus();
        return;
      }
      body.accepted = list;
    }
    button.disabled = true;
    say(msg, ta('key.saving'));
    try {
      const answer = await call('PATCH', `/api/contests/${contestId}/questions/${q.id}`, { body, retries: 1 });
      say(msg, ta('key.saved', { n: answer.regraded }), 'ok');
    } catch (error) {
      say(msg, errorText(error), 'error');
    } finally {
      button.disabled = false;
    }
  });
  box.appendChild(form);
  return box;
}

// "Preview as a student": the questions as a student sees them, never with the key.
export async function renderPreview(view, params) {
  fill(view, el('p', { text: ta('loading') }));
  let contest;
  try {
    contest = await call('GET', `/api/contests/${params.id}`);
  } catch (error) {
    fill(view, el('p', { class: 'msg error', role: 'alert', text: errorText(error) }));
    return;
  }
  const items = contest.questions.map((q, i) => {
    const name = `preview-q${q.id}`;
    let body;
    if (q.type === 'single' || q.type === 'multiple' || !q.type) {
      const kind = q.type === 'multiple' ? 'checkbox' : 'radio';
      body = el('fieldset', { class: 'choices' },
        el('legend', { class: 'prompt', text: q.prompt }),
        q.type === 'multiple' ? el('p', { class: 'hint', text: ta('preview.multiple') }) : null,
        q.options.map((o, k) => {
          const input = el('input', { type: kind, name, id: `${name}-${k}`, value: String(k) });
          return el('div', { class: 'check' }, input, el('label', { for: input.id, text: o }));
        }));
    } else {
      const input = q.type === 'numeric'
        ? el('input', { id: name, type: 'text', inputmode: 'decimal', autocomplete: 'off' })
        : el('input', { id: name, type: 'text', autocomplete: 'off', maxlength: '1000' });
      body = el('div', {}, el('p', { class: 'prompt', text: q.prompt }), field(q.type === 'numeric' ? ta('preview.number') : ta('preview.text'), input));
    }
    return el('li', { class: 'question card' },
      el('p', { class: 'hint', text: ta('preview.points', { n: i + 1, points: q.points }) }), body);
  });
  fill(view,
    el('h1', { tabindex: '-1', text: ta('preview.heading', { title: contest.title }) }),
    el('p', { class: 'note', text: ta('preview.note') }),
    el('p', {}, ta('preview.window', { start: fmtBoth(contest.start_time), end: fmtBoth(contest.end_time) })),
    contest.shuffle && (contest.shuffle.questions || contest.shuffle.options) ? el('p', { class: 'hint', text: ta('preview.shuffled') }) : null,
    el('form', { id: 'preview-form', class: 'preview', 'aria-label': ta('preview.formLabel') },
      el('ol', { class: 'questions' }, items),
      el('button', { type: 'button', disabled: true, text: ta('preview.submit') })),
    el('p', { class: 'actions' },
      el('a', { href: `#/contests/${contest.id}`, text: contest.status === 'upcoming' ? ta('contests.edit') : ta('contests.key') }),
      el('a', { href: `#/contests/${contest.id}/monitor`, text: ta('contests.monitor') })));
}
