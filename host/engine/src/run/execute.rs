//! Running one step of each kind: resolve its settings, do what it says,
//! and say what the plan queues next.

use base64::Engine as _;
use serde_json::{Map, Value, json};
use std::time::Duration;
use weft_egress::{Method as Verb, OutboundRequest, OutboundResponse};
use weft_store::{ClaimedStep, Outcome};

use super::{Engine, Executed, Failure, Ran, context, paginate, preset};
use crate::definition::{Authorization, BodyType, HttpFields, Method, ResponseType, StepKind};
use crate::plan::Plan;
use crate::template::{Resolved, resolve};

/// Runs `step` as its definition in `plan` says.
pub(crate) async fn run(engine: &Engine, plan: &Plan, step: &ClaimedStep) -> Executed {
    let mut executed = Executed { result: Err(failure(Value::Null, "unknown step", false)), tasks: 0, response: None };
    let Some(def) = plan.step(&step.step) else {
        executed.result = Err(failure(Value::Null, &format!("the workflow has no step {:?}", step.step), false));
        return executed;
    };
    let templated = def.templated();
    let cx = match context::load(engine, plan, step, &templated).await {
        Ok(cx) => cx,
        Err(message) => {
            executed.result = Err(failure(Value::Null, &message, true));
            return executed;
        }
    };
    let resolved = match def.kind.pagination() {
        // The first page's request: no page token yet.
        Some(_) => paginate::first_input(&templated, &cx),
        None => resolve(&templated, &cx),
    };
    let Resolved { input, recorded } = match resolved {
        Ok(r) => r,
        Err(e) => {
            executed.result = Err(failure(Value::Null, &e.to_string(), false));
            return executed;
        }
    };
    let limit = engine.deps.settings.max_step_bytes;
    if let Some(message) = over_limit(&step.step, "input", &input, limit) {
        executed.result = Err(failure(Value::Null, &message, false));
        return executed;
    }
    let after = || plan.after(&step.step, &step.instance);
    executed.result = match &def.kind {
        StepKind::Delay { .. } => Ok(Ran { outcome: done(recorded, Value::Null), next: after() }),
        StepKind::Conditional { condition, .. } => match condition.evaluate(&cx) {
            Ok(yes) => Ok(Ran {
                outcome: done(recorded, json!({ "selectedChoice": if yes { "Yes" } else { "No" } })),
                next: plan.branch(&step.step, &step.instance, yes),
            }),
            Err(e) => Err(failure(recorded, &e.to_string(), false)),
        },
        StepKind::FanOut { .. } => match input.get("iterator") {
            Some(Value::Array(items)) => {
                let n = u32::try_from(items.len()).unwrap_or(u32::MAX);
                Ok(Ran {
                    outcome: Outcome::FannedOut { input: recorded, output: Value::Array(items.clone()), instances: n },
                    next: plan.instances(
                        &step.step,
                        &step.instance,
                        n,
                        engine.fan_out_bound(plan, &step.step).unwrap_or(u32::MAX),
                    ),
                })
            }
            other => Err(failure(
                recorded,
                &format!("a fan-out iterates over an array; its iterator resolved to {}", kind_of(other)),
                false,
            )),
        },
        StepKind::Response(r) => {
            let status = input.get("statusCode").and_then(Value::as_u64).unwrap_or(u64::from(r.status_code));
            let body = input.get("body").cloned().unwrap_or(Value::Null);
            let kind = match r.response_type {
                ResponseType::Json => "JSON",
                ResponseType::File => "FILE",
            };
            executed.response = Some(json!({ "statusCode": status, "responseType": kind, "body": body }));
            Ok(Ran { outcome: done(recorded, Value::Null), next: after() })
        }
        StepKind::Request(_) | StepKind::IntegrationRequest(_) => {
            let (result, tasks) = match (def.kind.pagination(), def.kind.preset_pagination()) {
                (Some(pagination), _) => {
                    let pager = paginate::Pager { engine, plan, step, pagination, templated: &templated, cx: &cx };
                    pager.run(input).await
                }
                (None, Some(_)) => preset::run(engine, plan, step, input).await,
                (None, None) => (fetch(engine, plan, step, &input).await, 1),
            };
            executed.tasks = tasks;
            match result {
                Ok(response) => Ok(Ran { outcome: done(recorded, response), next: after() }),
                Err((error, retriable)) => Err(Failure { input: recorded, error, retriable }),
            }
        }
        StepKind::ResourceRequest(r) => {
            executed.tasks = 1;
            match resource_request(engine, step, r, &input).await {
                Ok(response) => Ok(Ran { outcome: done(recorded, response), next: after() }),
                Err((error, retriable)) => Err(Failure { input: recorded, error, retriable }),
            }
        }
        StepKind::IntegrationAction(a) => {
            executed.tasks = 1;
            let integration = plan.workflow().integration.clone().unwrap_or_default();
            let result = match (&engine.deps.plugins, account(engine, step, &integration).await) {
                (Some(plugins), Ok(credential)) => {
                    let input = input.get("input").cloned().unwrap_or(json!({}));
                    let mut result = plugins
                        .run_action(step.project, &integration, credential, &a.action, input, &step.idempotency_key)
                        .await;
                    match &mut result {
                        Ok(v) | Err(v) => redact(engine, step, credential, v).await,
                    }
                    result
                }
                (None, _) => Err(json!({"message": "integration actions are not available: no plugin host is wired"})),
                (_, Err(message)) => Err(json!({ "message": message })),
            };
            match result {
                Ok(output) => Ok(Ran { outcome: done(recorded, output), next: after() }),
                Err(mut error) => {
                    // A rate limit the plugin could not time waits the
                    // engine's default window.
                    if let Some(limit) = error.get_mut(RATE_LIMIT).and_then(Value::as_object_mut)
                        && !limit.get("retryAfterMs").is_some_and(Value::is_u64)
                    {
                        let wait = engine.deps.settings.rate_limit_wait.as_millis();
                        limit.insert("retryAfterMs".into(), json!(u64::try_from(wait).unwrap_or(u64::MAX)));
                    }
                    Err(Failure { input: recorded, error, retriable: true })
                }
            }
        }
        StepKind::Function(f) => {
            executed.tasks = 1;
            let parameters = input.get("parameters").cloned().unwrap_or(json!({}));
            let result = match (&engine.deps.plugins, &f.function, &f.code) {
                (Some(plugins), Some(function), _) => plugins
                    .run_function(step.project, function, step.workflow, &step.step, parameters, &step.idempotency_key)
                    .await
                    .map(|output| json!({ "result": output })),
                // Already `{"result": …}`, with the console's lines when it wrote any.
                (Some(plugins), None, Some(code)) => {
                    plugins.run_code(step.project, code, parameters, &step.idempotency_key).await
                }
                (Some(_), None, None) => Err(json!({"message": "the function step has neither `function` nor `code`"})),
                (None, _, _) => Err(json!({"message": "function steps are not available: no plugin host is wired"})),
            };
            match result {
                Ok(output) => Ok(Ran { outcome: done(recorded, output), next: after() }),
                Err(error) => Err(Failure { input: recorded, error, retriable: true }),
            }
        }
    };
    if let Ok(ran) = &executed.result
        && let Outcome::Succeeded { input, output } | Outcome::FannedOut { input, output, .. } = &ran.outcome
        && let Some(message) = over_limit(&step.step, "output", output, limit)
    {
        executed.result = Err(failure(input.clone(), &message, false));
    }
    // A task is a step that did its work: a failed attempt counts nothing,
    // so a retried step counts once, when it succeeds.
    if executed.result.is_err() {
        executed.tasks = 0;
    }
    executed
}

