//! The few Web and Node globals Function steps rely on: timers, promise
//! settling, `crypto` randomness and `fetch` through the host.
//!
//! Timers run on virtual time: `setTimeout(f, 1000)` runs `f` as soon as
//! nothing else is pending, in the order of its delay, without sleeping. A
//! step cannot usefully wait, and spinning would only burn its CPU budget.

use crate::error;
use crate::exports::weft::plugin::js::{JsError, JsErrorKind};
use boa_engine::builtins::promise::PromiseState;
use boa_engine::object::ObjectInitializer;
use boa_engine::object::builtins::{JsArrayBuffer, JsPromise};
use boa_engine::property::Attribute;
use boa_engine::{Context, JsArgs, JsNativeError, JsObject, JsResult, JsValue, NativeFunction, js_string};
use std::cell::RefCell;

struct Timer {
    id: u32,
    due: u64,
    callback: JsObject,
    args: Vec<JsValue>,
}

#[derive(Default)]
struct Timers {
    pending: Vec<Timer>,
    now: u64,
    next_id: u32,
}

thread_local! {
    static TIMERS: RefCell<Timers> = RefCell::default();
}

/// More timer callbacks than this in one run is a runaway `setTimeout` loop.
const MAX_TIMER_CALLBACKS: u32 = 100_000;

fn set_timeout(_: &JsValue, args: &[JsValue], _: &mut Context) -> JsResult<JsValue> {
    let callback = args
        .get_or_undefined(0)
        .as_callable()
        .ok_or_else(|| JsNativeError::typ().with_message("setTimeout needs a function"))?;
    let delay = args.get_or_undefined(1).as_number().filter(|d| d.is_finite() && *d > 0.0).unwrap_or(0.0) as u64;
    let rest = args.get(2..).unwrap_or(&[]).to_vec();
    let id = TIMERS.with_borrow_mut(|t| {
        t.next_id += 1;
        let (id, due) = (t.next_id, t.now.saturating_add(delay));
        t.pending.push(Timer { id, due, callback, args: rest });
        id
    });
    Ok(id.into())
}

fn clear_timeout(_: &JsValue, args: &[JsValue], _: &mut Context) -> JsResult<JsValue> {
    if let Some(id) = args.get_or_undefined(0).as_number() {
        TIMERS.with_borrow_mut(|t| t.pending.retain(|timer| f64::from(timer.id) != id));
    }
    Ok(JsValue::undefined())
}

fn next_timer() -> Option<Timer> {
    TIMERS.with_borrow_mut(|t| {
        // Earliest due first; equal delays in the order they were set.
        let i = (0..t.pending.len()).min_by_key(|&i| (t.pending[i].due, t.pending[i].id))?;
        let timer = t.pending.remove(i);
        t.now = timer.due;
        Some(timer)
    })
}

/// Runs promise jobs and due timers until nothing is left.
pub(crate) fn drain(cx: &mut Context) -> Result<(), JsError> {
    let mut callbacks = 0;
    loop {
        cx.run_jobs().map_err(|e| error::from_js(e, cx))?;
        let Some(timer) = next_timer() else { return Ok(()) };
        callbacks += 1;
        if callbacks > MAX_TIMER_CALLBACKS {
            return Err(error::other(&format!("more than {MAX_TIMER_CALLBACKS} timer callbacks ran in one step")));
        }
        timer.callback.call(&JsValue::undefined(), &timer.args, cx).map_err(|e| error::from_js(e, cx))?;
    }
}

/// The value a returned promise settles to, after draining every job.
pub(crate) fn settle(value: JsValue, cx: &mut Context) -> Result<JsValue, JsError> {
    drain(cx)?;
    let Some(promise) = value.as_promise() else { return Ok(value) };
    match promise.state() {
        PromiseState::Fulfilled(v) => Ok(v),
        PromiseState::Rejected(reason) => Err(error::from_js(boa_engine::JsError::from_opaque(reason), cx)),
        PromiseState::Pending => Err(JsError {
            kind: JsErrorKind::Other,
            message: "the function's promise never settled: it waits for something that cannot happen in a step".into(),
            line: None,
            column: None,
        }),
    }
}

fn random_fill(bytes: &mut [u8]) -> JsResult<()> {
    getrandom::fill(bytes).map_err(|e| JsNativeError::error().with_message(format!("no randomness: {e}")).into())
}

