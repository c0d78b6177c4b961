// Driving Weft's Connect Portal from a case: the app's button calls
// `paragon.connect` with callbacks that record what the app hears, and the
// portal is then reached as a frame of the app's page.
import { createRequire } from 'node:module';

const AXE = createRequire(import.meta.url).resolve('axe-core/axe.min.js');

/**
 * Clicks the app's button that opens the portal for `type`. The options are
 * `window.connectOptions` (set by the case in the page, as functions may be
 * among them) plus callbacks recording into `window.portalCalls`; with
 * `keyboard`, the button is focused and Enter pressed. Answers the
 * portal's FrameLocator once the portal is shown.
 */
export async function showPortal(page, type, { keyboard = false } = {}) {
  await page.evaluate((type) => {
    window.portalCalls = window.portalCalls || [];
    const record = (name) => (event) => window.portalCalls.push({ name, event });
    document.getElementById('open').onclick = () =>
      window.paragon.connect(type, {
        onOpen: record('onOpen'),
        onClose: record('onClose'),
        onInstall: record('onInstall'),
        onSuccess: record('onSuccess'),
        onUninstall: record('onUninstall'),
        onWorkflowChange: record('onWorkflowChange'),
        onError: (e) => window.portalCalls.push({ name: 'onError', event: { message: e.message } }),
        ...(window.connectOptions || {}),
      });
  }, type);
  const opens = await page.evaluate(() => window.portalCalls.filter((c) => c.name === 'onOpen').length);
  if (keyboard) {
    await page.focus('#open');
    await page.keyboard.press('Enter');
  } else {
    await page.click('#open');
  }
  await page.waitForFunction((n) => window.portalCalls.filter((c) => c.name === 'onOpen').length > n, opens);
  return page.frameLocator('iframe[title$="Connect Portal"]');
}

/** The callbacks the app heard, as `[name, event]`. */
export const portalCalls = (page) => page.evaluate(() => window.portalCalls.map((c) => [c.name, c.event]));

/** The portal's Frame (for evaluating in it), once it is attached. */
export async function portalFrame(page) {
  for (;;) {
    const frame = page.frames().find((f) => /\/portal\/$/.test(f.url()));
    if (frame) return frame;
    await page.waitForEvent('frameattached');
  }
}

/** What has focus, described: in the portal (`portal: <text>`) or in the app. */
export async function focused(page) {
  const inApp = await page.evaluate(() => {
    const el = document.activeElement;
    return el && el.tagName === 'IFRAME' ? null : `app: ${el?.id || el?.tagName}`;
  });
  if (inApp) return inApp;
  const frame = await portalFrame(page);
  return frame.evaluate(() => {
    const el = document.activeElement;
    const name = el.getAttribute('aria-label') || el.labels?.[0]?.textContent || el.textContent || el.id;
    return `portal: ${el.tagName.toLowerCase()}${el.getAttribute('role') ? `[${el.getAttribute('role')}]` : ''} ${name.trim().replace(/\s+/g, ' ')}`;
  });
}

/** The user's accounts as Weft lists them. */
export async function accountsInWeft(world, user) {
  const listed = await world.api('GET', world.sdkPath('/credentials'), { bearer: user.token });
  if (listed.status !== 200) throw new Error(`GET /sdk/credentials: ${listed.status}`);
  return listed.body;
}

/**
 * The axe-core violations of the portal's document (WCAG 2.x A and AA and
 * best practices). `axe` must be in the frame: `installAxe` before it opens.
 */
export async function axeViolations(page) {
  const frame = await portalFrame(page);
  return frame.evaluate(async () => {
    const result = await window.axe.run(document, {
      runOnly: { type: 'tag', values: ['wcag2a', 'wcag2aa', 'wcag21a', 'wcag21aa', 'wcag22aa', 'best-practice'] },
    });
    return result.violations.map((v) => ({ id: v.id, impact: v.impact, help: v.help, nodes: v.nodes.map((n) => n.target.join(' ')) }));
  });
}

/**
 * Loads axe-core into every frame the page opens from now on (an init
 * script: not subject to the portal's Content-Security-Policy, which
 * refuses inline scripts).
 */
export async function installAxe(page) {
  await page.context().addInitScript({ path: AXE });
}

/** An integration-level User Setting of every kind, as the portal cases configure them. */
export const EVERY_SETTING = [
  { id: 'channel', title: 'Channel', type: 'text', required: true, tooltip: 'Where updates are posted' },
  { id: 'limit', title: 'Daily limit', type: 'number' },
  { id: 'notify', title: 'Notify me', type: 'boolean' },
  { id: 'secret', title: 'Webhook secret', type: 'password' },
  { id: 'stage', title: 'Stage', type: 'dropdown', options: [{ label: 'Open', value: 'open' }, { label: 'Won', value: 'won' }] },
  { id: 'team', title: 'Team', type: 'customDropdown', key: 'team' },
  { id: 'folder', title: 'Folder', type: 'customDropdown', key: 'folders' },
  {
    id: 'taskMapping',
    title: 'Map tasks to',
    type: 'fieldMapping',
    objectName: 'Task',
    integrationObjects: [
      { label: 'Ticket', value: 'ticket', fields: [{ label: 'Subject', value: 'subject' }, { label: 'Body', value: 'body' }] },
      { label: 'Issue', value: 'issue', fields: [{ label: 'Summary', value: 'summary' }] },
    ],
  },
];
