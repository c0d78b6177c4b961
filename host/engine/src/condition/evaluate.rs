//! What each operator means on resolved values. The reference states the
//! type each operator works on, not what happens with other values; the
//! choices here are:
//!
//! - every value reads as text (see [`Operand::text`]), so string
//!   operators never refuse an operand;
//! - a value that does not read as a number or an instant makes the rule
//!   false, the negated operators (`numberDoesNotEqual`) included: a rule
//!   on a missing number should not pass by accident;
//! - `null` and missing values count as empty arrays, since an API that
//!   found nothing often leaves the list out.

use serde_json::Value;
use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;

use super::Operator;

/// A resolved operand: `None` when its reference named nothing.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Operand<'v>(pub Option<&'v Value>);

impl Operand<'_> {
    /// As text: strings as they are, numbers and booleans as JSON writes
    /// them, objects and arrays as compact JSON, `null` and missing as "".
    pub fn text(&self) -> String {
        match self.0 {
            None | Some(Value::Null) => String::new(),
            Some(Value::String(s)) => s.clone(),
            Some(other) => other.to_string(),
        }
    }

    /// As a number: a JSON number or a text holding one (surrounding
    /// spaces allowed). Integers compare exactly, the rest as `f64`.
    fn number(&self) -> Option<Number> {
        match self.0? {
            Value::Number(n) => {
                n.as_i64().map(|i| Number::Int(i128::from(i))).or_else(|| n.as_f64().map(Number::Float))
            }
            Value::String(s) => {
                let s = s.trim();
                s.parse::<i128>().map(Number::Int).ok().or_else(|| s.parse::<f64>().ok().map(Number::Float))
            }
            _ => None,
        }
        .filter(|n| !matches!(n, Number::Float(f) if !f.is_finite()))
    }

    /// As an instant (see [`parse_instant`]); a number is milliseconds
    /// since the Unix epoch, as JavaScript dates count.
    fn instant(&self) -> Option<OffsetDateTime> {
        match self.0? {
            Value::String(s) => parse_instant(s),
            Value::Number(n) => {
                let nanos = n.as_f64()? * 1_000_000.0;
                OffsetDateTime::from_unix_timestamp_nanos(nanos as i128).ok()
            }
            _ => None,
        }
    }

    fn boolean(&self) -> Option<bool> {
        match self.0? {
            Value::Bool(b) => Some(*b),
            Value::String(s) if s.trim().eq_ignore_ascii_case("true") => Some(true),
            Value::String(s) if s.trim().eq_ignore_ascii_case("false") => Some(false),
            _ => None,
        }
    }
}

#[derive(Debug, Clone, Copy)]
enum Number {
    Int(i128),
    Float(f64),
}

impl Number {
    fn compare(self, other: Self) -> Option<std::cmp::Ordering> {
        match (self, other) {
            (Self::Int(a), Self::Int(b)) => Some(a.cmp(&b)),
            (a, b) => a.float().partial_cmp(&b.float()),
        }
    }

    fn float(self) -> f64 {
        match self {
            Self::Int(i) => i as f64,
            Self::Float(f) => f,
        }
    }
}

/// An instant written as RFC 3339 (`2024-05-01T09:30:00+02:00`), the same
/// without an offset (read as UTC; `T` or a space between date and time),
/// or a date alone (`2024-05-01`, midnight UTC).
pub fn parse_instant(text: &str) -> Option<OffsetDateTime> {
    let text = text.trim();
    if let Ok(at) = OffsetDateTime::parse(text, &Rfc3339) {
        return Some(at);
    }
    let with_t = match text.as_bytes().get(10) {
        Some(b' ') => format!("{}T{}", &text[..10], &text[11..]),
        _ => text.to_owned(),
    };
    if let Ok(at) = OffsetDateTime::parse(&format!("{with_t}Z"), &Rfc3339) {
        return Some(at);
    }
    let mut parts = text.splitn(3, '-');
    let (year, month, day) = (parts.next()?, parts.next()?, parts.next()?);
    if year.len() != 4 || month.len() != 2 || day.len() != 2 {
        return None;
    }
    let month = time::Month::try_from(month.parse::<u8>().ok()?).ok()?;
    let date = time::Date::from_calendar_date(year.parse().ok()?, month, day.parse().ok()?).ok()?;
    Some(date.midnight().assume_utc())
}

