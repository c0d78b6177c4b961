//! `libraries`: bundled npm packages, evaluated on first access.

use crate::{host, run};
use serde_json::json;
use weft_plugin_host::JsErrorKind;

#[tokio::test]
async fn uuid_lodash_date_fns_and_moment() {
    let h = host().await;
    let code = r#"function f(p, libraries) {
        const id = libraries.uuid.v4();
        const _ = libraries.lodash;
        const fp = libraries["lodash/fp"];
        const { format, addDays } = libraries.dateFns;
        const day = new Date(Date.UTC(2024, 0, 30, 12));
        return {
            id,
            valid: libraries.uuid.validate(id),
            chunks: _.chunk([1, 2, 3, 4, 5], 2),
            sorted: fp.sortBy("n")([{ n: 3 }, { n: 1 }]).map(x => x.n),
            dateFns: format(addDays(day, 3), "yyyy-MM-dd"),
            moment: libraries.moment.utc("2024-01-30T12:00:00Z").add(1, "month").format("YYYY-MM-DD"),
            randomUUID: crypto.randomUUID().length,
        };
    }"#;
    let out = run(&h, code, json!({})).await.unwrap();
    let id = out["id"].as_str().unwrap();
    let shape = id.len() == 36
        && id
            .chars()
            .enumerate()
            .all(|(i, c)| if [8, 13, 18, 23].contains(&i) { c == '-' } else { c.is_ascii_hexdigit() })
        && id.as_bytes()[14] == b'4'
        && matches!(id.as_bytes()[19], b'8' | b'9' | b'a' | b'b');
    assert!(shape, "not a v4 UUID: {id}");
    assert_eq!(out["valid"], json!(true));
    assert_eq!(out["chunks"], json!([[1, 2], [3, 4], [5]]));
    assert_eq!(out["sorted"], json!([1, 3]));
    assert_eq!(out["dateFns"], json!("2024-02-02"));
    assert_eq!(out["moment"], json!("2024-02-29"));
    assert_eq!(out["randomUUID"], json!(36));
    // Two calls, two different ids: randomness comes from the host.
    let again = run(&h, code, json!({})).await.unwrap();
    assert_ne!(again["id"], out["id"]);
}

#[tokio::test]
async fn buffer_and_require_of_bundled_names() {
    let h = host().await;
    let code = r#"function f(p, libraries) {
        const b = Buffer.from("hello").toString("base64");
        const same = libraries.Buffer === Buffer && require("lodash") === libraries.lodash;
        return { b, same, back: libraries.Buffer.from(b, "base64").toString("utf8") };
    }"#;
    assert_eq!(run(&h, code, json!({})).await.unwrap(), json!({"b": "aGVsbG8=", "same": true, "back": "hello"}));
}

#[tokio::test]
async fn absent_libraries_say_why() {
    let h = host().await;
    let err = run(&h, "function f(p, l) { return l.pg.connect(); }", json!({})).await.unwrap_err();
    assert_eq!(err.kind, JsErrorKind::Thrown);
    assert!(
        err.message.contains("libraries[\"pg\"] is not available") && err.message.contains("libraries.fetch"),
        "{err:?}"
    );
    let err = run(&h, "function f(p, l) { return l.cheerio; }", json!({})).await.unwrap_err();
    assert!(err.message.contains("not bundled"), "{err:?}");
    let err = run(&h, "function f() { return require('fs'); }", json!({})).await.unwrap_err();
    assert!(err.message.contains("Cannot find module 'fs'"), "{err:?}");
}