/// `crypto.getRandomValues(typedArray)`: fills the array's bytes in place.
fn get_random_values(_: &JsValue, args: &[JsValue], cx: &mut Context) -> JsResult<JsValue> {
    let target = args.get_or_undefined(0).clone();
    let not_typed = || JsNativeError::typ().with_message("crypto.getRandomValues needs an integer typed array");
    let view = target.as_object().ok_or_else(not_typed)?;
    let buffer = view.get(js_string!("buffer"), cx)?.as_object().ok_or_else(not_typed)?;
    let offset = view.get(js_string!("byteOffset"), cx)?.to_length(cx)? as usize;
    let length = view.get(js_string!("byteLength"), cx)?.to_length(cx)? as usize;
    if length > 65_536 {
        return Err(JsNativeError::range().with_message("crypto.getRandomValues fills at most 65536 bytes").into());
    }
    let buffer = JsArrayBuffer::from_object(buffer)?;
    let mut data = buffer.data_mut().ok_or_else(|| JsNativeError::typ().with_message("the buffer is detached"))?;
    let slice = data.get_mut(offset..offset + length).ok_or_else(not_typed)?;
    random_fill(slice)?;
    Ok(target)
}

/// `crypto.randomUUID()`: a version 4 UUID.
fn random_uuid(_: &JsValue, _: &[JsValue], _: &mut Context) -> JsResult<JsValue> {
    let mut b = [0u8; 16];
    random_fill(&mut b)?;
    b[6] = (b[6] & 0x0f) | 0x40;
    b[8] = (b[8] & 0x3f) | 0x80;
    let hex: String = b.iter().map(|x| format!("{x:02x}")).collect();
    let uuid = format!("{}-{}-{}-{}-{}", &hex[..8], &hex[8..12], &hex[12..16], &hex[16..20], &hex[20..]);
    Ok(js_string!(uuid).into())
}

/// Defines `setTimeout`, `clearTimeout`, `setImmediate` and `crypto`.
pub(crate) fn install(cx: &mut Context) -> JsResult<()> {
    let hidden = Attribute::WRITABLE | Attribute::CONFIGURABLE;
    cx.register_global_builtin_callable(js_string!("setTimeout"), 2, NativeFunction::from_fn_ptr(set_timeout))?;
    cx.register_global_builtin_callable(js_string!("setImmediate"), 1, NativeFunction::from_fn_ptr(set_timeout))?;
    cx.register_global_builtin_callable(js_string!("clearTimeout"), 1, NativeFunction::from_fn_ptr(clear_timeout))?;
    let crypto = ObjectInitializer::new(cx)
        .function(NativeFunction::from_fn_ptr(get_random_values), js_string!("getRandomValues"), 1)
        .function(NativeFunction::from_fn_ptr(random_uuid), js_string!("randomUUID"), 0)
        .build();
    cx.register_global_property(js_string!("crypto"), crypto, hidden)
}

/// Resolves or rejects at once: the host call below is synchronous.
fn settled(result: JsResult<JsValue>, cx: &mut Context) -> JsResult<JsValue> {
    let promise = match result {
        Ok(v) => JsPromise::resolve(v, cx)?,
        Err(e) => JsPromise::reject(e, cx)?,
    };
    Ok(promise.into())
}

/// `libraries.fetch(url, {method, headers, body})` (`body` a string, bytes
/// or a `FormData`), sent by the host's
/// egress client (its address policy, time and size caps apply).
pub(crate) fn fetch(_: &JsValue, args: &[JsValue], cx: &mut Context) -> JsResult<JsValue> {
    let result = fetch_now(args, cx);
    settled(result, cx)
}

