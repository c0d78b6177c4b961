// Expired and wrong user tokens: the SDK refuses an expired one itself,
// and signs the user out when Weft refuses one.
import assert from 'node:assert/strict';
import { suite, sdkCase } from '../lib/suite.js';
import { authenticate, getUser, invoke, signIn } from '../lib/page-calls.js';
import { mintToken, nowSecs, strangerKey } from '../lib/tokens.js';

const world = suite('tokens');
const REFUSED = [/status of 401 \(Unauthorized\)/];

/** The page's saved session (the SDK keeps it in localStorage). */
const savedSession = (sdk) => sdk(() => window.localStorage.getItem('paragon-connect-user-state'));

sdkCase(world, 'an expired token is refused by the SDK without calling Weft', async ({ world, sdk, requests }) => {
  const token = world.token('expired-user', { iat: nowSecs() - 7200, ttl: 3600 });
  const outcome = await authenticate(sdk, world.project.id, token);
  assert.deepEqual(outcome, { error: { message: 'Failed to authenticate user with Paragon: JWT token provided has expired.' } });
  assert.deepEqual(await getUser(sdk), { authenticated: false });
  assert.ok(!requests.some((r) => r.url.startsWith(world.weft.base) && r.url.includes('/sdk/')), 'no call to Weft');
});

sdkCase(
  world,
  'a token Weft finds expired signs the user out with Weft\'s answer',
  async ({ world, sdk, page }) => {
    // Expired past Weft's leeway, but the page's clock (an hour slow) still
    // believes it: the SDK sends it and Weft refuses it.
    const iat = nowSecs() - 3600;
    const token = world.token('stale-clock-user', { iat, ttl: 600 });
    await page.clock.setFixedTime(new Date((iat + 60) * 1000));
    const outcome = await authenticate(sdk, world.project.id, token);
    assert.ok(outcome.error, JSON.stringify(outcome));
    const prefix = 'Failed to authenticate user with Paragon: ';
    assert.ok(outcome.error.message.startsWith(prefix), outcome.error.message);
    const answer = JSON.parse(outcome.error.message.slice(prefix.length));
    assert.equal(answer.code, 'UNAUTHORIZED');
    assert.equal(answer.status, 401);
    assert.match(answer.message, /expired/i);
    assert.deepEqual(await getUser(sdk), { authenticated: false });
    assert.equal(await savedSession(sdk), null);
  },
  { allowConsoleErrors: REFUSED },
);

sdkCase(
  world,
  'a token signed with a key the project does not have is refused',
  async ({ world, sdk }) => {
    const token = mintToken(strangerKey(), { sub: 'forger', kid: world.project.kid });
    const outcome = await authenticate(sdk, world.project.id, token);
    const prefix = 'Failed to authenticate user with Paragon: ';
    assert.ok(outcome.error?.message.startsWith(prefix), JSON.stringify(outcome));
    const answer = JSON.parse(outcome.error.message.slice(prefix.length));
    assert.equal(answer.code, 'UNAUTHORIZED');
    assert.ok(answer.meta.requestId, 'the answer names its request id');
    assert.deepEqual(await getUser(sdk), { authenticated: false });
  },
  { allowConsoleErrors: REFUSED },
);

sdkCase(
  world,
  'a session whose key was removed is signed out at its next call',
  async ({ world, sdk }) => {
    const user = world.newUser();
    await signIn(sdk, world, user);
    assert.notEqual(await savedSession(sdk), null);
    const keys = await world.api('GET', `/admin/projects/${world.project.id}/signing-keys`, { bearer: world.project.adminKey });
    const ours = keys.body.find((k) => k.kid === world.project.kid);
    // The file's last case: the project keeps no key after it.
    const removed = await world.api('DELETE', `/admin/projects/${world.project.id}/signing-keys/${ours.id}`, {
      bearer: world.project.adminKey,
    });
    assert.ok(removed.status < 300, JSON.stringify(removed.body));
    const outcome = await invoke(sdk, 'setUserMetadata', { Email: 'late@example.com' });
    assert.ok(outcome.error, JSON.stringify(outcome));
    assert.equal(JSON.parse(outcome.error.message).code, 'UNAUTHORIZED');
    assert.deepEqual(await getUser(sdk), { authenticated: false });
    assert.equal(await savedSession(sdk), null);
  },
  { allowConsoleErrors: REFUSED },
);
