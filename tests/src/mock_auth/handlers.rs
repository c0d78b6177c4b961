//! The HTTP side of the mock: one handler that records every request and
//! dispatches it by path.

use super::{AuthRecord, AuthState, CODE_TTL, CodeGrant, Fault, Issued, Shared, TokenDialect, pkce_challenge};
use axum::Router;
use axum::body::Body;
use axum::extract::{Request, State};
use axum::http::{HeaderMap, HeaderValue, Method, StatusCode, header};
use axum::response::{IntoResponse, Response};
use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use serde_json::{Value, json};
use std::time::{Duration, Instant};

pub(super) fn router(state: Shared) -> Router {
    Router::new().fallback(handle).with_state(state)
}

/// A request read in full.
struct Req {
    method: Method,
    path: String,
    query: Vec<(String, String)>,
    form: Vec<(String, String)>,
    is_form: bool,
    /// A JSON object body, read into `form` (string values as they are,
    /// others as JSON text).
    is_json: bool,
    headers: HeaderMap,
}

impl Req {
    /// The value of a parameter; empty values count as absent (RFC 6749 §3.1).
    fn param<'a>(pairs: &'a [(String, String)], name: &str) -> Option<&'a str> {
        pairs.iter().find(|(n, v)| n == name && !v.is_empty()).map(|(_, v)| v.as_str())
    }

    fn form(&self, name: &str) -> Option<&str> {
        Self::param(&self.form, name)
    }
}

/// The first parameter name that occurs more than once.
fn repeated(pairs: &[(String, String)]) -> Option<&str> {
    pairs.iter().enumerate().find(|(i, (n, _))| pairs[..*i].iter().any(|(m, _)| m == n)).map(|(_, (n, _))| n.as_str())
}

fn lock(state: &Shared) -> std::sync::MutexGuard<'_, AuthState> {
    state.lock().unwrap_or_else(|p| p.into_inner())
}

fn decode_pairs(bytes: &[u8]) -> Vec<(String, String)> {
    url::form_urlencoded::parse(bytes).into_owned().collect()
}

async fn handle(State(state): State<Shared>, req: Request) -> Response {
    let at = Instant::now();
    let (parts, body) = req.into_parts();
    let media = |expected: &str| {
        parts
            .headers
            .get(header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.split(';').next())
            .is_some_and(|m| m.trim().eq_ignore_ascii_case(expected))
    };
    let (is_form, json_type) = (media("application/x-www-form-urlencoded"), media("application/json"));
    let body = axum::body::to_bytes(body, 1 << 20).await;
    let json_object = match (&body, json_type) {
        (Ok(bytes), true) => serde_json::from_slice::<serde_json::Map<String, Value>>(bytes).ok(),
        _ => None,
    };
    let req = Req {
        method: parts.method,
        path: parts.uri.path().to_owned(),
        query: decode_pairs(parts.uri.query().unwrap_or("").as_bytes()),
        form: match (&body, is_form, &json_object) {
            (Ok(bytes), true, _) => decode_pairs(bytes),
            (_, _, Some(object)) => object
                .iter()
                .map(|(k, v)| (k.clone(), v.as_str().map_or_else(|| v.to_string(), str::to_owned)))
                .collect(),
            _ => Vec::new(),
        },
        is_form,
        is_json: json_object.is_some(),
        headers: parts.headers,
    };
    let (outcome, response, linger) = if body.is_err() {
        let (o, r) = oauth_error(StatusCode::PAYLOAD_TOO_LARGE, "invalid_request", "body over 1 MiB");
        (o, r, None)
    } else {
        dispatch(&state, &req).await
    };
    let record = AuthRecord {
        at,
        method: req.method.to_string(),
        path: req.path,
        query: req.query,
        form: req.form,
        headers: req
            .headers
            .iter()
            .map(|(n, v)| (n.as_str().to_owned(), String::from_utf8_lossy(v.as_bytes()).into_owned()))
            .collect(),
        outcome,
    };
    lock(&state).log.push(record);
    match linger {
        Some(Linger::For(delay)) => tokio::time::sleep(delay).await,
        Some(Linger::Forever) => std::future::pending().await,
        None => {}
    }
    response
}

