//! Workflows: drafts, immutable versions, deploys, triggers, enablements.

use crate::harness::{Db, project};
use serde_json::json;
use weft_store::{CredentialId, Error, NewWorkflow, TriggerKey, VersionKind, WorkflowId};

fn new(name: &str, integration: &str) -> NewWorkflow {
    NewWorkflow { name: name.into(), integration: integration.into(), definition: json!({"steps": [], "v": 0}) }
}

fn event(name: &str) -> TriggerKey {
    TriggerKey { kind: "appEvent".into(), key: Some(name.into()) }
}

pub async fn drafts_and_versions(db: Db) {
    let s = &*db.store;
    let p = project(s, "A").await.id;
    let w = s.create_workflow(p, new("Sync", "salesforce")).await.unwrap();
    assert_eq!((w.versions, w.deployed_version, w.trigger.clone()), (0, None, None));
    let w = s.update_workflow(p, w.id, None, Some(json!({"v": 1}))).await.unwrap();
    assert_eq!((w.name.as_str(), &w.definition), ("Sync", &json!({"v": 1})));
    let v1 = s.write_version(p, w.id, VersionKind::Saved, json!({"v": 1}), None).await.unwrap();
    let v2 = s.write_version(p, w.id, VersionKind::Deployed, json!({"v": 2}), Some(event("created"))).await.unwrap();
    assert_eq!((v1, v2), (1, 2));
    // Editing the draft leaves the deployed version as it was.
    let w = s.update_workflow(p, w.id, Some("Sync contacts".into()), Some(json!({"v": 3}))).await.unwrap();
    assert_eq!((w.versions, w.deployed_version, w.trigger.clone()), (2, Some(2), Some(event("created"))));
    assert_eq!(s.get_workflow_version(p, w.id, 2).await.unwrap().definition, json!({"v": 2}));
    // Restoring version 1 writes version 3 and makes it the draft.
    let old = s.get_workflow_version(p, w.id, 1).await.unwrap();
    let v3 = s.write_version(p, w.id, VersionKind::Restored, old.definition, None).await.unwrap();
    assert_eq!(v3, 3);
    let w = s.get_workflow(p, w.id).await.unwrap();
    assert_eq!((&w.definition, w.deployed_version), (&json!({"v": 1}), Some(2)));
    let listed: Vec<(u32, VersionKind)> =
        s.list_workflow_versions(p, w.id).await.unwrap().iter().map(|v| (v.version, v.kind)).collect();
    assert_eq!(listed, vec![(3, VersionKind::Restored), (2, VersionKind::Deployed), (1, VersionKind::Saved)]);
    assert!(matches!(s.get_workflow_version(p, w.id, 9).await, Err(Error::NotFound("workflow version"))));
    let w = s.undeploy_workflow(p, w.id).await.unwrap();
    assert_eq!((w.deployed_version, w.trigger), (None, None));
    assert_eq!(s.list_workflow_versions(p, w.id).await.unwrap().len(), 3, "versions outlive a deploy");
}

pub async fn concurrent_versions_take_consecutive_numbers(db: Db) {
    let s = db.store.clone();
    let p = project(&*s, "A").await.id;
    let w = s.create_workflow(p, new("W", "slack")).await.unwrap();
    let writers: Vec<_> = (0..8)
        .map(|i| {
            let s = s.clone();
            tokio::spawn(async move { s.write_version(p, w.id, VersionKind::Saved, json!({"i": i}), None).await })
        })
        .collect();
    let mut numbers = Vec::new();
    for t in writers {
        numbers.push(t.await.unwrap().unwrap());
    }
    numbers.sort();
    assert_eq!(numbers, (1..=8).collect::<Vec<u32>>());
}

pub async fn triggers_find_deployed_workflows(db: Db) {
    let s = &*db.store;
    let p = project(s, "A").await.id;
    let a = s.create_workflow(p, new("A", "slack")).await.unwrap();
    let b = s.create_workflow(p, new("B", "hubspot")).await.unwrap();
    let c = s.create_workflow(p, new("C", "slack")).await.unwrap();
    s.write_version(p, a.id, VersionKind::Deployed, json!({}), Some(event("created"))).await.unwrap();
    s.write_version(p, b.id, VersionKind::Deployed, json!({}), Some(event("created"))).await.unwrap();
    s.write_version(p, c.id, VersionKind::Deployed, json!({}), Some(event("deleted"))).await.unwrap();
    let found: Vec<WorkflowId> =
        s.deployed_with_trigger(p, &event("created")).await.unwrap().iter().map(|w| w.id).collect();
    assert_eq!(found, vec![a.id, b.id]);
    s.undeploy_workflow(p, b.id).await.unwrap();
    let found: Vec<WorkflowId> =
        s.deployed_with_trigger(p, &event("created")).await.unwrap().iter().map(|w| w.id).collect();
    assert_eq!(found, vec![a.id]);
    let enabled = TriggerKey { kind: "integrationEnabled".into(), key: None };
    s.write_version(p, c.id, VersionKind::Deployed, json!({}), Some(enabled.clone())).await.unwrap();
    assert_eq!(s.deployed_with_trigger(p, &enabled).await.unwrap()[0].id, c.id);
    assert!(s.deployed_with_trigger(p, &event("deleted")).await.unwrap().is_empty(), "c moved to another trigger");
    let slack: Vec<WorkflowId> = s.list_workflows(p, Some("slack")).await.unwrap().iter().map(|w| w.id).collect();
    assert_eq!(slack, vec![a.id, c.id]);
    assert_eq!(s.list_workflows(p, None).await.unwrap().len(), 3);
}

