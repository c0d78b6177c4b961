//! The syntax of dynamic variables, parsed once into pieces.

use std::fmt;

/// A string with dynamic variables, split into literal text and references.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Template {
    /// The pieces in order; adjacent text is merged.
    pub pieces: Vec<Piece>,
}

/// A piece of a [`Template`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Piece {
    /// Literal text (with `\{{` already unescaped).
    Text(String),
    /// A reference, and the exact `{{…}}` text it was written as.
    Ref(Reference, String),
}

/// What a `{{…}}` names.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum Reference {
    /// `{{<step>.output<path>}}`: a step's (or the trigger's) output.
    Output {
        /// The step id.
        step: String,
        /// Where in the output; empty for all of it.
        path: Vec<Segment>,
    },
    /// `{{settings.<key><path>}}`: a user setting of the workflow or its
    /// integration.
    Setting {
        /// The setting's key.
        key: String,
        /// Where in its value.
        path: Vec<Segment>,
    },
    /// `{{user.userId}}`: the connected user's id.
    UserId,
    /// `{{user.meta<path>}}`: the connected user's metadata.
    UserMeta {
        /// Where in the metadata; empty for all of it.
        path: Vec<Segment>,
    },
    /// `{{secrets.<NAME>}}`: an environment secret.
    Secret {
        /// The secret's name.
        name: String,
    },
    /// `{{self.pageToken}}`: in a paginated request step's request, the
    /// token of the page it asks for (nothing on the first page).
    PageToken,
    /// `{{self.output<path>}}`: in a request step's `pagination`, the page
    /// just fetched.
    Page {
        /// Where in the page's output; empty for all of it.
        path: Vec<Segment>,
    },
}

/// One step of a path into a JSON value.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum Segment {
    /// `.name` or `["name"]`: an object field (or, when all digits, an
    /// array index too).
    Key(String),
    /// `[3]`: an array index.
    Index(usize),
}

/// Why a string is not a valid template: where (a byte offset) and why.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{reason} (at character {})", .offset + 1)]
pub struct TemplateError {
    /// Byte offset of the offending `{{`.
    pub offset: usize,
    /// What is wrong.
    pub reason: String,
}

/// Roots that are not step ids.
pub const RESERVED_ROOTS: [&str; 4] = ["settings", "user", "secrets", "self"];

/// Longest secret name, as the store accepts it.
pub const MAX_SECRET_NAME_LEN: usize = 200;

impl Template {
    /// Splits `text` into text and references. `\{{` stands for a literal
    /// `{{`; a lone `}}` is text.
    pub fn parse(text: &str) -> Result<Self, TemplateError> {
        let mut pieces = Vec::new();
        let mut literal = String::new();
        let mut rest = text;
        let mut offset = 0;
        while let Some(at) = rest.find("{{") {
            if rest[..at].ends_with('\\') {
                literal.push_str(&rest[..at - 1]);
                literal.push_str("{{");
                (rest, offset) = (&rest[at + 2..], offset + at + 2);
                continue;
            }
            literal.push_str(&rest[..at]);
            let start = offset + at;
            let inner = &rest[at + 2..];
            let Some(end) = inner.find("}}") else {
                return Err(TemplateError { offset: start, reason: "`{{` is not closed by `}}`".into() });
            };
            let body = &inner[..end];
            if body.contains("{{") {
                let reason = "a `{{` inside a reference; close the first one with `}}`".into();
                return Err(TemplateError { offset: start, reason });
            }
            let reference = parse_reference(body).map_err(|reason| TemplateError { offset: start, reason })?;
            if !literal.is_empty() {
                pieces.push(Piece::Text(std::mem::take(&mut literal)));
            }
            pieces.push(Piece::Ref(reference, format!("{{{{{body}}}}}")));
            let consumed = at + 2 + end + 2;
            (rest, offset) = (&rest[consumed..], offset + consumed);
        }
        literal.push_str(rest);
        if !literal.is_empty() {
            pieces.push(Piece::Text(literal));
        }
        Ok(Self { pieces })
    }

