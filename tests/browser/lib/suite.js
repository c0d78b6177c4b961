// One test file's world: a fresh `weft` with a project, the mock provider,
// the app's page server and headless Chromium; and `sdkCase`, which runs a
// case in a fresh browser context on the configured page, fails it on any
// uncaught page error or unexpected console error, and saves a screenshot,
// the console and the requests of a failed case under artifacts/.
import { test, before, after } from 'node:test';
import { mkdirSync, rmSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { chromium } from 'playwright-core';
import { startWeft, createProject, call, must } from './weft.js';
import { startProvider, issueKey } from './mock-provider.js';
import { startOAuthProvider } from './mock-oauth.js';
import { startPageServer } from './page-server.js';
import { mintToken } from './tokens.js';

const ARTIFACTS = join(dirname(fileURLToPath(import.meta.url)), '..', 'artifacts');
const CHROMIUM = process.env.CHROMIUM ?? '/usr/bin/chromium';

/** A definition-file provider (no plugin): API key in a header, a connection test. */
const providerDefinition = (id, name, base) => `
id: ${id}
name: ${name}
baseUrl: ${base}
auth: { type: api-key, location: header, name: X-API-Key }
connectionTest: { path: /me, accountId: /id, accountName: /name }
`;

/**
 * Registers the file's `before` and `after` hooks and answers the world
 * they build (filled in once `before` ran). `settings(world)` may answer
 * extra `WEFT__...` settings, once the page server (`world.pages`) runs;
 * `integrations(world)` more integrations for the project (the OAuth
 * provider `oauthlab` is defined, at `world.oauth`, for any that wants it);
 * `setup(world)` arranges more once all that runs (a file's own `before`
 * would not wait for this one: top-level hooks do not wait for each other).
 */
export function suite(name, { settings = () => ({}), integrations = () => [], setup = async () => {} } = {}) {
  const world = { name, users: 0 };
  const slug = name.replace(/[^a-z0-9]+/gi, '-').toLowerCase();
  mkdirSync(ARTIFACTS, { recursive: true });
  before(async () => {
    world.provider = await startProvider();
    world.oauth = await startOAuthProvider();
    world.pages = await startPageServer();
    world.weft = await startWeft({
      env: settings(world),
      logFile: join(ARTIFACTS, `${slug}.weft.log`),
      providers: {
        'tasklab.yaml': providerDefinition('tasklab', 'TaskLab', world.provider.base),
        'notelab.yaml': providerDefinition('notelab', 'NoteLab', world.provider.base),
        'draftlab.yaml': providerDefinition('draftlab', 'DraftLab', world.provider.base),
        // Its base URL's path is a connection setting the user enters (`api`).
        'worklab.yaml': `${providerDefinition('worklab', 'WorkLab', world.provider.base.replace(/\/api$/, '/{config.workspace}'))}
connectionConfigSchema:
  type: object
  required: [workspace]
  properties: { workspace: { type: string, title: Workspace, description: "The path of your WorkLab workspace" } }
`,
        'oauthlab.yaml': world.oauth.definition(),
      },
    });
    world.project = await createProject(world.weft, {
      name: `browser ${name}`,
      integrations: [
        { type: 'tasklab', active: true, accentColor: '#0B6E4F' },
        { type: 'notelab', active: true },
        // Not active: users can't connect it, and the SDK must not list it.
        { type: 'draftlab', active: false },
        ...integrations(world),
      ],
    });
    world.browser = await chromium.launch({
      executablePath: CHROMIUM,
      headless: true,
      // Nothing leaves loopback: every other host goes to a proxy that
      // refuses (Chromium never proxies loopback). The SDK's built-in
      // defaults point at the reference's hosted services, which a test
      // must never reach. Not request interception: Playwright answers
      // the preflights of routed requests itself, and CORS must be Weft's.
      // One renderer process for all sites: the reference SDK's frame starts
      // at its hosted `/ui` (another site, so another process) and
      // `configureGlobal` moves it to Weft's (the app's site); Playwright
      // often loses a frame that changes process like that, and the cases
      // need to reach Weft's portal inside it. Origins stay apart as ever.
      args: ['--proxy-server=http://127.0.0.1:9', '--disable-site-isolation-trials', '--disable-features=IsolateOrigins,site-per-process'],
    });
    await setup(world);
  });
  after(async () => {
    await world.browser?.close();
    await world.pages?.close();
    await world.weft?.stop();
    await world.provider?.close();
    await world.oauth?.close();
  });

  /** A new user of the project: its id and a token valid for an hour. */
  world.newUser = (label = 'user') => {
    world.users += 1;
    const userId = `${slug}-${label}-${world.users}`;
    return { userId, token: world.token(userId) };
  };
  /** A token for `sub` signed with the project's key (options: iat, ttl). */
  world.token = (sub, options = {}) =>
    mintToken(world.project.signingKey, { sub, kid: world.project.kid, ...options });
  /** Weft's own JSON API, for arranging and checking outside the browser. */
  world.api = (method, path, options) => call(world.weft.base, method, path, options);
  world.sdkPath = (rest) => `/projects/${world.project.id}/sdk${rest}`;
  /**
   * Connects a new tasklab account for `user` the way the SDK's connect
   * flow ends (input fields to Weft); answers the credential id and the
   * provider's account id.
   */
  world.connectAccount = async (user, integration = 'tasklab') => {
    const key = `key-${user.userId}-${Math.random().toString(36).slice(2, 8)}`;
    const account = issueKey(key);
    const credential = await must(201, world.weft.base, 'POST', world.sdkPath(`/connect/${integration}/credentials`), {
      bearer: user.token,
      body: { fields: { api_key: key }, allowMultipleCredentials: true },
    });
    return { credentialId: credential.id, account, key };
  };
  /** Creates and deploys a workflow (its JSON definition) with the admin key; answers its id. */
  world.deployWorkflow = async (definition) => {
    const admin = { bearer: world.project.adminKey };
    const workflows = `/admin/projects/${world.project.id}/workflows`;
    const created = await must(201, world.weft.base, 'POST', workflows, { ...admin, body: definition });
    await must(200, world.weft.base, 'POST', `${workflows}/${created.id}/deploy`, admin);
    return created.id;
  };
  /** The Task History's executions of a workflow (the admin key reads them). */
  world.executions = async (workflowId) => {
    const path = `/projects/${world.project.id}/task-history/workflow-executions?workflowId=${workflowId}`;
    const listed = await must(200, world.weft.base, 'GET', path, { bearer: world.project.adminKey });
    return listed.workflowExecutions;
  };
  return world;
}

/** The app page of each SDK a case may run: the reference's, or Weft's own. */
function appUrl(origin, weft, sdk, configured) {
  const at = encodeURIComponent(weft);
  if (sdk === 'weft') return `${origin}/weft.html?weft=${at}`;
  if (sdk === 'weft-module') return `${origin}/weft.html?weft=${at}&module=1`;
  return configured ? `${origin}/?weft=${at}` : origin;
}

/**
 * A test on the app's page, configured for Weft (`configured: false`: the
 * SDK as loaded, pointing at the hosted service). `fn` gets `{page, world,
 * requests, failed, sdk}`: `sdk(fn, arg)` evaluates in the page, `failed`
 * lists the requests that got no answer (such as those refused for
 * leaving loopback). `allowConsoleErrors` lists patterns of console errors
 * the case provokes (the browser's own line for a 401, say). `pages` answers
 * another page server to load the app from (another origin). `sdk` picks
 * the SDK: `reference` (the npm bundle, the default), `weft` (Weft's own
 * `/sdk/connect.js`, loaded from Weft) or `weft-module` (`/sdk/connect.mjs`).
 * Console lines and errors of the portal frame and of sign-in windows count
 * as the page's.
 */
export function sdkCase(world, title, fn, { allowConsoleErrors = [], configured = true, pages, sdk: flavour = 'reference' } = {}) {
  test(title, async () => {
    const context = await world.browser.newContext();
    const page = await context.newPage();
    const consoleLines = [];
    const pageErrors = [];
    const requests = [];
    const failed = [];
    // Every page of the context: the app (with its frames) and sign-in windows.
    const watch = (p) => {
      p.on('console', (msg) => consoleLines.push({ type: msg.type(), text: msg.text(), at: msg.location()?.url }));
      p.on('pageerror', (err) => pageErrors.push(err));
      p.on('request', (req) => requests.push({ method: req.method(), url: req.url(), headers: req.headers() }));
      p.on('requestfailed', (req) => failed.push({ url: req.url(), error: req.failure()?.errorText }));
    };
    watch(page);
    context.on('page', (p) => p !== page && watch(p));
    // `pages`: another app origin, e.g. one Weft does not list.
    const origin = (pages?.() ?? world.pages).origin;
    const url = appUrl(origin, world.weft.base, flavour, configured);
    const slug = title.replace(/[^a-z0-9]+/gi, '-').toLowerCase().slice(0, 80);
    const dir = join(ARTIFACTS, slug);
    // A passing run leaves nothing from an earlier failure behind.
    rmSync(dir, { recursive: true, force: true });
    try {
      await page.goto(url);
      await page.waitForFunction(() => window.paragon !== undefined);
      if (flavour !== 'reference' && !(await page.evaluate(() => window.paragon?.isWeft === true))) {
        throw new Error(`Weft's SDK did not load: ${await page.textContent('#status')}`);
      }
      const sdk = (expression, arg) => page.evaluate(expression, arg);
      await fn({ page, world, requests, failed, sdk });
      const expected = (l) => allowConsoleErrors.some((pattern) => pattern.test(l.text));
      const unexpected = consoleLines.filter((l) => l.type === 'error' && !expected(l));
      if (pageErrors.length || unexpected.length) {
        const lines = [
          ...pageErrors.map((e) => `uncaught: ${e.stack ?? e}`),
          ...unexpected.map((l) => `console.error: ${l.text}`),
        ];
        throw new Error(`the page logged errors:\n${lines.join('\n')}`);
      }
    } catch (err) {
      mkdirSync(dir, { recursive: true });
      await page.screenshot({ path: join(dir, 'screenshot.png'), fullPage: true }).catch(() => {});
      const lines = consoleLines.map((l) => `[${l.type}] ${l.text}${l.at ? `  (${l.at})` : ''}`);
      lines.push(...pageErrors.map((e) => `[pageerror] ${e.stack ?? e}`));
      writeFileSync(join(dir, 'console.log'), `${lines.join('\n')}\n`);
      writeFileSync(join(dir, 'requests.json'), JSON.stringify({ requests, failed }, null, 2));
      err.message += `\n(screenshot, console and requests in ${dir}; server log in ${ARTIFACTS})`;
      throw err;
    } finally {
      await context.close();
    }
  });
}
