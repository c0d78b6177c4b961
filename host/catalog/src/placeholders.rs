//! `{config.<field>}` placeholders in a provider's URLs (base URL, allowed
//! hosts, OAuth endpoints), filled from a connection's settings.
//!
//! Values are restricted to host-safe tokens (letters, digits, `-`, `_`,
//! `.`; not starting with `.`; at most 253 characters), so a setting such as
//! a "subdomain" of `evil.test/` cannot move a URL to another host or path.
//! Every URL Weft fills (outbound requests, OAuth endpoints) comes through
//! here.

use serde_json::{Map, Value};

/// Why a template could not be filled.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PlaceholderError {
    /// A `{config.` without its closing `}`.
    Unclosed,
    /// The connection has no string or number setting of this name.
    Missing(String),
    /// The setting holds characters not allowed in a host.
    Unsafe(String),
}

impl std::fmt::Display for PlaceholderError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::Unclosed => f.write_str("a `{config.` placeholder is not closed"),
            Self::Missing(field) => write!(f, "the connection setting `{field}` is missing"),
            Self::Unsafe(field) => {
                write!(f, "the connection setting `{field}` may only hold letters, digits, '-', '_' and '.'")
            }
        }
    }
}

/// Replaces each `{config.<field>}` of `template` with the setting's value.
pub fn fill_placeholders(template: &str, config: &Map<String, Value>) -> Result<String, PlaceholderError> {
    let mut out = String::with_capacity(template.len());
    let mut rest = template;
    while let Some(start) = rest.find("{config.") {
        out.push_str(&rest[..start]);
        let after = &rest[start + "{config.".len()..];
        let end = after.find('}').ok_or(PlaceholderError::Unclosed)?;
        let field = &after[..end];
        let value = match config.get(field) {
            Some(Value::String(s)) => s.clone(),
            Some(Value::Number(n)) => n.to_string(),
            _ => return Err(PlaceholderError::Missing(field.to_owned())),
        };
        let safe = !value.is_empty()
            && value.len() <= 253
            && !value.starts_with('.')
            && value.bytes().all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.'));
        if !safe {
            return Err(PlaceholderError::Unsafe(field.to_owned()));
        }
        out.push_str(&value);
        rest = &after[end + 1..];
    }
    out.push_str(rest);
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn placeholders_are_filled_and_guarded() {
        let cfg = json!({"subdomain": "acme", "evil": "evil.test/x", "n": 7});
        let cfg = cfg.as_object().unwrap();
        assert_eq!(
            fill_placeholders("https://{config.subdomain}.zendesk.com", cfg).unwrap(),
            "https://acme.zendesk.com"
        );
        assert_eq!(fill_placeholders("https://x/{config.n}", cfg).unwrap(), "https://x/7");
        assert_eq!(
            fill_placeholders("https://{config.evil}.zendesk.com", cfg),
            Err(PlaceholderError::Unsafe("evil".into()))
        );
        assert_eq!(
            fill_placeholders("https://{config.missing}.zendesk.com", cfg),
            Err(PlaceholderError::Missing("missing".into()))
        );
        assert_eq!(fill_placeholders("https://{config.subdomain", cfg), Err(PlaceholderError::Unclosed));
    }
}
