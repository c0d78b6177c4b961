// The app's origin: a static server on its own loopback port (so every
// call to Weft is cross-origin and CORS is real) serving the test page and
// the SDK's browser bundle straight from node_modules, and the page of an
// app that loads Weft's own SDK from Weft.
import http from 'node:http';
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const here = dirname(fileURLToPath(import.meta.url));
const require = createRequire(import.meta.url);

/** The bundle `import { paragon } from '@useparagon/connect'` resolves to. */
export const SDK_BUNDLE = require.resolve('@useparagon/connect');

const FILES = {
  '/': [join(here, '..', 'page', 'index.html'), 'text/html; charset=utf-8'],
  '/app.js': [join(here, '..', 'page', 'app.js'), 'text/javascript; charset=utf-8'],
  '/vendor/connect.js': [SDK_BUNDLE, 'text/javascript; charset=utf-8'],
  // An app built on Weft's own SDK (loaded from Weft, not from here).
  '/weft.html': [join(here, '..', 'page', 'weft.html'), 'text/html; charset=utf-8'],
  '/weft-app.js': [join(here, '..', 'page', 'weft-app.js'), 'text/javascript; charset=utf-8'],
  // An integration icon on the app's origin (the portal shows icons from anywhere).
  '/icon.svg': [join(here, '..', 'page', 'icon.svg'), 'image/svg+xml'],
};

export async function startPageServer() {
  const server = http.createServer((req, res) => {
    const path = new URL(req.url, 'http://page').pathname;
    if (path === '/favicon.ico') {
      res.writeHead(204).end();
      return;
    }
    const file = FILES[path];
    if (!file || req.method !== 'GET') {
      res.writeHead(404).end();
      return;
    }
    res.writeHead(200, { 'content-type': file[1], 'cache-control': 'no-store' });
    res.end(readFileSync(file[0]));
  });
  await new Promise((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    origin: `http://127.0.0.1:${server.address().port}`,
    close: () => new Promise((resolve) => server.close(resolve)),
  };
}