/// A 2048-bit RSA key made once with `openssl genpkey` for these tests only.
const PRIVATE_PKCS8: &str = "-----BEGIN PRIVATE KEY-----\n\
MIIEvQIBADANBgkqhkiG9w0BAQEFAASCBKcwggSjAgEAAoIBAQC7fp5e1IyaWF9k\n\
S5+X2PP5et0rvlpYXlItgVrikxTC1iG8xIcrRrB3aCq7GBQgFQDZgE/ltQdrk7Zt\n\
+p0kfGLmkKG0E2gRxGbl5Oo9iJl6yz7REkFaeMXv7L7RoFFL+ho/1xT8+ckkMjoX\n\
ZZAhOrhGWYp3+9nB9RFeLhDHSnSa8kwBWiE7l3N3UlHjKIUSRj9e+avMNMwd43/s\n\
okuaR4MPMMCuQEOIjEYz03o/rq6ZPTzce/T6mOVI+IocTHfkQegmRIO4oQRWtCQ7\n\
d74JqBMW6oMZKi6hPIKcyUfo0rHTkOjuIUpGSFgykwknqWTuVPJMWX0ynkR+8C/h\n\
sTjeW6HdAgMBAAECggEAB/MqDkwY27QcWomFiAMgJSRIG6i29lqmRV1GWA3aELQG\n\
B8j73W8VegEMS5TzyLOoFSps0m9gk/eJaEeUdI2Wa/KwYiau5o7BuV6BboAYpRPY\n\
SZxQ8d/l4XLT8tng8iwpAysnFER+RzvR9r5mfa8A5teF5YLj2TN/VWz1zSo9BqzL\n\
+OqP+GxpML03ANXVt5gTxZMIS1tQYWTuu2J4ZsuM71C+0PYX/1iABcHk8jO8o+72\n\
gsehmICeZdrcpWwyInM9IJFLaZKCZ2g1pd8cxDp3fXsy/7Qex5FeQFbSx/QnpZnD\n\
gNmpRERCV1WuLnh98yo36TxVTbq+eK9lIvWmqOy0AQKBgQDoEXMCDBypFzG9+OKI\n\
PzrLI+GISLRuop+FYLim/adsI0wMX6X8wmrcFYtQAmoo6aiOz7vYWohvGEp/PubS\n\
dM+zzo0Tz4epqNXHsXS1LMSu/vNXqmUm1/NtnwT5egdmHvw+crlh8DoAFa4CeZV/\n\
2lCmsOkIWnp6Lc9LndvdtluFXQKBgQDO1G/UNuzXY2gN9YvOHSIQno2hSQTd4Hu4\n\
xrBcO0VaDo/vqcwe18Xcz1sdcX7aQErKaVeuD8ZrfypwsXerh6QQsHNNcwAmlJHM\n\
tFHfZKRnFVKNJozc2O7s9jlZyOrzQADeIGzokFw6FJB/uEKVG4TN4w3U8ciHtQFm\n\
pWCvkH5GgQKBgQCepR8cLS+CoKqOlhA22BLXQEYzppBCecXXplFVR14m3NJmOxT7\n\
/+SRY+EC50OviFyElJpzwyA14kM7TcL56IT9BJ0JB/xUDWlnxHZmTJ6AiyXLrl7L\n\
+SEetXDvI27fbxs9jawRuenMmQWGB5wd9R7hdVs5LLFByQNHTDk8DifuuQKBgE5H\n\
kNucvh72/Jbr7DHiTNZFbA0y+aiQIcNZT75YoHLpOAjZFuxFdhmQUUffgMdRtfzN\n\
yeWTCuH8iy+Du2ssNygp4Dnb4J65dEUpqiMGkEKDi27ovD+Jy0PcHPCiXmoaOznW\n\
w+FxYbaJufbc4jZU5/qUiNOjfuX9173lsaZA5coBAoGAK8nafgDOc3YH5009yQ/H\n\
r1799lbgy/viVgmw0pIn+rj8sGzqao0I4ffkceJOf0Wilc6URVgKS7bVPQgq3Uxo\n\
Cpj1Z6OKH1VeG+Xb2Q0ubWStPbuxAei7N6z7bRMBjlGdFoLybwkUT9I457XBC32y\n\
tAxmityos3LJNo9ve96Z550=\n\
-----END PRIVATE KEY-----";
/// The same key as PKCS#1 (`openssl rsa -traditional`).
const PRIVATE_PKCS1: &str = "-----BEGIN RSA PRIVATE KEY-----\n\
MIIEowIBAAKCAQEAu36eXtSMmlhfZEufl9jz+XrdK75aWF5SLYFa4pMUwtYhvMSH\n\
K0awd2gquxgUIBUA2YBP5bUHa5O2bfqdJHxi5pChtBNoEcRm5eTqPYiZess+0RJB\n\
WnjF7+y+0aBRS/oaP9cU/PnJJDI6F2WQITq4RlmKd/vZwfURXi4Qx0p0mvJMAVoh\n\
O5dzd1JR4yiFEkY/XvmrzDTMHeN/7KJLmkeDDzDArkBDiIxGM9N6P66umT083Hv0\n\
+pjlSPiKHEx35EHoJkSDuKEEVrQkO3e+CagTFuqDGSouoTyCnMlH6NKx05Do7iFK\n\
RkhYMpMJJ6lk7lTyTFl9Mp5EfvAv4bE43luh3QIDAQABAoIBAAfzKg5MGNu0HFqJ\n\
hYgDICUkSBuotvZapkVdRlgN2hC0BgfI+91vFXoBDEuU88izqBUqbNJvYJP3iWhH\n\
lHSNlmvysGImruaOwblegW6AGKUT2EmcUPHf5eFy0/LZ4PIsKQMrJxREfkc70fa+\n\
Zn2vAObXheWC49kzf1Vs9c0qPQasy/jqj/hsaTC9NwDV1beYE8WTCEtbUGFk7rti\n\
eGbLjO9QvtD2F/9YgAXB5PIzvKPu9oLHoZiAnmXa3KVsMiJzPSCRS2mSgmdoNaXf\n\
HMQ6d317Mv+0HseRXkBW0sf0J6WZw4DZqUREQldVri54ffMqN+k8VU26vnivZSL1\n\
pqjstAECgYEA6BFzAgwcqRcxvfjiiD86yyPhiEi0bqKfhWC4pv2nbCNMDF+l/MJq\n\
3BWLUAJqKOmojs+72FqIbxhKfz7m0nTPs86NE8+HqajVx7F0tSzErv7zV6plJtfz\n\
bZ8E+XoHZh78PnK5YfA6ABWuAnmVf9pQprDpCFp6ei3PS53b3bZbhV0CgYEAztRv\n\
1Dbs12NoDfWLzh0iEJ6NoUkE3eB7uMawXDtFWg6P76nMHtfF3M9bHXF+2kBKymlX\n\
rg/Ga38qcLF3q4ekELBzTXMAJpSRzLRR32SkZxVSjSaM3Nju7PY5Wcjq80AA3iBs\n\
6JBcOhSQf7hClRuEzeMN1PHIh7UBZqVgr5B+RoECgYEAnqUfHC0vgqCqjpYQNtgS\n\
10BGM6aQQnnF16ZRVUdeJtzSZjsU+//kkWPhAudDr4hchJSac8MgNeJDO03C+eiE\n\
/QSdCQf8VA1pZ8R2ZkyegIsly65ey/khHrVw7yNu328bPY2sEbnpzJkFhgecHfUe\n\
4XVbOSyxQckDR0w5PA4n7rkCgYBOR5DbnL4e9vyW6+wx4kzWRWwNMvmokCHDWU++\n\
WKBy6TgI2RbsRXYZkFFH34DHUbX8zcnlkwrh/Isvg7trLDcoKeA52+CeuXRFKaoj\n\
BpBCg4tu6Lw/ictD3Bzwol5qGjs51sPhcWG2ibn23OI2VOf6lIjTo37l/de95bGm\n\
QOXKAQKBgCvJ2n4AznN2B+dNPckPx69e/fZW4Mv74lYJsNKSJ/q4/LBs6mqNCOH3\n\
5HHiTn9FopXOlEVYCku21T0IKt1MaAqY9Wejih9VXhvl29kNLm1krT27sQHouzes\n\
+20TAY5RnRaC8m8JFE/SOOe1wQt9srQMZorcqLNyyTaPb3vemeed\n\
-----END RSA PRIVATE KEY-----";
const PUBLIC: &str = "-----BEGIN PUBLIC KEY-----\n\
MIIBIjANBgkqhkiG9w0BAQEFAAOCAQ8AMIIBCgKCAQEAu36eXtSMmlhfZEufl9jz\n\
+XrdK75aWF5SLYFa4pMUwtYhvMSHK0awd2gquxgUIBUA2YBP5bUHa5O2bfqdJHxi\n\
5pChtBNoEcRm5eTqPYiZess+0RJBWnjF7+y+0aBRS/oaP9cU/PnJJDI6F2WQITq4\n\
RlmKd/vZwfURXi4Qx0p0mvJMAVohO5dzd1JR4yiFEkY/XvmrzDTMHeN/7KJLmkeD\n\
DzDArkBDiIxGM9N6P66umT083Hv0+pjlSPiKHEx35EHoJkSDuKEEVrQkO3e+CagT\n\
FuqDGSouoTyCnMlH6NKx05Do7iFKRkhYMpMJJ6lk7lTyTFl9Mp5EfvAv4bE43luh\n\
3QIDAQAB\n\
-----END PUBLIC KEY-----";
/// `{"alg":"RS256","typ":"JWT","kid":"k1"}.{"sub":"user-1","iat":1700000000,"exp":1700003600,"iss":"weft"}`
/// signed with `openssl dgst -sha256 -sign` when the test was written
/// (PKCS#1 v1.5 signatures are deterministic).
const RS256_TOKEN: &str = "eyJhbGciOiJSUzI1NiIsInR5cCI6IkpXVCIsImtpZCI6ImsxIn0.eyJzdWIiOiJ1c2VyLTEiLCJpYXQiOjE3MDAwMDAwMDAsImV4cCI6MTcwMDAwMzYwMCwiaXNzIjoid2VmdCJ9.t2P9DfydbesZ0RloEVkO02Jb45FIAo70ycH2qtICE6pG9Dsqw19Kk3QzJSBBkIrs4jADWyOZyGnMtPS6AW6Ys41384P3yg-xBvlQopD13TEjjMfFyjLU9rgaMQkU2FtMuRolO_c86jehLxL92MqTNQGLq5kDnpO0trTZq8x_o1nBFWAkkB38MQiPWprG0R_CePQ0M5kFhVa5uzoDhmoMFWY3dZnzbVMVu0BlQfxGZXeVOUU0vKStcbceRmeIpdDAmDk87lAIe9oNKAsuq37KOiOFlYt-9zh0gyeU2QR8H8z6_brgMmmT0dhk-0lQwagfS7fSEZato_ECNfAMtWRqDA";

