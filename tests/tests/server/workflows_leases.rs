//! A worker claims a batch of steps and runs them one at a time; the ones
//! waiting their turn keep their leases. Found by the crash harness
//! (`crash_queue`): left unrenewed, a waiting step's lease expired behind a
//! slow step, the reaper gave it back to the queue as if its worker had
//! crashed (counting a restart, failing the step at `max_restarts`), and it
//! ran twice.

use crate::support::*;
use reqwest::Method;
use serde_json::json;
use std::time::{Duration, Instant};
use weft_store::{ExecutionStatus, Role};
use weft_tests::mock_api::MockApi;

/// One worker, a 300 ms lease, and a fan-out of six requests that take
/// 250 ms each: the six instances are claimed in one batch and the last
/// waits 1.25 s (four leases) for its turn. Each runs once, none restarts.
#[tokio::test]
async fn the_steps_of_a_claimed_batch_keep_their_leases_while_they_wait() {
    let mock = MockApi::start_on(std::net::Ipv4Addr::LOCALHOST).await;
    let app = spawn_app_with(&[], |s| {
        s.workflows.workers = 1;
        s.workflows.lease_ms = 300;
    })
    .await;
    let (project, pem) = project_with_key(app.store.as_ref(), "Leases").await;
    let key = api_key(app.store.as_ref(), &project, Role::Admin).await;
    let token = weft_auth::mint_user_token(&pem, Some("k"), "u1", now_unix(), 600).unwrap();
    let yaml = format!(
        "name: Batch\nintegration: custom.leases\ntrigger: {{type: appEvent, event: Go}}\nsteps:\n  \
         - id: each\n    type: fanOut\n    iterator: \"{{{{trigger.output.items}}}}\"\n    steps:\n      \
         - {{id: slow, type: request, method: GET, url: \"{}\"}}\n",
        mock.url_of("/api/slow/250")
    );
    let created = app
        .client
        .post(format!("{}/admin/projects/{project}/workflows", app.base))
        .bearer_auth(&key)
        .header("content-type", "application/yaml")
        .body(yaml)
        .send()
        .await
        .unwrap();
    assert_eq!(created.status(), 201);
    let workflow = created.json::<serde_json::Value>().await.unwrap()["id"].as_str().unwrap().to_owned();
    let deploy = format!("/admin/projects/{project}/workflows/{workflow}/deploy");
    assert_eq!(app.call(Method::POST, &deploy, Some(&key), None).await.0, 200);
    let enable = format!("/projects/{project}/sdk/workflows/{workflow}");
    assert_eq!(app.call(Method::POST, &enable, Some(&token), None).await.0, 200);

    let trigger = format!("/projects/{project}/sdk/events/trigger");
    let event = json!({"name": "Go", "payload": {"items": [0, 1, 2, 3, 4, 5]}});
    let (status, started) = app.call(Method::POST, &trigger, Some(&token), Some(event)).await;
    assert_eq!(status, 201, "{started}");
    let execution = started["executions"][0].as_str().unwrap().parse().unwrap();
    let project = project.parse().unwrap();
    let deadline = Instant::now() + Duration::from_secs(20);
    let ended = loop {
        let e = app.store.get_execution(project, execution).await.unwrap();
        if e.status.is_final() {
            break e;
        }
        assert!(Instant::now() < deadline, "the execution did not end: {e:?}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    };

    let steps = app.store.execution_steps(project, execution).await.unwrap();
    let restarts: Vec<(String, String, u32)> =
        steps.iter().map(|s| (s.step.clone(), s.instance.clone(), s.restarts)).collect();
    assert_eq!(ended.status, ExecutionStatus::Succeeded, "{steps:?}");
    assert!(restarts.iter().all(|(_, _, r)| *r == 0), "no step was restarted: {restarts:?}");
    let hits = mock.hits();
    let mut keys: Vec<&str> = hits.iter().filter_map(|h| h.header("idempotency-key")).collect();
    keys.sort_unstable();
    keys.dedup();
    assert_eq!((hits.len(), keys.len()), (6, 6), "each instance called once");
}