    /// The one reference the whole string is, if it is exactly one: its
    /// value keeps its JSON type.
    pub fn single(&self) -> Option<&Reference> {
        match self.pieces.as_slice() {
            [Piece::Ref(r, _)] => Some(r),
            _ => None,
        }
    }

    /// The references, in order.
    pub fn references(&self) -> impl Iterator<Item = &Reference> {
        self.pieces.iter().filter_map(|p| match p {
            Piece::Ref(r, _) => Some(r),
            Piece::Text(_) => None,
        })
    }
}

/// Parses what is between `{{` and `}}`.
fn parse_reference(body: &str) -> Result<Reference, String> {
    let body = body.trim();
    if body.is_empty() {
        return Err("an empty `{{}}`; name a step output, a setting, the user or a secret".into());
    }
    let root_end = body.find(['.', '[']).unwrap_or(body.len());
    let (root, rest) = body.split_at(root_end);
    match root {
        "secrets" => {
            let name = rest.strip_prefix('.').unwrap_or_default();
            if !valid_secret_name(name) {
                return Err(format!(
                    "`{body}` is not a secret reference: write `secrets.<NAME>`, the name being 1 to \
                     {MAX_SECRET_NAME_LEN} ASCII letters, digits, '_', '-' or '.'"
                ));
            }
            Ok(Reference::Secret { name: name.into() })
        }
        "settings" => match parse_path(rest)?.split_first() {
            Some((Segment::Key(key), path)) => Ok(Reference::Setting { key: key.clone(), path: path.to_vec() }),
            _ => Err(format!("`{body}` names no setting: write `settings.<key>`")),
        },
        "user" => {
            let path = parse_path(rest)?;
            match path.split_first() {
                Some((Segment::Key(k), [])) if k == "userId" => Ok(Reference::UserId),
                Some((Segment::Key(k), path)) if k == "meta" => Ok(Reference::UserMeta { path: path.to_vec() }),
                _ => Err(format!("`{body}` is not a user reference: write `user.userId` or `user.meta.<key>`")),
            }
        }
        "self" => {
            let path = parse_path(rest)?;
            match path.split_first() {
                Some((Segment::Key(k), [])) if k == "pageToken" => Ok(Reference::PageToken),
                Some((Segment::Key(k), path)) if k == "output" => Ok(Reference::Page { path: path.to_vec() }),
                _ => Err(format!(
                    "`{body}` is not a page reference: write `self.pageToken` (the token a paginated request sends) \
                     or `self.output…` (the page just fetched, in `pagination`)"
                )),
            }
        }
        step => {
            if !valid_step_id(step) {
                return Err(format!("`{step}` is not a step id: 1 to 64 ASCII letters, digits, '_' or '-'"));
            }
            let path = parse_path(rest)?;
            match path.split_first() {
                Some((Segment::Key(k), path)) if k == "output" => {
                    Ok(Reference::Output { step: step.into(), path: path.to_vec() })
                }
                _ => Err(format!("read a step's output as `{step}.output…`")),
            }
        }
    }
}

/// `.a.b[0]["c d"]` into segments. A quoted name may hold any character
/// but `{{` and `}}` (which end the reference first); `\` escapes the next
/// character.
fn parse_path(mut rest: &str) -> Result<Vec<Segment>, String> {
    let mut path = Vec::new();
    while !rest.is_empty() {
        if let Some(after) = rest.strip_prefix('.') {
            let end = after.find(['.', '[']).unwrap_or(after.len());
            let key = &after[..end];
            if key.is_empty() {
                return Err("an empty name in a path (`..`, or a trailing `.`)".into());
            }
            if let Some(bad) = key.chars().find(|c| c.is_whitespace() || matches!(c, ']' | '"' | '\'' | '{' | '}')) {
                return Err(format!("{bad:?} in the name `{key}`; write [\"{key}\"] for such names"));
            }
            path.push(Segment::Key(key.into()));
            rest = &after[end..];
        } else if let Some(after) = rest.strip_prefix('[') {
            let (segment, tail) = bracket(after)?;
            path.push(segment);
            rest = tail;
        } else {
            return Err(format!("expected `.name` or `[…]` at `{rest}`"));
        }
    }
    Ok(path)
}

