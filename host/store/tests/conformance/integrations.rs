//! Integrations.

use crate::harness::{Db, project};
use serde_json::{Map, Value, json};
use weft_store::{Error, IntegrationId, IntegrationPatch, NewIntegration};

fn object(v: Value) -> Map<String, Value> {
    match v {
        Value::Object(m) => m,
        other => panic!("not an object: {other}"),
    }
}

fn slack() -> NewIntegration {
    NewIntegration {
        integration_type: "slack".into(),
        active: true,
        client_id: Some("client-123".into()),
        scopes: vec!["chat:write".into(), "channels:read".into()],
        base_url: Some("https://slack.test/api".into()),
        endpoint_overrides: object(json!({"token": "https://slack.test/oauth"})),
        portal_texts: object(json!({"description": "Send messages"})),
        accent_color: Some("#4a154b".into()),
        definition: None,
    }
}

pub async fn lifecycle(db: Db) {
    let s = db.store;
    let p = project(&*s, "P").await;
    let created = s.create_integration(p.id, slack()).await.expect("create");
    let new = slack();
    assert_eq!(created.project_id, p.id);
    assert_eq!(created.integration_type, new.integration_type);
    assert!(created.active);
    assert_eq!(created.client_id, new.client_id);
    assert_eq!(created.scopes, new.scopes, "scope order is kept");
    assert_eq!(created.base_url, new.base_url);
    assert_eq!(created.endpoint_overrides, new.endpoint_overrides);
    assert_eq!(created.portal_texts, new.portal_texts);
    assert_eq!(created.accent_color, new.accent_color);

    let custom = NewIntegration { integration_type: "custom.acme".into(), ..Default::default() };
    let custom = s.create_integration(p.id, custom).await.expect("custom");
    assert!(!custom.active);
    assert_eq!((custom.client_id.clone(), custom.scopes.clone()), (None, vec![]));

    assert_eq!(s.get_integration(p.id, created.id).await.expect("get"), created);
    assert_eq!(s.get_integration_by_type(p.id, "slack").await.expect("by type"), created);
    assert_eq!(
        s.list_integrations(p.id).await.expect("list"),
        vec![custom.clone(), created.clone()],
        "ordered by type"
    );

    s.delete_integration(p.id, created.id).await.expect("delete");
    assert!(matches!(s.get_integration(p.id, created.id).await, Err(Error::NotFound(_))));
    assert!(matches!(s.delete_integration(p.id, created.id).await, Err(Error::NotFound(_))));
    assert_eq!(s.list_integrations(p.id).await.expect("list"), vec![custom]);
}

pub async fn patch_semantics(db: Db) {
    let s = db.store;
    let p = project(&*s, "P").await;
    let before = s.create_integration(p.id, slack()).await.expect("create");

    let untouched = s.update_integration(p.id, before.id, IntegrationPatch::default()).await.expect("empty patch");
    assert_eq!(untouched, before);

    let patch = IntegrationPatch {
        active: Some(false),
        client_id: Some(None),
        scopes: Some(vec!["users:read".into()]),
        accent_color: Some(Some("#fff".into())),
        portal_texts: Some(object(json!({"title": "Slack"}))),
        ..Default::default()
    };
    let after = s.update_integration(p.id, before.id, patch).await.expect("update");
    assert!(!after.active);
    assert_eq!(after.client_id, None, "Some(None) clears");
    assert_eq!(after.scopes, vec!["users:read".to_string()]);
    assert_eq!(after.accent_color.as_deref(), Some("#fff"));
    assert_eq!(after.portal_texts, object(json!({"title": "Slack"})), "replaced, not merged");
    // Fields left out stay as they were.
    assert_eq!(after.base_url, before.base_url);
    assert_eq!(after.endpoint_overrides, before.endpoint_overrides);
    assert_eq!((after.id, after.created_at), (before.id, before.created_at));
    assert_eq!(s.get_integration(p.id, before.id).await.expect("get"), after);
}

pub async fn type_conflict(db: Db) {
    let s = db.store;
    let (a, b) = (project(&*s, "A").await, project(&*s, "B").await);
    s.create_integration(a.id, slack()).await.expect("first");
    match s.create_integration(a.id, slack()).await {
        Err(Error::Conflict(m)) => assert!(m.contains("slack"), "names the clash: {m}"),
        other => panic!("expected a conflict, got {other:?}"),
    }
    s.create_integration(b.id, slack()).await.expect("same type, other project");
    assert_eq!(s.list_integrations(a.id).await.expect("list").len(), 1);
}

