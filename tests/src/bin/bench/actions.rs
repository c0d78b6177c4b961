//! `actions`: ActionKit and the webhook ingress of one Weft on SQLite (a
//! child process, as `weft serve` runs), serving the six provider plugins
//! plus `test-proxy` (whose action calls the mock provider) and `test-echo`
//! (whose app-wide webhook trigger is verified with an HMAC).
//!
//! - `list_p50_ms`: `GET /projects/{p}/actions?limit_to_available=false`
//!   for a user, one request at a time: every tool of the six plugins (and
//!   the test plugins), as an agent lists them.
//! - `run_overhead_p50_ms`: the p50 of `POST /projects/{p}/actions` running
//!   `TEST_PROXY_ECHO` (one provider call with the account's key) minus the
//!   p50 of the same provider call made directly. Both are paced under the
//!   plugin's declared limit of 20 calls per second per account, which the
//!   governor enforces, so neither waits on it.
//! - `webhook_ingest_per_sec`: signed deliveries to the app-wide URL
//!   answered 200 per second, from 32 concurrent senders: each read, checked
//!   by the plugin, its event stored (durably, de-duplicated) before the
//!   answer.
//!
//! Budgets (issue 16): list p50 ≤ 5 ms, run overhead p50 ≤ 2 ms, ≥ 2,000
//! deliveries per second.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use anyhow::Context;
use hmac::{Hmac, Mac};
use serde_json::{Value, json};
use sha2::Sha256;

use super::median;
use super::proxy::processes::{ChildProcess, this_binary};
use super::proxy::setup::{Api, text};
use super::proxy::{MOCK_PROVIDER, WEFT};

/// The plugins Weft serves: the six providers, then the two test plugins.
const PLUGINS: [&str; 8] =
    ["slack", "github", "hubspot", "salesforce", "google_calendar", "notion", "test_proxy", "test_echo"];
/// Their integration types.
const INTEGRATIONS: [&str; 8] =
    ["slack", "github", "hubspot", "salesforce", "googleCalendar", "notion", "test-proxy", "test-echo"];
/// `test-proxy` may reach only this address: the mock listens there.
const PROVIDER_IP: &str = "127.0.0.2";
const USER: &str = "bench-user";
const KID: &str = "bench";
const WEBHOOK_SECRET: &str = "bench-webhook-secret-0123456789";
const LIST_CALLS: usize = 2000;
/// Calls of each kind for the run overhead, paced at [`PACE`].
const RUN_CALLS: usize = 300;
/// 15 calls per second: under `test-proxy`'s declared 20.
const PACE: Duration = Duration::from_millis(66);
const SENDERS: usize = 32;
const INGEST_TIME: Duration = Duration::from_secs(5);
const WEFT_START: Duration = Duration::from_secs(180);

/// Runs the benchmark and returns its figures.
pub fn run() -> anyhow::Result<Value> {
    let api_key = format!("bench-key-{}", uuid::Uuid::new_v4().simple());
    let mut command = this_binary(&[MOCK_PROVIDER, &api_key, PROVIDER_IP])?;
    let (mut mock, port) = ChildProcess::start("the mock provider", &mut command, 1, Duration::from_secs(10))?;
    let provider = format!("http://{PROVIDER_IP}:{}/api", port[0]);

    let dir = tempfile::tempdir().context("creating Weft's data directory")?;
    let plugins = dir.path().join("plugins");
    std::fs::create_dir_all(&plugins)?;
    for p in PLUGINS {
        std::fs::copy(weft_tests::plugin_path(p), plugins.join(format!("{p}.wasm")))
            .with_context(|| format!("copying the {p} plugin"))?;
    }
    let data_dir = dir.path().to_str().context("a UTF-8 temporary directory")?;
    let (mut weft, announced) = ChildProcess::start("Weft", &mut this_binary(&[WEFT, data_dir])?, 2, WEFT_START)?;
    let [base, operator_key] = <[String; 2]>::try_from(announced).map_err(|_| anyhow::anyhow!("Weft's lines"))?;

    let rt = tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build()?;
    let figures = rt.block_on(async {
        let rig = Rig::configure(&base, &operator_key, &provider, &api_key).await?;
        let list = rig.list().await?;
        mock.ensure_running()?;
        weft.ensure_running()?;
        let (direct, via_weft) = rig.run_overhead(&provider, &api_key).await?;
        weft.ensure_running()?;
        let ingest = rig.ingest().await?;
        weft.ensure_running()?;
        Ok::<_, anyhow::Error>(json!({
            "list_p50_ms": round(list),
            "run_overhead_p50_ms": round(via_weft - direct),
            "run_p50_ms": round(via_weft),
            "direct_p50_ms": round(direct),
            "webhook_ingest_per_sec": ingest.round(),
        }))
    })?;
    drop(weft);
    drop(mock);
    verdicts(&figures);
    Ok(figures)
}

