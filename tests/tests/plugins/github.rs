//! `github`: the declared OAuth App scheme and limits; the webhook
//! triggers at the plugin-host level: `subscribe` creates a repository
//! webhook on the strict GitHub mock with the project's secret,
//! `unsubscribe` deletes it (and succeeds when it is already gone),
//! `handle_webhook` verifies `X-Hub-Signature-256` (GitHub's documented
//! example vector included) and turns deliveries into events keyed by
//! `X-GitHub-Delivery`; `test_connection`; search pagination through
//! `Link` headers, driven by the host.

use hmac::{Hmac, Mac};
use serde_json::{Value, json};
use sha2::Sha256;
use weft_catalog::{AuthScheme, ClientAuth, RateLimitScope};
use weft_plugin_host::{ActionCall, CallError, CallOptions, PluginError, WebhookDelivery};
use weft_tests::mock_providers::{MockServer, github};
use weft_tests::plugin_cases::Cases;
use weft_tests::{CONNECTION, TOKEN_CANARY, TestHost};

const SECRET: &str = "cnry-github-webhook-secret-5c1d";
const REPO: &str = "octo-org/hello-world";
const HOOK_URL: &str = "https://weft.example.com/webhooks/p1/github/sub-1";

fn sign(secret: &str, body: &[u8]) -> String {
    let mut mac = Hmac::<Sha256>::new_from_slice(secret.as_bytes()).unwrap();
    mac.update(body);
    format!("sha256={}", hex::encode(mac.finalize().into_bytes()))
}

async fn setup() -> (TestHost, String, MockServer<github::GitHub>) {
    let t = TestHost::new();
    let id = t.install("github").await;
    t.secrets.insert("p1", &id, "GITHUB_WEBHOOK_SECRET", SECRET);
    let mock = github::start().await;
    mock.with(|g| {
        g.add_repo(REPO);
        g.tokens.accept(TOKEN_CANARY, "octocat");
    });
    (t, id, mock)
}

fn opts(t: &TestHost, id: &str, mock: &MockServer<github::GitHub>) -> CallOptions {
    t.granted(id, CallOptions::new("p1").with_connection(CONNECTION, json!({})).with_base_url(Some(&mock.base)))
}

fn delivery(trigger: &str, event: &str, id: &str, body: &[u8], signature: Option<String>) -> WebhookDelivery {
    let mut headers = vec![
        ("content-type".to_owned(), "application/json".to_owned()),
        ("x-github-event".to_owned(), event.to_owned()),
        ("x-github-delivery".to_owned(), id.to_owned()),
        ("user-agent".to_owned(), "GitHub-Hookshot/044aadd".to_owned()),
    ];
    if let Some(s) = signature {
        headers.push(("x-hub-signature-256".to_owned(), s));
    }
    WebhookDelivery {
        subscription_id: Some("sub-1".into()),
        trigger: Some(trigger.into()),
        config: Some(json!({ "owner": "octo-org", "repo": "hello-world" })),
        method: "POST".into(),
        path: "/webhooks/p1/github/sub-1".into(),
        headers,
        body: body.to_vec(),
        ..Default::default()
    }
}

#[tokio::test]
async fn declares_github_oauth_limits_secret_and_categories() {
    let t = TestHost::new();
    let id = t.install("github").await;
    assert_eq!(id, "github");
    let info = t.host.get(&id).unwrap();
    let meta = info.metadata.as_ref().unwrap();
    assert_eq!(meta.base_url, "https://api.github.com");
    assert_eq!(meta.allowed_hosts, ["api.github.com"]);
    let AuthScheme::Oauth2 { authorize_url, token_url, scopes, client_auth, .. } = &meta.auth else {
        panic!("unexpected auth scheme {:?}", meta.auth);
    };
    assert_eq!(authorize_url, "https://github.com/login/oauth/authorize");
    assert_eq!(token_url, "https://github.com/login/oauth/access_token");
    assert_eq!(scopes, &["repo", "admin:repo_hook", "read:user"]);
    assert_eq!(*client_auth, ClientAuth::Post);
    assert_eq!(meta.secrets, ["GITHUB_WEBHOOK_SECRET"]);
    let limit = &meta.rate_limits[0];
    assert_eq!((limit.scope, limit.requests, limit.per_seconds), (RateLimitScope::Connection, 5000, 3600));
    assert_eq!(meta.extra["categories"], json!(["developer_tools"]));
    assert_eq!(meta.extra["tokenResponse"]["grantErrors"], json!(["bad_verification_code", "bad_refresh_token"]));
    assert!(info.actions.len() >= 5 && info.triggers.len() >= 2);
    let effects: Vec<(&str, &str)> = info.actions.iter().map(|a| (a.key.as_str(), a.effect.as_str())).collect();
    assert!(effects.contains(&("GITHUB_GET_ISSUE_BY_NUMBER", "read")), "{effects:?}");
    assert!(effects.contains(&("GITHUB_CREATE_ISSUE", "write")), "{effects:?}");
    assert!(effects.contains(&("GITHUB_DELETE_RELEASE", "destructive")), "{effects:?}");
    assert!(info.actions.iter().find(|a| a.key == "GITHUB_SEARCH_ISSUES").is_some_and(|a| a.paginated));
}

