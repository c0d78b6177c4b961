// Weft's Connect Portal, opened by Weft's SDK: connecting an account with
// an API key (a wrong one refused inline first) and through OAuth, a second
// account, choosing one, disconnecting, and an INVALID account reconnected;
// each checked against Weft's accounts and the callbacks the app heard.
import assert from 'node:assert/strict';
import { suite, sdkCase } from '../lib/suite.js';
import { signIn } from '../lib/page-calls.js';
import { issueKey } from '../lib/mock-provider.js';
import { CLIENT_ID, CLIENT_SECRET } from '../lib/mock-oauth.js';
import { accountsInWeft, focused, portalCalls, showPortal } from '../lib/portal.js';

/** The file's arrangement, once the world runs. */
async function setup(world) {
  const path = `/admin/projects/${world.project.id}/integrations/${world.project.integrations.tasklab}`;
  const portal = {
    description: 'Tasks, synced both ways',
    overview: '## Sync tasks\n\nEvery **task** you create.',
    theme: 'light',
    icon: `${world.pages.origin}/icon.svg`,
  };
  const changed = await world.api('PATCH', path, { bearer: world.project.adminKey, body: { portal } });
  assert.equal(changed.status, 200, JSON.stringify(changed.body));
}

const world = suite('portal connect', {
  setup,
  integrations: () => [
    { type: 'oauthlab', active: true, clientId: CLIENT_ID, clientSecret: CLIENT_SECRET, accentColor: '#F5C518' },
    { type: 'worklab', active: true },
  ],
});

const REFUSED_KEY = [/status of 400 \(Bad Request\)/];

sdkCase(
  world,
  'an API key the provider refuses is shown inline; the right one connects the account',
  async ({ world, sdk, page }) => {
    const user = world.newUser();
    await signIn(sdk, world, user);
    const portal = await showPortal(page, 'tasklab');
    await portal.getByRole('heading', { level: 1, name: 'TaskLab' }).waitFor();
    await portal.getByText('Tasks, synced both ways').waitFor();
    assert.equal(await portal.locator('#panel-overview h2').textContent(), 'Sync tasks');
    assert.equal(await portal.getByText('Not connected').count(), 1);
    // The configured icon (decorative: the name is beside it) and theme.
    const icon = portal.locator('#portal-icon img');
    assert.equal(await icon.getAttribute('src'), `${world.pages.origin}/icon.svg`);
    assert.equal(await icon.getAttribute('alt'), '');
    assert.ok(await icon.evaluate((img) => img.complete && img.naturalWidth > 0), 'the icon loaded');
    assert.equal(await portal.locator('html').getAttribute('data-theme'), 'light');

    await portal.getByRole('button', { name: 'Connect' }).click();
    const key = portal.getByLabel('API key');
    await key.fill('not-a-key-tasklab-knows');
    await portal.getByRole('button', { name: 'Connect', exact: true }).click();
    const error = portal.locator('#connect-error');
    await error.waitFor();
    assert.match(await error.textContent(), /^TaskLab did not accept these credentials/);
    assert.equal(await key.getAttribute('aria-invalid'), 'true');
    assert.match(await key.getAttribute('aria-describedby'), /connect-error/);
    assert.equal(await focused(page), 'portal: input API key (required)');
    assert.deepEqual(await accountsInWeft(world, user), [], 'nothing saved');

    const right = `key-${user.userId}-right`;
    const account = issueKey(right);
    await key.fill(right);
    await portal.getByRole('button', { name: 'Connect', exact: true }).click();
    await portal.getByText('Connected', { exact: true }).waitFor();
    const [saved] = await accountsInWeft(world, user);
    assert.equal(saved.providerId, account);
    assert.equal(saved.status, 'VALID');
    assert.equal(await portal.locator('.account-name').textContent(), account.replace('acct-', 'Account '));
    // Connected: the Configuration tab is shown, and the app heard of it.
    assert.equal(await portal.getByRole('tab', { name: 'Configuration' }).getAttribute('aria-selected'), 'true');
    const heard = await portalCalls(page);
    assert.deepEqual(heard.map(([name]) => name), ['onOpen', 'onSuccess', 'onInstall']);
    assert.equal(heard[2][1].credentialId, saved.id);
    assert.equal(heard[2][1].integrationType, 'tasklab');
    assert.equal(heard[2][1].credential.providerId, account);
    assert.equal(await sdk(() => window.paragon.getUser().integrations.tasklab.credentialId), saved.id);

    // The close button closes the portal; focus returns to the app.
    await portal.getByRole('button', { name: 'Close' }).click();
    await page.waitForFunction(() => !document.querySelector('iframe'));
    assert.equal((await portalCalls(page)).at(-1)[0], 'onClose');
    assert.equal(await focused(page), 'app: open');
  },
  { sdk: 'weft', allowConsoleErrors: REFUSED_KEY },
);

