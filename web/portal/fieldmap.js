// A Field Mapping setting: the user picks one of the integration's objects,
// then, for each field of the app's object (given by the app's
// `mapObjectFields`), the integration's field it maps to. The value is
// `{objectType, fieldMappings: {appField: integrationField}}`.
import { h } from './dom.js';

/** The app's fields for the mapping: `[{label, value}]`, the defaults first shown. */
function appFieldsOf(source, value) {
  if (!source) return [];
  const fields = source.fields || [];
  if (!source.defaultFields) return fields;
  const mapped = new Set(Object.keys((value && value.fieldMappings) || {}));
  const shown = new Set(source.defaultFields);
  return fields.filter((f) => shown.has(String(f.value)) || mapped.has(String(f.value)));
}

export function fieldMapping({ id, setting, value, appFields, integrationName, onChange }) {
  const objects = setting.integrationObjects || [];
  const current = {
    objectType: (value && value.objectType) || null,
    fieldMappings: { ...((value && value.fieldMappings) || {}) },
  };
  const emit = () => onChange(current.objectType ? { objectType: current.objectType, fieldMappings: { ...current.fieldMappings } } : null);
  // The app's fields from connect(), else those the setting names.
  const fields = appFieldsOf(appFields || ((setting.fields || []).length ? { fields: setting.fields } : null), value);
  const hintId = setting.tooltip ? `${id}-hint` : null;
  const errorId = `${id}-error`;

  const objectSelect = h(
    'select',
    { id, 'aria-describedby': [hintId, errorId].filter(Boolean).join(' '), 'aria-required': setting.required ? 'true' : null },
    h('option', { value: '', text: 'Choose…', selected: !current.objectType }),
    objects.map((o) => h('option', { value: String(o.value), text: o.label, selected: String(o.value) === current.objectType })),
  );
  const rows = h('div', { class: 'mappings' });

  function paintRows() {
    const object = objects.find((o) => String(o.value) === current.objectType);
    if (!object) {
      rows.replaceChildren();
      return;
    }
    if (!fields.length) {
      rows.replaceChildren(h('p', { class: 'hint', text: `The app gave no fields of ${setting.objectName || 'its object'} to map.` }));
      return;
    }
    rows.replaceChildren(
      ...fields.map((field, i) => {
        const rowId = `${id}-field-${i}`;
        const mapped = current.fieldMappings[field.value];
        return h(
          'div',
          { class: 'mapping' },
          h('label', { for: rowId, class: 'label', text: field.label }),
          h(
            'select',
            {
              id: rowId,
              onChange: (ev) => {
                if (ev.target.value === '') delete current.fieldMappings[field.value];
                else current.fieldMappings[field.value] = ev.target.value;
                emit();
              },
            },
            h('option', { value: '', text: 'Not mapped', selected: !mapped }),
            (object.fields || []).map((f) => h('option', { value: String(f.value), text: f.label, selected: String(f.value) === mapped })),
          ),
        );
      }),
    );
  }

  objectSelect.addEventListener('change', (ev) => {
    current.objectType = ev.target.value || null;
    current.fieldMappings = {};
    emit();
    paintRows();
  });
  paintRows();

  const root = h(
    'fieldset',
    { class: 'field field-fieldMapping', dataset: { setting: setting.id } },
    h('legend', {}, setting.title || setting.id, setting.required ? h('span', { class: 'required' }, ' (required)') : null),
    hintId ? h('p', { class: 'hint', id: hintId, text: setting.tooltip }) : null,
    h('label', { for: id, class: 'label', text: `${integrationName} object` }),
    objectSelect,
    h('p', { class: 'error', id: errorId, hidden: true }),
    rows,
  );
  root.focusTarget = objectSelect;
  return root;
}
