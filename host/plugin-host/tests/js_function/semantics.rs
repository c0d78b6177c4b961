//! What a Function step's code sees and what comes back.

use crate::{host, run, run_with};
use serde_json::json;
use weft_plugin_host::{JsErrorKind, JsLimits, JsLogLevel};

#[tokio::test]
async fn parameters_in_json_out() {
    let h = host().await;
    let code = "function yourFunction(parameters, libraries) {\n  return { greeting: 'hi ' + parameters.name, n: parameters.items.length, nested: parameters };\n}";
    let params = json!({"name": "Ada", "items": [1, 2, 3]});
    let out = run(&h, code, params.clone()).await.unwrap();
    assert_eq!(out, json!({"greeting": "hi Ada", "n": 3, "nested": params}));
}

#[tokio::test]
async fn code_string_form_with_module_exports() {
    let h = host().await;
    let code = "function execute(params, libraries) { return params.a * 2; }\nmodule.exports = execute;";
    assert_eq!(run(&h, code, json!({"a": 21})).await.unwrap(), json!(42));
    // `module.exports` wins over the first declaration.
    let code = "function helper() { return 1; }\nmodule.exports = function (p) { return helper() + p.a; };";
    assert_eq!(run(&h, code, json!({"a": 1})).await.unwrap(), json!(2));
}

#[tokio::test]
async fn async_functions_promises_and_timers_resolve() {
    let h = host().await;
    let code = r#"async function f(p) {
        const wait = (ms, v) => new Promise(r => setTimeout(() => r(v), ms));
        const [a, b] = await Promise.all([wait(50, 'a'), wait(10, 'b')]);
        const order = [];
        setTimeout(() => order.push(2), 20);
        setTimeout(() => order.push(1), 10);
        await wait(30);
        return { a, b, order, doubled: await Promise.resolve(p.x * 2) };
    }"#;
    assert_eq!(
        run(&h, code, json!({"x": 4})).await.unwrap(),
        json!({"a": "a", "b": "b", "order": [1, 2], "doubled": 8})
    );
    let rejected = run(&h, "async function f() { await null; throw new TypeError('nope'); }", json!({})).await;
    let err = rejected.unwrap_err();
    assert_eq!((err.kind, err.message.as_str()), (JsErrorKind::Thrown, "TypeError: nope"));
    let pending = run(&h, "function f() { return new Promise(() => {}); }", json!({})).await.unwrap_err();
    assert!(pending.message.contains("never settled"), "{pending:?}");
}

#[tokio::test]
async fn console_lines_are_captured_and_bounded() {
    let h = host().await;
    let code = "function f() { console.log('a', 1, {b: 2}); console.warn('w'); console.error(new Error('e').message); console.info('i'); return null; }";
    let out = run_with(&h, code, json!({}), JsLimits::default()).await;
    assert_eq!(out.result.unwrap(), json!(null));
    let levels: Vec<_> = out.logs.iter().map(|l| l.level).collect();
    assert_eq!(levels, [JsLogLevel::Info, JsLogLevel::Warn, JsLogLevel::Error, JsLogLevel::Info]);
    assert!(out.logs[0].message.starts_with("a 1 "), "{:?}", out.logs[0]);
    assert!(out.logs[0].message.contains('b'), "{:?}", out.logs[0]);
    assert_eq!(out.logs[1].message, "w");

    let limits = JsLimits { max_log_lines: 5, max_log_bytes: 1000, ..JsLimits::default() };
    let code = "function f() { for (let i = 0; i < 1000; i++) console.log('line ' + i); return 1; }";
    let out = run_with(&h, code, json!({}), limits.clone()).await;
    assert_eq!(out.result.unwrap(), json!(1));
    assert_eq!(out.logs.len(), 6, "{:?}", out.logs);
    assert_eq!(out.logs[4].message, "line 4");
    assert!(out.logs[5].message.contains("truncated") && out.logs[5].message.contains("995"), "{:?}", out.logs[5]);
    let code = "function f() { console.log('x'.repeat(5000)); console.log('y'); return 1; }";
    let out = run_with(&h, code, json!({}), limits).await;
    assert!(out.logs[0].message.len() <= 1000 + '…'.len_utf8(), "{}", out.logs[0].message.len());
    assert!(out.logs.last().unwrap().message.contains("truncated"), "{:?}", out.logs);
}