/// The account a step acts as: the one the execution was started for, or
/// the user's (first) account of the integration.
async fn account(engine: &Engine, step: &ClaimedStep, integration: &str) -> Result<weft_store::CredentialId, String> {
    if let Some(credential) = step.credential {
        return Ok(credential);
    }
    let user = step.user.as_deref().ok_or("the execution has no connected user to act as")?;
    let session = engine
        .deps
        .credentials
        .session(step.project, user, weft_credentials::IntegrationRef::Type(integration), None)
        .await
        .map_err(|e| format!("the user's {integration} account cannot be used: {e}"))?;
    Ok(session.credential().id)
}

/// The error of a step whose input or output is over `limit` bytes of
/// JSON (`workflows.max_step_bytes`), naming the step; `None` within it.
pub(super) fn over_limit(step: &str, what: &str, value: &Value, limit: u64) -> Option<String> {
    let size = json_size(value);
    (size > limit).then(|| {
        format!(
            "step `{step}`: its {what} is {size} bytes of JSON, over the limit of {limit} bytes \
             (workflows.max_step_bytes); pass less data through it, for example a file's URL instead of its bytes"
        )
    })
}

/// Bytes of `value` as JSON, counted without writing them anywhere.
pub(super) fn json_size(value: &Value) -> u64 {
    struct Count(u64);
    impl std::io::Write for Count {
        fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
            self.0 += buf.len() as u64;
            Ok(buf.len())
        }
        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }
    let mut count = Count(0);
    // Writing a `Value` to a sink that never fails cannot fail.
    let _ = serde_json::to_writer(&mut count, value);
    count.0
}

