//! Schema errors as problems a person can act on. The validator's own
//! words are kept where they are clear; unions (steps, triggers,
//! authorizations, conditions) are explained by the variant the document
//! meant, not as "matches none of the schemas".

use std::sync::OnceLock;

use jsonschema::ValidationError;
use jsonschema::error::ValidationErrorKind as Kind;
use serde_json::Value;

use super::Problem;

fn validator() -> &'static jsonschema::Validator {
    static VALIDATOR: OnceLock<jsonschema::Validator> = OnceLock::new();
    VALIDATOR.get_or_init(|| {
        // The schema is generated from the model: a failure here is a bug
        // caught by this crate's tests, never by a user.
        jsonschema::validator_for(crate::schema::schema()).expect("the workflow schema compiles")
    })
}

/// Every schema problem of `document`, sorted by path.
pub(super) fn problems(document: &Value) -> Vec<Problem> {
    let mut problems = Vec::new();
    for e in validator().iter_errors(document) {
        explain(&e, &mut problems);
    }
    problems.sort_by(|a, b| a.path.cmp(&b.path));
    problems.dedup();
    problems
}

fn explain(e: &ValidationError<'_>, out: &mut Vec<Problem>) {
    let path = e.instance_path().to_string();
    let reason = match e.kind() {
        Kind::OneOfNotValid { context } | Kind::AnyOf { context } => {
            return explain_union(e, &path, context, out);
        }
        Kind::Required { property } => format!("`{}` is missing", property.as_str().unwrap_or_default()),
        Kind::AdditionalProperties { unexpected } | Kind::UnevaluatedProperties { unexpected }
            if unexpected.iter().all(|n| n == "pagination") =>
        {
            "only request and integrationRequest steps take `pagination`".into()
        }
        Kind::AdditionalProperties { unexpected } | Kind::UnevaluatedProperties { unexpected } => {
            let names: Vec<String> = unexpected.iter().map(|n| format!("`{n}`")).collect();
            format!("unknown field {}; check its spelling", names.join(", "))
        }
        Kind::Enum { options } => format!("{} is not one of {}", e.instance(), listed(options)),
        _ => e.to_string(),
    };
    out.push(Problem { path, reason });
}

/// A value of a union that matches no variant. The variant meant is the
/// one whose `type` tag matches, or else the one that knows every field
/// given; its own errors are then the ones to report.
fn explain_union(
    e: &ValidationError<'_>,
    path: &str,
    branches: &[Vec<ValidationError<'static>>],
    out: &mut Vec<Problem>,
) {
    let tag = format!("{path}/type");
    let tag_fits = |b: &&Vec<ValidationError<'static>>| !b.iter().any(|e| e.instance_path().as_str() == tag);
    let knows_fields = |b: &&Vec<ValidationError<'static>>| {
        !b.iter().any(|e| {
            e.instance_path().as_str() == path
                && matches!(
                    e.kind(),
                    Kind::AdditionalProperties { .. } | Kind::UnevaluatedProperties { .. } | Kind::Type { .. }
                )
        })
    };
    let mut candidates: Vec<_> = branches.iter().filter(tag_fits).collect();
    if candidates.len() > 1 {
        candidates.retain(knows_fields);
    }
    let types = union_tags(e);
    let instance = e.instance();
    let untyped = instance.is_object() && instance.get("type").is_none() && !types.is_empty();
    if untyped {
        out.push(Problem { path: path.to_owned(), reason: format!("`type` is missing; one of {}", types.join(", ")) });
    }
    if let [branch] = candidates.as_slice() {
        let required_type =
            |e: &&ValidationError<'_>| matches!(e.kind(), Kind::Required { property } if property == "type");
        for inner in branch.iter().filter(|e| !required_type(e)) {
            explain(inner, out);
        }
        return;
    }
    let reason = match (instance.get("type"), types.is_empty()) {
        (Some(given), false) => {
            let reason = format!("unknown type {given}; expected one of {}", types.join(", "));
            out.push(Problem { path: tag, reason });
            return;
        }
        (None, false) if untyped => return,
        _ if path.ends_with("/if") || path.contains("/if/") => "a condition is a rule `{left, operator, right}`, \
             `{and: [rules]}` or `{or: [{and: [rules]}, …]}`"
            .to_owned(),
        _ => format!("{instance} matches none of the allowed forms"),
    };
    out.push(Problem { path: path.to_owned(), reason });
}

/// The `type` values of a tagged union's variants, read from the schema at
/// the error's keyword location.
fn union_tags(e: &ValidationError<'_>) -> Vec<String> {
    let Some(location) = e.absolute_keyword_location() else { return Vec::new() };
    let Some((_, fragment)) = location.as_str().split_once('#') else { return Vec::new() };
    let Some(variants) = crate::schema::schema().pointer(fragment).and_then(Value::as_array) else {
        return Vec::new();
    };
    variants.iter().filter_map(|v| v.pointer("/properties/type/const")?.as_str().map(str::to_owned)).collect()
}

fn listed(options: &Value) -> String {
    match options.as_array() {
        Some(options) => options
            .iter()
            .map(|o| o.as_str().map_or_else(|| o.to_string(), str::to_owned))
            .collect::<Vec<_>>()
            .join(", "),
        None => options.to_string(),
    }
}