#[tokio::test]
async fn thrown_errors_carry_the_line_and_column_in_the_users_code() {
    let h = host().await;
    let code = "function yourFunction(parameters) {\n  const x = 1;\n    throw new Error('boom ' + x);\n}";
    let err = run(&h, code, json!({})).await.unwrap_err();
    assert_eq!(err.kind, JsErrorKind::Thrown);
    assert_eq!(err.message, "Error: boom 1");
    assert_eq!((err.line, err.column), (Some(3), Some(11)), "{err:?}");

    // An engine-raised TypeError, one call deep.
    let code = "function helper(o) {\n  return o.missing.field;\n}\nfunction f(p) {\n  return helper(p);\n}";
    let err = run(&h, code, json!({})).await.unwrap_err();
    assert_eq!(err.kind, JsErrorKind::Thrown);
    assert!(err.message.starts_with("TypeError"), "{err:?}");
    assert_eq!(err.line, Some(2), "{err:?}");

    let err = run(&h, "function f() { throw 'plain'; }", json!({})).await.unwrap_err();
    assert_eq!((err.kind, err.message.as_str()), (JsErrorKind::Thrown, "Uncaught plain"));
}

#[tokio::test]
async fn check_reports_syntax_errors_with_their_position() {
    let h = host().await;
    assert_eq!(h.check_js("function f(p) { return p; }").await.unwrap(), Ok(()));
    assert_eq!(h.check_js("function e(p) {}\nmodule.exports = e;").await.unwrap(), Ok(()));
    let err = h.check_js("function f(p) {\n  return p +;\n}").await.unwrap().unwrap_err();
    assert_eq!(err.kind, JsErrorKind::Syntax);
    assert!(err.message.starts_with("SyntaxError"), "{err:?}");
    assert_eq!(err.line, Some(2), "{err:?}");
    assert!(err.column.is_some(), "{err:?}");
    let err = h.check_js("const x = 1;").await.unwrap().unwrap_err();
    assert_eq!(err.kind, JsErrorKind::NoFunction, "{err:?}");
    // Running code that does not parse reports the same.
    let err = run(&h, "function f( {", json!({})).await.unwrap_err();
    assert_eq!((err.kind, err.line), (JsErrorKind::Syntax, Some(1)), "{err:?}");
}

#[tokio::test]
async fn results_that_are_not_json_are_refused_clearly() {
    let h = host().await;
    for (code, what) in [
        ("function f() { return function g() {}; }", "a function"),
        ("function f() { const a = {}; a.self = a; return a; }", "cycle"),
        ("function f() { }", "undefined"),
        ("function f() { return Symbol('s'); }", "a symbol"),
        ("function f() { return { big: 10n }; }", "BigInt"),
    ] {
        let err = run(&h, code, json!({})).await.unwrap_err();
        assert_eq!(err.kind, JsErrorKind::NotJson, "{code}: {err:?}");
        assert!(err.message.contains(what), "{code}: {err:?}");
    }
    // What JSON drops inside a value is dropped, as JSON.stringify does.
    let out = run(&h, "function f() { return { a: 1, f() {}, u: undefined, d: new Date(0) }; }", json!({})).await;
    assert_eq!(out.unwrap(), json!({"a": 1, "d": "1970-01-01T00:00:00.000Z"}));
}

#[tokio::test]
async fn each_call_gets_a_fresh_realm() {
    let h = host().await;
    let code = "function f() { globalThis.counter = (globalThis.counter || 0) + 1; Array.prototype.evil = 1; return counter; }";
    assert_eq!(run(&h, code, json!({})).await.unwrap(), json!(1));
    assert_eq!(run(&h, code, json!({})).await.unwrap(), json!(1));
    let clean = "function f() { return [].evil === undefined; }";
    assert_eq!(run(&h, clean, json!({})).await.unwrap(), json!(true));
}
