//! The bodies of Weft's fuzz targets, shared by the coverage-guided runs
//! (`fuzz/fuzz_targets/*`, `cargo xtask fuzz NAME --seconds N`) and by the
//! corpus replay test that every `cargo xtask test` runs
//! (`tests/tests/fuzz_corpus.rs`). Each takes raw bytes, must never panic,
//! and checks an invariant of its own where the code under test gives one.

use std::net::IpAddr;
use std::sync::{Arc, OnceLock};

/// A target's name (of its corpus folder and binary) and body.
pub type Target = (&'static str, fn(&[u8]));

/// Every target.
pub const TARGETS: &[Target] = &[
    ("user_token", user_token),
    ("proxy_target", proxy_target),
    ("egress_policy", egress_policy),
    ("provider_definition", provider_definition),
];

/// The business time tokens are checked at.
const NOW: i64 = 1_800_000_000;

struct Fixed;
impl weft_auth::Clock for Fixed {
    fn now_unix(&self) -> i64 {
        NOW
    }
}

struct TokenWorld {
    private_pem: String,
    keys: weft_auth::ProjectKeys,
    verifier: weft_auth::UserTokenVerifier,
    runtime: tokio::runtime::Runtime,
}

fn token_world() -> &'static TokenWorld {
    static WORLD: OnceLock<TokenWorld> = OnceLock::new();
    WORLD.get_or_init(|| {
        let (private_pem, public_pem) = weft_auth::generate_signing_key().expect("a signing key");
        let key = weft_auth::StaticKey::from_pem(Some("k".into()), &public_pem).expect("its public half");
        let policy = weft_auth::TokenPolicy { cache_entries: 0, ..Default::default() };
        TokenWorld {
            private_pem,
            keys: weft_auth::ProjectKeys::with_static(vec![key]),
            verifier: weft_auth::UserTokenVerifier::with_clock(policy, Arc::new(Fixed)),
            runtime: tokio::runtime::Builder::new_current_thread().build().expect("a runtime"),
        }
    })
}

fn i64_at(data: &[u8], at: usize) -> i64 {
    let mut b = [0u8; 8];
    for (i, slot) in b.iter_mut().enumerate() {
        *slot = data.get(at + i).copied().unwrap_or(0);
    }
    i64::from_le_bytes(b)
}

/// User-token parsing and verification. First byte even: the rest is the
/// token text. Odd: claims built from the bytes (`iat`, `exp` as i64, flags,
/// `sub`) are signed with the project's key, so the claims checks run on
/// extreme values. Whatever is accepted respects the lifetime cap and is
/// not expired.
pub fn user_token(data: &[u8]) {
    let Some((&mode, rest)) = data.split_first() else { return };
    let world = token_world();
    let token = if mode % 2 == 0 {
        String::from_utf8_lossy(rest).into_owned()
    } else {
        let (iat, exp, flags) = (i64_at(rest, 0), i64_at(rest, 8), rest.get(16).copied().unwrap_or(0));
        let sub = String::from_utf8_lossy(rest.get(17..).unwrap_or_default()).into_owned();
        let mut claims = serde_json::json!({ "sub": sub });
        // Near the present most of the time, anywhere at all otherwise.
        let near = |v: i64| if flags & 0x80 == 0 { NOW + (v % 200_000) } else { v };
        if flags & 1 == 0 {
            claims["iat"] = near(iat).into();
        }
        if flags & 2 == 0 {
            claims["exp"] = near(exp).into();
        }
        if flags & 4 != 0 {
            claims["nbf"] = near(iat ^ exp).into();
        }
        if flags & 8 != 0 {
            claims["aud"] = "weft".into();
        }
        let key = jsonwebtoken::EncodingKey::from_rsa_pem(world.private_pem.as_bytes()).expect("the private key");
        let mut header = jsonwebtoken::Header::new(jsonwebtoken::Algorithm::RS256);
        header.kid = Some("k".into());
        let Ok(token) = jsonwebtoken::encode(&header, &claims, &key) else { return };
        token
    };
    let verified = world.runtime.block_on(world.verifier.verify("project", &world.keys, &token));
    if let Ok(claims) = verified {
        let lifetime = i128::from(claims.exp) - i128::from(claims.iat);
        assert!((0..=24 * 3600).contains(&lifetime), "accepted a lifetime of {lifetime} s: {claims:?}");
        assert!(claims.exp > NOW - 60, "accepted an expired token: {claims:?}");
    }
}