fn done(input: Value, output: Value) -> Outcome {
    Outcome::Succeeded { input, output }
}

fn failure(input: Value, message: &str, retriable: bool) -> Failure {
    Failure { input, error: json!({ "message": message }), retriable }
}

pub(super) fn kind_of(v: Option<&Value>) -> &'static str {
    match v {
        None | Some(Value::Null) => "nothing",
        Some(Value::Bool(_)) => "a boolean",
        Some(Value::Number(_)) => "a number",
        Some(Value::String(_)) => "text",
        Some(Value::Array(_)) => "an array",
        Some(Value::Object(_)) => "an object",
    }
}

fn verb(m: Method) -> Verb {
    match m {
        Method::Get => Verb::Get,
        Method::Post => Verb::Post,
        Method::Put => Verb::Put,
        Method::Patch => Verb::Patch,
        Method::Delete => Verb::Delete,
    }
}

/// A scalar as the text a URL or header carries.
fn text(v: &Value) -> String {
    match v {
        Value::String(s) => s.clone(),
        Value::Null => String::new(),
        other => other.to_string(),
    }
}

/// The request's query pairs, headers, body and content type, from the
/// resolved fields.
struct Parts {
    query: Vec<(String, String)>,
    headers: Vec<(String, String)>,
    body: Option<Vec<u8>>,
}

fn parts(http: &HttpFields, input: &Value) -> Result<Parts, String> {
    let map = |name: &str| input.get(name).and_then(Value::as_object).cloned().unwrap_or_default();
    let query = map("params").iter().map(|(k, v)| (k.clone(), text(v))).collect();
    let mut headers: Vec<(String, String)> = map("headers").iter().map(|(k, v)| (k.clone(), text(v))).collect();
    let has = |headers: &[(String, String)], n: &str| headers.iter().any(|(k, _)| k.eq_ignore_ascii_case(n));
    // `X-Paragon-Encoding: hex`: the body is file data, sent as its bytes.
    let encoding = headers.iter().position(|(k, _)| k.eq_ignore_ascii_case(ENCODING_HEADER));
    let hex_body = match encoding.map(|i| headers.remove(i).1) {
        Some(e) if e.eq_ignore_ascii_case("hex") => true,
        Some(other) => return Err(format!("{ENCODING_HEADER} {other:?} is not supported; use hex")),
        None => false,
    };
    let body = match (http.body_type, input.get("body")) {
        (_, Some(body)) if hex_body => {
            let (bytes, content_type) = hex_data(body)?;
            if !has(&headers, "content-type") {
                headers.push(("content-type".into(), content_type));
            }
            Some(bytes)
        }
        (Some(kind), Some(body)) => {
            let (bytes, content_type) = encode(kind, body)?;
            if !has(&headers, "content-type") {
                headers.push(("content-type".into(), content_type));
            }
            Some(bytes)
        }
        _ => None,
    };
    Ok(Parts { query, headers, body })
}

/// The header that says a Request step's body is encoded file data.
const ENCODING_HEADER: &str = "x-paragon-encoding";

/// Hex file data as bytes, with their content type: a Paragon file object
/// (its `data` and `mimeType`), or hex text.
fn hex_data(body: &Value) -> Result<(Vec<u8>, String), String> {
    let (data, mime) = match body {
        Value::String(s) => (s.as_str(), "application/octet-stream"),
        file => (
            file.get("data").and_then(Value::as_str).ok_or("a hex-encoded body is hex text or a file object")?,
            file.get("mimeType").and_then(Value::as_str).unwrap_or("application/octet-stream"),
        ),
    };
    let bytes = hex::decode(data.trim()).map_err(|e| format!("the body is not valid hex: {e}"))?;
    Ok((bytes, mime.to_owned()))
}

