// request: the Proxy API from the page. Weft adds the account's key, the
// provider answers, the SDK unwraps `{"output": ...}`.
import assert from 'node:assert/strict';
import { suite, sdkCase } from '../lib/suite.js';
import { invoke, signIn } from '../lib/page-calls.js';

const world = suite('request');

/** The provider's recorded requests with `key` since `from`. */
const hitsOf = (world, key, from = 0) => world.provider.hits.slice(from).filter((h) => h.headers['x-api-key'] === key);

sdkCase(world, 'request sends the call as the user and resolves to the provider answer', async ({ world, sdk }) => {
  const user = world.newUser();
  const { key, account } = await world.connectAccount(user);
  await signIn(sdk, world, user);
  const from = world.provider.hits.length;

  const created = await invoke(sdk, 'request', 'tasklab', '/items', { method: 'POST', body: { title: 'Ship it', done: false } });
  assert.deepEqual(created, { value: { id: 'item-1', owner: account, title: 'Ship it', done: false } });
  const read = await invoke(sdk, 'request', 'tasklab', 'whoami?page=2', { method: 'GET' });
  assert.deepEqual(read, { value: { account, query: { page: '2' } } });

  const [post, get] = hitsOf(world, key, from);
  assert.equal(post.method, 'POST');
  assert.equal(post.url, '/api/items');
  // The SDK sends `Content-Type: auto`; the provider gets JSON.
  assert.equal(post.headers['content-type'], 'application/json');
  assert.deepEqual(JSON.parse(post.body), { title: 'Ship it', done: false });
  for (const hit of [post, get]) {
    assert.equal(hit.headers.authorization, undefined, 'the user token stays with Weft');
    assert.equal(hit.headers['x-paragon-sdk-version'], undefined);
    assert.equal(hit.headers.origin, undefined, 'browser context stays with Weft');
  }
  assert.equal(get.url, '/api/whoami?page=2');
});

sdkCase(
  world,
  'request rejects with the provider error status answer',
  async ({ world, sdk, requests }) => {
    const user = world.newUser();
    await world.connectAccount(user);
    await signIn(sdk, world, user);
    const outcome = await invoke(sdk, 'request', 'tasklab', '/nowhere', { method: 'GET' });
    assert.ok(outcome.error, JSON.stringify(outcome));
    // The SDK's ProxyRequestError: Weft's answer as its message and response.
    assert.deepEqual(outcome.error.response, { output: { error: 'not_found', path: '/nowhere' } });
    assert.deepEqual(JSON.parse(outcome.error.message), outcome.error.response);
    // Still signed in: a provider's 404 is not the user's.
    assert.equal(await sdk(() => window.paragon.getUser().authenticated), true);

    // A provider 401 makes the SDK re-read the user from Weft (the account
    // may have been disconnected), then reject with the provider's answer.
    const reads = () => requests.filter((r) => r.method === 'GET' && r.url.endsWith('/sdk/me')).length;
    const before = reads();
    const refused = await invoke(sdk, 'request', 'tasklab', '/revoked', { method: 'GET' });
    assert.deepEqual(refused.error?.response, { output: { error: 'token_revoked' } }, JSON.stringify(refused));
    assert.equal(reads(), before + 1);
    assert.equal(await sdk(() => window.paragon.getUser().authenticated), true);
  },
  { allowConsoleErrors: [/status of 404 \(Not Found\)/, /status of 401 \(Unauthorized\)/] },
);

sdkCase(world, 'request with selectedCredentialId uses that account of two', async ({ world, sdk }) => {
  const user = world.newUser();
  const first = await world.connectAccount(user);
  const second = await world.connectAccount(user);
  await signIn(sdk, world, user);
  const accounts = await sdk(() => window.paragon.getUser().integrations.tasklab.allCredentials.map((c) => c.id));
  assert.deepEqual(accounts.sort(), [first.credentialId, second.credentialId].sort());

  const chosen = await invoke(sdk, 'request', 'tasklab', '/whoami', { selectedCredentialId: second.credentialId });
  assert.deepEqual(chosen, { value: { account: second.account, query: {} } });
  const other = await invoke(sdk, 'request', 'tasklab', '/whoami', { selectedCredentialId: first.credentialId });
  assert.deepEqual(other, { value: { account: first.account, query: {} } });
  // Without a choice Weft uses the user's first valid account.
  const plain = await invoke(sdk, 'request', 'tasklab', '/whoami', {});
  assert.deepEqual(plain, { value: { account: first.account, query: {} } });
});
