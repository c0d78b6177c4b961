//! The actions of `test-echo`. Import failures that a test wants to observe
//! are returned as `{"error": kind, "message": …}` outputs rather than plugin
//! errors, so the test sees the exact case the host produced.

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use serde_json::Value;
use weft_sdk::http::{HttpError, RequestAuth};
use weft_sdk::log::Level;
use weft_sdk::secrets::SecretError;
use weft_sdk::state::{self, StateError};
use weft_sdk::webhook::{Encoding, HmacAlgorithm, verify_hmac};
use weft_sdk::{Action, Ctx, Effect, Empty, Error, Paged, Result, cursor};

type Headers = Vec<(String, String)>;

pub(crate) fn all() -> Vec<Action> {
    vec![
        Action::new("ECHO", "Echo", echo).description("Returns its input and the call's ids"),
        Action::new("HTTP_GET", "HTTP GET", http_get),
        Action::new("HTTP_GET_MAPPED", "HTTP GET (mapped)", http_get_mapped),
        Action::new("HTTP_FETCH_ALL", "HTTP fetch all", http_fetch_all),
        Action::new("STATE_SET", "Set state", state_set).effect(Effect::Write),
        Action::new("STATE_GET", "Get state", state_get),
        Action::new("STATE_DELETE", "Delete state", state_delete).effect(Effect::Destructive),
        Action::new("SECRET_GET", "Get secret", secret_get),
        Action::new("VERIFY_HMAC", "Verify HMAC", verify),
        Action::new("LOG", "Log", log),
        Action::paginated("PAGES", "Pages", pages),
        Action::new("FAIL", "Fail", fail),
    ]
}

/// An import failure reported as output: `{"error": kind, "message": …}`.
#[derive(Serialize, JsonSchema)]
struct Failure {
    error: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    message: Option<String>,
}

impl Failure {
    fn new(kind: &str, message: Option<String>) -> Self {
        Self { error: kind.to_string(), message }
    }
}

impl From<HttpError> for Failure {
    fn from(e: HttpError) -> Self {
        Self::new(e.kind(), Some(e.message()))
    }
}

impl From<StateError> for Failure {
    fn from(e: StateError) -> Self {
        Self::new(e.kind(), Some(e.to_string()))
    }
}

/// Either the action's output or a [`Failure`].
#[derive(Serialize, JsonSchema)]
#[serde(untagged)]
enum Outcome<T> {
    Done(T),
    Failed(Failure),
}

impl<T, E: Into<Failure>> From<std::result::Result<T, E>> for Outcome<T> {
    fn from(r: std::result::Result<T, E>) -> Self {
        match r {
            Ok(v) => Self::Done(v),
            Err(e) => Self::Failed(e.into()),
        }
    }
}

#[derive(Deserialize, JsonSchema)]
struct EchoIn {
    message: Value,
}

#[derive(Serialize, JsonSchema)]
struct EchoOut {
    message: Value,
    invocation_id: String,
    connection_id: Option<String>,
}

// The benchmarked action: nothing but moving the input to the output.
fn echo(cx: &Ctx, input: EchoIn) -> Result<EchoOut> {
    Ok(EchoOut {
        message: input.message,
        invocation_id: cx.invocation_id().to_owned(),
        connection_id: cx.connection_id().map(str::to_owned),
    })
}

#[derive(Deserialize, JsonSchema)]
struct HttpGetIn {
    url: String,
    #[serde(default)]
    auth: bool,
    #[serde(default)]
    headers: Headers,
}

#[derive(Serialize, JsonSchema)]
struct HttpGetOut {
    status: u16,
    body: String,
    headers: Headers,
}

fn http_get(cx: &Ctx, input: HttpGetIn) -> Result<Outcome<HttpGetOut>> {
    let auth = if input.auth { RequestAuth::Connection } else { RequestAuth::None };
    let mut request = cx.http().get(input.url).auth(auth);
    for (name, value) in input.headers {
        request = request.header(name, value);
    }
    let answer =
        request.send_raw().map(|r| HttpGetOut { status: r.status, body: r.text().into_owned(), headers: r.headers });
    Ok(answer.into())
}

#[derive(Deserialize, JsonSchema)]
struct UrlIn {
    url: String,
}

#[derive(Serialize, JsonSchema)]
struct StatusOut {
    status: u16,
}

fn http_get_mapped(cx: &Ctx, input: UrlIn) -> Result<StatusOut> {
    let answer = cx.http().get(input.url).send()?;
    Ok(StatusOut { status: answer.status })
}