#[tokio::test]
async fn jsonwebtoken_rs256_matches_openssl_and_verifies() {
    let h = host().await;
    let code = r#"function f(p, { jsonwebtoken }) {
        const options = { algorithm: "RS256", keyid: "k1", issuer: "weft", expiresIn: "1h" };
        const pkcs8 = jsonwebtoken.sign({ sub: "user-1", iat: 1700000000 }, p.pkcs8, options);
        const pkcs1 = jsonwebtoken.sign({ sub: "user-1", iat: 1700000000 }, p.pkcs1, options);
        const verified = jsonwebtoken.verify(p.expected, p.pub, { clockTimestamp: 1700000100, issuer: "weft" });
        const fail = (f) => { try { f(); return null; } catch (e) { return e.name + ": " + e.message; } };
        // The documented recipe: a key with escaped newlines, exp and iat in the payload.
        const now = Math.floor(Date.now() / 1000);
        const key = p.pkcs8.replaceAll("\n", "\\n").replaceAll("\\n", "\n");
        const recipe = jsonwebtoken.sign({ sub: "u2", iat: now, exp: now + 3600 }, key, { algorithm: "RS256" });
        return {
            pkcs8, pkcs1, verified,
            recipe: jsonwebtoken.verify(recipe, p.pub).sub,
            header: jsonwebtoken.decode(recipe, { complete: true }).header,
            expired: fail(() => jsonwebtoken.verify(p.expected, p.pub, { clockTimestamp: 1700003600 })),
            tampered: fail(() => jsonwebtoken.verify(p.expected.slice(0, -2) + "AA", p.pub, { clockTimestamp: 1700000100 })),
            issuer: fail(() => jsonwebtoken.verify(p.expected, p.pub, { clockTimestamp: 1700000100, issuer: "x" })),
            hsWithPem: fail(() => jsonwebtoken.verify(p.expected, p.pub, { algorithms: ["HS256"] })),
            confusion: fail(() => jsonwebtoken.verify(jsonwebtoken.sign({}, "s"), p.pub, { algorithms: ["HS256"] })),
            hsSignWithPem: fail(() => jsonwebtoken.sign({}, p.pkcs8)),
            badKey: fail(() => jsonwebtoken.sign({}, "not a key", { algorithm: "RS256" })),
            badAlg: fail(() => jsonwebtoken.sign({}, "s", { algorithm: "ES256" })),
        };
    }"#;
    let params = json!({"pkcs8": PRIVATE_PKCS8, "pkcs1": PRIVATE_PKCS1, "pub": PUBLIC, "expected": RS256_TOKEN});
    let out = run(&h, code, params).await.unwrap();
    assert_eq!(out["pkcs8"], json!(RS256_TOKEN));
    assert_eq!(out["pkcs1"], json!(RS256_TOKEN));
    assert_eq!(out["verified"], json!({"sub": "user-1", "iat": 1700000000, "exp": 1700003600, "iss": "weft"}));
    assert_eq!(out["recipe"], json!("u2"));
    assert_eq!(out["header"], json!({"alg": "RS256", "typ": "JWT"}));
    assert_eq!(out["expired"], json!("TokenExpiredError: jwt expired"));
    assert_eq!(out["tampered"], json!("JsonWebTokenError: invalid signature"));
    assert_eq!(out["issuer"], json!("JsonWebTokenError: jwt issuer invalid. expected: x"));
    assert_eq!(out["hsWithPem"], json!("JsonWebTokenError: invalid algorithm"));
    assert_eq!(
        out["confusion"],
        json!("JsonWebTokenError: secretOrPublicKey must be a symmetric key when using HS256")
    );
    assert_eq!(out["hsSignWithPem"], json!("Error: secretOrPrivateKey must be a symmetric key when using HS256"));
    let bad_key = out["badKey"].as_str().unwrap();
    assert!(bad_key.starts_with("Error: secretOrPrivateKey is not a valid RSA private key"), "{bad_key}");
    let bad_alg = out["badAlg"].as_str().unwrap();
    assert!(bad_alg.contains("\"ES256\" is not a supported algorithm"), "{bad_alg}");
}

