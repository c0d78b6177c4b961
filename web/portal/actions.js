// What the portal's buttons do: connect an account (OAuth window or input
// form), choose one of several, disconnect it, save User Settings, turn
// workflows on and off. Each tells the SDK what changed, so the app's
// callbacks and subscribers hear of it.
import { accountName } from './account.js';
import { fieldLabel } from './dom.js';
import { missing } from './settings.js';

const POPUP_FEATURES = 'popup,width=600,height=720';

/**
 * Waits for the OAuth window's end: the callback page's message (Weft's
 * origin, from that window), or the window closed without one.
 */
function oauthOutcome(popup) {
  return new Promise((resolve) => {
    const done = (value) => {
      window.removeEventListener('message', onMessage);
      clearInterval(timer);
      resolve(value);
    };
    const onMessage = (ev) => {
      if (ev.source !== popup || ev.origin !== window.location.origin || !ev.data) return;
      if (ev.data.type === 'weft:connected' && ev.data.credentialId) {
        popup.close();
        done({ credentialId: String(ev.data.credentialId) });
      }
      if (ev.data.type === 'weft:connect-failed') done({ error: String(ev.data.message || 'The account could not be connected.') });
    };
    window.addEventListener('message', onMessage);
    const timer = setInterval(() => {
      if (popup.closed) done({ closed: true });
    }, 400);
  });
}

