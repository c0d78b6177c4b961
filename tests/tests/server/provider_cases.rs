//! What the per-provider server tests share: a project with the provider's
//! plugin, an account connected through the OAuth flow against the mock
//! authorization server answering as the provider documents, and a runner
//! that runs every action the plugin lists through ActionKit, each from a
//! table of cases, so an action without a case fails the test.

use std::collections::HashMap;

use reqwest::Method;
use serde_json::{Value, json};
use weft_tests::mock_auth::{MockAuthServer, TokenDialect};
use weft_tests::mock_providers::recorder::Tokens;

use crate::connect::Fixture;

/// The outputs of the cases run so far, by action key.
pub(crate) type Outputs = HashMap<&'static str, Value>;

/// Builds a case's parameters from the outputs so far.
type Params<'a> = Box<dyn Fn(&Outputs) -> Value + 'a>;
/// Checks a case's output (the outputs so far beside it).
type Check<'a> = Box<dyn Fn(&Value, &Outputs) + 'a>;

/// One action's case: its parameters (from earlier outputs) and what its
/// output must be.
pub(crate) struct Case<'a> {
    pub(crate) key: &'static str,
    pub(crate) params: Params<'a>,
    pub(crate) check: Check<'a>,
}

/// A case.
pub(crate) fn case<'a>(
    key: &'static str,
    params: impl Fn(&Outputs) -> Value + 'a,
    check: impl Fn(&Value, &Outputs) + 'a,
) -> Case<'a> {
    Case { key, params: Box::new(params), check: Box::new(check) }
}

/// A mock authorization server answering in `dialect`, and the tokens it
/// issues as a provider mock checks them.
pub(crate) async fn authorization_server() -> (MockAuthServer, Tokens) {
    let auth = MockAuthServer::start().await;
    let tokens = Tokens::Issued(auth.token_check());
    (auth, tokens)
}

/// A project with `plugin` whose OAuth endpoints are `auth`'s (answering in
/// `dialect`) and whose base URL is `base`.
pub(crate) async fn project(plugin: &str, auth: MockAuthServer, dialect: TokenDialect, base: &str) -> Fixture {
    project_on(plugin, auth, dialect, base, false).await
}

/// [`project`], on PostgreSQL when `postgres`.
pub(crate) async fn project_on(
    plugin: &str,
    auth: MockAuthServer,
    dialect: TokenDialect,
    base: &str,
    postgres: bool,
) -> Fixture {
    auth.set_token_dialect(dialect);
    let f = Fixture::with_mock(plugin, json!({}), |_| {}, postgres, auth).await;
    let path = format!("/admin/projects/{}/integrations/{}", f.project, f.integration);
    let (status, body) = f.app.call(Method::PATCH, &path, Some(&f.admin_key), Some(json!({ "baseUrl": base }))).await;
    assert_eq!(status, 200, "{body}");
    f
}

/// `POST /projects/{p}/actions` as `user`.
pub(crate) async fn run(f: &Fixture, user: &str, action: &str, parameters: Value) -> (u16, Value) {
    let path = format!("/projects/{}/actions", f.project);
    let body = json!({ "action": action, "parameters": parameters });
    f.app.call(Method::POST, &path, Some(&f.token(user)), Some(body)).await
}

/// Runs every action `integration` lists, each through its case (in the
/// table's order): a listed action without a case, or a case for an action
/// not listed, fails; so does any answer but 200 or a failed check.
pub(crate) async fn run_every_action(f: &Fixture, user: &str, integration: &str, cases: Vec<Case<'_>>) -> Outputs {
    let listed: Vec<String> = f
        .app
        .plugins
        .get(integration)
        .expect("the plugin is installed")
        .actions
        .iter()
        .map(|a| a.key.clone())
        .collect();
    // The server offers the same tools to the user.
    let (status, tools) =
        f.app.call(Method::GET, &format!("/projects/{}/actions", f.project), Some(&f.token(user)), None).await;
    assert_eq!(status, 200, "{tools}");
    let offered: Vec<&str> = tools["actions"][integration]
        .as_array()
        .map(|a| a.iter().filter_map(|t| t["function"]["name"].as_str()).collect())
        .unwrap_or_default();
    assert_eq!(offered, listed, "ActionKit lists the plugin's actions for a connected user");
    for key in &listed {
        assert!(cases.iter().any(|c| c.key == key), "action {key} has no case");
    }
    for c in &cases {
        assert!(listed.iter().any(|k| k == c.key), "case {} is not an action of {integration}", c.key);
    }
    let mut outputs = Outputs::new();
    for c in cases {
        let params = (c.params)(&outputs);
        let (status, output) = run(f, user, c.key, params.clone()).await;
        assert_eq!(status, 200, "{} with {params}: {output}", c.key);
        (c.check)(&output, &outputs);
        outputs.insert(c.key, output);
    }
    outputs
}