fn tasks_provider() -> &'static weft_catalog::Provider {
    static PROVIDER: OnceLock<weft_catalog::Provider> = OnceLock::new();
    PROVIDER.get_or_init(|| {
        let text = "id: tasks\nname: Tasks\nbaseUrl: https://api.tasks.test/v1\n\
                    allowedHosts: [files.tasks.test, '*.cdn.test']\nauth: {type: bearer}\n";
        weft_catalog::load::parse(text, weft_catalog::Format::Yaml, "tasks.yaml").expect("the provider")
    })
}

/// Proxy target resolution from a raw path: whatever resolves is an http(s)
/// URL without credentials, on a permitted host, or on the base URL's
/// origin: under its path for a relative target, anywhere on it for a
/// fully qualified URL (an `https:`/`http:` target, slashes or not).
pub fn proxy_target(data: &[u8]) {
    let rest = String::from_utf8_lossy(data);
    let config = serde_json::Map::new();
    let provider = tasks_provider();
    let absolute = ["https:", "http:"].iter().any(|s| rest.get(..s.len()).is_some_and(|p| p.eq_ignore_ascii_case(s)));
    for base_override in [None, Some("http://127.0.0.1:9/mock")] {
        let endpoint = weft_catalog::Endpoint { provider, base_override, config: &config };
        let Ok(url) = endpoint.resolve(&rest) else { continue };
        assert!(matches!(url.scheme(), "http" | "https"), "{url}");
        assert!(url.username().is_empty() && url.password().is_none(), "{url}");
        let host = url.host_str().unwrap_or_default();
        let (origin, path) = match base_override {
            None => (url.scheme() == "https" && host == "api.tasks.test" && url.port().is_none(), "/v1"),
            Some(_) => (host == "127.0.0.1" && url.port() == Some(9), "/mock"),
        };
        let under = url.path() == path || url.path().starts_with(&format!("{path}/"));
        let permitted = host == "files.tasks.test" || (host.ends_with(".cdn.test") && host != ".cdn.test");
        assert!((origin && (absolute || under)) || permitted, "{rest:?} resolved to {url}");
    }
}

/// What the standard library says about an address, independently of the
/// egress policy's own table.
fn obviously_special(ip: IpAddr) -> bool {
    let ip = ip.to_canonical();
    match ip {
        IpAddr::V4(v4) => {
            v4.is_loopback() || v4.is_private() || v4.is_link_local() || v4.is_unspecified() || v4.is_broadcast()
        }
        IpAddr::V6(v6) => v6.is_loopback() || v6.is_unspecified() || v6.is_unique_local() || v6.is_unicast_link_local(),
    }
}

/// The egress address policy on URL and IP spellings: an address the
/// default policy lets through is never loopback, private, link-local or
/// unspecified (as the standard library classifies it), however the URL
/// wrote it (decimal, octal, hex, IPv4-mapped IPv6...).
pub fn egress_policy(data: &[u8]) {
    let policy = weft_egress::EgressPolicy::default();
    let mut addresses = Vec::new();
    if data.len() >= 4 {
        addresses.push(IpAddr::from([data[0], data[1], data[2], data[3]]));
    }
    if let Ok(bytes) = <[u8; 16]>::try_from(data.get(..16).unwrap_or_default()) {
        addresses.push(IpAddr::from(bytes));
    }
    let text = String::from_utf8_lossy(data);
    for candidate in [format!("http://{text}/"), text.clone().into_owned()] {
        if let Ok(url) = url::Url::parse(&candidate) {
            match url.host() {
                Some(url::Host::Ipv4(v4)) => addresses.push(v4.into()),
                Some(url::Host::Ipv6(v6)) => addresses.push(v6.into()),
                _ => {}
            }
        }
    }
    if let Ok(ip) = text.trim().parse::<IpAddr>() {
        addresses.push(ip);
    }
    for ip in addresses {
        if policy.check(ip, None).is_ok() {
            assert!(!obviously_special(ip), "{ip} passed the default policy");
        }
    }
}

/// The declarative provider-definition loader: never panics, and whatever it
/// accepts survives a round trip through JSON unchanged.
pub fn provider_definition(data: &[u8]) {
    let Some((&mode, rest)) = data.split_first() else { return };
    let text = String::from_utf8_lossy(rest);
    let format = if mode % 2 == 0 { weft_catalog::Format::Yaml } else { weft_catalog::Format::Json };
    let Ok(provider) = weft_catalog::load::parse(&text, format, "fuzz") else { return };
    let json = serde_json::to_string(&provider).expect("a provider serialises");
    let again = weft_catalog::load::parse(&json, weft_catalog::Format::Json, "again").expect("its JSON loads");
    assert_eq!(again, provider);
}
