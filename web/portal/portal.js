// The Connect Portal page. The SDK's `connect()` shows it in a full-window
// iframe and hands it, over a MessageChannel, the user's token and the
// app's options (docs/connect-portal.md, "The SDK and the portal"). It reads
// the integration's portal view and the user from Weft, and lets the user
// connect accounts, choose settings and workflows, and disconnect.
import { createApi } from './api.js';
import { focusables, h } from './dom.js';
import { renderAccount } from './account.js';
import { renderConfiguration } from './config.js';
import { createActions } from './actions.js';

const $ = (id) => document.getElementById(id);
const el = {
  backdrop: $('backdrop'),
  dialog: $('dialog'),
  title: $('portal-title'),
  description: $('portal-description'),
  icon: $('portal-icon'),
  close: $('close'),
  alerts: $('alerts'),
  account: $('account'),
  tabs: $('tabs'),
  live: $('live'),
  standalone: $('standalone'),
};

let port = null;
const optionRequests = new Map();
let lastRequest = 0;

const state = {
  mode: 'connect',
  type: null,
  options: {},
  api: null,
  view: null,
  me: null,
  selectedId: null,
  tab: 'overview',
  /** The open connect form: {fields, inputs, values, errors, message, busy, body}. */
  connecting: null,
  /** An OAuth sign-in window is open. */
  waiting: false,
  confirmingDisconnect: false,
  drafts: { shared: {}, workflows: {} },
  pendingEnable: new Set(),
  busyWorkflows: new Set(),
};

const clone = (v) => JSON.parse(JSON.stringify(v ?? {}));
const toSdk = (message) => port && port.postMessage(message);
const announce = (text) => {
  el.live.textContent = text;
};
function showAlert(message) {
  el.alerts.replaceChildren(h('p', { text: message }));
  toSdk({ type: 'error', message });
}
const clearAlert = () => el.alerts.replaceChildren();

/** Pages of options already loaded in this portal, by key, cursor and search. */
const optionPages = new Map();

/**
 * Options of a custom dropdown, from the app's `loadOptions` (over the SDK).
 * A page is asked for once while the portal is open (the forms are drawn
 * again after each change); a failed load is asked for again next time.
 */
function loadOptions(key, cursor, search) {
  const cacheKey = JSON.stringify([key, cursor ?? null, search ?? null]);
  if (optionPages.has(cacheKey)) return optionPages.get(cacheKey);
  lastRequest += 1;
  const id = lastRequest;
  const page = new Promise((resolve, reject) => {
    optionRequests.set(id, { resolve, reject });
    toSdk({ type: 'loadOptions', id, key, cursor: cursor ?? null, search: search ?? null });
  });
  optionPages.set(cacheKey, page);
  page.catch(() => optionPages.delete(cacheKey));
  return page;
}

const workflowSettingsOf = (config) => (config && (config.workflowSettings || config.configuredWorkflows)) || {};

/** What the renderers read, and the actions they call. */
const p = {
  state,
  accounts: () => state.me?.integrations?.[state.type]?.allCredentials || [],
  selected: () => p.accounts().find((c) => c.id === state.selectedId) || null,
  usable: () => p.selected()?.status === 'VALID',
  /** Whether each workflow is on for the selected account. */
  enabledWorkflows() {
    const selected = p.selected();
    if (!selected) return () => false;
    const integration = state.me.integrations[state.type];
    const own = workflowSettingsOf(selected.configurations?.[0]);
    const first = integration.credentialId === selected.id ? integration.workflowSettings || {} : {};
    return (id) => own[id]?.enabled === true || first[id]?.enabled === true;
  },
  workflowDraft(id) {
    if (!(id in state.drafts.workflows)) {
      state.drafts.workflows[id] = clone(workflowSettingsOf(p.selected()?.config)[id]?.settings);
    }
    return state.drafts.workflows[id];
  },
  settingsContext: () => ({
    dropdowns: state.options.dropdowns || {},
    mapObjectFields: state.options.mapObjectFields || {},
    loadOptions,
    integrationName: state.view.name,
  }),
  actions: {},
};

