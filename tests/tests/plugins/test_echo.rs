//! Capability tests: every host import and every export, through the
//! `test-echo` plugin, against real services and a mock provider on loopback.

use hmac::{Hmac, Mac};
use serde_json::{Value, json};
use sha2::Sha256;
use weft_plugin_host::{
    ActionCall, CallError, CallOptions, HOST_API_VERSION, HostConfig, PluginError, WebhookDelivery, World,
};
use weft_tests::mock_provider::MockProvider;
use weft_tests::{CONNECTION, TOKEN_CANARY, TestHost, logs, test_config};

async fn echo() -> (TestHost, String) {
    let t = TestHost::new();
    let id = t.install("test_echo").await;
    (t, id)
}

fn connected() -> CallOptions {
    CallOptions::new("p1").with_connection(CONNECTION, json!({"account": "acme"}))
}

async fn run(t: &TestHost, id: &str, opts: &CallOptions, key: &str, input: Value) -> Result<Value, CallError> {
    let call = ActionCall { action: key.into(), input, page: None };
    t.host.run_action(id, &t.granted(id, opts.clone()), call).await.map(|o| o.output)
}

fn hmac_hex(secret: &str, body: &[u8]) -> String {
    let mut mac = Hmac::<Sha256>::new_from_slice(secret.as_bytes()).unwrap();
    mac.update(body);
    hex::encode(mac.finalize().into_bytes())
}

#[tokio::test]
async fn install_reads_metadata_actions_triggers_and_capabilities() {
    let (t, id) = echo().await;
    assert_eq!(id, "test-echo");
    let info = t.host.get(&id).unwrap();
    assert_eq!(info.world, World::Integration);
    assert_eq!(info.api_version, HOST_API_VERSION);
    assert_eq!(info.capabilities, ["http", "logging", "secrets", "state", "webhook-crypto"]);
    let meta = info.metadata.as_ref().unwrap();
    assert_eq!(meta.secrets, ["webhook_secret", "api_token"]);
    assert_eq!(meta.rate_limits.len(), 1);
    let echo = info.actions.iter().find(|a| a.key == "ECHO").expect("ECHO action");
    assert!(echo.input_schema["properties"].get("message").is_some(), "{}", echo.input_schema);
    assert!(info.actions.iter().any(|a| a.key == "PAGES" && a.paginated));
    let kinds: Vec<_> = info.triggers.iter().map(|t| (t.key.as_str(), t.kind.as_str())).collect();
    assert!(kinds.contains(&("ECHO_EVENT", "webhook")) && kinds.contains(&("TICK", "polling")), "{kinds:?}");
}

#[tokio::test]
async fn echo_carries_invocation_and_connection() {
    let (t, id) = echo().await;
    let opts = connected().with_invocation_id("inv-echo-1");
    let out = run(&t, &id, &opts, "ECHO", json!({"message": {"nested": [1, "two"]}})).await.unwrap();
    assert_eq!(
        out,
        json!({"message": {"nested": [1, "two"]}, "invocation_id": "inv-echo-1", "connection_id": CONNECTION})
    );
    let err = run(&t, &id, &opts, "NO_SUCH_ACTION", json!({})).await.unwrap_err();
    assert!(matches!(err, CallError::Plugin(PluginError::Unsupported { .. })), "{err:?}");
    let err = run(&t, &id, &opts, "ECHO", json!({"not_message": 1})).await.unwrap_err();
    assert!(matches!(err, CallError::Plugin(PluginError::InvalidInput { .. })), "{err:?}");
}

