// Weft's own SDK without the portal: the Proxy API, accounts connected in an
// OAuth window and removed, workflows turned on and off, App Events, a
// Request-triggered workflow, and the SDK events the app subscribes to;
// each checked against what Weft did.
import assert from 'node:assert/strict';
import { suite, sdkCase } from '../lib/suite.js';
import { getUser, invoke, signIn } from '../lib/page-calls.js';
import { CLIENT_ID, CLIENT_SECRET } from '../lib/mock-oauth.js';
import { issueKey } from '../lib/mock-provider.js';

const world = suite("Weft's SDK, headless", {
  integrations: () => [{ type: 'oauthlab', active: true, clientId: CLIENT_ID, clientSecret: CLIENT_SECRET }],
});

/** Records the SDK events of the page in `window.sdkEvents`. */
const recordEvents = (sdk) =>
  sdk(() => {
    window.sdkEvents = [];
    for (const name of ['onIntegrationInstall', 'onIntegrationUninstall', 'onWorkflowChange', 'onPortalOpen', 'onPortalClose']) {
      window.paragon.subscribe(name, (event, user) => window.sdkEvents.push({ name, event, userId: user.userId }));
    }
  });
const sdkEvents = (sdk) => sdk(() => window.sdkEvents);

const onEvent = (event) => ({
  name: `On ${event}`,
  integration: 'tasklab',
  trigger: { type: 'appEvent', event },
  steps: [{ id: 'wait', type: 'delay', value: 1, unit: 'SECONDS' }],
});
const echo = {
  name: 'Echo',
  integration: 'tasklab',
  trigger: { type: 'request' },
  steps: [{ id: 'answer', type: 'response', statusCode: 200, body: { got: '{{trigger.output.request.body.email}}' } }],
};

sdkCase(
  world,
  'request calls the provider as the user, with the account chosen',
  async ({ world, sdk }) => {
    const user = world.newUser();
    const first = await world.connectAccount(user);
    const second = await world.connectAccount(user);
    await signIn(sdk, world, user);
    const created = await invoke(sdk, 'request', 'tasklab', '/items', { method: 'POST', body: { title: 'Ship it' } });
    assert.deepEqual(created, { value: { id: 'item-1', owner: first.account, title: 'Ship it' } });
    const post = world.provider.hits.findLast((h) => h.headers['x-api-key'] === first.key);
    assert.equal(post.headers['content-type'], 'application/json');
    assert.equal(post.headers.authorization, undefined, 'the user token stays with Weft');

    const chosen = await invoke(sdk, 'request', 'tasklab', 'whoami?page=2', { selectedCredentialId: second.credentialId });
    assert.deepEqual(chosen, { value: { account: second.account, query: { page: '2' } } });

    const missing = await sdk(() =>
      window.paragon.request('tasklab', '/nowhere').catch((e) => ({ name: e.name, status: e.status, response: e.response })),
    );
    assert.deepEqual(missing, { name: 'WeftError', status: 404, response: { output: { error: 'not_found', path: '/nowhere' } } });
    assert.equal((await getUser(sdk)).authenticated, true, "a provider's 404 is not the user's");
  },
  { sdk: 'weft', allowConsoleErrors: [/status of 404 \(Not Found\)/] },
);

