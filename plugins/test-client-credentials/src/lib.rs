//! `test-client-credentials`: a test plugin with OAuth 2.0 client credentials
//! auth. Tests point its token endpoint and base URL at a `MockAuthServer`,
//! so the URLs below are placeholders.

use serde::Deserialize;
use serde_json::json;
use weft_sdk::{Auth, ClientAuth, ConnectionInfo, Ctx, Error, Integration, Metadata, Result};

/// The provider's `GET /me` answer.
#[derive(Deserialize)]
struct Me {
    id: String,
    name: String,
}

struct TestClientCredentials;

impl Integration for TestClientCredentials {
    fn metadata() -> Metadata {
        Metadata::new("test-client-credentials", "Test Client Credentials", "0.1.0")
            .description("OAuth 2.0 client credentials auth against a mock provider")
            .base_url("http://127.0.0.1/api")
            .allowed_hosts(["127.0.0.1", "127.0.0.2", "127.0.0.3", "localhost"])
            .auth(Auth::client_credentials("http://127.0.0.1/token", ["read"]).client_auth(ClientAuth::Basic))
    }

    fn test_connection(cx: &Ctx) -> Result<ConnectionInfo> {
        let answer = cx.http().get("/me").connection_auth().send_raw()?;
        match answer.status {
            200 => {
                let me: Me = answer.json()?;
                Ok(ConnectionInfo::new(me.id, me.name.clone()).profile(json!({ "name": me.name })))
            }
            401 => Err(Error::unauthorized("GET /me: the provider rejected the token")),
            status => Err(Error::upstream(
                status,
                format!("GET /me: upstream answered {status}"),
                Some(answer.text().into_owned()),
            )),
        }
    }
}

weft_sdk::export_integration!(TestClientCredentials);
