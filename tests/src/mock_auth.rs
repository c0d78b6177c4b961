//! A strict OAuth 2.0 authorization server and a tiny provider API on
//! loopback, for end-to-end tests of connect flows and token refresh.
//!
//! It rejects what a real authorization server rejects (RFC 6749, PKCE per
//! RFC 7636 with S256 only, rotating refresh tokens with reuse detection as
//! in RFC 9700, revocation per RFC 7009, `iss` per RFC 9207) and records
//! every request it receives, refused ones included, with its outcome.
//!
//! Routes: `GET /authorize`, `POST /token`, `POST /revoke`,
//! `GET /.well-known/oauth-authorization-server` and `ANY /api/{*path}`
//! (a valid bearer token, or else a registered `X-API-Key`).

mod dialect;
mod handlers;
#[cfg(test)]
mod tests;

pub use dialect::{TokenCheck, TokenDialect};

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use sha2::{Digest, Sha256};
use std::collections::{HashMap, VecDeque};
use std::net::{Ipv4Addr, SocketAddrV4};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

/// How long an authorization code stays redeemable.
pub const CODE_TTL: Duration = Duration::from_secs(60);

/// A failure the next `/token` request meets instead of (or on top of) normal
/// processing. Faults are consumed in FIFO order, one per `/token` request.
#[derive(Debug, Clone)]
pub enum Fault {
    /// Answers with that status and the body `{"error":"server_error"}`.
    Status(u16),
    /// Answers 429 with `Retry-After: <retry_after_secs>`.
    TooManyRequests {
        /// Value of the `Retry-After` header, in seconds.
        retry_after_secs: u64,
    },
    /// Sleeps, then processes the request normally.
    Delay(Duration),
    /// Answers 400 `{"error":"invalid_grant"}` without looking at the request.
    InvalidGrant,
    /// Answers 401 `{"error":"invalid_client"}` without looking at the request.
    InvalidClient,
    /// Answers 302 with that `Location`.
    Redirect(String),
    /// Answers exactly this: non-JSON, huge, missing `access_token`, ...
    Body {
        /// Status code.
        status: u16,
        /// `Content-Type` header value.
        content_type: String,
        /// Raw body.
        body: Vec<u8>,
    },
    /// Processes the request normally (rotating tokens, so the presented
    /// refresh token is now used up) but delays the answer; models a response
    /// lost to the client's timeout.
    DelayAfterProcessing(Duration),
    /// Sleeps, then answers with the inner fault (e.g. a slow `invalid_grant`).
    DelayThen(Duration, Box<Fault>),
    /// Records the request at once (outcome `"fault:hang"`) and never answers
    /// nor processes it: the presented refresh token stays valid. Models a
    /// token endpoint that is still working on the request when the client
    /// dies.
    Hang,
}

/// One request as the mock saw it.
#[derive(Debug, Clone)]
pub struct AuthRecord {
    /// When it arrived.
    pub at: Instant,
    /// Method.
    pub method: String,
    /// Path, without the query.
    pub path: String,
    /// Decoded query parameters, in order.
    pub query: Vec<(String, String)>,
    /// Decoded form parameters of an `application/x-www-form-urlencoded` body.
    pub form: Vec<(String, String)>,
    /// Headers as received, names lowercase.
    pub headers: Vec<(String, String)>,
    /// What the mock made of it: `"ok"`, an OAuth error code such as
    /// `"invalid_grant"`, `"invalid_token"`, or `"fault:<what>"` when a
    /// [`Fault`] answered (`"fault:503"`, `"fault:429"`, `"fault:invalid_grant"`,
    /// `"fault:invalid_client"`, `"fault:redirect"`, `"fault:body:<status>"`,
    /// `"fault:hang"`).
    /// Delay faults keep the outcome of the normal processing.
    pub outcome: String,
}

impl AuthRecord {
    /// The value of a header, if present.
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.iter().find(|(n, _)| n.eq_ignore_ascii_case(name)).map(|(_, v)| v.as_str())
    }

    /// The value of a form parameter, if present.
    pub fn form_value(&self, name: &str) -> Option<&str> {
        self.form.iter().find(|(n, _)| n == name).map(|(_, v)| v.as_str())
    }

    /// The value of a query parameter, if present.
    pub fn query_value(&self, name: &str) -> Option<&str> {
        self.query.iter().find(|(n, _)| n == name).map(|(_, v)| v.as_str())
    }
}

/// A running mock authorization server and provider API.
pub struct MockAuthServer {
    /// `http://127.0.0.1:<port>` (or the address given to [`MockAuthServer::start_on`]).
    pub base: String,
    state: Shared,
}

type Shared = Arc<Mutex<AuthState>>;

