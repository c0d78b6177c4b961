// An OAuth 2.0 provider on loopback (127.0.0.3), behind the `oauthlab`
// integration: an authorization page the user approves in the sign-in
// window, a token endpoint that checks the client, the redirect URI and the
// PKCE verifier, and a `/api/me` the connection test reads with the access
// token. Each approval is a new account of the provider; every request is
// recorded in `hits`. `settings.expiresIn` sets the life of the tokens it
// issues and `settings.refuseRefresh` answers refreshes `invalid_grant` (a
// grant the user revoked), to make an account INVALID.
import http from 'node:http';
import { createHash, randomBytes } from 'node:crypto';

export const CLIENT_ID = 'weft-browser-suite';
export const CLIENT_SECRET = 'oauthlab-client-secret';

const token = () => randomBytes(16).toString('hex');
const escape = (s) => String(s).replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);

function send(res, status, body, type = 'application/json') {
  res.writeHead(status, { 'content-type': type, 'cache-control': 'no-store' });
  res.end(type === 'application/json' ? JSON.stringify(body) : body);
}

/** The approval page: the request's parameters carried to `/oauth/approve`. */
function authorizePage(query) {
  const hidden = ['client_id', 'redirect_uri', 'state', 'code_challenge', 'code_challenge_method', 'scope']
    .map((k) => `<input type="hidden" name="${k}" value="${escape(query.get(k) ?? '')}">`)
    .join('');
  return `<!doctype html><html lang="en"><meta charset="utf-8"><title>OAuthLab: authorize</title>
<h1>Allow the app to use your OAuthLab account?</h1>
<form method="post" action="/oauth/approve">${hidden}
<button type="submit" name="decision" value="allow">Allow</button>
<button type="submit" name="decision" value="deny">Deny</button></form></html>`;
}

export async function startOAuthProvider() {
  const hits = [];
  const codes = new Map(); // code → {redirectUri, challenge, account}
  const tokens = new Map(); // access token → account
  const refreshTokens = new Map(); // refresh token → account
  const settings = { expiresIn: 3600, refuseRefresh: false };
  let accounts = 0;

  function authorize(url, res) {
    const q = url.searchParams;
    if (q.get('client_id') !== CLIENT_ID || q.get('response_type') !== 'code' || !q.get('redirect_uri')) {
      return send(res, 400, 'bad authorization request', 'text/plain');
    }
    return send(res, 200, authorizePage(q), 'text/html; charset=utf-8');
  }

  function approve(form, res) {
    const redirect = new URL(form.get('redirect_uri'));
    redirect.searchParams.set('state', form.get('state') ?? '');
    if (form.get('decision') !== 'allow') {
      redirect.searchParams.set('error', 'access_denied');
    } else {
      accounts += 1;
      const code = token();
      codes.set(code, {
        redirectUri: form.get('redirect_uri'),
        challenge: form.get('code_challenge'),
        account: { id: `oauth-acct-${accounts}`, name: `OAuth Account ${accounts}` },
      });
      redirect.searchParams.set('code', code);
    }
    res.writeHead(302, { location: redirect.href }).end();
  }

  function exchange(form, res) {
    if (form.get('client_id') !== CLIENT_ID || form.get('client_secret') !== CLIENT_SECRET) {
      return send(res, 401, { error: 'invalid_client' });
    }
    if (form.get('grant_type') === 'refresh_token') {
      const account = refreshTokens.get(form.get('refresh_token'));
      if (!account || settings.refuseRefresh) return send(res, 400, { error: 'invalid_grant' });
      return send(res, 200, issue(account));
    }
    if (form.get('grant_type') !== 'authorization_code') return send(res, 400, { error: 'unsupported_grant_type' });
    const grant = codes.get(form.get('code'));
    codes.delete(form.get('code'));
    if (!grant || grant.redirectUri !== form.get('redirect_uri')) return send(res, 400, { error: 'invalid_grant' });
    const verifier = form.get('code_verifier') ?? '';
    if (createHash('sha256').update(verifier).digest('base64url') !== grant.challenge) {
      return send(res, 400, { error: 'invalid_grant', error_description: 'PKCE verification failed' });
    }
    return send(res, 200, issue(grant.account));
  }

  function issue(account) {
    const access = token();
    const refresh = token();
    tokens.set(access, account);
    refreshTokens.set(refresh, account);
    return { access_token: access, refresh_token: refresh, token_type: 'Bearer', expires_in: settings.expiresIn };
  }

  const server = http.createServer((req, res) => {
    const chunks = [];
    req.on('data', (c) => chunks.push(c));
    req.on('end', () => {
      const body = Buffer.concat(chunks).toString('utf8');
      hits.push({ method: req.method, url: req.url, headers: req.headers, body });
      const url = new URL(req.url, 'http://oauthlab');
      const form = new URLSearchParams(body);
      if (req.method === 'GET' && url.pathname === '/oauth/authorize') return authorize(url, res);
      if (req.method === 'POST' && url.pathname === '/oauth/approve') return approve(form, res);
      if (req.method === 'POST' && url.pathname === '/oauth/token') return exchange(form, res);
      if (req.method === 'GET' && url.pathname === '/api/me') {
        const account = tokens.get((req.headers.authorization ?? '').replace(/^Bearer /, ''));
        return account ? send(res, 200, account) : send(res, 401, { error: 'invalid_token' });
      }
      if (url.pathname === '/favicon.ico') return res.writeHead(204).end();
      return send(res, 404, { error: 'not_found' });
    });
  });
  await new Promise((resolve) => server.listen(0, '127.0.0.3', resolve));
  const origin = `http://127.0.0.3:${server.address().port}`;
  return {
    origin,
    hits,
    settings,
    /** The provider definition file of `oauthlab`. */
    definition: (id = 'oauthlab', name = 'OAuthLab') => `
id: ${id}
name: ${name}
baseUrl: ${origin}/api
auth: { type: oauth2, authorizeUrl: ${origin}/oauth/authorize, tokenUrl: ${origin}/oauth/token, scopes: [read], clientAuth: post }
connectionTest: { path: /me, accountId: /id, accountName: /name }
`,
    close: () => new Promise((resolve) => server.close(resolve)),
  };
}
