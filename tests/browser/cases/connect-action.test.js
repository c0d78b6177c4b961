// connectAction: the SDK finds an API resource by the `slug` Weft lists in
// /sdk/me and posts the user's keys to the resource's connect endpoint;
// Weft runs the resource's profile request and answers the credential.
import assert from 'node:assert/strict';
import { suite, sdkCase } from '../lib/suite.js';
import { invoke, signIn } from '../lib/page-calls.js';
import { issueKey } from '../lib/mock-provider.js';
import { must } from '../lib/weft.js';

const world = suite('connectAction');

sdkCase(
  world,
  'connectAction connects a user-level API resource by its slug with the keys given',
  async ({ world, sdk }) => {
    // Created before the user signs in: the SDK reads the resources once.
    const resource = await must(201, world.weft.base, 'POST', `/admin/projects/${world.project.id}/resources`, {
      bearer: world.project.adminKey,
      body: {
        name: 'Task API',
        level: 'user',
        auth: { type: 'api-keys', keys: ['apiKey'] },
        baseUrl: world.provider.base,
        authTemplate: { headers: { 'X-API-Key': '{{apiKey}}' } },
        userProfile: { path: '/me', id: '/id', fields: { name: '/name' } },
      },
    });
    const user = world.newUser();
    await signIn(sdk, world, user);
    const key = `resource-key-${user.userId}`;
    const account = issueKey(key);

    const outcome = await invoke(sdk, 'connectAction', 'task-api', { apiKey: key });
    assert.ok(outcome.value, JSON.stringify(outcome));
    assert.equal(outcome.value.status, 'VALID');
    assert.equal(outcome.value.providerId, account, 'the profile request named the account');
    assert.equal(outcome.value.integrationId, resource.id);

    const me = await world.api('GET', world.sdkPath('/me'), { bearer: user.token });
    const listed = me.body.resources.find((r) => r.slug === 'task-api');
    assert.equal(listed?.connected, true, JSON.stringify(me.body.resources));
    assert.equal(listed.credentialId, outcome.value.id);

    // A key the API refuses: the profile request fails and the SDK rejects.
    const refused = await invoke(sdk, 'connectAction', 'task-api', { apiKey: 'not-a-key' });
    assert.ok(refused.error, JSON.stringify(refused));
    // A name no resource has: the SDK itself refuses, before any request.
    const unknown = await invoke(sdk, 'connectAction', 'no-such-resource', { apiKey: key });
    assert.match(unknown.error?.message ?? '', /No resource found/);
  },
  { allowConsoleErrors: [/status of 4\d\d/] },
);