#[tokio::test]
async fn http_injects_credentials_host_side_and_drops_forged_ones() {
    let (t, id) = echo().await;
    let mock = MockProvider::start().await;
    let out = run(&t, &id, &connected(), "HTTP_GET", json!({"url": mock.url("/ok"), "auth": true})).await.unwrap();
    assert_eq!(out["status"], 200, "{out}");
    assert_eq!(out["body"], "hello");
    let forged = json!({"url": mock.url("/ok?second"), "auth": false, "headers": [["Authorization", "Bearer forged"], ["X-Trace", "t1"]]});
    run(&t, &id, &connected(), "HTTP_GET", forged).await.unwrap();
    let seen = mock.requests();
    assert_eq!(seen.len(), 2);
    assert_eq!(seen[0].header("authorization"), Some(format!("Bearer {TOKEN_CANARY}").as_str()));
    assert_eq!(seen[1].header("authorization"), None, "a plugin may not set Authorization itself");
    assert_eq!(seen[1].header("x-trace"), Some("t1"));
    assert!(!out.to_string().contains(TOKEN_CANARY), "the token must never reach the plugin");
}

#[tokio::test]
async fn http_typed_errors() {
    let (t, id) = echo().await;
    let mock = MockProvider::start().await;
    let get = |url: String, auth: bool| json!({"url": url, "auth": auth});
    let opts = connected();
    let denied = run(&t, &id, &opts, "HTTP_GET", get("https://example.com/x".into(), false)).await.unwrap();
    assert_eq!(denied["error"], "denied", "{denied}");
    let no_conn = run(&t, &id, &CallOptions::new("p1"), "HTTP_GET", get(mock.url("/ok"), true)).await.unwrap();
    assert_eq!(no_conn["error"], "credentials-unavailable", "{no_conn}");
    let other_conn = CallOptions::new("p1").with_connection("conn-2", json!({}));
    let refused = run(&t, &id, &other_conn, "HTTP_GET", get(mock.url("/ok"), true)).await.unwrap();
    assert_eq!(refused["error"], "credentials-unavailable", "{refused}");
    let too_big = run(&t, &id, &opts, "HTTP_GET", get(mock.url("/big/2000000"), false)).await.unwrap();
    assert_eq!(too_big["error"], "response-too-large", "{too_big}");
    let redirect = run(&t, &id, &opts, "HTTP_GET", get(mock.url("/redirect"), false)).await.unwrap();
    assert_eq!(redirect["status"], 302, "redirects are returned, never followed: {redirect}");
    let bad = run(&t, &id, &opts, "HTTP_GET", get("not a url".into(), false)).await.unwrap();
    assert_eq!(bad["error"], "invalid-request", "{bad}");
    let port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
    let refused = run(&t, &id, &opts, "HTTP_GET", get(format!("http://127.0.0.1:{port}/"), false)).await.unwrap();
    assert_eq!(refused["error"], "connection-failed", "{refused}");
    // Only the two requests that passed every check reached the provider.
    assert_eq!(mock.requests().len(), 2);
}

#[tokio::test]
async fn http_timeout_is_typed() {
    let config = HostConfig { max_http_timeout: std::time::Duration::from_millis(300), ..test_config() };
    let t = TestHost::with_config(config);
    let id = t.install("test_echo").await;
    let mock = MockProvider::start().await;
    let out = run(&t, &id, &connected(), "HTTP_GET", json!({"url": mock.url("/slow/3000")})).await.unwrap();
    assert_eq!(out["error"], "timeout", "{out}");
}

#[tokio::test]
async fn sdk_maps_provider_statuses_to_plugin_errors() {
    let (t, id) = echo().await;
    let mock = MockProvider::start().await;
    let mapped = |code: u16| json!({"url": mock.url(&format!("/status/{code}"))});
    let opts = connected();
    assert_eq!(run(&t, &id, &opts, "HTTP_GET_MAPPED", mapped(200)).await.unwrap(), json!({"status": 200}));
    // 429 last: its Retry-After pauses this connection's calls (the governor).
    let cases =
        [(401, "unauthorized"), (403, "forbidden"), (404, "not-found"), (503, "upstream"), (429, "rate-limited")];
    for (code, kind) in cases {
        let err = run(&t, &id, &opts, "HTTP_GET_MAPPED", mapped(code)).await.unwrap_err();
        let CallError::Plugin(e) = &err else { panic!("{code}: {err:?}") };
        assert_eq!(serde_json::to_value(e).unwrap()["kind"], kind, "{code}: {e:?}");
        if code == 429 {
            assert!(matches!(e, PluginError::RateLimited { retry_after_ms: Some(7000), .. }), "{e:?}");
        }
        if code == 503 {
            assert!(matches!(e, PluginError::Upstream { status: 503, .. }), "{e:?}");
        }
    }
}

