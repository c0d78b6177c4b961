// server.allowed_origins, in a real browser: the listed app origin works,
// a page from any other origin is refused by the preflight.
import assert from 'node:assert/strict';
import { after, before } from 'node:test';
import { suite, sdkCase } from '../lib/suite.js';
import { startPageServer } from '../lib/page-server.js';
import { authenticate, getUser } from '../lib/page-calls.js';

const world = suite('allowed origins', {
  settings: ({ pages }) => ({ WEFT__SERVER__ALLOWED_ORIGINS: JSON.stringify([pages.origin]) }),
});
let elsewhere;
before(async () => {
  elsewhere = await startPageServer();
});
after(() => elsewhere?.close());

sdkCase(world, 'a page of a listed origin calls Weft', async ({ world, sdk, requests }) => {
  const user = world.newUser();
  assert.deepEqual(await authenticate(sdk, world.project.id, user.token), { value: '<undefined>' });
  assert.equal((await getUser(sdk)).userId, user.userId);
  assert.ok(requests.some((r) => r.url.endsWith('/sdk/me')));
});

sdkCase(
  world,
  'a page of another origin is refused by the preflight',
  async ({ world, sdk }) => {
    const user = world.newUser();
    const outcome = await authenticate(sdk, world.project.id, user.token);
    assert.deepEqual(outcome, { error: { message: 'Failed to authenticate user with Paragon: Failed to fetch' } });
    assert.deepEqual(await getUser(sdk), { authenticated: false });
    // Weft itself still answers a server-side caller with that token.
    const me = await world.api('GET', world.sdkPath('/me'), { bearer: user.token, headers: { origin: elsewhere.origin } });
    assert.equal(me.status, 200);
  },
  {
    pages: () => elsewhere,
    allowConsoleErrors: [/has been blocked by CORS policy/, /net::ERR_FAILED/],
  },
);
