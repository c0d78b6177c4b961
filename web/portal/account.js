// The account part of the portal: the status of the selected account (with
// a reconnect prompt when it is INVALID), the choice between several
// accounts, Connect / Add another account / Disconnect, and the form of an
// integration connected with input fields (API keys and the like).
import { fieldLabel, h, isSecretField } from './dom.js';

/** How an account is named to the user. */
export function accountName(credential, index) {
  const data = credential.providerData || {};
  return data.name || data.email || credential.providerId || `Account ${index + 1}`;
}

/** The connect form: pre-authorization inputs, then the secret fields. */
function connectForm(p) {
  const { view, connecting } = p.state;
  const heading = connecting.replace ? `Reconnect your ${view.name} account` : `Connect your ${view.name} account`;
  const rows = [];
  const inputs = (connecting.inputs || []).map((i) => ({ ...i, kind: 'input' }));
  const fields = (connecting.fields || []).map((name) => ({ id: name, kind: 'field', secret: isSecretField(name), required: true }));
  for (const item of [...inputs, ...fields]) {
    const id = `connect-${item.kind}-${String(item.id).replace(/[^a-zA-Z0-9_-]/g, '_')}`;
    const error = connecting.errors[item.id];
    const title = item.title || fieldLabel(item.id);
    const hint = item.tooltip || item.description;
    const described = [hint ? `${id}-hint` : null, error ? `${id}-error` : null, connecting.message ? 'connect-error' : null].filter(Boolean).join(' ');
    rows.push(
      h(
        'div',
        { class: 'field' },
        h('label', { for: id, class: 'label' }, title, item.required ? h('span', { class: 'required' }, ' (required)') : null),
        hint ? h('p', { class: 'hint', id: `${id}-hint`, text: hint }) : null,
        h('input', {
          id,
          type: item.secret ? 'password' : 'text',
          autocomplete: 'off',
          spellcheck: 'false',
          value: connecting.values[item.id] || '',
          'aria-required': item.required ? 'true' : null,
          'aria-invalid': error || connecting.message ? 'true' : null,
          'aria-describedby': described || null,
          dataset: { key: id },
          onInput: (ev) => {
            connecting.values[item.id] = ev.target.value;
          },
        }),
        error ? h('p', { class: 'error', id: `${id}-error`, text: error }) : null,
      ),
    );
  }
  return h(
    'form',
    {
      class: 'connect-form',
      novalidate: true,
      'aria-labelledby': 'connect-heading',
      onSubmit: (ev) => {
        ev.preventDefault();
        p.actions.submitConnect([...inputs, ...fields]);
      },
    },
    h('h3', { id: 'connect-heading', text: heading }),
    rows,
    connecting.message ? h('p', { class: 'error form-error', id: 'connect-error', text: connecting.message }) : null,
    h(
      'div',
      { class: 'actions' },
      h('button', { type: 'submit', class: 'primary', disabled: connecting.busy, dataset: { key: 'connect-submit' }, text: connecting.busy ? 'Connecting…' : 'Connect' }),
      h('button', { type: 'button', dataset: { key: 'connect-cancel' }, text: 'Cancel', onClick: () => p.actions.cancelConnect() }),
    ),
  );
}

function disconnectConfirm(p, name) {
  return h(
    'div',
    { class: 'confirm', role: 'group', 'aria-labelledby': 'disconnect-question' },
    h('p', { id: 'disconnect-question', text: `Disconnect ${name}? Its workflows stop and its settings are removed.` }),
    h(
      'div',
      { class: 'actions' },
      h('button', { type: 'button', class: 'danger', dataset: { key: 'disconnect-confirm' }, text: 'Disconnect', onClick: () => p.actions.disconnect() }),
      h('button', { type: 'button', dataset: { key: 'disconnect-cancel' }, text: 'Cancel', onClick: () => p.actions.confirmDisconnect(false) }),
    ),
  );
}

/** The account section's content for the state `p.state`. */
export function renderAccount(p) {
  const { state } = p;
  const accounts = p.accounts();
  const selected = p.selected();
  const parts = [h('h2', { id: 'account-heading', class: 'section-title', text: accounts.length > 1 ? 'Accounts' : 'Account' })];
  if (state.waiting) {
    parts.push(h('p', { class: 'waiting', text: `Finish signing in to ${state.view.name} in the window that opened.` }));
  }
  if (state.mode === 'install') {
    // installIntegration: the account form alone, closed once connected.
    if (state.connecting && state.connecting.fields) parts.push(connectForm(p));
    else parts.push(h('div', { class: 'actions' }, h('button', { type: 'button', class: 'primary', id: 'connect', dataset: { key: 'connect' }, disabled: state.waiting, text: 'Connect', onClick: () => p.actions.connect({ adding: state.options.allowMultipleCredentials, replace: state.options.selectedCredentialId }) })));
    return parts;
  }
  if (!accounts.length) {
    parts.push(h('p', { class: 'status', text: 'Not connected' }));
    if (!state.connecting) {
      parts.push(
        h('div', { class: 'actions' },
          h('button', { type: 'button', class: 'primary', id: 'connect', dataset: { key: 'connect' }, disabled: state.waiting, text: 'Connect', onClick: () => p.actions.connect({}) }),
        ),
      );
    }
  } else {
    const index = accounts.indexOf(selected);
    const name = accountName(selected, index);
    if (accounts.length > 1) {
      parts.push(
        h('div', { class: 'field account-picker' },
          h('label', { for: 'account-select', class: 'label', text: 'Account' }),
          h(
            'select',
            { id: 'account-select', dataset: { key: 'account-select' }, onChange: (ev) => p.actions.select(ev.target.value) },
            accounts.map((c, i) =>
              h('option', { value: c.id, selected: c === selected, text: `${accountName(c, i)}${c.status === 'VALID' ? '' : ' (needs reconnecting)'}` }),
            ),
          ),
        ),
      );
    }
    const valid = selected.status === 'VALID';
    parts.push(
      h('p', { class: 'status' },
        h('span', { class: valid ? 'badge ok' : 'badge bad', text: valid ? 'Connected' : 'Needs reconnecting' }),
        ' ',
        h('span', { class: 'account-name', text: name })),
    );
    if (!valid) {
      parts.push(
        h('div', { class: 'warning' },
          h('p', { text: `${state.view.name} no longer accepts this account's credentials. Reconnect it to keep its workflows running.` }),
          h('button', { type: 'button', class: 'primary', dataset: { key: 'reconnect' }, disabled: state.waiting, text: 'Reconnect', onClick: () => p.actions.connect({ replace: selected.id }) }),
        ),
      );
    }
    if (state.mode !== 'install') {
      parts.push(
        h('div', { class: 'actions' },
          h('button', { type: 'button', dataset: { key: 'add-account' }, disabled: state.waiting || Boolean(state.connecting), text: 'Add another account', onClick: () => p.actions.connect({ adding: true }) }),
          h('button', { type: 'button', class: 'danger-quiet', dataset: { key: 'disconnect' }, disabled: state.confirmingDisconnect, text: 'Disconnect', onClick: () => p.actions.confirmDisconnect(true) }),
        ),
      );
    }
    if (state.confirmingDisconnect) parts.push(disconnectConfirm(p, name));
  }
  if (state.connecting && state.connecting.fields) parts.push(connectForm(p));
  return parts;
}