sdkCase(
  world,
  'installIntegration connects an OAuth account in a sign-in window; uninstallIntegration removes it',
  async ({ world, sdk, page }) => {
    const user = world.newUser();
    await signIn(sdk, world, user);
    await recordEvents(sdk);
    const opened = page.context().waitForEvent('page');
    const installing = invoke(sdk, 'installIntegration', 'oauthlab');
    const popup = await opened;
    await popup.waitForURL(`${world.oauth.origin}/oauth/authorize?**`);
    await popup.getByRole('button', { name: 'Allow' }).click();
    const outcome = await installing;
    assert.ok(outcome.value, JSON.stringify(outcome));
    const { integrationId, integrationType, credentialId, credential } = outcome.value;
    assert.equal(integrationType, 'oauthlab');
    assert.equal(integrationId, world.project.integrations.oauthlab);
    assert.equal(credential.id, credentialId);
    assert.equal(credential.status, 'VALID');
    assert.match(credential.providerId, /^oauth-acct-\d+$/);
    // The code went to the token endpoint with the PKCE verifier and the secret.
    const exchange = world.oauth.hits.findLast((h) => h.url === '/oauth/token');
    assert.match(exchange.body, /code_verifier=/);

    const listed = await world.api('GET', world.sdkPath('/credentials'), { bearer: user.token });
    assert.deepEqual(listed.body.map((c) => c.id), [credentialId]);
    assert.equal((await getUser(sdk)).integrations.oauthlab.credentialId, credentialId);

    // Installed already: refused without a window.
    const again = await invoke(sdk, 'installIntegration', 'oauthlab');
    assert.match(again.error?.message ?? '', /already installed/);

    assert.deepEqual(await invoke(sdk, 'uninstallIntegration', 'oauthlab'), { value: '<undefined>' });
    const after = await world.api('GET', world.sdkPath('/credentials'), { bearer: user.token });
    assert.deepEqual(after.body, []);
    assert.equal((await getUser(sdk)).integrations.oauthlab.enabled, false);
    const events = await sdkEvents(sdk);
    assert.deepEqual(
      events.map((e) => [e.name, e.event.integrationType, e.event.credentialId ?? null, e.userId]),
      [
        ['onIntegrationInstall', 'oauthlab', credentialId, user.userId],
        ['onIntegrationUninstall', 'oauthlab', null, user.userId],
      ],
    );
  },
  { sdk: 'weft' },
);

sdkCase(
  world,
  'installIntegration of an API-key integration shows the portal form alone, and resolves once connected',
  async ({ world, sdk, page }) => {
    const user = world.newUser();
    await signIn(sdk, world, user);
    await recordEvents(sdk);
    const installing = invoke(sdk, 'installIntegration', 'tasklab');
    const portal = page.frameLocator('iframe[title$="Connect Portal"]');
    const key = portal.getByLabel('API key');
    await key.waitFor();
    // The form alone: no tabs, no account actions.
    assert.equal(await portal.getByRole('tab').count(), 0);
    await key.fill('not-a-key');
    await page.keyboard.press('Enter');
    await portal.locator('#connect-error').waitFor();
    const right = `key-${user.userId}-install`;
    const account = issueKey(right);
    await key.fill(right);
    await page.keyboard.press('Enter');
    const outcome = await installing;
    assert.ok(outcome.value, JSON.stringify(outcome));
    assert.equal(outcome.value.integrationType, 'tasklab');
    assert.equal(outcome.value.credential.providerId, account);
    await page.waitForFunction(() => !document.querySelector('iframe'));
    const listed = await world.api('GET', world.sdkPath('/credentials'), { bearer: user.token });
    assert.deepEqual(listed.body.map((c) => c.id), [outcome.value.credentialId]);
    assert.deepEqual(
      (await sdkEvents(sdk)).map((e) => [e.name, e.event.credentialId ?? null]),
      [
        ['onPortalOpen', null],
        ['onIntegrationInstall', outcome.value.credentialId],
        ['onPortalClose', null],
      ],
    );

    // Closed before connecting: the promise rejects.
    const again = invoke(sdk, 'installIntegration', 'tasklab', { allowMultipleCredentials: true });
    await portal.getByLabel('API key').waitFor();
    await page.keyboard.press('Escape');
    assert.deepEqual((await again).error?.message, 'The user closed the portal before connecting');
  },
  { sdk: 'weft', allowConsoleErrors: [/status of 400 \(Bad Request\)/] },
);

sdkCase(
  world,
  'uninstallIntegration removes the selected account of two',
  async ({ world, sdk, requests }) => {
    const user = world.newUser();
    const first = await world.connectAccount(user);
    const second = await world.connectAccount(user);
    await signIn(sdk, world, user);
    const one = await invoke(sdk, 'uninstallIntegration', 'tasklab', { selectedCredentialId: second.credentialId });
    assert.deepEqual(one, { value: '<undefined>' });
    const [removal] = requests.filter((r) => r.method === 'DELETE');
    assert.equal(new URL(removal.url).pathname, world.sdkPath(`/integrations/${world.project.integrations.tasklab}`));
    assert.equal(removal.headers['x-paragon-credential'], second.credentialId);
    const left = await world.api('GET', world.sdkPath('/credentials'), { bearer: user.token });
    assert.deepEqual(left.body.map((c) => c.id), [first.credentialId]);
    assert.deepEqual((await getUser(sdk)).integrations.tasklab.allCredentials.map((c) => c.id), [first.credentialId]);
  },
  { sdk: 'weft' },
);