#[tokio::test]
async fn fetch_all_keeps_order_and_fails_entries_independently() {
    let (t, id) = echo().await;
    let mock = MockProvider::start().await;
    let urls = json!({"urls": [mock.url("/ok"), mock.url("/status/500"), "https://not-allowed.test/", mock.url("/status/204")]});
    let out = run(&t, &id, &connected(), "HTTP_FETCH_ALL", urls).await.unwrap();
    assert_eq!(out, json!([{"status": 200}, {"status": 500}, {"error": "denied"}, {"status": 204}]));
}

#[tokio::test]
async fn logging_is_reemitted_with_plugin_and_invocation_ids() {
    let (t, id) = echo().await;
    let opts = connected().with_invocation_id("inv-log-42");
    let input = json!({"level": "warn", "message": "hello from the guest", "fields": [["order", "17"], ["step", "b"]]});
    run(&t, &id, &opts, "LOG", input).await.unwrap();
    let lines = logs::lines_containing("inv-log-42");
    let line = lines
        .iter()
        .find(|l| l["fields"]["message"] == "hello from the guest")
        .unwrap_or_else(|| panic!("no plugin log line in {lines:?}"));
    assert_eq!(line["target"], "plugin");
    assert_eq!(line["level"], "WARN");
    assert_eq!(line["fields"]["plugin"], "test-echo");
    assert_eq!(line["fields"]["invocation"], "inv-log-42");
    assert_eq!(line["fields"]["connection"], CONNECTION);
    assert_eq!(line["fields"]["fields"], "order=17 step=b");
}

#[tokio::test]
async fn logging_budget_drops_excess_lines() {
    let config = HostConfig { max_log_lines_per_call: 1, ..test_config() };
    let t = TestHost::with_config(config);
    let id = t.install("test_echo").await;
    for (n, inv) in [(1, "inv-budget-a"), (2, "inv-budget-b")] {
        let opts = CallOptions::new("p1").with_invocation_id(inv);
        let input = json!({"level": "info", "message": format!("line {n}"), "fields": []});
        run(&t, &id, &opts, "LOG", input).await.unwrap();
    }
    // One line per call was allowed, so each call's line arrives.
    assert!(logs::lines_containing("inv-budget-a").iter().any(|l| l["target"] == "plugin"));
    assert!(logs::lines_containing("inv-budget-b").iter().any(|l| l["target"] == "plugin"));
}

#[tokio::test]
async fn state_is_durable_across_calls_and_scoped() {
    let (t, id) = echo().await;
    let a = connected();
    let set = json!({"key": "cursor", "value": "abc"});
    assert_eq!(run(&t, &id, &a, "STATE_SET", set).await.unwrap(), json!({}));
    assert_eq!(run(&t, &id, &a, "STATE_GET", json!({"key": "cursor"})).await.unwrap(), json!({"value": "abc"}));
    let other_connection = CallOptions::new("p1").with_connection("conn-2", json!({}));
    assert_eq!(
        run(&t, &id, &other_connection, "STATE_GET", json!({"key": "cursor"})).await.unwrap(),
        json!({"value": null})
    );
    let other_project = CallOptions::new("p2").with_connection(CONNECTION, json!({}));
    assert_eq!(
        run(&t, &id, &other_project, "STATE_GET", json!({"key": "cursor"})).await.unwrap(),
        json!({"value": null})
    );
    run(&t, &id, &a, "STATE_DELETE", json!({"key": "cursor"})).await.unwrap();
    assert_eq!(run(&t, &id, &a, "STATE_GET", json!({"key": "cursor"})).await.unwrap(), json!({"value": null}));
    let big = json!({"key": "big", "value": "x".repeat(300 << 10)});
    assert_eq!(run(&t, &id, &a, "STATE_SET", big).await.unwrap()["error"], "too-large");
    let long_key = json!({"key": "k".repeat(1000), "value": "v"});
    assert_eq!(run(&t, &id, &a, "STATE_SET", long_key).await.unwrap()["error"], "too-large");
}

