// The questions of a contest as a form: one fieldset per question, the right controls for its
// type (API.md "Question types"), and the answers as API.md's answer objects.
//
// Answers live in a Map question id → answer object; the controls write into it on every
// change, and are filled from it when drawn, so a redraw never loses work.

import { h } from './student-dom.js';
import { t } from './strings.js';

export const TEXT_MAX = 1000;

export function questionType(q) {
  return q.type || 'single';
}

// The option indexes in display order: `option_order` when the server shuffled them.
function displayOrder(q) {
  const n = q.options ? q.options.length : 0;
  const order = Array.isArray(q.option_order) && q.option_order.length === n ? q.option_order : null;
  return order || Array.from({ length: n }, (_, i) => i);
}

function pointsText(points) {
  return points === 1 ? t('point') : t('points', { n: points });
}

// One question's fieldset. `onChange()` runs after the answers map changed.
export function renderQuestion(q, index, answers, onChange) {
  const qid = q.id;
  const name = `q${qid}`;
  const type = questionType(q);
  const current = answers.get(qid);
  const legend = h(
    'legend',
    null,
    h('span', { class: 'q-number' }, t('questionHeading', { n: index + 1 }), ' ', h('span', { class: 'q-points' }, `(${pointsText(q.points)})`)),
    h('span', { class: 'q-prompt' }, q.prompt),
  );
  const body = [];
  if (type === 'single' || type === 'multiple') {
    const isMultiple = type === 'multiple';
    const hintId = `${name}-hint`;
    body.push(
      h('p', { class: 'hint', id: hintId }, t(isMultiple ? 'chooseAny' : 'chooseOne'),
        isMultiple && q.scoring === 'partial' ? ' ' + t('partialScoring') : null),
    );
    const chosen = new Set(
      current ? (isMultiple ? current.options || [] : [current.option]) : [],
    );
    const list = h('div', { class: 'options' });
    for (const i of displayOrder(q)) {
      const id = `${name}-o${i}`;
      const input = h('input', {
        type: isMultiple ? 'checkbox' : 'radio',
        name,
        id,
        value: String(i),
        checked: chosen.has(i),
      });
      input.addEventListener('change', () => {
        if (isMultiple) {
          const picked = Array.from(list.querySelectorAll('input:checked'), (el) => Number(el.value));
          if (picked.length) answers.set(qid, { question_id: qid, options: picked.sort((a, b) => a - b) });
          else answers.delete(qid);
        } else {
          answers.set(qid, { question_id: qid, option: i });
        }
        onChange();
      });
      list.appendChild(h('div', { class: 'option' }, input, h('label', { for: id }, q.options[i])));
    }
    body.push(list);
  } else if (type === 'numeric') {
    const errorId = `${name}-error`;
    const input = h('input', {
      type: 'number',
      id: name,
      name,
      step: 'any',
      inputmode: 'decimal',
      autocomplete: 'off',
      'aria-describedby': errorId,
      value: current && Number.isFinite(current.value) ? String(current.value) : '',
    });
    const error = h('p', { class: 'field-error', id: errorId, hidden: true }, t('numericInvalid'));
    const update = () => {
      const bad = input.validity.badInput;
      error.hidden = !bad;
      if (bad) input.setAttribute('aria-invalid', 'true');
      else input.removeAttribute('aria-invalid');
      const value = input.valueAsNumber;
      if (!bad && input.value !== '' && Number.isFinite(value)) {
        answers.set(qid, { question_id: qid, value });
      } else {
        answers.delete(qid);
      }
      onChange();
    };
    input.addEventListener('input', update);
    input.addEventListener('change', update);
    body.push(h('div', { class: 'field' }, h('label', { for: name }, t('numericLabel')), input, error));
  } else if (type === 'text') {
    const hintId = `${name}-hint`;
    const input = h('input', {
      type: 'text',
      id: name,
      name,
      maxlength: TEXT_MAX,
      autocomplete: 'off',
      spellcheck: 'false',
      'aria-describedby': hintId,
      value: current && typeof current.text === 'string' ? current.text : '',
    });
    input.addEventListener('input', () => {
      // maxlength counts UTF-16 units, API.md counts code points: cut by code points too.
      const chars = Array.from(input.value);
      if (chars.length > TEXT_MAX) input.value = chars.slice(0, TEXT_MAX).join('');
      if (input.value.trim() !== '') answers.set(qid, { question_id: qid, text: input.value });
      else answers.delete(qid);
      onChange();
    });
    body.push(
      h('div', { class: 'field' }, h('label', { for: name }, t('textLabel')), input, h('p', { class: 'hint', id: hintId }, t('textHint'))),
    );
  }
  return h('fieldset', { class: 'question', 'data-test': 'question', 'data-id': qid, 'data-type': type }, legend, body);
}

// The draft's answers (API.md answer objects) into the map, keeping only ones that fit.
export function loadAnswers(questions, list, answers) {
  const byId = new Map(questions.map((q) => [q.id, q]));
  for (const a of list || []) {
    const q = byId.get(a.question_id);
    if (!q) continue;
    const type = questionType(q);
    if (type === 'single' && Number.isInteger(a.option)) answers.set(q.id, { question_id: q.id, option: a.option });
    else if (type === 'multiple' && Array.isArray(a.options) && a.options.length) {
      answers.set(q.id, { question_id: q.id, options: a.options.slice() });
    } else if (type === 'numeric' && Number.isFinite(a.value)) answers.set(q.id, { question_id: q.id, value: a.value });
    else if (type === 'text' && typeof a.text === 'string' && a.text !== '') {
      answers.set(q.id, { question_id: q.id, text: a.text });
    }
  }
}

// The answers to send, in the questions' order.
export function collectAnswers(questions, answers) {
  return questions.filter((q) => answers.has(q.id)).map((q) => answers.get(q.id));
}

// An answer as text, for the receipt's list of answers.
export function describeAnswer(q, a) {
  if (!a) return t('noAnswer');
  const type = questionType(q);
  if (type === 'single' && q.options) return q.options[a.option] ?? String(a.option);
  if (type === 'multiple' && q.options) {
    const picked = a.options || [];
    return picked.length ? picked.map((i) => q.options[i] ?? String(i)).join('; ') : t('noAnswer');
  }
  if (type === 'numeric') return String(a.value);
  if (type === 'text') return a.text;
  return JSON.stringify(a);
}
