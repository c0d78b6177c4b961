//! `Link` headers (RFC 8288): the pagination links GitHub, Zendesk,
//! Shopify and others send instead of a cursor in the body.

/// The target of the first link in `header` whose `rel` names `rel`, e.g.
/// the next page of `<https://api.github.com/search/issues?q=x&page=2>;
/// rel="next"`. Relation names compare case-insensitively and a `rel` may
/// list several (`rel="next last"`); `None` when no link has it.
///
/// ```no_run
/// use weft_sdk::http::link;
/// # fn f(answer: &weft_sdk::http::Response) {
/// let next_page = answer.header("link").and_then(|h| link::find(h, "next"));
/// # }
/// ```
pub fn find(header: &str, rel: &str) -> Option<String> {
    let mut rest = header;
    loop {
        let start = rest.find('<')?;
        let end = start + rest[start..].find('>')?;
        let target = &rest[start + 1..end];
        let after = &rest[end + 1..];
        // The parameters run to the next link, which starts with `<`
        // (a `<` cannot appear unquoted in the parameters we read).
        let params_end = after.find('<').unwrap_or(after.len());
        if has_rel(&after[..params_end], rel) {
            return Some(target.trim().to_owned());
        }
        rest = &after[params_end..];
    }
}

fn has_rel(params: &str, wanted: &str) -> bool {
    params.split(';').filter_map(|p| p.split_once('=')).any(|(name, value)| {
        name.trim().eq_ignore_ascii_case("rel")
            && value
                .trim()
                .trim_matches(',')
                .trim()
                .trim_matches('"')
                .split_ascii_whitespace()
                .any(|r| r.eq_ignore_ascii_case(wanted))
    })
}

#[cfg(test)]
mod tests {
    use super::find;

    #[test]
    fn finds_each_relation_of_a_github_header() {
        let h = r#"<https://api.github.com/search/issues?q=bug&page=2>; rel="next", <https://api.github.com/search/issues?q=bug&page=34>; rel="last""#;
        assert_eq!(find(h, "next").as_deref(), Some("https://api.github.com/search/issues?q=bug&page=2"));
        assert_eq!(find(h, "LAST").as_deref(), Some("https://api.github.com/search/issues?q=bug&page=34"));
        assert_eq!(find(h, "prev"), None);
    }

    #[test]
    fn several_relations_and_unquoted_values() {
        assert_eq!(find("<https://a/2>; rel=next", "next").as_deref(), Some("https://a/2"));
        assert_eq!(find(r#"<https://a/9>; title="x"; rel="next last""#, "last").as_deref(), Some("https://a/9"));
        assert_eq!(find("", "next"), None);
        assert_eq!(find("<https://a/2", "next"), None);
    }
}
