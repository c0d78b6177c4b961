//! Projects.

use crate::harness::{Db, project};
use weft_store::{Environment, Error, NewIntegration, NewProject, ProjectId, ReleaseGroupId};

pub async fn create_get_list(db: Db) {
    let s = db.store;
    let a = s.create_project(NewProject::new("  Acme  ", Environment::Production)).await.expect("create");
    assert_eq!(a.name, "Acme", "names are trimmed");
    assert_eq!(a.environment, Environment::Production);
    assert_eq!(a.release_group_id, None);
    let b = project(&*s, "Beta").await;
    assert_ne!(a.id, b.id);

    // What create returned is exactly what is stored, timestamps included.
    assert_eq!(s.get_project(a.id).await.expect("get"), a);
    let all = s.list_projects().await.expect("list");
    assert_eq!(all, vec![a, b], "oldest first");
    assert!(matches!(s.get_project(ProjectId::new()).await, Err(Error::NotFound("project"))));
}

pub async fn rename(db: Db) {
    let s = db.store;
    let p = project(&*s, "Old").await;
    let renamed = s.rename_project(p.id, "New").await.expect("rename");
    assert_eq!(renamed.name, "New");
    assert_eq!(renamed.created_at, p.created_at);
    assert_eq!(s.get_project(p.id).await.expect("get").name, "New");
    assert!(matches!(s.rename_project(p.id, " ").await, Err(Error::Invalid(_))));
    assert!(matches!(s.rename_project(ProjectId::new(), "X").await, Err(Error::NotFound(_))));
}

pub async fn delete_cascades(db: Db) {
    let s = db.store;
    let p = project(&*s, "Doomed").await;
    let keep = project(&*s, "Kept").await;
    s.upsert_seen(p.id, "u1").await.expect("user");
    s.upsert_seen(keep.id, "u1").await.expect("user");
    let new = NewIntegration { integration_type: "slack".into(), ..Default::default() };
    s.create_integration(p.id, new.clone()).await.expect("integration");
    s.add_secret_name(p.id, "TOKEN").await.expect("secret");

    s.delete_project(p.id).await.expect("delete");
    assert!(matches!(s.get_project(p.id).await, Err(Error::NotFound(_))));
    assert!(matches!(s.delete_project(p.id).await, Err(Error::NotFound(_))));
    assert!(s.list_integrations(p.id).await.expect("list").is_empty());
    assert!(s.list_secret_names(p.id).await.expect("list").is_empty());
    assert!(matches!(s.get_user(p.id, "u1").await, Err(Error::NotFound(_))));
    // Rows of a missing project cannot be created.
    assert!(matches!(s.create_integration(p.id, new).await, Err(Error::NotFound("project"))));
    assert!(matches!(s.upsert_seen(p.id, "u2").await, Err(Error::NotFound("project"))));
    // The other project is untouched.
    assert_eq!(s.get_user(keep.id, "u1").await.expect("kept user").user_id, "u1");
}

pub async fn release_groups(db: Db) {
    let s = db.store;
    let group = ReleaseGroupId::new();
    let in_group = |env| NewProject { name: format!("Acme {env}"), environment: env, release_group_id: Some(group) };
    for env in [Environment::Development, Environment::Staging, Environment::Production] {
        let p = s.create_project(in_group(env)).await.expect("one per environment");
        assert_eq!(p.release_group_id, Some(group));
    }
    match s.create_project(in_group(Environment::Staging)).await {
        Err(Error::Conflict(m)) => assert!(m.contains("staging"), "{m}"),
        other => panic!("expected a conflict, got {other:?}"),
    }
    // Outside groups, environments repeat freely.
    for _ in 0..2 {
        s.create_project(NewProject::new("Solo", Environment::Staging)).await.expect("ungrouped");
    }
    assert_eq!(s.list_projects().await.expect("list").len(), 5);
}

pub async fn invalid_input(db: Db) {
    let s = db.store;
    for name in ["", "   ", "a\u{0}b"] {
        let res = s.create_project(NewProject::new(name, Environment::Development)).await;
        assert!(matches!(res, Err(Error::Invalid(_))), "{name:?}: {res:?}");
    }
    // Unknown environments cannot even be expressed past deserialization.
    let parsed = serde_json::from_value::<NewProject>(serde_json::json!({"name": "x", "environment": "prod"}));
    assert!(parsed.is_err());
    assert!(s.list_projects().await.expect("list").is_empty());
}
