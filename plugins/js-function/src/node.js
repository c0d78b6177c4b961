// Node-style libraries built on the component's native primitives
// (`native.rs`): `jsonwebtoken`, `crypto.createHash` / `createHmac` /
// `randomBytes`, and `FormData`. Evaluated once, on first use, as a function
// of the primitives; returns the libraries by name.
(function (native) {
  "use strict";

  // ---- crypto ---------------------------------------------------------

  function toBytes(data, encoding) {
    if (typeof data === "string" && encoding && !/^utf-?8$/i.test(encoding)) {
      return Buffer.from(data, encoding);
    }
    if (typeof data === "string" || data instanceof ArrayBuffer || ArrayBuffer.isView(data)) {
      return data;
    }
    throw new TypeError("The \"data\" argument must be a string, Buffer, TypedArray or DataView");
  }

  function output(bytes, encoding) {
    return encoding === undefined || encoding === "buffer" ? Buffer.from(bytes) : native.encode(bytes, encoding);
  }

  function algorithm(name) {
    const alg = String(name).toLowerCase().replace(/^rsa-/, "");
    return /^sha-(1|256|384|512)$/.test(alg) ? alg.replace("-", "") : alg;
  }

  class Hash {
    constructor(alg, key) {
      this._alg = algorithm(alg);
      this._key = key;
      this._parts = [];
      this._done = false;
      // Fail on an unknown algorithm now, as Node does.
      if (key === undefined) native.digest(this._alg, "");
      else native.hmac(this._alg, "", "");
    }
    update(data, encoding) {
      if (this._done) throw new Error("Digest already called");
      this._parts.push(toBytes(data, encoding));
      return this;
    }
    digest(encoding) {
      if (this._done) throw new Error("Digest already called");
      this._done = true;
      const data = native.concat(this._parts);
      const bytes = this._key === undefined ? native.digest(this._alg, data) : native.hmac(this._alg, this._key, data);
      return output(bytes, encoding);
    }
  }

  function createHash(alg) {
    return new Hash(alg);
  }

  function createHmac(alg, key) {
    if (key === undefined || key === null) throw new TypeError("The \"key\" argument must be a string or Buffer");
    return new Hash(alg, toBytes(key));
  }

  function randomBytes(size, callback) {
    if (!Number.isInteger(size) || size < 0 || size > 1 << 24) {
      throw new RangeError("The \"size\" argument must be an integer between 0 and 16777216");
    }
    const bytes = Buffer.alloc(size);
    for (let i = 0; i < size; i += 65536) {
      crypto.getRandomValues(bytes.subarray(i, Math.min(size, i + 65536)));
    }
    if (typeof callback === "function") {
      setTimeout(callback, 0, null, bytes);
      return undefined;
    }
    return bytes;
  }

  // ---- jsonwebtoken ---------------------------------------------------

  class JsonWebTokenError extends Error {
    constructor(message, inner) {
      super(message);
      this.name = "JsonWebTokenError";
      if (inner) this.inner = inner;
    }
  }
  class TokenExpiredError extends JsonWebTokenError {
    constructor(message, expiredAt) {
      super(message);
      this.name = "TokenExpiredError";
      this.expiredAt = expiredAt;
    }
  }
  class NotBeforeError extends JsonWebTokenError {
    constructor(message, date) {
      super(message);
      this.name = "NotBeforeError";
      this.date = date;
    }
  }

  const UNITS = { ms: 1, s: 1000, m: 60000, h: 3600000, d: 86400000, w: 604800000, y: 31557600000 };

  // A time span as the npm `ms` package reads it: "90" (milliseconds),
  // "10m", "1h", "2 days", "1.5y"; numbers are seconds. Returns seconds.
  function seconds(span, option) {
    if (typeof span === "number") return span;
    const m = /^(-?(?:\d+)?\.?\d+) *([a-z]*)$/i.exec(String(span).trim());
    const unit = m && (m[2] || "ms").toLowerCase();
    const key =
      unit === null ? null
      : /^(ms|msecs?|milliseconds?)$/.test(unit) ? "ms"
      : /^(s|secs?|seconds?)$/.test(unit) ? "s"
      : /^(m|mins?|minutes?)$/.test(unit) ? "m"
      : /^(h|hrs?|hours?)$/.test(unit) ? "h"
      : /^(d|days?)$/.test(unit) ? "d"
      : /^(w|weeks?)$/.test(unit) ? "w"
      : /^(y|yrs?|years?)$/.test(unit) ? "y"
      : null;
    if (key === null) {
      throw new Error(`"${option}" should be a number of seconds or string representing a timespan`);
    }
    return (parseFloat(m[1]) * UNITS[key]) / 1000;
  }

  const CLAIMS = { audience: "aud", issuer: "iss", subject: "sub", jwtid: "jti" };

  function isPlainObject(v) {
    return v !== null && typeof v === "object" && !ArrayBuffer.isView(v);
  }

  function sign(payload, key, options, callback) {
    if (typeof options === "function") {
      callback = options;
      options = {};
    }
    options = options || {};
    try {
      const token = signNow(payload, key, options);
      if (typeof callback === "function") setTimeout(callback, 0, null, token);
      else return token;
    } catch (e) {
      if (typeof callback === "function") setTimeout(callback, 0, e);
      else throw e;
    }
    return undefined;
  }

  function signNow(payload, key, options) {
    if (payload === undefined) throw new Error("payload is required");
    if (key === undefined || key === null || key === "") throw new Error("secretOrPrivateKey must have a value");
    const alg = options.algorithm || "HS256";
    const object = isPlainObject(payload);
    const header = Object.assign({ alg, typ: object ? "JWT" : undefined, kid: options.keyid }, options.header);
    let body;
    if (object) {
      payload = Object.assign({}, payload);
      const now = typeof payload.iat === "number" ? payload.iat : Math.floor(Date.now() / 1000);
      if (options.noTimestamp) delete payload.iat;
      else payload.iat = now;
      if (options.notBefore !== undefined) {
        if (payload.nbf !== undefined) {
          throw new Error("Bad \"options.notBefore\" option the payload already has an \"nbf\" property.");
        }
        payload.nbf = Math.floor(now + seconds(options.notBefore, "notBefore"));
      }
      if (options.expiresIn !== undefined) {
        if (payload.exp !== undefined) {
          throw new Error("Bad \"options.expiresIn\" option the payload already has an \"exp\" property.");
        }
        payload.exp = Math.floor(now + seconds(options.expiresIn, "expiresIn"));
      }
      for (const [option, claim] of Object.entries(CLAIMS)) {
        if (options[option] === undefined) continue;
        if (payload[claim] !== undefined) {
          throw new Error(`Bad "options.${option}" option. The payload already has an "${claim}" property.`);
        }
        payload[claim] = options[option];
      }
      body = JSON.stringify(payload);
    } else {
      for (const option of ["expiresIn", "notBefore", ...Object.keys(CLAIMS)]) {
        if (options[option] !== undefined) throw new Error(`invalid ${option} option for string payload`);
      }
      body = typeof payload === "string" ? payload : native.encode(payload, "utf8");
    }
    const input = native.encode(JSON.stringify(header), "base64url") + "." + native.encode(body, "base64url");
    return input + "." + native.jwsSign(alg, input, key);
  }

  function parse(token) {
    if (typeof token !== "string") return null;
    const parts = token.split(".");
    if (parts.length !== 3) return null;
    const headerText = native.base64urlDecode(parts[0]);
    const payloadText = native.base64urlDecode(parts[1]);
    if (headerText === null || payloadText === null) return null;
    let header, payload;
    try {
      header = JSON.parse(headerText);
    } catch (e) {
      return null;
    }
    try {
      payload = JSON.parse(payloadText);
    } catch (e) {
      payload = payloadText;
    }
    if (!isPlainObject(header)) return null;
    return { header, payload, signature: parts[2], input: parts[0] + "." + parts[1] };
  }

  function decode(token, options) {
    options = options || {};
    const decoded = parse(token);
    if (decoded === null) return null;
    if (options.complete) return { header: decoded.header, payload: decoded.payload, signature: decoded.signature };
    return decoded.payload;
  }

  function matches(expected, actual) {
    const actuals = Array.isArray(actual) ? actual : [actual];
    const expecteds = Array.isArray(expected) ? expected : [expected];
    return expecteds.some((e) => actuals.some((a) => (e instanceof RegExp ? e.test(a) : e === a)));
  }

  function verify(token, key, options, callback) {
    if (typeof options === "function") {
      callback = options;
      options = {};
    }
    options = options || {};
    try {
      const result = verifyNow(token, key, options);
      if (typeof callback === "function") setTimeout(callback, 0, null, result);
      else return result;
    } catch (e) {
      if (typeof callback === "function") setTimeout(callback, 0, e);
      else throw e;
    }
    return undefined;
  }

  function verifyNow(token, key, options) {
    if (!token) throw new JsonWebTokenError("jwt must be provided");
    if (typeof token !== "string") throw new JsonWebTokenError("jwt must be a string");
    const decoded = parse(token);
    if (decoded === null) throw new JsonWebTokenError("jwt malformed");
    const { header, payload } = decoded;
    if (!decoded.signature) throw new JsonWebTokenError("jwt signature is required");
    if (key === undefined || key === null || key === "") {
      throw new JsonWebTokenError("secret or public key must be provided");
    }
    const pem = String(typeof key === "string" ? key : native.encode(key, "utf8")).includes("-----BEGIN");
    const algorithms = options.algorithms || (pem ? ["RS256", "RS384", "RS512"] : ["HS256", "HS384", "HS512"]);
    if (!algorithms.includes(header.alg)) throw new JsonWebTokenError("invalid algorithm");
    let valid;
    try {
      valid = native.jwsVerify(header.alg, decoded.input, decoded.signature, key);
    } catch (e) {
      throw new JsonWebTokenError(e.message, e);
    }
    if (!valid) throw new JsonWebTokenError("invalid signature");
    const now = options.clockTimestamp || Math.floor(Date.now() / 1000);
    const tolerance = options.clockTolerance || 0;
    if (isPlainObject(payload)) {
      if (payload.nbf !== undefined && !options.ignoreNotBefore) {
        if (typeof payload.nbf !== "number") throw new JsonWebTokenError("invalid nbf value");
        if (payload.nbf > now + tolerance) throw new NotBeforeError("jwt not active", new Date(payload.nbf * 1000));
      }
      if (payload.exp !== undefined && !options.ignoreExpiration) {
        if (typeof payload.exp !== "number") throw new JsonWebTokenError("invalid exp value");
        if (now >= payload.exp + tolerance) throw new TokenExpiredError("jwt expired", new Date(payload.exp * 1000));
      }
      if (options.audience !== undefined && !matches(options.audience, payload.aud)) {
        const expected = Array.isArray(options.audience) ? options.audience.join(" or ") : options.audience;
        throw new JsonWebTokenError("jwt audience invalid. expected: " + expected);
      }
      if (options.issuer !== undefined && !matches(options.issuer, payload.iss)) {
        throw new JsonWebTokenError("jwt issuer invalid. expected: " + options.issuer);
      }
      if (options.subject !== undefined && payload.sub !== options.subject) {
        throw new JsonWebTokenError("jwt subject invalid. expected: " + options.subject);
      }
      if (options.jwtid !== undefined && payload.jti !== options.jwtid) {
        throw new JsonWebTokenError("jwt jwtid invalid. expected: " + options.jwtid);
      }
    }
    if (options.complete) return { header, payload, signature: decoded.signature };
    return payload;
  }

  const jsonwebtoken = { sign, verify, decode, JsonWebTokenError, TokenExpiredError, NotBeforeError };

  // ---- FormData -------------------------------------------------------

  function escapeName(s) {
    return String(s).replace(/"/g, "%22").replace(/\r/g, "%0D").replace(/\n/g, "%0A");
  }

  class FormData {
    constructor() {
      this._entries = [];
      this._boundary = null;
    }
    append(name, value, options) {
      if (typeof options === "string") options = { filename: options };
      options = options || {};
      const bytes = value instanceof ArrayBuffer || ArrayBuffer.isView(value);
      this._entries.push({
        name: String(name),
        value: bytes ? value : String(value),
        filename: options.filename === undefined ? undefined : String(options.filename),
        contentType: options.contentType || (bytes ? "application/octet-stream" : undefined),
      });
    }
    set(name, value, options) {
      this.delete(name);
      this.append(name, value, options);
    }
    delete(name) {
      this._entries = this._entries.filter((e) => e.name !== String(name));
    }
    get(name) {
      const entry = this._entries.find((e) => e.name === String(name));
      return entry === undefined ? null : entry.value;
    }
    getAll(name) {
      return this._entries.filter((e) => e.name === String(name)).map((e) => e.value);
    }
    has(name) {
      return this._entries.some((e) => e.name === String(name));
    }
    *entries() {
      for (const e of this._entries) yield [e.name, e.value];
    }
    *keys() {
      for (const e of this._entries) yield e.name;
    }
    *values() {
      for (const e of this._entries) yield e.value;
    }
    [Symbol.iterator]() {
      return this.entries();
    }
    forEach(callback, thisArg) {
      for (const [name, value] of this.entries()) callback.call(thisArg, value, name, this);
    }
    getBoundary() {
      if (this._boundary === null) {
        this._boundary = "--------------------------" + native.encode(crypto.getRandomValues(new Uint8Array(12)), "hex");
      }
      return this._boundary;
    }
    setBoundary(boundary) {
      this._boundary = String(boundary);
    }
    getHeaders(headers) {
      return Object.assign({ "content-type": "multipart/form-data; boundary=" + this.getBoundary() }, headers);
    }
    // The multipart/form-data body as a Uint8Array (what `fetch` sends).
    _encode() {
      const boundary = this.getBoundary();
      const parts = [];
      for (const e of this._entries) {
        let head = `--${boundary}\r\nContent-Disposition: form-data; name="${escapeName(e.name)}"`;
        if (e.filename !== undefined) head += `; filename="${escapeName(e.filename)}"`;
        head += "\r\n";
        if (e.contentType !== undefined) head += `Content-Type: ${e.contentType}\r\n`;
        parts.push(head + "\r\n", e.value, "\r\n");
      }
      parts.push(`--${boundary}--\r\n`);
      return native.concat(parts);
    }
    getBuffer() {
      return Buffer.from(this._encode());
    }
    getLengthSync() {
      return this._encode().length;
    }
    toString() {
      return "[object FormData]";
    }
  }

  return { jsonwebtoken, createHash, createHmac, randomBytes, FormData };
});