/** Shows `preferred` (or the first valid account); a new account resets the drafts. */
function pickAccount(preferred) {
  const accounts = p.accounts();
  const found = accounts.find((c) => c.id === preferred) || accounts.find((c) => c.status === 'VALID') || accounts[0] || null;
  const id = found ? found.id : null;
  if (id === state.selectedId) return;
  state.selectedId = id;
  state.drafts = { shared: clone(found?.config?.sharedSettings), workflows: {} };
  state.pendingEnable.clear();
  state.confirmingDisconnect = false;
}

async function reload(preferred = state.selectedId) {
  state.me = await state.api.me();
  pickAccount(preferred);
}

/** Moves focus to the element rendered with `data-key`, if there is one. */
function focusKey(key) {
  const target = key && el.dialog.querySelector(`[data-key="${key}"]`);
  if (target && !target.disabled) {
    target.focus();
    return true;
  }
  return false;
}

function render() {
  const active = document.activeElement;
  const key = active && active.dataset ? active.dataset.key : null;
  el.account.replaceChildren(...renderAccount(p));
  renderTabs();
  if (key && !el.dialog.contains(document.activeElement)) focusKey(key);
}

function selectTab(id, focus) {
  state.tab = id;
  render();
  if (focus) focusKey(`tab-${id}`);
}

function onTabKey(ev) {
  const order = ['overview', 'configuration'];
  const at = order.indexOf(state.tab);
  const next = { ArrowRight: at + 1, ArrowLeft: at - 1, Home: 0, End: order.length - 1 }[ev.key];
  if (next === undefined) return;
  ev.preventDefault();
  selectTab(order[(next + order.length) % order.length], true);
}

function renderTabs() {
  if (state.mode === 'install') {
    el.tabs.replaceChildren();
    return;
  }
  const tabs = [
    ['overview', 'Overview'],
    ['configuration', 'Configuration'],
  ];
  const list = h(
    'div',
    { role: 'tablist', class: 'tablist', 'aria-label': `${state.view.name} sections` },
    tabs.map(([id, label]) =>
      h('button', {
        type: 'button',
        role: 'tab',
        id: `tab-${id}`,
        'aria-controls': `panel-${id}`,
        'aria-selected': String(state.tab === id),
        tabIndex: state.tab === id ? 0 : -1,
        dataset: { key: `tab-${id}` },
        text: label,
        onClick: () => selectTab(id, true),
        onKeydown: onTabKey,
      }),
    ),
  );
  const panel = (id, content) =>
    h('div', { role: 'tabpanel', id: `panel-${id}`, class: `panel panel-${id}`, 'aria-labelledby': `tab-${id}`, hidden: state.tab !== id }, content);
  const overview = panel('overview', null);
  if (state.tab === 'overview') {
    overview.tabIndex = 0;
    // Markdown the server rendered, raw HTML escaped.
    overview.innerHTML = state.view.overviewHtml || '';
    if (!overview.textContent.trim()) overview.replaceChildren(h('p', { text: state.view.description || `Connect ${state.view.name}.` }));
    for (const a of overview.querySelectorAll('a[href]')) {
      a.target = '_blank';
      a.rel = 'noopener noreferrer';
    }
  }
  const configuration = panel('configuration', state.tab === 'configuration' ? renderConfiguration(p) : null);
  el.tabs.replaceChildren(list, overview, configuration);
}

/** The integration's name, icon, theme and accent colour. */
function applyAppearance(view) {
  document.title = `${view.name}: Connect Portal`;
  el.title.textContent = view.name;
  el.description.textContent = view.description || '';
  el.description.hidden = !view.description;
  el.icon.replaceChildren(view.icon ? h('img', { src: view.icon, alt: '' }) : h('span', { class: 'letter', text: view.name.slice(0, 1) }));
  document.documentElement.dataset.theme = ['light', 'dark'].includes(view.theme) ? view.theme : 'system';
  const accent = /^#([0-9a-f]{3}|[0-9a-f]{6})$/i.test(view.accentColor || '') ? view.accentColor : null;
  if (accent) {
    const style = document.documentElement.style;
    style.setProperty('--accent', accent);
    style.setProperty('--on-accent', readableOn(accent));
  }
}

