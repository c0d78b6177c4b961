//! Path segments built from user input.

/// Percent-encodes `segment` for use as one path segment: everything but
/// RFC 3986 unreserved characters (`A–Z a–z 0–9 - . _ ~`) is encoded, so a
/// `/`, `?`, `#` or `..` in user input cannot change which endpoint a
/// request reaches.
///
/// ```no_run
/// use weft_sdk::http::path::segment;
/// # fn f(cx: &weft_sdk::Ctx, calendar_id: &str) -> weft_sdk::Result<()> {
/// // "en.usa#holiday@group.v.calendar.google.com" stays one segment.
/// cx.http().get(format!("/calendars/{}/events", segment(calendar_id))).send()?;
/// # Ok(()) }
/// ```
pub fn segment(segment: &str) -> String {
    let mut out = String::with_capacity(segment.len());
    for b in segment.bytes() {
        if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_' | b'~') {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    // `.` and `..` are unreserved but still mean "here" and "up".
    match out.as_str() {
        "." => "%2E".into(),
        ".." => "%2E%2E".into(),
        _ => out,
    }
}

#[cfg(test)]
mod tests {
    use super::segment;

    #[test]
    fn reserved_characters_and_dot_segments_are_encoded() {
        assert_eq!(segment("v1.2.0-rc_1~x"), "v1.2.0-rc_1~x");
        assert_eq!(
            segment("en.usa#holiday@group.v.calendar.google.com"),
            "en.usa%23holiday%40group.v.calendar.google.com"
        );
        assert_eq!(segment("a/b?c d"), "a%2Fb%3Fc%20d");
        assert_eq!(segment(".."), "%2E%2E");
        assert_eq!(segment("."), "%2E");
        assert_eq!(segment("é"), "%C3%A9");
    }
}
