//! `notion` at the plugin host: its declared OAuth scheme and token
//! reading, the connection test, and both polling triggers with persisted
//! cursors against the strict Notion mock (a first poll that replays no
//! history, new and changed rows, rows sharing the boundary minute).

use serde_json::{Value, json};
use weft_catalog::AuthScheme;
use weft_plugin_host::CallOptions;
use weft_tests::mock_providers::notion::{DATABASE, NotionMock};
use weft_tests::mock_providers::recorder::Tokens;
use weft_tests::{CONNECTION, TOKEN_CANARY, TestHost};

const BOT: &str = "b3414d65-9122-45e7-96ff-cc9d8773d601";

async fn setup() -> (TestHost, String, NotionMock, CallOptions) {
    let mock = NotionMock::start(Tokens::fixed(TOKEN_CANARY, BOT)).await;
    let t = TestHost::new();
    let id = t.install("notion").await;
    let opts = CallOptions::new("p1").with_connection(CONNECTION, json!({})).with_base_url(Some(&mock.api_base()));
    let opts = t.granted(&id, opts);
    (t, id, mock, opts)
}

#[tokio::test]
async fn declares_basic_client_auth_json_token_requests_and_no_scopes() {
    let t = TestHost::new();
    let id = t.install("notion").await;
    let meta = t.host.get(&id).unwrap().metadata.clone().unwrap();
    let AuthScheme::Oauth2 { token_url, client_auth, scopes, extra_authorize_params, .. } = &meta.auth else {
        panic!("not oauth2: {:?}", meta.auth)
    };
    assert_eq!(token_url, "https://api.notion.com/v1/oauth/token");
    assert_eq!(*client_auth, weft_catalog::ClientAuth::Basic);
    assert!(scopes.is_empty());
    assert_eq!(extra_authorize_params, &[("owner".to_owned(), "user".to_owned())]);
    assert_eq!(meta.extra["tokenResponse"]["requestFormat"], "json");
    let reading = weft_auth::oauth::TokenReading::from_extra(&meta.extra).unwrap();
    assert_eq!(reading.request_format, weft_auth::oauth::RequestFormat::Json);
    assert_eq!(meta.extra["categories"][0], "knowledge_base");
}

#[tokio::test]
async fn the_connection_test_names_the_bot_and_its_workspace() {
    let (t, id, mock, opts) = setup().await;
    let info = t.host.test_connection(&id, &opts).await.expect("test_connection");
    assert_eq!((info.account_id.as_str(), info.display_name.as_str()), (BOT, "Ada's Notion Workspace"));
    let calls = mock.calls.to("/users/me");
    assert_eq!(calls[0].header("notion-version"), Some("2022-06-28"));
    assert_eq!(calls[0].header("authorization"), Some(format!("Bearer {TOKEN_CANARY}").as_str()));
}

async fn poll(
    t: &TestHost,
    id: &str,
    opts: &CallOptions,
    trigger: &str,
    cursor: Option<String>,
) -> (Vec<Value>, Option<String>) {
    let config = json!({ "database_id": DATABASE });
    let out = t.host.poll(id, opts, trigger, &config, cursor).await.expect("poll");
    for e in &out.events {
        assert_eq!(e.trigger, trigger);
        let (page, stamp) = (
            e.payload["id"].as_str().unwrap(),
            if trigger.ends_with("CREATED") { "created_time" } else { "last_edited_time" },
        );
        assert_eq!(e.dedupe_key.as_deref(), Some(format!("{page}@{}", e.payload[stamp].as_str().unwrap()).as_str()));
    }
    (out.events.into_iter().map(|e| e.payload).collect(), out.cursor)
}

fn titles(pages: &[Value]) -> Vec<String> {
    pages
        .iter()
        .map(|p| p["properties"]["Name"]["title"][0]["text"]["content"].as_str().unwrap_or("").to_owned())
        .collect()
}

