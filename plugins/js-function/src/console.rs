//! `console.log/info/warn/error/debug`, captured as the run's log lines
//! within the call's line and byte budgets.

use crate::exports::weft::plugin::js::{JsLimits, LogLevel, LogLine};
use boa_engine::object::ObjectInitializer;
use boa_engine::property::Attribute;
use boa_engine::{Context, JsResult, JsValue, NativeFunction, js_string};
use std::cell::RefCell;

#[derive(Default)]
struct Captured {
    lines: Vec<LogLine>,
    bytes: usize,
    max_lines: usize,
    max_bytes: usize,
    dropped: usize,
}

thread_local! {
    static CAPTURED: RefCell<Captured> = RefCell::default();
}

/// Starts a run with `limits`' budgets and no lines.
pub(crate) fn reset(limits: &JsLimits) {
    CAPTURED.with_borrow_mut(|c| {
        *c = Captured {
            max_lines: limits.max_log_lines as usize,
            max_bytes: limits.max_log_bytes as usize,
            ..Captured::default()
        }
    });
}

/// The run's lines, ending with one line that counts what was cut.
pub(crate) fn take() -> Vec<LogLine> {
    CAPTURED.with_borrow_mut(|c| {
        let mut lines = std::mem::take(&mut c.lines);
        if c.dropped > 0 {
            lines.push(LogLine {
                level: LogLevel::Warn,
                message: format!("… truncated: {} more console line(s) over the step's log budget", c.dropped),
            });
        }
        lines
    })
}

fn push(level: LogLevel, mut message: String) {
    CAPTURED.with_borrow_mut(|c| {
        let left = c.max_bytes.saturating_sub(c.bytes);
        if c.lines.len() >= c.max_lines || left == 0 {
            c.dropped += 1;
            return;
        }
        if message.len() > left {
            let mut cut = left;
            while !message.is_char_boundary(cut) {
                cut -= 1;
            }
            message.truncate(cut);
            message.push('…');
        }
        c.bytes += message.len();
        c.lines.push(LogLine { level, message });
    });
}

/// Node-like formatting: strings as they are, other values as the engine
/// displays them, separated by spaces.
fn format(args: &[JsValue]) -> String {
    let mut out = String::new();
    for (i, arg) in args.iter().enumerate() {
        if i > 0 {
            out.push(' ');
        }
        match arg.as_string() {
            Some(s) => out.push_str(&s.to_std_string_lossy()),
            None => out.push_str(&arg.display().to_string()),
        }
    }
    out
}

fn logger(level: fn() -> LogLevel) -> NativeFunction {
    NativeFunction::from_copy_closure(move |_, args, _| {
        push(level(), format(args));
        Ok(JsValue::undefined())
    })
}

/// Defines the global `console`.
pub(crate) fn install(cx: &mut Context) -> JsResult<()> {
    let console = ObjectInitializer::new(cx)
        .function(logger(|| LogLevel::Info), js_string!("log"), 0)
        .function(logger(|| LogLevel::Info), js_string!("info"), 0)
        .function(logger(|| LogLevel::Debug), js_string!("debug"), 0)
        .function(logger(|| LogLevel::Warn), js_string!("warn"), 0)
        .function(logger(|| LogLevel::Error), js_string!("error"), 0)
        .build();
    cx.register_global_property(js_string!("console"), console, Attribute::WRITABLE | Attribute::CONFIGURABLE)
}
