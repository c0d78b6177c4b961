//! Native primitives behind `node.js` (`jsonwebtoken`, `crypto.createHash`,
//! `crypto.createHmac`, `FormData`): hashing, HMAC, RSA PKCS#1 v1.5
//! signatures and byte plumbing, in pure Rust crates. `node.js` keeps the
//! JavaScript-facing API (options, claims, chaining) on top of them.

use base64::Engine as _;
use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use boa_engine::object::ObjectInitializer;
use boa_engine::object::builtins::{JsArrayBuffer, JsUint8Array};
use boa_engine::{Context, JsArgs, JsNativeError, JsObject, JsResult, JsValue, NativeFunction, js_string};
use hmac::{Hmac, Mac};
use rsa::pkcs1::{DecodeRsaPrivateKey, DecodeRsaPublicKey};
use rsa::pkcs1v15::{Signature, SigningKey, VerifyingKey};
use rsa::pkcs8::{DecodePrivateKey, DecodePublicKey};
use rsa::signature::{SignatureEncoding, Signer, Verifier};
use rsa::{RsaPrivateKey, RsaPublicKey};
use sha2::{Digest, Sha256, Sha384, Sha512};

fn error(message: String) -> boa_engine::JsError {
    JsNativeError::error().with_message(message).into()
}

fn string_arg(args: &[JsValue], i: usize, cx: &mut Context) -> JsResult<String> {
    Ok(args.get_or_undefined(i).to_string(cx)?.to_std_string_lossy())
}

/// The bytes of a string (UTF-8), an `ArrayBuffer` or a typed array or
/// `Buffer` (its viewed bytes).
pub(crate) fn bytes(value: &JsValue, cx: &mut Context) -> JsResult<Vec<u8>> {
    let Some(object) = value.as_object() else {
        return Ok(value.to_string(cx)?.to_std_string_lossy().into_bytes());
    };
    if let Ok(buffer) = JsArrayBuffer::from_object(object.clone()) {
        return buffer.to_vec().ok_or_else(|| JsNativeError::typ().with_message("the buffer is detached").into());
    }
    let inner = object.get(js_string!("buffer"), cx)?;
    let Some(buffer) = inner.as_object().and_then(|b| JsArrayBuffer::from_object(b.clone()).ok()) else {
        return Ok(value.to_string(cx)?.to_std_string_lossy().into_bytes());
    };
    let offset = object.get(js_string!("byteOffset"), cx)?.to_length(cx)? as usize;
    let length = object.get(js_string!("byteLength"), cx)?.to_length(cx)? as usize;
    let data = buffer.data().ok_or_else(|| JsNativeError::typ().with_message("the buffer is detached"))?;
    let slice = data.get(offset..offset + length).ok_or_else(|| JsNativeError::range().with_message("bad view"))?;
    Ok(slice.to_vec())
}

fn uint8(bytes: Vec<u8>, cx: &mut Context) -> JsResult<JsValue> {
    Ok(JsUint8Array::from_iter(bytes, cx)?.into())
}

/// `digest(alg, data)` → `Uint8Array`.
fn digest(_: &JsValue, args: &[JsValue], cx: &mut Context) -> JsResult<JsValue> {
    let alg = string_arg(args, 0, cx)?.to_ascii_lowercase();
    let data = bytes(args.get_or_undefined(1), cx)?;
    let out = match alg.as_str() {
        "sha256" => Sha256::digest(&data).to_vec(),
        "sha384" => Sha384::digest(&data).to_vec(),
        "sha512" => Sha512::digest(&data).to_vec(),
        "sha1" => sha1::Sha1::digest(&data).to_vec(),
        "md5" => md5::Md5::digest(&data).to_vec(),
        _ => return Err(error(format!("Digest method not supported: {alg} (sha256, sha384, sha512, sha1, md5)"))),
    };
    uint8(out, cx)
}

