// Weft's browser SDK: `window.paragon` (also `window.weft`), the API of the
// reference's Connect SDK, talking to the Weft server this file was loaded
// from. A classic script with no dependencies; `connect.mjs` re-exports it
// as an ES module. The Connect Portal it shows is Weft's page `/portal/`, in
// a full-window iframe, driven over a MessageChannel (docs/connect-portal.md,
// "The SDK and the portal").
(function () {
  'use strict';

  // Loaded twice (the classic script and the module, say): one SDK.
  if (globalThis.paragon && globalThis.paragon.isWeft === true) return;

  const VERSION = '1.0.0';
  const EVENTS = ['onIntegrationInstall', 'onIntegrationUninstall', 'onWorkflowChange', 'onPortalOpen', 'onPortalClose'];
  const PORTAL_LOAD_MS = 20000;

  /** An error answered by Weft (or met on the way): status, code and body. */
  class WeftError extends Error {
    constructor(message, { status = null, code = null, response = null } = {}) {
      super(message);
      this.name = 'WeftError';
      this.status = status;
      this.code = code;
      this.response = response;
    }
  }

  /** `https://host[/prefix]` of a URL under `<base>/sdk/`. */
  const baseOf = (url) => new URL('..', url).href.replace(/\/$/, '');
  const originOf = (url) => new URL(url).origin;
  const scriptSrc = document.currentScript && document.currentScript.src;

  /** The payload of a JWT, or null when it is not one. */
  function jwtClaims(token) {
    const part = String(token).split('.')[1];
    if (!part) return null;
    try {
      const text = atob(part.replace(/-/g, '+').replace(/_/g, '/'));
      return JSON.parse(decodeURIComponent(escape(text)));
    } catch {
      return null;
    }
  }

  const clone = (value) => (value === undefined ? undefined : JSON.parse(JSON.stringify(value)));
  const isPlainBody = (b) =>
    b !== undefined &&
    b !== null &&
    typeof b === 'object' &&
    !(b instanceof Blob || b instanceof FormData || b instanceof URLSearchParams || b instanceof ArrayBuffer || ArrayBuffer.isView(b));

  /** Calls a listener without letting its exception stop the others. */
  function safely(fn, ...args) {
    if (typeof fn !== 'function') return;
    try {
      fn(...args);
    } catch (err) {
      if (typeof reportError === 'function') reportError(err);
      else setTimeout(() => { throw err; });
    }
  }

  /** Custom dropdown options as the portal gets them: valid, unique, cloneable. */
  function cleanOptions(key, options) {
    const seen = new Set();
    const out = [];
    for (const o of Array.isArray(options) ? options : []) {
      const ok = o && o.label !== undefined && o.label !== null && o.value !== undefined && o.value !== null;
      if (!ok) {
        console.warn(`Weft: an option of dropdown "${key}" lacks a label or a value and is not shown`, o);
      } else if (seen.has(String(o.value))) {
        console.warn(`Weft: dropdown "${key}" repeats the value "${o.value}"; the repeat is not shown`);
      } else {
        seen.add(String(o.value));
        out.push({ label: String(o.label), value: o.value });
      }
    }
    return out;
  }

  function createSdk() {
    let base = scriptSrc ? baseOf(scriptSrc) : null;
    /** {projectId, token, user, integrations: Map(type → integration)} once authenticated. */
    let session = null;
    let generation = 0;
    const listeners = new Map(EVENTS.map((e) => [e, new Set()]));
    let portal = null;

    function needBase() {
      if (!base) throw new WeftError('Weft SDK: no server; call paragon.configureGlobal({host}) first');
      return base;
    }
    function needSession() {
      if (!session) throw new WeftError('Weft SDK: no user; call paragon.authenticate(projectId, token) first', { code: 'NOT_AUTHENTICATED' });
      return session;
    }
    function integrationOf(type) {
      const found = needSession().integrations.get(type);
      if (!found) throw new WeftError(`${type} is not an active integration of this project`, { code: 'UNKNOWN_INTEGRATION' });
      return found;
    }
    function signOut() {
      if (portal) portal.close(true);
      session = null;
    }

    /** A JSON call to Weft as the user of `sess`; answers the parsed body. */
    async function send(sess, method, path, { body, headers = {}, raw = false } = {}) {
      const url = `${needBase()}/projects/${encodeURIComponent(sess.projectId)}${path}`;
      const all = { Authorization: `Bearer ${sess.token}`, ...headers };
      let payload = body;
      if (isPlainBody(body)) {
        payload = JSON.stringify(body);
        if (!Object.keys(all).some((h) => h.toLowerCase() === 'content-type')) all['Content-Type'] = 'application/json';
      }
      let resp;
      try {
        resp = await fetch(url, { method, headers: all, body: payload });
      } catch (err) {
        throw new WeftError(`Weft could not be reached at ${base}: ${err.message}`, { code: 'NETWORK_ERROR' });
      }
      const text = await resp.text();
      let data = text;
      if (/json/i.test(resp.headers.get('content-type') || '') && text) {
        try {
          data = JSON.parse(text);
        } catch {
          data = text;
        }
      }
      if (!resp.ok) {
        const weft = data && typeof data === 'object' && typeof data.message === 'string' && data.code;
        // Weft refused the token itself (a provider's 401 through the proxy
        // comes wrapped in `output`): the user is signed out.
        if (resp.status === 401 && weft && data.code === 'UNAUTHORIZED' && sess === session) signOut();
        const message = weft ? data.message : typeof data === 'string' && data ? data : JSON.stringify(data);
        throw new WeftError(message || `Weft answered ${resp.status}`, {
          status: resp.status,
          code: weft ? data.code : null,
          response: data,
        });
      }
      return raw ? { status: resp.status, data } : data;
    }
    const api = (method, path, options) => send(needSession(), method, path, options);

    /** Reads the user again (after anything that changed them). */
    async function refreshUser() {
      const sess = needSession();
      const me = await send(sess, 'GET', '/sdk/me');
      if (sess === session) sess.user = me;
      return me;
    }

    function userView() {
      if (!session || !session.user) return { authenticated: false };
      const { project, ...user } = clone(session.user);
      return { ...user, authenticated: true };
    }

    function emit(event, payload, local) {
      const user = userView();
      if (local) safely(local, clone(payload), user);
      for (const fn of [...listeners.get(event)]) safely(fn, clone(payload), user);
    }

    function installEvent(integration, credential) {
      return {
        integrationId: integration.id,
        integrationType: integration.type,
        credentialId: credential ? credential.id : undefined,
        credential: credential || undefined,
      };
    }
    function credentialById(type, id) {
      const state = session && session.user && session.user.integrations[type];
      return ((state && state.allCredentials) || []).find((c) => c.id === id);
    }

    /** After a new account: read the user, tell the callbacks and subscribers. */
    async function installed(integration, credentialId, callbacks = {}) {
      await refreshUser();
      const event = installEvent(integration, credentialById(integration.type, credentialId) || { id: credentialId });
      if (callbacks.onSuccess && callbacks.onSuccess !== callbacks.onInstall) safely(callbacks.onSuccess, clone(event), userView());
      emit('onIntegrationInstall', event, callbacks.onInstall);
      return event;
    }

    /**
     * An OAuth sign-in window: opened at once (inside the click that asked
     * for it, or the browser blocks it), sent to the URL `prepare` answers,
     * settled by the callback page's message.
     */
    function oauthWindow(prepare) {
      const popup = window.open('', `weft-connect-${Date.now()}`, 'popup,width=600,height=720');
      if (!popup) {
        return Promise.reject(new WeftError('The browser blocked the sign-in window: start the connection from a click', { code: 'POPUP_BLOCKED' }));
      }
      return new Promise((resolve, reject) => {
        let timer = null;
        const done = (fn, value) => {
          window.removeEventListener('message', onMessage);
          clearInterval(timer);
          fn(value);
        };
        const onMessage = (ev) => {
          if (ev.source !== popup || ev.origin !== originOf(base) || !ev.data) return;
          if (ev.data.type === 'weft:connected') {
            popup.close();
            done(resolve, String(ev.data.credentialId));
          }
          if (ev.data.type === 'weft:connect-failed') {
            done(reject, new WeftError(String(ev.data.message || 'The account could not be connected'), { code: 'CONNECT_FAILED' }));
          }
        };
        window.addEventListener('message', onMessage);
        prepare().then(
          (url) => {
            popup.location.href = url;
            timer = setInterval(() => {
              if (popup.closed) done(reject, new WeftError('The sign-in window was closed before the account was connected', { code: 'POPUP_CLOSED' }));
            }, 400);
          },
          (err) => {
            popup.close();
            done(reject, err);
          },
        );
      });
    }

    // ---- The portal frame -------------------------------------------------

    /** What the portal may know of the app's options (no functions). */
    function portalOptions(options) {
      const dropdowns = {};
      for (const [key, source] of Object.entries(options.dropdowns || {})) {
        if (Array.isArray(source)) dropdowns[key] = { options: cleanOptions(key, source) };
        else if (source && typeof source.loadOptions === 'function') dropdowns[key] = { dynamic: true };
        else console.warn(`Weft: dropdown "${key}" is neither a list of options nor {loadOptions}`);
      }
      const mapObjectFields = {};
      for (const [name, source] of Object.entries(options.mapObjectFields || {})) {
        const spec = Array.isArray(source) ? { fields: source } : source || {};
        mapObjectFields[name] = {
          fields: cleanOptions(name, spec.fields),
          defaultFields: Array.isArray(spec.defaultFields) ? spec.defaultFields.map(String) : null,
        };
      }
      return {
        selectedCredentialId: options.selectedCredentialId || null,
        accountType: options.accountType || null,
        allowMultipleCredentials: options.allowMultipleCredentials === true,
        dropdowns,
        mapObjectFields,
      };
    }

    /**
     * Shows the portal for `integration`. `mode` is `connect` (the whole
     * portal) or `install` (only the account form, closed once connected).
     * Resolves once the portal is shown.
     */
    function openPortal(integration, options, mode, onInstalled) {
      if (portal) portal.close(true);
      const sess = needSession();
      const weftOrigin = originOf(needBase());
      const frame = document.createElement('iframe');
      const channel = new MessageChannel();
      const returnFocus = document.activeElement;
      const overflow = document.documentElement.style.overflow;
      let shown = false;
      let closed = false;
      let readyTimer = null;
      frame.src = `${base}/portal/`;
      frame.title = `${integration.name}: Connect Portal`;
      Object.assign(frame.style, {
        position: 'fixed',
        inset: '0',
        width: '100%',
        height: '100%',
        border: '0',
        margin: '0',
        padding: '0',
        zIndex: '2147483000',
        background: 'transparent',
        colorScheme: 'normal',
        visibility: 'hidden',
      });

      let settle;
      const opened = new Promise((resolve, reject) => {
        settle = { resolve, reject };
      });

      const self = {
        integration,
        close(silent) {
          if (closed) return;
          closed = true;
          clearTimeout(readyTimer);
          window.removeEventListener('message', onReady);
          channel.port1.close();
          frame.remove();
          document.documentElement.style.overflow = overflow;
          if (portal === self) portal = null;
          if (returnFocus && typeof returnFocus.focus === 'function' && document.contains(returnFocus)) returnFocus.focus();
          if (!shown) settle.reject(new WeftError('The Connect Portal was closed before it opened', { code: 'PORTAL_CLOSED' }));
          if (shown) emit('onPortalClose', { integrationId: integration.id, integrationType: integration.type }, silent ? null : options.onClose);
          if (mode === 'install' && onInstalled) onInstalled(null);
        },
      };

      function onReady(ev) {
        if (ev.source !== frame.contentWindow || ev.origin !== weftOrigin) return;
        if (!ev.data || ev.data.type !== 'weft:portal-ready') return;
        window.removeEventListener('message', onReady);
        // The token goes to Weft's origin only, and never in a URL.
        frame.contentWindow.postMessage(
          {
            type: 'weft:portal-init',
            version: VERSION,
            projectId: sess.projectId,
            token: sess.token,
            integrationType: integration.type,
            mode,
            options: portalOptions(options),
          },
          weftOrigin,
          [channel.port2],
        );
      }

      async function loadOptions(msg) {
        const source = (options.dropdowns || {})[msg.key];
        try {
          const page = await source.loadOptions(msg.cursor || undefined, msg.search || undefined);
          const result = page || {};
          channel.port1.postMessage({
            type: 'options',
            id: msg.id,
            options: cleanOptions(msg.key, result.options),
            nextPageCursor: result.nextPageCursor === undefined ? null : result.nextPageCursor,
          });
        } catch (err) {
          channel.port1.postMessage({ type: 'options', id: msg.id, error: String((err && err.message) || err) });
        }
      }

      async function onPortalMessage(ev) {
        const msg = ev.data || {};
        switch (msg.type) {
          case 'opened':
            shown = true;
            clearTimeout(readyTimer);
            frame.style.visibility = 'visible';
            document.documentElement.style.overflow = 'hidden';
            frame.focus();
            channel.port1.postMessage({ type: 'focus' });
            emit('onPortalOpen', { integrationId: integration.id, integrationType: integration.type }, options.onOpen);
            settle.resolve();
            break;
          case 'close':
            self.close(false);
            break;
          case 'loadOptions':
            if ((options.dropdowns || {})[msg.key]) loadOptions(msg);
            break;
          case 'installed': {
            const event = await installed(integration, msg.credentialId, options).catch(() => null);
            if (mode === 'install' && onInstalled) {
              const done = onInstalled;
              onInstalled = null;
              done(event || installEvent(integration, { id: msg.credentialId }));
              self.close(true);
            }
            break;
          }
          case 'uninstalled':
            await refreshUser().catch(() => null);
            emit('onIntegrationUninstall', { integrationId: integration.id, integrationType: integration.type, credentialId: msg.credentialId }, options.onUninstall);
            break;
          case 'workflowChanged':
            await refreshUser().catch(() => null);
            emit(
              'onWorkflowChange',
              { integrationId: integration.id, workflowId: msg.workflowId, workflowStateChange: { enabled: msg.enabled === true } },
              options.onWorkflowChange,
            );
            break;
          case 'settingsSaved':
            await refreshUser().catch(() => null);
            break;
          case 'error':
            safely(options.onError, new WeftError(String(msg.message || 'The Connect Portal failed'), { code: msg.code || null }));
            break;
          default:
            break;
        }
      }

      channel.port1.onmessage = onPortalMessage;
      window.addEventListener('message', onReady);
      readyTimer = setTimeout(() => {
        safely(options.onError, new WeftError(`The Connect Portal did not load from ${base}/portal/`, { code: 'PORTAL_UNAVAILABLE' }));
        self.close(true);
      }, PORTAL_LOAD_MS);
      portal = self;
      document.body.appendChild(frame);
      return opened;
    }

    // ---- The public API ---------------------------------------------------

    const sdk = {
      isWeft: true,
      WeftError,

      getVersion: () => VERSION,

      /**
       * Points the SDK at a Weft server: `{host}` (a host name, or a URL
       * with a scheme) or `{baseUrl}`; the reference's service URL
       * overrides (`ZEUS_PUBLIC_URL`, ...) are read too. Signs the user out.
       */
      configureGlobal(options = {}, overrides = {}) {
        let next = options.baseUrl || overrides.ZEUS_PUBLIC_URL || options.host;
        if (!next) throw new TypeError('configureGlobal needs {host} or {baseUrl}');
        if (!/^https?:\/\//i.test(next)) next = `${location.protocol === 'http:' ? 'http:' : 'https:'}//${next}`;
        base = new URL(next).href.replace(/\/$/, '');
        generation += 1;
        signOut();
      },

      /** Signs the user in with a user token their app backend signed. */
      async authenticate(projectId, token, options = {}) {
        if (!projectId || typeof projectId !== 'string') throw new TypeError('authenticate needs a project id');
        if (!token || typeof token !== 'string') throw new TypeError('authenticate needs a user token');
        const claims = jwtClaims(token);
        if (claims && typeof claims.exp === 'number' && claims.exp * 1000 <= Date.now()) {
          throw new WeftError('The user token has expired: sign a new one', { code: 'TOKEN_EXPIRED' });
        }
        const mine = (generation += 1);
        const next = { projectId, token, user: null, integrations: new Map() };
        let me;
        let listed;
        let metadata;
        try {
          [me, listed, metadata] = await Promise.all([
            send(next, 'GET', '/sdk/me'),
            send(next, 'GET', '/sdk/integrations'),
            send(next, 'GET', '/sdk/metadata'),
          ]);
        } catch (err) {
          if (mine === generation && err.status === 401) signOut();
          throw err;
        }
        if (mine !== generation) throw new WeftError('authenticate was called again before this one ended', { code: 'SUPERSEDED' });
        const icons = new Map(metadata.map((m) => [m.type, m.icon]));
        for (const i of listed.filter((i) => i.isActive)) {
          next.integrations.set(i.type, {
            id: i.id,
            type: i.type,
            name: i.name,
            brandColor: i.brandColor === undefined ? null : i.brandColor,
            icon: icons.get(i.type) === undefined ? null : icons.get(i.type),
            authenticationType: i.authenticationType || null,
            workflows: (i.workflows || []).map((w) => w.id),
          });
        }
        next.user = me;
        const wanted = options.metadata;
        if (wanted && typeof wanted === 'object' && Object.entries(wanted).some(([k, v]) => JSON.stringify(me.meta && me.meta[k]) !== JSON.stringify(v))) {
          next.user = await send(next, 'PATCH', '/sdk/me', { body: { meta: wanted } });
        }
        if (portal) portal.close(true);
        session = next;
      },

      /** The signed-in user and their integrations, or `{authenticated: false}`. */
      getUser: () => userView(),

      /** Signs the user out of the SDK (nothing changes in Weft). */
      logout() {
        generation += 1;
        signOut();
      },

      /** Merges `meta` into the user's metadata; answers the user. */
      async setUserMetadata(meta) {
        needSession();
        await api('PATCH', '/sdk/me', { body: { meta } });
        await refreshUser();
        return userView();
      },

      /** `{type, name, brandColor, icon}` of one active integration, or of all. */
      getIntegrationMetadata(type) {
        const view = (i) => ({ type: i.type, name: i.name, brandColor: i.brandColor, icon: i.icon });
        if (type === undefined) return [...needSession().integrations.values()].map(view);
        return view(integrationOf(type));
      },

      /** Shows the Connect Portal for `type` over the app. */
      async connect(type, options = {}) {
        if (!needSession().integrations.has(type)) {
          console.warn(`Weft: connect("${type}") does nothing: it is not an active integration of this project`);
          return;
        }
        await openPortal(integrationOf(type), options, 'connect');
      },

      /** Closes the Connect Portal, if it is open. */
      closePortal() {
        if (portal) portal.close(false);
      },

      /**
       * Connects an account without the portal: an OAuth window, or the
       * portal's account form alone for integrations that take input fields.
       * Resolves with `{integrationId, integrationType, credentialId, credential}`.
       */
      async installIntegration(type, options = {}) {
        const integration = integrationOf(type);
        const state = session.user.integrations[type];
        const replacing = Boolean(options.selectedCredentialId);
        if (!options.allowMultipleCredentials && !replacing && state && state.enabled) {
          throw new WeftError(`Integration "${type}" is already installed.`, { code: 'ALREADY_INSTALLED' });
        }
        const body = {
          allowMultipleCredentials: options.allowMultipleCredentials === true,
          ...(replacing ? { selectedCredentialId: options.selectedCredentialId } : {}),
        };
        let event;
        const viaPortal = () =>
          new Promise((resolve, reject) => {
            openPortal(integration, options, 'install', (done) =>
              done ? resolve(done) : reject(new WeftError('The user closed the portal before connecting', { code: 'PORTAL_CLOSED' })),
            ).catch(reject);
          });
        if (integration.authenticationType === 'inputs') {
          event = await viaPortal();
        } else {
          // Unknown or OAuth: the window opens now, inside the user's click.
          let inputs = false;
          const credentialId = await oauthWindow(async () => {
            const start = await api('POST', `/sdk/connect/${encodeURIComponent(type)}`, { body });
            if (start.type === 'oauth') return start.authorizationUrl;
            inputs = true;
            throw new WeftError('inputs');
          }).catch((err) => {
            if (inputs) return null;
            throw err;
          });
          event = credentialId === null ? await viaPortal() : await installed(integration, credentialId, options);
        }
        if (options.showPortalAfterInstall) await sdk.connect(type, { ...options, selectedCredentialId: event.credentialId });
        return event;
      },

      /** Disconnects the user's accounts of `type` (one, with `selectedCredentialId`). */
      async uninstallIntegration(type, options = {}) {
        const integration = integrationOf(type);
        const state = session.user.integrations[type];
        if (!state || !(state.allCredentials || []).length) {
          throw new WeftError(`Integration "${type}" is not installed.`, { code: 'NOT_INSTALLED' });
        }
        const headers = options.selectedCredentialId ? { 'X-Paragon-Credential': options.selectedCredentialId } : {};
        await api('DELETE', `/sdk/integrations/${encodeURIComponent(integration.id)}`, { headers });
        await refreshUser();
        emit('onIntegrationUninstall', {
          integrationId: integration.id,
          integrationType: type,
          ...(options.selectedCredentialId ? { credentialId: options.selectedCredentialId } : {}),
        });
      },

      /** Turns a workflow on for the user (for one account with `selectedCredentialId`). */
      async enableWorkflow(workflowId, options = {}) {
        await workflowState(workflowId, true, options);
      },

      /** Turns a workflow off for the user. */
      async disableWorkflow(workflowId, options = {}) {
        await workflowState(workflowId, false, options);
      },

      /** Sends an App Event; the workflows listening to it start. */
      async event(name, payload = {}, options = {}) {
        const headers = options.selectedCredentialId ? { 'X-Paragon-Credential': options.selectedCredentialId } : {};
        await api('POST', '/sdk/events/trigger', { body: { name, payload }, headers });
      },

      /**
       * Sends a request to a Request-triggered workflow; resolves with its
       * Response step's body (or `{executionId}` when it has none).
       */
      async workflow(workflowId, options = {}) {
        if (!workflowId) throw new TypeError('workflow needs a workflow id');
        const { body = {}, query = {}, headers = {}, selectedCredentialId } = options;
        const search = new URLSearchParams(query).toString();
        const all = { ...headers, ...(selectedCredentialId ? { 'X-Paragon-Credential': selectedCredentialId } : {}) };
        return api('POST', `/sdk/triggers/${encodeURIComponent(workflowId)}${search ? `?${search}` : ''}`, { body, headers: all });
      },

      /**
       * Calls the provider's API as the user (the Proxy API); resolves with
       * the provider's answer.
       */
      async request(type, path, init = {}) {
        const integration = integrationOf(type);
        const { method = 'GET', body, headers = {}, selectedCredentialId } = init;
        const rest = String(path).replace(/^\/+/, '');
        const route = type.startsWith('custom.') ? `custom/${encodeURIComponent(integration.id)}` : encodeURIComponent(type);
        const all = { ...headers, ...(selectedCredentialId ? { 'X-Paragon-Credential': selectedCredentialId } : {}) };
        const answer = await api(method.toUpperCase(), `/sdk/proxy/${route}/${rest}`, { body, headers: all });
        return answer && typeof answer === 'object' && 'output' in answer ? answer.output : answer;
      },

      /** Listens to an SDK event; answers a function that stops listening. */
      subscribe(event, listener) {
        if (!listeners.has(event)) throw new TypeError(`Unknown SDK event "${event}"; one of ${EVENTS.join(', ')}`);
        listeners.get(event).add(listener);
        return () => listeners.get(event).delete(listener);
      },

      /** Stops a listener; answers whether it was listening. */
      unsubscribe(event, listener) {
        return listeners.has(event) ? listeners.get(event).delete(listener) : false;
      },
    };

    /** The integration a workflow belongs to, as `/sdk/integrations` lists it. */
    function integrationOfWorkflow(workflowId) {
      for (const i of needSession().integrations.values()) if (i.workflows.includes(workflowId)) return i;
      return null;
    }

    async function workflowState(workflowId, enabled, options) {
      if (!workflowId) throw new TypeError('a workflow id is needed');
      const headers = options.selectedCredentialId ? { 'X-Paragon-Credential': options.selectedCredentialId } : {};
      await api(enabled ? 'POST' : 'DELETE', `/sdk/workflows/${encodeURIComponent(workflowId)}`, { headers });
      await refreshUser();
      const integration = integrationOfWorkflow(workflowId);
      emit('onWorkflowChange', {
        integrationId: integration ? integration.id : null,
        workflowId,
        workflowStateChange: { enabled },
      });
    }

    // The module build (connect.mjs) evaluates this file where
    // `document.currentScript` is null: it names its own URL this way.
    Object.defineProperty(sdk, 'useScriptUrl', {
      value(url) {
        if (!base) base = baseOf(url);
      },
    });

    // Escape in the app while the portal is open (focus is normally inside it).
    document.addEventListener('keydown', (ev) => {
      if (ev.key === 'Escape' && portal) portal.close(false);
    });

    return sdk;
  }

  const sdk = createSdk();
  globalThis.paragon = sdk;
  globalThis.weft = sdk;
})();
