//! C4-61 and C4-62 on real addresses: each test runs in a network
//! namespace of its own (a thread that `unshare`s its network), whose
//! loopback device also holds 10.66.0.1 (an internal API) and 169.254.169.254
//! (a fake cloud metadata service). Nothing outside the namespace changes.
//! Where namespaces cannot be created (no CAP_SYS_ADMIN, no `ip`), the test
//! says so on stderr and passes without checking: it is skipped visibly,
//! never silently.

use super::fixture::ProxyFixture;
use crate::connect::Fixture;
use crate::support::*;
use reqwest::Method;
use serde_json::json;
use std::future::Future;
use std::net::Ipv4Addr;
use std::sync::Arc;
use weft_egress::{Egress, EgressClient, EgressConfig, EgressError, EgressPolicy, Lookup, OutboundRequest};
use weft_tests::mock_api::MockApi;

const INTERNAL: Ipv4Addr = Ipv4Addr::new(10, 66, 0, 1);
const METADATA: Ipv4Addr = Ipv4Addr::new(169, 254, 169, 254);

/// Runs `test` on a thread inside a new network namespace, on a
/// single-threaded runtime (so every socket is created in the namespace).
/// `None` when namespaces are unavailable here.
fn in_netns<F, Fut>(name: &str, test: F) -> Option<()>
where
    F: FnOnce() -> Fut + Send + 'static,
    Fut: Future<Output = ()>,
{
    let name = name.to_owned();
    let outcome = std::thread::spawn(move || {
        // SAFETY: unshare only changes this thread's network namespace.
        if unsafe { libc::unshare(libc::CLONE_NEWNET) } != 0 {
            return Err(format!("unshare(CLONE_NEWNET): {}", std::io::Error::last_os_error()));
        }
        let ip = |args: &[&str]| -> Result<(), String> {
            let out = std::process::Command::new("ip").args(args).output().map_err(|e| format!("ip: {e}"))?;
            if out.status.success() { Ok(()) } else { Err(String::from_utf8_lossy(&out.stderr).into_owned()) }
        };
        // The namespace's own loopback device carries the extra addresses:
        // it needs no kernel module (a dummy or veth device might).
        ip(&["link", "set", "lo", "up"])?;
        ip(&["addr", "add", "10.66.0.1/24", "dev", "lo"])?;
        ip(&["addr", "add", "169.254.169.254/32", "dev", "lo"])?;
        let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().map_err(|e| e.to_string())?;
        rt.block_on(test());
        Ok(())
    })
    .join();
    match outcome {
        Ok(Ok(())) => Some(()),
        Ok(Err(why)) => {
            eprintln!("SKIPPED {name}: network namespaces are not available here ({why})");
            None
        }
        Err(panic) => std::panic::resume_unwind(panic),
    }
}

fn client(policy: EgressPolicy, lookup: Option<Arc<dyn Lookup>>) -> EgressClient {
    EgressClient::new(EgressConfig { policy, lookup, ..Default::default() }).unwrap()
}

async fn get(client: &EgressClient, url: &str) -> Result<u16, EgressError> {
    client.send(OutboundRequest::get(url.parse().unwrap())).await.map(|r| r.status)
}

fn cidrs(list: &[&str]) -> Vec<weft_egress::policy::IpNet> {
    list.iter().map(|c| c.parse().unwrap()).collect()
}

/// Names the tests resolve, without touching `/etc/hosts`.
struct Names;
impl Lookup for Names {
    fn lookup(
        &self,
        host: &str,
    ) -> std::pin::Pin<Box<dyn Future<Output = std::io::Result<Vec<std::net::IpAddr>>> + Send + '_>> {
        let known = matches!(host, "internal.test" | "other.test");
        Box::pin(async move { Ok(if known { vec![INTERNAL.into()] } else { Vec::new() }) })
    }
}

