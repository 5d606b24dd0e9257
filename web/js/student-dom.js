// A small DOM builder. Text is only ever inserted as text nodes: prompts, options,
// announcements and names come from users and must never be parsed as HTML.

// h('p', { class: 'x', 'data-test': 'y', onclick: fn }, 'text', child, [more])
export function h(tag, props, ...children) {
  const el = document.createElement(tag);
  if (props) {
    for (const [key, value] of Object.entries(props)) {
      if (value === undefined || value === null || value === false) continue;
      if (key === 'class') el.className = value;
      else if (key.startsWith('on') && typeof value === 'function') {
        el.addEventListener(key.slice(2), value);
      } else if (key === 'value' || key === 'checked' || key === 'disabled') el[key] = value;
      else el.setAttribute(key, value === true ? '' : String(value));
    }
  }
  append(el, children);
  return el;
}

function append(el, children) {
  for (const child of children) {
    if (child === undefined || child === null || child === false) continue;
    if (Array.isArray(child)) append(el, child);
    else if (child instanceof Node) el.appendChild(child);
    else el.appendChild(document.createTextNode(String(child)));
  }
}

// Replaces an element's children.
export function replaceChildren(el, ...children) {
  el.textContent = '';
  append(el, children);
  return el;
}

// A <time> element showing `text` for the RFC 3339 `iso`.
export function timeEl(iso, text) {
  return h('time', { datetime: iso }, text);
}