struct ClientReg {
    secret: String,
    redirect_uri: String,
    /// The client's provider takes PKCE (and requires it); one that does
    /// not refuses its parameters as unknown.
    pkce: bool,
}

struct CodeGrant {
    client_id: String,
    redirect_uri: String,
    /// The PKCE challenge; none for a client without PKCE.
    challenge: Option<String>,
    scope: String,
    account: String,
    expires_at: Instant,
    used: bool,
    family: Option<usize>,
}

/// Every token issued from one grant (one code, one password login, ...).
struct Family {
    client_id: String,
    account: String,
    scope: String,
    revoked: bool,
}

struct AccessToken {
    family: usize,
    expires_at: Option<Instant>,
    force_expired: bool,
}

struct RefreshToken {
    family: usize,
    used: bool,
}

struct AuthState {
    base: String,
    seed: [u8; 32],
    counter: u64,
    clients: HashMap<String, ClientReg>,
    users: HashMap<String, (String, String)>,
    api_keys: HashMap<String, String>,
    approving: String,
    ttl: Option<u64>,
    send_iss: bool,
    rotate: bool,
    dialect: TokenDialect,
    client_dialects: HashMap<String, TokenDialect>,
    faults: VecDeque<Fault>,
    codes: HashMap<String, CodeGrant>,
    families: Vec<Family>,
    access: HashMap<String, AccessToken>,
    refresh: HashMap<String, RefreshToken>,
    revocations: Vec<String>,
    log: Vec<AuthRecord>,
}

/// Tokens minted for one request.
struct Issued {
    access: String,
    refresh: Option<String>,
    expires_in: Option<u64>,
}

impl AuthState {
    fn new(base: String) -> Self {
        static SERVERS: AtomicU64 = AtomicU64::new(0);
        let nanos = SystemTime::now().duration_since(UNIX_EPOCH).map(|d| d.as_nanos()).unwrap_or(0);
        let mut h = Sha256::new();
        h.update(nanos.to_le_bytes());
        h.update(std::process::id().to_le_bytes());
        h.update(SERVERS.fetch_add(1, Ordering::Relaxed).to_le_bytes());
        h.update(base.as_bytes());
        Self {
            base,
            seed: h.finalize().into(),
            counter: 0,
            clients: HashMap::new(),
            users: HashMap::new(),
            api_keys: HashMap::new(),
            approving: "acct-1".into(),
            ttl: Some(3600),
            send_iss: false,
            rotate: true,
            dialect: TokenDialect::default(),
            client_dialects: HashMap::new(),
            faults: VecDeque::new(),
            codes: HashMap::new(),
            families: Vec::new(),
            access: HashMap::new(),
            refresh: HashMap::new(),
            revocations: Vec::new(),
            log: Vec::new(),
        }
    }

    /// A unique, unguessable-looking value: `<prefix>_<40 hex digits>`.
    fn fresh(&mut self, prefix: &str) -> String {
        self.counter += 1;
        let mut h = Sha256::new();
        h.update(self.seed);
        h.update(self.counter.to_le_bytes());
        let value = format!("{prefix}_{}", &hex::encode(h.finalize())[..40]);
        // Tokens are the secrets the server must seal and never log.
        if matches!(prefix, "at" | "rt") {
            crate::sweep::register(&value);
        }
        value
    }

    fn new_family(&mut self, client_id: &str, account: &str, scope: &str) -> usize {
        self.families.push(Family {
            client_id: client_id.into(),
            account: account.into(),
            scope: scope.into(),
            revoked: false,
        });
        self.families.len() - 1
    }

    fn issue(&mut self, family: usize, with_refresh: bool) -> Issued {
        let access = self.fresh("at");
        let expires_at = self.ttl.map(|s| Instant::now() + Duration::from_secs(s));
        self.access.insert(access.clone(), AccessToken { family, expires_at, force_expired: false });
        let refresh = with_refresh.then(|| {
            let rt = self.fresh("rt");
            self.refresh.insert(rt.clone(), RefreshToken { family, used: false });
            rt
        });
        Issued { access, refresh, expires_in: self.ttl }
    }

    fn family_of(&self, token: &str) -> Option<usize> {
        self.access.get(token).map(|t| t.family).or_else(|| self.refresh.get(token).map(|t| t.family))
    }

    fn revoke_family(&mut self, family: usize) {
        if let Some(f) = self.families.get_mut(family) {
            f.revoked = true;
        }
    }

    /// The family of a currently valid access token.
    fn valid_access(&self, token: &str) -> Option<&Family> {
        let t = self.access.get(token)?;
        let live = !t.force_expired && t.expires_at.is_none_or(|e| Instant::now() < e);
        let family = self.families.get(t.family)?;
        (live && !family.revoked).then_some(family)
    }
}