/// Whether `v` is a Paragon file object.
fn is_file(v: &Value) -> bool {
    v.get("dataType").and_then(Value::as_str) == Some("FILE") && v.get("data").is_some_and(Value::is_string)
}

/// A body in its type's encoding, with its content type.
fn encode(kind: BodyType, body: &Value) -> Result<(Vec<u8>, String), String> {
    Ok(match kind {
        BodyType::Json => (serde_json::to_vec(body).map_err(|e| e.to_string())?, "application/json".into()),
        BodyType::UrlEncoded => {
            let fields = body.as_object().ok_or("an x-www-form-urlencoded body is an object of fields")?;
            let mut out = url::form_urlencoded::Serializer::new(String::new());
            for (k, v) in fields {
                out.append_pair(k, &text(v));
            }
            (out.finish().into_bytes(), "application/x-www-form-urlencoded".into())
        }
        BodyType::FormData => {
            let fields = body.as_object().ok_or("a form-data body is an object of fields")?;
            let boundary = format!("weft-{}", uuid::Uuid::new_v4().simple());
            let mut out = Vec::new();
            for (k, v) in fields {
                let k = quoted(k);
                if is_file(v) {
                    // A file object is sent as a file part: its bytes.
                    let (bytes, mime) = hex_data(v)?;
                    let name = quoted(v.get("name").and_then(Value::as_str).unwrap_or("file"));
                    out.extend_from_slice(
                        format!(
                            "--{boundary}\r\ncontent-disposition: form-data; name=\"{k}\"; filename=\"{name}\"\r\n\
                             content-type: {mime}\r\n\r\n"
                        )
                        .as_bytes(),
                    );
                    out.extend_from_slice(&bytes);
                } else {
                    out.extend_from_slice(
                        format!("--{boundary}\r\ncontent-disposition: form-data; name=\"{k}\"\r\n\r\n").as_bytes(),
                    );
                    out.extend_from_slice(text(v).as_bytes());
                }
                out.extend_from_slice(b"\r\n");
            }
            out.extend_from_slice(format!("--{boundary}--\r\n").as_bytes());
            (out, format!("multipart/form-data; boundary={boundary}"))
        }
        BodyType::Xml => (text(body).into_bytes(), "application/xml".into()),
        BodyType::Raw => (text(body).into_bytes(), "text/plain".into()),
    })
}

/// A form-data name or file name inside its quotes: no quote, no line
/// break (which would end the header).
fn quoted(name: &str) -> String {
    name.chars().map(|c| if matches!(c, '"' | '\r' | '\n' | '\\') { '_' } else { c }).collect()
}

/// Whether an answer of this content type is a file rather than text.
fn is_binary(content_type: &str) -> bool {
    let essence = content_type.split(';').next().unwrap_or("").trim().to_ascii_lowercase();
    !(essence.is_empty()
        || essence.starts_with("text/")
        || essence.ends_with("json")
        || essence.ends_with("xml")
        || essence == "application/x-www-form-urlencoded"
        || essence == "application/javascript")
}

/// An answer as a step's output: `{response: {statusCode, headers, body}}`,
/// the body parsed when it is JSON, a Paragon file object when the answer
/// is a file (binary content), else text.
fn output(answer: &OutboundResponse) -> Value {
    let mut headers = Map::new();
    for (k, v) in &answer.headers {
        headers.insert(k.to_ascii_lowercase(), Value::String(v.clone()));
    }
    let content_type = headers.get("content-type").and_then(Value::as_str).unwrap_or("").to_owned();
    let body = if is_binary(&content_type) && !answer.body.is_empty() {
        let name = headers
            .get("content-disposition")
            .and_then(Value::as_str)
            .and_then(|d| d.split("filename=").nth(1))
            .map(|n| n.trim_matches(|c| c == '"' || c == ';' || c == ' ').to_owned())
            .unwrap_or_else(|| "file".into());
        json!({
            "name": name,
            "data": hex::encode(&answer.body),
            "mimeType": content_type.split(';').next().unwrap_or("").trim(),
            "dataType": "FILE",
        })
    } else {
        serde_json::from_slice::<Value>(&answer.body)
            .unwrap_or_else(|_| Value::String(String::from_utf8_lossy(&answer.body).into_owned()))
    };
    json!({ "response": { "statusCode": answer.status, "headers": headers, "body": body } })
}

