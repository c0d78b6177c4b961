// The portal's Configuration tab: integration-level User Settings of every
// kind (custom dropdowns from the app, static and paginated with search;
// a field mapping with the app's fields) saved to the account and returned
// by /sdk/credentials; and the workflow list: default-enabled, hidden and
// permission-filtered workflows, a workflow with a required setting turned
// on, another turned off, each as Weft stores it.
import assert from 'node:assert/strict';
import { suite, sdkCase } from '../lib/suite.js';
import { signIn, invoke } from '../lib/page-calls.js';
import { accountsInWeft, EVERY_SETTING, focused, portalCalls, showPortal } from '../lib/portal.js';

/** The file's arrangement, once the world runs. */
async function setup(world) {
  const path = `/admin/projects/${world.project.id}/integrations/${world.project.integrations.tasklab}`;
  const changed = await world.api('PATCH', path, { bearer: world.project.adminKey, body: { portal: { settings: EVERY_SETTING } } });
  assert.equal(changed.status, 200, JSON.stringify(changed.body));
  ids.post = await world.deployWorkflow(
    workflow('Post updates', {
      description: 'Posts each update to a list',
      portal: { settings: [{ id: 'listName', title: 'List', type: 'text', required: true }] },
    }),
  );
  ids.archive = await world.deployWorkflow(workflow('Archive done tasks', { portal: { defaultEnabled: true } }));
  ids.secret = await world.deployWorkflow(workflow('Secret', { portal: { hidden: true } }));
  ids.pro = await world.deployWorkflow(
    workflow('Pro sync', { permissions: { left: '{{user.meta.plan}}', operator: 'stringExactlyMatches', right: 'pro' } }),
  );
}

const world = suite('portal settings', { setup });


const workflow = (name, extra = {}) => ({
  name,
  integration: 'tasklab',
  trigger: { type: 'appEvent', event: `${name} event` },
  steps: [{ id: 'wait', type: 'delay', value: 1, unit: 'SECONDS' }],
  ...extra,
});

const ids = {};

/** The app's options for the portal: dropdown sources and the Task fields. */
const appOptions = (sdk) =>
  sdk(() => {
    window.loadCalls = [];
    const folders = Array.from({ length: 25 }, (_, i) => ({ label: `Folder ${i + 1}`, value: `f${i + 1}` }));
    window.connectOptions = {
      dropdowns: {
        // A repeated value and an option without a label are left out.
        team: [{ label: 'Blue', value: 'blue' }, { label: 'Red', value: 'red' }, { label: 'Again', value: 'blue' }, { value: 'x' }],
        folders: {
          loadOptions: async (cursor, search) => {
            window.loadCalls.push([cursor ?? null, search ?? null]);
            const all = search ? folders.filter((f) => f.label.includes(search)) : folders;
            const start = cursor ? Number(cursor) : 0;
            return { options: all.slice(start, start + 10), nextPageCursor: start + 10 < all.length ? String(start + 10) : null };
          },
        },
      },
      mapObjectFields: { Task: [{ label: 'Title', value: 'title' }, { label: 'Description', value: 'description' }] },
    };
  });