impl MockAuthServer {
    /// Starts the server on a free port of 127.0.0.1.
    pub async fn start() -> Self {
        Self::start_on(Ipv4Addr::LOCALHOST).await
    }

    /// Starts the server on a free port of `ip` (e.g. 127.0.0.2, so that two
    /// servers differ by host for mix-up tests).
    pub async fn start_on(ip: Ipv4Addr) -> Self {
        let listener = tokio::net::TcpListener::bind(SocketAddrV4::new(ip, 0)).await.expect("bind mock auth server");
        let base = format!("http://{}", listener.local_addr().expect("addr"));
        let state: Shared = Arc::new(Mutex::new(AuthState::new(base.clone())));
        let app = handlers::router(state.clone());
        tokio::spawn(async move { axum::serve(listener, app).await.expect("mock auth server") });
        Self { base, state }
    }

    fn lock(&self) -> MutexGuard<'_, AuthState> {
        self.state.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// `{base}/authorize`.
    pub fn authorize_url(&self) -> String {
        format!("{}/authorize", self.base)
    }

    /// `{base}/token`.
    pub fn token_url(&self) -> String {
        format!("{}/token", self.base)
    }

    /// `{base}/revoke`.
    pub fn revoke_url(&self) -> String {
        format!("{}/revoke", self.base)
    }

    /// `{base}/api`, the provider API (`/api/me` and any other path).
    pub fn api_base(&self) -> String {
        format!("{}/api", self.base)
    }

    /// `{base}/.well-known/oauth-authorization-server` (RFC 8414 metadata).
    pub fn metadata_url(&self) -> String {
        format!("{}/.well-known/oauth-authorization-server", self.base)
    }

    /// Registers (or replaces) a confidential client and its only redirect URI.
    pub fn register_client(&self, client_id: &str, client_secret: &str, redirect_uri: &str) {
        if client_secret.len() >= 12 {
            crate::sweep::register(client_secret);
        }
        let reg = ClientReg { secret: client_secret.into(), redirect_uri: redirect_uri.into(), pkce: true };
        self.lock().clients.insert(client_id.into(), reg);
    }

    /// Registers a client of a provider without PKCE, which refuses the
    /// PKCE parameters as unknown (`invalid_request`) in the authorization
    /// request and the code exchange alike.
    pub fn register_client_without_pkce(&self, client_id: &str, client_secret: &str, redirect_uri: &str) {
        self.register_client(client_id, client_secret, redirect_uri);
        if let Some(client) = self.lock().clients.get_mut(client_id) {
            client.pkce = false;
        }
    }

    /// Adds a user for the password grant. Approvals use
    /// [`MockAuthServer::set_approving_user`]'s account, user or not.
    pub fn add_user(&self, username: &str, password: &str, account_id: &str) {
        self.lock().users.insert(username.into(), (password.into(), account_id.into()));
    }

    /// Registers an API key that `/api` accepts in the `X-API-Key` header,
    /// acting as `account_id`, when the request has no valid bearer token.
    pub fn add_api_key(&self, key: &str, account_id: &str) {
        if key.len() >= 12 {
            crate::sweep::register(key);
        }
        self.lock().api_keys.insert(key.into(), account_id.into());
    }

    /// The account that the next `/authorize` approvals grant (default `acct-1`).
    pub fn set_approving_user(&self, account_id: &str) {
        self.lock().approving = account_id.into();
    }

    /// Lifetime of access tokens issued from now on; `None` issues tokens that
    /// never expire and omits `expires_in`. Default `Some(3600)`.
    pub fn set_access_token_ttl(&self, secs: Option<u64>) {
        self.lock().ttl = secs;
    }

    /// Whether the authorization response carries `iss=<base>` (RFC 9207).
    pub fn set_send_iss(&self, on: bool) {
        self.lock().send_iss = on;
    }

    /// With `true` (the default) each refresh token is single-use and a
    /// refresh returns a new one; with `false` no refresh token is returned
    /// and the presented one stays valid.
    pub fn set_rotate_refresh_tokens(&self, on: bool) {
        self.lock().rotate = on;
    }

    /// Answers `/token` as a provider documents it (see [`TokenDialect`]).
    pub fn set_token_dialect(&self, dialect: TokenDialect) {
        self.lock().dialect = dialect;
    }

    /// Answers `/token` requests of one client as a provider documents it,
    /// whatever [`MockAuthServer::set_token_dialect`] set (one server
    /// standing in for several providers).
    pub fn set_client_dialect(&self, client_id: &str, dialect: TokenDialect) {
        self.lock().client_dialects.insert(client_id.into(), dialect);
    }