/// GitHub's documented example: secret "It's a Secret to Everybody",
/// payload "Hello, World!".
#[tokio::test]
async fn githubs_documented_signature_example_verifies_and_a_flipped_byte_does_not() {
    let (t, id, _mock) = setup().await;
    t.secrets.insert("p1", &id, "GITHUB_WEBHOOK_SECRET", "It's a Secret to Everybody");
    let documented = "sha256=757107ea0eb2509fc211221cce984b8a37570b6d7586c22c46f4379c8b043e17";
    let opts = CallOptions::new("p1");
    let ping = |body: &[u8], sig: &str| delivery("GITHUB_ISSUE_CREATED", "ping", "d-ping", body, Some(sig.to_owned()));
    let ok = t.host.handle_webhook(&id, &opts, ping(b"Hello, World!", documented)).await.unwrap();
    assert_eq!(ok.verification, Ok(()));
    assert!(ok.events.is_empty(), "a ping starts nothing");
    assert_eq!(ok.reply.map(|r| r.status), Some(200));
    let flipped = t.host.handle_webhook(&id, &opts, ping(b"Hello, World?", documented)).await.unwrap();
    assert!(flipped.verification.is_err(), "{flipped:?}");
    let mut sig = documented.to_owned();
    sig.replace_range(sig.len() - 1.., "6");
    let bad_sig = t.host.handle_webhook(&id, &opts, ping(b"Hello, World!", &sig)).await.unwrap();
    assert!(bad_sig.verification.is_err());
    // The bare hex without `sha256=`, and only the legacy SHA-1 header: refused.
    let bare = t.host.handle_webhook(&id, &opts, ping(b"Hello, World!", &documented[7..])).await.unwrap();
    assert!(bare.verification.is_err());
    let mut legacy = delivery("GITHUB_ISSUE_CREATED", "ping", "d-ping", b"Hello, World!", None);
    legacy.headers.push(("x-hub-signature".into(), "sha1=01dc10d0c83e72ed246219cdd91669667fe2ca59".into()));
    let legacy = t.host.handle_webhook(&id, &opts, legacy).await.unwrap();
    assert!(legacy.verification.is_err() && legacy.events.is_empty(), "{legacy:?}");
}

/// What one trigger's case delivers, and the event it must produce.
struct TriggerCase {
    event: &'static str,
    fires: Value,
    ignores: Value,
}

fn trigger_cases() -> Cases<TriggerCase> {
    let issue = |action: &str| json!({ "action": action, "issue": { "number": 7, "title": "Bug", "updated_at": "2024-05-01T12:00:00Z" } });
    let pr = |action: &str| json!({ "action": action, "pull_request": { "number": 9, "created_at": "2024-05-01T12:00:00Z" } });
    Cases::new("github trigger")
        .case("GITHUB_ISSUE_CREATED", TriggerCase { event: "issues", fires: issue("opened"), ignores: issue("edited") })
        .case("GITHUB_ISSUE_UPDATED", TriggerCase { event: "issues", fires: issue("closed"), ignores: issue("opened") })
        .case(
            "GITHUB_PULL_REQUEST_CREATED",
            TriggerCase { event: "pull_request", fires: pr("opened"), ignores: pr("closed") },
        )
        .case(
            "GITHUB_PULL_REQUEST_UPDATED",
            TriggerCase { event: "pull_request", fires: pr("synchronize"), ignores: pr("opened") },
        )
}

