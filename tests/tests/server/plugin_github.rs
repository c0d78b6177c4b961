//! The `github` plugin through the real server: a user connects with
//! GitHub's OAuth App flow (the token answer exactly as GitHub documents
//! it: `access_token`, `scope` comma-separated, lower-case `bearer`, no
//! expiry and no refresh token), then every action the server lists for
//! the plugin runs through ActionKit against the strict GitHub mock, and a
//! provider refusal comes back in the error shape.

use crate::plugin_fixture::{ActionCase, PluginFixture, case};
use serde_json::{Value, json};
use weft_tests::mock_providers::{Call, MockServer, github};
use weft_tests::plugin_cases::Cases;

const ACCESS: &str = "gho_cnryGithubAccess7Fa93c2d0e51b6";
const REPO: &str = "octo-org/hello-world";

/// Exactly one request, `method path`, made as GitHub asks clients to.
fn one<'a>(calls: &'a [Call], method: &str, path: &str) -> &'a Call {
    let lines: Vec<String> = calls.iter().map(Call::line).collect();
    assert_eq!(lines, [format!("{method} {path}")], "the requests made");
    let call = &calls[0];
    assert_eq!(call.header("authorization"), Some(format!("Bearer {ACCESS}").as_str()));
    assert_eq!(call.header("accept"), Some("application/vnd.github+json"));
    assert_eq!(call.header("x-github-api-version"), Some(github::API_VERSION));
    assert!(call.header("user-agent").is_some_and(|ua| !ua.is_empty()));
    assert!(
        (200..300).contains(&call.status),
        "the mock refused it: {} {}",
        call.status,
        String::from_utf8_lossy(&call.body)
    );
    call
}

fn repo(extra: Value) -> Value {
    let mut p = json!({ "owner": "octo-org", "repo": "hello-world" });
    if let (Some(p), Value::Object(extra)) = (p.as_object_mut(), extra) {
        p.extend(extra);
    }
    p
}

fn seed(mock: &MockServer<github::GitHub>) {
    mock.with(|g| {
        g.add_repo(REPO);
        g.tokens.accept(ACCESS, "octocat");
        let r = g.repos.get_mut(REPO).unwrap();
        r.issues.insert(
            7,
            json!({ "id": 1007, "number": 7, "title": "Seeded bug in the parser", "state": "open", "locked": false }),
        );
        r.releases.insert(
            9001,
            json!({ "id": 9001, "tag_name": "release/0.9", "name": "Nine", "draft": false, "prerelease": false }),
        );
        r.releases.insert(
            9002,
            json!({ "id": 9002, "tag_name": "v0.8.0", "name": "Eight", "draft": false, "prerelease": false }),
        );
    });
}

fn cases() -> Cases<ActionCase> {
    let r = "/repos/octo-org/hello-world";
    Cases::new("github action")
        .case(
            "GITHUB_CREATE_ISSUE",
            case(repo(json!({ "title": "Crash on start", "body": "Steps…", "labels": ["bug"], "assignees": ["octocat"] })), move |out, calls| {
                let call = one(calls, "POST", &format!("{r}/issues"));
                assert_eq!(call.json(), json!({ "title": "Crash on start", "body": "Steps…", "labels": ["bug"], "assignees": ["octocat"] }));
                assert_eq!((out["number"].as_u64(), out["state"].as_str()), (Some(2), Some("open")), "{out}");
                assert_eq!(out["labels"][0]["name"], "bug");
            }),
        )
        .case(
            "GITHUB_UPDATE_ISSUE",
            case(repo(json!({ "issueNumber": 7, "state": "closed", "stateReason": "completed" })), move |out, calls| {
                let call = one(calls, "PATCH", &format!("{r}/issues/7"));
                assert_eq!(call.json(), json!({ "state": "closed", "state_reason": "completed" }));
                assert_eq!(out["state"], "closed", "{out}");
            }),
        )
        .case(
            "GITHUB_GET_ISSUE_BY_NUMBER",
            case(repo(json!({ "issueNumber": 7 })), move |out, calls| {
                one(calls, "GET", &format!("{r}/issues/7"));
                assert_eq!(out["title"], "Seeded bug in the parser", "{out}");
            }),
        )
        .case(
            "GITHUB_LOCK_ISSUE",
            case(repo(json!({ "issueNumber": 7, "lockReason": "too heated" })), move |out, calls| {
                let call = one(calls, "PUT", &format!("{r}/issues/7/lock"));
                assert_eq!(call.json(), json!({ "lock_reason": "too heated" }));
                assert_eq!(out, &json!({ "locked": true, "issueNumber": 7, "lockReason": "too heated" }));
            }),
        )
        .case(
            "GITHUB_SEARCH_ISSUES",
            case(json!({ "query": "repo:octo-org/hello-world parser", "perPage": 50 }), |out, calls| {
                let call = one(calls, "GET", "/search/issues");
                assert_eq!(call.query_value("q"), Some("repo:octo-org/hello-world parser"));
                assert_eq!(call.query_value("per_page"), Some("50"));
                assert_eq!(out["total_count"], 1, "{out}");
                assert_eq!(out["items"][0]["number"], 7);
            }),
        )
        .case(
            "GITHUB_CREATE_RELEASE",
            case(repo(json!({ "tagName": "v1.0.0", "name": "One", "draft": true })), move |out, calls| {
                let call = one(calls, "POST", &format!("{r}/releases"));
                assert_eq!(call.json(), json!({ "tag_name": "v1.0.0", "name": "One", "draft": true }));
                assert_eq!((out["tag_name"].as_str(), out["draft"].as_bool()), (Some("v1.0.0"), Some(true)), "{out}");
            }),
        )
        .case(
            "GITHUB_UPDATE_RELEASE",
            case(repo(json!({ "releaseId": 9001, "body": "Notes", "prerelease": true })), move |out, calls| {
                let call = one(calls, "PATCH", &format!("{r}/releases/9001"));
                assert_eq!(call.json(), json!({ "body": "Notes", "prerelease": true }));
                assert_eq!(out["prerelease"], true, "{out}");
            }),
        )
        .case(
            "GITHUB_GET_RELEASE_BY_ID",
            case(repo(json!({ "releaseId": 9001 })), move |out, calls| {
                one(calls, "GET", &format!("{r}/releases/9001"));
                assert_eq!(out["name"], "Nine", "{out}");
            }),
        )
        .case(
            "GITHUB_GET_RELEASE_BY_TAG_NAME",
            // A `/` in a tag stays inside one path segment.
            case(repo(json!({ "tagName": "release/0.9" })), move |out, calls| {
                one(calls, "GET", &format!("{r}/releases/tags/release%2F0.9"));
                assert_eq!(out["id"], 9001, "{out}");
            }),
        )
        .case(
            "GITHUB_DELETE_RELEASE",
            case(repo(json!({ "releaseId": 9002 })), move |out, calls| {
                one(calls, "DELETE", &format!("{r}/releases/9002"));
                assert_eq!(out, &json!({ "deleted": true, "releaseId": 9002 }));
            }),
        )
}

