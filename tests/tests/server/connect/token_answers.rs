//! HubSpot's token answers as it documents them (a lowercase `bearer`,
//! 30-minute access tokens, a refresh token in every answer): each
//! refresh's new refresh token replaces the one before, so the next refresh
//! presents it (a reused one would revoke the whole grant at the mock).

use super::Fixture;
use serde_json::json;
use weft_tests::mock_auth::TokenDialect;

#[tokio::test]
async fn hubspot_rotating_refresh_tokens_replace_the_old_one() {
    let f = Fixture::oauth().await;
    f.mock.set_access_token_ttl(Some(1800));
    f.mock.set_token_dialect(TokenDialect::answering(|standard, _| {
        json!({
            "token_type": "bearer",
            "refresh_token": standard["refresh_token"],
            "access_token": standard["access_token"],
            "expires_in": standard["expires_in"],
        })
    }));
    let credential = f.connect("u1", "acct-1", json!({})).await;
    let id = credential["id"].as_str().unwrap().to_owned();
    let (project, credential_id) = (f.project.parse().unwrap(), id.parse().unwrap());
    let mut held = f.app.credentials.usable(project, credential_id).await.unwrap().secrets.refresh_token.clone();
    for round in 0..3 {
        f.advance(1800);
        assert_eq!(f.whoami(&id).await.unwrap()["id"], "acct-1", "round {round}");
        let sent: Vec<String> = f
            .mock
            .log()
            .iter()
            .filter(|r| r.path == "/token" && r.form_value("grant_type") == Some("refresh_token"))
            .filter_map(|r| r.form_value("refresh_token").map(str::to_owned))
            .collect();
        assert_eq!(sent.len(), round + 1);
        assert_eq!(sent.last(), held.as_ref(), "round {round}: the refresh presented the newest refresh token");
        let now = f.app.credentials.usable(project, credential_id).await.unwrap().secrets.refresh_token.clone();
        assert_ne!(now, held, "round {round}: the answer's refresh token replaced the old one");
        assert!(!f.mock.is_family_revoked(now.as_deref().unwrap()));
        held = now;
    }
}