sdkCase(
  world,
  'Connect opens the OAuth sign-in window; the approved account shows connected',
  async ({ world, sdk, page }) => {
    const user = world.newUser();
    await signIn(sdk, world, user);
    const portal = await showPortal(page, 'oauthlab');
    const opened = page.context().waitForEvent('page');
    await portal.getByRole('button', { name: 'Connect' }).click();
    const popup = await opened;
    await popup.waitForURL(`${world.oauth.origin}/oauth/authorize?**`);
    await portal.getByText('Finish signing in to OAuthLab in the window that opened.').waitFor();
    await popup.getByRole('button', { name: 'Allow' }).click();
    await portal.getByText('Connected', { exact: true }).waitFor();
    const [saved] = await accountsInWeft(world, user);
    assert.match(saved.providerId, /^oauth-acct-\d+$/);
    assert.equal(await portal.locator('.account-name').textContent(), saved.providerData.name);
    const heard = await portalCalls(page);
    assert.deepEqual(heard.find(([name]) => name === 'onInstall')?.[1].credentialId, saved.id);
    // The accent colour is the integration's; its text colour reads on it.
    const frame = page.frames().find((f) => /\/portal\/$/.test(f.url()));
    const colours = await frame.evaluate(() => {
      const b = getComputedStyle(document.querySelector('[data-key="add-account"]'));
      const style = getComputedStyle(document.documentElement);
      return [style.getPropertyValue('--accent').trim(), style.getPropertyValue('--on-accent').trim(), b.color];
    });
    assert.deepEqual(colours.slice(0, 2), ['#F5C518', '#000000']);
  },
  { sdk: 'weft' },
);

sdkCase(
  world,
  'a second account is added, either is picked, and the picked one is disconnected',
  async ({ world, sdk, page }) => {
    const user = world.newUser();
    const first = await world.connectAccount(user);
    await signIn(sdk, world, user);
    const portal = await showPortal(page, 'tasklab');
    await portal.getByText('Connected', { exact: true }).waitFor();

    await portal.getByRole('button', { name: 'Add another account' }).click();
    const key = `key-${user.userId}-second`;
    const account = issueKey(key);
    await portal.getByLabel('API key').fill(key);
    await portal.getByRole('button', { name: 'Connect', exact: true }).click();
    const picker = portal.getByRole('combobox', { name: 'Account', exact: true });
    await picker.waitFor();
    const accounts = await accountsInWeft(world, user);
    assert.equal(accounts.length, 2);
    const second = accounts.find((c) => c.id !== first.credentialId);
    assert.equal(second.providerId, account);
    assert.equal(await picker.inputValue(), second.id, 'the new account is shown');

    await picker.selectOption(first.credentialId);
    await portal.locator('.account-name', { hasText: first.account.replace('acct-', 'Account ') }).waitFor();
    await portal.getByRole('button', { name: 'Disconnect' }).click();
    await portal.getByText(/^Disconnect Account \d+\? /).waitFor();
    await portal.getByRole('button', { name: 'Disconnect', exact: true }).last().click();
    await portal.getByText(`Disconnected ${first.account.replace('acct-', 'Account ')}.`).waitFor();
    assert.deepEqual((await accountsInWeft(world, user)).map((c) => c.id), [second.id]);
    assert.equal(await portal.locator('.account-name').textContent(), account.replace('acct-', 'Account '));

    // The app hears of it once the SDK has read the user again.
    await page.waitForFunction(() => window.portalCalls.some((c) => c.name === 'onUninstall'));
    const heard = await portalCalls(page);
    assert.deepEqual(
      heard.filter(([name]) => name === 'onUninstall').map(([, e]) => [e.integrationType, e.credentialId]),
      [['tasklab', first.credentialId]],
    );
    assert.deepEqual(
      (await sdk(() => window.paragon.getUser().integrations.tasklab.allCredentials.map((c) => c.id))),
      [second.id],
    );

    // Escape closes the portal; focus returns to the app's button.
    await page.keyboard.press('Escape');
    await page.waitForFunction(() => !document.querySelector('iframe'));
    assert.equal(await focused(page), 'app: open');
    assert.deepEqual((await portalCalls(page)).at(-1)[0], 'onClose');
  },
  { sdk: 'weft' },
);