sdkCase(
  world,
  'enableWorkflow and disableWorkflow change what Weft stores; event starts the enabled workflow',
  async ({ world, sdk }) => {
    const workflowId = await world.deployWorkflow(onEvent('Contact Created'));
    const user = world.newUser();
    await world.connectAccount(user);
    await signIn(sdk, world, user);
    await recordEvents(sdk);

    assert.deepEqual(await invoke(sdk, 'enableWorkflow', workflowId), { value: '<undefined>' });
    const stored = await world.api('GET', world.sdkPath('/me'), { bearer: user.token });
    assert.equal(stored.body.integrations.tasklab.workflowSettings[workflowId]?.enabled, true);
    assert.equal((await getUser(sdk)).integrations.tasklab.workflowSettings[workflowId]?.enabled, true);

    assert.deepEqual(await invoke(sdk, 'event', 'Contact Created', { email: 'new@example.com' }), { value: '<undefined>' });
    const runs = await world.executions(workflowId);
    assert.equal(runs.length, 1, JSON.stringify(runs));
    assert.equal(runs[0].userId, user.userId);

    assert.deepEqual(await invoke(sdk, 'disableWorkflow', workflowId), { value: '<undefined>' });
    const off = await world.api('GET', world.sdkPath('/me'), { bearer: user.token });
    assert.notEqual(off.body.integrations.tasklab.workflowSettings[workflowId]?.enabled, true);
    await invoke(sdk, 'event', 'Contact Created', { email: 'later@example.com' });
    assert.equal((await world.executions(workflowId)).length, 1, 'a disabled workflow does not start');

    const events = await sdkEvents(sdk);
    assert.deepEqual(
      events.map((e) => [e.name, e.event.workflowId, e.event.workflowStateChange, e.event.integrationId]),
      [
        ['onWorkflowChange', workflowId, { enabled: true }, world.project.integrations.tasklab],
        ['onWorkflowChange', workflowId, { enabled: false }, world.project.integrations.tasklab],
      ],
    );
  },
  { sdk: 'weft' },
);

sdkCase(
  world,
  'workflow sends a request to a Request-triggered workflow and resolves with its response',
  async ({ world, sdk }) => {
    const workflowId = await world.deployWorkflow(echo);
    const user = world.newUser();
    await world.connectAccount(user);
    await signIn(sdk, world, user);
    await invoke(sdk, 'enableWorkflow', workflowId);
    const answer = await invoke(sdk, 'workflow', workflowId, { body: { email: 'bowie@example.com' } });
    assert.deepEqual(answer, { value: { got: 'bowie@example.com' } });
    const runs = await world.executions(workflowId);
    assert.equal(runs.length, 1);
    assert.equal(runs[0].userId, user.userId);
  },
  { sdk: 'weft' },
);

sdkCase(
  world,
  'subscribe answers a function that stops listening; unsubscribe says whether it listened',
  async ({ sdk }) => {
    const outcome = await sdk(() => {
      const calls = [];
      const listener = () => calls.push(1);
      const stop = window.paragon.subscribe('onIntegrationInstall', listener);
      const first = stop();
      const second = window.paragon.unsubscribe('onIntegrationInstall', listener);
      window.paragon.subscribe('onPortalOpen', listener);
      const third = window.paragon.unsubscribe('onPortalOpen', listener);
      let unknown;
      try {
        window.paragon.subscribe('onSomething', listener);
      } catch (e) {
        unknown = e.message;
      }
      return { first, second, third, unknown };
    });
    assert.deepEqual(outcome, {
      first: true,
      second: false,
      third: true,
      unknown: 'Unknown SDK event "onSomething"; one of onIntegrationInstall, onIntegrationUninstall, onWorkflowChange, onPortalOpen, onPortalClose',
    });
  },
  { sdk: 'weft' },
);