/// How long to hold a response back once the request is recorded.
enum Linger {
    For(Duration),
    Forever,
}

/// Outcome, response, and how long to hold the response back.
async fn dispatch(state: &Shared, req: &Req) -> (String, Response, Option<Linger>) {
    let path = req.path.as_str();
    if path == "/token" {
        return token(state, req).await;
    }
    let (outcome, response) = if path == "/authorize" && req.method == Method::GET {
        authorize(&mut lock(state), &req.query)
    } else if path == "/revoke" && req.method == Method::POST {
        revoke(&mut lock(state), req)
    } else if path.starts_with("/api/") {
        api(&lock(state), req)
    } else if path == "/.well-known/oauth-authorization-server" && req.method == Method::GET {
        ("ok".into(), metadata(&lock(state)))
    } else if ["/authorize", "/revoke", "/.well-known/oauth-authorization-server"].contains(&path) {
        ("method_not_allowed".into(), (StatusCode::METHOD_NOT_ALLOWED, "method not allowed").into_response())
    } else {
        ("not_found".into(), (StatusCode::NOT_FOUND, "no such route").into_response())
    };
    (outcome, response, None)
}

fn status(code: u16) -> StatusCode {
    StatusCode::from_u16(code).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR)
}

fn no_store(mut response: Response) -> Response {
    let h = response.headers_mut();
    h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    h.insert(header::PRAGMA, HeaderValue::from_static("no-cache"));
    response
}

fn oauth_error(status: StatusCode, error: &str, description: &str) -> (String, Response) {
    let body = json!({ "error": error, "error_description": description });
    let mut response = no_store((status, axum::Json(body)).into_response());
    if status == StatusCode::UNAUTHORIZED {
        let challenge = if error == "invalid_client" {
            HeaderValue::from_static("Basic realm=\"mock-auth\"")
        } else {
            HeaderValue::from_static("Bearer error=\"invalid_token\"")
        };
        response.headers_mut().insert(header::WWW_AUTHENTICATE, challenge);
    }
    (error.to_owned(), response)
}

fn bad_authorize(outcome: &str, problem: &str) -> (String, Response) {
    (outcome.into(), (StatusCode::BAD_REQUEST, format!("authorization request refused: {problem}")).into_response())
}

fn authorize(st: &mut AuthState, q: &[(String, String)]) -> (String, Response) {
    if let Some(name) = repeated(q) {
        return bad_authorize("invalid_request", &format!("parameter {name} is repeated"));
    }
    let p = |name: &str| Req::param(q, name);
    let Some(client_id) = p("client_id") else { return bad_authorize("invalid_request", "client_id is missing") };
    let Some(client) = st.clients.get(client_id) else {
        return bad_authorize("invalid_client", &format!("client_id {client_id:?} is not registered"));
    };
    let Some(redirect_uri) = p("redirect_uri") else {
        return bad_authorize("invalid_request", "redirect_uri is missing");
    };
    if redirect_uri != client.redirect_uri {
        return bad_authorize("invalid_redirect_uri", "redirect_uri does not match the registered one");
    }
    let Ok(mut location) = url::Url::parse(redirect_uri) else {
        return bad_authorize("invalid_redirect_uri", "redirect_uri is not an absolute URL");
    };
    if p("response_type") != Some("code") {
        return bad_authorize("unsupported_response_type", "response_type must be code");
    }
    let Some(state) = p("state") else { return bad_authorize("invalid_request", "state is missing") };
    let challenge = match (client.pkce, p("code_challenge")) {
        (false, None) if p("code_challenge_method").is_none() => None,
        (false, _) => return bad_authorize("invalid_request", "unknown parameter code_challenge"),
        (true, None) => return bad_authorize("invalid_request", "code_challenge is missing"),
        (true, Some(challenge)) => {
            let b64url = |c: char| c.is_ascii_alphanumeric() || c == '-' || c == '_';
            if !(43..=128).contains(&challenge.len()) || !challenge.chars().all(b64url) {
                return bad_authorize("invalid_request", "code_challenge must be 43 to 128 base64url characters");
            }
            if p("code_challenge_method") != Some("S256") {
                return bad_authorize("invalid_request", "code_challenge_method must be S256");
            }
            Some(challenge.to_owned())
        }
    };
    let grant = CodeGrant {
        client_id: client_id.into(),
        redirect_uri: redirect_uri.into(),
        challenge,
        scope: p("scope").unwrap_or("").into(),
        account: st.approving.clone(),
        expires_at: Instant::now() + CODE_TTL,
        used: false,
        family: None,
    };
    let code = st.fresh("code");
    st.codes.insert(code.clone(), grant);
    {
        let mut pairs = location.query_pairs_mut();
        pairs.append_pair("code", &code).append_pair("state", state);
        if st.send_iss {
            pairs.append_pair("iss", &st.base);
        }
    }
    ("ok".into(), (StatusCode::FOUND, [(header::LOCATION, location.to_string())]).into_response())
}