pub async fn enablements(db: Db) {
    let s = &*db.store;
    let p = project(s, "A").await.id;
    let w = s.create_workflow(p, new("W", "slack")).await.unwrap();
    let (c1, c2) = (CredentialId::new(), CredentialId::new());
    let first = s.enable_workflow(p, w.id, "u1", None).await.unwrap();
    let again = s.enable_workflow(p, w.id, "u1", None).await.unwrap();
    assert_eq!(first, again, "enabling twice is one enablement");
    s.enable_workflow(p, w.id, "u2", Some(c1)).await.unwrap();
    s.enable_workflow(p, w.id, "u2", Some(c2)).await.unwrap();
    let of_u2 = s.user_enablements(p, "u2").await.unwrap();
    assert_eq!(of_u2.iter().map(|e| e.credential).collect::<Vec<_>>().len(), 2);
    assert!(of_u2.iter().all(|e| e.workflow == w.id));
    assert_eq!(s.disable_workflow(p, w.id, "u2", Some(c1)).await.unwrap(), 1);
    let left = s.workflow_enablements(p, w.id, Some(&["u2".to_owned()])).await.unwrap();
    assert_eq!(left.iter().map(|e| e.credential).collect::<Vec<_>>(), vec![Some(c2)]);
    assert_eq!(s.workflow_enablements(p, w.id, None).await.unwrap().len(), 2);
    assert_eq!(s.disable_workflow(p, w.id, "u2", None).await.unwrap(), 1, "all of the user's");
    assert_eq!(s.disable_workflow(p, w.id, "u2", None).await.unwrap(), 0);
    // Deleting the workflow takes its enablements and versions along.
    s.write_version(p, w.id, VersionKind::Saved, json!({}), None).await.unwrap();
    s.delete_workflow(p, w.id).await.unwrap();
    assert!(s.user_enablements(p, "u1").await.unwrap().is_empty());
    assert!(matches!(s.get_workflow(p, w.id).await, Err(Error::NotFound("workflow"))));
    assert!(matches!(s.delete_workflow(p, w.id).await, Err(Error::NotFound("workflow"))));
}

pub async fn workflow_tenancy(db: Db) {
    let s = &*db.store;
    let (a, b) = (project(s, "A").await.id, project(s, "B").await.id);
    let w = s.create_workflow(a, new("W", "slack")).await.unwrap();
    s.write_version(a, w.id, VersionKind::Deployed, json!({}), Some(event("created"))).await.unwrap();
    assert!(matches!(s.get_workflow(b, w.id).await, Err(Error::NotFound("workflow"))));
    assert!(matches!(s.update_workflow(b, w.id, Some("x".into()), None).await, Err(Error::NotFound("workflow"))));
    assert!(matches!(
        s.write_version(b, w.id, VersionKind::Saved, json!({}), None).await,
        Err(Error::NotFound("workflow"))
    ));
    assert!(matches!(s.get_workflow_version(b, w.id, 1).await, Err(Error::NotFound("workflow version"))));
    assert!(matches!(s.list_workflow_versions(b, w.id).await, Err(Error::NotFound("workflow"))));
    assert!(matches!(s.enable_workflow(b, w.id, "u1", None).await, Err(Error::NotFound("workflow"))));
    assert!(matches!(s.undeploy_workflow(b, w.id).await, Err(Error::NotFound("workflow"))));
    assert!(matches!(s.delete_workflow(b, w.id).await, Err(Error::NotFound("workflow"))));
    assert!(s.deployed_with_trigger(b, &event("created")).await.unwrap().is_empty());
    assert!(s.list_workflows(b, None).await.unwrap().is_empty());
    assert_eq!(s.get_workflow(a, w.id).await.unwrap().deployed_version, Some(1));
}

pub async fn invalid_workflows(db: Db) {
    let s = &*db.store;
    let p = project(s, "A").await.id;
    assert!(matches!(s.create_workflow(p, new(" ", "slack")).await, Err(Error::Invalid(_))));
    assert!(matches!(s.create_workflow(p, new("W", "")).await, Err(Error::Invalid(_))));
    let mut bad = new("W", "slack");
    bad.definition = json!("not an object");
    assert!(matches!(s.create_workflow(p, bad).await, Err(Error::Invalid(_))));
    let unknown = s.create_workflow(weft_store::ProjectId::new(), new("W", "slack")).await;
    assert!(matches!(unknown, Err(Error::NotFound("project"))), "{unknown:?}");
}