/// What follows a `[`: an index `3]` or a quoted name `"a b"]`.
fn bracket(after: &str) -> Result<(Segment, &str), String> {
    if let Some(quote) = after.chars().next().filter(|c| matches!(c, '"' | '\'')) {
        let mut name = String::new();
        let mut chars = after[1..].char_indices();
        while let Some((i, c)) = chars.next() {
            match c {
                '\\' => name.push(chars.next().map(|(_, c)| c).ok_or("a `\\` ends the path")?),
                c if c == quote => {
                    let tail = after[1 + i + 1..].strip_prefix(']').ok_or("a quoted name must be followed by `]`")?;
                    return Ok((Segment::Key(name), tail));
                }
                c => name.push(c),
            }
        }
        return Err("a quoted name is not closed".into());
    }
    let end = after.find(']').ok_or("a `[` is not closed by `]`")?;
    let index = after[..end]
        .trim()
        .parse::<usize>()
        .map_err(|_| format!("`[{}]` is not an index; write [0] or [\"name\"]", &after[..end]))?;
    Ok((Segment::Index(index), &after[end + 1..]))
}

/// A step id: 1 to 64 ASCII letters, digits, `_` or `-`, so that it reads
/// unambiguously in `{{<id>.output…}}` and in URLs of the task history.
pub fn valid_step_id(id: &str) -> bool {
    !id.is_empty() && id.len() <= 64 && id.bytes().all(|b| b.is_ascii_alphanumeric() || matches!(b, b'_' | b'-'))
}

/// Secret names as the store declares them.
pub(crate) fn valid_secret_name(name: &str) -> bool {
    !name.is_empty()
        && name.len() <= MAX_SECRET_NAME_LEN
        && name.bytes().all(|b| b.is_ascii_alphanumeric() || matches!(b, b'_' | b'-' | b'.'))
}

impl fmt::Display for Segment {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Key(k) if !k.is_empty() && k.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-') => {
                write!(f, ".{k}")
            }
            Self::Key(k) => write!(f, "[\"{}\"]", k.replace('\\', "\\\\").replace('"', "\\\"")),
            Self::Index(i) => write!(f, "[{i}]"),
        }
    }
}

