//! Workflows, the pure part: what a workflow file says and how it runs,
//! with no database, network or clock.
//!
//! This crate owns the definition format ([`Workflow`], its published JSON
//! Schema in [`schema`]), its loader and checks ([`load`], which reports
//! every problem as a JSON Pointer and a reason), dynamic variables
//! ([`template`]: `{{step.output.x}}`, settings, user, secrets, resolved so
//! that secrets never reach the history), conditions ([`condition`]) and
//! the execution plan ([`Plan`]: what a finished step leads to, in terms
//! the queue stores in one completion), and when Scheduler triggers fire
//! ([`schedule`]: cron with seconds, IANA zones).
//!
//! It does not own the queue or the history (`weft-store`), nor running
//! steps: the executor calls out through `weft-egress`, the credential
//! path and the plugin host, and uses this crate to decide what comes next.
//!
//! ```
//! use weft_engine::{Format, Next, Plan, Queued};
//! let workflow = weft_engine::load::parse(
//!     "name: Greet\ntrigger: {type: appEvent, event: Signed Up}\nsteps:\n  - {id: wait, type: delay, value: 1}\n",
//!     Format::Yaml,
//!     "greet.yaml",
//! )?;
//! let plan = Plan::new(&workflow);
//! let Next::Run(first) = plan.first() else { unreachable!("a workflow has steps") };
//! assert_eq!(first, [Queued {
//!     step: "wait".into(),
//!     kind: "ACTION/DELAY",
//!     instance: String::new(),
//!     wait: Some(std::time::Duration::from_secs(60)),
//! }]);
//! assert_eq!(plan.after("wait", "")?, Next::Finish);
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```
#![deny(missing_docs)]

pub mod condition;
pub mod definition;
pub mod load;
pub mod permissions;
pub mod plan;
pub mod run;
pub mod schedule;
pub mod schema;
pub mod template;

pub use condition::{Condition, Operator, Rule};
pub use definition::{Step, StepKind, Trigger, TriggerKind, Workflow};
pub use load::{DefinitionError, Format, Problem};
pub use plan::{Next, Plan, Queued};
pub use run::{
    AppEvent, Awaited, DEFAULT_POLL_SECS, EVENT_FIELD_KEYWORD, Engine, EngineDeps, EngineSettings, EventMatch, Polled,
    ReplayError, ReplayFrom, RequestRefused, RequestStarted, Started, StepPlugins, TriggerError, TriggerPlugins,
    TriggerSpec, WorkflowRequest, missing_settings, stored_integration, trigger_key,
};
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
    /// The plan was asked about a step the workflow does not have.
    #[error("the workflow has no step `{0}`")]
    UnknownStep(String),
    /// The plan was asked to branch a step that is not a conditional, or to
    /// fan out one that is not a fan-out.
    #[error("step `{step}` is not a {expected} step")]
    WrongKind {
        /// The step.
        step: String,
        /// The kind the question needs.
        expected: &'static str,
    },
    /// An instance path that does not fit the step's fan-out nesting.
    #[error("`{instance}` is not an instance path of step `{step}`")]
    Instance {
        /// The step.
        step: String,
        /// The path given.
        instance: String,
    },
}

/// This crate's result.
pub type Result<T, E = Error> = std::result::Result<T, E>;
