//! `example-step`: an example workflow function step. It takes
//! `{"numbers": [..]}` and returns their count, sum and mean (null when
//! there are none), logging the count.

use serde::{Deserialize, Serialize};
use weft_sdk::step::{StepCtx, StepError};

#[derive(Deserialize)]
struct Input {
    numbers: Vec<f64>,
}

#[derive(Serialize)]
struct Stats {
    count: usize,
    sum: f64,
    mean: Option<f64>,
}

fn stats(_cx: &StepCtx, input: Input) -> Result<Stats, StepError> {
    let count = input.numbers.len();
    // `Iterator::sum` of floats starts from -0.0; an empty list sums to 0.
    let sum = input.numbers.iter().fold(0.0, |acc, n| acc + n);
    let mean = (count > 0).then(|| sum / count as f64);
    weft_sdk::info!("computed statistics"; count = count);
    Ok(Stats { count, sum, mean })
}

weft_sdk::export_function_step!(stats);
