//! The token answers of the six providers Weft ships plugins for, as each
//! documents them, read with the reading each provider declares.

use super::*;
use serde_json::json;

fn read(status: u16, body: Value, reading: &TokenReading) -> Result<TokenResponse, TokenError> {
    parse_token_response(status, &[], body.to_string().as_bytes(), reading)
}

fn reading(declared: Value) -> TokenReading {
    TokenReading::from_extra(&json!({ "tokenResponse": declared })).expect("a valid declaration")
}

/// What the Slack plugin declares.
fn slack() -> TokenReading {
    reading(json!({
        "tokenTypes": ["bot", "user"],
        "accessTokenAt": "/authed_user/access_token",
        "grantErrors": ["invalid_code", "code_already_used", "invalid_refresh_token", "invalid_grant_type"],
        "clientErrors": ["invalid_client_id", "bad_client_secret"],
    }))
}

#[test]
fn slack_oauth_v2_access_with_a_bot_token() {
    // api.slack.com/methods/oauth.v2.access, "Example response".
    let answer = json!({
        "ok": true,
        "access_token": "xoxb-17653672481-19874698323-pdFZKVeTuE8sk7oOcBrzbqgy",
        "token_type": "bot",
        "scope": "commands,incoming-webhook",
        "bot_user_id": "U0KRQLJ9H",
        "app_id": "A0KRD7HC3",
        "team": { "name": "Slack Softball Team", "id": "T9TK3CUKW" },
        "enterprise": { "name": "slack-sports", "id": "E12345678" },
        "authed_user": { "id": "U1234", "scope": "chat:write", "access_token": "xoxp-1234", "token_type": "user" }
    });
    let ok = read(200, answer.clone(), &slack()).unwrap();
    assert_eq!(ok.access_token.expose_secret(), "xoxb-17653672481-19874698323-pdFZKVeTuE8sk7oOcBrzbqgy");
    assert_eq!(ok.token_type, "bot");
    assert_eq!(ok.scope.as_deref(), Some("commands,incoming-webhook"));
    assert_eq!(ok.extra["team"]["id"], "T9TK3CUKW");
    // The user token stays sealed with the rest, never the one sent.
    assert_eq!(ok.extra["authed_user"]["access_token"], "xoxp-1234");
    // Without the declaration, `bot` is refused: what issue 16 found.
    assert!(matches!(read(200, answer, &TokenReading::default()), Err(TokenError::Malformed(_))));
}

#[test]
fn slack_token_rotation_and_user_only_installs() {
    // With token rotation on, the answer carries a lifetime and a refresh token.
    let rotated = json!({
        "ok": true, "access_token": "xoxe.xoxb-1-abc", "token_type": "bot", "expires_in": 43200,
        "refresh_token": "xoxe-1-def", "scope": "chat:write", "team": { "id": "T9TK3CUKW", "name": "x" }
    });
    let ok = read(200, rotated, &slack()).unwrap();
    assert_eq!(
        (ok.expires_in, ok.refresh_token.map(|r| r.expose_secret().to_owned())),
        (Some(43200), Some("xoxe-1-def".into()))
    );
    // Only user scopes asked for: the token is in `authed_user`.
    let user_only = json!({
        "ok": true, "app_id": "A0KRD7HC3", "team": { "id": "T9TK3CUKW", "name": "x" },
        "authed_user": { "id": "U1234", "scope": "search:read", "access_token": "xoxp-1234", "token_type": "user" }
    });
    let ok = read(200, user_only, &slack()).unwrap();
    assert_eq!((ok.access_token.expose_secret(), ok.token_type.as_str()), ("xoxp-1234", "user"));
    assert_eq!(ok.extra["authed_user"]["id"], "U1234");
    assert!(ok.extra["authed_user"].get("access_token").is_none());
}

#[test]
fn slack_refusals_come_with_status_200() {
    let refused = |error: &str| read(200, json!({ "ok": false, "error": error }), &slack()).unwrap_err();
    assert_eq!(refused("invalid_code"), TokenError::InvalidGrant);
    assert_eq!(refused("invalid_refresh_token"), TokenError::InvalidGrant);
    assert_eq!(refused("bad_client_secret"), TokenError::InvalidClient);
    assert_eq!(refused("invalid_redirect_uri"), TokenError::Rejected("invalid_redirect_uri".into()));
    // `ok: false` without a code is still a refusal, never a token.
    assert!(matches!(read(200, json!({ "ok": false }), &slack()), Err(TokenError::Rejected(_))));
}

