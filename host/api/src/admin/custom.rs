//! A custom integration's provider definition in an integration body: the
//! `definition` field (a JSON object, or a definition file's text in YAML or
//! JSON) is checked by the credential service (the catalog's loader and the
//! egress policy's destinations) and replaced by the definition as read,
//! defaults filled, before the store sees it.

use http::StatusCode;
use serde_json::{Map, Value};

use crate::error::Problem;
use crate::{ApiError, AppState};

/// The body's field holding the definition.
const FIELD: &str = "definition";

/// Checks the `definition` of `body` (an integration of `integration_type`)
/// in place. Bodies of other types, and `null` (remove it), pass as they are:
/// the store refuses a definition on a type that is not `custom.<name>`.
pub(super) fn check_in_body(
    state: &AppState,
    integration_type: &str,
    body: &mut Map<String, Value>,
) -> Result<(), ApiError> {
    let Some(document) = body.get_mut(FIELD) else { return Ok(()) };
    if document.is_null() || !integration_type.starts_with("custom.") {
        return Ok(());
    }
    let provider = state
        .credentials
        .check_definition(integration_type, std::mem::take(document))
        .map_err(|e| refused(integration_type, e))?;
    *document = serde_json::to_value(&provider).map_err(ApiError::internal)?;
    Ok(())
}

/// A refused definition: 400 with every problem as a path and a reason.
fn refused(integration_type: &str, e: weft_credentials::DefinitionError) -> ApiError {
    let at = |p: &Problem| format!("at {}: {}", if p.path.is_empty() { "/" } else { &p.path }, p.reason);
    let problems: Vec<Problem> = e.problems.into_iter().map(|p| Problem { path: p.path, reason: p.reason }).collect();
    let message = match problems.as_slice() {
        [one] => format!("The {integration_type} definition is invalid {}", at(one)),
        [first, ..] => format!(
            "The {integration_type} definition has {} problems (see meta.problems), the first {}",
            problems.len(),
            at(first)
        ),
        [] => format!("The {integration_type} definition is invalid"),
    };
    ApiError::new(StatusCode::BAD_REQUEST, "INVALID_DEFINITION", message).with_problems(problems)
}