/// Whether `left <op> right` holds.
pub(super) fn holds(op: Operator, left: Option<&Value>, right: Option<&Value>) -> bool {
    use Operator::*;
    let (l, r) = (Operand(left), Operand(right));
    match op {
        StringContains => l.text().contains(&r.text()),
        StringDoesNotContain => !l.text().contains(&r.text()),
        StringExactlyMatches => l.text() == r.text(),
        StringDoesNotExactlyMatch => l.text() != r.text(),
        StringIsIn => is_in(&l, right),
        StringIsNotIn => !is_in(&l, right),
        StringStartsWith => l.text().starts_with(&r.text()),
        StringDoesNotStartWith => !l.text().starts_with(&r.text()),
        StringEndsWith => l.text().ends_with(&r.text()),
        StringDoesNotEndWith => !l.text().ends_with(&r.text()),
        NumberGreaterThan => numbers(&l, &r).is_some_and(|o| o.is_gt()),
        NumberLessThan => numbers(&l, &r).is_some_and(|o| o.is_lt()),
        NumberEquals => numbers(&l, &r).is_some_and(|o| o.is_eq()),
        NumberDoesNotEqual => numbers(&l, &r).is_some_and(|o| o.is_ne()),
        DateTimeAfter => instants(&l, &r).is_some_and(|(a, b)| a > b),
        DateTimeBefore => instants(&l, &r).is_some_and(|(a, b)| a < b),
        DateTimeEquals => instants(&l, &r).is_some_and(|(a, b)| a == b),
        IsTrue => l.boolean() == Some(true),
        IsFalse => l.boolean() == Some(false),
        IsNull => matches!(left, None | Some(Value::Null)),
        IsNotNull => !matches!(left, None | Some(Value::Null)),
        Exists => left.is_some(),
        DoesNotExist => left.is_none(),
        ArrayIsEmpty => match left {
            None | Some(Value::Null) => true,
            Some(Value::Array(a)) => a.is_empty(),
            Some(_) => false,
        },
        ArrayIsNotEmpty => matches!(left, Some(Value::Array(a)) if !a.is_empty()),
    }
}

fn numbers(l: &Operand<'_>, r: &Operand<'_>) -> Option<std::cmp::Ordering> {
    l.number()?.compare(r.number()?)
}

fn instants(l: &Operand<'_>, r: &Operand<'_>) -> Option<(OffsetDateTime, OffsetDateTime)> {
    Some((l.instant()?, r.instant()?))
}

