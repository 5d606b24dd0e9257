// Courses: the list, a new course, and a selected course's students: CSV → POST /api/users/bulk
// in chunks of at most 1,000 → PUT …/enrollments, enroll existing ids, unenroll.
import { ta } from './admin-strings.js';
import { el, fill, field, messageLine, say, errorText, call, table } from './admin-dom.js';

const CHUNK = 1000;
const KNOWN = 'contestd.admin.enrolled.';

// The API has no enrollment listing, so the console remembers the students it enrolled from
// this browser (localStorage, per course) and says so.
function known(courseId) {
  try {
    return JSON.parse(localStorage.getItem(KNOWN + courseId) || '[]');
  } catch {
    return [];
  }
}

function remember(courseId, users) {
  const byId = new Map(known(courseId).map((u) => [u.id, u]));
  for (const u of users) byId.set(u.id, { id: u.id, username: u.username || byId.get(u.id)?.username || '' });
  try {
    localStorage.setItem(KNOWN + courseId, JSON.stringify([...byId.values()]));
  } catch {
    // A full store only loses the local listing, never an enrollment.
  }
}

function forget(courseId, studentId) {
  const rest = known(courseId).filter((u) => u.id !== studentId);
  try {
    localStorage.setItem(KNOWN + courseId, JSON.stringify(rest));
  } catch {
    // As above.
  }
}

// `username,password` lines (optional header, quotes allowed) → {rows: [{username, password,
// line}], errors: [text]}.
export function parseStudentLines(text) {
  const rows = [];
  const errors = [];
  const lines = text.split(/\r\n|\n|\r/);
  lines.forEach((raw, index) => {
    const line = raw.trim();
    if (!line) return;
    const cells = splitCsvLine(line);
    if (rows.length === 0 && errors.length === 0 && cells[0].trim().toLowerCase() === 'username'
        && (cells[1] || '').trim().toLowerCase() === 'password') return;
    if (cells.length < 2 || !cells[0].trim() || !cells[1]) {
      errors.push(ta('students.badLine', { line: index + 1 }));
      return;
    }
    rows.push({ username: cells[0].trim(), password: cells.slice(1).join(',').trim(), line: index + 1 });
  });
  return { rows, errors };
}

function splitCsvLine(line) {
  const cells = [];
  let cell = '';
  let quoted = false;
  for (let i = 0; i < line.length; i++) {
    const c = line[i];
    if (quoted) {
      if (c === '"' && line[i + 1] === '"') {
        cell += '"';
        i++;
      } else if (c === '"') quoted = false;
      else cell += c;
    } else if (c === '"' && cell.trim() === '') {
      quoted = true;
      cell = '';
    } else if (c === ',') {
      cells.push(cell);
      cell = '';
    } else cell += c;
  }
  cells.push(cell);
  return cells;
}

export async function renderCourses(view, params) {
  const code = el('input', { id: 'course-code', name: 'code', required: true, maxlength: '64', autocomplete: 'off' });
  const title = el('input', { id: 'course-title', name: 'title', required: true, maxlength: '200', autocomplete: 'off' });
  const createMsg = messageLine('course-message');
  const createForm = el('form', { id: 'course-form', class: 'card' },
    el('h2', { text: ta('courses.new') }),
    field(ta('courses.code'), code, ta('courses.codeHint')),
    field(ta('courses.title'), title),
    el('button', { type: 'submit', id: 'create-course', class: 'primary', text: ta('courses.create') }),
    createMsg);

  const listBox = el('div', { id: 'course-list' }, el('p', { text: ta('loading') }));
  const select = el('select', { id: 'students-course', name: 'course' });
  const panel = el('div', { id: 'course-panel' });
  const studentsSection = el('section', { class: 'card', 'aria-labelledby': 'students-heading' },
    el('h2', { id: 'students-heading', text: ta('students.heading') }),
    field(ta('students.course'), select),
    panel);

  fill(view,
    el('h1', { tabindex: '-1', text: ta('courses.heading') }),
    el('div', { class: 'grid' }, createForm, el('section', { class: 'card', 'aria-labelledby': 'courses-list-heading' },
      el('h2', { id: 'courses-list-heading', text: ta('courses.list') }), listBox)),
    studentsSection);

  let courses = [];
  const showPanel = () => renderStudentsPanel(panel, courses.find((c) => String(c.id) === select.value));

  async function load(selectId) {
    try {
      courses = (await call('GET', '/api/courses')).courses || [];
    } catch (error) {
      fill(listBox, el('p', { class: 'msg error', role: 'alert', text: errorText(error) }));
      return;
    }
    courses.sort((a, b) => a.id - b.id);
    fill(listBox, courses.length === 0
      ? el('p', { text: ta('courses.none') })
      : table(ta('courses.list'), [ta('courses.code'), ta('courses.title'), ta('courses.id'), ''],
        courses.map((c) => [c.code, c.title, String(c.id),
          el('a', { href: `#/courses/${c.id}`, text: ta('courses.manage'), 'aria-label': ta('courses.manageNamed', { code: c.code }) })])));
    fill(select, courses.length === 0 ? el('option', { value: '', text: ta('courses.none') }) : null,
      courses.map((c) => el('option', { value: String(c.id), text: `${c.code} — ${c.title}` })));
    const wanted = selectId ?? params.id ?? (courses.length ? courses[courses.length - 1].id : '');
    if (courses.some((c) => String(c.id) === String(wanted))) select.value = String(wanted);
    showPanel();
  }

  select.addEventListener('change', showPanel);
  createForm.addEventListener('submit', async (event) => {
    event.preventDefault();
    const body = { code: code.value.trim(), title: title.value.trim() };
    if (!body.code || !body.title) {
      say(createMsg, ta('courses.required'), 'error');
      (body.code ? title : code).focus();
      return;
    }
    const button = document.getElementById('create-course');
    button.disabled = true;
    try {
      const course = await call('POST', '/api/courses', { body, retries: 1 });
      say(createMsg, ta('courses.created', { code: course.code, id: course.id }), 'ok');
      code.value = '';
      title.value = '';
      await load(course.id);
    } catch (error) {
      say(createMsg, errorText(error), 'error');
    } finally {
      button.disabled = false;
    }
  });
  await load();
}