#[tokio::test]
async fn every_trigger_polls_from_a_persisted_cursor() {
    let (t, id, mock, opts) = setup().await;
    let listed: Vec<String> = t.host.get(&id).unwrap().triggers.iter().map(|tr| tr.key.clone()).collect();
    assert_eq!(listed, ["NOTION_PAGE_CREATED", "NOTION_PAGE_UPDATED"], "each listed trigger has its case below");
    assert!(t.host.get(&id).unwrap().triggers.iter().all(|tr| tr.kind == "polling"));

    let old = mock.add_row("Before the first poll");
    // The first poll replays nothing; it only sets the watermark.
    let (created, c_cursor) = poll(&t, &id, &opts, "NOTION_PAGE_CREATED", None).await;
    let (updated, u_cursor) = poll(&t, &id, &opts, "NOTION_PAGE_UPDATED", None).await;
    assert!(created.is_empty() && updated.is_empty());

    // A row in the same minute as the watermark, then one a minute later.
    let same_minute = mock.add_row("Same minute");
    mock.set_now("2024-05-01T10:01:00.000Z");
    mock.add_row("A minute later");
    let (created, c_cursor) = poll(&t, &id, &opts, "NOTION_PAGE_CREATED", c_cursor).await;
    assert_eq!(titles(&created), ["Same minute", "A minute later"]);
    // Nothing new: nothing again, and the cursor holds.
    let (again, c_cursor) = poll(&t, &id, &opts, "NOTION_PAGE_CREATED", c_cursor).await;
    assert!(again.is_empty(), "{again:?}");

    // An edit is an update, not a creation.
    mock.set_now("2024-05-01T10:02:00.000Z");
    mock.touch(&old);
    let (created, _) = poll(&t, &id, &opts, "NOTION_PAGE_CREATED", c_cursor).await;
    assert!(created.is_empty());
    let (updated, u_cursor) = poll(&t, &id, &opts, "NOTION_PAGE_UPDATED", u_cursor).await;
    assert_eq!(titles(&updated), ["Same minute", "A minute later", "Before the first poll"]);
    mock.touch(&same_minute);
    let (updated, _) = poll(&t, &id, &opts, "NOTION_PAGE_UPDATED", u_cursor).await;
    assert_eq!(titles(&updated), ["Same minute"], "an edit in the watermark's minute is still seen");

    // Every query was a strict, timestamp-filtered database query.
    let queries = mock.calls.to("/query");
    assert!(queries.iter().all(|c| c.status == 200 && c.method == "POST"), "{queries:?}");
    assert_eq!(queries[0].body["sorts"][0]["direction"], "descending", "the first poll asks for the newest row");
    assert_eq!(queries[2].body["filter"]["created_time"]["on_or_after"], "2024-05-01T10:00:00.000Z");
}

#[tokio::test]
async fn a_database_that_is_not_shared_fails_the_poll() {
    let (t, id, _mock, opts) = setup().await;
    let config = json!({ "database_id": "00000000-0000-4000-8000-000000000000" });
    let err = t.host.poll(&id, &opts, "NOTION_PAGE_CREATED", &config, None).await.unwrap_err();
    assert!(format!("{err:?}").contains("object_not_found"), "{err:?}");
    let err = t.host.poll(&id, &opts, "NOTION_PAGE_CREATED", &json!({ "database_id": "../users" }), None).await;
    assert!(format!("{:?}", err.unwrap_err()).contains("not a Notion id"));
}

#[tokio::test]
async fn search_pages_with_notion_cursors() {
    let (t, id, mock, opts) = setup().await;
    for i in 0..3 {
        mock.add_row(&format!("Row {i}"));
    }
    let (mut page, mut seen) = (None, Vec::new());
    loop {
        let input = json!({ "page_size": 2 });
        let call = weft_plugin_host::ActionCall { action: "NOTION_SEARCH_PAGES".into(), input, page: page.take() };
        let out = t.host.run_action(&id, &opts, call).await.expect("a page");
        seen.extend(out.output["results"].as_array().unwrap().iter().map(|p| p["id"].as_str().unwrap().to_owned()));
        match out.next_page {
            Some(next) => page = Some(next),
            None => break,
        }
        assert!(seen.len() <= 4, "pagination never ended");
    }
    assert_eq!(seen.len(), 4, "the home page and three rows");
    let bodies: Vec<Value> = mock.calls.to("/search").into_iter().map(|c| c.body).collect();
    assert_eq!(bodies.len(), 2);
    assert!(bodies[0].get("start_cursor").is_none());
    assert_eq!(bodies[1]["start_cursor"], seen[2].as_str());
}