/// jwt.io's HS256 example.
const HS256_TOKEN: &str = "eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9.\
    eyJzdWIiOiIxMjM0NTY3ODkwIiwibmFtZSI6IkpvaG4gRG9lIiwiaWF0IjoxNTE2MjM5MDIyfQ.\
    SflKxwRJSMeKKF2QT4fwpMeJf36POk6yJV_adQssw5c";

#[tokio::test]
async fn jsonwebtoken_hs256_claims_and_decode() {
    let h = host().await;
    let code = r#"function f(p, libraries) {
        const jwt = require("jsonwebtoken");
        const secret = "your-256-bit-secret";
        const token = jwt.sign({ sub: "1234567890", name: "John Doe", iat: 1516239022 }, secret);
        const fresh = jwt.decode(jwt.sign({ a: 1 }, secret, { expiresIn: "10m", audience: "api", subject: "s" }));
        const seconds = jwt.decode(jwt.sign({}, secret, { expiresIn: 90, noTimestamp: true }));
        let wrong;
        try { jwt.verify(p.token, "other secret"); } catch (e) { wrong = e.message; }
        return {
            same: token === p.token && libraries.jsonwebtoken === jwt,
            verified: jwt.verify(p.token, secret, { audience: undefined }),
            wrong,
            fresh: { span: fresh.exp - fresh.iat, aud: fresh.aud, sub: fresh.sub, recent: Math.abs(fresh.iat - Date.now() / 1000) < 60 },
            seconds: { hasIat: "iat" in seconds, exp: seconds.exp > Date.now() / 1000 + 80 },
            malformed: jwt.decode("abc"),
        };
    }"#;
    let out = run(&h, code, json!({"token": HS256_TOKEN})).await.unwrap();
    assert_eq!(out["same"], json!(true));
    assert_eq!(out["verified"], json!({"sub": "1234567890", "name": "John Doe", "iat": 1516239022}));
    assert_eq!(out["wrong"], json!("invalid signature"));
    assert_eq!(out["fresh"], json!({"span": 600, "aud": "api", "sub": "s", "recent": true}));
    assert_eq!(out["seconds"], json!({"hasIat": false, "exp": true}));
    assert_eq!(out["malformed"], json!(null));
}

