//! The `weft serve` processes of the harness, on one data directory and
//! database: started with their output in files (read at the end for the
//! fence's warnings), killed with SIGKILL, frozen with SIGSTOP and thawed
//! with SIGCONT. Every child is killed when the cluster is dropped, a
//! failed assertion included.

use crate::support::{PgDatabase, data_dir_with, weft_binary, weft_cli_env};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};
use tokio::process::Child;

/// One `weft serve` child.
pub(super) struct Process {
    child: Child,
    /// Its pid.
    pub(super) pid: u32,
    /// `http://127.0.0.1:<port>`.
    pub(super) base: String,
}

impl Process {
    /// SIGKILL, and waits until it is gone.
    pub(super) async fn kill(mut self) {
        self.child.start_kill().expect("SIGKILL a weft process");
        self.child.wait().await.expect("reap a killed weft process");
    }

    /// SIGSTOP: it keeps its sockets, leases and transactions, and does
    /// nothing until [`Process::thaw`].
    pub(super) fn freeze(&self) {
        self.signal(libc::SIGSTOP);
    }

    /// SIGCONT.
    pub(super) fn thaw(&self) {
        self.signal(libc::SIGCONT);
    }

    fn signal(&self, signal: libc::c_int) {
        // The child is ours and not reaped (we hold it), so the pid is its.
        let pid = libc::pid_t::try_from(self.pid).expect("a pid");
        // SAFETY: kill(2) has no memory effects.
        let sent = unsafe { libc::kill(pid, signal) };
        assert_eq!(sent, 0, "signal {signal} to {}", self.pid);
    }
}

impl Drop for Process {
    fn drop(&mut self) {
        // A frozen process dies of SIGKILL too; `kill_on_drop` reaps it.
        let _ = self.child.start_kill();
    }
}

/// What every process of a deployment shares: the data directory, the
/// database, the settings, and where their output goes.
pub(super) struct Deployment {
    pub(super) dir: tempfile::TempDir,
    pub(super) pg: Option<PgDatabase>,
    pub(super) env: Vec<(&'static str, String)>,
    logs: PathBuf,
    started: std::sync::atomic::AtomicU32,
    /// How long each start took, until the process listened.
    start_times: std::sync::Mutex<Vec<Duration>>,
}

impl Deployment {
    /// A fresh data directory (and PostgreSQL database) with `env` as the
    /// processes' settings.
    pub(super) fn new(postgres: bool, mut env: Vec<(&'static str, String)>) -> Self {
        let dir = data_dir_with(&[]);
        let pg = postgres.then(PgDatabase::create);
        if let Some(pg) = &pg {
            env.push(("WEFT__DATABASE__URL", pg.url()));
        }
        let logs = dir.path().join("harness-logs");
        std::fs::create_dir_all(&logs).expect("a log directory");
        Self { dir, pg, env, logs, started: Default::default(), start_times: Default::default() }
    }

    /// Runs a `weft` CLI command; its stdout.
    pub(super) fn cli(&self, args: &[&str]) -> String {
        weft_cli_env(self.dir.path(), &self.env, args)
    }

    /// Where the database is, for the harness's own connection.
    pub(super) fn location(&self) -> String {
        match &self.pg {
            Some(pg) => pg.url(),
            None => self.dir.path().join(weft_store::DEFAULT_SQLITE_FILE).display().to_string(),
        }
    }

    /// Starts one `weft serve` and waits until it listens.
    pub(super) async fn start(&self) -> Process {
        let began = Instant::now();
        let n = self.started.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        let out = self.logs.join(format!("{n:04}.out"));
        let err = self.logs.join(format!("{n:04}.err"));
        let child = tokio::process::Command::new(weft_binary())
            .arg("serve")
            .env("WEFT__EGRESS__ALLOW_LOOPBACK", "true")
            .envs(self.env.iter().map(|(k, v)| (*k, v.as_str())))
            .env("WEFT__SERVER__PORT", "0")
            .env("WEFT__DATA_DIR", self.dir.path())
            .env("WEFT__LOG__FORMAT", "json")
            .stdout(std::fs::File::create(&out).expect("a stdout file"))
            .stderr(std::fs::File::create(&err).expect("a stderr file"))
            .kill_on_drop(true)
            .spawn()
            .expect("start weft serve");
        let pid = child.id().expect("a running child");
        let mut process = Process { child, pid, base: String::new() };
        process.base = listening(&mut process.child, &out, &err).await;
        self.start_times.lock().unwrap().push(began.elapsed());
        process
    }

    /// Every line the processes logged that contains `needle`.
    pub(super) fn logged(&self, needle: &str) -> usize {
        let files = std::fs::read_dir(&self.logs).expect("the log directory");
        files
            .flatten()
            .filter(|f| f.path().extension().is_some_and(|e| e == "err"))
            .map(|f| std::fs::read_to_string(f.path()).unwrap_or_default())
            .map(|text| text.lines().filter(|l| l.contains(needle)).count())
            .sum()
    }

    /// How many processes were started.
    pub(super) fn starts(&self) -> u32 {
        self.started.load(std::sync::atomic::Ordering::Relaxed)
    }

    /// How long the starts took until the process listened, sorted.
    pub(super) fn start_times(&self) -> Vec<Duration> {
        let mut times = self.start_times.lock().unwrap().clone();
        times.sort_unstable();
        times
    }
}

/// Waits for the "listening on" line in `out`; the base URL it names.
async fn listening(child: &mut Child, out: &Path, err: &Path) -> String {
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let printed = std::fs::read_to_string(out).unwrap_or_default();
        if let Some(rest) = printed.lines().find_map(|l| l.split("listening on ").nth(1)) {
            return rest.trim().to_owned();
        }
        if let Ok(Some(status)) = child.try_wait() {
            panic!("weft serve exited ({status}): {}", std::fs::read_to_string(err).unwrap_or_default());
        }
        assert!(Instant::now() < deadline, "weft serve did not listen within 60 s: {printed}");
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
}
