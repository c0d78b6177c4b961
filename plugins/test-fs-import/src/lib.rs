//! `test-fs-import`: a test plugin that reads a file, so its component
//! imports `wasi:filesystem`. The host must refuse to install it; it exists
//! only to check that refusal.

use schemars::JsonSchema;
use serde::Serialize;
use weft_sdk::{Action, Ctx, Empty, Error, Integration, Metadata, Result};

struct TestFsImport;

impl Integration for TestFsImport {
    fn metadata() -> Metadata {
        Metadata::new("test-fs-import", "Test FS Import", "0.1.0")
            .description("Imports wasi:filesystem; the host must refuse it")
    }

    fn actions() -> Vec<Action> {
        vec![Action::new("READ", "Read /etc/hostname", read)]
    }
}

weft_sdk::export_integration!(TestFsImport);

#[derive(Serialize, JsonSchema)]
struct Content {
    content: String,
}

fn read(_cx: &Ctx, _: Empty) -> Result<Content> {
    let content =
        std::fs::read_to_string("/etc/hostname").map_err(|e| Error::internal(format!("reading /etc/hostname: {e}")))?;
    Ok(Content { content })
}