async fn token(state: &Shared, req: &Req) -> (String, Response, Option<Linger>) {
    let fault = lock(state).faults.pop_front();
    let mut linger = None;
    match fault {
        None => {}
        Some(Fault::Delay(d)) => tokio::time::sleep(d).await,
        Some(Fault::DelayAfterProcessing(d)) => linger = Some(Linger::For(d)),
        Some(Fault::Hang) => {
            let (outcome, response) = fault_response(Fault::Hang);
            return (outcome, response, Some(Linger::Forever));
        }
        Some(Fault::DelayThen(d, inner)) => {
            tokio::time::sleep(d).await;
            let (outcome, response) = fault_response(*inner);
            return (outcome, response, None);
        }
        Some(fault) => {
            let (outcome, response) = fault_response(fault);
            return (outcome, response, None);
        }
    }
    let (outcome, mut response) = token_grant(&mut lock(state), req);
    let refusal = lock(state).dialect_of(req).refusal;
    if let Some(reshape) = refusal.filter(|_| outcome != "ok" && outcome != "method_not_allowed") {
        let (code, body) = reshape(&outcome, response.status().as_u16());
        response = no_store((status(code), axum::Json(body)).into_response());
    }
    (outcome, response, linger)
}

fn fault_response(fault: Fault) -> (String, Response) {
    match fault {
        Fault::Status(code) => {
            let response = (status(code), axum::Json(json!({ "error": "server_error" }))).into_response();
            (format!("fault:{code}"), response)
        }
        Fault::TooManyRequests { retry_after_secs } => {
            let body = axum::Json(json!({ "error": "temporarily_unavailable" }));
            let response = (StatusCode::TOO_MANY_REQUESTS, [(header::RETRY_AFTER, retry_after_secs.to_string())], body);
            ("fault:429".into(), response.into_response())
        }
        Fault::InvalidGrant => {
            let (_, r) = oauth_error(StatusCode::BAD_REQUEST, "invalid_grant", "injected fault");
            ("fault:invalid_grant".into(), r)
        }
        Fault::InvalidClient => {
            let (_, r) = oauth_error(StatusCode::UNAUTHORIZED, "invalid_client", "injected fault");
            ("fault:invalid_client".into(), r)
        }
        Fault::Redirect(location) => {
            let mut response = StatusCode::FOUND.into_response();
            match HeaderValue::from_str(&location) {
                Ok(v) => {
                    response.headers_mut().insert(header::LOCATION, v);
                }
                Err(_) => *response.status_mut() = StatusCode::INTERNAL_SERVER_ERROR,
            }
            ("fault:redirect".into(), response)
        }
        Fault::Body { status: code, content_type, body } => {
            let mut response = Response::new(Body::from(body));
            *response.status_mut() = status(code);
            if let Ok(v) = HeaderValue::from_str(&content_type) {
                response.headers_mut().insert(header::CONTENT_TYPE, v);
            }
            (format!("fault:body:{code}"), response)
        }
        // Never sent: the caller holds it back for good.
        Fault::Hang => ("fault:hang".into(), StatusCode::OK.into_response()),
        // Handled by the caller; kept total so a new variant cannot panic.
        Fault::Delay(_) | Fault::DelayAfterProcessing(_) | Fault::DelayThen(..) => {
            ("fault:delay".into(), StatusCode::OK.into_response())
        }
    }
}

