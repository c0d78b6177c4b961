//! `test-apikey`: a test plugin whose provider takes an API key in the
//! `X-API-Key` header. Tests point its base URL at a `MockAuthServer`.

use serde::Deserialize;
use serde_json::json;
use weft_sdk::{Auth, ConnectionInfo, Ctx, Error, Integration, Metadata, Result};

/// The provider's `GET /me` answer.
#[derive(Deserialize)]
struct Me {
    id: String,
    name: String,
}

struct TestApiKey;

impl Integration for TestApiKey {
    fn metadata() -> Metadata {
        Metadata::new("test-apikey", "Test API Key", "0.1.0")
            .description("API key auth in a header against a mock provider")
            .base_url("http://127.0.0.1/api")
            .allowed_hosts(["127.0.0.1", "127.0.0.2", "127.0.0.3", "localhost"])
            .auth(Auth::api_key_header("X-API-Key"))
    }

    fn test_connection(cx: &Ctx) -> Result<ConnectionInfo> {
        let answer = cx.http().get("/me").connection_auth().send_raw()?;
        match answer.status {
            200 => {
                let me: Me = answer.json()?;
                Ok(ConnectionInfo::new(me.id, me.name.clone()).profile(json!({ "name": me.name })))
            }
            401 => Err(Error::unauthorized("GET /me: the provider rejected the API key")),
            status => Err(Error::upstream(
                status,
                format!("GET /me: upstream answered {status}"),
                Some(answer.text().into_owned()),
            )),
        }
    }
}

weft_sdk::export_integration!(TestApiKey);
