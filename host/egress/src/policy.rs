//! Which addresses outbound requests may reach (issue 5's network policy).
//!
//! By default every special-purpose address is refused: loopback, private,
//! shared (CGNAT), link-local, unspecified, multicast, broadcast,
//! documentation and reserved ranges, and the cloud metadata addresses.
//! IPv6 forms that carry an IPv4 address (mapped `::ffff:a.b.c.d`,
//! compatible `::a.b.c.d`, NAT64 `64:ff9b::/96`, 6to4 `2002::/16`) are
//! judged by the IPv4 address inside, so no spelling slips through. The
//! operator relaxes the policy with `allow_loopback`, `allow_cidrs` and
//! `allow_hosts`; metadata addresses open only to an exact host entry.
//!
//! This module decides; the client applies it to IP literals before
//! connecting and, through its resolver, to every resolved address.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

pub use ipnet::IpNet;

/// Cloud instance-metadata endpoints (AWS/GCP/Azure, AWS IPv6, Alibaba).
const METADATA: [IpAddr; 3] = [
    IpAddr::V4(Ipv4Addr::new(169, 254, 169, 254)),
    IpAddr::V6(Ipv6Addr::new(0xfd00, 0xec2, 0, 0, 0, 0, 0, 0x254)),
    IpAddr::V4(Ipv4Addr::new(100, 100, 100, 200)),
];

/// The operator's relaxations of the default policy.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct EgressPolicy {
    /// Allow loopback destinations (tests and local development).
    pub allow_loopback: bool,
    /// Networks allowed although special-purpose (e.g. an internal API).
    pub allow_cidrs: Vec<IpNet>,
    /// Host names (exact, or `*.suffix`) whose resolved addresses may be
    /// special-purpose (never metadata).
    pub allow_hosts: Vec<String>,
}

/// Why a destination was refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Refused {
    /// The kind of address (`loopback`, `private`, `cloud metadata`, ...).
    pub kind: &'static str,
}

impl std::fmt::Display for Refused {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{} addresses are not allowed as destinations", self.kind)
    }
}

impl EgressPolicy {
    /// Checks one address, reached for `host` (the URL's host name, when it
    /// had one). Ok means the connection may go to exactly this address.
    pub fn check(&self, ip: IpAddr, host: Option<&str>) -> Result<(), Refused> {
        let ip = canonical(ip);
        let Some(kind) = special_purpose(ip) else { return Ok(()) };
        let exact = |net: &IpNet| net.contains(&ip) && net.prefix_len() == net.max_prefix_len();
        if kind == "cloud metadata" {
            return if self.allow_cidrs.iter().any(exact) { Ok(()) } else { Err(Refused { kind }) };
        }
        let allowed = (kind == "loopback" && self.allow_loopback)
            || self.allow_cidrs.iter().any(|net| net.contains(&ip))
            || host.is_some_and(|h| self.allow_hosts.iter().any(|p| host_matches(p, h)));
        if allowed { Ok(()) } else { Err(Refused { kind }) }
    }
}

/// `pattern` (exact or `*.suffix`, case-insensitive) matches `host`.
fn host_matches(pattern: &str, host: &str) -> bool {
    let (pattern, host) = (pattern.to_ascii_lowercase(), host.trim_end_matches('.').to_ascii_lowercase());
    match pattern.strip_prefix("*.") {
        Some(suffix) => host.len() > suffix.len() + 1 && host.ends_with(&format!(".{suffix}")),
        None => pattern == host,
    }
}

/// The address a connection really reaches: IPv4 carried in IPv6 forms is
/// taken out (mapped, compatible, NAT64, 6to4).
pub fn canonical(ip: IpAddr) -> IpAddr {
    let IpAddr::V6(v6) = ip else { return ip };
    let s = v6.segments();
    let o = v6.octets();
    let v4 = |a: u8, b: u8, c: u8, d: u8| IpAddr::V4(Ipv4Addr::new(a, b, c, d));
    if let Some(mapped) = v6.to_ipv4_mapped() {
        return IpAddr::V4(mapped);
    }
    match s {
        // IPv4-compatible (deprecated), not :: or ::1 themselves.
        [0, 0, 0, 0, 0, 0, _, _] if !v6.is_unspecified() && !v6.is_loopback() => v4(o[12], o[13], o[14], o[15]),
        // NAT64 well-known prefix 64:ff9b::/96 and local-use 64:ff9b:1::/48.
        [0x64, 0xff9b, 0, 0, 0, 0, _, _] | [0x64, 0xff9b, 1, ..] => v4(o[12], o[13], o[14], o[15]),
        // 6to4: 2002:AABB:CCDD::/48 embeds AA.BB.CC.DD.
        [0x2002, ..] => v4(o[2], o[3], o[4], o[5]),
        _ => ip,
    }
}

/// The special-purpose kind of a canonical address, if any.
pub fn special_purpose(ip: IpAddr) -> Option<&'static str> {
    if METADATA.contains(&ip) {
        return Some("cloud metadata");
    }
    match ip {
        IpAddr::V4(v4) => special_v4(v4),
        IpAddr::V6(v6) => special_v6(v6),
    }
}