impl AuthState {
    /// The dialect of the client a request names (HTTP Basic or
    /// `client_id`), else the server's.
    fn dialect_of(&self, req: &Req) -> TokenDialect {
        let basic = req.headers.get(header::AUTHORIZATION).and_then(|h| h.to_str().ok()).and_then(|h| {
            let decoded = STANDARD.decode(h.strip_prefix("Basic ")?.trim()).ok()?;
            let pair = String::from_utf8(decoded).ok()?;
            form_decode(pair.split_once(':')?.0)
        });
        let client = basic.or_else(|| req.form("client_id").map(str::to_owned));
        client.and_then(|c| self.client_dialects.get(&c).cloned()).unwrap_or_else(|| self.dialect.clone())
    }
}

/// The client that authenticated: HTTP Basic (RFC 6749 §2.3.1, each part
/// form-urlencoded) or `client_id` + `client_secret` form fields, not both.
fn authenticate(st: &AuthState, req: &Req) -> Option<String> {
    let form_id = req.form("client_id");
    let (id, secret) = match (req.headers.get(header::AUTHORIZATION), req.form("client_secret")) {
        (Some(h), None) => {
            let h = h.to_str().ok()?;
            let (scheme, encoded) = h.split_once(' ')?;
            if !scheme.eq_ignore_ascii_case("basic") {
                return None;
            }
            let decoded = String::from_utf8(STANDARD.decode(encoded.trim()).ok()?).ok()?;
            let (id, secret) = decoded.split_once(':')?;
            let (id, secret) = (form_decode(id)?, form_decode(secret)?);
            if form_id.is_some_and(|f| f != id) {
                return None;
            }
            (id, secret)
        }
        (None, Some(secret)) => (form_id?.to_owned(), secret.to_owned()),
        _ => return None,
    };
    let client = st.clients.get(&id)?;
    (client.secret == secret).then_some(id)
}

/// Decodes `application/x-www-form-urlencoded` text strictly: a `%` must be
/// followed by two hex digits and the result must be UTF-8.
fn form_decode(s: &str) -> Option<String> {
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'+' => out.push(b' '),
            b'%' => {
                let hex = std::str::from_utf8(bytes.get(i + 1..i + 3)?).ok()?;
                out.push(u8::from_str_radix(hex, 16).ok()?);
                i += 2;
            }
            b => out.push(b),
        }
        i += 1;
    }
    String::from_utf8(out).ok()
}

fn invalid_grant(description: &str) -> (String, Response) {
    oauth_error(StatusCode::BAD_REQUEST, "invalid_grant", description)
}

fn invalid_request(description: &str) -> (String, Response) {
    oauth_error(StatusCode::BAD_REQUEST, "invalid_request", description)
}

