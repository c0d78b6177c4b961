// User Settings forms: one control per setting (text, number, boolean,
// password, dropdown, customDropdown, fieldMapping), each with its label,
// tooltip and an inline error, written into a values object as the user
// edits it (so a re-render keeps unsaved input).
import { h, uid } from './dom.js';
import { combobox } from './combobox.js';
import { fieldMapping } from './fieldmap.js';

/** Whether a setting's value counts as given. */
export function isGiven(setting, value) {
  if (value === undefined || value === null || value === '') return false;
  if (setting.type === 'fieldMapping') return Boolean(value.objectType);
  return true;
}

/** The required settings of `settings` that `values` leaves empty. */
export const missing = (settings, values) => settings.filter((s) => s.required && s.type !== 'boolean' && !isGiven(s, values[s.id]));

/** A field's frame: label, tooltip, the control, its error. */
function frame(setting, id, control, { labelAfter = false } = {}) {
  const hintId = setting.tooltip ? `${id}-hint` : null;
  const errorId = `${id}-error`;
  const described = [hintId, errorId].filter(Boolean).join(' ');
  const target = control.focusTarget || control;
  target.setAttribute('aria-describedby', described);
  if (setting.required) target.setAttribute('aria-required', 'true');
  const label = h(
    'label',
    { for: target.id, class: 'label' },
    setting.title || setting.id,
    setting.required ? h('span', { class: 'required' }, ' (required)') : null,
  );
  return h(
    'div',
    { class: `field field-${setting.type}`, dataset: { setting: setting.id } },
    labelAfter ? [control, label] : [label, control],
    hintId ? h('p', { class: 'hint', id: hintId, text: setting.tooltip }) : null,
    h('p', { class: 'error', id: errorId, hidden: true }),
  );
}

/** A `<select>` of `options` ({label, value}) with an empty first choice. */
function select(id, options, value, onChange) {
  const index = options.findIndex((o) => JSON.stringify(o.value) === JSON.stringify(value));
  return h(
    'select',
    { id, onChange: (ev) => onChange(ev.target.value === '' ? null : options[Number(ev.target.value)].value) },
    h('option', { value: '', text: 'Choose…', selected: index < 0 }),
    options.map((o, i) => h('option', { value: String(i), text: String(o.label), selected: i === index })),
  );
}

/** The control of one setting, writing into `values`. */
function control(setting, values, ctx, id) {
  const set = (v) => {
    values[setting.id] = v;
  };
  const value = values[setting.id];
  switch (setting.type) {
    case 'number':
      return h('input', {
        id,
        type: 'number',
        value: value === undefined || value === null ? '' : String(value),
        onInput: (ev) => set(ev.target.value === '' ? null : Number(ev.target.value)),
      });
    case 'boolean':
      return h('input', { id, type: 'checkbox', checked: value === true, onChange: (ev) => set(ev.target.checked) });
    case 'password':
      return h('input', { id, type: 'password', autocomplete: 'off', value: value || '', onInput: (ev) => set(ev.target.value) });
    case 'dropdown':
      return select(id, setting.options || [], value, set);
    case 'customDropdown': {
      const source = (ctx.dropdowns || {})[setting.key];
      if (source && source.dynamic) {
        return combobox({ id, label: setting.title || setting.id, value, load: (cursor, search) => ctx.loadOptions(setting.key, cursor, search), onChange: set });
      }
      const el = select(id, (source && source.options) || [], value, set);
      if (!source) el.disabled = true;
      return el;
    }
    case 'fieldMapping':
      return fieldMapping({ id, setting, value, appFields: (ctx.mapObjectFields || {})[setting.objectName], integrationName: ctx.integrationName, onChange: set });
    default:
      return h('input', { id, type: 'text', value: value === undefined || value === null ? '' : String(value), onInput: (ev) => set(ev.target.value) });
  }
}

/**
 * A form of `settings` over `values` (mutated as the user edits). Submitting
 * checks the required ones, shows what is missing next to each and focuses
 * the first, or calls `onSubmit(values)`; its rejection is shown at the form.
 */
export function settingsForm({ settings, values, ctx, submitLabel, onSubmit, title }) {
  const scope = uid(ctx.scope || 'settings');
  const fields = settings.map((setting) => {
    const id = `${scope}-${String(setting.id).replace(/[^a-zA-Z0-9_-]/g, '_')}`;
    const el = control(setting, values, ctx, id);
    const wrapped = setting.type === 'fieldMapping' ? el : frame(setting, id, el, { labelAfter: setting.type === 'boolean' });
    return { setting, el: wrapped, target: el.focusTarget || el };
  });
  const formError = h('p', { class: 'error form-error', hidden: true, id: `${scope}-form-error` });
  const submit = h('button', { type: 'submit', class: 'primary', text: submitLabel });
  const form = h(
    'form',
    { class: 'settings', novalidate: true, 'aria-label': title },
    fields.map((f) => f.el),
    formError,
    h('div', { class: 'actions' }, submit),
  );

  function showError(field, message) {
    const error = field.el.querySelector('.error');
    if (error) {
      error.textContent = message;
      error.hidden = !message;
    }
    if (message) field.target.setAttribute('aria-invalid', 'true');
    else field.target.removeAttribute('aria-invalid');
  }

  form.addEventListener('submit', async (ev) => {
    ev.preventDefault();
    formError.hidden = true;
    const empty = new Set(missing(settings, values).map((s) => s.id));
    for (const f of fields) showError(f, empty.has(f.setting.id) ? `${f.setting.title || f.setting.id} is required.` : '');
    const first = fields.find((f) => empty.has(f.setting.id));
    if (first) {
      first.target.focus();
      return;
    }
    submit.disabled = true;
    try {
      await onSubmit(values);
    } catch (err) {
      formError.textContent = err.message;
      formError.hidden = false;
      submit.focus();
    } finally {
      submit.disabled = false;
    }
  });
  return form;
}