#[tokio::test]
async fn state_quota_is_typed() {
    let (t, id) = echo().await;
    let opts = connected();
    for i in 0..100 {
        run(&t, &id, &opts, "STATE_SET", json!({"key": format!("k{i}"), "value": "v"})).await.unwrap();
    }
    let out = run(&t, &id, &opts, "STATE_SET", json!({"key": "one-more", "value": "v"})).await.unwrap();
    assert_eq!(out["error"], "quota-exceeded", "{out}");
}

#[tokio::test]
async fn secrets_only_declared_names_and_audited() {
    let (t, id) = echo().await;
    t.secrets.insert("p1", &id, "api_token", "cnry-api-token-value");
    t.secrets.insert("p1", &id, "undeclared", "cnry-undeclared");
    let opts = connected().with_invocation_id("inv-secret-1");
    let got = run(&t, &id, &opts, "SECRET_GET", json!({"name": "api_token"})).await.unwrap();
    assert_eq!(got, json!({"value": "cnry-api-token-value"}));
    let missing = run(&t, &id, &opts, "SECRET_GET", json!({"name": "webhook_secret"})).await.unwrap();
    assert_eq!(missing, json!({"error": "not-found"}));
    let undeclared = run(&t, &id, &opts, "SECRET_GET", json!({"name": "undeclared"})).await.unwrap();
    assert_eq!(undeclared["error"], "denied", "{undeclared}");
    let other_project = CallOptions::new("p2");
    let scoped = run(&t, &id, &other_project, "SECRET_GET", json!({"name": "api_token"})).await.unwrap();
    assert_eq!(scoped, json!({"error": "not-found"}));
    let audit = logs::lines_containing("inv-secret-1");
    assert!(audit.iter().any(|l| l["target"] == "audit" && l["fields"]["secret"] == "api_token"), "{audit:?}");
    assert!(!logs::all().contains("cnry-api-token-value"), "secret values must never be logged");
}

#[tokio::test]
async fn webhook_crypto_verifies_in_the_host() {
    let (t, id) = echo().await;
    t.secrets.insert("p1", &id, "webhook_secret", "whsec-test");
    let body = "{\"id\":\"evt_1\"}";
    let good = hmac_hex("whsec-test", body.as_bytes());
    let cases = [
        ("webhook_secret", good.clone(), "sha256", true),
        ("webhook_secret", hmac_hex("other", body.as_bytes()), "sha256", false),
        ("webhook_secret", good.clone(), "sha512", false),
        ("undeclared", good.clone(), "sha256", false),
        ("webhook_secret", "zz-not-hex".into(), "sha256", false),
    ];
    for (secret, signature, algorithm, valid) in cases {
        let input = json!({"secret": secret, "algorithm": algorithm, "message": body, "signature": signature, "encoding": "hex"});
        let out = run(&t, &id, &CallOptions::new("p1"), "VERIFY_HMAC", input).await.unwrap();
        assert_eq!(out, json!({"valid": valid}), "{secret} {algorithm} {signature}");
    }
}