#[test]
fn github_answers_and_its_refusals_with_status_200() {
    let github = reading(json!({
        "grantErrors": ["bad_verification_code", "bad_refresh_token"],
        "clientErrors": ["incorrect_client_credentials"],
    }));
    // docs.github.com, "Authorizing OAuth apps", with Accept: application/json.
    let ok = read(
        200,
        json!({
            "access_token": "gho_16C7e42F292c6912E7710c838347Ae178B4a", "scope": "repo,gist", "token_type": "bearer"
        }),
        &github,
    )
    .unwrap();
    assert_eq!((ok.token_type.as_str(), ok.expires_in), ("Bearer", None));
    // Expiring user tokens (GitHub Apps).
    let ok = read(
        200,
        json!({
            "access_token": "ghu_16C7e42F292c6912E7710c838347Ae178B4a", "expires_in": 28800,
            "refresh_token": "ghr_1B4a2e77838347a7E420ce178F2E7c6912E169246c34E1ccbF66C46812d16D5B1A9Dc86A1498",
            "refresh_token_expires_in": 15811200, "scope": "", "token_type": "bearer"
        }),
        &github,
    )
    .unwrap();
    assert_eq!(ok.expires_in, Some(28800));
    assert_eq!(ok.extra["refresh_token_expires_in"], 15811200);
    let refused = read(
        200,
        json!({
            "error": "bad_verification_code", "error_description": "The code passed is incorrect or expired.",
            "error_uri": "https://docs.github.com/apps/managing-oauth-apps/troubleshooting-oauth-app-access-token-request-errors/#bad-verification-code"
        }),
        &github,
    );
    assert_eq!(refused.unwrap_err(), TokenError::InvalidGrant);
    let wrong_client = read(200, json!({ "error": "incorrect_client_credentials" }), &github);
    assert_eq!(wrong_client.unwrap_err(), TokenError::InvalidClient);
}

#[test]
fn hubspot_answers_carry_a_rotating_refresh_token() {
    // developers.hubspot.com, "OAuth tokens": the code and the refresh
    // answers have one shape; a new refresh token replaces the old one.
    for refresh in ["1e8fbfb1-8e96-4826-8b8d-c8af73715", "5f2a0c4e-1d3b-4c8a-9f1e-2b7d6a9c3e10"] {
        let ok = read(
            200,
            json!({
                "token_type": "bearer", "refresh_token": refresh,
                "access_token": "CIrToaiiMhIHAAEAQAAAARiO1ooBIOP0sgEokuLtATIU5m7Ed6dX0WANRa3VRs", "expires_in": 1800
            }),
            &TokenReading::default(),
        )
        .unwrap();
        assert_eq!(ok.refresh_token.map(|r| r.expose_secret().to_owned()).as_deref(), Some(refresh));
        assert_eq!(ok.expires_in, Some(1800));
    }
    let refused = read(
        400,
        json!({
            "status": "BAD_REFRESH_TOKEN", "message": "missing or unknown refresh token",
            "correlationId": "d1b0a4d5-2fd0-4b8b-9b4b-8d0a4f6b8b2c", "error": "invalid_grant"
        }),
        &TokenReading::default(),
    );
    assert_eq!(refused.unwrap_err(), TokenError::InvalidGrant);
}

