//! `libraries`: bundled npm packages, evaluated on first access.

use crate::{host, run};
use serde_json::json;
use weft_plugin_host::JsErrorKind;

#[tokio::test]
async fn uuid_lodash_date_fns_and_moment() {
    let h = host().await;
    let code = r#"function f(p, libraries) {
        const id = libraries.uuid.v4();
        const _ = libraries.lodash;
        const fp = libraries["lodash/fp"];
        const { format, addDays } = libraries.dateFns;
        const day = new Date(Date.UTC(2024, 0, 30, 12));
        return {
            id,
            valid: libraries.uuid.validate(id),
            chunks: _.chunk([1, 2, 3, 4, 5], 2),
            sorted: fp.sortBy("n")([{ n: 3 }, { n: 1 }]).map(x => x.n),
            dateFns: format(addDays(day, 3), "yyyy-MM-dd"),
            moment: libraries.moment.utc("2024-01-30T12:00:00Z").add(1, "month").format("YYYY-MM-DD"),
            randomUUID: crypto.randomUUID().length,
        };
    }"#;
    let out = run(&h, code, json!({})).await.unwrap();
    let id = out["id"].as_str().unwrap();
    let shape = id.len() == 36
        && id
            .chars()
            .enumerate()
            .all(|(i, c)| if [8, 13, 18, 23].contains(&i) { c == '-' } else { c.is_ascii_hexdigit() })
        && id.as_bytes()[14] == b'4'
        && matches!(id.as_bytes()[19], b'8' | b'9' | b'a' | b'b');
    assert!(shape, "not a v4 UUID: {id}");
    assert_eq!(out["valid"], json!(true));
    assert_eq!(out["chunks"], json!([[1, 2], [3, 4], [5]]));
    assert_eq!(out["sorted"], json!([1, 3]));
    assert_eq!(out["dateFns"], json!("2024-02-02"));
    assert_eq!(out["moment"], json!("2024-02-29"));
    assert_eq!(out["randomUUID"], json!(36));
    // Two calls, two different ids: randomness comes from the host.
    let again = run(&h, code, json!({})).await.unwrap();
    assert_ne!(again["id"], out["id"]);
}

#[tokio::test]
async fn buffer_and_require_of_bundled_names() {
    let h = host().await;
    let code = r#"function f(p, libraries) {
        const b = Buffer.from("hello").toString("base64");
        const same = libraries.Buffer === Buffer && require("lodash") === libraries.lodash;
        return { b, same, back: libraries.Buffer.from(b, "base64").toString("utf8") };
    }"#;
    assert_eq!(run(&h, code, json!({})).await.unwrap(), json!({"b": "aGVsbG8=", "same": true, "back": "hello"}));
}

#[tokio::test]
async fn absent_libraries_say_why() {
    let h = host().await;
    let err = run(&h, "function f(p, l) { return l.pg.connect(); }", json!({})).await.unwrap_err();
    assert_eq!(err.kind, JsErrorKind::Thrown);
    assert!(
        err.message.contains("libraries[\"pg\"] is not available") && err.message.contains("libraries.fetch"),
        "{err:?}"
    );
    let err = run(&h, "function f(p, l) { return l.jsonwebtoken; }", json!({})).await.unwrap_err();
    assert!(err.message.contains("not bundled"), "{err:?}");
    let err = run(&h, "function f() { return require('fs'); }", json!({})).await.unwrap_err();
    assert!(err.message.contains("Cannot find module 'fs'"), "{err:?}");
}
