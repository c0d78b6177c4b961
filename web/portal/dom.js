// Small DOM helpers for the portal: element creation without HTML strings,
// unique ids, and the focusable elements of a region (for the focus trap).

const PROPERTIES = new Set(['value', 'checked', 'selected', 'disabled', 'hidden', 'tabIndex', 'type']);
let counter = 0;

/** A fresh id, valid in a selector: `prefix-N`. */
export const uid = (prefix) => `${String(prefix).replace(/[^a-zA-Z0-9_-]/g, '_')}-${(counter += 1)}`;

/**
 * `h('button', {class: 'primary', onClick: fn, 'aria-label': 'Close'}, 'text')`.
 * `text` sets the text; `on<Event>` adds a listener; booleans and `value`
 * are properties; a false, null or undefined attribute is left out.
 */
export function h(tag, props = {}, ...children) {
  const el = document.createElement(tag);
  for (const [key, value] of Object.entries(props)) {
    if (value === undefined || value === null || value === false) continue;
    if (key === 'class') el.className = value;
    else if (key === 'text') el.textContent = value;
    else if (key === 'dataset') Object.assign(el.dataset, value);
    else if (/^on[A-Z]/.test(key)) el.addEventListener(key.slice(2).toLowerCase(), value);
    else if (PROPERTIES.has(key)) el[key] = value;
    else el.setAttribute(key, value === true ? '' : String(value));
  }
  for (const child of children.flat(Infinity)) {
    if (child === null || child === undefined || child === false) continue;
    el.append(child instanceof Node ? child : String(child));
  }
  return el;
}

const FOCUSABLE = [
  'a[href]',
  'button:not([disabled])',
  'input:not([disabled]):not([type="hidden"])',
  'select:not([disabled])',
  'textarea:not([disabled])',
  '[tabindex]:not([tabindex="-1"])',
].join(',');

/** The elements of `root` that Tab reaches, in order. */
export function focusables(root) {
  return [...root.querySelectorAll(FOCUSABLE)].filter((el) => el.getClientRects().length > 0 && !el.closest('[hidden]'));
}

/** A readable label of an input field's name: `api_key` → `API key`. */
export function fieldLabel(name) {
  const words = String(name)
    .replace(/([a-z0-9])([A-Z])/g, '$1 $2')
    .split(/[\s_-]+/)
    .filter(Boolean)
    .map((w) => w.toLowerCase());
  const upper = new Set(['api', 'id', 'url', 'oauth', 'sso']);
  return words
    .map((w, i) => (upper.has(w) ? w.toUpperCase() : i === 0 ? w[0].toUpperCase() + w.slice(1) : w))
    .join(' ');
}

/** Whether a field of this name holds a secret (shown masked). */
export const isSecretField = (name) => /key|secret|password|token/i.test(name);