fn token_grant(st: &mut AuthState, req: &Req) -> (String, Response) {
    if req.method != Method::POST {
        let (_, r) = oauth_error(StatusCode::METHOD_NOT_ALLOWED, "invalid_request", "use POST");
        return ("method_not_allowed".into(), r);
    }
    match (st.dialect_of(req).json_body, req.is_form, req.is_json) {
        (false, true, _) | (true, _, true) => {}
        (false, ..) => return invalid_request("content type must be application/x-www-form-urlencoded"),
        (true, ..) => return invalid_request("the body must be a JSON object (application/json)"),
    }
    if let Some(name) = repeated(&req.form) {
        return invalid_request(&format!("parameter {name} is repeated"));
    }
    let Some(client_id) = authenticate(st, req) else {
        return oauth_error(StatusCode::UNAUTHORIZED, "invalid_client", "client authentication failed");
    };
    match req.form("grant_type") {
        Some("authorization_code") => code_grant(st, req, &client_id),
        Some("refresh_token") => refresh_grant(st, req, &client_id),
        Some("password") => {
            // RFC 6749 §4.3.2: username and password, an optional scope,
            // and nothing of another grant.
            let (Some(_), Some(_)) = (req.form("username"), req.form("password")) else {
                return invalid_request("username and password are required");
            };
            if let Some(other) =
                ["code", "redirect_uri", "code_verifier", "refresh_token"].iter().find(|n| req.form(n).is_some())
            {
                return invalid_request(&format!("{other} is not a parameter of the password grant"));
            }
            let user = req.form("username").and_then(|u| st.users.get(u));
            let Some((password, account)) = user.cloned() else { return invalid_grant("unknown user") };
            if req.form("password") != Some(password.as_str()) {
                return invalid_grant("wrong password");
            }
            let family = st.new_family(&client_id, &account, req.form("scope").unwrap_or(""));
            success(st, family, true, None)
        }
        Some("client_credentials") => {
            let family = st.new_family(&client_id, &client_id, req.form("scope").unwrap_or(""));
            success(st, family, false, None)
        }
        Some(other) => oauth_error(
            StatusCode::BAD_REQUEST,
            "unsupported_grant_type",
            &format!("grant_type {other:?} is not supported"),
        ),
        None => invalid_request("grant_type is missing"),
    }
}

fn code_grant(st: &mut AuthState, req: &Req, client_id: &str) -> (String, Response) {
    let Some(code) = req.form("code") else { return invalid_request("code is missing") };
    let Some(redirect_uri) = req.form("redirect_uri") else { return invalid_request("redirect_uri is missing") };
    let Some(grant) = st.codes.get_mut(code) else { return invalid_grant("unknown code") };
    if grant.used {
        // RFC 6749 §4.1.2: revoke what the code gave the first time.
        if let Some(family) = grant.family {
            st.revoke_family(family);
        }
        return invalid_grant("code already used");
    }
    if grant.client_id != client_id {
        return invalid_grant("code was issued to another client");
    }
    if Instant::now() >= grant.expires_at {
        return invalid_grant("code expired");
    }
    if grant.redirect_uri != redirect_uri {
        return invalid_grant("redirect_uri differs from the authorization request");
    }
    let unreserved = |c: char| c.is_ascii_alphanumeric() || "-._~".contains(c);
    match (req.form("code_verifier"), &grant.challenge) {
        (None, None) => {}
        (Some(_), None) => return invalid_request("unknown parameter code_verifier"),
        (Some(v), Some(_)) if !(43..=128).contains(&v.len()) || !v.chars().all(unreserved) => {
            return invalid_grant("code_verifier must be 43 to 128 unreserved characters");
        }
        (Some(verifier), Some(challenge)) if pkce_challenge(verifier) == *challenge => {}
        _ => return invalid_grant("code_verifier does not match the code_challenge"),
    }
    grant.used = true;
    let (account, scope) = (grant.account.clone(), grant.scope.clone());
    let family = st.new_family(client_id, &account, &scope);
    if let Some(grant) = st.codes.get_mut(code) {
        grant.family = Some(family);
    }
    success(st, family, true, None)
}

fn refresh_grant(st: &mut AuthState, req: &Req, client_id: &str) -> (String, Response) {
    let Some(presented) = req.form("refresh_token") else { return invalid_request("refresh_token is missing") };
    let Some(token) = st.refresh.get(presented) else { return invalid_grant("unknown refresh token") };
    let (family_id, used) = (token.family, token.used);
    let Some(family) = st.families.get(family_id) else { return invalid_grant("unknown refresh token") };
    if family.client_id != client_id {
        return invalid_grant("refresh token was issued to another client");
    }
    if family.revoked {
        return invalid_grant("refresh token revoked");
    }
    let granted = family.scope.clone();
    if used {
        st.revoke_family(family_id);
        return invalid_grant("refresh token reused; its family is revoked");
    }
    let scope = match req.form("scope") {
        Some(asked) if !asked.split(' ').all(|s| granted.split(' ').any(|g| g == s)) => {
            return oauth_error(StatusCode::BAD_REQUEST, "invalid_scope", "scope exceeds the original grant");
        }
        asked => asked.map(str::to_owned),
    };
    let rotate = st.rotate;
    if rotate && let Some(token) = st.refresh.get_mut(presented) {
        token.used = true;
    }
    success(st, family_id, rotate, scope)
}