/// An answer's outcome: 2xx and 3xx succeed; 4xx and 5xx fail with the
/// answer as the error (408, 429 and 5xx may succeed on a retry).
fn judged(answer: &OutboundResponse, rate_limit_wait: Duration) -> Result<Value, (Value, bool)> {
    let out = output(answer);
    if answer.status < 400 {
        return Ok(out);
    }
    let retriable = answer.status == 408 || answer.status == 429 || answer.status >= 500;
    let mut error = out;
    error["message"] = json!(format!("the request answered {}", answer.status));
    if answer.status == 429 {
        // The provider's window, as it says (`Retry-After`), else the
        // engine's default: the step waits for it (a rate-limit pause).
        let wait = answer
            .headers
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case("retry-after"))
            .and_then(|(_, v)| weft_egress::governor::retry_after(v, std::time::SystemTime::now()))
            .unwrap_or(rate_limit_wait);
        error[RATE_LIMIT] = json!({ "retryAfterMs": u64::try_from(wait.as_millis()).unwrap_or(u64::MAX) });
    }
    Err((error, retriable))
}

/// The field of a step's error saying it was rate limited, and for how
/// long: `{"retryAfterMs": …}` (also what the history shows).
const RATE_LIMIT: &str = "rateLimit";

/// How long a failed step's error says the provider asks it to wait, if it
/// was rate limited (a 429, or the governor's known budget).
pub(crate) fn rate_limited(error: &Value) -> Option<Duration> {
    error.get(RATE_LIMIT)?.get("retryAfterMs")?.as_u64().map(Duration::from_millis)
}

/// Sends a Request or Integration Request step's resolved `input` once:
/// the answer as the step's output, or its error and whether another
/// attempt may succeed.
pub(super) async fn fetch(
    engine: &Engine,
    plan: &Plan,
    step: &ClaimedStep,
    input: &Value,
) -> Result<Value, (Value, bool)> {
    match plan.step(&step.step).map(|s| &s.kind) {
        Some(StepKind::IntegrationRequest(_)) => integration_request(engine, plan, step, input).await,
        _ => request(engine, plan, step, input).await,
    }
}

/// A Request step: any URL, through the egress client, with its
/// authorization and the step's idempotency key.
async fn request(engine: &Engine, plan: &Plan, step: &ClaimedStep, input: &Value) -> Result<Value, (Value, bool)> {
    let message = |m: String, retriable: bool| (json!({ "message": m }), retriable);
    let Some(crate::definition::Step { kind: StepKind::Request(def), .. }) = plan.step(&step.step) else {
        return Err(message("not a request step".into(), false));
    };
    let raw = input.get("url").and_then(Value::as_str).unwrap_or_default();
    let mut url = url::Url::parse(raw).map_err(|_| message(format!("the URL {raw:?} does not parse"), false))?;
    let parts = parts(&def.http, input).map_err(|m| message(m, false))?;
    if !parts.query.is_empty() {
        url.query_pairs_mut().extend_pairs(&parts.query);
    }
    let mut req = OutboundRequest::new(verb(def.http.method), url);
    // An `Authorization` the author wrote in `headers` is the step's own
    // authorization: the egress client drops a caller's, so it goes as an
    // injected header, as `authorization` would (the loader refuses both).
    let (authorization, headers): (Vec<_>, Vec<_>) =
        parts.headers.into_iter().partition(|(name, _)| name.eq_ignore_ascii_case("authorization"));
    req.headers = headers;
    req.injected_headers.extend(authorization.into_iter().map(|(_, value)| ("authorization".to_owned(), value)));
    req.headers.push(("idempotency-key".into(), step.idempotency_key.clone()));
    req.body = parts.body.map(Into::into);
    req.timeout = Some(engine.deps.settings.request_timeout);
    req.max_response_bytes = Some(engine.deps.settings.max_response_bytes);
    match input.get("authorization") {
        Some(auth) if !auth.is_null() => {
            let auth: Authorization =
                serde_json::from_value(auth.clone()).map_err(|e| message(format!("authorization: {e}"), false))?;
            let value = match auth {
                Authorization::Basic { username, password } => format!(
                    "Basic {}",
                    base64::engine::general_purpose::STANDARD.encode(format!("{username}:{password}"))
                ),
                Authorization::Bearer { token } => format!("Bearer {token}"),
                Authorization::ClientCredentials { token_url, client_id, client_secret, scope } => {
                    format!("Bearer {}", client_token(engine, &token_url, client_id, client_secret, scope).await?)
                }
            };
            req.injected_headers.push(("authorization".into(), value));
        }
        _ => {}
    }
    let answer = engine.deps.egress.send(req).await.map_err(|e| {
        tracing::warn!(step = %step.step, error = %e, "a workflow request failed");
        message("the request failed before an answer arrived".into(), true)
    })?;
    judged(&answer, engine.deps.settings.rate_limit_wait)
}

