//! Acceptance 2: a 50 MB raw answer streams through the real `weft` binary
//! with bounded memory. The client reads slowly on purpose, so a server
//! that buffered the body would hold all of it; the server's RSS (from
//! `/proc/<pid>/status`) is sampled throughout and printed. The binary runs
//! with `HTTP_PROXY`, `HTTPS_PROXY` and `ALL_PROXY` pointing at a sink,
//! which must see nothing (C4-64).

use super::fixture::PERMITTED;
use crate::support::*;
use reqwest::Method;
use serde_json::json;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::Duration;
use weft_tests::mock_api::{MockApi, pattern_byte};

const SIZE: u64 = 50 * 1024 * 1024;

fn rss_kib(pid: u32) -> u64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap_or_default();
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        .unwrap_or(0)
}

#[tokio::test]
async fn a_50_mb_raw_answer_streams_with_bounded_memory() {
    let mock = MockApi::start_on(PERMITTED).await;
    let dir = data_dir_with(&["test_proxy"]);
    let sink = MockApi::start_on(std::net::Ipv4Addr::LOCALHOST).await;
    let proxies: Vec<(&str, String)> =
        ["HTTP_PROXY", "HTTPS_PROXY", "ALL_PROXY", "http_proxy", "https_proxy", "all_proxy"]
            .into_iter()
            .map(|v| (v, sink.origin.clone()))
            .collect();
    let (child, _, base) = start_binary_env(dir.path(), &proxies).await;
    let pid = child.id().unwrap();
    let store = weft_store::open(&dir.path().join("weft.db").display().to_string()).await.unwrap();
    let (project, private_pem) = project_with_key(store.as_ref(), "Stream").await;
    let admin = api_key(store.as_ref(), &project, weft_store::Role::Admin).await;
    let token = weft_auth::mint_user_token(&private_pem, Some("k"), "u1", now_unix(), 3600).unwrap();
    let client = reqwest::Client::new();
    let created = client
        .post(format!("{base}/admin/projects/{project}/integrations"))
        .bearer_auth(&admin)
        .json(&json!({"type": "test-proxy", "active": true, "baseUrl": mock.api_base()}))
        .send()
        .await
        .unwrap();
    assert_eq!(created.status(), 201);
    let connected = client
        .post(format!("{base}/projects/{project}/sdk/connect/test-proxy/credentials"))
        .bearer_auth(&token)
        .json(&json!({"fields": {"api_key": "key-stream"}}))
        .send()
        .await
        .unwrap();
    assert_eq!(connected.status(), 201);

    // Warm the path (allocator arenas, pools) before the baseline.
    let warm = client
        .request(Method::GET, format!("{base}/projects/{project}/sdk/proxy/test-proxy/bytes/1048576"))
        .bearer_auth(&token)
        .header("X-Paragon-Use-Raw-Response", "1")
        .send()
        .await
        .unwrap();
    assert_eq!(warm.bytes().await.unwrap().len(), 1024 * 1024);
    let baseline = rss_kib(pid);
    let peak = Arc::new(AtomicU64::new(baseline));
    let done = Arc::new(AtomicBool::new(false));
    let sampler = {
        let (peak, done) = (peak.clone(), done.clone());
        tokio::spawn(async move {
            while !done.load(Ordering::Relaxed) {
                peak.fetch_max(rss_kib(pid), Ordering::Relaxed);
                tokio::time::sleep(Duration::from_millis(10)).await;
            }
        })
    };

    let resp = client
        .get(format!("{base}/projects/{project}/sdk/proxy/test-proxy/bytes/{SIZE}"))
        .bearer_auth(&token)
        .header("X-Paragon-Use-Raw-Response", "1")
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 200);
    assert_eq!(resp.headers()["content-type"], "application/octet-stream");
    let mut stream = resp.bytes_stream();
    let mut offset = 0u64;
    let mut chunks = 0u64;
    while let Some(chunk) = futures::StreamExt::next(&mut stream).await {
        let chunk = chunk.unwrap();
        for (i, b) in chunk.iter().enumerate() {
            assert_eq!(*b, pattern_byte(offset + i as u64), "byte {} differs", offset + i as u64);
        }
        offset += chunk.len() as u64;
        chunks += 1;
        // A slow reader: the server must wait for it, not buffer ahead.
        if chunks.is_multiple_of(16) {
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
    }
    done.store(true, Ordering::Relaxed);
    sampler.await.unwrap();
    assert_eq!(offset, SIZE, "every byte arrived");
    let peak = peak.load(Ordering::Relaxed);
    let growth_mib = (peak.saturating_sub(baseline)) as f64 / 1024.0;
    println!(
        "raw stream: {} MiB through the weft binary in {chunks} chunks; server RSS {:.1} MiB before, {:.1} MiB at peak (+{growth_mib:.1} MiB)",
        SIZE >> 20,
        baseline as f64 / 1024.0,
        peak as f64 / 1024.0,
    );
    assert!(growth_mib < 20.0, "the server's memory grew by {growth_mib:.1} MiB for a 50 MiB body");
    assert_eq!(sink.count(), 0, "the system proxy variables were used");
    assert_eq!(mock.count(), 2, "the provider was called directly");
    drop(child);
}