/// C4-61: the fake metadata service is refused by every egress path,
/// also when the operator allows all of 10.0.0.0/8 or link-local; only an
/// exact entry opens it (which proves the service was reachable).
#[test]
fn the_metadata_service_is_never_reached() {
    in_netns("C4-61 metadata", || async {
        let imds = MockApi::start_on(METADATA).await;
        let url = imds.url_of("/api/json");
        for allow in [vec![], cidrs(&["10.0.0.0/8"]), cidrs(&["169.254.0.0/16", "0.0.0.0/0"])] {
            let c = client(EgressPolicy { allow_cidrs: allow.clone(), ..Default::default() }, None);
            assert!(matches!(get(&c, &url).await, Err(EgressError::Denied(_))), "{allow:?}");
        }
        // Through the application, with 10.0.0.0/8 allowed: the proxy (the
        // integration's base URL), a plugin's HTTP during the connection
        // test, a JWKS URL, and an OAuth token URL.
        let wide = |s: &mut weft_server::config::Settings| s.egress.allow_cidrs = vec!["10.0.0.0/8".into()];
        let f = ProxyFixture::with(wide).await;
        f.connect("u1", "key-imds").await;
        f.set_base(&f.integration, &imds.api_base()).await;
        let (status, body) = f.get("u1", "test-proxy/echo").await;
        assert_eq!((status, body["code"].as_str()), (403, Some("EGRESS_DENIED")), "{body}");
        f.add_integration("test-apikey", &imds.api_base()).await;
        let path = format!("/projects/{}/sdk/connect/test-apikey/credentials", f.project);
        let (status, body) =
            f.app.call(Method::POST, &path, Some(&f.token("u1")), Some(json!({"fields": {"api_key": "k"}}))).await;
        assert!(status >= 400, "a connection test against the metadata service passed: {body}");
        let store = f.app.store.clone();
        let project: weft_store::ProjectId = f.project.parse().unwrap();
        let jwks = weft_store::SigningKeyMaterial::Jwks { url: imds.url_of("/jwks.json") };
        store.add_signing_key(project, weft_store::NewSigningKey::new(Some("j".into()), jwks)).await.unwrap();
        let (private_pem, _) = weft_auth::generate_signing_key().unwrap();
        let foreign = weft_auth::mint_user_token(&private_pem, Some("j"), "u9", now_unix(), 600).unwrap();
        let (status, _) =
            f.app.call(Method::GET, &format!("/projects/{}/sdk/me", f.project), Some(&foreign), None).await;
        assert!(status == 401 || status == 503, "{status}");

        let oauth = Fixture::new("test_oauth", json!({ "tokenUrl": imds.url_of("/token") }), wide, false).await;
        let location = oauth.mock.approve(&oauth.start("u1", json!({})).await).await;
        let (status, _) = oauth.deliver(&location).await;
        assert!(status >= 400, "the token exchange with the metadata service succeeded");

        assert_eq!(imds.count(), 0, "the metadata service was reached");
        let exact = client(EgressPolicy { allow_cidrs: cidrs(&["169.254.169.254/32"]), ..Default::default() }, None);
        assert_eq!(get(&exact, &url).await, Ok(200), "the fake service answers when exactly allowed");
    });
}

/// C4-62: an internal API on 10.66.0.1 is refused by default, reachable
/// with `egress.allow_cidrs`, and by a hostname rule only for that name.
#[test]
fn an_internal_api_needs_the_operators_allow_list() {
    in_netns("C4-62 allow-list", || async {
        let internal = MockApi::start_on(INTERNAL).await;
        let port = internal.addr.port();
        let url = internal.url_of("/api/json");
        assert!(matches!(get(&client(EgressPolicy::default(), None), &url).await, Err(EgressError::Denied(_))));
        assert_eq!(internal.count(), 0);
        let allowed = client(EgressPolicy { allow_cidrs: cidrs(&["10.66.0.0/24"]), ..Default::default() }, None);
        assert_eq!(get(&allowed, &url).await, Ok(200));
        let by_name = client(
            EgressPolicy { allow_hosts: vec!["internal.test".into()], ..Default::default() },
            Some(Arc::new(Names)),
        );
        assert_eq!(get(&by_name, &format!("http://internal.test:{port}/api/json")).await, Ok(200));
        assert!(matches!(
            get(&by_name, &format!("http://other.test:{port}/api/json")).await,
            Err(EgressError::Denied(_))
        ));
        assert!(matches!(get(&by_name, &url).await, Err(EgressError::Denied(_))), "the literal is not the name");
        assert_eq!(internal.count(), 2);

        // Through the proxy: refused by default, served once allowed.
        let f = ProxyFixture::new().await;
        f.connect("u1", "key-internal").await;
        f.set_base(&f.integration, &internal.api_base()).await;
        let (status, body) = f.get("u1", "test-proxy/json").await;
        assert_eq!((status, body["code"].as_str()), (403, Some("EGRESS_DENIED")), "{body}");
        assert_eq!(internal.count(), 2);
        let open = ProxyFixture::with(|s| s.egress.allow_cidrs = vec!["10.66.0.0/24".into()]).await;
        open.connect("u1", "key-internal").await;
        open.set_base(&open.integration, &internal.api_base()).await;
        let (status, body) = open.get("u1", "test-proxy/json").await;
        assert_eq!((status, body), (200, json!({"output": {"ok": true}})));
    });
}
