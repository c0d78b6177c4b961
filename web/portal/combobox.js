// A searchable, paginated dropdown (the ARIA combobox pattern) for a custom
// dropdown whose options come from the app's `loadOptions(cursor, search)`:
// typing searches, Arrow keys move through the options (loading the next
// page at the end), Enter or a click chooses, Escape closes the list.
import { h } from './dom.js';

const SEARCH_DELAY_MS = 250;

/**
 * `load(cursor, search)` answers `{options: [{label, value}], nextPageCursor}`.
 * The element answered is the combobox's wrapper; its `focusTarget` is the
 * input (which carries `id`).
 */
export function combobox({ id, label, value, load, onChange }) {
  const listId = `${id}-listbox`;
  const input = h('input', {
    id,
    type: 'text',
    role: 'combobox',
    autocomplete: 'off',
    'aria-autocomplete': 'list',
    'aria-expanded': 'false',
    'aria-controls': listId,
    value: value === undefined || value === null ? '' : String(value),
  });
  const list = h('ul', { id: listId, role: 'listbox', class: 'listbox', 'aria-label': `${label} options`, hidden: true });
  const note = h('p', { class: 'combo-note', 'aria-live': 'polite' });
  const root = h('div', { class: 'combo' }, input, list, note);
  root.focusTarget = input;

  let options = [];
  let cursor = null;
  let search = '';
  let active = -1;
  let loading = null;
  let chosen = value === undefined ? null : value;
  let searchTimer = null;
  let generation = 0;

  function open(isOpen) {
    list.hidden = !isOpen;
    input.setAttribute('aria-expanded', String(isOpen));
    if (!isOpen) {
      active = -1;
      input.removeAttribute('aria-activedescendant');
    }
  }

  function paint() {
    list.replaceChildren(
      ...options.map((o, i) =>
        h('li', {
          id: `${id}-option-${i}`,
          role: 'option',
          class: i === active ? 'option active' : 'option',
          'aria-selected': String(JSON.stringify(o.value) === JSON.stringify(chosen)),
          text: o.label,
          onMousedown: (ev) => ev.preventDefault(),
          onClick: () => choose(i),
        }),
      ),
    );
    if (active >= 0) {
      input.setAttribute('aria-activedescendant', `${id}-option-${active}`);
      list.children[active]?.scrollIntoView({ block: 'nearest' });
    } else {
      input.removeAttribute('aria-activedescendant');
    }
  }

  /** Shows the chosen value by its label once an option names it. */
  function showChosen() {
    const known = options.find((o) => JSON.stringify(o.value) === JSON.stringify(chosen));
    if (known && document.activeElement !== input) input.value = known.label;
  }

  /**
   * Loads the first page for the current search (superseding any load in
   * flight), or the next page (once, when there is one).
   */
  function fetchPage(next) {
    if (next && (!cursor || loading)) return loading || Promise.resolve();
    const mine = (generation += 1);
    note.textContent = 'Loading…';
    const pending = Promise.resolve()
      .then(() => load(next ? cursor : undefined, search || undefined))
      .then(
        (page) => {
          if (mine !== generation) return;
          options = next ? options.concat(page.options) : page.options;
          cursor = page.nextPageCursor || null;
          note.textContent = options.length ? '' : 'No options';
          showChosen();
        },
        (err) => {
          if (mine === generation) note.textContent = `The options could not be loaded: ${err.message}`;
        },
      )
      .finally(() => {
        if (loading === pending) loading = null;
        paint();
      });
    loading = pending;
    return pending;
  }

  function choose(i) {
    const option = options[i];
    if (!option) return;
    chosen = option.value;
    input.value = option.label;
    onChange(option.value);
    open(false);
    paint();
  }

  async function move(delta) {
    if (list.hidden) {
      open(true);
      if (loading) await loading;
      else if (!options.length) await fetchPage(false);
    }
    let next = active + delta;
    if (next >= options.length && cursor) {
      await fetchPage(true);
    }
    next = Math.max(0, Math.min(options.length - 1, next));
    active = options.length ? next : -1;
    paint();
  }

  input.addEventListener('keydown', (ev) => {
    if (ev.key === 'ArrowDown' || ev.key === 'ArrowUp') {
      ev.preventDefault();
      move(ev.key === 'ArrowDown' ? 1 : -1);
    } else if (ev.key === 'Enter' && !list.hidden) {
      ev.preventDefault();
      if (active >= 0) choose(active);
    } else if (ev.key === 'Escape' && !list.hidden) {
      // Closes the list only, not the portal.
      ev.preventDefault();
      ev.stopPropagation();
      open(false);
      paint();
    }
  });
  input.addEventListener('input', () => {
    if (input.value === '') {
      chosen = null;
      onChange(null);
    }
    clearTimeout(searchTimer);
    searchTimer = setTimeout(() => {
      search = input.value;
      active = -1;
      open(true);
      fetchPage(false);
    }, SEARCH_DELAY_MS);
  });
  input.addEventListener('blur', () => {
    open(false);
    // showChosen waits for the blur to end: the label replaces the search.
    setTimeout(showChosen);
  });
  list.addEventListener('scroll', () => {
    if (list.scrollTop + list.clientHeight >= list.scrollHeight - 8) fetchPage(true);
  });

  // The first page, to show the saved choice by its label.
  fetchPage(false);
  return root;
}
