//! Weft's side of the benchmark, set up the way an operator and an end
//! user would, through the real HTTP API: a project, its signing key, the
//! `test-apikey` integration pointing at the mock provider, a user token,
//! and that user's connected account (checked by the plugin's
//! test-connection against the mock).

use anyhow::Context;
use serde_json::{Value, json};

/// The integration the benchmark proxies through.
pub const INTEGRATION: &str = "test-apikey";
/// The end user the token is minted for.
const USER: &str = "bench-user";
/// Key id of the project's signing key.
const KID: &str = "bench";
/// Lifetime of the user token: longer than any run.
const TOKEN_TTL_SECS: i64 = 3600;

/// What the measured requests need.
pub struct Configured {
    /// The project id.
    pub project: String,
    /// A user token of the project's end user.
    pub user_token: String,
}

/// Configures a fresh Weft at `base` with its operator key, for a mock
/// provider whose API is at `provider_api` and takes `api_key`.
pub async fn configure(
    base: &str,
    operator_key: &str,
    provider_api: &str,
    api_key: &str,
) -> anyhow::Result<Configured> {
    let api = Api { client: reqwest::Client::new(), base };
    let NewProject { project, admin_key, user_token } = new_project(&api, operator_key, "Proxy bench", USER).await?;
    api.call(
        "POST",
        &format!("/admin/projects/{project}/integrations"),
        &admin_key,
        json!({"type": INTEGRATION, "active": true, "baseUrl": provider_api}),
        201,
    )
    .await?;
    api.call(
        "POST",
        &format!("/projects/{project}/sdk/connect/{INTEGRATION}/credentials"),
        &user_token,
        json!({"fields": {"api_key": api_key}}),
        201,
    )
    .await
    .context("connecting the user's account")?;
    Ok(Configured { project, user_token })
}

/// A project made over the API: its id, its first (admin) API key, and a
/// token of `user` signed with a key generated for the project.
pub(crate) struct NewProject {
    pub(crate) project: String,
    pub(crate) admin_key: String,
    pub(crate) user_token: String,
}

/// Creates project `name` with the operator key, generates its signing key
/// and mints `user`'s token (valid for [`TOKEN_TTL_SECS`]).
pub(crate) async fn new_project(
    api: &Api<'_>,
    operator_key: &str,
    name: &str,
    user: &str,
) -> anyhow::Result<NewProject> {
    let created = api.call("POST", "/admin/projects", operator_key, json!({"name": name}), 201).await?;
    let project = text(&created, "/project/id")?;
    // Creating a project answers its first API key, of role admin.
    let admin_key = text(&created, "/apiKey/key")?;
    let signing = api
        .call(
            "POST",
            &format!("/admin/projects/{project}/signing-keys"),
            &admin_key,
            json!({"generate": true, "kid": KID}),
            201,
        )
        .await?;
    let now = time::OffsetDateTime::now_utc().unix_timestamp();
    let user_token =
        weft_auth::mint_user_token(&text(&signing, "/privateKeyPem")?, Some(KID), user, now, TOKEN_TTL_SECS)
            .context("minting the user token")?;
    Ok(NewProject { project, admin_key, user_token })
}

/// Weft's HTTP API at `base`.
pub(crate) struct Api<'a> {
    pub(crate) client: reqwest::Client,
    pub(crate) base: &'a str,
}

impl Api<'_> {
    /// `method path` with a bearer credential and a JSON body; fails unless
    /// the answer has status `expect`.
    pub(crate) async fn call(
        &self,
        method: &str,
        path: &str,
        bearer: &str,
        body: Value,
        expect: u16,
    ) -> anyhow::Result<Value> {
        let method = reqwest::Method::from_bytes(method.as_bytes())?;
        let response = self
            .client
            .request(method.clone(), format!("{}{path}", self.base))
            .bearer_auth(bearer)
            .json(&body)
            .send()
            .await
            .with_context(|| format!("{method} {path}"))?;
        let status = response.status().as_u16();
        let text = response.text().await.unwrap_or_default();
        anyhow::ensure!(status == expect, "{method} {path} answered {status}, not {expect}: {text}");
        serde_json::from_str(&text).with_context(|| format!("{method} {path} answered no JSON: {text}"))
    }
}

/// The string at `pointer` in `value`.
pub(crate) fn text(value: &Value, pointer: &str) -> anyhow::Result<String> {
    value
        .pointer(pointer)
        .and_then(Value::as_str)
        .map(str::to_owned)
        .with_context(|| format!("no {pointer} in {value}"))
}