fn hmac_bytes(alg: &str, key: &[u8], data: &[u8]) -> JsResult<Vec<u8>> {
    fn run<M: Mac + hmac::digest::KeyInit>(key: &[u8], data: &[u8]) -> Vec<u8> {
        let mut mac = <M as hmac::digest::KeyInit>::new_from_slice(key).expect("HMAC takes keys of any length");
        mac.update(data);
        mac.finalize().into_bytes().to_vec()
    }
    Ok(match alg {
        "sha256" => run::<Hmac<Sha256>>(key, data),
        "sha384" => run::<Hmac<Sha384>>(key, data),
        "sha512" => run::<Hmac<Sha512>>(key, data),
        "sha1" => run::<Hmac<sha1::Sha1>>(key, data),
        "md5" => run::<Hmac<md5::Md5>>(key, data),
        _ => return Err(error(format!("Invalid digest: {alg} (sha256, sha384, sha512, sha1, md5)"))),
    })
}

/// `hmac(alg, key, data)` → `Uint8Array`.
fn hmac(_: &JsValue, args: &[JsValue], cx: &mut Context) -> JsResult<JsValue> {
    let alg = string_arg(args, 0, cx)?.to_ascii_lowercase();
    let key = bytes(args.get_or_undefined(1), cx)?;
    let data = bytes(args.get_or_undefined(2), cx)?;
    let out = hmac_bytes(&alg, &key, &data)?;
    uint8(out, cx)
}

fn private_key(pem: &str) -> JsResult<RsaPrivateKey> {
    let pem = pem.trim();
    let key = if pem.contains("BEGIN RSA PRIVATE KEY") {
        RsaPrivateKey::from_pkcs1_pem(pem).map_err(|e| e.to_string())
    } else if pem.contains("BEGIN PRIVATE KEY") {
        RsaPrivateKey::from_pkcs8_pem(pem).map_err(|e| e.to_string())
    } else if pem.contains("BEGIN ENCRYPTED PRIVATE KEY") {
        Err("encrypted private keys are not supported; pass the decrypted PEM".to_string())
    } else {
        Err("expected a PEM \"-----BEGIN PRIVATE KEY-----\" (PKCS#8) or \"-----BEGIN RSA PRIVATE KEY-----\" (PKCS#1)"
            .to_string())
    };
    key.map_err(|e| error(format!("secretOrPrivateKey is not a valid RSA private key: {e}")))
}

fn public_key(pem: &str) -> JsResult<RsaPublicKey> {
    let pem = pem.trim();
    if pem.contains("PRIVATE KEY") {
        return Ok(private_key(pem)?.to_public_key());
    }
    let key = if pem.contains("BEGIN RSA PUBLIC KEY") {
        RsaPublicKey::from_pkcs1_pem(pem).map_err(|e| e.to_string())
    } else if pem.contains("BEGIN PUBLIC KEY") {
        RsaPublicKey::from_public_key_pem(pem).map_err(|e| e.to_string())
    } else {
        Err("expected a PEM \"-----BEGIN PUBLIC KEY-----\" or \"-----BEGIN RSA PUBLIC KEY-----\"".to_string())
    };
    key.map_err(|e| error(format!("secretOrPublicKey is not a valid RSA public key: {e}")))
}

fn rsa_sign(alg: &str, pem: &str, input: &[u8]) -> JsResult<Vec<u8>> {
    let key = private_key(pem)?;
    let sig = match alg {
        "RS256" => SigningKey::<Sha256>::new(key).try_sign(input),
        "RS384" => SigningKey::<Sha384>::new(key).try_sign(input),
        _ => SigningKey::<Sha512>::new(key).try_sign(input),
    };
    sig.map(|s| s.to_vec()).map_err(|e| error(format!("{alg} signing failed: {e}")))
}