#[tokio::test]
async fn crypto_create_hash_create_hmac_and_random_bytes() {
    let h = host().await;
    let code = r#"function f(p, libraries) {
        const { createHash, createHmac, randomBytes } = libraries.crypto;
        const bytes = randomBytes(40000 * 2);
        let unknown;
        try { createHash("sha3-999"); } catch (e) { unknown = e.message; }
        return {
            sha256: createHash("sha256").update("a").update("bc").digest("hex"),
            base64: crypto.createHash("SHA256").update(Buffer.from("hello world")).digest("base64"),
            sha512: createHash("sha512").update("abc").digest("hex"),
            sha1: createHash("sha1").update("abc").digest("hex"),
            md5: createHash("md5").digest("hex"),
            hmac: createHmac("sha256", "Jefe").update("what do ya want for nothing?").digest("hex"),
            buffer: Buffer.isBuffer(createHash("sha256").digest()) && createHash("sha256").digest().length,
            random: Buffer.isBuffer(bytes) && bytes.length === 80000 && bytes.some((b) => b !== 0),
            required: require("crypto") === crypto,
            unknown,
        };
    }"#;
    let out = run(&h, code, json!({})).await.unwrap();
    assert_eq!(out["sha256"], json!("ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"));
    assert_eq!(out["base64"], json!("uU0nuZNNPgilLlLX2n2r+sSE7+N6U4DukIj3rOLvzek="));
    assert_eq!(
        out["sha512"],
        json!(
            "ddaf35a193617abacc417349ae20413112e6fa4e89a97ea20a9eeee64b55d39a2192992a274fc1a836ba3c23a3feebbd454d4423643ce80e2a9ac94fa54ca49f"
        )
    );
    assert_eq!(out["sha1"], json!("a9993e364706816aba3e25717850c26c9cd0d89d"));
    assert_eq!(out["md5"], json!("d41d8cd98f00b204e9800998ecf8427e"));
    assert_eq!(out["hmac"], json!("5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843"));
    assert_eq!(out["buffer"], json!(32));
    assert_eq!(out["random"], json!(true));
    assert_eq!(out["required"], json!(true));
    assert!(out["unknown"].as_str().unwrap().contains("Digest method not supported"), "{out}");
}

