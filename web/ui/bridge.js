// `/ui`: Weft's Connect Portal for apps that use the reference's browser SDK
// (`@useparagon/connect`) pointed at Weft. That SDK loads this page into a
// hidden full-window frame (`#paragon-connect-frame`) and keeps all the
// state itself: it posts `{messageType: 'UI_UPDATE', nextContext,
// nextModalState}` here after each change, and runs any of its methods for
// this page on `{messageType: 'SDK_FUNCTION_INVOCATION', type, parameters,
// id}`, answering `SDK_FUNCTION_RESPONSE` or `SDK_FUNCTION_ERROR`.
//
// This page shows Weft's own portal (`/portal/`) in a nested frame and
// speaks Weft's portal protocol to it (docs/connect-portal.md, "The SDK and
// the portal"), turning what the portal reports into calls of the reference
// SDK's methods, so that SDK fires the app's callbacks and updates its user.
(function () {
  'use strict';

  const here = document.currentScript ? new URL(document.currentScript.src) : new URL(window.location.href);
  /** Weft's portal page, beside this directory (any path prefix kept). */
  const PORTAL_URL = new URL('../portal/', here).href;
  const VERSION = 'reference-ui-1';

  /** The app's origin, learnt from its first UI_UPDATE (the reference SDK's frame parent). */
  let appOrigin = null;
  const calls = new Map();
  let lastCall = 0;
  /** The portal being shown: {integration, type, frame, port, shown}. */
  let current = null;
  /** The id of an integration the user closed, until the SDK's state says so. */
  let dismissed = null;

  /**
   * Runs `paragon[name](...parameters)` in the app's page; answers its result.
   * Nothing secret goes this way.
   */
  function invoke(name, ...parameters) {
    if (!appOrigin) return Promise.reject(new Error('The SDK has not spoken to this page yet'));
    lastCall += 1;
    const id = `weft-ui-${lastCall}`;
    return new Promise((resolve, reject) => {
      calls.set(id, { resolve, reject });
      window.parent.postMessage({ messageType: 'SDK_FUNCTION_INVOCATION', type: name, parameters, id }, appOrigin);
    });
  }

  /** Like `invoke`, for calls whose failure only the console should hear of. */
  const tell = (name, ...parameters) =>
    invoke(name, ...parameters).catch((err) => console.warn(`Weft: the SDK's ${name} failed: ${err.message}`));

  /** The integration's type name as the reference SDK spells it (`custom.<slug>` for custom ones). */
  function typeName(integration) {
    if (integration.type !== 'custom') return integration.type;
    const custom = integration.customIntegration || {};
    if (custom.slug) return custom.slug;
    return `custom.${String(custom.name || '').replace(/[\W_]+/g, '').trim().toLowerCase()}`;
  }

  /**
   * The app's options as Weft's portal takes them. The reference SDK keeps
   * the app's functions and most of its options to itself: `mapObjectFields`
   * arrives in the context's end-user config, the account options in
   * `apiInstallationOptions`; dropdowns are found by `dropdownsFor`.
   */
  function portalOptions(context, modal, dropdowns) {
    const install = modal.apiInstallationOptions || {};
    const mapObjectFields = {};
    const fromApp = (context.endUserIntegrationConfig && context.endUserIntegrationConfig.mapObjectFields) || {};
    for (const [name, source] of Object.entries(fromApp)) {
      const spec = Array.isArray(source) ? { fields: source } : source || {};
      if (!Array.isArray(spec.fields)) continue;
      mapObjectFields[name] = {
        fields: spec.fields.filter((f) => f && f.label != null && f.value != null),
        defaultFields: Array.isArray(spec.defaultFields) ? spec.defaultFields.map(String) : null,
      };
    }
    return {
      selectedCredentialId: modal.selectedCredentialId || install.selectedCredentialId || null,
      accountType: install.accountType || null,
      allowMultipleCredentials: install.allowMultipleCredentials === true,
      dropdowns,
      mapObjectFields,
    };
  }

  /** Options fit for the portal: a label and a value each, no repeats. */
  function cleanOptions(options) {
    const seen = new Set();
    return (Array.isArray(options) ? options : []).filter((o) => {
      if (!o || o.label == null || o.value == null || seen.has(String(o.value))) return false;
      seen.add(String(o.value));
      return true;
    });
  }

  /**
   * The custom dropdowns of the integration's settings (Weft's portal view
   * names their keys) as the app gave them: `{dynamic: true}` when the SDK
   * holds a `loadOptions` for the key, else the options of
   * `setDataSources`, else those the SDK put in the config's inputs.
   */
  async function dropdownsFor(context, modal, type) {
    const url = new URL(`../projects/${encodeURIComponent(context.projectId)}/sdk/portal/${encodeURIComponent(type)}`, here);
    let view;
    try {
      const resp = await fetch(url, { headers: { Authorization: `Bearer ${context.user.token}` } });
      if (!resp.ok) return {};
      view = await resp.json();
    } catch {
      return {};
    }
    const settings = [...(view.settings || []), ...(view.workflows || []).flatMap((w) => w.settings || [])];
    const keys = [...new Set(settings.filter((s) => s && s.type === 'customDropdown' && s.key).map((s) => String(s.key)))];
    const config = modal.config || {};
    const inputs = [
      ...((config.sharedMeta && config.sharedMeta.inputs) || []),
      ...Object.values(config.workflowMeta || {}).flatMap((w) => (w && w.inputs) || []),
    ];
    const dropdowns = {};
    for (const key of keys) {
      if (await invoke('hasCustomDropdownLoader', key).catch(() => false)) {
        dropdowns[key] = { dynamic: true };
        continue;
      }
      const global = await invoke('resolveCustomDropdownSource', key, type).catch(() => null);
      const input = inputs.find((i) => i && i.key === key && Array.isArray(i.customDropdownOptions) && i.customDropdownOptions.length);
      const options = Array.isArray(global) ? global : input ? input.customDropdownOptions : null;
      if (options) dropdowns[key] = { options: cleanOptions(options) };
    }
    return dropdowns;
  }

  /** Takes the portal away (the SDK hides this page's frame itself when asked). */
  function teardown() {
    if (!current) return;
    // Still looking up its dropdowns: no frame yet.
    if (current.port) current.port.close();
    if (current.frame) current.frame.remove();
    current = null;
  }

  /** The user closed the portal: hide the frame, then the SDK fires `onClose` and forgets the integration. */
  async function closeByUser() {
    if (!current) return;
    dismissed = current.integration.id;
    teardown();
    await tell('updateContainerStyle', { isModalShown: false });
    await tell('closePortal');
  }

  async function open(context, modal) {
    const integration = modal.integration;
    const type = typeName(integration);
    const opening = { integration };
    current = opening;
    const dropdowns = await dropdownsFor(context, modal, type);
    // Closed or replaced while the dropdowns were looked up.
    if (current !== opening) return;
    const frame = document.createElement('iframe');
    const channel = new MessageChannel();
    frame.className = 'portal';
    frame.title = `${integration.name || type}: Connect Portal`;
    frame.src = PORTAL_URL;
    const self = { integration, type, frame, port: channel.port1, shown: false };
    const init = {
      type: 'weft:portal-init',
      version: VERSION,
      projectId: context.projectId,
      token: context.user.token,
      integrationType: type,
      mode: 'connect',
      options: portalOptions(context, modal, dropdowns),
    };
    self.ready = (ev) => {
      // Only Weft's portal, in this frame, gets the token.
      if (ev.source !== frame.contentWindow || ev.origin !== window.location.origin) return false;
      if (!ev.data || ev.data.type !== 'weft:portal-ready' || self.initialised) return true;
      self.initialised = true;
      frame.contentWindow.postMessage(init, window.location.origin, [channel.port2]);
      return true;
    };
    channel.port1.onmessage = (ev) => fromPortal(self, ev.data || {});
    current = self;
    document.body.appendChild(frame);
  }

  /** What Weft's portal reports, as the reference SDK's own portal would tell it. */
  async function fromPortal(self, msg) {
    if (current !== self) return;
    const event = { integrationId: self.integration.id, integrationType: self.type };
    switch (msg.type) {
      case 'opened':
        self.shown = true;
        self.frame.classList.add('shown');
        await tell('updateContainerStyle', { isModalShown: true });
        await tell('onOpen');
        self.frame.focus();
        self.port.postMessage({ type: 'focus' });
        break;
      case 'close':
        await closeByUser();
        break;
      case 'installed':
        await tell('updateLocalState');
        // The new account is the one the app's `onInstall` hears of, as after
        // the reference's own connect flow.
        if (msg.credentialId) await tell('setCredentialConfigForUserState', self.type, msg.credentialId);
        await tell('triggerSDKEvent', { type: 'onIntegrationInstall', ...event });
        break;
      case 'uninstalled':
        await tell('updateLocalState');
        await tell('triggerSDKEvent', { type: 'onIntegrationUninstall', ...event });
        break;
      case 'workflowChanged':
        await tell('updateLocalState');
        await tell('triggerSDKEvent', {
          type: 'onWorkflowChange',
          ...event,
          workflowId: msg.workflowId,
          workflowStateChange: { enabled: msg.enabled === true },
        });
        break;
      case 'settingsSaved':
        await tell('updateLocalState');
        break;
      case 'error':
        await tell('emitError', new Error(String(msg.message || 'The Connect Portal failed')), self.type);
        break;
      case 'loadOptions':
        loadOptions(self, msg);
        break;
      default:
        break;
    }
  }

  async function loadOptions(self, msg) {
    try {
      const page = (await invoke('_loadCustomDropdownOptions', msg.key, msg.cursor ?? undefined, msg.search ?? undefined)) || {};
      self.port.postMessage({
        type: 'options',
        id: msg.id,
        options: Array.isArray(page.options) ? page.options : [],
        nextPageCursor: page.nextPageCursor ?? null,
      });
    } catch (err) {
      self.port.postMessage({ type: 'options', id: msg.id, error: String((err && err.message) || err) });
    }
  }

  /** The SDK's state changed: show, keep or take away the portal. */
  function onUpdate(update) {
    const context = update.nextContext || {};
    const modal = update.nextModalState || {};
    const integration = modal.integration;
    const signedIn = context.user && context.user.authenticated && context.user.token && context.projectId;
    if (!integration) dismissed = null;
    // `installIntegration` alone: the reference SDK runs that flow itself.
    const apiInstall = modal.apiInstallationOptions && modal.apiInstallationOptions.isApiInstallation;
    if (!integration || !signedIn || apiInstall) {
      if (current) {
        teardown();
        tell('updateContainerStyle', { isModalShown: false });
      }
      return;
    }
    if (integration.id === dismissed) return;
    if (current && current.integration.id === integration.id) return;
    teardown();
    open(context, modal);
  }

  function onAnswer(msg) {
    const call = calls.get(msg.id);
    if (!call) return;
    calls.delete(msg.id);
    if (msg.messageType === 'SDK_FUNCTION_ERROR') call.reject(new Error(String(msg.message)));
    else call.resolve(msg.result);
  }

  window.addEventListener('message', (ev) => {
    if (current && current.ready && current.ready(ev)) return;
    if (ev.source !== window.parent || window.parent === window || !ev.data) return;
    const msg = ev.data;
    if (msg.messageType === 'UI_UPDATE') {
      appOrigin = ev.origin;
      onUpdate(msg);
    } else if ((msg.messageType === 'SDK_FUNCTION_RESPONSE' || msg.messageType === 'SDK_FUNCTION_ERROR') && ev.origin === appOrigin) {
      onAnswer(msg);
    }
  });

  // Escape with focus on this page itself rather than in the portal.
  document.addEventListener('keydown', (ev) => {
    if (ev.key === 'Escape' && current && current.shown) closeByUser();
  });

  if (window.parent === window) document.getElementById('standalone').hidden = false;
})();
