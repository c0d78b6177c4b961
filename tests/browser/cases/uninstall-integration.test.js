// uninstallIntegration: a headless function (the SDK checks the project
// has the feature, as Weft's /sdk/me says), one account of two, then the last.
import assert from 'node:assert/strict';
import { suite, sdkCase } from '../lib/suite.js';
import { getUser, invoke, signIn } from '../lib/page-calls.js';

const world = suite('uninstallIntegration');

/** The account ids Weft holds for `user`. */
async function accountsInWeft(world, user) {
  const listed = await world.api('GET', world.sdkPath('/credentials'), { bearer: user.token });
  assert.equal(listed.status, 200);
  return listed.body.map((c) => c.id);
}

sdkCase(world, 'uninstallIntegration removes the selected account of two, then the last', async ({ world, sdk, requests }) => {
  const user = world.newUser();
  const first = await world.connectAccount(user);
  const second = await world.connectAccount(user);
  await signIn(sdk, world, user);

  const one = await invoke(sdk, 'uninstallIntegration', 'tasklab', { selectedCredentialId: second.credentialId });
  assert.deepEqual(one, { value: '<undefined>' });
  const deletes = requests.filter((r) => r.method === 'DELETE');
  assert.equal(deletes.length, 1);
  assert.equal(new URL(deletes[0].url).pathname, world.sdkPath(`/integrations/${world.project.integrations.tasklab}`));
  assert.equal(deletes[0].headers['x-paragon-credential'], second.credentialId);
  assert.deepEqual(await accountsInWeft(world, user), [first.credentialId]);
  let tasklab = (await getUser(sdk)).integrations.tasklab;
  assert.equal(tasklab.enabled, true);
  assert.equal(tasklab.credentialId, first.credentialId);
  assert.deepEqual(tasklab.allCredentials.map((c) => c.id), [first.credentialId]);

  const last = await invoke(sdk, 'uninstallIntegration', 'tasklab');
  assert.deepEqual(last, { value: '<undefined>' });
  assert.deepEqual(await accountsInWeft(world, user), []);
  tasklab = (await getUser(sdk)).integrations.tasklab;
  assert.deepEqual(tasklab, { enabled: false, workflowSettings: {}, allCredentials: [], allConfigurations: [] });

  // Nothing left: the SDK refuses before asking Weft.
  const again = await invoke(sdk, 'uninstallIntegration', 'tasklab');
  assert.match(again.error?.message ?? '', /not installed/i, JSON.stringify(again));
  assert.equal(requests.filter((r) => r.method === 'DELETE').length, 2);
});