#[tokio::test]
async fn form_data_encodes_multipart_and_fetch_takes_it() {
    let h = host().await;
    let code = r#"async function f(p, libraries) {
        const form = new FormData();
        form.append("name", "Ada \"L\"");
        form.append("file", Buffer.from([104, 105, 0xff]), "a.bin");
        form.append("n", 3);
        form.setBoundary("XYZ");
        const body = form.getBuffer();
        let sent;
        try {
            await libraries.fetch("http://127.0.0.1:9/upload", { method: "POST", body: form });
        } catch (e) {
            sent = e.message;
        }
        return {
            same: libraries.FormData === FormData && require("form-data") === FormData,
            body: body.toString("latin1"),
            headers: form.getHeaders(),
            entries: [...form].map(([k, v]) => k + "=" + (typeof v === "string" ? v : v.length)),
            get: [form.get("n"), form.has("missing"), form.getAll("name").length],
            sent,
        };
    }"#;
    let out = run(&h, code, json!({})).await.unwrap();
    assert_eq!(out["same"], json!(true));
    let expected = "--XYZ\r\nContent-Disposition: form-data; name=\"name\"\r\n\r\nAda \"L\"\r\n\
        --XYZ\r\nContent-Disposition: form-data; name=\"file\"; filename=\"a.bin\"\r\n\
        Content-Type: application/octet-stream\r\n\r\nhi\u{ff}\r\n\
        --XYZ\r\nContent-Disposition: form-data; name=\"n\"\r\n\r\n3\r\n--XYZ--\r\n";
    assert_eq!(out["body"], json!(expected));
    assert_eq!(out["headers"], json!({"content-type": "multipart/form-data; boundary=XYZ"}));
    assert_eq!(out["entries"], json!(["name=Ada \"L\"", "file=3", "n=3"]));
    assert_eq!(out["get"], json!(["3", false, 1]));
    // The egress policy refuses loopback: the body was built and handed over.
    assert!(out["sent"].as_str().unwrap().starts_with("fetch failed"), "{out}");
}

#[tokio::test]
async fn an_uncaught_jsonwebtoken_error_fails_the_step_at_the_users_line() {
    let h = host().await;
    let code = "function f(p, { jsonwebtoken }) {\n  return jsonwebtoken.sign({ sub: 1 }, p.key, { algorithm: \"RS256\" });\n}";
    let err = run(&h, code, json!({"key": "-----BEGIN PRIVATE KEY-----\nnope\n-----END PRIVATE KEY-----"}))
        .await
        .unwrap_err();
    assert_eq!(err.kind, JsErrorKind::Thrown);
    assert!(err.message.contains("secretOrPrivateKey is not a valid RSA private key"), "{err:?}");
    assert_eq!(err.line, Some(2), "{err:?}");
}
