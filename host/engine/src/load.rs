//! Workflow files: JSON or YAML, checked against the published schema,
//! then against what a schema cannot say (unique ids, references to steps
//! that run earlier, where Response steps may stand, URLs, caps). Every
//! problem is reported, each as a JSON Pointer into the document and a
//! reason that says what to change.

mod checks;
mod schema_check;
mod scope;

use std::path::Path;

use serde_json::Value;

use crate::definition::Workflow;
pub use crate::template::valid_step_id;

// Definition files of every kind (providers, workflows) share their
// formats and the shape of a refusal.
pub use weft_catalog::load::{DefinitionError, Format, Problem};

/// Largest definition accepted, in bytes.
pub const MAX_DEFINITION_BYTES: usize = 1024 * 1024;

/// Most steps a workflow may have, nested ones included.
pub const MAX_STEPS: usize = 500;

/// Deepest nesting of conditionals and fan-outs: a step inside this many
/// is refused. It also bounds fan-out instance paths (`"2.0.5"`), which the
/// queue stores in a bounded column.
pub const MAX_DEPTH: usize = 8;

/// Longest delay, in seconds (a year).
pub const MAX_DELAY_SECONDS: f64 = 365.0 * 86_400.0;

/// Parses and checks one definition.
pub fn parse(text: &str, format: Format, source_name: &str) -> Result<Workflow, DefinitionError> {
    if text.len() > MAX_DEFINITION_BYTES {
        return Err(DefinitionError::one(source_name, "", format!("larger than {MAX_DEFINITION_BYTES} bytes")));
    }
    let document: Value = match format {
        Format::Json => serde_json::from_str(text)
            .map_err(|e| DefinitionError::one(source_name, "", format!("not valid JSON: {e}")))?,
        Format::Yaml => serde_yaml_ng::from_str(text)
            .map_err(|e| DefinitionError::one(source_name, "", format!("not valid YAML: {e}")))?,
    };
    from_value(document, source_name)
}

/// Checks a definition already parsed into JSON (an API request body).
pub fn from_value(document: Value, source_name: &str) -> Result<Workflow, DefinitionError> {
    let problems = schema_check::problems(&document);
    if !problems.is_empty() {
        return Err(DefinitionError { source_name: source_name.into(), problems });
    }
    let workflow: Workflow = serde_json::from_value(document)
        .map_err(|e| DefinitionError::one(source_name, "", format!("does not match the workflow model: {e}")))?;
    let problems = check(&workflow);
    if !problems.is_empty() {
        return Err(DefinitionError { source_name: source_name.into(), problems });
    }
    Ok(workflow)
}

/// Reads and checks the definition in `path` (its extension names the format).
pub fn load_file(path: &Path) -> Result<Workflow, DefinitionError> {
    let name = path.display().to_string();
    let format = Format::of(path)
        .ok_or_else(|| DefinitionError::one(&name, "", "the file name must end in .json, .yaml or .yml"))?;
    let text =
        std::fs::read_to_string(path).map_err(|e| DefinitionError::one(&name, "", format!("unreadable: {e}")))?;
    parse(&text, format, &name)
}

/// What the schema cannot check, in document order; empty when the
/// workflow is valid. Only a valid workflow may be given to
/// [`crate::Plan::new`].
pub fn check(workflow: &Workflow) -> Vec<Problem> {
    checks::problems(workflow)
}

#[cfg(test)]
mod tests;