#[test]
fn salesforce_answers_name_the_instance() {
    // help.salesforce.com, "OAuth 2.0 Web Server Flow": no expires_in,
    // an instance URL that calls must go to, and no rotation on refresh.
    let ok = read(200, json!({
        "access_token": "00DB0000000TfcR!AQQAQFhoK8vTMg_rKA.esrJ2bCs.OOIjJgl.9Cx6O7KqjZmHMLOyVb.U61BU9tm4xRusf7d3fD1P9oefzqS6i9sJMPWj48IK",
        "refresh_token": "5Aep861TSESvWeug_xvFHRBTTbf_YrTWgEyjBJrbZXjYzPTvdBJuZyLwDeFg1Wb0X_8xPx6Y0YLq6JnqrVgXJlX",
        "signature": "d/SxeYBxH0GSVko0HMgcUxuZy0PA2cDDz1u7g7JtDHw=",
        "scope": "refresh_token api", "instance_url": "https://yourInstance.my.salesforce.com",
        "id": "https://login.salesforce.com/id/00DB0000000TfcRMAS/005B0000005Bk90IAC",
        "token_type": "Bearer", "issued_at": "1558553873237"
    }), &TokenReading::default())
    .unwrap();
    assert_eq!(ok.expires_in, None);
    assert_eq!(ok.extra["instance_url"], "https://yourInstance.my.salesforce.com");
    assert_eq!(ok.extra["issued_at"], "1558553873237");
    let refused = read(
        400,
        json!({ "error": "invalid_grant", "error_description": "expired access/refresh token" }),
        &TokenReading::default(),
    );
    assert_eq!(refused.unwrap_err(), TokenError::InvalidGrant);
}

#[test]
fn google_answers_are_plain_rfc_6749() {
    // developers.google.com/identity/protocols/oauth2/web-server, step 5.
    let ok = read(200, json!({
        "access_token": "1/fFAGRNJru1FTz70BzhT3Zg", "expires_in": 3920, "token_type": "Bearer",
        "scope": "https://www.googleapis.com/auth/calendar", "refresh_token": "1//xEoDL4iW3cxlI7yDbSRFYNG01kVKM2C-259HOF2aQbI"
    }), &TokenReading::default())
    .unwrap();
    assert_eq!((ok.expires_in, ok.scope.as_deref()), (Some(3920), Some("https://www.googleapis.com/auth/calendar")));
    let refused = read(
        400,
        json!({ "error": "invalid_grant", "error_description": "Token has been expired or revoked." }),
        &TokenReading::default(),
    );
    assert_eq!(refused.unwrap_err(), TokenError::InvalidGrant);
}

#[test]
fn notion_answers_name_the_workspace_and_its_requests_are_json() {
    let notion = reading(json!({ "requestFormat": "json" }));
    // developers.notion.com, "Create a token".
    let ok = read(
        200,
        json!({
            "access_token": "e202e8c9-0990-40af-855f-ff8f872b1ec6c", "token_type": "bearer",
            "refresh_token": "nrt_4991090011501Ejc6Xn4sHguI7jZIN449mKe9PRhpMfNK",
            "bot_id": "b3414d659-1224-5ty7-6ffr-cc9d8773drt601288f", "duplicated_template_id": null,
            "owner": { "workspace": true }, "workspace_icon": "https://website.domain/images/image.png",
            "workspace_id": "j565j4d7x3-2882-61bs-564a-jj9d9ui-c36hxfr7x", "workspace_name": "Ada's Notion Workspace"
        }),
        &notion,
    )
    .unwrap();
    assert_eq!(ok.token_type, "Bearer");
    for field in ["bot_id", "workspace_id", "workspace_name", "owner"] {
        assert!(ok.extra.contains_key(field), "{field} kept");
    }
    let (content_type, body) = encode_body(
        &[("grant_type", "authorization_code".into()), ("code", "c-1".into()), ("redirect_uri", "https://w/cb".into())],
        notion.request_format,
    );
    assert_eq!(content_type, "application/json");
    let sent: Value = serde_json::from_slice(&body).unwrap();
    assert_eq!(sent, json!({ "grant_type": "authorization_code", "code": "c-1", "redirect_uri": "https://w/cb" }));
    let (content_type, body) = encode_body(&[("code", "a b&c".into())], RequestFormat::Form);
    assert_eq!((content_type, body.as_slice()), ("application/x-www-form-urlencoded", b"code=a+b%26c".as_slice()));
}

#[test]
fn declarations_are_checked() {
    assert_eq!(TokenReading::from_extra(&json!({ "categories": ["crm"] })), Ok(TokenReading::default()));
    assert!(TokenReading::from_extra(&json!({ "tokenResponse": { "tokenTypez": ["bot"] } })).is_err());
    assert!(TokenReading::from_extra(&json!({ "tokenResponse": { "requestFormat": "xml" } })).is_err());
}