pub async fn integration_tenancy(db: Db) {
    let s = db.store;
    let (a, b) = (project(&*s, "A").await, project(&*s, "B").await);
    let it = s.create_integration(a.id, slack()).await.expect("create");
    assert!(matches!(s.get_integration(b.id, it.id).await, Err(Error::NotFound(_))));
    assert!(matches!(s.get_integration_by_type(b.id, "slack").await, Err(Error::NotFound(_))));
    let patch = IntegrationPatch { active: Some(false), ..Default::default() };
    assert!(matches!(s.update_integration(b.id, it.id, patch).await, Err(Error::NotFound(_))));
    assert!(matches!(s.delete_integration(b.id, it.id).await, Err(Error::NotFound(_))));
    assert!(s.list_integrations(b.id).await.expect("list").is_empty());
    // A's integration is unchanged by B's attempts.
    assert_eq!(s.get_integration(a.id, it.id).await.expect("get"), it);
    assert!(matches!(s.get_integration(a.id, IntegrationId::new()).await, Err(Error::NotFound(_))));
}

pub async fn invalid_input(db: Db) {
    let s = db.store;
    let p = project(&*s, "P").await;
    let bad = [
        NewIntegration { integration_type: "Slack!".into(), ..slack() },
        NewIntegration { accent_color: Some("purple".into()), ..slack() },
        NewIntegration { base_url: Some("file:///etc/passwd".into()), ..slack() },
        NewIntegration { scopes: vec!["two words".into()], ..slack() },
    ];
    for new in bad {
        let res = s.create_integration(p.id, new).await;
        assert!(matches!(res, Err(Error::Invalid(_))), "{res:?}");
    }
    let it = s.create_integration(p.id, slack()).await.expect("valid");
    let patch = IntegrationPatch { active: Some(false), accent_color: Some(Some("#12".into())), ..Default::default() };
    assert!(matches!(s.update_integration(p.id, it.id, patch).await, Err(Error::Invalid(_))));
    assert_eq!(s.get_integration(p.id, it.id).await.expect("get"), it, "nothing applied");
}

/// A custom integration's own definition: stored as given, read back only
/// in its project, replaced or removed by a patch, refused on other types.
pub async fn custom_definitions(db: Db) {
    let s = db.store;
    let (a, b) = (project(&*s, "A").await, project(&*s, "B").await);
    let definition = object(json!({"id": "custom.acme", "name": "Acme", "auth": {"type": "bearer"}}));
    let new = NewIntegration {
        integration_type: "custom.acme".into(),
        definition: Some(definition.clone()),
        ..Default::default()
    };
    let it = s.create_integration(a.id, new).await.expect("create");
    assert_eq!(it.definition.as_ref(), Some(&definition));
    assert_eq!(s.get_integration_by_type(a.id, "custom.acme").await.expect("get").definition, Some(definition));
    // Another project's integration of the same type has its own (none here).
    let other = NewIntegration { integration_type: "custom.acme".into(), ..Default::default() };
    let other = s.create_integration(b.id, other).await.expect("same type, other project");
    assert_eq!(other.definition, None);
    assert!(matches!(s.get_integration(b.id, it.id).await, Err(Error::NotFound(_))));

    let replaced = object(json!({"id": "custom.acme", "name": "Acme 2"}));
    let patch = IntegrationPatch { definition: Some(Some(replaced.clone())), ..Default::default() };
    assert_eq!(s.update_integration(a.id, it.id, patch).await.expect("replace").definition, Some(replaced));
    let patch = IntegrationPatch { definition: Some(None), ..Default::default() };
    assert_eq!(s.update_integration(a.id, it.id, patch).await.expect("remove").definition, None);

    let slack_with = NewIntegration { definition: Some(object(json!({"id": "slack"}))), ..slack() };
    assert!(matches!(s.create_integration(a.id, slack_with).await, Err(Error::Invalid(_))));
    let plain = s.create_integration(a.id, slack()).await.expect("slack");
    let patch = IntegrationPatch { definition: Some(Some(object(json!({"id": "slack"})))), ..Default::default() };
    assert!(matches!(s.update_integration(a.id, plain.id, patch).await, Err(Error::Invalid(_))));
}
