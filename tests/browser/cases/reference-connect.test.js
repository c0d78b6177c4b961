// The reference's SDK (`@useparagon/connect`) pointed at Weft: its
// `connect()` shows the frame it loads from `CONNECT_PUBLIC_URL/ui`, which is
// Weft's bridge page (web/ui/) holding Weft's portal. An account connected
// there reaches the reference SDK's callbacks and its `getUser()`.
import assert from 'node:assert/strict';
import { suite, sdkCase } from '../lib/suite.js';
import { getUser, signIn } from '../lib/page-calls.js';
import { issueKey } from '../lib/mock-provider.js';
import { CLIENT_ID, CLIENT_SECRET } from '../lib/mock-oauth.js';
import { accountsInWeft, focused, portalCalls, showPortal } from '../lib/portal.js';

/** A workflow of tasklab the portal lists, and two custom dropdowns of notelab (once the world runs). */
async function setup(world) {
  const settings = [
    { id: 'team', title: 'Team', type: 'customDropdown', key: 'team' },
    { id: 'folder', title: 'Folder', type: 'customDropdown', key: 'folders' },
  ];
  const path = `/admin/projects/${world.project.id}/integrations/${world.project.integrations.notelab}`;
  const changed = await world.api('PATCH', path, { bearer: world.project.adminKey, body: { portal: { settings } } });
  assert.equal(changed.status, 200, JSON.stringify(changed.body));
  world.workflowId = await world.deployWorkflow({
    name: 'Post new tasks',
    integration: 'tasklab',
    trigger: { type: 'appEvent', event: 'Task Created' },
    steps: [{ id: 'wait', type: 'delay', value: 1, unit: 'SECONDS' }],
  });
}

const world = suite('reference connect', {
  setup,
  integrations: () => [{ type: 'oauthlab', active: true, clientId: CLIENT_ID, clientSecret: CLIENT_SECRET }],
});

/** The reference SDK's frame, and Weft's portal inside it. */
function frames(page, name) {
  const outer = page.locator('#paragon-connect-frame');
  const portal = page.frameLocator('#paragon-connect-frame').frameLocator(`iframe[title="${name}: Connect Portal"]`);
  return { outer, portal };
}

const shown = (outer) => outer.evaluate((f) => getComputedStyle(f).display !== 'none');

/** Waits until the app heard `name` `count` times. */
const heard = (page, name, count = 1) =>
  page.waitForFunction(([name, count]) => window.portalCalls.filter((c) => c.name === name).length >= count, [name, count]);

sdkCase(world, "connect() shows Weft's portal; an API key connects; onSuccess and getUser see the account; Escape hides it", async ({ world, sdk, page, requests }) => {
  const user = world.newUser();
  await signIn(sdk, world, user);
  const { outer, portal } = frames(page, 'TaskLab');
  assert.equal(await shown(outer), false, 'hidden before connect');
  // Without onInstall, the reference SDK calls onSuccess for a new account.
  await page.evaluate(() => {
    window.connectOptions = { onInstall: undefined };
  });

  await showPortal(page, 'tasklab');
  assert.equal(await shown(outer), true, 'the SDK showed its frame');
  await portal.getByRole('heading', { level: 1, name: 'TaskLab' }).waitFor();
  assert.equal(await portal.getByText('Not connected').count(), 1);
  const integrationId = world.project.integrations.tasklab;
  assert.deepEqual(await portalCalls(page), [['onOpen', { integrationId, integrationType: 'tasklab' }]]);

  await portal.getByRole('button', { name: 'Connect' }).click();
  const key = `key-${user.userId}`;
  const account = issueKey(key);
  await portal.getByLabel('API key').fill(key);
  await portal.getByRole('button', { name: 'Connect', exact: true }).click();
  await heard(page, 'onSuccess');

  const [saved] = await accountsInWeft(world, user);
  assert.equal(saved.providerId, account, 'Weft holds the account the provider knows');
  const calls = await portalCalls(page);
  const success = calls.find(([name]) => name === 'onSuccess')[1];
  assert.equal(success.integrationId, integrationId);
  assert.equal(success.integrationType, 'tasklab');
  assert.equal(success.credentialId, saved.id);
  assert.equal(success.credential.id, saved.id);
  assert.equal(success.credential.status, 'VALID');

  const me = await getUser(sdk);
  assert.equal(me.integrations.tasklab.enabled, true);
  assert.equal(me.integrations.tasklab.credentialId, saved.id);
  assert.equal(me.integrations.tasklab.providerId, account);
  assert.deepEqual(
    me.integrations.tasklab.allCredentials.map((c) => c.id),
    [saved.id],
  );
  await portal.getByText(account.replace('acct-', 'Account ')).first().waitFor();

  // Escape in the portal: the SDK hides its frame and calls onClose.
  assert.match(await focused(page), /^portal: /);
  await page.keyboard.press('Escape');
  await heard(page, 'onClose');
  await page.waitForFunction(() => getComputedStyle(document.getElementById('paragon-connect-frame')).display === 'none');
  assert.deepEqual(
    (await portalCalls(page)).map(([name]) => name),
    ['onOpen', 'onSuccess', 'onClose'],
  );
  assert.deepEqual((await portalCalls(page)).at(-1)[1], { integrationId, integrationType: 'tasklab' });
  assert.equal(await page.frameLocator('#paragon-connect-frame').locator('iframe').count(), 0, 'the portal is gone');
  // The token travelled by postMessage only.
  assert.deepEqual(requests.filter((r) => r.url.includes(user.token)).map((r) => r.url), []);
});

