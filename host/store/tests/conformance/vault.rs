//! The sealed-value bookkeeping of a master-key rotation: the vault's
//! canary, which stored values are sealed at all, and which are not yet
//! under a given key.

use crate::credentials::{integration, new_credential, now, sealed, setup};
use crate::harness::{Db, random_hash};
use time::Duration;
use weft_store::{
    ConnectState, CredentialId, IntegrationId, NewCredential, ProjectId, SealedColumn, SealedValue, Store,
};

pub async fn vault_canary(db: Db) {
    let s = db.store;
    assert_eq!(s.vault_canary().await.expect("canary"), None);
    assert!(!s.holds_sealed_values().await.expect("holds"));
    let canary = sealed(1);
    assert!(s.insert_vault_canary(canary.clone()).await.expect("insert"));
    assert!(!s.insert_vault_canary(sealed(2)).await.expect("insert again"));
    assert_eq!(s.vault_canary().await.expect("canary"), Some(canary), "the first one is kept");
    assert!(!s.holds_sealed_values().await.expect("holds"), "the canary does not count");

    // Every kind of sealed value counts.
    let (p, it) = setup(&*s, "P").await;
    let c = s.insert_credential(p, new_credential(it, "user-1")).await.expect("credential");
    assert!(s.holds_sealed_values().await.expect("holds"));
    s.delete_credential(p, "user-1", c.id).await.expect("delete");
    assert!(!s.holds_sealed_values().await.expect("holds"));
    s.set_client_secret(p, it, Some(sealed(1))).await.expect("client secret");
    assert!(s.holds_sealed_values().await.expect("holds"));
    s.set_client_secret(p, it, None).await.expect("clear");
    s.add_secret_name(p, "TOKEN").await.expect("name");
    assert!(!s.holds_sealed_values().await.expect("holds"), "a name alone is not sealed");
    s.set_secret_value(p, "TOKEN", sealed(1)).await.expect("value");
    assert!(s.holds_sealed_values().await.expect("holds"));
    s.delete_secret_name(p, "TOKEN").await.expect("delete");
    assert!(!s.holds_sealed_values().await.expect("holds"));
    let state = ConnectState {
        state_hash: random_hash(),
        project_id: p,
        integration_id: it,
        user_id: "user-1".into(),
        sealed: sealed(1),
        expires_at: now(),
    };
    s.insert_connect_state(state).await.expect("state");
    assert!(s.holds_sealed_values().await.expect("holds"));
}

/// Every sealed value not under `key`, sorted by column then owner.
pub(crate) async fn not_under(store: &dyn Store, key: u32) -> Vec<SealedValue> {
    let mut all = Vec::new();
    for column in SealedColumn::ALL {
        let found = store.sealed_not_under(column, key, 100).await.expect("sealed_not_under");
        assert!(found.iter().all(|v| v.column == column), "{found:?}");
        all.extend(found);
    }
    all.sort_by(|a, b| (column_rank(a.column), &a.owner_id).cmp(&(column_rank(b.column), &b.owner_id)));
    all
}

fn column_rank(column: SealedColumn) -> usize {
    SealedColumn::ALL.iter().position(|c| *c == column).expect("listed in ALL")
}