/// `left` is an item of `right`: an array's items compared as text, or a
/// text's comma-separated items, trimmed.
fn is_in(left: &Operand<'_>, right: Option<&Value>) -> bool {
    let needle = left.text();
    match right {
        Some(Value::Array(items)) => items.iter().any(|i| Operand(Some(i)).text() == needle),
        Some(Value::String(list)) => list.split(',').any(|i| i.trim() == needle),
        other => Operand(other).text() == needle,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use Operator::*;
    use proptest::prelude::*;
    use serde_json::json;

    fn check(op: Operator, left: Value, right: Value) -> bool {
        holds(op, Some(&left), Some(&right))
    }

    #[test]
    fn string_operators() {
        assert!(check(StringContains, json!("hello world"), json!("o w")));
        assert!(check(StringContains, json!(["a", "b", "c"]), json!("\"c\"")));
        assert!(check(StringDoesNotContain, json!("hello"), json!("x")));
        assert!(check(StringExactlyMatches, json!(42), json!("42")));
        assert!(!check(StringExactlyMatches, json!("Ada"), json!("ada")));
        assert!(check(StringDoesNotExactlyMatch, json!("Ada"), json!("ada")));
        assert!(check(StringIsIn, json!("b"), json!(["a", "b"])));
        assert!(check(StringIsIn, json!(2), json!([1, 2])));
        assert!(check(StringIsIn, json!("b"), json!("a, b ,c")));
        assert!(!check(StringIsIn, json!("ab"), json!("a, b")));
        assert!(check(StringIsNotIn, json!("d"), json!(["a", "b"])));
        assert!(check(StringStartsWith, json!("https://x"), json!("https:")));
        assert!(check(StringDoesNotStartWith, json!("http://x"), json!("https:")));
        assert!(check(StringEndsWith, json!("a@b.test"), json!(".test")));
        assert!(check(StringDoesNotEndWith, json!("a@b.test"), json!(".com")));
        assert!(holds(StringContains, None, Some(&json!(""))));
        assert!(holds(StringDoesNotContain, None, Some(&json!("x"))));
    }

    #[test]
    fn number_operators() {
        assert!(check(NumberGreaterThan, json!(3), json!(2.5)));
        assert!(check(NumberGreaterThan, json!(" 10 "), json!("9")));
        assert!(check(NumberLessThan, json!(-1), json!(0)));
        assert!(check(NumberEquals, json!(200), json!("200")));
        assert!(check(NumberEquals, json!(1.0), json!(1)));
        assert!(check(NumberDoesNotEqual, json!(404), json!(200)));
        assert!(!check(NumberEquals, json!(9007199254740993_i64), json!(9007199254740992_i64)));
        for op in [NumberGreaterThan, NumberLessThan, NumberEquals, NumberDoesNotEqual] {
            assert!(!check(op, json!("ten"), json!(10)), "{op:?}");
            assert!(!holds(op, None, Some(&json!(1))), "{op:?}");
            assert!(!check(op, json!(1), json!(null)), "{op:?}");
        }
    }

    #[test]
    fn date_operators() {
        assert!(check(DateTimeAfter, json!("2024-05-02"), json!("2024-05-01T23:59:59Z")));
        assert!(check(DateTimeBefore, json!("2024-05-01T09:00:00+02:00"), json!("2024-05-01T08:00:00Z")));
        assert!(check(DateTimeEquals, json!("2024-05-01T07:00:00Z"), json!("2024-05-01T09:00:00+02:00")));
        assert!(check(DateTimeEquals, json!("2024-05-01 00:00:00"), json!("2024-05-01")));
        assert!(check(DateTimeEquals, json!(1714521600000_i64), json!("2024-05-01")));
        assert!(!check(DateTimeAfter, json!("yesterday"), json!("2024-05-01")));
        assert!(!check(DateTimeBefore, json!("2024-13-01"), json!("2024-05-01")));
    }

    #[test]
    fn unary_operators() {
        let (t, f, n, s) = (json!(true), json!(false), json!(null), json!("TRUE"));
        assert!(holds(IsTrue, Some(&t), None) && holds(IsTrue, Some(&s), None));
        assert!(holds(IsFalse, Some(&f), None) && holds(IsFalse, Some(&json!("false")), None));
        assert!(!holds(IsTrue, Some(&json!(1)), None) && !holds(IsFalse, Some(&json!(0)), None));
        assert!(!holds(IsTrue, None, None) && !holds(IsFalse, None, None));
        assert!(holds(IsNull, Some(&n), None) && holds(IsNull, None, None));
        assert!(holds(IsNotNull, Some(&f), None) && !holds(IsNotNull, None, None));
        assert!(holds(Exists, Some(&n), None) && !holds(Exists, None, None));
        assert!(holds(DoesNotExist, None, None) && !holds(DoesNotExist, Some(&n), None));
        assert!(holds(ArrayIsEmpty, Some(&json!([])), None) && holds(ArrayIsEmpty, None, None));
        assert!(holds(ArrayIsEmpty, Some(&n), None) && !holds(ArrayIsEmpty, Some(&json!("")), None));
        assert!(holds(ArrayIsNotEmpty, Some(&json!([0])), None));
        assert!(!holds(ArrayIsNotEmpty, Some(&json!({"a": 1})), None) && !holds(ArrayIsNotEmpty, None, None));
    }

    fn value() -> impl Strategy<Value = Value> {
        prop_oneof![
            Just(Value::Null),
            any::<bool>().prop_map(Value::from),
            any::<i64>().prop_map(Value::from),
            "[a-z0-9 ,:-]{0,12}".prop_map(Value::from),
            prop::collection::vec(any::<i8>().prop_map(Value::from), 0..3).prop_map(Value::from),
        ]
    }

    proptest! {
        #[test]
        fn text_operators_and_their_negations_disagree(l in prop::option::of(value()), r in value()) {
            for (yes, no) in [
                (StringContains, StringDoesNotContain),
                (StringExactlyMatches, StringDoesNotExactlyMatch),
                (StringIsIn, StringIsNotIn),
                (StringStartsWith, StringDoesNotStartWith),
                (StringEndsWith, StringDoesNotEndWith),
                (IsNull, IsNotNull),
                (Exists, DoesNotExist),
            ] {
                prop_assert_ne!(holds(yes, l.as_ref(), Some(&r)), holds(no, l.as_ref(), Some(&r)), "{:?}", yes);
            }
        }

        #[test]
        fn numbers_order_like_integers(a in any::<i64>(), b in any::<i64>()) {
            prop_assert_eq!(check(NumberGreaterThan, json!(a), json!(b.to_string())), a > b);
            prop_assert_eq!(check(NumberEquals, json!(a.to_string()), json!(b)), a == b);
        }
    }
}
