//! Notion through the real server: an account connected with Notion's own
//! token exchange (HTTP Basic client authentication, a JSON body) and
//! answer (bot, workspace and owner fields), every action the plugin lists
//! run through ActionKit against the strict Notion mock, and a Notion error
//! passed through in the error shape.

use serde_json::{Value, json};
use weft_tests::mock_providers::notion::{self, DATABASE, NotionMock, WORKSPACE};

use crate::provider_cases::{Outputs, authorization_server, case, project, run, run_every_action};

const BOT: &str = "b3414d65-9122-45e7-96ff-cc9d8773d601";

fn created(o: &Outputs) -> String {
    o["NOTION_CREATE_PAGE"]["id"].as_str().expect("the created page's id").to_owned()
}

#[tokio::test]
async fn notion_connects_with_its_token_exchange_and_runs_every_action() {
    let (auth, tokens) = authorization_server().await;
    let mock = NotionMock::start(tokens).await;
    let f = project("notion", auth, notion::token_dialect(), &mock.api_base()).await;
    let credential = f.connect("u1", BOT, json!({})).await;
    assert_eq!((credential["providerId"].as_str(), credential["status"].as_str()), (Some(BOT), Some("VALID")));
    // The code was exchanged as Notion documents: JSON, the client in HTTP Basic.
    let exchange = f.mock.log().into_iter().find(|r| r.path == "/token").expect("a token request");
    assert_eq!(exchange.outcome, "ok");
    assert!(exchange.header("content-type").is_some_and(|c| c.starts_with("application/json")), "{exchange:?}");
    assert!(exchange.header("authorization").is_some_and(|a| a.starts_with("Basic ")));
    assert_eq!(exchange.form_value("grant_type"), Some("authorization_code"));
    assert!(exchange.form_value("client_secret").is_none(), "the secret travels in HTTP Basic only");
    // The workspace fields of the answer are kept (sealed) with the tokens.
    let id = credential["id"].as_str().unwrap();
    let usable = f.app.credentials.usable(f.project.parse().unwrap(), id.parse().unwrap()).await.unwrap();
    for field in ["bot_id", "workspace_id", "workspace_name", "owner"] {
        assert!(usable.secrets.extra.contains_key(field), "{field} kept");
    }
    assert_eq!(usable.secrets.extra["workspace_name"], WORKSPACE);

    let (m, block) = (&mock, mock.block_id());
    let block = block.as_str();
    let cases = vec![
        case(
            "NOTION_CREATE_PAGE",
            |_| json!({ "parent_database_id": DATABASE, "title": "Launch plan", "properties": { "Status": { "select": { "name": "Draft" } } } }),
            |out, _| {
                let page = m.page(out["id"].as_str().unwrap()).expect("stored");
                assert_eq!(page["properties"]["Name"]["title"][0]["text"]["content"], "Launch plan");
                assert_eq!(page["parent"]["database_id"], DATABASE);
            },
        ),
        case(
            "NOTION_UPDATE_PAGE",
            |o| json!({ "page_id": created(o), "properties": { "Status": { "select": { "name": "Done" } } } }),
            |out, _| assert_eq!(out["properties"]["Status"]["select"]["name"], "Done", "{out}"),
        ),
        case(
            "NOTION_GET_PAGE",
            |o| json!({ "page_id": created(o) }),
            |out, o| assert_eq!(out["id"], created(o).as_str()),
        ),
        case(
            "NOTION_SEARCH_PAGES",
            |_| json!({ "query": "launch", "page_size": 1 }),
            |out, o| {
                let ids: Vec<&Value> = out["results"].as_array().unwrap().iter().map(|p| &p["id"]).collect();
                assert_eq!(ids, [&json!(created(o))]);
                let call = m.calls.to("/search").pop().unwrap();
                assert_eq!(call.body["filter"], json!({ "property": "object", "value": "page" }));
                assert_eq!(call.body["page_size"], 1);
            },
        ),
        case(
            "NOTION_QUERY_DATABASE",
            |_| json!({ "database_id": DATABASE, "sorts": [{ "timestamp": "created_time", "direction": "descending" }] }),
            |out, o| assert_eq!(out["results"][0]["id"], created(o).as_str(), "{out}"),
        ),
        case("NOTION_GET_BLOCK", move |_| json!({ "block_id": block }), |out, _| assert_eq!(out["type"], "paragraph")),
        case(
            "NOTION_UPDATE_BLOCK",
            move |_| json!({ "block_id": block, "block": { "paragraph": { "rich_text": [{ "type": "text", "text": { "content": "Hello" } }] } } }),
            |out, _| assert_eq!(out["paragraph"]["rich_text"][0]["text"]["content"], "Hello", "{out}"),
        ),
        case("NOTION_DELETE_BLOCK", move |_| json!({ "block_id": block }), |out, _| assert_eq!(out["archived"], true)),
        case(
            "NOTION_ARCHIVE_PAGE",
            |o| json!({ "page_id": created(o) }),
            |_, o| assert_eq!(m.page(&created(o)).unwrap()["archived"], true),
        ),
    ];
    run_every_action(&f, "u1", "notion", cases).await;
    for call in mock.calls.all() {
        assert_eq!((call.status, call.header("notion-version")), (200, Some("2022-06-28")), "{call:?}");
    }

    // Notion's error object comes back in the error shape.
    let before = mock.calls.count();
    let missing = "00000000-0000-4000-8000-000000000000";
    let (status, body) = run(&f, "u1", "NOTION_GET_PAGE", json!({ "page_id": missing })).await;
    assert_eq!((status, body["code"].as_str()), (404, Some("PROVIDER_NOT_FOUND")), "{body}");
    assert!(body["message"].as_str().unwrap().contains("object_not_found"), "{body}");
    assert_eq!(mock.calls.count(), before + 1);
    // An id that is no Notion id never reaches Notion.
    let (status, body) = run(&f, "u1", "NOTION_GET_PAGE", json!({ "page_id": "../users/me" })).await;
    assert_eq!((status, body["code"].as_str()), (400, Some("INVALID_PARAMETERS")), "{body}");
    assert_eq!(mock.calls.count(), before + 1);
}
