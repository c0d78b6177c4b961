//! The rate-limit governor through the proxy (acceptance 4): `test-proxy`
//! declares 20 calls per second per account. A burst reaches the provider
//! at no more than that, the rest are answered 429 with `Retry-After`
//! without calling it, and limits the provider reveals pause calls.

use super::fixture::ProxyFixture;
use reqwest::Method;
use serde_json::Value;
use std::time::{Duration, Instant};

const LIMIT: usize = 20;

/// At most `LIMIT` arrivals in any one-second window.
fn max_in_any_second(mut at: Vec<Instant>) -> usize {
    at.sort();
    (0..at.len())
        .map(|i| at[i..].iter().take_while(|t| t.duration_since(at[i]) < Duration::from_secs(1)).count())
        .max()
        .unwrap_or(0)
}

#[tokio::test]
async fn a_declared_limit_holds_under_a_burst() {
    let f = ProxyFixture::new().await;
    f.connect("u1", "key-burst").await;
    f.connect("u2", "key-other").await;
    // 60 at once: 20 pass, 40 are refused here with a wait.
    let burst = futures::future::join_all((0..60).map(|_| f.proxy(Method::GET, "u1", "test-proxy/echo").send())).await;
    let mut passed = 0;
    for resp in burst {
        let resp = resp.unwrap();
        match resp.status().as_u16() {
            200 => passed += 1,
            429 => {
                let wait: u64 = resp.headers()["retry-after"].to_str().unwrap().parse().unwrap();
                assert!((1..=2).contains(&wait), "Retry-After {wait}");
                let body: Value = resp.json().await.unwrap();
                assert_eq!(body["code"], "RATE_LIMITED");
            }
            other => panic!("unexpected {other}"),
        }
    }
    assert!(passed >= LIMIT, "{passed}");
    assert_eq!(f.mock.count(), passed, "refused calls never reached the provider");
    assert!(max_in_any_second(f.mock.hits().into_iter().map(|h| h.at).collect()) <= LIMIT);
    // Another account has its own budget.
    assert_eq!(f.get("u2", "test-proxy/echo").await.0, 200);

    // Eight callers hammering for 2.5 s, retrying as told: the provider
    // never sees more than the limit in any second.
    let until = Instant::now() + Duration::from_millis(2_500);
    let workers = (0..8).map(|_| async {
        let mut ok = 0;
        while Instant::now() < until {
            let resp = f.proxy(Method::GET, "u1", "test-proxy/echo").send().await.unwrap();
            if resp.status() == 200 {
                ok += 1;
            } else {
                assert_eq!(resp.status(), 429);
                tokio::time::sleep(Duration::from_millis(50)).await;
            }
        }
        ok
    });
    let ok: usize = futures::future::join_all(workers).await.into_iter().sum();
    let arrivals: Vec<Instant> =
        f.mock.hits().into_iter().filter(|h| h.header("x-api-key") == Some("key-burst")).map(|h| h.at).collect();
    let peak = max_in_any_second(arrivals.clone());
    println!(
        "governor: {} calls of u1 reached the provider, at most {peak} in one second (limit {LIMIT})",
        arrivals.len()
    );
    assert!(peak <= LIMIT, "{peak} calls in one second");
    assert!(ok >= LIMIT, "the limit is used, not starved: {ok}");
}

#[tokio::test]
async fn a_learned_retry_after_stops_calls_until_it_passes() {
    let f = ProxyFixture::new().await;
    f.connect("u1", "key-learn").await;
    f.connect("u2", "key-learn-2").await;
    // The provider's own 429 is passed back with its Retry-After (C8-106).
    let resp = f.proxy(Method::GET, "u1", "test-proxy/status/429").send().await.unwrap();
    assert_eq!(resp.status(), 429);
    assert_eq!(resp.headers()["retry-after"], "2");
    let learned_at = Instant::now();
    let reached = f.mock.count();
    let (status, body) = f.get("u1", "test-proxy/echo").await;
    assert_eq!((status, body["code"].as_str()), (429, Some("RATE_LIMITED")), "{body}");
    assert_eq!(f.mock.count(), reached, "the paused account did not call the provider");
    assert_eq!(f.get("u2", "test-proxy/echo").await.0, 200, "other accounts go on");
    tokio::time::sleep(Duration::from_millis(2_000).saturating_sub(learned_at.elapsed()) + Duration::from_millis(100))
        .await;
    assert_eq!(f.get("u1", "test-proxy/echo").await.0, 200);

    // `X-RateLimit-Remaining: 0` with a reset in 3 s pauses the account too.
    assert_eq!(f.get("u1", "test-proxy/limited").await.0, 200);
    let resp = f.proxy(Method::GET, "u1", "test-proxy/echo").send().await.unwrap();
    assert_eq!(resp.status(), 429);
    let wait: u64 = resp.headers()["retry-after"].to_str().unwrap().parse().unwrap();
    assert!((2..=3).contains(&wait), "Retry-After {wait}");
}

