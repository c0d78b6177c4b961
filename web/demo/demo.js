// The offline demo's catalog: signs the demo user in with the project and
// token `cargo xtask run` printed (`?project=…#token=…`), lists the
// project's integrations with the user's state of each, opens the Connect
// Portal, sends the app event the demo workflow listens to, reads the CRM
// through the Proxy API, and shows the user's task history.
(function () {
  'use strict';
  const DEMO = 'custom.demo-crm';
  const paragon = window.paragon;
  const project = new URL(window.location.href).searchParams.get('project');
  const token = new URLSearchParams(window.location.hash.slice(1)).get('token');
  const $ = (id) => document.getElementById(id);
  const status = (text) => { $('status').textContent = text; };

  function el(tag, props = {}, ...children) {
    const node = document.createElement(tag);
    for (const [key, value] of Object.entries(props)) {
      if (key === 'className') node.className = value;
      else if (key === 'text') node.textContent = value;
      else node.setAttribute(key, value);
    }
    for (const child of children) if (child) node.append(child);
    return node;
  }

  function renderCatalog() {
    const user = paragon.getUser();
    const list = $('catalog');
    list.replaceChildren();
    for (const integration of paragon.getIntegrationMetadata()) {
      const state = user.integrations?.[integration.type];
      const connected = Boolean(state?.enabled);
      const icon = integration.icon
        ? el('img', { src: integration.icon, alt: '' })
        : el('span', { className: 'initial', 'aria-hidden': 'true', text: integration.name.slice(0, 1) });
      const button = el('button', { type: 'button', 'data-type': integration.type, text: connected ? 'Manage' : 'Connect' });
      button.setAttribute('aria-label', `${connected ? 'Manage' : 'Connect'} ${integration.name}`);
      button.addEventListener('click', () => paragon.connect(integration.type, {
        onWorkflowChange: () => refresh('Workflow changed.'),
        onClose: () => document.querySelector(`button[data-type="${integration.type}"]`)?.focus(),
      }));
      list.append(el('li', { className: 'card', 'data-integration': integration.type },
        el('header', {}, icon, el('h3', { text: integration.name })),
        el('span', { className: connected ? 'state connected' : 'state', text: connected ? 'Connected' : 'Not connected' }),
        button));
    }
    const ready = Boolean(user.integrations?.[DEMO]?.enabled);
    $('send-event').disabled = !ready;
    $('load-contacts').disabled = !ready;
    $('try-hint').textContent = ready
      ? 'Demo CRM is connected: each contact you create here starts the workflow.'
      : 'Connect Demo CRM first (its API key is demo-key).';
  }

  // The SDK reads the user again before it tells of a change.
  function refresh(message) {
    renderCatalog();
    if (message) status(message);
  }

  async function loadHistory() {
    const resp = await fetch(`/projects/${project}/sdk/demo/task-history`, {
      headers: { Authorization: `Bearer ${token}` },
    });
    if (!resp.ok) return;
    const { executions } = await resp.json();
    $('history').tBodies[0].replaceChildren(...executions.map((e) => el('tr', { 'data-execution': e.id },
      el('td', { text: e.workflowName }),
      el('td', { className: e.status, text: e.status }),
      el('td', { text: new Date(e.dateStarted).toLocaleTimeString() }),
      el('td', { text: e.steps.map((s) => `${s.step}: ${s.status}`).join(', ') }))));
  }

  async function sendEvent(event) {
    event.preventDefault();
    const form = new FormData($('contact-form'));
    const contact = { name: form.get('name'), email: form.get('email') };
    await paragon.event('Contact Created', contact);
    $('sent').textContent = `Sent "Contact Created" for ${contact.name}; the workflow runs now.`;
    setTimeout(loadHistory, 500);
  }

  async function loadContacts() {
    const answer = await paragon.request(DEMO, '/contacts', { method: 'GET' });
    const contacts = answer?.data ?? [];
    $('contacts').replaceChildren(...(contacts.length
      ? contacts.map((c) => el('li', { text: `${c.name} <${c.email}>${c.owner ? `, owned by ${c.owner}` : ''}` }))
      : [el('li', { text: 'No contacts yet.' })]));
  }

  async function start() {
    if (!project || !token) {
      status('Open the address `cargo xtask run` printed: it names the demo project and carries a user token.');
      return;
    }
    try {
      await paragon.authenticate(project, token);
    } catch (e) {
      status(`Signing in failed: ${e.message}`);
      return;
    }
    status('Signed in as the demo user.');
    renderCatalog();
    paragon.subscribe('onIntegrationInstall', () => refresh('Connected.'));
    paragon.subscribe('onIntegrationUninstall', () => refresh('Disconnected.'));
    $('contact-form').addEventListener('submit', (e) => sendEvent(e).catch((err) => status(`Sending failed: ${err.message}`)));
    $('load-contacts').addEventListener('click', () => loadContacts().catch((err) => status(`Loading failed: ${err.message}`)));
    await loadHistory();
    setInterval(() => loadHistory().catch(() => {}), 2000);
  }

  start();
})();
