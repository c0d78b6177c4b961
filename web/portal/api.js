// The portal's calls to Weft: same origin as the page, as the user whose
// token the SDK handed over (never in a URL, never stored).

/** An answer Weft refused: its status, code and body. */
export class ApiError extends Error {
  constructor(message, status, code, body) {
    super(message);
    this.name = 'ApiError';
    this.status = status;
    this.code = code;
    this.body = body;
  }
}

/**
 * The SDK routes of `projectId` as `token`'s user. Paths are those after
 * `/projects/{projectId}/sdk`; the server's root is the parent of `/portal/`
 * (a deployment under a path prefix works unchanged).
 */
export function createApi(projectId, token) {
  const root = new URL(`../projects/${encodeURIComponent(projectId)}/sdk`, window.location.href).href;

  async function call(method, path, { body, credentialId } = {}) {
    const headers = { Authorization: `Bearer ${token}` };
    if (body !== undefined) headers['Content-Type'] = 'application/json';
    if (credentialId) headers['X-Paragon-Credential'] = credentialId;
    let resp;
    try {
      resp = await fetch(root + path, { method, headers, body: body === undefined ? undefined : JSON.stringify(body) });
    } catch {
      throw new ApiError('The server could not be reached. Check your connection and try again.', 0, 'NETWORK_ERROR', null);
    }
    const text = await resp.text();
    let data = null;
    try {
      data = text ? JSON.parse(text) : null;
    } catch {
      data = text;
    }
    if (!resp.ok) {
      const message = data && typeof data.message === 'string' ? data.message : `The server answered ${resp.status}.`;
      throw new ApiError(message, resp.status, data && data.code ? data.code : null, data);
    }
    return data;
  }

  const type = (t) => encodeURIComponent(t);
  return {
    portal: (t) => call('GET', `/portal/${type(t)}`),
    me: () => call('GET', '/me'),
    startConnect: (t, body) => call('POST', `/connect/${type(t)}`, { body }),
    submitFields: (t, body) => call('POST', `/connect/${type(t)}/credentials`, { body }),
    credential: (id) => call('GET', `/credentials/${encodeURIComponent(id)}`),
    saveConfig: (id, config) => call('PATCH', `/credentials/${encodeURIComponent(id)}`, { body: { config } }),
    disconnect: (integrationId, credentialId) =>
      call('DELETE', `/integrations/${encodeURIComponent(integrationId)}`, { credentialId }),
    setWorkflow: (workflowId, enabled, credentialId) =>
      call(enabled ? 'POST' : 'DELETE', `/workflows/${encodeURIComponent(workflowId)}`, { credentialId }),
  };
}
