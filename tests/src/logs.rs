//! A process-wide capture of tracing output (JSON lines at TRACE level), so
//! tests can assert what was logged, and that secrets were not. With the
//! canary sweep on (`crate::sweep`), every line also goes to this process's
//! log file in the sweep directory.

use std::io::Write;
use std::sync::{Arc, Mutex, OnceLock};
use tracing_subscriber::layer::SubscriberExt as _;

static BUFFER: OnceLock<Arc<Mutex<Vec<u8>>>> = OnceLock::new();

#[derive(Clone)]
struct Capture(Arc<Mutex<Vec<u8>>>, Option<Arc<Mutex<std::fs::File>>>);

impl Write for Capture {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap_or_else(|p| p.into_inner()).extend_from_slice(buf);
        if let Some(file) = &self.1 {
            file.lock().unwrap_or_else(|p| p.into_inner()).write_all(buf)?;
        }
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

/// Installs the capturing subscriber once per test process.
pub fn install() {
    BUFFER.get_or_init(|| {
        let buf = Arc::new(Mutex::new(Vec::new()));
        let file = crate::sweep::process_file("logs", "jsonl").map(|f| Arc::new(Mutex::new(f)));
        let writer = Capture(buf.clone(), file);
        // TRACE for Weft's own targets (plugin and audit lines included),
        // INFO for dependencies. No `log` bridge: wasmtime's compiler logs
        // every pass through `log` at TRACE, which would swamp the capture.
        let filter = tracing_subscriber::filter::Targets::new().with_default(tracing::Level::INFO).with_targets(
            [
                "plugin",
                "audit",
                "weft_plugin_host",
                "weft_egress",
                "weft_api",
                "weft_server",
                "weft_credentials",
                "weft_auth",
                "weft_vault",
                "weft_store",
            ]
            .map(|t| (t, tracing::Level::TRACE)),
        );
        let subscriber = tracing_subscriber::fmt()
            .json()
            .with_max_level(tracing::Level::TRACE)
            .with_writer(move || writer.clone())
            .finish()
            .with(filter);
        let _ = tracing::subscriber::set_global_default(subscriber);
        buf
    });
}

/// Every captured line containing `needle`, parsed as JSON.
pub fn lines_containing(needle: &str) -> Vec<serde_json::Value> {
    let Some(buf) = BUFFER.get() else {
        return Vec::new();
    };
    let text = String::from_utf8_lossy(&buf.lock().unwrap_or_else(|p| p.into_inner())).into_owned();
    text.lines().filter(|l| l.contains(needle)).filter_map(|l| serde_json::from_str(l).ok()).collect()
}

/// Everything captured so far.
pub fn all() -> String {
    BUFFER
        .get()
        .map(|b| String::from_utf8_lossy(&b.lock().unwrap_or_else(|p| p.into_inner())).into_owned())
        .unwrap_or_default()
}
