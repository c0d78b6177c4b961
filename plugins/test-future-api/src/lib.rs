//! `test-future-api`: a trivial test plugin whose `weft:api-version` custom
//! section claims API 9.0.0, so the host's tests can check that an
//! unsupported API version is refused.

use schemars::JsonSchema;
use serde::Serialize;
use weft_sdk::{Action, Ctx, Empty, Integration, Metadata, Result};

struct TestFutureApi;

impl Integration for TestFutureApi {
    fn metadata() -> Metadata {
        Metadata::new("test-future-api", "Test Future API", "0.1.0")
            .description("Claims an API version the host does not support")
    }

    fn actions() -> Vec<Action> {
        vec![Action::new("OK", "Ok", ok)]
    }
}

// Test-only override: real plugins use `export_integration!(Type)`.
weft_sdk::export_integration!(TestFutureApi, api_version = "9.0.0");

#[derive(Serialize, JsonSchema)]
struct OkOut {
    ok: bool,
}

fn ok(_cx: &Ctx, _: Empty) -> Result<OkOut> {
    Ok(OkOut { ok: true })
}
