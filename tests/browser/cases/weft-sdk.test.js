// Weft's own browser SDK (`/sdk/connect.js`, `/sdk/connect.mjs`), loaded by
// an app from Weft: signing in, the user, metadata and the integrations'
// display metadata, as the reference's SDK API says.
import assert from 'node:assert/strict';
import { suite, sdkCase } from '../lib/suite.js';
import { authenticate, getUser, invoke, signIn } from '../lib/page-calls.js';
import { mintToken, nowSecs, strangerKey } from '../lib/tokens.js';
import net from 'node:net';

const world = suite("Weft's SDK");
const REFUSED = [/status of 401 \(Unauthorized\)/];

/** The calls the page made to Weft's API (not the SDK's own file), as `METHOD /path`. */
const apiCalls = (world, requests) =>
  requests
    .filter((r) => r.url.startsWith(`${world.weft.base}/projects/`) && r.method !== 'OPTIONS')
    .map((r) => `${r.method} ${new URL(r.url).pathname}`);

sdkCase(
  world,
  'the SDK finds its server from its own URL; authenticate signs the user in and stores metadata',
  async ({ world, sdk, requests }) => {
    const before = await getUser(sdk);
    assert.deepEqual(before, { authenticated: false });
    const user = world.newUser();
    const outcome = await authenticate(sdk, world.project.id, user.token, { metadata: { Name: 'Ada', plan: 'pro' } });
    assert.deepEqual(outcome, { value: '<undefined>' });

    const me = await getUser(sdk);
    assert.equal(me.authenticated, true);
    assert.equal(me.userId, user.userId);
    assert.deepEqual(me.meta, { Name: 'Ada', plan: 'pro' });
    assert.deepEqual(Object.keys(me.integrations).sort(), ['notelab', 'tasklab'], 'active integrations only');
    assert.equal(me.integrations.tasklab.enabled, false);
    assert.equal(me.token, undefined, 'getUser never exposes the token');

    const stored = await world.api('GET', world.sdkPath('/me'), { bearer: user.token });
    assert.deepEqual(stored.body.meta, { Name: 'Ada', plan: 'pro' });
    const base = world.sdkPath('');
    assert.deepEqual(apiCalls(world, requests).sort(), [
      `GET ${base}/integrations`,
      `GET ${base}/me`,
      `GET ${base}/metadata`,
      `PATCH ${base}/me`,
    ]);
    for (const call of requests.filter((r) => r.url.startsWith(`${world.weft.base}/projects/`) && r.method !== 'OPTIONS')) {
      assert.equal(call.headers.authorization, `Bearer ${user.token}`);
    }
    // The script came from Weft, and nothing went anywhere but Weft and the app.
    assert.ok(requests.some((r) => r.url === `${world.weft.base}/sdk/connect.js`));
    const elsewhere = requests.filter((r) => !r.url.startsWith(world.weft.base) && !r.url.startsWith(world.pages.origin));
    assert.deepEqual(elsewhere, []);
  },
  { sdk: 'weft' },
);

sdkCase(
  world,
  'authenticate sends no metadata Weft already has; setUserMetadata merges and answers the user',
  async ({ world, sdk, requests }) => {
    const user = world.newUser();
    const seeded = await world.api('PATCH', world.sdkPath('/me'), { bearer: user.token, body: { meta: { Email: 'b@example.com' } } });
    assert.equal(seeded.status, 200);
    await signIn(sdk, world, user, { metadata: { Email: 'b@example.com' } });
    assert.ok(!requests.some((r) => r.method === 'PATCH'), 'the SDK compared with the metadata Weft answered');

    const outcome = await invoke(sdk, 'setUserMetadata', { Name: 'Grace', Email: 'grace@example.com' });
    assert.equal(outcome.value?.authenticated, true, JSON.stringify(outcome));
    assert.deepEqual(outcome.value.meta, { Name: 'Grace', Email: 'grace@example.com' });
    assert.deepEqual((await getUser(sdk)).meta, outcome.value.meta);
    const stored = await world.api('GET', world.sdkPath('/me'), { bearer: user.token });
    assert.deepEqual(stored.body.meta, { Name: 'Grace', Email: 'grace@example.com' });
  },
  { sdk: 'weft' },
);