/// An access token for a Request step's client-credentials authorization,
/// from the token endpoint through the egress client (the secret in the
/// form body). A refusal is the step's failure, named without the secret;
/// an unavailable endpoint may succeed on a retry.
async fn client_token(
    engine: &Engine,
    token_url: &str,
    client_id: String,
    client_secret: String,
    scope: Option<String>,
) -> Result<String, (Value, bool)> {
    use secrecy::ExposeSecret;
    let message = |m: String, retriable: bool| (json!({ "message": m }), retriable);
    let url = url::Url::parse(token_url)
        .map_err(|_| message(format!("the client-credentials token URL {token_url:?} does not parse"), false))?;
    let client = weft_auth::oauth::OAuthClient {
        client_id,
        client_secret: Some(client_secret.into()),
        auth: weft_auth::oauth::ClientAuth::Post,
    };
    let scopes: Vec<String> = scope.iter().flat_map(|s| s.split_whitespace()).map(str::to_owned).collect();
    let grant = weft_auth::oauth::Grant::ClientCredentials { scopes: &scopes };
    let timeout = engine.deps.settings.request_timeout;
    match weft_auth::oauth::request_token(engine.deps.egress.as_ref(), &url, &client, grant, timeout).await {
        Ok(token) => Ok(token.access_token.expose_secret().to_owned()),
        Err(e) => {
            let retriable = e.is_transient();
            Err(message(format!("the client-credentials token request failed: {e}"), retriable))
        }
    }
}

/// An Integration Request step: the integration's API as the user's
/// account, through the one authorised path (refresh and one retry on 401).
async fn integration_request(
    engine: &Engine,
    plan: &Plan,
    step: &ClaimedStep,
    input: &Value,
) -> Result<Value, (Value, bool)> {
    let message = |m: String, retriable: bool| (json!({ "message": m }), retriable);
    let Some(crate::definition::Step { kind: StepKind::IntegrationRequest(def), .. }) = plan.step(&step.step) else {
        return Err(message("not an integration request step".into(), false));
    };
    let session = integration_session(engine, plan, step).await.map_err(|m| message(m, false))?;
    send_step(engine, step, &session, &def.http, input).await
}

/// The account an integration step acts as: the execution's, or the
/// user's account of the workflow's integration.
pub(super) async fn integration_session(
    engine: &Engine,
    plan: &Plan,
    step: &ClaimedStep,
) -> Result<weft_credentials::Session, String> {
    let integration = plan.workflow().integration.clone().unwrap_or_default();
    let user = step.user.as_deref().ok_or("the execution has no connected user")?;
    engine
        .deps
        .credentials
        .session(step.project, user, weft_credentials::IntegrationRef::Type(&integration), step.credential)
        .await
        .map_err(|e| format!("the user's {integration} account cannot be used: {e}"))
}

