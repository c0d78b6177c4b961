//! A provider described by a definition file, with no plugin: it connects
//! through the same flows (checked by its connection test) and is proxied
//! with the same credential injection as a plugin's integration.

use super::fixture::ProxyFixture;
use reqwest::Method;
use serde_json::Value;

const TASKLAB: &str = r#"
id: tasklab
name: TaskLab
baseUrl: http://127.0.0.2/api
auth: { type: api-key, location: header, name: X-API-Key }
connectionTest: { path: /me, accountId: /id, accountName: /name }
"#;

#[tokio::test]
async fn a_definition_only_integration_connects_and_proxies() {
    let f = ProxyFixture::with(|s| {
        let dir = s.data_dir.join("providers");
        std::fs::create_dir_all(&dir).unwrap();
        std::fs::write(dir.join("tasklab.yaml"), TASKLAB).unwrap();
        // A broken file is refused with its problems; start-up goes on.
        std::fs::write(dir.join("broken.json"), r#"{"id": "broken"}"#).unwrap();
    })
    .await;
    f.add_integration("tasklab", &f.mock.api_base()).await;

    let credential = f.connect_as("u1", "tasklab", "key-tasklab", false).await;
    let me_test = f.mock.hits().into_iter().find(|h| h.uri == "/api/me").expect("the connection test ran");
    assert_eq!(me_test.header("x-api-key"), Some("key-tasklab"));
    let stored = f.app.store.get_credential(f.project.parse().unwrap(), credential.parse().unwrap()).await.unwrap();
    assert_eq!(stored.provider_id.as_deref(), Some("acct-1"));
    assert_eq!(stored.provider_data["name"], "Mock account");

    let (status, body) = f.get("u1", "tasklab/echo?page=2").await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["output"]["headers"]["x-api-key"], "key-tasklab");

    let path = format!("/projects/{}/sdk/metadata", f.project);
    let (status, listed) = f.app.call(Method::GET, &path, Some(&f.token("u1")), None).await;
    assert_eq!(status, 200, "{listed}");
    let names: Vec<&Value> = listed.as_array().unwrap().iter().map(|i| &i["name"]).collect();
    assert!(names.contains(&&Value::from("TaskLab")), "{listed}");

    // A refused definition is no provider: its integration cannot connect.
    f.add_integration("broken", &f.mock.api_base()).await;
    let path = format!("/projects/{}/sdk/connect/broken/credentials", f.project);
    let body = serde_json::json!({ "fields": { "api_key": "k" } });
    let (status, _) = f.app.call(Method::POST, &path, Some(&f.token("u1")), Some(body)).await;
    assert!((400..500).contains(&status), "{status}");
}

/// A definition whose connection test is refused by the provider is not saved.
#[tokio::test]
async fn a_failed_connection_test_saves_nothing() {
    let f = ProxyFixture::with(|s| {
        let dir = s.data_dir.join("providers");
        std::fs::create_dir_all(&dir).unwrap();
        let refused = TASKLAB.replace("path: /me", "path: /status/401");
        std::fs::write(dir.join("tasklab.yaml"), refused).unwrap();
    })
    .await;
    f.add_integration("tasklab", &f.mock.api_base()).await;
    let path = format!("/projects/{}/sdk/connect/tasklab/credentials", f.project);
    let body = serde_json::json!({ "fields": { "api_key": "wrong" } });
    let (status, answer) = f.app.call(Method::POST, &path, Some(&f.token("u1")), Some(body)).await;
    assert_eq!(status, 400, "{answer}");
    assert!(answer["message"].as_str().unwrap().contains("rejected the credentials"), "{answer}");
    let project = f.project.parse().unwrap();
    assert!(f.app.store.list_user_credentials(project, "u1").await.unwrap().is_empty());
}
