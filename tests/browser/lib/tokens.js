// User tokens as an app backend signs them: RS256 JWTs over the project's
// signing key, made with node:crypto (no JWT library to pin).
import { createSign, generateKeyPairSync } from 'node:crypto';

const b64url = (value) => Buffer.from(typeof value === 'string' ? value : JSON.stringify(value)).toString('base64url');

/** Seconds since the Unix epoch. */
export const nowSecs = () => Math.floor(Date.now() / 1000);

/**
 * An RS256 token for `sub`, valid from `iat` for `ttl` seconds (both
 * overridable, to make expired tokens), signed with `privateKeyPem`.
 */
export function mintToken(privateKeyPem, { sub, kid, iat = nowSecs(), ttl = 3600, claims = {} }) {
  const header = { alg: 'RS256', typ: 'JWT', ...(kid ? { kid } : {}) };
  const payload = { sub, iat, exp: iat + ttl, ...claims };
  const signed = `${b64url(header)}.${b64url(payload)}`;
  const signature = createSign('RSA-SHA256').update(signed).sign(privateKeyPem).toString('base64url');
  return `${signed}.${signature}`;
}

/** A private key no Weft project knows, for "wrong token" cases. */
export function strangerKey() {
  const { privateKey } = generateKeyPairSync('rsa', { modulusLength: 2048 });
  return privateKey.export({ type: 'pkcs8', format: 'pem' });
}
