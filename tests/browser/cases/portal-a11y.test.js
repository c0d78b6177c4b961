// The portal by keyboard alone (focus moves in, stays in, shows, comes back
// to the app), and axe-core's check of its states in the light and dark
// themes: no serious or critical violation. The harness fails a case on any
// console error of the app, the portal or a sign-in window.
import assert from 'node:assert/strict';
import { suite, sdkCase } from '../lib/suite.js';
import { signIn } from '../lib/page-calls.js';
import { issueKey } from '../lib/mock-provider.js';
import { axeViolations, EVERY_SETTING, focused, installAxe, portalFrame, showPortal } from '../lib/portal.js';

/** The file's arrangement, once the world runs. */
async function setup(world) {
  const admin = { bearer: world.project.adminKey };
  const integrations = `/admin/projects/${world.project.id}/integrations`;
  const overview = '## What it does\n\n- Syncs **tasks**\n- [Read more](https://example.com/docs)';
  for (const [type, theme] of [['tasklab', 'light'], ['notelab', 'dark']]) {
    const body = { portal: { description: `${type} for your team`, overview, theme, settings: EVERY_SETTING } };
    const changed = await world.api('PATCH', `${integrations}/${world.project.integrations[type]}`, { ...admin, body });
    assert.equal(changed.status, 200, JSON.stringify(changed.body));
    await world.deployWorkflow({
      name: `Sync ${type}`,
      description: 'Copies each new task',
      integration: type,
      portal: { defaultEnabled: true, settings: [{ id: 'list', title: 'List', type: 'text' }] },
      trigger: { type: 'appEvent', event: 'Task Created' },
      steps: [{ id: 'wait', type: 'delay', value: 1, unit: 'SECONDS' }],
    });
  }
}

const world = suite('portal accessibility', { setup });



/** Fails on serious or critical violations, naming every violation found. */
async function assertAccessible(page, state) {
  const violations = await axeViolations(page);
  const grave = violations.filter((v) => v.impact === 'serious' || v.impact === 'critical');
  assert.deepEqual(grave, [], `${state}: ${JSON.stringify(violations, null, 2)}`);
}

const folderOptions = (sdk) =>
  sdk(() => {
    window.connectOptions = {
      dropdowns: {
        team: [{ label: 'Blue', value: 'blue' }],
        folders: { loadOptions: async () => ({ options: [{ label: 'Inbox', value: 'inbox' }], nextPageCursor: null }) },
      },
      mapObjectFields: { Task: [{ label: 'Title', value: 'title' }] },
    };
  });

sdkCase(
  world,
  'by keyboard alone: focus moves into the portal, stays there, is visible, and returns to the app',
  async ({ world, sdk, page }) => {
    const user = world.newUser();
    await signIn(sdk, world, user);
    await showPortal(page, 'tasklab', { keyboard: true });
    assert.equal(await focused(page), 'portal: button Connect');
    const frame = await portalFrame(page);
    const outline = () => frame.evaluate(() => getComputedStyle(document.activeElement).outlineStyle);
    assert.notEqual(await outline(), 'none', 'the focused control shows it');

    // Tab goes round the dialog and never back to the app.
    const round = [];
    for (let i = 0; i < 12 && round.at(-1) !== 'portal: button Connect'; i += 1) {
      await page.keyboard.press('Tab');
      round.push(await focused(page));
    }
    assert.equal(round.at(-1), 'portal: button Connect', `Tab comes back round: ${round.join(' | ')}`);
    assert.ok(round.every((f) => f.startsWith('portal: ')), round.join(' | '));
    assert.equal(round[0], 'portal: button[tab] Overview');
    for (const stop of ['portal: a Read more', 'portal: button Close']) assert.ok(round.includes(stop), `${stop} in ${round.join(' | ')}`);
    assert.ok(!round.includes('portal: button[tab] Configuration'), 'the tab list is one stop');
    await page.keyboard.press('Shift+Tab');
    assert.equal(await focused(page), round.at(-2));
    await page.keyboard.press('Tab');

    // Arrow keys move between the tabs.
    await page.keyboard.press('Tab');
    assert.equal(await focused(page), 'portal: button[tab] Overview');
    await page.keyboard.press('ArrowRight');
    assert.equal(await focused(page), 'portal: button[tab] Configuration');
    assert.equal(await frame.evaluate(() => document.getElementById('tab-configuration').getAttribute('aria-selected')), 'true');
    await page.keyboard.press('ArrowLeft');
    assert.equal(await focused(page), 'portal: button[tab] Overview');

    // Connect with the keyboard: Enter on Connect, type the key, Enter.
    await page.keyboard.press('Shift+Tab');
    assert.equal(await focused(page), 'portal: button Connect');
    await page.keyboard.press('Enter');
    await frame.waitForSelector('.connect-form input');
    assert.equal(await focused(page), 'portal: input API key (required)');
    const key = `key-${user.userId}-keyboard`;
    issueKey(key);
    await page.keyboard.type(key);
    await page.keyboard.press('Enter');
    await frame.waitForSelector('.badge.ok');
    assert.equal(await focused(page), 'portal: button[tab] Configuration');

    await page.keyboard.press('Escape');
    await page.waitForFunction(() => !document.querySelector('iframe'));
    assert.equal(await focused(page), 'app: open');
  },
  { sdk: 'weft' },
);