#[tokio::test]
async fn handle_webhook_verifies_answers_challenges_and_routes() {
    let (t, id) = echo().await;
    t.secrets.insert("p1", &id, "webhook_secret", "whsec-test");
    let opts = CallOptions::new("p1");
    let delivery = |body: &str, sig: Option<String>| WebhookDelivery {
        trigger: Some("ECHO_EVENT".into()),
        method: "POST".into(),
        path: "/hooks/test-echo/sub-1".into(),
        headers: sig.map(|s| vec![("x-echo-signature".to_owned(), s)]).unwrap_or_default(),
        body: body.as_bytes().to_vec(),
        ..Default::default()
    };
    let body = r#"{"id":"evt_9","kind":"created"}"#;
    let ok =
        t.host.handle_webhook(&id, &opts, delivery(body, Some(hmac_hex("whsec-test", body.as_bytes())))).await.unwrap();
    assert_eq!(ok.verification, Ok(()));
    assert_eq!(ok.events.len(), 1);
    assert_eq!(ok.events[0].dedupe_key.as_deref(), Some("evt_9"));
    assert_eq!(ok.events[0].payload, serde_json::from_str::<Value>(body).unwrap());
    let forged =
        t.host.handle_webhook(&id, &opts, delivery(body, Some(hmac_hex("guess", body.as_bytes())))).await.unwrap();
    assert!(forged.verification.is_err() && forged.events.is_empty(), "{forged:?}");
    let unsigned = t.host.handle_webhook(&id, &opts, delivery(body, None)).await.unwrap();
    assert!(unsigned.verification.is_err());
    let challenge = r#"{"challenge":"c-123"}"#;
    let reply = t
        .host
        .handle_webhook(&id, &opts, delivery(challenge, Some(hmac_hex("whsec-test", challenge.as_bytes()))))
        .await
        .unwrap();
    let reply = reply.reply.expect("challenge reply");
    assert_eq!((reply.status, reply.body.as_slice()), (200, b"c-123".as_slice()));
}

#[tokio::test]
async fn subscribe_poll_and_unsubscribe() {
    let (t, id) = echo().await;
    let opts = connected().with_invocation_id("inv-sub");
    let state = t.host.subscribe(&id, &opts, "ECHO_EVENT", &json!({}), "https://weft.test/hooks/x").await.unwrap();
    assert_eq!(state, json!({"hook_id": "hook-inv-sub"}));
    t.host.unsubscribe(&id, &opts, "ECHO_EVENT", &json!({}), &state).await.unwrap();
    let first = t.host.poll(&id, &opts, "TICK", &json!({}), None).await.unwrap();
    assert_eq!(first.events[0].payload, json!({"n": 1}));
    let second = t.host.poll(&id, &opts, "TICK", &json!({}), first.cursor).await.unwrap();
    assert_eq!(second.events[0].payload, json!({"n": 2}));
    assert_eq!(second.cursor.as_deref(), Some("2"));
}

#[tokio::test]
async fn pagination_is_driven_by_the_host() {
    let (t, id) = echo().await;
    let opts = connected();
    let mut page = None;
    let mut seen = Vec::new();
    loop {
        let call = ActionCall { action: "PAGES".into(), input: json!({"pages": 3}), page: page.take() };
        let out = t.host.run_action(&id, &opts, call).await.unwrap();
        seen.push(out.output["page"].clone());
        match out.next_page {
            Some(next) => page = Some(next),
            None => break,
        }
        assert!(seen.len() < 10, "pagination never ended");
    }
    assert_eq!(seen, [json!(1), json!(2), json!(3)]);
}

#[tokio::test]
async fn typed_plugin_errors_cross_the_boundary_intact() {
    let (t, id) = echo().await;
    let opts = connected();
    for kind in [
        "invalid-input",
        "unauthorized",
        "forbidden",
        "not-found",
        "rate-limited",
        "upstream",
        "unsupported",
        "internal",
    ] {
        let err = run(&t, &id, &opts, "FAIL", json!({"kind": kind, "message": "m"})).await.unwrap_err();
        let CallError::Plugin(e) = err else { panic!("{kind}: {err:?}") };
        assert_eq!(serde_json::to_value(&e).unwrap()["kind"], kind);
        match kind {
            "rate-limited" => assert!(matches!(e, PluginError::RateLimited { retry_after_ms: Some(1500), .. })),
            "upstream" => {
                assert!(matches!(e, PluginError::Upstream { status: 503, body: Some(ref b), .. } if b == "oops"))
            }
            _ => {}
        }
    }
}