fn fetch_now(args: &[JsValue], cx: &mut Context) -> JsResult<JsValue> {
    use crate::weft::plugin::http::{self, Auth, Method, Request};
    let url = args.get_or_undefined(0).to_string(cx)?.to_std_string_lossy();
    let init = args.get_or_undefined(1).as_object();
    let mut method = Method::Get;
    let mut headers = Vec::new();
    let mut body = None;
    if let Some(init) = init {
        let m = init.get(js_string!("method"), cx)?;
        if !m.is_undefined() {
            let m = m.to_string(cx)?.to_std_string_lossy().to_ascii_uppercase();
            method = match m.as_str() {
                "GET" => Method::Get,
                "HEAD" => Method::Head,
                "POST" => Method::Post,
                "PUT" => Method::Put,
                "PATCH" => Method::Patch,
                "DELETE" => Method::Delete,
                "OPTIONS" => Method::Options,
                _ => return Err(JsNativeError::typ().with_message(format!("fetch: unsupported method {m}")).into()),
            };
        }
        if let Some(h) = init.get(js_string!("headers"), cx)?.as_object() {
            for key in h.own_property_keys(cx)? {
                let value = h.get(key.clone(), cx)?.to_string(cx)?.to_std_string_lossy();
                headers.push((key.to_string(), value));
            }
        }
        let b = init.get(js_string!("body"), cx)?;
        if !b.is_undefined() && !b.is_null() {
            body = Some(request_body(&b, &mut headers, cx)?);
        }
    }
    let req =
        Request { method, url: url.clone(), headers, query: Vec::new(), body, auth: Auth::None, timeout_ms: None };
    let resp = http::fetch(&req).map_err(|e| JsNativeError::typ().with_message(format!("fetch failed: {e:?}")))?;
    response(url, resp, cx)
}

/// A request body's bytes: a `FormData` as multipart/form-data (setting the
/// content type with its boundary unless the caller set one), bytes as they
/// are, anything else as its string.
fn request_body(body: &JsValue, headers: &mut Vec<(String, String)>, cx: &mut Context) -> JsResult<Vec<u8>> {
    let Some(object) = body.as_object() else { return crate::native::bytes(body, cx) };
    let encode = object.get(js_string!("_encode"), cx)?;
    let boundary = object.get(js_string!("getBoundary"), cx)?;
    let (Some(encode), Some(boundary)) = (encode.as_callable(), boundary.as_callable()) else {
        return crate::native::bytes(body, cx);
    };
    let boundary = boundary.call(body, &[], cx)?.to_string(cx)?.to_std_string_lossy();
    if !headers.iter().any(|(name, _)| name.eq_ignore_ascii_case("content-type")) {
        headers.push(("content-type".into(), format!("multipart/form-data; boundary={boundary}")));
    }
    let encoded = encode.call(body, &[], cx)?;
    crate::native::bytes(&encoded, cx)
}

fn response(url: String, resp: crate::weft::plugin::http::Response, cx: &mut Context) -> JsResult<JsValue> {
    let mut headers = ObjectInitializer::new(cx);
    for (name, value) in &resp.headers {
        headers.property(js_string!(name.to_ascii_lowercase()), js_string!(value.as_str()), Attribute::all());
    }
    let get = NativeFunction::from_fn_ptr(|this, args, cx| {
        let name = args.get_or_undefined(0).to_string(cx)?.to_std_string_lossy().to_ascii_lowercase();
        let this = this.as_object().ok_or_else(|| JsNativeError::typ().with_message("headers.get on a non-object"))?;
        let v = this.get(js_string!(name), cx)?;
        Ok(if v.is_undefined() { JsValue::null() } else { v })
    });
    let headers = headers.function(get, js_string!("get"), 1).build();
    let body = String::from_utf8_lossy(&resp.body).into_owned();
    let text = NativeFunction::from_fn_ptr(|this, _, cx| {
        let body = this.as_object().map(|o| o.get(js_string!("_body"), cx)).transpose()?.unwrap_or_default();
        settled(Ok(body), cx)
    });
    let json = NativeFunction::from_fn_ptr(|this, _, cx| {
        let body = this.as_object().map(|o| o.get(js_string!("_body"), cx)).transpose()?.unwrap_or_default();
        let parse = cx.global_object().get(js_string!("JSON"), cx)?.as_object().map(|j| j.get(js_string!("parse"), cx));
        let result = match parse.transpose()?.and_then(|p| p.as_callable()) {
            Some(parse) => parse.call(&JsValue::undefined(), &[body], cx),
            None => Err(JsNativeError::typ().with_message("JSON.parse is missing").into()),
        };
        settled(result, cx)
    });
    let status = resp.status;
    let response = ObjectInitializer::new(cx)
        .property(js_string!("status"), status, Attribute::all())
        .property(js_string!("ok"), (200..300).contains(&status), Attribute::all())
        .property(js_string!("url"), js_string!(url), Attribute::all())
        .property(js_string!("headers"), headers, Attribute::all())
        .property(js_string!("_body"), js_string!(body), Attribute::WRITABLE)
        .function(text, js_string!("text"), 0)
        .function(json, js_string!("json"), 0)
        .build();
    Ok(response.into())
}
