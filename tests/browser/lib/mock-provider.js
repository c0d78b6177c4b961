// The third-party provider behind the `tasklab` integration, on loopback.
// Strict like a real API: every call needs a known `X-API-Key`, a body must
// be declared `application/json`; observable: every request is recorded.
import http from 'node:http';

/** Accounts by API key: the key a user connects with decides the account. */
const ACCOUNTS = new Map();

/** Registers an API key and the account it opens; returns the account id. */
export function issueKey(key) {
  const id = `acct-${ACCOUNTS.size + 1}`;
  ACCOUNTS.set(key, { id, name: `Account ${ACCOUNTS.size + 1}` });
  return id;
}

function send(res, status, body) {
  res.writeHead(status, { 'content-type': 'application/json' });
  res.end(JSON.stringify(body));
}

function route(req, body, account) {
  const url = new URL(req.url, 'http://provider');
  const path = url.pathname.replace(/^\/api/, '');
  if (req.method === 'GET' && path === '/me') return [200, { id: account.id, name: account.name }];
  if (req.method === 'GET' && path === '/whoami') return [200, { account: account.id, query: Object.fromEntries(url.searchParams) }];
  if (req.method === 'POST' && path === '/items') {
    const type = req.headers['content-type'] ?? '';
    if (!/^application\/json(;|$)/i.test(type)) return [415, { error: 'unsupported_media_type', got: type }];
    let item;
    try {
      item = JSON.parse(body);
    } catch {
      return [400, { error: 'invalid_json' }];
    }
    return [201, { id: 'item-1', owner: account.id, ...item }];
  }
  // The account's key was revoked on the provider's side.
  if (path === '/revoked') return [401, { error: 'token_revoked' }];
  return [404, { error: 'not_found', path }];
}

/** Starts the provider on 127.0.0.2 (loopback, apart from Weft's 127.0.0.1). */
export async function startProvider() {
  const hits = [];
  const server = http.createServer((req, res) => {
    const chunks = [];
    req.on('data', (c) => chunks.push(c));
    req.on('end', () => {
      const body = Buffer.concat(chunks).toString('utf8');
      hits.push({ method: req.method, url: req.url, headers: req.headers, body });
      const account = ACCOUNTS.get(req.headers['x-api-key']);
      if (!account) return send(res, 401, { error: 'invalid_api_key' });
      const [status, answer] = route(req, body, account);
      send(res, status, answer);
    });
  });
  await new Promise((resolve) => server.listen(0, '127.0.0.2', resolve));
  const { port } = server.address();
  return {
    base: `http://127.0.0.2:${port}/api`,
    hits,
    close: () => new Promise((resolve) => server.close(resolve)),
  };
}