fn round(ms: f64) -> f64 {
    (ms * 1000.0).round() / 1000.0
}

fn verdicts(figures: &Value) {
    let f = |k: &str| figures[k].as_f64().unwrap_or(f64::NAN);
    let verdict = |ok: bool| if ok { "within budget" } else { "OVER BUDGET" };
    eprintln!("list p50 {:.3} ms (budget <= 5: {})", f("list_p50_ms"), verdict(f("list_p50_ms") <= 5.0));
    eprintln!(
        "run overhead p50 {:.3} ms (budget <= 2: {})",
        f("run_overhead_p50_ms"),
        verdict(f("run_overhead_p50_ms") <= 2.0)
    );
    eprintln!(
        "webhook deliveries {:.0}/s (budget >= 2000: {})",
        f("webhook_ingest_per_sec"),
        verdict(f("webhook_ingest_per_sec") >= 2000.0)
    );
}

/// The configured project.
struct Rig<'a> {
    api: Api<'a>,
    project: String,
    user_token: String,
}

impl<'a> Rig<'a> {
    /// A project with an integration per plugin (test-proxy pointed at the
    /// mock), the webhook secret, and the user's test-proxy account.
    async fn configure(base: &'a str, operator_key: &str, provider: &str, api_key: &str) -> anyhow::Result<Self> {
        let api = Api { client: reqwest::Client::new(), base };
        let created = api.call("POST", "/admin/projects", operator_key, json!({"name": "Actions bench"}), 201).await?;
        let project = text(&created, "/project/id")?;
        let admin = text(&created, "/apiKey/key")?;
        let signing = api
            .call(
                "POST",
                &format!("/admin/projects/{project}/signing-keys"),
                &admin,
                json!({"generate": true, "kid": KID}),
                201,
            )
            .await?;
        for integration in INTEGRATIONS {
            let mut body = json!({"type": integration, "active": true});
            if integration == "test-proxy" {
                body["baseUrl"] = json!(provider);
            }
            api.call("POST", &format!("/admin/projects/{project}/integrations"), &admin, body, 201).await?;
        }
        let secrets = format!("/admin/projects/{project}/secrets");
        api.call("POST", &secrets, &admin, json!({"name": "webhook_secret"}), 201).await?;
        let response = api
            .client
            .put(format!("{base}{secrets}/webhook_secret"))
            .bearer_auth(&admin)
            .json(&json!({"value": WEBHOOK_SECRET}))
            .send()
            .await?;
        anyhow::ensure!(response.status() == 204, "setting the webhook secret answered {}", response.status());
        let now = time::OffsetDateTime::now_utc().unix_timestamp();
        let user_token = weft_auth::mint_user_token(&text(&signing, "/privateKeyPem")?, Some(KID), USER, now, 3600)
            .context("minting the user token")?;
        api.call(
            "POST",
            &format!("/projects/{project}/sdk/connect/test-proxy/credentials"),
            &user_token,
            json!({"fields": {"api_key": api_key}}),
            201,
        )
        .await
        .context("connecting the user's account")?;
        Ok(Self { api, project, user_token })
    }

