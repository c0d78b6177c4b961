//! Turning what went wrong in the engine into a `js-error` with a position in
//! the user's code, and a returned value into JSON.

use crate::exports::weft::plugin::js::{JsError, JsErrorKind, JsLimits};
use crate::run::USER_PATH;
use boa_engine::{Context, JsObject, JsValue, js_string};

fn error(kind: JsErrorKind, message: impl Into<String>) -> JsError {
    JsError { kind, message: message.into(), line: None, column: None }
}

/// An engine failure that is nobody's code's fault.
pub(crate) fn other(message: &str) -> JsError {
    error(JsErrorKind::Other, message)
}

/// A parser message, `… at line L, col C`, split into its text and position;
/// an unexpected end of `code` is placed just after its last character.
pub(crate) fn syntax(message: &str, code: &str) -> JsError {
    let message = message.strip_prefix("SyntaxError: ").unwrap_or(message);
    let (text, position) = match message.rsplit_once(" at line ") {
        Some((text, rest)) => {
            let mut numbers = rest.split(", col ").map(|n| n.trim().parse::<u32>().ok());
            match (numbers.next().flatten(), numbers.next().flatten()) {
                (Some(line), Some(column)) => (text, Some((line, column))),
                _ => (message, None),
            }
        }
        None => {
            let line = code.split('\n').count();
            let column = code.rsplit('\n').next().map_or(0, |l| l.chars().count()) + 1;
            (message, Some((saturating(line), saturating(column))))
        }
    };
    JsError {
        kind: JsErrorKind::Syntax,
        message: format!("SyntaxError: {text}"),
        line: position.map(|p| p.0),
        column: position.map(|p| p.1),
    }
}

fn saturating(n: usize) -> u32 {
    u32::try_from(n).unwrap_or(u32::MAX)
}

/// What the user's code threw (or the engine's limit it hit).
pub(crate) fn from_js(err: boa_engine::JsError, cx: &mut Context) -> JsError {
    match err.into_opaque(cx) {
        Ok(value) => thrown(&value, cx),
        // Engine errors cannot be caught by JS: only runtime limits and
        // engine bugs are such.
        Err(engine) => {
            let text = engine.to_string();
            let message = if text.contains("recursive calls") || text.contains("stack size") {
                "RangeError: Maximum call stack size exceeded (the function recursed too deep)".to_owned()
            } else {
                format!("the engine stopped the function: {text}")
            };
            error(JsErrorKind::Limit, message)
        }
    }
}

fn string_property(obj: &JsObject, name: &'static str, cx: &mut Context) -> Option<String> {
    let value = obj.get(js_string!(name), cx).ok()?;
    value.as_string().map(|s| s.to_std_string_lossy())
}

fn thrown(value: &JsValue, cx: &mut Context) -> JsError {
    let Some(obj) = value.as_object() else {
        // `throw "text"` and other primitives carry no position.
        let text = value.to_string(cx).map(|s| s.to_std_string_lossy()).unwrap_or_else(|_| value.type_of().into());
        return error(JsErrorKind::Thrown, format!("Uncaught {text}"));
    };
    let message = string_property(&obj, "message", cx);
    let name = string_property(&obj, "name", cx).filter(|n| !n.is_empty());
    let text = match (name, message) {
        (Some(name), Some(message)) if !message.is_empty() => format!("{name}: {message}"),
        (Some(name), _) => name,
        (None, Some(message)) => message,
        (None, None) => format!("Uncaught {}", value.display()),
    };
    let position = string_property(&obj, "stack", cx).and_then(|stack| user_position(&stack));
    JsError { kind: JsErrorKind::Thrown, message: text, line: position.map(|p| p.0), column: position.map(|p| p.1) }
}

/// The innermost frame of the user's code in a stack trace such as
/// `    at yourFunction (function.js:3:11)`; library frames are skipped.
fn user_position(stack: &str) -> Option<(u32, u32)> {
    let marker = format!("({USER_PATH}:");
    stack.lines().find_map(|line| {
        let rest = &line[line.find(&marker)? + marker.len()..];
        let rest = rest.strip_suffix(')')?;
        let (l, c) = rest.split_once(':')?;
        Some((l.parse().ok()?, c.parse().ok()?))
    })
}

/// Serializes the returned value, refusing what JSON cannot hold.
pub(crate) fn to_json(
    value: &JsValue,
    stringify: &JsObject,
    limits: &JsLimits,
    cx: &mut Context,
) -> Result<String, JsError> {
    let not_json = |what: &str| {
        error(
            JsErrorKind::NotJson,
            format!(
                "the function returned {what}, which is not JSON; return an object, array, string, number, boolean or null"
            ),
        )
    };
    if value.is_undefined() {
        return Err(not_json("undefined (is a `return` missing?)"));
    }
    if value.is_callable() {
        return Err(not_json("a function"));
    }
    if value.is_symbol() {
        return Err(not_json("a symbol"));
    }
    let text = match stringify.call(&JsValue::undefined(), std::slice::from_ref(value), cx) {
        Ok(text) => text,
        Err(e) => {
            let e = from_js(e, cx);
            return Err(if e.message.contains("cyclic") {
                not_json("an object that contains itself (a cycle)")
            } else if e.message.to_ascii_lowercase().contains("bigint") {
                not_json("a BigInt")
            } else {
                e
            });
        }
    };
    let Some(text) = text.as_string() else {
        return Err(not_json(&format!("a value that serializes to {}", text.type_of())));
    };
    let max = usize::try_from(limits.max_output_bytes).unwrap_or(usize::MAX);
    // Each UTF-16 unit is at least one UTF-8 byte: refuse before converting.
    if text.len() > max {
        return Err(too_large(text.len(), max));
    }
    let text = text.to_std_string_lossy();
    if text.len() > max {
        return Err(too_large(text.len(), max));
    }
    Ok(text)
}

fn too_large(size: usize, max: usize) -> JsError {
    error(
        JsErrorKind::OutputTooLarge,
        format!("the function's result is {size} bytes as JSON, more than the {max}-byte limit"),
    )
}
