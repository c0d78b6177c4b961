// configureGlobal: the page points the SDK at Weft at start-up (page/app.js);
// every later call goes to Weft, cross-origin, and passes CORS.
import assert from 'node:assert/strict';
import { suite, sdkCase } from '../lib/suite.js';

const world = suite('configureGlobal');

sdkCase(world, 'configureGlobal points every service URL at Weft and the SDK then calls Weft', async ({ world, sdk, requests }) => {
  const weft = world.weft.base;
  const state = await sdk(() => ({
    environments: window.connectSingleton.environments,
    frame: document.getElementById('paragon-connect-frame')?.src,
    user: window.paragon.getUser(),
  }));
  for (const service of ['ZEUS_PUBLIC_URL', 'WORKER_PROXY_PUBLIC_URL', 'CONNECT_PUBLIC_URL', 'HERMES_PUBLIC_URL', 'API_TRIGGER_KIT_PUBLIC_URL']) {
    assert.equal(state.environments[service], weft, service);
  }
  // configureGlobal signs the user out and reloads the portal frame from the new origin.
  assert.deepEqual(state.user, { authenticated: false });
  assert.equal(state.frame, `${weft}/ui`);

  const user = world.newUser();
  const outcome = await sdk(
    ([project, token]) => window.paragon.authenticate(project, token).then(() => 'ok', (e) => e.message),
    [world.project.id, user.token],
  );
  assert.equal(outcome, 'ok');
  const toWeft = requests.filter((r) => r.url.startsWith(weft)).map((r) => `${r.method} ${r.url.slice(weft.length)}`);
  const base = `/projects/${world.project.id}/sdk`;
  for (const expected of [`GET ${base}/me`, `GET ${base}/integrations`]) {
    assert.ok(toWeft.includes(expected), `${expected} not in ${JSON.stringify(toWeft)}`);
  }
  // Nothing but the portal frame the SDK creates before configuration
  // (refused: it leaves loopback) went anywhere but Weft and the page.
  const elsewhere = requests.filter((r) => !r.url.startsWith(weft) && !r.url.startsWith(world.pages.origin));
  assert.deepEqual(
    elsewhere.map((r) => r.url).filter((u) => u !== 'https://connect.useparagon.com/ui'),
    [],
  );
});

sdkCase(
  world,
  'without configureGlobal the SDK calls the hosted service, not Weft',
  async ({ world, sdk, requests }) => {
    const user = world.newUser();
    const outcome = await sdk(
      ([project, token]) => window.paragon.authenticate(project, token).then(() => 'ok', (e) => e.message),
      [world.project.id, user.token],
    );
    assert.match(outcome, /Failed to authenticate user with Paragon: Failed to fetch/);
    assert.ok(
      requests.some((r) => r.url === `https://zeus.useparagon.com/projects/${world.project.id}/sdk/me`),
      JSON.stringify(requests.map((r) => r.url)),
    );
    assert.ok(!requests.some((r) => r.url.startsWith(world.weft.base)), 'nothing reached Weft');
  },
  { configured: false, allowConsoleErrors: [/net::ERR_PROXY_CONNECTION_FAILED/] },
);
