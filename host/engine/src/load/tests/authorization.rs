//! Where a request's `Authorization` may come from.

use super::*;

const STEPS: &str = r#"
name: Auth
integration: salesforce
trigger: {type: appEvent, event: Go}
steps:
  - id: own
    type: request
    method: GET
    url: https://api.example.test/me
    headers: {Authorization: "Bearer {{secrets.API_TOKEN}}"}
  - id: mine
    type: integrationRequest
    method: GET
    url: /me
"#;

#[test]
fn a_request_step_may_set_its_own_authorization_header() {
    parse(STEPS, Format::Yaml, "auth.yaml").unwrap();
}

#[test]
fn a_header_and_authorization_together_are_refused() {
    let both = STEPS.replace(
        "    headers: {Authorization: \"Bearer {{secrets.API_TOKEN}}\"}\n",
        "    headers: {authorization: \"Bearer {{secrets.API_TOKEN}}\"}\n    authorization: {type: bearer, token: x}\n",
    );
    refused(&both, "/steps/0/headers/authorization", "keep one of the two");
}

#[test]
fn an_integration_request_sends_the_accounts_authorization_only() {
    let own = STEPS.replace("    url: /me\n", "    url: /me\n    headers: {AUTHORIZATION: Basic eA==}\n");
    refused(&own, "/steps/1/headers/AUTHORIZATION", "the connected account's own authorization");
}