    /// The p50 of listing every tool, in milliseconds.
    async fn list(&self) -> anyhow::Result<f64> {
        let url = format!("{}/projects/{}/actions?limit_to_available=false", self.api.base, self.project);
        let first: Value = self.api.client.get(&url).bearer_auth(&self.user_token).send().await?.json().await?;
        for integration in &INTEGRATIONS[..6] {
            let tools = first["actions"][integration].as_array().map_or(0, Vec::len);
            anyhow::ensure!(tools > 0, "no tools of {integration} listed: {first}");
        }
        let mut samples = Vec::with_capacity(LIST_CALLS);
        for _ in 0..LIST_CALLS {
            let t = Instant::now();
            let response = self.api.client.get(&url).bearer_auth(&self.user_token).send().await?;
            anyhow::ensure!(response.status() == 200, "listing answered {}", response.status());
            response.bytes().await?;
            samples.push(t.elapsed().as_secs_f64() * 1000.0);
        }
        Ok(median(samples))
    }

    /// The p50s of the provider call made directly and through ActionKit,
    /// in milliseconds.
    async fn run_overhead(&self, provider: &str, api_key: &str) -> anyhow::Result<(f64, f64)> {
        let direct_url = format!("{provider}/echo");
        let run_url = format!("{}/projects/{}/actions", self.api.base, self.project);
        let body = json!({"action": "TEST_PROXY_ECHO", "parameters": {}});
        let (mut direct, mut via_weft) = (Vec::new(), Vec::new());
        // Interleaved, so drift in the machine's load touches both alike.
        for _ in 0..RUN_CALLS {
            let t = Instant::now();
            let response = self.api.client.get(&direct_url).header("x-api-key", api_key).send().await?;
            anyhow::ensure!(response.status() == 200, "the provider answered {}", response.status());
            response.bytes().await?;
            direct.push(t.elapsed().as_secs_f64() * 1000.0);
            let t = Instant::now();
            let response = self.api.client.post(&run_url).bearer_auth(&self.user_token).json(&body).send().await?;
            let status = response.status();
            let text = response.text().await?;
            anyhow::ensure!(status == 200 && text.contains("items"), "running the action answered {status}: {text}");
            via_weft.push(t.elapsed().as_secs_f64() * 1000.0);
            tokio::time::sleep(PACE).await;
        }
        Ok((median(direct), median(via_weft)))
    }

    /// Signed deliveries accepted per second.
    async fn ingest(&self) -> anyhow::Result<f64> {
        let url = Arc::new(format!("{}/webhooks/{}/test-echo", self.api.base, self.project));
        let next = Arc::new(AtomicU64::new(0));
        let accepted = Arc::new(AtomicU64::new(0));
        let failed = Arc::new(AtomicU64::new(0));
        let start = Instant::now();
        let senders: Vec<_> = (0..SENDERS)
            .map(|_| {
                let (client, url) = (self.api.client.clone(), url.clone());
                let (next, accepted, failed) = (next.clone(), accepted.clone(), failed.clone());
                tokio::spawn(async move {
                    while start.elapsed() < INGEST_TIME {
                        let n = next.fetch_add(1, Ordering::Relaxed);
                        let body = format!(r#"{{"id":"evt-{n}","team":"team-bench","n":{n}}}"#);
                        let sent = client
                            .post(url.as_str())
                            .header("content-type", "application/json")
                            .header("x-echo-signature", sign(body.as_bytes()))
                            .body(body)
                            .send()
                            .await;
                        match sent {
                            Ok(r) if r.status() == 200 => accepted.fetch_add(1, Ordering::Relaxed),
                            _ => failed.fetch_add(1, Ordering::Relaxed),
                        };
                    }
                })
            })
            .collect();
        for s in senders {
            s.await?;
        }
        let elapsed = start.elapsed().as_secs_f64();
        let (ok, bad) = (accepted.load(Ordering::Relaxed), failed.load(Ordering::Relaxed));
        anyhow::ensure!(bad * 100 <= ok, "{bad} of {} deliveries failed", ok + bad);
        Ok(ok as f64 / elapsed)
    }
}

fn sign(body: &[u8]) -> String {
    let mut mac = Hmac::<Sha256>::new_from_slice(WEBHOOK_SECRET.as_bytes()).expect("any key length");
    mac.update(body);
    hex::encode(mac.finalize().into_bytes())
}
