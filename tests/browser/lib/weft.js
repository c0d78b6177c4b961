// The real `weft` binary on a loopback port with a fresh data directory,
// and the admin calls that set a project up, as an operator would.
import { spawn } from 'node:child_process';
import { mkdtempSync, mkdirSync, writeFileSync, rmSync, createWriteStream } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';

/** The binary under test: set by `cargo xtask test`, or by hand. */
export function weftBinary() {
  const bin = process.env.WEFT_BIN;
  if (!bin) throw new Error('WEFT_BIN is not set: run `cargo xtask test`, or see tests/browser/README.md');
  return bin;
}

/**
 * Starts `weft serve` (or `args`) with `providers` (file name → definition
 * text) in its data directory. Resolves once it prints its address; the
 * server log goes to `logFile`, what it printed to `printed`.
 */
export async function startWeft({ providers = {}, logFile, env = {}, args = ['serve'] }) {
  const dataDir = mkdtempSync(join(tmpdir(), 'weft-browser-'));
  mkdirSync(join(dataDir, 'providers'));
  for (const [name, text] of Object.entries(providers)) writeFileSync(join(dataDir, 'providers', name), text);
  const child = spawn(weftBinary(), args, {
    env: {
      ...process.env,
      WEFT__DATA_DIR: dataDir,
      WEFT__SERVER__HOST: '127.0.0.1',
      WEFT__SERVER__PORT: '0',
      // The mock provider lives on loopback; nothing else may be reached.
      WEFT__EGRESS__ALLOW_LOOPBACK: 'true',
      WEFT__LOG__FORMAT: 'json',
      ...env,
    },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const log = createWriteStream(logFile);
  child.stderr.pipe(log);
  const lines = createInterface({ input: child.stdout });
  // Everything it printed, for what follows the address (`serve --demo`).
  const printed = [];
  lines.on('line', (line) => printed.push(line));
  const started = new Promise((resolve, reject) => {
    let operatorKey;
    const timer = setTimeout(() => reject(new Error('weft printed no address within 30 s')), 30_000);
    child.once('exit', (code) => reject(new Error(`weft exited with ${code} before serving; see ${logFile}`)));
    lines.on('line', (line) => {
      log.write(`[stdout] ${line}\n`);
      if (line.trim().startsWith('weft_op_')) operatorKey = line.trim();
      const at = line.match(/listening on (http:\/\/\S+)/);
      if (at) {
        clearTimeout(timer);
        resolve({ base: at[1], operatorKey });
      }
    });
  });
  const { base, operatorKey } = await started;
  if (!operatorKey) throw new Error('weft printed no operator key on its first start');
  const stop = async () => {
    if (child.exitCode === null) {
      const exited = new Promise((resolve) => child.once('exit', resolve));
      child.kill('SIGTERM');
      await exited;
    }
    log.end();
    rmSync(dataDir, { recursive: true, force: true });
  };
  return { base, operatorKey, stop, printed };
}

/** A JSON call to Weft; resolves to `{status, body}` and never throws on a status. */
export async function call(base, method, path, { bearer, body, headers = {} } = {}) {
  const resp = await fetch(`${base}${path}`, {
    method,
    headers: {
      ...(bearer ? { authorization: `Bearer ${bearer}` } : {}),
      ...(body === undefined ? {} : { 'content-type': 'application/json' }),
      ...headers,
    },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  const text = await resp.text();
  return { status: resp.status, body: text ? JSON.parse(text) : null };
}

/** `call` that insists on `expected` status and answers the body. */
export async function must(expected, base, method, path, options) {
  const { status, body } = await call(base, method, path, options);
  if (status !== expected) {
    throw new Error(`${method} ${path}: expected ${expected}, got ${status}: ${JSON.stringify(body)}`);
  }
  return body;
}

/**
 * A project set up through the admin API: the operator key creates it and
 * its first admin key, which adds a generated signing key (its private
 * half answered once) and the integrations.
 */
export async function createProject(weft, { name, integrations }) {
  const created = await must(201, weft.base, 'POST', '/admin/projects', {
    bearer: weft.operatorKey,
    body: { name, environment: 'development' },
  });
  const project = created.project.id;
  const adminKey = created.apiKey.key;
  const signing = await must(201, weft.base, 'POST', `/admin/projects/${project}/signing-keys`, {
    bearer: adminKey,
    body: { generate: true, kid: 'browser-suite' },
  });
  const ids = {};
  for (const integration of integrations) {
    const made = await must(201, weft.base, 'POST', `/admin/projects/${project}/integrations`, {
      bearer: adminKey,
      body: integration,
    });
    ids[integration.type] = made.id;
  }
  return { id: project, adminKey, signingKey: signing.privateKeyPem, kid: 'browser-suite', integrations: ids };
}
