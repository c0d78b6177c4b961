//! Request header hygiene.

/// Connection-level headers (RFC 9110 §7.6.1) that must not be forwarded.
const HOP_BY_HOP: &[&str] = &[
    "connection",
    "keep-alive",
    "proxy-authenticate",
    "proxy-authorization",
    "proxy-connection",
    "te",
    "trailer",
    "transfer-encoding",
    "upgrade",
];

/// Headers a caller may never set: the host owns credentials and routing.
const CALLER_FORBIDDEN: &[&str] = &["authorization", "host", "content-length", "cookie"];

/// True for a hop-by-hop header name (any case).
pub fn is_hop_by_hop(name: &str) -> bool {
    HOP_BY_HOP.iter().any(|h| h.eq_ignore_ascii_case(name))
}

/// True for a header the egress client never forwards from a caller
/// (hop-by-hop, `Authorization`, `Host`, `Content-Length`, `Cookie`).
pub fn is_forbidden_request_header(name: &str) -> bool {
    is_hop_by_hop(name) || CALLER_FORBIDDEN.iter().any(|h| h.eq_ignore_ascii_case(name))
}

/// Removes hop-by-hop headers and the ones a caller may not supply
/// (`Authorization`, `Host`, `Content-Length`, `Cookie`).
pub fn strip_forbidden_request_headers(headers: &mut Vec<(String, String)>) {
    headers.retain(|(name, _)| !is_forbidden_request_header(name));
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn drops_credentials_routing_and_hop_by_hop_in_any_case() {
        let mut h = vec![
            ("AUTHORIZATION".to_owned(), "Bearer stolen".to_owned()),
            ("Host".to_owned(), "evil".to_owned()),
            ("Connection".to_owned(), "close".to_owned()),
            ("Transfer-Encoding".to_owned(), "chunked".to_owned()),
            ("Accept".to_owned(), "application/json".to_owned()),
            ("X-Custom".to_owned(), "1".to_owned()),
        ];
        strip_forbidden_request_headers(&mut h);
        let names: Vec<_> = h.iter().map(|(n, _)| n.as_str()).collect();
        assert_eq!(names, ["Accept", "X-Custom"]);
    }
}