fn special_v4(ip: Ipv4Addr) -> Option<&'static str> {
    let [a, b, c, _] = ip.octets();
    Some(match (a, b, c) {
        (127, ..) => "loopback",
        (0, ..) => "unspecified",
        (10, ..) | (172, 16..=31, _) | (192, 168, _) => "private",
        (100, 64..=127, _) => "shared (CGNAT)",
        (169, 254, _) => "link-local",
        (192, 0, 0) | (192, 88, 99) => "protocol-assignment",
        (192, 0, 2) | (198, 51, 100) | (203, 0, 113) => "documentation",
        (198, 18..=19, _) => "benchmarking",
        (224..=239, ..) => "multicast",
        (240..=255, ..) => "reserved",
        _ => return None,
    })
}

fn special_v6(ip: Ipv6Addr) -> Option<&'static str> {
    let s = ip.segments();
    Some(match s {
        _ if ip.is_loopback() => "loopback",
        _ if ip.is_unspecified() => "unspecified",
        [0x100, 0, 0, 0, ..] => "discard",
        [0x2001, 0xdb8, ..] => "documentation",
        // Teredo and the other IETF protocol assignments of 2001::/23.
        [0x2001, 0..=0x1ff, ..] => "protocol-assignment",
        [x, ..] if x & 0xfe00 == 0xfc00 => "private (unique local)",
        [x, ..] if x & 0xffc0 == 0xfe80 => "link-local",
        [x, ..] if x & 0xffc0 == 0xfec0 => "site-local",
        [x, ..] if x & 0xff00 == 0xff00 => "multicast",
        _ => return None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ip(s: &str) -> IpAddr {
        s.parse().unwrap()
    }

    /// C4-57: every spelling of a forbidden address is refused. URL hosts
    /// like `127.1`, `2130706433`, `0x7f000001` and `0177.0.0.1` are
    /// normalised to 127.0.0.1 by the URL parser before they get here.
    #[test]
    fn special_addresses_in_every_spelling_are_refused() {
        let policy = EgressPolicy::default();
        for host in ["127.1", "2130706433", "0x7f000001", "0177.0.0.1", "127.0.0.1"] {
            let url: url::Url = format!("http://{host}/").parse().unwrap();
            let Some(url::Host::Ipv4(v4)) = url.host() else { panic!("{host} is not an IP literal") };
            assert_eq!(v4, Ipv4Addr::LOCALHOST, "{host}");
        }
        let refused = [
            ("127.0.0.1", "loopback"),
            ("0.0.0.0", "unspecified"),
            ("::", "unspecified"),
            ("::1", "loopback"),
            ("::ffff:127.0.0.1", "loopback"),
            ("::ffff:7f00:1", "loopback"),
            ("64:ff9b::7f00:1", "loopback"),
            ("::127.0.0.1", "loopback"),
            ("::2", "unspecified"),
            ("2002:7f00:1::", "loopback"),
            ("fe80::1", "link-local"),
            ("10.66.0.1", "private"),
            ("172.16.0.1", "private"),
            ("192.168.1.1", "private"),
            ("100.64.0.1", "shared (CGNAT)"),
            ("169.254.169.254", "cloud metadata"),
            ("::ffff:169.254.169.254", "cloud metadata"),
            ("fd00:ec2::254", "cloud metadata"),
            ("fc00::1", "private (unique local)"),
            ("224.0.0.1", "multicast"),
            ("255.255.255.255", "reserved"),
            ("2001::1", "protocol-assignment"),
        ];
        for (addr, kind) in refused {
            assert_eq!(policy.check(ip(addr), None), Err(Refused { kind }), "{addr}");
        }
        for public in ["93.184.216.34", "2606:2800:220:1:248:1893:25c8:1946", "8.8.8.8", "172.32.0.1"] {
            assert_eq!(policy.check(ip(public), None), Ok(()), "{public}");
        }
    }

    /// C4-61/62: the operator's allow-lists relax exactly what they name;
    /// metadata stays closed to broad networks.
    #[test]
    fn allow_lists_open_only_what_they_name() {
        let policy = EgressPolicy {
            allow_loopback: true,
            allow_cidrs: vec!["10.66.0.0/24".parse().unwrap(), "169.254.0.0/16".parse().unwrap()],
            allow_hosts: vec!["internal.test".into(), "*.corp.test".into()],
        };
        assert_eq!(policy.check(ip("127.0.0.2"), None), Ok(()));
        assert_eq!(policy.check(ip("::ffff:127.0.0.1"), None), Ok(()));
        assert_eq!(policy.check(ip("10.66.0.9"), None), Ok(()));
        assert!(policy.check(ip("10.67.0.1"), None).is_err());
        assert_eq!(policy.check(ip("169.254.169.254"), None), Err(Refused { kind: "cloud metadata" }));
        assert_eq!(policy.check(ip("192.168.0.5"), Some("internal.test")), Ok(()));
        assert_eq!(policy.check(ip("192.168.0.5"), Some("API.Corp.Test.")), Ok(()));
        assert!(policy.check(ip("192.168.0.5"), Some("corp.test")).is_err());
        assert!(policy.check(ip("192.168.0.5"), Some("evil.test")).is_err());
        assert!(policy.check(ip("169.254.169.254"), Some("internal.test")).is_err(), "never metadata by name");
        let exact = EgressPolicy { allow_cidrs: vec!["169.254.169.254/32".parse().unwrap()], ..Default::default() };
        assert_eq!(exact.check(ip("169.254.169.254"), None), Ok(()), "only an exact entry opens metadata");
        assert!(EgressPolicy::default().check(ip("127.0.0.1"), None).is_err(), "loopback is closed by default");
    }
}