sdkCase(world, 'in the portal: a workflow turned on, a second account added, the first disconnected; each reaches the callbacks, subscribers and getUser', async ({ world, sdk, page }) => {
  const user = world.newUser();
  const first = await world.connectAccount(user);
  await signIn(sdk, world, user);
  await page.evaluate(() => {
    window.subscribed = [];
    for (const name of ['onIntegrationInstall', 'onIntegrationUninstall', 'onWorkflowChange', 'onPortalOpen', 'onPortalClose']) {
      window.paragon.subscribe(name, (event) => window.subscribed.push([name, event]));
    }
  });
  const { outer, portal } = frames(page, 'TaskLab');
  await showPortal(page, 'tasklab');
  await portal.getByText('Connected', { exact: true }).waitFor();
  const integrationId = world.project.integrations.tasklab;
  const { workflowId } = world;

  // A workflow turned on.
  const toggle = portal.getByRole('switch', { name: 'Post new tasks' });
  await toggle.click();
  await portal.getByText('Post new tasks is on.').waitFor();
  await heard(page, 'onWorkflowChange');
  const me = await world.api('GET', world.sdkPath('/me'), { bearer: user.token });
  assert.equal(me.body.integrations.tasklab.workflowSettings[workflowId].enabled, true, 'on in Weft');
  const afterToggle = await getUser(sdk);
  assert.equal(afterToggle.integrations.tasklab.workflowSettings[workflowId].enabled, true, 'on in the SDK');

  // A second account: onInstall (not onSuccess, as the app gave onInstall) names it.
  await portal.getByRole('button', { name: 'Add another account' }).click();
  const key = `key-${user.userId}-second`;
  const account = issueKey(key);
  await portal.getByLabel('API key').fill(key);
  await portal.getByRole('button', { name: 'Connect', exact: true }).click();
  await heard(page, 'onInstall');
  const second = (await accountsInWeft(world, user)).find((c) => c.id !== first.credentialId);
  assert.equal(second.providerId, account);
  const withTwo = await getUser(sdk);
  assert.equal(withTwo.integrations.tasklab.credentialId, second.id, 'the new account is the selected one');
  assert.deepEqual(withTwo.integrations.tasklab.allCredentials.map((c) => c.id).sort(), [first.credentialId, second.id].sort());

  // The first account disconnected.
  const picker = portal.getByRole('combobox', { name: 'Account', exact: true });
  await picker.selectOption(first.credentialId);
  await portal.getByRole('button', { name: 'Disconnect' }).click();
  await portal.getByRole('button', { name: 'Disconnect', exact: true }).last().click();
  await heard(page, 'onUninstall');
  assert.deepEqual((await accountsInWeft(world, user)).map((c) => c.id), [second.id]);
  assert.deepEqual((await getUser(sdk)).integrations.tasklab.allCredentials.map((c) => c.id), [second.id]);

  // The close button.
  await portal.getByRole('button', { name: 'Close' }).click();
  await heard(page, 'onClose');
  assert.equal(await shown(outer), false);

  const calls = await portalCalls(page);
  assert.deepEqual(
    calls.map(([name]) => name),
    ['onOpen', 'onWorkflowChange', 'onInstall', 'onUninstall', 'onClose'],
  );
  const event = { integrationId, integrationType: 'tasklab' };
  assert.deepEqual(calls[1][1], { integrationId, workflowId, workflowStateChange: { enabled: true } });
  assert.equal(calls[2][1].credentialId, second.id);
  assert.deepEqual(calls[3][1], event);
  const subscribed = await page.evaluate(() => window.subscribed);
  assert.deepEqual(
    subscribed.map(([name]) => name),
    ['onPortalOpen', 'onWorkflowChange', 'onIntegrationInstall', 'onIntegrationUninstall', 'onPortalClose'],
  );
  // The SDK hands its subscribers the event its connect() filled in.
  assert.deepEqual([subscribed[2][1].integrationId, subscribed[2][1].integrationType, subscribed[2][1].credentialId], [integrationId, 'tasklab', second.id]);
});

