// The reference's SDK (`@useparagon/connect`) pointed at Weft: its
// `connect()` shows the frame it loads from `CONNECT_PUBLIC_URL/ui`, which is
// Weft's bridge page (web/ui/) holding Weft's portal. An account connected
// there reaches the reference SDK's callbacks and its `getUser()`.
import assert from 'node:assert/strict';
import { suite, sdkCase } from '../lib/suite.js';
import { getUser, signIn } from '../lib/page-calls.js';
import { issueKey } from '../lib/mock-provider.js';
import { accountsInWeft, focused, portalCalls, showPortal } from '../lib/portal.js';

const world = suite('reference connect');

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