#[tokio::test]
async fn auth_exports_test_connection_and_refresh() {
    let (t, id) = echo().await;
    t.secrets.insert("p1", &id, "api_token", "cnry-refresh-secret");
    let info = t.host.test_connection(&id, &connected()).await.unwrap();
    assert_eq!(info.account_id, "acme");
    assert_eq!(info.display_name, "Echo acme");
    assert_eq!(info.routing_keys, ["team-acme"]);
    assert_eq!(info.profile, json!({"account": "acme"}));
    let refreshed = t.host.refresh(&id, &connected()).await.unwrap();
    assert_eq!(secrecy::ExposeSecret::expose_secret(&refreshed.access_token), "refreshed");
    assert_eq!(refreshed.expires_in_seconds, Some(3600));
    assert_eq!(refreshed.extra, json!({"had_secret": true}));
    assert!(!format!("{refreshed:?}").contains("refreshed\""), "tokens never print");
}

#[tokio::test]
async fn compiled_components_are_cached_on_disk_and_reused() {
    let dir = tempfile::tempdir().unwrap();
    let config = HostConfig { cache_dir: Some(dir.path().to_owned()), ..test_config() };
    let first = TestHost::with_config(config.clone());
    first.install("test_echo").await;
    let artifacts: Vec<_> = std::fs::read_dir(dir.path()).unwrap().flatten().map(|e| e.path()).collect();
    assert_eq!(artifacts.len(), 1, "{artifacts:?}");
    let modified = std::fs::metadata(&artifacts[0]).unwrap().modified().unwrap();
    // A second host (a restart) loads the artifact instead of compiling.
    let second = TestHost::with_config(config);
    let id = second.install("test_echo").await;
    assert_eq!(std::fs::metadata(&artifacts[0]).unwrap().modified().unwrap(), modified);
    assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 1);
    let out = run(&second, &id, &connected(), "ECHO", json!({"message": 1})).await.unwrap();
    assert_eq!(out["message"], 1);
    // A corrupt artifact is discarded and recompiled, not trusted.
    std::fs::write(&artifacts[0], b"garbage").unwrap();
    let third = TestHost::with_config(HostConfig { cache_dir: Some(dir.path().to_owned()), ..test_config() });
    third.install("test_echo").await;
    assert!(std::fs::metadata(&artifacts[0]).unwrap().len() > 1000);
}

#[tokio::test]
async fn garbage_is_refused_and_nothing_is_installed() {
    let t = TestHost::new();
    let err = t.host.install("junk", b"\0asm not really".to_vec()).await.unwrap_err();
    assert!(err.to_string().contains("invalid plugin"), "{err}");
    assert!(t.host.list().is_empty());
    // A plain core module is not a component either.
    let err = t.host.install("core", b"\0asm\x01\0\0\0".to_vec()).await.unwrap_err();
    assert!(err.to_string().contains("invalid plugin"), "{err}");
}

/// A plugin built without the `fields` export declares no per-connection
/// fields and is asked for none.
#[tokio::test]
async fn a_plugin_without_the_fields_export_has_no_dynamic_fields() {
    let t = weft_tests::TestHost::new();
    let id = t.install("test_echo").await;
    assert!(t.host.get(&id).expect("installed").dynamic_fields.is_empty());
    let err = t.host.action_fields(&id, &weft_plugin_host::CallOptions::new("p1"), "ECHO").await.unwrap_err();
    assert!(format!("{err}").contains("no per-connection fields"), "{err}");
}
