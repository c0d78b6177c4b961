// The reference's SDK and workflows: `event` starts the workflows a user
// enabled, `enableWorkflow` / `disableWorkflow` change what Weft stores (the
// SDK finds a workflow's integration in /sdk/integrations and the account's
// state in /sdk/me), and `workflow` calls a Request-triggered workflow.
import assert from 'node:assert/strict';
import { suite, sdkCase } from '../lib/suite.js';
import { invoke, signIn } from '../lib/page-calls.js';

const world = suite('workflows');

const onEvent = (event) => ({
  name: `On ${event}`,
  integration: 'tasklab',
  trigger: { type: 'appEvent', event },
  steps: [{ id: 'wait', type: 'delay', value: 1, unit: 'SECONDS' }],
});

/** Whether Weft has `workflowId` on for the user (their /sdk/me). */
async function enabledInWeft(world, user, workflowId) {
  const me = await world.api('GET', world.sdkPath('/me'), { bearer: user.token });
  assert.equal(me.status, 200);
  return me.body.integrations.tasklab.workflowSettings?.[workflowId]?.enabled === true;
}

sdkCase(world, 'event starts the workflows the user enabled, as that user', async ({ world, sdk, requests }) => {
  const workflowId = await world.deployWorkflow(onEvent('Contact Created'));
  const other = await world.deployWorkflow(onEvent('Deal Won'));
  const user = world.newUser();
  await world.connectAccount(user);
  for (const id of [workflowId, other]) {
    const on = await world.api('POST', world.sdkPath(`/workflows/${id}`), { bearer: user.token });
    assert.equal(on.status, 200, JSON.stringify(on.body));
  }
  await signIn(sdk, world, user);

  const outcome = await invoke(sdk, 'event', 'Contact Created', { name: 'Brandon', email: 'b@example.com' });
  assert.deepEqual(outcome, { value: '<undefined>' });
  const sent = requests.find((r) => r.method === 'POST' && r.url.endsWith('/sdk/events/trigger'));
  assert.equal(new URL(sent.url).pathname, `/v2/projects/${world.project.id}/sdk/events/trigger`);
  const runs = await world.executions(workflowId);
  assert.equal(runs.length, 1, JSON.stringify(runs));
  assert.equal(runs[0].userId, user.userId);
  assert.deepEqual(await world.executions(other), [], 'only the workflow listening to that event');
});

sdkCase(world, 'enableWorkflow and disableWorkflow turn a workflow on and off in Weft', async ({ world, sdk, requests }) => {
  const workflowId = await world.deployWorkflow(onEvent('Task Closed'));
  const user = world.newUser();
  const { credentialId } = await world.connectAccount(user);
  await signIn(sdk, world, user);

  assert.deepEqual(await invoke(sdk, 'enableWorkflow', workflowId), { value: '<undefined>' });
  assert.equal(await enabledInWeft(world, user, workflowId), true);
  const enabling = requests.find((r) => r.method === 'POST' && r.url.endsWith(`/sdk/workflows/${workflowId}`));
  assert.equal(enabling.headers['x-paragon-credential'], credentialId, 'for the account the SDK chose');

  // Read again from Weft, the SDK sees it on, and can turn it off.
  await signIn(sdk, world, user);
  assert.deepEqual(await invoke(sdk, 'disableWorkflow', workflowId), { value: '<undefined>' });
  assert.equal(await enabledInWeft(world, user, workflowId), false);
  await invoke(sdk, 'event', 'Task Closed', {});
  assert.deepEqual(await world.executions(workflowId), [], 'off: the event starts nothing');
});

sdkCase(world, 'workflow calls a Request-triggered workflow and resolves with its Response step', async ({ world, sdk }) => {
  const workflowId = await world.deployWorkflow({
    name: 'Echo',
    integration: 'tasklab',
    trigger: { type: 'request' },
    steps: [{ id: 'answer', type: 'response', statusCode: 200, body: { got: '{{trigger.output.request.body.email}}' } }],
  });
  const user = world.newUser();
  await world.connectAccount(user);
  const on = await world.api('POST', world.sdkPath(`/workflows/${workflowId}`), { bearer: user.token });
  assert.equal(on.status, 200);
  await signIn(sdk, world, user);
  const answer = await invoke(sdk, 'workflow', workflowId, { body: { email: 'bowie@example.com' } });
  assert.deepEqual(answer, { value: { got: 'bowie@example.com' } });
  const runs = await world.executions(workflowId);
  assert.equal(runs.length, 1);
  assert.equal(runs[0].userId, user.userId);
});