/// Acceptance 2 of the groundwork issue: a plugin's own HTTP, granted the
/// account by the credential service, takes the same path as the proxy and
/// spends the same budget: 20 plugin calls exhaust the second, the rest of
/// the burst and a proxy call are refused without reaching the provider.
#[tokio::test]
async fn plugin_calls_share_the_budget() {
    let f = ProxyFixture::new().await;
    let credential = f.connect("u1", "key-plugin").await;
    let mut ok = 0;
    let mut limited = 0;
    for _ in 0..30 {
        match f.plugin_action("u1", &credential, "TEST_PROXY_ECHO", serde_json::json!({})).await {
            Ok(out) => {
                assert_eq!(out["headers"]["x-api-key"], "key-plugin");
                ok += 1;
            }
            Err(weft_plugin_host::CallError::Plugin(weft_plugin_host::PluginError::RateLimited { .. })) => limited += 1,
            Err(e) => panic!("{e:?}"),
        }
    }
    let (status, _) = f.get("u1", "test-proxy/echo").await;
    // The whole burst fits in one second on any machine that runs the suite
    // in time; a slower one would see the window slide and pass more.
    assert!(ok >= LIMIT && ok + limited == 30, "{ok} passed, {limited} limited");
    if ok == LIMIT {
        assert_eq!(status, 429, "the proxy shares the plugin's budget");
    }
    assert_eq!(f.mock.count(), ok + usize::from(status == 200), "refused calls never reached the provider");
}

/// Issue 18: two servers on one PostgreSQL database share a declared limit.
/// `test-proxy` declares 20 calls per second per account (a one-second
/// window keeps the test short; the budget works the same for 100 per
/// minute). Callers on both servers hammer one account for 3 s, retrying as
/// told: the provider never sees more than the limit in any second, and
/// both servers get calls through. A pause learned by one server stops the
/// other's calls too.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_servers_on_postgresql_share_a_declared_limit() {
    let (f, pg) = crate::workflows_run::fixture(true, |_| {}).await;
    let pg = pg.expect("PostgreSQL");
    let second = f.second_server(&pg, |_| {}).await;
    f.connect("u1", "key-shared-limit").await;
    let token = f.token("u1");
    let client = reqwest::Client::new();
    let until = Instant::now() + Duration::from_secs(3);
    let worker = |base: String| {
        let (client, token, target) = (client.clone(), token.clone(), f.target("test-proxy/echo"));
        async move {
            let mut ok = 0;
            while Instant::now() < until {
                let resp = client.get(format!("{base}{target}")).bearer_auth(&token).send().await.unwrap();
                match resp.status().as_u16() {
                    200 => ok += 1,
                    429 => tokio::time::sleep(Duration::from_millis(20)).await,
                    other => panic!("unexpected {other}: {}", resp.text().await.unwrap_or_default()),
                }
            }
            ok
        }
    };
    let first = futures::future::join_all((0..6).map(|_| worker(f.app.base.clone())));
    let other = futures::future::join_all((0..6).map(|_| worker(second.base.clone())));
    let (first, other) = tokio::join!(first, other);
    let (first, other): (usize, usize) = (first.into_iter().sum(), other.into_iter().sum());
    let arrivals: Vec<Instant> =
        f.mock.hits().into_iter().filter(|h| h.header("x-api-key") == Some("key-shared-limit")).map(|h| h.at).collect();
    let peak = max_in_any_second(arrivals.clone());
    println!(
        "shared governor: {} calls reached the provider ({first} through the first server, {other} through \
         the second), at most {peak} in one second (limit {LIMIT})",
        arrivals.len()
    );
    assert_eq!(arrivals.len(), first + other, "refused calls never reached the provider");
    assert!(peak <= LIMIT, "{peak} calls in one second across both servers");
    assert!(first > 0 && other > 0, "both servers got calls through: {first} and {other}");
    assert!(first + other >= LIMIT, "the limit is used, not starved: {}", first + other);

    // A pause one server learns (`X-RateLimit-Remaining: 0`, reset in 3 s)
    // reaches the other within its one-second sync.
    f.connect("u2", "key-shared-pause").await;
    let token = f.token("u2");
    let (status, _) = f.get("u2", "test-proxy/limited").await;
    assert_eq!(status, 200);
    let learned = Instant::now();
    let on_second = format!("{}{}", second.base, f.target("test-proxy/echo"));
    let refused = loop {
        let resp = client.get(&on_second).bearer_auth(&token).send().await.unwrap();
        if resp.status() == 429 {
            break resp.json::<Value>().await.unwrap();
        }
        assert_eq!(resp.status(), 200);
        assert!(learned.elapsed() < Duration::from_secs(3), "the second server never took the pause in");
        tokio::time::sleep(Duration::from_millis(100)).await;
    };
    assert_eq!(refused["code"], "RATE_LIMITED", "{refused}");
}