impl fmt::Display for Reference {
    /// The canonical text, without the braces.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let path = |f: &mut fmt::Formatter<'_>, path: &[Segment]| path.iter().try_for_each(|s| write!(f, "{s}"));
        match self {
            Self::Output { step, path: p } => {
                write!(f, "{step}.output")?;
                path(f, p)
            }
            Self::Setting { key, path: p } => {
                write!(f, "settings{}", Segment::Key(key.clone()))?;
                path(f, p)
            }
            Self::UserId => f.write_str("user.userId"),
            Self::UserMeta { path: p } => {
                f.write_str("user.meta")?;
                path(f, p)
            }
            Self::Secret { name } => write!(f, "secrets.{name}"),
            Self::PageToken => f.write_str("self.pageToken"),
            Self::Page { path: p } => {
                f.write_str("self.output")?;
                path(f, p)
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn one(text: &str) -> Reference {
        Template::parse(text).unwrap().single().cloned().unwrap_or_else(|| panic!("{text} is one reference"))
    }

    fn key(k: &str) -> Segment {
        Segment::Key(k.into())
    }

    #[test]
    fn references_of_every_kind() {
        assert_eq!(
            one("{{lookup.output.response.body.items.0.id}}"),
            Reference::Output {
                step: "lookup".into(),
                path: vec![key("response"), key("body"), key("items"), key("0"), key("id")]
            }
        );
        assert_eq!(
            one("{{ 1.output.items[2][\"first name\"] }}"),
            Reference::Output { step: "1".into(), path: vec![key("items"), Segment::Index(2), key("first name")] }
        );
        assert_eq!(one("{{trigger.output}}"), Reference::Output { step: "trigger".into(), path: vec![] });
        assert_eq!(one("{{settings.channel.id}}"), Reference::Setting { key: "channel".into(), path: vec![key("id")] });
        assert_eq!(one("{{user.userId}}"), Reference::UserId);
        assert_eq!(one("{{user.meta.Email}}"), Reference::UserMeta { path: vec![key("Email")] });
        assert_eq!(one("{{secrets.stripe.key-2}}"), Reference::Secret { name: "stripe.key-2".into() });
        assert_eq!(one("{{self.pageToken}}"), Reference::PageToken);
        assert_eq!(
            one("{{self.output.response.body.items}}"),
            Reference::Page { path: vec![key("response"), key("body"), key("items")] }
        );
    }

    #[test]
    fn text_and_references_interleave() {
        let t = Template::parse("Bearer {{secrets.TOKEN}} for {{user.userId}}!").unwrap();
        assert_eq!(t.pieces.len(), 5);
        assert!(t.single().is_none());
        assert_eq!(t.references().count(), 2);
        assert_eq!(t.pieces[1], Piece::Ref(Reference::Secret { name: "TOKEN".into() }, "{{secrets.TOKEN}}".into()));
        let t = Template::parse(r"literal \{{not a reference}} and }} alone").unwrap();
        assert_eq!(t.pieces, [Piece::Text("literal {{not a reference}} and }} alone".into())]);
    }

    #[test]
    fn mistakes_say_what_is_wrong_and_where() {
        let cases = [
            ("abc {{a.output", 4, "not closed"),
            ("{{}}", 0, "empty"),
            ("x{{a.result}}", 1, "a.output"),
            ("{{settings}}", 0, "settings.<key>"),
            ("{{user.email}}", 0, "user.meta"),
            ("{{secrets.has space}}", 0, "secrets.<NAME>"),
            ("{{secrets}}", 0, "secrets.<NAME>"),
            ("{{a.output.items[x]}}", 0, "not an index"),
            ("{{a.output.first name}}", 0, "[\"first name\"]"),
            ("{{a.output..x}}", 0, "empty name"),
            ("{{a.output {{b.output}}", 0, "inside a reference"),
            ("{{self}}", 0, "self.pageToken"),
            ("{{self.pageToken.x}}", 0, "not a page reference"),
            ("{{self.token}}", 0, "not a page reference"),
            ("{{a/b.output}}", 0, "not a step id"),
            ("{{a.output[\"x]}}", 0, "not closed"),
        ];
        for (text, offset, reason) in cases {
            let e = Template::parse(text).unwrap_err();
            assert_eq!(e.offset, offset, "{text}: {e}");
            assert!(e.reason.contains(reason), "{text}: {e}");
        }
    }

    #[test]
    fn references_print_canonically() {
        for text in [
            "a.output.x[0][\"b c\"]",
            "settings.k.v",
            "user.meta.Email",
            "secrets.API_KEY",
            "user.userId",
            "self.pageToken",
            "self.output.response.body[\"next page\"]",
        ] {
            assert_eq!(one(&format!("{{{{{text}}}}}")).to_string(), text);
        }
    }

    fn segment() -> impl Strategy<Value = Segment> {
        prop_oneof![
            "[A-Za-z0-9_-]{1,8}".prop_map(Segment::Key),
            "[^{}]{0,8}".prop_map(Segment::Key),
            (0usize..1000).prop_map(Segment::Index),
        ]
    }

    proptest! {
        #[test]
        fn parsing_never_panics(text in ".{0,64}") {
            let _ = Template::parse(&text);
        }

        #[test]
        fn printed_references_parse_back(step in "[A-Za-z0-9_-]{1,12}", path in prop::collection::vec(segment(), 0..5)) {
            prop_assume!(!RESERVED_ROOTS.contains(&step.as_str()));
            let reference = Reference::Output { step, path };
            let text = format!("{{{{{reference}}}}}");
            prop_assert_eq!(one(&text), reference);
        }

        #[test]
        fn text_without_braces_is_one_piece(text in "[^{\\\\]{1,64}") {
            prop_assert_eq!(Template::parse(&text).unwrap().pieces, vec![Piece::Text(text.clone())]);
        }
    }
}
