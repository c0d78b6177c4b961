//! `{config.<field>}` placeholders in a plugin's URLs (base URL, allowed
//! hosts, OAuth endpoints), filled from a connection's settings.
//!
//! Values are restricted to host-safe tokens (letters, digits, `-`, `_`,
//! `.`; not starting with `.`; at most 253 characters), so a setting such as
//! a "subdomain" of `evil.test/` cannot move a URL to another host or path.
//! The plugin host (outbound requests) and the credential service (OAuth
//! endpoints) both fill URLs through here.

use serde_json::Value;

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

/// Replaces each `{config.<field>}` of `template` with the setting's value.
pub fn fill_placeholders(template: &str, config: &Value) -> Result<String, PlaceholderError> {
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
