//! `js-function`: the bundled component that runs workflow Function steps.
//!
//! User JavaScript runs on Boa, a JavaScript engine written in Rust and
//! compiled with this crate to `wasm32-wasip2`, so user code gets the sandbox
//! every plugin gets: no sockets, no files, and the host's CPU, memory and
//! stack caps around each call. This crate owns what happens inside the
//! sandbox: finding the user's function, calling it with `parameters` and
//! `libraries`, awaiting its promise, capturing `console` output, turning the
//! result into JSON and errors into positions in the user's code.
//!
//! Each call runs on a fresh instance, so nothing a function does (globals,
//! patched prototypes, loaded libraries) survives into the next one.

mod console;
mod error;
mod libraries;
mod modules;
mod native;
mod run;
mod web;

wit_bindgen::generate!({ world: "js-function", path: "../../wit" });

use exports::weft::plugin::js::{Guest, JsError, JsLimits, Outcome};

struct JsFunction;

impl Guest for JsFunction {
    fn check(code: String) -> Result<(), JsError> {
        run::entry_name(&code).map(|_| ())
    }

    fn run(code: String, parameters: String, limits: JsLimits) -> Outcome {
        console::reset(&limits);
        let result = run::run(&code, &parameters, &limits);
        Outcome { result, logs: console::take() }
    }
}

export!(JsFunction);