sdkCase(world, "the app's closePortal() takes Weft's portal away, and connect() shows it again", async ({ world, sdk, page }) => {
  const user = world.newUser();
  await signIn(sdk, world, user);
  const { outer, portal } = frames(page, 'NoteLab');
  await showPortal(page, 'notelab');
  await portal.getByRole('heading', { level: 1, name: 'NoteLab' }).waitFor();
  await sdk(() => window.paragon.closePortal());
  await heard(page, 'onClose');
  await page.waitForFunction(() => getComputedStyle(document.getElementById('paragon-connect-frame')).display === 'none');
  assert.equal(await page.frameLocator('#paragon-connect-frame').locator('iframe').count(), 0, 'the portal is gone');

  await showPortal(page, 'notelab');
  assert.equal(await shown(outer), true);
  await portal.getByRole('heading', { level: 1, name: 'NoteLab' }).waitFor();
  assert.deepEqual((await portalCalls(page)).map(([name]) => name), ['onOpen', 'onClose', 'onOpen']);
});

sdkCase(world, "custom dropdowns: setDataSources options and connect()'s loadOptions reach Weft's portal, and the choice is saved", async ({ world, sdk, page }) => {
  const user = world.newUser();
  const { credentialId } = await world.connectAccount(user, 'notelab');
  await signIn(sdk, world, user);
  await page.evaluate(() => {
    window.loadCalls = [];
    // The reference SDK keeps static options of setDataSources; connect()'s
    // own static lists it folds into a config Weft does not send.
    window.paragon.setDataSources({ dropdowns: { team: [{ label: 'Blue', value: 'blue' }, { label: 'Red', value: 'red' }] } });
    window.connectOptions = {
      dropdowns: {
        folders: {
          loadOptions: async (cursor, search) => {
            window.loadCalls.push([cursor ?? null, search ?? null]);
            return { options: [{ label: 'Inbox', value: 'inbox' }, { label: 'Archive', value: 'archive' }], nextPageCursor: null };
          },
        },
      },
    };
  });
  const { portal } = frames(page, 'NoteLab');
  await showPortal(page, 'notelab');
  const team = portal.getByLabel('Team');
  await team.waitFor();
  assert.deepEqual(await team.locator('option').allTextContents(), ['Choose…', 'Blue', 'Red']);
  await team.selectOption({ label: 'Red' });

  const folder = portal.getByRole('combobox', { name: 'Folder' });
  await folder.focus();
  await page.keyboard.press('ArrowDown');
  const options = portal.getByRole('listbox', { name: 'Folder options' }).getByRole('option');
  await options.first().waitFor();
  assert.deepEqual(await options.allTextContents(), ['Inbox', 'Archive']);
  await page.keyboard.press('ArrowDown');
  await page.keyboard.press('ArrowDown');
  await page.keyboard.press('Enter');
  assert.equal(await folder.inputValue(), 'Archive');
  assert.deepEqual(await page.evaluate(() => window.loadCalls), [[null, null]]);

  await portal.getByRole('button', { name: 'Save settings' }).click();
  await portal.getByText('Settings saved.').waitFor();
  const saved = await world.api('GET', world.sdkPath(`/credentials/${credentialId}`), { bearer: user.token });
  assert.deepEqual(saved.body.config.sharedSettings, { team: 'red', folder: 'archive' });
  // The SDK read the account again.
  const me = await getUser(sdk);
  assert.deepEqual(me.integrations.notelab.sharedSettings, { team: 'red', folder: 'archive' });
});

sdkCase(world, "OAuth through Weft's portal: the sign-in window it opens connects the account, and onInstall names it", async ({ world, sdk, page }) => {
  const user = world.newUser();
  await signIn(sdk, world, user);
  const { portal } = frames(page, 'OAuthLab');
  await showPortal(page, 'oauthlab');
  const opened = page.context().waitForEvent('page');
  await portal.getByRole('button', { name: 'Connect' }).click();
  const popup = await opened;
  await popup.waitForURL(`${world.oauth.origin}/oauth/authorize?**`);
  await popup.getByRole('button', { name: 'Allow' }).click();
  await heard(page, 'onInstall');
  const [saved] = await accountsInWeft(world, user);
  assert.match(saved.providerId, /^oauth-acct-\d+$/);
  const calls = await portalCalls(page);
  assert.equal(calls.find(([name]) => name === 'onInstall')[1].credentialId, saved.id);
  assert.equal((await getUser(sdk)).integrations.oauthlab.credentialId, saved.id);
  await portal.getByText('Connected', { exact: true }).waitFor();
});