sdkCase(
  world,
  'selectedCredentialId opens that account; an INVALID one is reconnected in place',
  async ({ world, sdk, page }) => {
    const user = world.newUser();
    await signIn(sdk, world, user);
    // Two OAuth accounts; the second one's grant is then revoked.
    world.oauth.settings.expiresIn = 3600;
    for (let i = 0; i < 2; i += 1) {
      const opened = page.context().waitForEvent('page');
      const installing = sdk(() => window.paragon.installIntegration('oauthlab', { allowMultipleCredentials: true }).then((e) => e.credentialId));
      const popup = await opened;
      if (i === 1) world.oauth.settings.expiresIn = 1;
      await popup.getByRole('button', { name: 'Allow' }).click();
      await installing;
    }
    world.oauth.settings.refuseRefresh = true;
    const [healthy, revoked] = (await accountsInWeft(world, user)).filter((c) => c.integrationId === world.project.integrations.oauthlab);
    // The proxy finds the token due, the refresh is refused: INVALID.
    await sdk((id) => window.paragon.request('oauthlab', '/me', { selectedCredentialId: id }).catch(() => null), revoked.id);
    for (let tries = 0; ; tries += 1) {
      const now = (await accountsInWeft(world, user)).find((c) => c.id === revoked.id);
      if (now.status === 'INVALID') break;
      assert.ok(tries < 100, `still ${now.status}`);
      await new Promise((r) => setTimeout(r, 100));
    }
    world.oauth.settings.refuseRefresh = false;
    world.oauth.settings.expiresIn = 3600;

    await sdk((id) => {
      window.connectOptions = { selectedCredentialId: id };
    }, revoked.id);
    const portal = await showPortal(page, 'oauthlab');
    assert.equal(await portal.getByRole('combobox', { name: 'Account', exact: true }).inputValue(), revoked.id);
    await portal.getByText('Needs reconnecting', { exact: true }).waitFor();
    const opened = page.context().waitForEvent('page');
    await portal.getByRole('button', { name: 'Reconnect' }).click();
    const popup = await opened;
    await popup.getByRole('button', { name: 'Allow' }).click();
    await portal.getByText('Connected', { exact: true }).waitFor();
    const after = (await accountsInWeft(world, user)).find((c) => c.id === revoked.id);
    assert.equal(after.status, 'VALID', 'the same account, valid again');
    assert.equal((await accountsInWeft(world, user)).length, 2);
    assert.ok(healthy.id !== revoked.id);
  },
  { sdk: 'weft', allowConsoleErrors: [/status of 4\d\d/] },
);

sdkCase(
  world,
  'a pre-authorization input (the workspace) is asked for with the key, required inline, and connects the account',
  async ({ world, sdk, page }) => {
    const user = world.newUser();
    await signIn(sdk, world, user);
    const portal = await showPortal(page, 'worklab');
    await portal.getByRole('button', { name: 'Connect' }).click();
    const workspace = portal.getByLabel(/^Workspace/);
    await portal.getByText('The path of your WorkLab workspace').waitFor();
    const key = `key-${user.userId}-worklab`;
    const account = issueKey(key);
    await portal.getByLabel(/API key/i).fill(key);
    await portal.getByRole('button', { name: 'Connect', exact: true }).click();
    await portal.getByText('Enter your workspace.').waitFor();
    assert.equal(await workspace.getAttribute('aria-invalid'), 'true');
    assert.deepEqual(await accountsInWeft(world, user), [], 'nothing sent without it');
    // The workspace is the base URL's path: only `api` reaches the provider's API.
    await workspace.fill('api');
    await portal.getByRole('button', { name: 'Connect', exact: true }).click();
    await portal.getByText('Connected', { exact: true }).waitFor();
    const [saved] = await accountsInWeft(world, user);
    assert.equal(saved.providerId, account);
    assert.ok(world.provider.hits.some((h) => h.url === '/api/me' && h.headers['x-api-key'] === key), 'tested at the workspace');
  },
  { sdk: 'weft' },
);