#[tokio::test]
async fn github_connects_and_runs_every_action_through_actionkit() {
    let mock = github::start().await;
    seed(&mock);
    let f = PluginFixture::new("github", "github", &mock.base).await;
    // GitHub's documented answer to the code exchange (Accept: application/json).
    let answer = json!({ "access_token": ACCESS, "scope": "repo,admin:repo_hook,read:user", "token_type": "bearer" });
    let (query, credential) = f.connect("u1", answer).await;
    let param = |k: &str| query.iter().find(|(n, _)| n == k).map(|(_, v)| v.as_str());
    assert_eq!(param("scope"), Some("repo admin:repo_hook read:user"));
    assert_eq!(param("client_id"), Some(crate::plugin_fixture::CLIENT_ID));
    assert_eq!(credential["status"], "VALID", "{credential}");
    assert_eq!(credential["providerId"], "583231", "the account is GitHub's user id: {credential}");
    assert_eq!(credential["providerData"]["login"], "octocat", "{credential}");
    assert_eq!(mock.calls().last().map(Call::line).as_deref(), Some("GET /user"));

    let tools = f.tools("u1").await;
    let create =
        tools.iter().find(|t| t["function"]["name"] == "GITHUB_CREATE_ISSUE").expect("GITHUB_CREATE_ISSUE listed");
    let params = &create["function"]["parameters"];
    assert!(params["properties"]["title"]["description"].as_str().is_some_and(|d| d.contains("title")), "{params}");
    let required: Vec<&str> = params["required"].as_array().unwrap().iter().filter_map(Value::as_str).collect();
    for field in ["owner", "repo", "title"] {
        assert!(required.contains(&field), "{field} is required: {params}");
    }

    f.run_every_action("u1", &mock, cases()).await;
}

#[tokio::test]
async fn github_refusals_come_back_in_the_error_shape() {
    let mock = github::start().await;
    seed(&mock);
    let f = PluginFixture::new("github", "github", &mock.base).await;
    let answer = json!({ "access_token": ACCESS, "scope": "repo", "token_type": "bearer" });
    f.connect("u1", answer).await;

    // A missing issue: GitHub's 404, passed through.
    let (status, body) = f.run("u1", "GITHUB_GET_ISSUE_BY_NUMBER", repo(json!({ "issueNumber": 404 }))).await;
    assert_eq!((status, body["code"].as_str()), (404, Some("PROVIDER_NOT_FOUND")), "{body}");
    assert_eq!(body["status"], 404);
    assert!(body["meta"]["requestId"].is_string(), "{body}");
    // A duplicate tag: GitHub's 422 "Validation Failed" with its status and message.
    let (status, body) = f.run("u1", "GITHUB_CREATE_RELEASE", repo(json!({ "tagName": "v0.8.0" }))).await;
    assert_eq!((status, body["code"].as_str()), (422, Some("PROVIDER_ERROR")), "{body}");
    assert!(body["message"].as_str().unwrap().contains("Validation Failed"), "{body}");
    assert_eq!(mock.calls().last().map(|c| c.status), Some(422));
    // Parameters the schema refuses never reach GitHub.
    let before = mock.count();
    let (status, body) = f.run("u1", "GITHUB_CREATE_ISSUE", repo(json!({}))).await;
    assert_eq!((status, body["code"].as_str()), (400, Some("INVALID_PARAMETERS")), "{body}");
    assert_eq!(mock.count(), before);
    // A revoked token: GitHub's 401, passed through as the provider's refusal.
    mock.with(|g| g.tokens.revoke(ACCESS));
    let (status, body) = f.run("u1", "GITHUB_GET_ISSUE_BY_NUMBER", repo(json!({ "issueNumber": 7 }))).await;
    assert_eq!(status, 401, "{body}");
    assert_eq!(mock.calls().last().map(|c| c.status), Some(401));
}