sdkCase(
  world,
  'axe-core finds no serious violation in any state of the portal, light or dark',
  async ({ world, sdk, page }) => {
    await installAxe(page);
    const user = world.newUser();
    await signIn(sdk, world, user);
    await folderOptions(sdk);

    // Not connected: the overview.
    let portal = await showPortal(page, 'tasklab');
    await portal.getByRole('heading', { name: 'What it does' }).waitFor();
    await assertAccessible(page, 'overview, not connected');

    // The connect form, with a refused key.
    await portal.getByRole('button', { name: 'Connect' }).click();
    await portal.getByLabel('API key').fill('refused');
    await portal.getByRole('button', { name: 'Connect', exact: true }).click();
    await portal.locator('#connect-error').waitFor();
    await assertAccessible(page, 'connect form with an error');

    // Connected: every kind of setting, a required one missing, and a workflow.
    const key = `key-${user.userId}-axe`;
    issueKey(key);
    await portal.getByLabel('API key').fill(key);
    await portal.getByRole('button', { name: 'Connect', exact: true }).click();
    await portal.getByRole('button', { name: 'Save settings' }).click();
    await portal.getByText('Channel is required.').waitFor();
    await portal.getByLabel('TaskLab object').selectOption({ label: 'Ticket' });
    await portal.getByRole('combobox', { name: 'Folder' }).focus();
    await page.keyboard.press('ArrowDown');
    await portal.getByRole('listbox', { name: 'Folder options' }).waitFor();
    await assertAccessible(page, 'configuration, light');

    // Several accounts, and the dark theme.
    await page.keyboard.press('Escape');
    await page.keyboard.press('Escape');
    await page.waitForFunction(() => !document.querySelector('iframe'));
    for (const suffix of ['one', 'two']) {
      const noteKey = `key-${user.userId}-note-${suffix}`;
      issueKey(noteKey);
      await world.api('POST', world.sdkPath('/connect/notelab/credentials'), {
        bearer: user.token,
        body: { fields: { api_key: noteKey }, allowMultipleCredentials: true },
      });
    }
    await signIn(sdk, world, user);
    portal = await showPortal(page, 'notelab');
    await portal.getByRole('combobox', { name: 'Account', exact: true }).waitFor();
    assert.equal(await (await portalFrame(page)).evaluate(() => document.documentElement.dataset.theme), 'dark');
    await portal.getByRole('button', { name: 'Disconnect' }).click();
    await assertAccessible(page, 'configuration, dark, two accounts, disconnect asked');
    await portal.getByRole('tab', { name: 'Overview' }).click();
    await assertAccessible(page, 'overview, dark');
  },
  { sdk: 'weft', allowConsoleErrors: [/status of 400 \(Bad Request\)/] },
);