/// Every trigger: subscribe creates a hook for its event with the secret,
/// a matching signed delivery becomes one event keyed by the delivery id,
/// another action of the same event none, and unsubscribe deletes the
/// hook (and succeeds once it is gone).
#[tokio::test]
async fn every_trigger_subscribes_verifies_delivers_and_unsubscribes() {
    let (t, id, mock) = setup().await;
    let declared: Vec<String> = t.host.get(&id).unwrap().triggers.iter().map(|tr| tr.key.clone()).collect();
    let config = json!({ "owner": "octo-org", "repo": "hello-world" });
    for (key, case) in trigger_cases().cover(&declared) {
        let state = t.host.subscribe(&id, &opts(&t, &id, &mock), &key, &config, HOOK_URL).await.unwrap();
        let created = mock.calls().last().cloned().unwrap();
        assert_eq!(created.line(), "POST /repos/octo-org/hello-world/hooks", "{key}");
        let hook = created.json();
        assert_eq!(hook["events"], json!([case.event]), "{key}: {hook}");
        assert_eq!(hook["config"]["url"], HOOK_URL);
        assert_eq!(hook["config"]["content_type"], "json");
        let hook_id = state["hookId"].as_u64().unwrap_or_else(|| panic!("{key}: {state}"));
        let stored_secret = mock.with(|g| g.repos[REPO].hooks[&hook_id].1.clone());
        assert_eq!(stored_secret.as_deref(), Some(SECRET), "{key}: the hook is signed with the project secret");

        let hooks = CallOptions::new("p1");
        let body = serde_json::to_vec(&case.fires).unwrap();
        let delivery_id = format!("72d3162e-cc78-11e3-81ab-{key}");
        let out = t
            .host
            .handle_webhook(&id, &hooks, delivery(&key, case.event, &delivery_id, &body, Some(sign(SECRET, &body))))
            .await
            .unwrap();
        assert_eq!(out.verification, Ok(()), "{key}");
        assert_eq!(out.events.len(), 1, "{key}: {out:?}");
        let e = &out.events[0];
        assert_eq!((e.trigger.as_str(), e.dedupe_key.as_deref()), (key.as_str(), Some(delivery_id.as_str())));
        assert_eq!(e.payload, case.fires);
        assert_eq!(e.occurred_at_ms, Some(1_714_564_800_000), "{key}");
        let body = serde_json::to_vec(&case.ignores).unwrap();
        let other = t
            .host
            .handle_webhook(&id, &hooks, delivery(&key, case.event, "d-2", &body, Some(sign(SECRET, &body))))
            .await
            .unwrap();
        assert_eq!((other.verification, other.events.len()), (Ok(()), 0), "{key}: another action fires nothing");
        let forged = t
            .host
            .handle_webhook(&id, &hooks, delivery(&key, case.event, "d-3", &body, Some(sign("guess", &body))))
            .await
            .unwrap();
        assert!(forged.verification.is_err() && forged.events.is_empty(), "{key}");

        t.host.unsubscribe(&id, &opts(&t, &id, &mock), &key, &config, &state).await.unwrap();
        assert_eq!(mock.calls().last().unwrap().line(), format!("DELETE /repos/octo-org/hello-world/hooks/{hook_id}"));
        assert!(mock.with(|g| g.repos[REPO].hooks.is_empty()), "{key}");
        // Gone already (404): still a success.
        t.host.unsubscribe(&id, &opts(&t, &id, &mock), &key, &config, &state).await.unwrap();
        assert_eq!(mock.calls().last().unwrap().status, 404);
    }
}

#[tokio::test]
async fn subscribing_without_the_project_secret_is_refused_before_github_is_called() {
    let (_t, _id, mock) = setup().await;
    let t2 = TestHost::new();
    let id2 = t2.install("github").await;
    let err = t2
        .host
        .subscribe(
            &id2,
            &opts(&t2, &id2, &mock),
            "GITHUB_ISSUE_CREATED",
            &json!({ "owner": "octo-org", "repo": "hello-world" }),
            HOOK_URL,
        )
        .await
        .unwrap_err();
    assert!(
        matches!(&err, CallError::Plugin(PluginError::InvalidInput { message }) if message.contains("GITHUB_WEBHOOK_SECRET")),
        "{err:?}"
    );
    assert_eq!(mock.count(), 0);
}

#[tokio::test]
async fn test_connection_names_the_github_user() {
    let (t, id, mock) = setup().await;
    let info = t.host.test_connection(&id, &opts(&t, &id, &mock)).await.unwrap();
    assert_eq!((info.account_id.as_str(), info.display_name.as_str()), ("583231", "octocat"));
    assert!(info.routing_keys.is_empty(), "per-subscription webhooks need no routing key");
    assert_eq!(info.profile["login"], "octocat");
    let call = mock.calls().pop().unwrap();
    assert_eq!(
        (call.line().as_str(), call.header("authorization")),
        ("GET /user", Some(format!("Bearer {TOKEN_CANARY}").as_str()))
    );
}

#[tokio::test]
async fn search_pages_follow_the_link_header() {
    let (t, id, mock) = setup().await;
    mock.with(|g| {
        let repo = g.repos.get_mut(REPO).unwrap();
        for n in 1..=5 {
            repo.issues.insert(n, json!({ "number": n, "title": format!("Flaky test {n}") }));
        }
        repo.issues.insert(6, json!({ "number": 6, "title": "Unrelated" }));
    });
    let opts = opts(&t, &id, &mock);
    let mut page = None;
    let mut numbers = Vec::new();
    for _ in 0..5 {
        let call = ActionCall {
            action: "GITHUB_SEARCH_ISSUES".into(),
            input: json!({ "query": "flaky repo:octo-org/hello-world", "perPage": 2 }),
            page: page.take(),
        };
        let out = t.host.run_action(&id, &opts, call).await.unwrap();
        numbers.extend(out.output["items"].as_array().unwrap().iter().map(|i| i["number"].as_u64().unwrap()));
        match out.next_page {
            Some(next) => page = Some(next),
            None => break,
        }
    }
    assert_eq!(numbers, [1, 2, 3, 4, 5]);
    let pages: Vec<Option<String>> = mock.calls().iter().map(|c| c.query_value("page").map(str::to_owned)).collect();
    assert_eq!(pages, [None, Some("2".into()), Some("3".into())]);
    assert!(mock.calls().iter().all(|c| c.query_value("per_page") == Some("2") && c.status == 200));
}