/** Black or white, whichever reads better on `hex`. */
function readableOn(hex) {
  const full = hex.length === 4 ? `#${[...hex.slice(1)].map((c) => c + c).join('')}` : hex;
  const [r, g, b] = [1, 3, 5].map((i) => {
    const c = parseInt(full.slice(i, i + 2), 16) / 255;
    return c <= 0.03928 ? c / 12.92 : ((c + 0.055) / 1.055) ** 2.4;
  });
  const l = 0.2126 * r + 0.7152 * g + 0.0722 * b;
  return (l + 0.05) / 0.05 > 1.05 / (l + 0.05) ? '#000000' : '#ffffff';
}

function close() {
  toSdk({ type: 'close' });
}

function initialFocus() {
  if (state.mode === 'install' && focusFirstField()) return;
  if (focusKey('connect')) return;
  if (!focusKey(`tab-${state.tab}`)) el.title.focus();
}

function focusFirstField() {
  const field = el.account.querySelector('.connect-form input');
  if (field) field.focus();
  return Boolean(field);
}

// Keyboard: Tab stays inside the dialog; Escape closes the portal.
document.addEventListener('keydown', (ev) => {
  if (ev.key === 'Escape' && !ev.defaultPrevented && port) {
    ev.preventDefault();
    close();
  } else if (ev.key === 'Tab' && !el.dialog.hidden) {
    const items = focusables(el.dialog);
    if (!items.length) return;
    const first = items[0];
    const last = items[items.length - 1];
    const inside = el.dialog.contains(document.activeElement);
    if (ev.shiftKey && (document.activeElement === first || !inside)) {
      ev.preventDefault();
      last.focus();
    } else if (!ev.shiftKey && (document.activeElement === last || !inside)) {
      ev.preventDefault();
      first.focus();
    }
  }
});
el.close.addEventListener('click', close);
el.backdrop.addEventListener('click', (ev) => {
  if (ev.target === el.backdrop) close();
});

function fromSdk(ev) {
  const msg = ev.data || {};
  if (msg.type === 'focus') initialFocus();
  if (msg.type === 'options' && optionRequests.has(msg.id)) {
    const { resolve, reject } = optionRequests.get(msg.id);
    optionRequests.delete(msg.id);
    if (msg.error) reject(new Error(msg.error));
    else resolve({ options: msg.options || [], nextPageCursor: msg.nextPageCursor ?? null });
  }
}

async function onInit(ev) {
  if (ev.source !== window.parent || port || !ev.data || ev.data.type !== 'weft:portal-init' || !ev.ports[0]) return;
  window.removeEventListener('message', onInit);
  port = ev.ports[0];
  port.onmessage = fromSdk;
  const init = ev.data;
  state.type = String(init.integrationType);
  state.mode = init.mode === 'install' ? 'install' : 'connect';
  state.options = init.options || {};
  state.api = createApi(String(init.projectId), String(init.token));
  try {
    [state.view, state.me] = await Promise.all([state.api.portal(state.type), state.api.me()]);
  } catch (err) {
    el.title.textContent = 'Connect Portal';
    el.dialog.hidden = false;
    showAlert(`The portal could not be loaded: ${err.message}`);
    toSdk({ type: 'opened' });
    return;
  }
  applyAppearance(state.view);
  pickAccount(state.options.selectedCredentialId);
  state.tab = p.selected() ? 'configuration' : 'overview';
  el.dialog.hidden = false;
  if (state.mode === 'install') await p.actions.connect({ adding: state.options.allowMultipleCredentials, replace: state.options.selectedCredentialId });
  render();
  toSdk({ type: 'opened' });
}

p.actions = createActions({ p, reload, render, showAlert, clearAlert, announce, toSdk, focusKey, focusFirstField, close });

if (window.parent === window) {
  el.standalone.hidden = false;
} else {
  window.addEventListener('message', onInit);
  // Nothing secret here: the SDK answers only a frame of Weft's origin.
  window.parent.postMessage({ type: 'weft:portal-ready' }, '*');
}