    /// A handle that tells which account an access token acts for, for
    /// provider mocks that accept this server's tokens.
    pub fn token_check(&self) -> TokenCheck {
        TokenCheck(self.state.clone())
    }

    /// Queues a fault for the next `/token` request that finds the queue
    /// non-empty; faults are consumed in FIFO order, one per request.
    pub fn push_fault(&self, fault: Fault) {
        self.lock().faults.push_back(fault);
    }

    /// Makes every access token issued so far invalid at `/api`; refresh
    /// tokens stay valid and later access tokens are unaffected.
    pub fn expire_access_tokens(&self) {
        self.lock().access.values_mut().for_each(|t| t.force_expired = true);
    }

    /// Everything received so far, in arrival order.
    pub fn log(&self) -> Vec<AuthRecord> {
        self.lock().log.clone()
    }

    /// Number of `/token` requests received (faulted and refused ones included).
    pub fn token_requests(&self) -> usize {
        self.lock().log.iter().filter(|r| r.path == "/token").count()
    }

    /// Number of `/token` requests whose form carried `grant_type=<grant>`.
    pub fn token_requests_with_grant(&self, grant: &str) -> usize {
        let st = self.lock();
        st.log.iter().filter(|r| r.path == "/token" && r.form_value("grant_type") == Some(grant)).count()
    }

    /// Every `token` value received at `/revoke`, in order.
    pub fn revocations(&self) -> Vec<String> {
        self.lock().revocations.clone()
    }

    /// Whether the family of this (access or refresh) token has been revoked,
    /// by `/revoke`, code reuse or refresh-token reuse. `false` for unknown tokens.
    pub fn is_family_revoked(&self, any_token_of_family: &str) -> bool {
        let st = self.lock();
        st.family_of(any_token_of_family).and_then(|f| st.families.get(f)).is_some_and(|f| f.revoked)
    }

    /// Whether `/api` would accept this access token now.
    pub fn is_access_token_valid(&self, token: &str) -> bool {
        self.lock().valid_access(token).is_some()
    }

    /// The account an (access or refresh) token was issued for.
    pub fn account_of(&self, token: &str) -> Option<String> {
        let st = self.lock();
        st.family_of(token).and_then(|f| st.families.get(f)).map(|f| f.account.clone())
    }

    /// Mints an access and a refresh token in a new family without any
    /// request, to seed a test with an existing connection.
    pub fn issue_tokens(&self, client_id: &str, account_id: &str, scope: &str) -> (String, String) {
        let mut st = self.lock();
        let family = st.new_family(client_id, account_id, scope);
        let issued = st.issue(family, true);
        (issued.access, issued.refresh.unwrap_or_default())
    }

    /// Plays the user's browser: GETs the authorization URL (as Weft built it)
    /// without following redirects and returns the `Location` of the 302 (the
    /// redirect URI with `code`, `state` and maybe `iss`). Panics with the
    /// body if the server refused.
    pub async fn approve(&self, authorization_url: &str) -> String {
        match self.try_approve(authorization_url).await {
            Ok(location) => location,
            Err((status, body)) => panic!("authorization refused with {status}: {body}"),
        }
    }

    /// Like [`MockAuthServer::approve`], but returns a refusal as
    /// `Err((status, body))`.
    pub async fn try_approve(&self, authorization_url: &str) -> Result<String, (u16, String)> {
        let resp =
            browser().get(authorization_url).send().await.unwrap_or_else(|e| panic!("GET {authorization_url}: {e}"));
        let status = resp.status().as_u16();
        let location = resp.headers().get("location").and_then(|v| v.to_str().ok()).map(str::to_owned);
        match location {
            Some(location) if status == 302 => Ok(location),
            _ => Err((status, resp.text().await.unwrap_or_default())),
        }
    }
}

/// An HTTP client that does not follow redirects. It plays the user's
/// browser and the test side, never Weft.
// Weft's own outbound requests go through the egress client; this one plays
// the browser and the test side, so it may build a client of its own.
#[allow(clippy::disallowed_methods)]
pub fn browser() -> reqwest::Client {
    reqwest::Client::builder().redirect(reqwest::redirect::Policy::none()).build().expect("test http client")
}

/// The S256 PKCE challenge of a verifier: BASE64URL-NOPAD(SHA256(verifier)).
pub fn pkce_challenge(verifier: &str) -> String {
    URL_SAFE_NO_PAD.encode(Sha256::digest(verifier.as_bytes()))
}

/// The decoded value of a query parameter of a URL (e.g. `code` in the
/// callback returned by [`MockAuthServer::approve`]).
pub fn url_param(url: &str, name: &str) -> Option<String> {
    let url = url::Url::parse(url).ok()?;
    url.query_pairs().find(|(n, _)| n == name).map(|(_, v)| v.into_owned())
}