sdkCase(
  world,
  'getUser shows each account; getIntegrationMetadata names the active integrations',
  async ({ world, sdk }) => {
    const user = world.newUser();
    const first = await world.connectAccount(user);
    const second = await world.connectAccount(user);
    await signIn(sdk, world, user);
    const tasklab = (await getUser(sdk)).integrations.tasklab;
    assert.equal(tasklab.enabled, true);
    assert.equal(tasklab.credentialId, first.credentialId);
    assert.equal(tasklab.credentialStatus, 'VALID');
    assert.equal(tasklab.providerId, first.account);
    assert.deepEqual(tasklab.allCredentials.map((c) => c.id).sort(), [first.credentialId, second.credentialId].sort());

    const all = await sdk(() => window.paragon.getIntegrationMetadata());
    assert.deepEqual(
      all.sort((a, b) => a.type.localeCompare(b.type)),
      [
        { type: 'notelab', name: 'NoteLab', brandColor: null, icon: null },
        { type: 'tasklab', name: 'TaskLab', brandColor: '#0B6E4F', icon: null },
      ],
    );
    const one = await sdk(() => window.paragon.getIntegrationMetadata('tasklab'));
    assert.deepEqual(one, { type: 'tasklab', name: 'TaskLab', brandColor: '#0B6E4F', icon: null });
    const inactive = await sdk(() => {
      try {
        return window.paragon.getIntegrationMetadata('draftlab');
      } catch (e) {
        return { error: e.message };
      }
    });
    assert.deepEqual(inactive, { error: 'draftlab is not an active integration of this project' });
  },
  { sdk: 'weft' },
);

sdkCase(
  world,
  'an expired token is refused without calling Weft; one Weft refuses signs the user out',
  async ({ world, sdk, requests }) => {
    const expired = world.token('expired-user', { iat: nowSecs() - 7200, ttl: 3600 });
    const refused = await authenticate(sdk, world.project.id, expired);
    assert.deepEqual(refused, { error: { message: 'The user token has expired: sign a new one' } });
    assert.equal(apiCalls(world, requests).length, 0, 'no call to Weft');

    const user = world.newUser();
    await signIn(sdk, world, user);
    const forged = mintToken(strangerKey(), { sub: 'forger', kid: world.project.kid });
    const outcome = await authenticate(sdk, world.project.id, forged);
    assert.ok(outcome.error, JSON.stringify(outcome));
    assert.deepEqual(await getUser(sdk), { authenticated: false }, 'the earlier user is signed out too');
    const error = await sdk(([p, t]) => window.paragon.authenticate(p, t).catch((e) => ({ status: e.status, code: e.code })), [world.project.id, forged]);
    assert.deepEqual(error, { status: 401, code: 'UNAUTHORIZED' });
  },
  { sdk: 'weft', allowConsoleErrors: REFUSED },
);

sdkCase(
  world,
  'the ES module exports the same SDK, bound to the server it came from',
  async ({ world, sdk }) => {
    const shape = await sdk(() => ({
      same: window.sdkModule.default === window.sdkModule.paragon,
      global: window.sdkModule.paragon === globalThis.paragon,
      version: window.sdkModule.paragon.getVersion(),
    }));
    assert.deepEqual(shape, { same: true, global: true, version: '1.0.0' });
    const user = world.newUser();
    await signIn(sdk, world, user);
    assert.equal((await getUser(sdk)).userId, user.userId);
  },
  { sdk: 'weft-module' },
);

sdkCase(
  world,
  'configureGlobal points the SDK at another server and signs the user out',
  async ({ world, sdk, requests }) => {
    const user = world.newUser();
    await signIn(sdk, world, user);
    // A server that is not there: a loopback port just freed.
    const spare = net.createServer();
    await new Promise((resolve) => spare.listen(0, '127.0.0.1', resolve));
    const nowhere = `http://127.0.0.1:${spare.address().port}`;
    await new Promise((resolve) => spare.close(resolve));
    await sdk((host) => window.paragon.configureGlobal({ host }), nowhere);
    assert.deepEqual(await getUser(sdk), { authenticated: false });
    const outcome = await authenticate(sdk, world.project.id, user.token);
    assert.ok(outcome.error?.message.startsWith(`Weft could not be reached at ${nowhere}`), JSON.stringify(outcome));
    assert.ok(requests.some((r) => r.url === `${nowhere}/projects/${world.project.id}/sdk/me`));
    // And back, by the reference's service-URL form.
    await sdk((weft) => window.paragon.configureGlobal({ host: 'ignored.example' }, { ZEUS_PUBLIC_URL: weft }), world.weft.base);
    await signIn(sdk, world, user);
    assert.equal((await getUser(sdk)).userId, user.userId);
  },
  { sdk: 'weft', allowConsoleErrors: [/ERR_CONNECTION_REFUSED/] },
);