/// A Resource Request step: the resource's API as the user's connection of
/// it (an app-level resource: the app's one connection), on the same
/// authorised path as an Integration Request.
async fn resource_request(
    engine: &Engine,
    step: &ClaimedStep,
    def: &crate::definition::ResourceRequestStep,
    input: &Value,
) -> Result<Value, (Value, bool)> {
    let message = |m: String, retriable: bool| (json!({ "message": m }), retriable);
    let credentials = &engine.deps.credentials;
    let id: weft_store::IntegrationId =
        def.resource.parse().map_err(|_| message(format!("{:?} is not an API resource's id", def.resource), false))?;
    let (_, resource) = credentials
        .resource(step.project, id)
        .await
        .map_err(|e| message(format!("the API resource {id} cannot be used: {e}"), false))?;
    let user = match resource.level {
        weft_catalog::resource::ResourceLevel::App => weft_credentials::APP_USER.to_owned(),
        weft_catalog::resource::ResourceLevel::User => {
            step.user.clone().ok_or_else(|| message("the execution has no connected user".into(), false))?
        }
    };
    let session = credentials
        .session(step.project, &user, weft_credentials::IntegrationRef::Id(id), None)
        .await
        .map_err(|e| message(format!("the {} resource's connection cannot be used: {e}", resource.name), false))?;
    send_step(engine, step, &session, &def.http, input).await
}

/// Sends a request step's resolved `input` as `session`'s account on the
/// one authorised path (refresh and one retry on 401); its answer, with the
/// account's secrets taken out, is the step's output or error.
async fn send_step(
    engine: &Engine,
    step: &ClaimedStep,
    session: &weft_credentials::Session,
    http: &HttpFields,
    input: &Value,
) -> Result<Value, (Value, bool)> {
    let message = |m: String, retriable: bool| (json!({ "message": m }), retriable);
    let parts = parts(http, input).map_err(|m| message(m, false))?;
    let target = input.get("url").and_then(Value::as_str).unwrap_or_default().to_owned();
    let (headers, body, timeout, cap) = (
        parts.headers,
        parts.body.map(bytes::Bytes::from),
        engine.deps.settings.request_timeout,
        engine.deps.settings.max_response_bytes,
    );
    let fill = move |req: &mut OutboundRequest| {
        req.headers = headers.clone();
        req.body = body.clone();
        req.timeout = Some(timeout);
        req.max_response_bytes = Some(cap);
    };
    let call = weft_credentials::Call { method: verb(http.method), target: &target, query: &parts.query, fill: &fill };
    let mut report = weft_credentials::Report::default();
    let streaming = engine.deps.credentials.send_as(session, call, &mut report).await.map_err(|e| {
        tracing::warn!(step = %step.step, error = %e, "a workflow integration request failed");
        let retriable =
            matches!(e, weft_credentials::SendError::RateLimited(_) | weft_credentials::SendError::Egress(_));
        let mut error = message(format!("the request could not be sent: {e}"), retriable);
        if let weft_credentials::SendError::RateLimited(wait) = e {
            error.0[RATE_LIMIT] = json!({ "retryAfterMs": u64::try_from(wait.as_millis()).unwrap_or(u64::MAX) });
        }
        error
    })?;
    let answer = streaming.collect().await.map_err(|_| message("the answer could not be read".into(), true))?;
    let credential = session.credential().id;
    match judged(&answer, engine.deps.settings.rate_limit_wait) {
        Ok(mut output) => {
            redact(engine, step, credential, &mut output).await;
            Ok(output)
        }
        Err((mut error, retriable)) => {
            redact(engine, step, credential, &mut error).await;
            Err((error, retriable))
        }
    }
}

/// Takes the account's secrets out of what a provider answered before it
/// is stored: a provider that echoes the request (or quotes it in an
/// error) must not put the account's key into the task history. The
/// secrets are read as stored now, not taken from the call's session: a
/// 401 may have made the call refresh and retry with a new token.
async fn redact(engine: &Engine, step: &ClaimedStep, credential: weft_store::CredentialId, value: &mut Value) {
    if let Err(e) = engine.deps.credentials.redact(step.project, credential, value).await {
        // Keep nothing that might hold a secret.
        tracing::warn!(step = %step.step, error = %e, "a step's output could not be checked for secrets; dropped");
        *value = json!({ "message": "the output was dropped: it could not be checked for secrets" });
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sizes_are_counted_as_json_and_the_error_names_the_step() {
        let v = json!({"a": [1, "two"], "b": null});
        assert_eq!(json_size(&v), serde_json::to_vec(&v).unwrap().len() as u64);
        assert_eq!(over_limit("s1", "input", &v, 1000), None);
        let message = over_limit("s1", "output", &v, 10).unwrap();
        assert!(message.starts_with("step `s1`: its output is 24 bytes"), "{message}");
    }
}