function renderStudentsPanel(panel, course) {
  if (!course) {
    fill(panel, el('p', { text: ta('students.noCourse') }));
    return;
  }
  const textarea = el('textarea', { id: 'students-csv', name: 'students', rows: '8', spellcheck: 'false', autocomplete: 'off' });
  const file = el('input', { id: 'students-file', type: 'file', accept: '.csv,text/csv,text/plain' });
  const progress = el('progress', { id: 'students-progress', max: '1', value: '0', 'aria-label': ta('students.progress') });
  const progressText = el('span', { id: 'students-progress-text', class: 'hint' });
  const msg = messageLine('students-message');
  const addButton = el('button', { type: 'submit', id: 'add-students', class: 'primary', text: ta('students.add') });
  const form = el('form', { id: 'students-form' },
    el('h3', { text: ta('students.addHeading', { code: course.code }) }),
    field(ta('students.csv'), textarea, ta('students.csvHint')),
    field(ta('students.file'), file),
    addButton,
    el('div', { class: 'progress-row' }, progress, progressText),
    msg);

  file.addEventListener('change', async () => {
    const chosen = file.files && file.files[0];
    if (!chosen) return;
    textarea.value = await chosen.text();
    say(msg, ta('students.fileLoaded', { name: chosen.name }), 'ok');
  });

  const enrollIds = el('input', { id: 'enroll-ids', name: 'student_ids', inputmode: 'numeric', autocomplete: 'off' });
  const enrollMsg = messageLine('enroll-message');
  const enrollForm = el('form', { id: 'enroll-form' },
    el('h3', { text: ta('enroll.heading') }),
    field(ta('enroll.ids'), enrollIds, ta('enroll.idsHint')),
    el('button', { type: 'submit', id: 'enroll-students', text: ta('enroll.button') }),
    enrollMsg);

  const unenrollId = el('input', { id: 'unenroll-id', name: 'student_id', inputmode: 'numeric', autocomplete: 'off' });
  const unenrollMsg = messageLine('unenroll-message');
  const unenrollForm = el('form', { id: 'unenroll-form' },
    el('h3', { text: ta('unenroll.heading') }),
    field(ta('unenroll.id'), unenrollId),
    el('button', { type: 'submit', id: 'unenroll-student', class: 'danger', text: ta('unenroll.button') }),
    unenrollMsg);

  const listBox = el('div', { id: 'enrollment-list' });
  const filter = el('input', { id: 'enrollment-filter', type: 'search', autocomplete: 'off' });
  const listSection = el('div', {},
    el('h3', { text: ta('enrolled.heading') }),
    el('p', { class: 'hint', text: ta('enrolled.note') }),
    field(ta('enrolled.filter'), filter),
    listBox);

  async function unenroll(studentId) {
    await call('DELETE', `/api/courses/${course.id}/enrollments/${studentId}`);
    forget(course.id, studentId);
    showList();
  }

  function showList() {
    const needle = filter.value.trim().toLowerCase();
    const all = known(course.id).filter((u) => !needle || u.username.toLowerCase().includes(needle) || String(u.id) === needle);
    const shown = all.slice(0, 50);
    fill(listBox,
      all.length === 0 ? el('p', { text: ta('enrolled.none') }) : table(ta('enrolled.heading'),
        [ta('enrolled.id'), ta('enrolled.username'), ''],
        shown.map((u) => [String(u.id), u.username, el('button', {
          type: 'button', class: 'danger small', text: ta('unenroll.button'),
          'aria-label': ta('unenroll.named', { name: u.username || u.id }),
          on: {
            click: async (event) => {
              event.currentTarget.disabled = true;
              try {
                await unenroll(u.id);
                say(unenrollMsg, ta('unenroll.done', { id: u.id }), 'ok');
              } catch (error) {
                say(unenrollMsg, errorText(error), 'error');
              }
            },
          },
        })])),
      all.length > shown.length ? el('p', { class: 'hint', text: ta('enrolled.more', { n: all.length - shown.length }) }) : null);
  }
  filter.addEventListener('input', showList);

  form.addEventListener('submit', async (event) => {
    event.preventDefault();
    const { rows, errors } = parseStudentLines(textarea.value);
    if (errors.length) {
      say(msg, errors.slice(0, 3).join(' '), 'error');
      textarea.focus();
      return;
    }
    if (rows.length === 0) {
      say(msg, ta('students.empty'), 'error');
      textarea.focus();
      return;
    }
    addButton.disabled = true;
    progress.max = rows.length;
    progress.value = 0;
    let done = 0;
    say(msg, ta('students.working', { n: rows.length }));
    try {
      for (let offset = 0; offset < rows.length; offset += CHUNK) {
        const chunk = rows.slice(offset, offset + CHUNK);
        let created;
        try {
          created = await call('POST', '/api/users/bulk', {
            body: { users: chunk.map((r) => ({ username: r.username, password: r.password, role: 'student' })) },
            retries: 1,
          });
        } catch (error) {
          // The server names the first bad entry of the chunk as `users[i]`; name its line.
          const text = errorText(error);
          const m = /users\[(\d+)\]/.exec(text);
          const row = m ? chunk[Number(m[1])] : null;
          const where = row ? ta('students.badRow', { row: offset + Number(m[1]) + 1, line: row.line, username: row.username }) : '';
          say(msg, [where, text, done ? ta('students.partial', { n: done }) : ta('students.nothing')].filter(Boolean).join(' '), 'error');
          if (row) selectLine(textarea, row.line);
          return;
        }
        const users = created.users || [];
        const ids = users.map((u) => u.id);
        if (ids.length) {
          await call('PUT', `/api/courses/${course.id}/enrollments`, { body: { student_ids: ids } });
          remember(course.id, users);
        }
        done += chunk.length;
        progress.value = done;
        progressText.textContent = ta('students.progressText', { done, total: rows.length });
        showList();
      }
      say(msg, ta('students.done', { n: done, code: course.code }), 'ok');
      textarea.value = '';
    } catch (error) {
      say(msg, `${errorText(error)} ${ta('students.partialCreated', { n: done })}`, 'error');
    } finally {
      addButton.disabled = false;
    }
  });

  enrollForm.addEventListener('submit', async (event) => {
    event.preventDefault();
    const ids = enrollIds.value.split(/[\s,;]+/).filter(Boolean).map(Number);
    if (ids.length === 0 || ids.some((n) => !Number.isInteger(n) || n <= 0)) {
      say(enrollMsg, ta('enroll.bad'), 'error');
      enrollIds.focus();
      return;
    }
    try {
      const answer = await call('PUT', `/api/courses/${course.id}/enrollments`, { body: { student_ids: ids } });
      remember(course.id, ids.map((id) => ({ id })));
      say(enrollMsg, ta('enroll.done', { n: answer.enrolled }), 'ok');
      enrollIds.value = '';
      showList();
    } catch (error) {
      say(enrollMsg, errorText(error), 'error');
    }
  });

  unenrollForm.addEventListener('submit', async (event) => {
    event.preventDefault();
    const id = Number(unenrollId.value.trim());
    if (!Number.isInteger(id) || id <= 0) {
      say(unenrollMsg, ta('unenroll.bad'), 'error');
      unenrollId.focus();
      return;
    }
    try {
      await unenroll(id);
      say(unenrollMsg, ta('unenroll.done', { id }), 'ok');
      unenrollId.value = '';
    } catch (error) {
      say(unenrollMsg, errorText(error), 'error');
    }
  });

  fill(panel, form, el('div', { class: 'grid' }, enrollForm, unenrollForm), listSection);
  showList();
}

// Selects line `line` (1-based) of a textarea, so the teacher sees the refused row.
function selectLine(textarea, line) {
  const lines = textarea.value.split('\n');
  let start = 0;
  for (let i = 0; i < line - 1 && i < lines.length; i++) start += lines[i].length + 1;
  const end = start + (lines[line - 1] || '').length;
  textarea.focus();
  textarea.setSelectionRange(start, end);
}
