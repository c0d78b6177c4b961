// The Configuration tab: the integration-level User Settings of the selected
// account, and the workflows the user may turn on, each with its own
// settings (shown while it is on, or while it waits for required ones).
import { h } from './dom.js';
import { settingsForm, missing } from './settings.js';

function workflowRow(p, workflow, enabled) {
  const { state } = p;
  const titleId = `workflow-${workflow.id}-name`;
  const descriptionId = `workflow-${workflow.id}-description`;
  const settings = workflow.settings || [];
  const waiting = state.pendingEnable.has(workflow.id);
  const values = p.workflowDraft(workflow.id);
  const toggle = h('button', {
    type: 'button',
    role: 'switch',
    class: 'switch',
    'aria-checked': String(enabled),
    'aria-labelledby': titleId,
    'aria-describedby': workflow.description ? descriptionId : null,
    disabled: state.busyWorkflows.has(workflow.id) || !p.usable(),
    dataset: { key: `workflow-${workflow.id}` },
    onClick: () => p.actions.toggleWorkflow(workflow, !enabled),
  });
  const showSettings = settings.length > 0 && (enabled || waiting);
  return h(
    'li',
    { class: 'workflow', dataset: { workflow: workflow.id } },
    h(
      'div',
      { class: 'workflow-head' },
      h('div', { class: 'workflow-text' },
        h('h4', { id: titleId, text: workflow.name }),
        workflow.description ? h('p', { id: descriptionId, class: 'hint', text: workflow.description }) : null),
      toggle,
    ),
    waiting ? h('p', { class: 'hint', text: 'Fill in the required settings to turn this workflow on.' }) : null,
    showSettings
      ? settingsForm({
          settings,
          values,
          ctx: { ...p.settingsContext(), scope: `wf-${workflow.id}` },
          title: `${workflow.name} settings`,
          submitLabel: waiting ? 'Save and turn on' : 'Save',
          onSubmit: (v) => p.actions.saveWorkflowSettings(workflow, v, waiting),
        })
      : null,
  );
}

/** The Configuration panel's content. */
export function renderConfiguration(p) {
  const { state } = p;
  const { view } = state;
  const parts = [];
  if (!p.selected()) {
    parts.push(h('p', { class: 'empty', text: `Connect your ${view.name} account to choose its settings and workflows.` }));
  }
  if (p.selected() && (view.settings || []).length) {
    parts.push(
      h('section', { class: 'block', 'aria-labelledby': 'settings-heading' },
        h('h3', { id: 'settings-heading', text: 'Settings' }),
        settingsForm({
          settings: view.settings,
          values: state.drafts.shared,
          ctx: { ...p.settingsContext(), scope: 'shared' },
          title: 'Settings',
          submitLabel: 'Save settings',
          onSubmit: (v) => p.actions.saveSharedSettings(v),
        })),
    );
  }
  const workflows = view.workflows || [];
  if (workflows.length) {
    const enabled = p.enabledWorkflows();
    parts.push(
      h('section', { class: 'block', 'aria-labelledby': 'workflows-heading' },
        h('h3', { id: 'workflows-heading', text: 'Workflows' }),
        p.selected() ? null : h('p', { class: 'hint', text: 'These become available once you connect.' }),
        h('ul', { class: 'workflows' }, workflows.map((w) => workflowRow(p, w, enabled(w.id))))),
    );
  }
  if (!parts.length) parts.push(h('p', { class: 'empty', text: 'There is nothing to configure.' }));
  return parts;
}

export { missing };
