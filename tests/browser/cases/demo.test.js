// The offline demo, as a newcomer meets it: `weft serve --demo` (what
// `cargo xtask run` starts) prints the demo catalog's address; in the page,
// Demo CRM is connected through the Connect Portal (a wrong key refused
// inline first), its owner setting saved, its default-enabled workflow run
// by a contact created in the app, the run seen in the task history and the
// contact read back through the Proxy API. Loopback egress stays off but for
// the demo's own host. With WEFT_README_SHOTS=1 it also writes the README's
// screenshots (docs/images/).
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync, rmSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { chromium } from 'playwright-core';
import { startWeft } from '../lib/weft.js';
import { installAxe } from '../lib/portal.js';

const HERE = dirname(fileURLToPath(import.meta.url));
const ARTIFACTS = join(HERE, '..', 'artifacts');
const IMAGES = join(HERE, '..', '..', '..', 'docs', 'images');
const SHOTS = process.env.WEFT_README_SHOTS === '1';

let weft;
let browser;

before(async () => {
  mkdirSync(ARTIFACTS, { recursive: true });
  weft = await startWeft({
    args: ['serve', '--demo'],
    env: { WEFT__EGRESS__ALLOW_LOOPBACK: 'false' },
    logFile: join(ARTIFACTS, 'demo.weft.log'),
  });
  browser = await chromium.launch({ executablePath: process.env.CHROMIUM ?? '/usr/bin/chromium', headless: true });
});

after(async () => {
  await browser?.close();
  await weft?.stop();
});

/** The demo address `weft serve --demo` printed after its own. */
async function demoAddress() {
  for (let i = 0; i < 100; i += 1) {
    const line = weft.printed.find((l) => l.includes('/demo/?project='));
    if (line) return line.trim();
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
  throw new Error(`no demo address in ${JSON.stringify(weft.printed)}`);
}

/** axe-core's serious and critical violations of the page's own document. */
async function seriousViolations(page) {
  const violations = await page.evaluate(async () => {
    const result = await window.axe.run(document, { runOnly: { type: 'tag', values: ['wcag2a', 'wcag2aa', 'wcag21aa'] } });
    return result.violations.map((v) => ({ id: v.id, impact: v.impact, nodes: v.nodes.map((n) => n.target.join(' ')) }));
  });
  return violations.filter((v) => v.impact === 'serious' || v.impact === 'critical');
}

test('the offline demo: connect Demo CRM in the portal, run its workflow, see the run and the contact', async () => {
  const url = await demoAddress();
  assert.match(url, /^http:\/\/127\.0\.0\.1:\d+\/demo\/\?project=[0-9a-f-]{36}#token=ey/);
  const context = await browser.newContext({ viewport: { width: 1100, height: 800 } });
  const page = await context.newPage();
  const errors = [];
  page.on('console', (msg) => msg.type() === 'error' && errors.push(`${msg.text()} at ${msg.location()?.url}`));
  page.on('pageerror', (err) => errors.push(`uncaught: ${err.stack ?? err}`));
  await installAxe(page);
  const dir = join(ARTIFACTS, 'offline-demo');
  rmSync(dir, { recursive: true, force: true });
  try {
    await page.goto(url);
    await page.getByText('Signed in as the demo user.', { exact: true }).waitFor();
    const card = page.locator('[data-integration="custom.demo-crm"]');
    await card.getByText('Not connected').waitFor();
    assert.equal(await page.getByRole('button', { name: 'Create contact' }).isDisabled(), true, 'not before connecting');
    assert.deepEqual(await seriousViolations(page), []);

    await card.getByRole('button', { name: 'Connect Demo CRM' }).click();
    const portal = page.frameLocator('iframe[title$="Connect Portal"]');
    await portal.getByRole('heading', { level: 1, name: 'Demo CRM' }).waitFor();
    await portal.getByText('a pretend CRM that lives inside this Weft server', { exact: false }).waitFor();
    if (SHOTS) {
      mkdirSync(IMAGES, { recursive: true });
      await page.screenshot({ path: join(IMAGES, 'portal.png') });
    }
    await portal.getByRole('button', { name: 'Connect' }).click();
    const key = portal.getByLabel(/API key/i);
    await key.fill('not-the-demo-key');
    await portal.getByRole('button', { name: 'Connect', exact: true }).click();
    await portal.locator('#connect-error').waitFor();
    assert.equal(await key.getAttribute('aria-invalid'), 'true');
    await key.fill('demo-key');
    await portal.getByRole('button', { name: 'Connect', exact: true }).click();
    await portal.getByText('Connected', { exact: true }).waitFor();

    // Its settings, and its workflow on by default.
    await portal.getByLabel('Contact owner').fill('Grace');
    await portal.getByLabel('Region').selectOption({ label: 'Europe' });
    await portal.getByRole('button', { name: 'Save settings' }).click();
    await portal.getByText('Settings saved.').waitFor();
    const workflow = portal.getByRole('switch', { name: 'Add new contacts to Demo CRM' });
    assert.equal(await workflow.getAttribute('aria-checked'), 'true', 'enabled by default');
    await page.keyboard.press('Escape');
    await page.locator('iframe[title$="Connect Portal"]').waitFor({ state: 'detached' });

    await card.getByText('Connected', { exact: true }).waitFor();
    await page.getByText('Demo CRM is connected', { exact: false }).waitFor();
    await page.getByRole('button', { name: 'Create contact' }).click();
    await page.getByText('Sent "Contact Created" for Ada Lovelace', { exact: false }).waitFor();
    const run = page.locator('#history tbody tr').first();
    await run.locator('td.SUCCEEDED').waitFor({ timeout: 20_000 });
    assert.equal(await run.locator('td').first().textContent(), 'Add new contacts to Demo CRM');
    assert.match(await run.locator('td').nth(3).textContent(), /addContact: SUCCEEDED/);

    await page.getByRole('button', { name: 'Load contacts through the Proxy API' }).click();
    await page.locator('#contacts li', { hasText: 'Ada Lovelace <ada@example.com>, owned by Grace' }).waitFor();
    assert.deepEqual(await seriousViolations(page), []);
    if (SHOTS) await page.screenshot({ path: join(IMAGES, 'demo-catalog.png'), fullPage: true });
    // The browser's own line for the refused key is the one console error.
    const refusedKey = /status of 400 \(Bad Request\) at .*\/sdk\/connect\/custom\.demo-crm\/credentials$/;
    assert.deepEqual(errors.filter((e) => !refusedKey.test(e)), [], 'no other console errors');
    assert.equal(errors.length, 1, JSON.stringify(errors));
  } catch (err) {
    mkdirSync(dir, { recursive: true });
    await page.screenshot({ path: join(dir, 'screenshot.png'), fullPage: true }).catch(() => {});
    writeFileSync(join(dir, 'console.log'), errors.join('\n'));
    throw err;
  } finally {
    await context.close();
  }
});