fn success(st: &mut AuthState, family: usize, with_refresh: bool, scope: Option<String>) -> (String, Response) {
    let Issued { access, refresh, expires_in } = st.issue(family, with_refresh);
    let scope = scope.unwrap_or_else(|| st.families.get(family).map(|f| f.scope.clone()).unwrap_or_default());
    let mut body = json!({ "access_token": access, "token_type": "Bearer" });
    if let Some(secs) = expires_in {
        body["expires_in"] = json!(secs);
    }
    if let Some(refresh) = refresh {
        body["refresh_token"] = json!(refresh);
    }
    if !scope.is_empty() {
        body["scope"] = json!(scope);
    }
    let (client, account) =
        st.families.get(family).map(|f| (f.client_id.clone(), f.account.clone())).unwrap_or_default();
    let dialect = st.client_dialects.get(&client).unwrap_or(&st.dialect);
    if let Some(reshape) = dialect.answer.clone() {
        body = reshape(body, &account);
    }
    ("ok".into(), no_store(axum::Json(body).into_response()))
}

fn revoke(st: &mut AuthState, req: &Req) -> (String, Response) {
    if !req.is_form {
        return invalid_request("content type must be application/x-www-form-urlencoded");
    }
    let Some(client_id) = authenticate(st, req) else {
        return oauth_error(StatusCode::UNAUTHORIZED, "invalid_client", "client authentication failed");
    };
    let Some(token) = req.form("token") else { return invalid_request("token is missing") };
    st.revocations.push(token.to_owned());
    // RFC 7009 §2.2: unknown tokens and other clients' tokens still get 200.
    if let Some(family) = st.family_of(token)
        && st.families.get(family).is_some_and(|f| f.client_id == client_id)
    {
        st.revoke_family(family);
    }
    ("ok".into(), StatusCode::OK.into_response())
}

fn api(st: &AuthState, req: &Req) -> (String, Response) {
    let bearer = req.headers.get(header::AUTHORIZATION).and_then(|v| v.to_str().ok()).and_then(|v| {
        let (scheme, token) = v.split_once(' ')?;
        scheme.eq_ignore_ascii_case("bearer").then(|| token.trim())
    });
    let api_key = || {
        let key = req.headers.get("x-api-key").and_then(|v| v.to_str().ok())?;
        st.api_keys.get(key).map(String::as_str)
    };
    let Some(account) = bearer.and_then(|t| st.valid_access(t)).map(|f| f.account.as_str()).or_else(api_key) else {
        return oauth_error(StatusCode::UNAUTHORIZED, "invalid_token", "missing, unknown, expired or revoked token");
    };
    let body: Value = if req.path == "/api/me" {
        json!({ "id": account, "name": format!("User {account}") })
    } else {
        json!({ "path": &req.path["/api".len()..], "account": account })
    };
    ("ok".into(), axum::Json(body).into_response())
}

fn metadata(st: &AuthState) -> Response {
    let base = &st.base;
    axum::Json(json!({
        "issuer": base,
        "authorization_endpoint": format!("{base}/authorize"),
        "token_endpoint": format!("{base}/token"),
        "revocation_endpoint": format!("{base}/revoke"),
        "response_types_supported": ["code"],
        "grant_types_supported": ["authorization_code", "refresh_token", "password", "client_credentials"],
        "code_challenge_methods_supported": ["S256"],
        "token_endpoint_auth_methods_supported": ["client_secret_basic", "client_secret_post"],
        "authorization_response_iss_parameter_supported": st.send_iss,
    }))
    .into_response()
}
