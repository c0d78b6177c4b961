//! One run: find the user's function, build a fresh realm, call it, await
//! it, and serialize what it returned.

use crate::error;
use crate::exports::weft::plugin::js::{JsError, JsErrorKind, JsLimits};
use boa_engine::ast::StatementListItem;
use boa_engine::ast::declaration::Declaration;
use boa_engine::ast::scope::Scope;
use boa_engine::interner::Interner;
use boa_engine::object::ObjectInitializer;
use boa_engine::parser::Parser;
use boa_engine::property::Attribute;
use boa_engine::script::Script;
use boa_engine::vm::RuntimeLimits;
use boa_engine::{Context, JsObject, JsValue, Source, js_string};
use std::path::Path;

/// The path the user's code is parsed under: positions in errors are
/// reported against it, library frames are skipped.
pub(crate) const USER_PATH: &str = "function.js";

/// JS-to-JS calls deeper than this throw a `RangeError`-like limit error.
/// Node allows about 10,000 frames of a small function; Boa's frames are
/// heap-allocated, but native functions that call back into JS (`map`,
/// getters, `toString`) recurse on the wasm stack, which the host caps.
/// Measured: 3,200 frames of a small arrow function fit the host's default
/// 512 KiB wasm stack, 4,000 of a named function do not.
const RECURSION_LIMIT: usize = 2_500;

/// Parses `code` without running it and names the function to call: the
/// first function declared at the top level, or none when the code only
/// assigns `module.exports` (the code-string form).
pub(crate) fn entry_name(code: &str) -> Result<Option<String>, JsError> {
    let mut interner = Interner::default();
    let scope = Scope::new_global();
    let source = Source::from_bytes(code).with_path(Path::new(USER_PATH));
    let script =
        Parser::new(source).parse_script(&scope, &mut interner).map_err(|e| error::syntax(&e.to_string(), code))?;
    for item in script.statements().statements() {
        let StatementListItem::Declaration(declaration) = item else { continue };
        let name = match &**declaration {
            Declaration::FunctionDeclaration(f) => f.name(),
            Declaration::AsyncFunctionDeclaration(f) => f.name(),
            _ => continue,
        };
        return Ok(Some(interner.resolve_expect(name.sym()).to_string()));
    }
    if code.contains("module.exports") || code.contains("exports.") {
        return Ok(None);
    }
    Err(JsError {
        kind: JsErrorKind::NoFunction,
        message: "the code declares no function: write `function yourFunction(parameters, libraries) { … }`".into(),
        line: None,
        column: None,
    })
}

/// A fresh realm with the globals a Function step may use.
fn context() -> Result<Context, JsError> {
    let mut cx = Context::builder().build().map_err(|e| error::other(&e.to_string()))?;
    let mut limits = RuntimeLimits::default();
    limits.set_recursion_limit(RECURSION_LIMIT);
    limits.set_stack_size_limit(64 * 1024);
    cx.set_runtime_limits(limits);
    crate::console::install(&mut cx).map_err(|e| error::other(&e.to_string()))?;
    crate::web::install(&mut cx).map_err(|e| error::other(&e.to_string()))?;
    crate::libraries::install_globals(&mut cx).map_err(|e| error::other(&e.to_string()))?;
    Ok(cx)
}

/// `JSON.parse` and `JSON.stringify` as the realm had them before user code
/// ran (user code may replace the globals; that must not change the output).
struct Json {
    parse: JsObject,
    stringify: JsObject,
}

impl Json {
    fn capture(cx: &mut Context) -> Result<Self, JsError> {
        let get = |cx: &mut Context, name| -> Option<JsObject> {
            let json = cx.global_object().get(js_string!("JSON"), cx).ok()?.as_object()?;
            json.get(js_string!(name), cx).ok()?.as_callable()
        };
        match (get(cx, "parse"), get(cx, "stringify")) {
            (Some(parse), Some(stringify)) => Ok(Self { parse, stringify }),
            _ => Err(error::other("the engine has no JSON object")),
        }
    }
}

/// Runs the function `code` declares and returns its result as JSON text.
pub(crate) fn run(code: &str, parameters: &str, limits: &JsLimits) -> Result<String, JsError> {
    let name = entry_name(code)?;
    let cx = &mut context()?;
    let json = Json::capture(cx)?;
    // The code-string form ends with `module.exports = execute;`.
    let exports = ObjectInitializer::new(cx).build();
    let module = ObjectInitializer::new(cx).property(js_string!("exports"), exports.clone(), Attribute::all()).build();
    cx.register_global_property(js_string!("module"), module.clone(), Attribute::all())
        .and_then(|()| cx.register_global_property(js_string!("exports"), exports, Attribute::all()))
        .map_err(|e| error::other(&e.to_string()))?;

    let source = Source::from_bytes(code).with_path(Path::new(USER_PATH));
    let script = Script::parse(source, None, cx).map_err(|e| error::from_js(e, cx))?;
    script.evaluate(cx).map_err(|e| error::from_js(e, cx))?;
    crate::web::drain(cx)?;

    let function = entry(cx, &module, name.as_deref())?;
    let parameters = json
        .parse
        .call(&JsValue::undefined(), &[js_string!(parameters).into()], cx)
        .map_err(|e| error::from_js(e, cx))?;
    let libraries = crate::libraries::object(cx).map_err(|e| error::other(&e.to_string()))?;
    let value = function.call(&JsValue::undefined(), &[parameters, libraries.into()], cx);
    let value = value.map_err(|e| error::from_js(e, cx))?;
    let value = crate::web::settle(value, cx)?;
    error::to_json(&value, &json.stringify, limits, cx)
}

/// The function to call: `module.exports` when the code assigned a function
/// to it, else the first top-level function declaration.
fn entry(cx: &mut Context, module: &JsObject, name: Option<&str>) -> Result<JsObject, JsError> {
    let exported = module.get(js_string!("exports"), cx).map_err(|e| error::from_js(e, cx))?;
    if let Some(f) = exported.as_callable() {
        return Ok(f);
    }
    let not_callable =
        |what: String| JsError { kind: JsErrorKind::NoFunction, message: what, line: None, column: None };
    let Some(name) = name else {
        return Err(not_callable("`module.exports` is not a function".into()));
    };
    let value = cx.global_object().get(js_string!(name), cx).map_err(|e| error::from_js(e, cx))?;
    value.as_callable().ok_or_else(|| not_callable(format!("`{name}` is no longer a function when the code has run")))
}