#[derive(Deserialize, JsonSchema)]
struct UrlsIn {
    urls: Vec<String>,
}

fn http_fetch_all(cx: &Ctx, input: UrlsIn) -> Result<Vec<Outcome<StatusOut>>> {
    let http = cx.http();
    let requests = input.urls.into_iter().map(|url| http.get(url)).collect();
    let answers = http.fetch_all(requests).into_iter().map(|answer| match answer {
        Ok(r) => Outcome::Done(StatusOut { status: r.status }),
        Err(e) => Outcome::Failed(Failure::new(e.kind(), None)),
    });
    Ok(answers.collect())
}

#[derive(Deserialize, JsonSchema)]
struct StateSetIn {
    key: String,
    value: String,
    #[serde(default)]
    ttl_seconds: Option<u32>,
}

fn state_set(_cx: &Ctx, input: StateSetIn) -> Result<Outcome<Empty>> {
    let done = state::set(&input.key, input.value, input.ttl_seconds);
    Ok(done.map(|()| Empty {}).into())
}

#[derive(Deserialize, JsonSchema)]
struct KeyIn {
    key: String,
}

#[derive(Serialize, JsonSchema)]
struct ValueOut {
    value: Option<String>,
}

fn state_get(_cx: &Ctx, input: KeyIn) -> Result<Outcome<ValueOut>> {
    let value =
        state::get(&input.key).map(|v| ValueOut { value: v.map(|bytes| String::from_utf8_lossy(&bytes).into_owned()) });
    Ok(value.into())
}

fn state_delete(_cx: &Ctx, input: KeyIn) -> Result<Outcome<Empty>> {
    Ok(state::delete(&input.key).map(|()| Empty {}).into())
}

#[derive(Deserialize, JsonSchema)]
struct NameIn {
    name: String,
}

#[derive(Serialize, JsonSchema)]
struct SecretOut {
    value: String,
}

fn secret_get(_cx: &Ctx, input: NameIn) -> Result<Outcome<SecretOut>> {
    Ok(match weft_sdk::secrets::get(&input.name) {
        Ok(value) => Outcome::Done(SecretOut { value }),
        Err(SecretError::NotFound) => Outcome::Failed(Failure::new("not-found", None)),
        Err(SecretError::Denied(m)) => Outcome::Failed(Failure::new("denied", Some(m))),
    })
}

#[derive(Deserialize, JsonSchema)]
struct VerifyIn {
    secret: String,
    algorithm: HmacAlgorithm,
    message: String,
    signature: String,
    encoding: Encoding,
}

#[derive(Serialize, JsonSchema)]
struct VerifyOut {
    valid: bool,
}

fn verify(_cx: &Ctx, input: VerifyIn) -> Result<VerifyOut> {
    let message = input.message.as_bytes();
    let valid = verify_hmac(&input.secret, input.algorithm, message, &input.signature, input.encoding);
    Ok(VerifyOut { valid })
}

#[derive(Deserialize, JsonSchema)]
struct LogIn {
    level: Level,
    message: String,
    #[serde(default)]
    fields: Headers,
}

fn log(_cx: &Ctx, input: LogIn) -> Result<Empty> {
    weft_sdk::log::log(input.level, &input.message, &input.fields);
    Ok(Empty {})
}

#[derive(Deserialize, JsonSchema)]
struct PagesIn {
    pages: u32,
}

#[derive(Serialize, JsonSchema)]
struct PageOut {
    page: u32,
}

fn pages(_cx: &Ctx, input: PagesIn, page: Option<String>) -> Result<Paged<PageOut>> {
    let page: u32 = cursor::decode(page.as_deref())?.unwrap_or(1);
    let output = PageOut { page };
    if page >= input.pages { Ok(Paged::last(output)) } else { Paged::next(output, &(page + 1)) }
}

#[derive(Deserialize, JsonSchema)]
struct FailIn {
    kind: String,
    message: String,
}

fn fail(_cx: &Ctx, input: FailIn) -> Result<Empty> {
    let m = input.message;
    Err(match input.kind.as_str() {
        "invalid-input" => Error::invalid_input(m),
        "unauthorized" => Error::unauthorized(m),
        "forbidden" => Error::forbidden(m),
        "not-found" => Error::not_found(m),
        "rate-limited" => Error::rate_limited(Some(1500), m),
        "upstream" => Error::upstream(503, m, Some("oops".to_string())),
        "unsupported" => Error::unsupported(m),
        "internal" => Error::internal(m),
        other => Error::invalid_input(format!("unknown error kind `{other}`")),
    })
}
