//! `test-custom-refresh`: OAuth 2.0 authorization code whose refresh is not
//! plain RFC 6749, so the host calls this plugin's `auth.refresh` hook
//! instead of the token endpoint. The hook returns a recognisable token
//! (`custom-<invocation id>`) so tests can tell who refreshed.

use serde::Deserialize;
use serde_json::json;
use weft_sdk::{Auth, ConnectionInfo, Ctx, Error, Integration, Metadata, RefreshedCredentials, Result};

#[derive(Deserialize)]
struct Me {
    id: String,
    name: String,
}

struct TestCustomRefresh;

impl Integration for TestCustomRefresh {
    fn metadata() -> Metadata {
        Metadata::new("test-custom-refresh", "Test Custom Refresh", "0.1.0")
            .description("OAuth 2.0 with a plugin-side refresh hook")
            .base_url("http://127.0.0.1/api")
            .allowed_hosts(["127.0.0.1", "localhost"])
            .auth(Auth::oauth2("http://127.0.0.1/authorize", "http://127.0.0.1/token", ["read"]).custom_refresh())
    }

    fn test_connection(cx: &Ctx) -> Result<ConnectionInfo> {
        let answer = cx.http().get("/me").connection_auth().send_raw()?;
        if answer.status == 401 {
            return Err(Error::unauthorized("the provider rejected the credentials"));
        }
        let me: Me = answer.json()?;
        Ok(ConnectionInfo::new(me.id, me.name.clone()).profile(json!({ "name": me.name })))
    }

    fn refresh(cx: &Ctx) -> Result<RefreshedCredentials> {
        Ok(RefreshedCredentials::new(format!("custom-{}", cx.invocation_id())).expires_in_seconds(3600))
    }
}

weft_sdk::export_integration!(TestCustomRefresh);