export function createActions({ p, reload, render, showAlert, clearAlert, announce, toSdk, focusKey, focusFirstField, close }) {
  const { state } = p;
  const api = () => state.api;

  /** A new or replaced account: tell the SDK, show it, go to its settings. */
  async function connected(credentialId) {
    state.connecting = null;
    toSdk({ type: 'installed', credentialId });
    if (state.mode === 'install') {
      announce('Connected.');
      return;
    }
    await reload(credentialId);
    state.tab = 'configuration';
    const index = p.accounts().findIndex((c) => c.id === credentialId);
    announce(`Connected ${index >= 0 ? accountName(p.accounts()[index], index) : state.view.name}.`);
    render();
    focusKey('tab-configuration');
  }

  async function oauthConnect(body) {
    // Opened inside the click (else the browser blocks it), sent on once
    // Weft answered the authorization URL.
    const popup = window.open('', 'weft-oauth', POPUP_FEATURES);
    if (!popup) {
      showAlert('Your browser blocked the sign-in window. Allow pop-up windows for this page and try again.');
      return;
    }
    state.waiting = true;
    render();
    try {
      const start = await api().startConnect(state.type, body);
      if (start.type !== 'oauth') throw new Error(`${state.view.name} does not sign in with OAuth.`);
      popup.location.href = start.authorizationUrl;
    } catch (err) {
      popup.close();
      state.waiting = false;
      render();
      showAlert(err.message);
      return;
    }
    const outcome = await oauthOutcome(popup);
    state.waiting = false;
    if (outcome.credentialId) {
      await connected(outcome.credentialId);
      return;
    }
    render();
    if (outcome.error) showAlert(outcome.error);
    else announce('The sign-in window was closed before the account was connected.');
    focusKey(body.selectedCredentialId ? 'reconnect' : body.allowMultipleCredentials ? 'add-account' : 'connect');
  }

  const actions = {
    /** Connect: `adding` another account, or `replace` one (reconnect). */
    async connect({ adding = false, replace = null } = {}) {
      clearAlert();
      state.confirmingDisconnect = false;
      const body = {
        allowMultipleCredentials: Boolean(adding || state.options.allowMultipleCredentials),
        ...(replace ? { selectedCredentialId: replace } : {}),
      };
      const preAuth = state.view.inputs || [];
      if (state.view.auth === 'oauth' && !preAuth.length) {
        await oauthConnect(body);
        return;
      }
      let fields = [];
      if (state.view.auth !== 'oauth' && Array.isArray(state.view.fields)) {
        // The view names the secret fields: no start call, which would
        // refuse the pre-authorization inputs not yet entered.
        fields = state.view.fields;
      } else if (state.view.auth !== 'oauth') {
        try {
          const start = await api().startConnect(state.type, body);
          if (start.type === 'oauth') {
            await oauthConnect(body);
            return;
          }
          fields = start.fields || [];
        } catch (err) {
          showAlert(err.message);
          return;
        }
      }
      state.connecting = { fields, inputs: preAuth, values: {}, errors: {}, message: null, busy: false, body };
      render();
      focusFirstField();
    },

    async submitConnect(items) {
      const c = state.connecting;
      c.errors = {};
      c.message = null;
      for (const item of items) {
        if (item.required && !String(c.values[item.id] || '').trim()) c.errors[item.id] = `Enter your ${(item.title || fieldLabel(item.id)).toLowerCase()}.`;
      }
      if (Object.keys(c.errors).length) {
        render();
        el('.connect-form [aria-invalid="true"]')?.focus();
        return;
      }
      const pick = (kind) => Object.fromEntries(items.filter((i) => i.kind === kind && c.values[i.id] !== undefined).map((i) => [i.id, c.values[i.id]]));
      if (state.view.auth === 'oauth') {
        state.connecting = null;
        render();
        await oauthConnect({ ...c.body, inputs: pick('input') });
        return;
      }
      c.busy = true;
      render();
      try {
        const credential = await api().submitFields(state.type, { ...c.body, fields: pick('field'), inputs: pick('input') });
        await connected(credential.id);
      } catch (err) {
        c.busy = false;
        c.message =
          err.code === 'CONNECTION_TEST_FAILED'
            ? `${state.view.name} did not accept these credentials. Check them and try again. (${err.message})`
            : err.message;
        render();
        focusFirstField();
      }
    },

    cancelConnect() {
      if (state.mode === 'install') {
        close();
        return;
      }
      state.connecting = null;
      render();
      focusKey(p.selected() ? 'add-account' : 'connect');
    },

    select(id) {
      const before = state.selectedId;
      state.selectedId = null;
      state.confirmingDisconnect = false;
      reload(id)
        .catch(() => {
          state.selectedId = before;
        })
        .then(() => {
          render();
          focusKey('account-select');
        });
    },

    confirmDisconnect(open) {
      state.confirmingDisconnect = open;
      render();
      focusKey(open ? 'disconnect-confirm' : 'disconnect');
    },

    async disconnect() {
      const selected = p.selected();
      const name = accountName(selected, p.accounts().indexOf(selected));
      clearAlert();
      try {
        await api().disconnect(selected.integrationId, selected.id);
      } catch (err) {
        showAlert(err.message);
        return;
      }
      toSdk({ type: 'uninstalled', credentialId: selected.id });
      state.confirmingDisconnect = false;
      await reload(null);
      if (!p.selected()) state.tab = 'overview';
      render();
      announce(`Disconnected ${name}.`);
      if (!focusKey('account-select') && !focusKey('disconnect')) focusKey('connect');
    },

    async toggleWorkflow(workflow, on) {
      clearAlert();
      const values = p.workflowDraft(workflow.id);
      if (on && missing(workflow.settings || [], values).length) {
        state.pendingEnable.add(workflow.id);
        render();
        el(`[data-workflow="${workflow.id}"] form input, [data-workflow="${workflow.id}"] form select`)?.focus();
        return;
      }
      state.pendingEnable.delete(workflow.id);
      await setWorkflow(workflow, on);
    },

    async saveWorkflowSettings(workflow, values, enableAfter) {
      await saveConfig((config) => {
        const all = { ...(config.workflowSettings || config.configuredWorkflows || {}) };
        all[workflow.id] = { ...(all[workflow.id] || {}), settings: { ...values } };
        return { ...config, workflowSettings: all };
      });
      if (enableAfter) {
        state.pendingEnable.delete(workflow.id);
        // Announces that the workflow is on.
        await setWorkflow(workflow, true);
      } else {
        render();
        announce(`${workflow.name}: settings saved.`);
      }
    },

    async saveSharedSettings(values) {
      await saveConfig((config) => ({ ...config, sharedSettings: { ...values } }));
      render();
      announce('Settings saved.');
    },
  };

  /** Replaces the selected account's config with `change(config)` (read fresh first). */
  async function saveConfig(change) {
    const selected = p.selected();
    const fresh = await api().credential(selected.id);
    await api().saveConfig(selected.id, change(fresh.config || {}));
    toSdk({ type: 'settingsSaved', credentialId: selected.id });
    await reload();
  }

  async function setWorkflow(workflow, on) {
    const selected = p.selected();
    state.busyWorkflows.add(workflow.id);
    render();
    try {
      // The account is named only when there is a choice: with one, the
      // workflow is the user's (as one enabled by default is).
      await api().setWorkflow(workflow.id, on, p.accounts().length > 1 ? selected.id : null);
      toSdk({ type: 'workflowChanged', workflowId: workflow.id, enabled: on });
      await reload();
      announce(`${workflow.name} is ${on ? 'on' : 'off'}.`);
    } catch (err) {
      showAlert(`${workflow.name} could not be turned ${on ? 'on' : 'off'}: ${err.message}`);
    } finally {
      state.busyWorkflows.delete(workflow.id);
      render();
      focusKey(`workflow-${workflow.id}`);
    }
  }

  const el = (selector) => document.querySelector(selector);
  return actions;
}