fn rsa_verify(alg: &str, pem: &str, input: &[u8], sig: &[u8]) -> JsResult<bool> {
    let key = public_key(pem)?;
    let Ok(sig) = Signature::try_from(sig) else { return Ok(false) };
    Ok(match alg {
        "RS256" => VerifyingKey::<Sha256>::new(key).verify(input, &sig).is_ok(),
        "RS384" => VerifyingKey::<Sha384>::new(key).verify(input, &sig).is_ok(),
        _ => VerifyingKey::<Sha512>::new(key).verify(input, &sig).is_ok(),
    })
}

fn hs_hash(alg: &str) -> &'static str {
    match alg {
        "HS256" => "sha256",
        "HS384" => "sha384",
        _ => "sha512",
    }
}

/// An HMAC secret that is a PEM key would let a public key serve as an
/// HMAC secret (the algorithm-confusion attack): refused, as npm does.
fn symmetric(alg: &str, key: &[u8], role: &str) -> JsResult<()> {
    let text = String::from_utf8_lossy(key);
    if text.contains("-----BEGIN") && text.contains("KEY-----") {
        return Err(error(format!("{role} must be a symmetric key when using {alg}")));
    }
    Ok(())
}

fn check_alg(alg: &str) -> JsResult<()> {
    if matches!(alg, "HS256" | "HS384" | "HS512" | "RS256" | "RS384" | "RS512") {
        return Ok(());
    }
    Err(error(format!("\"{alg}\" is not a supported algorithm (HS256, HS384, HS512, RS256, RS384, RS512)")))
}

/// `jwsSign(alg, signingInput, key)` → base64url signature.
fn jws_sign(_: &JsValue, args: &[JsValue], cx: &mut Context) -> JsResult<JsValue> {
    let alg = string_arg(args, 0, cx)?;
    check_alg(&alg)?;
    let input = string_arg(args, 1, cx)?;
    let sig = if alg.starts_with("HS") {
        let key = bytes(args.get_or_undefined(2), cx)?;
        symmetric(&alg, &key, "secretOrPrivateKey")?;
        hmac_bytes(hs_hash(&alg), &key, input.as_bytes())?
    } else {
        let key = args.get_or_undefined(2);
        if !key.is_string() && key.as_object().is_none() {
            return Err(error(format!("secretOrPrivateKey must be a PEM string or Buffer for {alg}")));
        }
        rsa_sign(&alg, &String::from_utf8_lossy(&bytes(key, cx)?), input.as_bytes())?
    };
    Ok(js_string!(URL_SAFE_NO_PAD.encode(sig)).into())
}

/// `jwsVerify(alg, signingInput, signature, key)` → whether it matches.
fn jws_verify(_: &JsValue, args: &[JsValue], cx: &mut Context) -> JsResult<JsValue> {
    let alg = string_arg(args, 0, cx)?;
    check_alg(&alg)?;
    let input = string_arg(args, 1, cx)?;
    let Ok(sig) = URL_SAFE_NO_PAD.decode(string_arg(args, 2, cx)?.trim_end_matches('=')) else {
        return Ok(false.into());
    };
    let key = bytes(args.get_or_undefined(3), cx)?;
    let ok = if alg.starts_with("HS") {
        symmetric(&alg, &key, "secretOrPublicKey")?;
        let expected = hmac_bytes(hs_hash(&alg), &key, input.as_bytes())?;
        // Constant time in the signature's bytes.
        expected.len() == sig.len() && expected.iter().zip(&sig).fold(0u8, |acc, (a, b)| acc | (a ^ b)) == 0
    } else {
        rsa_verify(&alg, &String::from_utf8_lossy(&key), input.as_bytes(), &sig)?
    };
    Ok(ok.into())
}