sdkCase(
  world,
  'integration settings of every kind are saved to the account and returned by /sdk/credentials',
  async ({ world, sdk, page }) => {
    const user = world.newUser();
    const { credentialId } = await world.connectAccount(user);
    await signIn(sdk, world, user);
    await appOptions(sdk);
    const portal = await showPortal(page, 'tasklab');
    const save = portal.getByRole('button', { name: 'Save settings' });
    await save.waitFor();

    // Required and empty: said at the field, which gets focus.
    await save.click();
    await portal.getByText('Channel is required.').waitFor();
    assert.equal(await portal.getByLabel('Channel').getAttribute('aria-invalid'), 'true');
    assert.equal(await focused(page), 'portal: input Channel (required)');
    assert.equal(await portal.getByText('Where updates are posted').count(), 1);

    await portal.getByLabel('Channel').fill('general');
    await portal.getByLabel('Daily limit').fill('25');
    await portal.getByLabel('Notify me').check();
    await portal.getByLabel('Webhook secret').fill('s3cret');
    await portal.getByLabel('Stage').selectOption({ label: 'Won' });
    const team = portal.getByLabel('Team');
    assert.deepEqual(await team.locator('option').allTextContents(), ['Choose…', 'Blue', 'Red']);
    await team.selectOption({ label: 'Blue' });

    // The paginated dropdown: the first page at once, the next at its end,
    // then a search; every page from the app's loadOptions.
    const folder = portal.getByRole('combobox', { name: 'Folder' });
    await folder.focus();
    await page.keyboard.press('ArrowDown');
    const options = portal.getByRole('listbox', { name: 'Folder options' }).getByRole('option');
    await options.first().waitFor();
    assert.equal(await options.count(), 10);
    for (let i = 0; i < 10; i += 1) await page.keyboard.press('ArrowDown');
    await options.filter({ hasText: 'Folder 11' }).waitFor();
    assert.equal(await options.count(), 20);
    await folder.fill('Folder 2');
    await options.filter({ hasText: 'Folder 25' }).waitFor();
    assert.deepEqual(await options.allTextContents(), ['Folder 2', 'Folder 20', 'Folder 21', 'Folder 22', 'Folder 23', 'Folder 24', 'Folder 25']);
    await page.keyboard.press('ArrowDown');
    await page.keyboard.press('ArrowDown');
    await page.keyboard.press('Enter');
    assert.equal(await folder.inputValue(), 'Folder 20');
    const calls = await sdk(() => window.loadCalls);
    assert.deepEqual(calls[0], [null, null]);
    assert.ok(calls.some(([cursor, search]) => cursor === '10' && search === null), JSON.stringify(calls));
    assert.ok(calls.some(([cursor, search]) => cursor === null && search === 'Folder 2'), JSON.stringify(calls));

    // The field mapping: an integration object, then a field for each app field.
    await portal.getByLabel('TaskLab object').selectOption({ label: 'Ticket' });
    await portal.getByLabel('Title', { exact: true }).selectOption({ label: 'Subject' });
    await portal.getByLabel('Description', { exact: true }).selectOption({ label: 'Body' });

    await save.click();
    await portal.getByText('Settings saved.').waitFor();
    const [account] = await accountsInWeft(world, user);
    assert.equal(account.id, credentialId);
    assert.deepEqual(account.config.sharedSettings, {
      channel: 'general',
      limit: 25,
      notify: true,
      secret: 's3cret',
      stage: 'won',
      team: 'blue',
      folder: 'f20',
      taskMapping: { objectType: 'ticket', fieldMappings: { title: 'subject', description: 'body' } },
    });
    // The SDK read the user again: the app sees the saved settings too.
    // (It reads it after the portal says so: wait for that read, not a moment.)
    await page.waitForFunction(() => window.paragon.getUser().integrations.tasklab.sharedSettings?.channel === 'general');
    const seen = await sdk(() => window.paragon.getUser().integrations.tasklab.sharedSettings);
    assert.equal(seen.channel, 'general');

    // Opened again, the portal shows what was saved.
    await page.keyboard.press('Escape');
    await page.waitForFunction(() => !document.querySelector('iframe'));
    const again = await showPortal(page, 'tasklab');
    assert.equal(await again.getByLabel('Channel').inputValue(), 'general');
    assert.equal(await again.getByLabel('Notify me').isChecked(), true);
    assert.equal(await again.getByLabel('Title', { exact: true }).inputValue(), 'subject');
  },
  { sdk: 'weft' },
);

