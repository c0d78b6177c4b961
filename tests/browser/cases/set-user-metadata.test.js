// setUserMetadata: PATCH /sdk/me merges into what Weft keeps; the SDK
// answers the user as Weft then reports it.
import assert from 'node:assert/strict';
import { suite, sdkCase } from '../lib/suite.js';
import { getUser, invoke, signIn } from '../lib/page-calls.js';

const world = suite('setUserMetadata');

sdkCase(world, 'setUserMetadata merges into the stored metadata and answers the updated user', async ({ world, sdk }) => {
  const user = world.newUser();
  await signIn(sdk, world, user, { metadata: { Name: 'Grace', team: 'compilers' } });
  const outcome = await invoke(sdk, 'setUserMetadata', { email: 'grace@example.com', team: 'navy' });
  assert.ok(outcome.value, JSON.stringify(outcome));
  assert.equal(outcome.value.authenticated, true);
  assert.equal(outcome.value.userId, user.userId);
  assert.deepEqual(outcome.value.meta, { Name: 'Grace', Email: 'grace@example.com', team: 'navy' });
  assert.deepEqual((await getUser(sdk)).meta, outcome.value.meta);

  const stored = await world.api('GET', world.sdkPath('/me'), { bearer: user.token });
  assert.deepEqual(stored.body.meta, { Name: 'Grace', Email: 'grace@example.com', team: 'navy' });
});