/// `encode(data, "hex" | "base64" | "base64url" | "utf8" | "latin1")` →
/// string.
fn encode(_: &JsValue, args: &[JsValue], cx: &mut Context) -> JsResult<JsValue> {
    let data = bytes(args.get_or_undefined(0), cx)?;
    let encoding = string_arg(args, 1, cx)?;
    let text = match encoding.as_str() {
        "hex" => data.iter().map(|b| format!("{b:02x}")).collect(),
        "base64" => STANDARD.encode(&data),
        "base64url" => URL_SAFE_NO_PAD.encode(&data),
        "utf8" | "utf-8" => String::from_utf8_lossy(&data).into_owned(),
        "latin1" | "binary" => data.iter().map(|&b| char::from(b)).collect(),
        _ => return Err(JsNativeError::typ().with_message(format!("Unknown encoding: {encoding}")).into()),
    };
    Ok(js_string!(text).into())
}

/// `base64urlDecode(text)` → UTF-8 string, or `null` when malformed.
fn base64url_decode(_: &JsValue, args: &[JsValue], cx: &mut Context) -> JsResult<JsValue> {
    let text = string_arg(args, 0, cx)?;
    Ok(match URL_SAFE_NO_PAD.decode(text.trim_end_matches('=')).ok().and_then(|b| String::from_utf8(b).ok()) {
        Some(s) => js_string!(s).into(),
        None => JsValue::null(),
    })
}

/// `concat(parts)` → `Uint8Array` of strings (UTF-8) and byte arrays.
fn concat(_: &JsValue, args: &[JsValue], cx: &mut Context) -> JsResult<JsValue> {
    let parts = args.get_or_undefined(0).as_object().ok_or_else(|| JsNativeError::typ().with_message("not a list"))?;
    let length = parts.get(js_string!("length"), cx)?.to_length(cx)?;
    let mut out = Vec::new();
    for i in 0..length {
        let part = parts.get(i, cx)?;
        out.extend(bytes(&part, cx)?);
    }
    uint8(out, cx)
}

/// The object of primitives `node.js` is called with.
pub(crate) fn object(cx: &mut Context) -> JsObject {
    ObjectInitializer::new(cx)
        .function(NativeFunction::from_fn_ptr(digest), js_string!("digest"), 2)
        .function(NativeFunction::from_fn_ptr(hmac), js_string!("hmac"), 3)
        .function(NativeFunction::from_fn_ptr(jws_sign), js_string!("jwsSign"), 3)
        .function(NativeFunction::from_fn_ptr(jws_verify), js_string!("jwsVerify"), 4)
        .function(NativeFunction::from_fn_ptr(encode), js_string!("encode"), 2)
        .function(NativeFunction::from_fn_ptr(base64url_decode), js_string!("base64urlDecode"), 1)
        .function(NativeFunction::from_fn_ptr(concat), js_string!("concat"), 1)
        .build()
}

thread_local! {
    /// What `node.js` returned, once evaluated in this run.
    static NODE: std::cell::RefCell<Option<JsObject>> = const { std::cell::RefCell::new(None) };
}

/// Library `name` of `node.js` (`jsonwebtoken`, `FormData`, `createHash`,
/// …), evaluating the file on first use.
pub(crate) fn node_library(name: &str, cx: &mut Context) -> JsResult<JsValue> {
    let exports = match NODE.with_borrow(Clone::clone) {
        Some(exports) => exports,
        None => {
            let source = boa_engine::Source::from_bytes(include_str!("node.js"))
                .with_path(std::path::Path::new("lib/weft/node.js"));
            let function = cx.eval(source)?;
            let function =
                function.as_callable().ok_or_else(|| JsNativeError::error().with_message("bad node.js wrapper"))?;
            let primitives = object(cx);
            let exports = function.call(&JsValue::undefined(), &[primitives.into()], cx)?;
            let exports =
                exports.as_object().ok_or_else(|| JsNativeError::error().with_message("node.js returned nothing"))?;
            NODE.with_borrow_mut(|n| *n = Some(exports.clone()));
            exports
        }
    };
    exports.get(js_string!(name), cx)
}
