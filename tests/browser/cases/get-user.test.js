// getUser: the user's integrations as the SDK builds them from Weft's
// /sdk/me, with every account and its configuration.
import assert from 'node:assert/strict';
import { suite, sdkCase } from '../lib/suite.js';
import { getUser, signIn } from '../lib/page-calls.js';

const world = suite('getUser');

sdkCase(world, 'getUser before authenticate is signed out', async ({ sdk }) => {
  assert.deepEqual(await getUser(sdk), { authenticated: false });
});

sdkCase(world, 'getUser lists each active integration with the accounts Weft holds', async ({ world, sdk }) => {
  const user = world.newUser();
  const { credentialId, account } = await world.connectAccount(user);
  await signIn(sdk, world, user);
  const me = await getUser(sdk);
  assert.equal(me.authenticated, true);
  assert.equal(me.userId, user.userId);
  assert.equal(me.token, undefined, 'getUser never exposes the token');

  const tasklab = me.integrations.tasklab;
  assert.equal(tasklab.enabled, true);
  assert.equal(tasklab.credentialId, credentialId);
  assert.equal(tasklab.credentialStatus, 'VALID');
  assert.equal(tasklab.providerId, account, 'the account id the connection test read');
  assert.deepEqual(tasklab.providerData, { name: account.replace('acct-', 'Account ') });
  assert.equal(tasklab.allCredentials.length, 1);
  const [only] = tasklab.allCredentials;
  assert.equal(only.id, credentialId);
  assert.equal(only.projectId, world.project.id);
  assert.equal(only.integrationId, world.project.integrations.tasklab);
  assert.equal(only.personaId, user.userId);
  assert.equal(only.status, 'VALID');
  // The SDK gathers every account's configurations into allConfigurations.
  assert.deepEqual(tasklab.allConfigurations, only.configurations);
  assert.equal(only.configurations.length, 1);
  assert.equal(only.configurations[0].isDefault, true);
  assert.equal(only.configurations[0].connectCredentialId, credentialId);

  assert.deepEqual(me.integrations.notelab, {
    enabled: false,
    configuredWorkflows: {},
    allCredentials: [],
    allConfigurations: [],
  });
  assert.equal(me.integrations.draftlab, undefined, 'an inactive integration is not offered');
});