sdkCase(
  world,
  'workflows: listed as the user may see them, one with a required setting turned on, one turned off',
  async ({ world, sdk, page }) => {
    const user = world.newUser();
    const { credentialId } = await world.connectAccount(user);
    await signIn(sdk, world, user);
    const portal = await showPortal(page, 'tasklab');
    const list = portal.locator('.workflows h4');
    await list.first().waitFor();
    // Hidden and not-permitted workflows are not listed; a default one is on.
    assert.deepEqual(await list.allTextContents(), ['Archive done tasks', 'Post updates']);
    const post = portal.getByRole('switch', { name: 'Post updates' });
    const archive = portal.getByRole('switch', { name: 'Archive done tasks' });
    assert.equal(await archive.getAttribute('aria-checked'), 'true');
    assert.equal(await post.getAttribute('aria-checked'), 'false');

    // A required workflow setting is asked for before the workflow turns on.
    await post.click();
    await portal.getByText('Fill in the required settings to turn this workflow on.').waitFor();
    assert.equal(await post.getAttribute('aria-checked'), 'false');
    const turnOn = portal.getByRole('button', { name: 'Save and turn on' });
    await turnOn.click();
    await portal.getByText('List is required.').waitFor();
    await portal.getByLabel('List').fill('Roadmap');
    await turnOn.click();
    await portal.getByText('Post updates is on.').waitFor();
    assert.equal(await post.getAttribute('aria-checked'), 'true');

    await archive.click();
    await portal.getByText('Archive done tasks is off.').waitFor();
    assert.equal(await archive.getAttribute('aria-checked'), 'false');

    const me = await world.api('GET', world.sdkPath('/me'), { bearer: user.token });
    const states = me.body.integrations.tasklab.workflowSettings;
    assert.equal(states[ids.post]?.enabled, true, JSON.stringify(states));
    assert.notEqual(states[ids.archive]?.enabled, true, JSON.stringify(states));
    const [account] = await accountsInWeft(world, user);
    assert.equal(account.id, credentialId);
    assert.deepEqual(account.config.workflowSettings[ids.post].settings, { listName: 'Roadmap' });
    const changes = (await portalCalls(page)).filter(([name]) => name === 'onWorkflowChange').map(([, e]) => [e.workflowId, e.workflowStateChange]);
    assert.deepEqual(changes, [
      [ids.post, { enabled: true }],
      [ids.archive, { enabled: false }],
    ]);

    // New metadata meets the Pro workflow's permissions: listed next time.
    await page.keyboard.press('Escape');
    await page.waitForFunction(() => !document.querySelector('iframe'));
    await invoke(sdk, 'setUserMetadata', { plan: 'pro' });
    const again = await showPortal(page, 'tasklab');
    await again.getByRole('switch', { name: 'Pro sync' }).waitFor();
    assert.deepEqual(await again.locator('.workflows h4').allTextContents(), ['Archive done tasks', 'Post updates', 'Pro sync']);
  },
  { sdk: 'weft' },
);

sdkCase(
  world,
  'with two accounts, a workflow is turned on and off for the account shown',
  async ({ world, sdk, page }) => {
    const user = world.newUser();
    const first = await world.connectAccount(user);
    const second = await world.connectAccount(user);
    await signIn(sdk, world, user);
    /** Whether the workflow is on for each account, as /sdk/me says. */
    const states = async (workflowId) => {
      const me = await world.api('GET', world.sdkPath('/me'), { bearer: user.token });
      const byId = Object.fromEntries(me.body.integrations.tasklab.allCredentials.map((c) => [c.id, c]));
      return [first, second].map((a) => byId[a.credentialId].configurations[0].workflowSettings[workflowId]?.enabled === true);
    };
    // On by default for the first account only.
    assert.deepEqual(await states(ids.archive), [true, false]);

    await sdk((id) => {
      window.connectOptions = { selectedCredentialId: id };
    }, second.credentialId);
    const portal = await showPortal(page, 'tasklab');
    const archive = portal.getByRole('switch', { name: 'Archive done tasks' });
    assert.equal(await archive.getAttribute('aria-checked'), 'false');
    await archive.click();
    await portal.getByText('Archive done tasks is on.').waitFor();
    assert.deepEqual(await states(ids.archive), [true, true]);

    await portal.getByRole('combobox', { name: 'Account', exact: true }).selectOption(first.credentialId);
    await portal.locator('.account-name', { hasText: first.account.replace('acct-', 'Account ') }).waitFor();
    assert.equal(await archive.getAttribute('aria-checked'), 'true');
    await archive.click();
    await portal.getByText('Archive done tasks is off.').waitFor();
    assert.equal(await archive.getAttribute('aria-checked'), 'false');
    assert.deepEqual(await states(ids.archive), [false, true]);
  },
  { sdk: 'weft' },
);
