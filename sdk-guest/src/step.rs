//! Workflow function steps: typed JSON in, typed JSON out, plus logging.
//!
//! A step is one function registered with
//! [`export_function_step!`](crate::export_function_step). It has no ambient
//! authority: no network, no files, no state, no secrets; only
//! [logging](mod@crate::log) and WASI clocks and randomness.
//!
//! ```no_run
//! use serde::{Deserialize, Serialize};
//! use weft_sdk::step::{StepCtx, StepError};
//!
//! #[derive(Deserialize)]
//! struct Input { text: String }
//!
//! #[derive(Serialize)]
//! struct Output { words: usize }
//!
//! fn count_words(_cx: &StepCtx, input: Input) -> Result<Output, StepError> {
//!     Ok(Output { words: input.text.split_whitespace().count() })
//! }
//!
//! weft_sdk::export_function_step!(count_words);
//! ```

use std::fmt;

use serde::Serialize;
use serde::de::DeserializeOwned;

use crate::bindings::step::exports::weft::plugin::step as wit;

/// Where a step runs.
///
/// ```no_run
/// use weft_sdk::step::{StepCtx, StepError};
/// fn run(cx: &StepCtx, input: serde_json::Value) -> Result<serde_json::Value, StepError> {
///     weft_sdk::debug!("step started"; workflow = cx.workflow_id(), step = cx.step_id());
///     Ok(input)
/// }
/// ```
#[derive(Debug, Clone)]
pub struct StepCtx {
    invocation_id: String,
    workflow_id: String,
    step_id: String,
    deadline_ms: u64,
}

impl StepCtx {
    /// Builds a context by hand, for unit tests of steps.
    ///
    /// ```no_run
    /// let cx = weft_sdk::step::StepCtx::new("inv-1", "wf-1", "step-1", 0);
    /// ```
    pub fn new(
        invocation_id: impl Into<String>,
        workflow_id: impl Into<String>,
        step_id: impl Into<String>,
        deadline_ms: u64,
    ) -> Self {
        Self {
            invocation_id: invocation_id.into(),
            workflow_id: workflow_id.into(),
            step_id: step_id.into(),
            deadline_ms,
        }
    }

    /// Opaque id of this invocation, stable across retries.
    ///
    /// ```no_run
    /// # fn f(cx: &weft_sdk::step::StepCtx) {
    /// let seed = cx.invocation_id().len();
    /// # }
    /// ```
    pub fn invocation_id(&self) -> &str {
        &self.invocation_id
    }

    /// The workflow the step belongs to.
    ///
    /// ```no_run
    /// # fn f(cx: &weft_sdk::step::StepCtx) {
    /// weft_sdk::info!("running"; workflow = cx.workflow_id());
    /// # }
    /// ```
    pub fn workflow_id(&self) -> &str {
        &self.workflow_id
    }

    /// The step's id within the workflow.
    ///
    /// ```no_run
    /// # fn f(cx: &weft_sdk::step::StepCtx) {
    /// weft_sdk::info!("running"; step = cx.step_id());
    /// # }
    /// ```
    pub fn step_id(&self) -> &str {
        &self.step_id
    }

    /// Unix epoch milliseconds after which the host aborts the call.
    ///
    /// ```no_run
    /// # fn f(cx: &weft_sdk::step::StepCtx) {
    /// let deadline = cx.deadline_ms();
    /// # }
    /// ```
    pub fn deadline_ms(&self) -> u64 {
        self.deadline_ms
    }
}

/// Why a step failed; mirrors the WIT `step-error`.
///
/// ```no_run
/// use weft_sdk::step::StepError;
/// fn check(n: f64) -> Result<f64, StepError> {
///     if n.is_nan() { Err(StepError::invalid_input("NaN")) } else { Ok(n) }
/// }
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum StepError {
    /// The input does not fit the step. Not retried.
    InvalidInput(String),
    /// The step failed; the workflow's retry policy decides what happens.
    Failed(String),
}

impl StepError {
    /// The input does not fit the step.
    ///
    /// ```no_run
    /// let e = weft_sdk::step::StepError::invalid_input("`numbers` is empty");
    /// ```
    pub fn invalid_input(message: impl Into<String>) -> Self {
        Self::InvalidInput(message.into())
    }

    /// The step failed.
    ///
    /// ```no_run
    /// let e = weft_sdk::step::StepError::failed("division by zero");
    /// ```
    pub fn failed(message: impl Into<String>) -> Self {
        Self::Failed(message.into())
    }

    fn into_wit(self) -> wit::StepError {
        match self {
            Self::InvalidInput(m) => wit::StepError::InvalidInput(m),
            Self::Failed(m) => wit::StepError::Failed(m),
        }
    }
}

impl fmt::Display for StepError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::InvalidInput(m) => write!(f, "invalid input: {m}"),
            Self::Failed(m) => write!(f, "failed: {m}"),
        }
    }
}

impl std::error::Error for StepError {}

/// JSON the step (de)serializes itself failing is a failure of the step,
/// not of its input: bad input is reported as `invalid-input` by the SDK.
impl From<serde_json::Error> for StepError {
    fn from(e: serde_json::Error) -> Self {
        Self::Failed(format!("json: {e}"))
    }
}

/// Implemented by the unit struct that
/// [`export_function_step!`](crate::export_function_step) generates.
#[doc(hidden)]
pub trait StepEntry: 'static {
    fn run(input: &str, cx: &StepCtx) -> Result<String, StepError>;
}

/// The exported `step` interface, delegating to a [`StepEntry`].
#[doc(hidden)]
pub struct StepAdapter<F>(std::marker::PhantomData<F>);

impl<F: StepEntry> wit::Guest for StepAdapter<F> {
    fn run(input: String, context: wit::StepContext) -> Result<String, wit::StepError> {
        let cx = StepCtx {
            invocation_id: context.invocation_id,
            workflow_id: context.workflow_id,
            step_id: context.step_id,
            deadline_ms: context.deadline_ms,
        };
        F::run(&input, &cx).map_err(StepError::into_wit)
    }
}

/// Deserializes the input, calls the step and serializes its output.
#[doc(hidden)]
pub fn run_typed<I, O>(
    input: &str,
    cx: &StepCtx,
    step: fn(&StepCtx, I) -> Result<O, StepError>,
) -> Result<String, StepError>
where
    I: DeserializeOwned,
    O: Serialize,
{
    let input = serde_json::from_str(input).map_err(|e| StepError::invalid_input(e.to_string()))?;
    Ok(serde_json::to_string(&step(cx, input)?)?)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn double(_: &StepCtx, n: Vec<i32>) -> Result<Vec<i32>, StepError> {
        Ok(n.into_iter().map(|x| x * 2).collect())
    }

    #[test]
    fn typed_steps_round_trip_and_reject_bad_input() {
        let cx = StepCtx::new("i", "w", "s", 0);
        assert_eq!(run_typed("[1,2]", &cx, double).as_deref(), Ok("[2,4]"));
        assert!(matches!(run_typed("{}", &cx, double), Err(StepError::InvalidInput(_))));
    }
}
