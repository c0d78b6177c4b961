//! `test-oauth`: a test plugin with OAuth 2.0 authorization code auth
//! (password grant supported, host-side refresh). Tests point its endpoints
//! and base URL at a `MockAuthServer`, so the URLs below are placeholders.
//! Its keys and JSON shapes are part of the tests' contract.

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};
use weft_sdk::{Action, Auth, ClientAuth, ConnectionInfo, Ctx, Empty, Error, Integration, Metadata, Result};

/// Connection settings.
#[derive(Deserialize, JsonSchema)]
struct OAuthConfig {
    /// The account's subdomain, if the provider has one.
    #[allow(dead_code)]
    subdomain: Option<String>,
}

/// The provider's `GET /me` answer.
#[derive(Serialize, Deserialize, JsonSchema)]
struct Me {
    id: String,
    name: String,
}

/// `GET <path>` with the connection's credentials: the JSON body on 200,
/// `unauthorized` on 401, `upstream` otherwise.
fn get_json<T: serde::de::DeserializeOwned>(cx: &Ctx, path: &str) -> Result<T> {
    let answer = cx.http().get(path).connection_auth().send_raw()?;
    match answer.status {
        200 => answer.json(),
        401 => Err(Error::unauthorized(format!("GET {path}: the provider rejected the credentials"))),
        status => Err(Error::upstream(
            status,
            format!("GET {path}: upstream answered {status}"),
            Some(answer.text().into_owned()),
        )),
    }
}

fn whoami(cx: &Ctx, _input: Empty) -> Result<Me> {
    get_json(cx, "/me")
}

#[derive(Deserialize, JsonSchema)]
struct GetIn {
    /// A path under the base URL, starting with `/`.
    path: String,
}

fn get(cx: &Ctx, input: GetIn) -> Result<Value> {
    get_json(cx, &input.path)
}

struct TestOAuth;

impl Integration for TestOAuth {
    fn metadata() -> Metadata {
        Metadata::new("test-oauth", "Test OAuth", "0.1.0")
            .description("OAuth 2.0 authorization code auth against a mock provider")
            .base_url("http://127.0.0.1/api")
            .allowed_hosts(["127.0.0.1", "127.0.0.2", "127.0.0.3", "localhost"])
            .auth(
                Auth::oauth2("http://127.0.0.1/authorize", "http://127.0.0.1/token", ["read"])
                    .revoke_url("http://127.0.0.1/revoke")
                    .password_grant()
                    .client_auth(ClientAuth::Basic),
            )
            .connection_config::<OAuthConfig>()
    }

    fn actions() -> Vec<Action> {
        vec![
            Action::new("TEST_OAUTH_WHOAMI", "Who am I", whoami).description("The connected account: GET /me"),
            Action::new("TEST_OAUTH_GET", "GET", get).description("GET a path of the provider API, as JSON"),
        ]
    }

    fn test_connection(cx: &Ctx) -> Result<ConnectionInfo> {
        let me: Me = get_json(cx, "/me")?;
        Ok(ConnectionInfo::new(me.id, me.name.clone()).profile(json!({ "name": me.name })))
    }
}

weft_sdk::export_integration!(TestOAuth);
