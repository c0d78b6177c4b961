//! Conditions: rules on resolved values, combined as an OR of ANDs (the
//! reference's "disjunctive normal form"). A Conditional step's `if` is
//! one; the request pagination of a later issue uses them as stop
//! conditions.
//!
//! A file writes a condition in one of three forms: a single rule, `{and:
//! [rules]}`, or `{or: [{and: [rules]}, …]}`.

mod evaluate;

pub use evaluate::{Operand, parse_instant};

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::Result;
use crate::template::{Context, resolve_operand};

/// A condition, in any of its three forms.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(untagged, deny_unknown_fields)]
pub enum Condition {
    /// True when any group holds.
    Any {
        /// The groups.
        #[schemars(length(min = 1))]
        or: Vec<All>,
    },
    /// True when every rule holds.
    All(All),
    /// One rule.
    Rule(Rule),
}

/// Rules that must all hold.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct All {
    /// The rules.
    #[schemars(length(min = 1))]
    pub and: Vec<Rule>,
}

/// One comparison: `left <operator> right`, or `left <operator>` for the
/// operators that take one operand.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Rule {
    /// The value tested, usually a reference (`{{lookup.output.response.statusCode}}`).
    pub left: Value,
    /// The comparison.
    pub operator: Operator,
    /// What it is compared with, for the operators that compare.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub right: Option<Value>,
}

/// The operators, as the reference lists them:
///
/// | operator | holds when |
/// |---|---|
/// | `stringContains`, `stringDoesNotContain` | `right` is (not) a substring of `left` |
/// | `stringExactlyMatches`, `stringDoesNotExactlyMatch` | the texts are (not) equal |
/// | `stringIsIn`, `stringIsNotIn` | `left` is (not) an item of `right`: an array, or a comma-separated text |
/// | `stringStartsWith`, `stringDoesNotStartWith`, `stringEndsWith`, `stringDoesNotEndWith` | as named |
/// | `numberGreaterThan`, `numberLessThan`, `numberEquals`, `numberDoesNotEqual` | as named, on numbers |
/// | `dateTimeAfter`, `dateTimeBefore`, `dateTimeEquals` | as named, on instants |
/// | `isTrue`, `isFalse` | `left` is the boolean (or the text `true`/`false`) |
/// | `isNull`, `isNotNull` | `left` is (not) `null` or missing |
/// | `exists`, `doesNotExist` | `left` is (not) there, `null` counting as there |
/// | `arrayIsEmpty`, `arrayIsNotEmpty` | `left` is an array with no (some) items |
///
/// See [`Operand`] for how values are read as text, numbers and instants.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
#[allow(missing_docs)] // The table above documents them; the schema lists them as an `enum`.
pub enum Operator {
    StringContains,
    StringDoesNotContain,
    StringExactlyMatches,
    StringDoesNotExactlyMatch,
    StringIsIn,
    StringIsNotIn,
    StringStartsWith,
    StringDoesNotStartWith,
    StringEndsWith,
    StringDoesNotEndWith,
    NumberGreaterThan,
    NumberLessThan,
    NumberEquals,
    NumberDoesNotEqual,
    DateTimeAfter,
    DateTimeBefore,
    DateTimeEquals,
    IsTrue,
    IsFalse,
    IsNull,
    IsNotNull,
    Exists,
    DoesNotExist,
    ArrayIsEmpty,
    ArrayIsNotEmpty,
}

impl Operator {
    /// Every operator.
    pub const ALL: [Operator; 25] = [
        Self::StringContains,
        Self::StringDoesNotContain,
        Self::StringExactlyMatches,
        Self::StringDoesNotExactlyMatch,
        Self::StringIsIn,
        Self::StringIsNotIn,
        Self::StringStartsWith,
        Self::StringDoesNotStartWith,
        Self::StringEndsWith,
        Self::StringDoesNotEndWith,
        Self::NumberGreaterThan,
        Self::NumberLessThan,
        Self::NumberEquals,
        Self::NumberDoesNotEqual,
        Self::DateTimeAfter,
        Self::DateTimeBefore,
        Self::DateTimeEquals,
        Self::IsTrue,
        Self::IsFalse,
        Self::IsNull,
        Self::IsNotNull,
        Self::Exists,
        Self::DoesNotExist,
        Self::ArrayIsEmpty,
        Self::ArrayIsNotEmpty,
    ];

