//! Workflows, the pure part: what a workflow file says and how it runs,
//! with no database, network or clock.
//!
//! So far: dynamic variables ([`template`]: `{{step.output.x}}`, settings,
//! user, secrets, resolved so that secrets never reach the history), conditions ([`condition`]), the definition model ([`Workflow`], its JSON Schema in [`schema`]) and its loader ([`load`]).
//! The definition format, its loader and the execution plan follow.
#![deny(missing_docs)]

pub mod condition;
pub mod definition;
pub mod load;
pub mod schema;
pub mod template;

pub use condition::{Condition, Operator, Rule};
pub use definition::{Step, StepKind, Trigger, TriggerKind, Workflow};
pub use load::{DefinitionError, Format, Problem};
pub use template::{Context, Resolved, TemplateError};

/// What can go wrong in this crate.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// A definition was refused.
    #[error(transparent)]
    Definition(#[from] DefinitionError),
    /// A string is not a valid template (only for values that did not come
    /// through [`load`]).
    #[error("invalid dynamic variable: {0}")]
    Template(#[from] TemplateError),
    /// A step references an environment secret that has no value.
    #[error("the environment secret `{0}` has no value")]
    MissingSecret(String),
}

/// This crate's result.
pub type Result<T, E = Error> = std::result::Result<T, E>;