pub async fn rotation(db: Db) {
    let s = db.store;
    let (p, it) = setup(&*s, "P").await;
    let it2 = integration(&*s, p, "test-other").await;
    let (q, q_it) = setup(&*s, "Q").await;
    let insert = |project: ProjectId, integration: IntegrationId, key: u32| {
        let s = s.clone();
        async move {
            let new = NewCredential { secrets: sealed(key), ..new_credential(integration, "user-1") };
            s.insert_credential(project, new).await.expect("credential")
        }
    };
    let old_p = insert(p, it, 1).await;
    let _current = insert(p, it2, 2).await;
    let old_q = insert(q, q_it, 1).await;
    let (client_old, client_new) = (sealed(1), sealed(2));
    s.set_client_secret(p, it, Some(client_old.clone())).await.expect("client secret");
    s.set_client_secret(p, it2, Some(client_new)).await.expect("client secret");
    // Key 0x02000000 has the bytes of 2 in little-endian order: the version is big-endian.
    let (value_old, value_swapped) = (sealed(1), sealed(0x0200_0000));
    for (name, value) in
        [("OLD", Some(&value_old)), ("NEW", Some(&sealed(2))), ("SWAPPED", Some(&value_swapped)), ("NONE", None)]
    {
        s.add_secret_name(p, name).await.expect("name");
        if let Some(value) = value {
            s.set_secret_value(p, name, value.clone()).await.expect("value");
        }
    }
    let state = |key: u32| ConnectState {
        state_hash: random_hash(),
        project_id: p,
        integration_id: it,
        user_id: "user-1".into(),
        sealed: sealed(key),
        expires_at: now() + Duration::minutes(10),
    };
    let (state_old, state_new) = (state(1), state(2));
    s.insert_connect_state(state_old.clone()).await.expect("state");
    s.insert_connect_state(state_new.clone()).await.expect("state");
    let canary = sealed(1);
    s.insert_vault_canary(canary.clone()).await.expect("canary");
    let destination = |key: Option<u32>| {
        let s = s.clone();
        async move {
            let config = weft_store::DestinationConfig {
                url: "https://hooks.example/x".into(),
                headers: std::collections::BTreeMap::from([("Authorization".to_owned(), String::new())]),
                sealed_headers: key.map(sealed),
                payload: None,
                events: vec!["workflow_failure".into()],
            };
            s.create_destination(p, config).await.expect("destination")
        }
    };
    let (headers_old, _headers_new, _clear) =
        (destination(Some(1)).await, destination(Some(2)).await, destination(None).await);

    let value = |column, project: Option<ProjectId>, owner: String, bytes: &Vec<u8>| SealedValue {
        column,
        project_id: project,
        owner_id: owner,
        bytes: bytes.clone(),
    };
    let mut credentials = vec![
        value(SealedColumn::CredentialSecrets, Some(p), old_p.id.to_string(), &old_p.secrets),
        value(SealedColumn::CredentialSecrets, Some(q), old_q.id.to_string(), &old_q.secrets),
    ];
    credentials.sort_by(|a, b| a.owner_id.cmp(&b.owner_id));
    let mut expected = credentials;
    expected.push(value(SealedColumn::IntegrationClientSecret, Some(p), it.as_uuid().to_string(), &client_old));
    expected.push(value(SealedColumn::EnvironmentSecretValue, Some(p), "OLD".into(), &value_old));
    expected.push(value(SealedColumn::EnvironmentSecretValue, Some(p), "SWAPPED".into(), &value_swapped));
    expected.push(value(SealedColumn::ConnectState, Some(p), state_old.state_hash.clone(), &state_old.sealed));
    let old_headers = headers_old.sealed_headers.clone().expect("sealed");
    expected.push(value(SealedColumn::DestinationHeaders, Some(p), headers_old.id.to_string(), &old_headers));
    expected.push(value(SealedColumn::VaultCanary, None, String::new(), &canary));
    let found = not_under(&*s, 2).await;
    assert_eq!(found, expected);
    assert_eq!(s.sealed_not_under(SealedColumn::CredentialSecrets, 2, 1).await.expect("limited").len(), 1);

    // A value of one project cannot be replaced through another.
    let mut foreign = found[0].clone();
    foreign.project_id = Some(if foreign.project_id == Some(p) { q } else { p });
    assert!(!s.replace_sealed(&foreign, sealed(2)).await.expect("replace"));

    let mut rewrapped = Vec::new();
    for v in &found {
        let new = sealed(2);
        assert!(s.replace_sealed(v, new.clone()).await.expect("replace"), "{v:?}");
        assert!(!s.replace_sealed(v, sealed(2)).await.expect("replace again"), "stale: {v:?}");
        rewrapped.push(new);
    }
    let left = not_under(&*s, 2).await;
    assert!(left.is_empty(), "everything is under key 2: {left:?}");

    // The new bytes are where the old ones were.
    let cred = |v: &SealedValue| v.owner_id.parse::<CredentialId>().expect("credential id");
    for (v, new) in found.iter().zip(&rewrapped) {
        let stored = match v.column {
            SealedColumn::CredentialSecrets => {
                s.get_credential(v.project_id.expect("project"), cred(v)).await.expect("credential").secrets
            }
            SealedColumn::IntegrationClientSecret => s.client_secret(p, it).await.expect("client secret").expect("set"),
            SealedColumn::EnvironmentSecretValue => s.secret_value(p, &v.owner_id).await.expect("value").expect("set"),
            SealedColumn::ConnectState => {
                s.take_connect_state(p, it, &v.owner_id).await.expect("take").expect("state").sealed
            }
            SealedColumn::VaultCanary => s.vault_canary().await.expect("canary").expect("set"),
            SealedColumn::SubscriptionPersisted => {
                let id = v.owner_id.parse().expect("subscription id");
                s.get_subscription(p, id).await.expect("subscription").persisted.expect("set")
            }
            SealedColumn::DestinationHeaders => {
                let id = v.owner_id.parse().expect("destination id");
                s.get_destination(p, id).await.expect("destination").sealed_headers.expect("set")
            }
        };
        assert_eq!(&stored, new, "{:?} {}", v.column, v.owner_id);
    }
    assert_eq!(
        s.get_credential(p, old_p.id).await.expect("credential").version,
        old_p.version,
        "a re-wrap is no new secret"
    );

    // Everything not under key 3 now is everything sealed.
    let all = not_under(&*s, 3).await;
    let count = |column| all.iter().filter(|v| v.column == column).count();
    assert_eq!(count(SealedColumn::CredentialSecrets), 3);
    assert_eq!(count(SealedColumn::IntegrationClientSecret), 2);
    assert_eq!(count(SealedColumn::EnvironmentSecretValue), 3, "NONE has no value");
    assert_eq!(count(SealedColumn::ConnectState), 1, "the other was taken");
    assert_eq!(count(SealedColumn::VaultCanary), 1);
    assert_eq!(count(SealedColumn::DestinationHeaders), 2, "not the one without sealed headers");
}