    /// Whether it compares `left` with a `right` operand.
    pub fn takes_right(self) -> bool {
        !matches!(
            self,
            Self::IsTrue
                | Self::IsFalse
                | Self::IsNull
                | Self::IsNotNull
                | Self::Exists
                | Self::DoesNotExist
                | Self::ArrayIsEmpty
                | Self::ArrayIsNotEmpty
        )
    }
}

impl Condition {
    /// The groups of rules, OR of ANDs, whatever form the file used.
    pub fn groups(&self) -> Vec<&[Rule]> {
        match self {
            Self::Any { or } => or.iter().map(|all| all.and.as_slice()).collect(),
            Self::All(all) => vec![all.and.as_slice()],
            Self::Rule(rule) => vec![std::slice::from_ref(rule)],
        }
    }

    /// Whether the condition holds, its operands resolved against `cx`.
    /// Groups and rules are tried in order and stop at the first answer,
    /// so a later rule's missing secret only matters when it is reached.
    pub fn evaluate(&self, cx: &dyn Context) -> Result<bool> {
        for group in self.groups() {
            let mut holds = true;
            for rule in group {
                if !rule.evaluate(cx)? {
                    holds = false;
                    break;
                }
            }
            if holds {
                return Ok(true);
            }
        }
        Ok(false)
    }
}

impl Rule {
    /// Whether the rule holds, its operands resolved against `cx`.
    pub fn evaluate(&self, cx: &dyn Context) -> Result<bool> {
        let left = resolve_operand(&self.left, cx)?;
        let right = match &self.right {
            Some(right) => resolve_operand(right, cx)?,
            None => None,
        };
        Ok(evaluate::holds(self.operator, left.as_ref(), right.as_ref()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use secrecy::SecretString;
    use serde_json::json;

    struct Outputs(Value);

    impl Context for Outputs {
        fn output(&self, step: &str) -> Option<&Value> {
            self.0.get(step)
        }
        fn setting(&self, _: &str) -> Option<&Value> {
            None
        }
        fn user_id(&self) -> Option<&str> {
            None
        }
        fn user_meta(&self) -> Option<&Value> {
            None
        }
        fn secret(&self, _: &str) -> Option<&SecretString> {
            None
        }
    }

    fn condition(value: Value) -> Condition {
        serde_json::from_value(value).unwrap()
    }

    #[test]
    fn the_three_forms_read_as_groups() {
        let rule = json!({"left": "{{a.output.n}}", "operator": "numberGreaterThan", "right": 2});
        assert_eq!(condition(rule.clone()).groups().len(), 1);
        assert!(matches!(condition(json!({"and": [rule.clone(), rule.clone()]})), Condition::All(_)));
        let any = condition(json!({"or": [{"and": [rule.clone()]}, {"and": [rule.clone(), rule]}]}));
        assert_eq!(any.groups().iter().map(|g| g.len()).collect::<Vec<_>>(), [1, 2]);
        assert_eq!(serde_json::from_value::<Condition>(serde_json::to_value(&any).unwrap()).unwrap(), any);
    }

    #[test]
    fn an_or_of_ands_holds_when_one_group_holds_entirely() {
        let cx = Outputs(json!({"a": {"n": 3, "tags": ["x"], "name": "Ada"}}));
        let n_gt = |n: i64| json!({"left": "{{a.output.n}}", "operator": "numberGreaterThan", "right": n});
        let named = json!({"left": "{{a.output.name}}", "operator": "stringStartsWith", "right": "A"});
        let missing = json!({"left": "{{a.output.nope}}", "operator": "exists"});
        let cases = [
            (json!({"and": [n_gt(2), named.clone()]}), true),
            (json!({"and": [n_gt(5), named.clone()]}), false),
            (json!({"or": [{"and": [n_gt(5)]}, {"and": [named.clone(), missing.clone()]}]}), false),
            (json!({"or": [{"and": [n_gt(5)]}, {"and": [named, n_gt(1)]}]}), true),
            (missing, false),
        ];
        for (c, expected) in cases {
            assert_eq!(condition(c.clone()).evaluate(&cx).unwrap(), expected, "{c}");
        }
    }

    #[test]
    fn operand_counts_are_known_per_operator() {
        let unary: Vec<Operator> = Operator::ALL.into_iter().filter(|o| !o.takes_right()).collect();
        assert_eq!(unary.len(), 8);
        let schema = serde_json::to_value(schemars::schema_for!(Operator)).unwrap();
        assert_eq!(schema["enum"].as_array().map(Vec::len), Some(Operator::ALL.len()), "{schema}");
    }
}
