// authenticate: the SDK reads /sdk/me and /sdk/integrations from Weft, and
// sends metadata it was given with PATCH /sdk/me when Weft's differs.
import assert from 'node:assert/strict';
import { suite, sdkCase } from '../lib/suite.js';
import { authenticate, getUser } from '../lib/page-calls.js';

const world = suite('authenticate');

sdkCase(world, 'authenticate with metadata signs the user in and stores the metadata in Weft', async ({ world, sdk, requests }) => {
  const user = world.newUser();
  const outcome = await authenticate(sdk, world.project.id, user.token, {
    metadata: { name: 'Ada Lovelace', email: 'ada@example.com', plan: 'pro' },
  });
  assert.deepEqual(outcome, { value: '<undefined>' });

  const me = await getUser(sdk);
  assert.equal(me.authenticated, true);
  assert.equal(me.userId, user.userId);
  // The SDK names Name and Email as the reference does, and keeps the rest.
  assert.deepEqual(me.meta, { Name: 'Ada Lovelace', Email: 'ada@example.com', plan: 'pro' });
  assert.deepEqual(Object.keys(me.integrations).sort(), ['notelab', 'tasklab'], 'active integrations only');
  assert.deepEqual(me.resources, []);

  const stored = await world.api('GET', `/admin/projects/${world.project.id}/users/${user.userId}`, {
    bearer: world.project.adminKey,
  });
  assert.equal(stored.status, 200, JSON.stringify(stored.body));
  assert.deepEqual(stored.body.metadata, { Name: 'Ada Lovelace', Email: 'ada@example.com', plan: 'pro' });

  // Every call carried the SDK's headers and the user token, and went to Weft.
  // (Not the SDK's frame: Weft's `/ui` page and its files.)
  const frame = (r) => /^\/ui(\/|$)/.test(new URL(r.url).pathname);
  const calls = requests.filter((r) => r.url.startsWith(world.weft.base) && r.method !== 'OPTIONS' && !frame(r));
  assert.deepEqual(
    calls.map((r) => `${r.method} ${new URL(r.url).pathname}`).sort(),
    [
      `GET /projects/${world.project.id}/sdk/integrations`,
      `GET /projects/${world.project.id}/sdk/me`,
      `PATCH /projects/${world.project.id}/sdk/me`,
    ],
  );
  for (const call of calls) {
    assert.equal(call.headers['x-paragon-sdk-version'], '2.4.0');
    assert.equal(call.headers.authorization, `Bearer ${user.token}`);
  }
});

sdkCase(world, 'authenticate sends no metadata Weft already has', async ({ world, sdk, requests }) => {
  const user = world.newUser();
  const seeded = await world.api('PATCH', world.sdkPath('/me'), { bearer: user.token, body: { meta: { Email: 'b@example.com' } } });
  assert.equal(seeded.status, 200);
  const outcome = await authenticate(sdk, world.project.id, user.token, { metadata: { email: 'b@example.com' } });
  assert.deepEqual(outcome, { value: '<undefined>' });
  assert.deepEqual((await getUser(sdk)).meta, { Email: 'b@example.com' });
  assert.ok(!requests.some((r) => r.method === 'PATCH'), 'the SDK compared with the metadata Weft answered');
});
