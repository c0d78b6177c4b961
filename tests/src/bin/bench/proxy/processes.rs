//! Child processes of the benchmark (the mock provider, Weft, nginx): each
//! is owned by a [`ChildProcess`] that stops it when dropped, so every exit
//! path, an error or a panic included, leaves nothing running.

use anyhow::Context;
use std::io::{BufRead, Write};
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

/// Marks the stdout lines a child announces, apart from anything else a
/// library in it might print.
const ANNOUNCED: &str = "bench-announce: ";

/// How long a stopped child gets to exit before it is killed.
const STOP_GRACE: Duration = Duration::from_secs(3);

/// A running child, stopped (SIGTERM, then SIGKILL) and reaped on drop.
pub struct ChildProcess {
    name: &'static str,
    child: Child,
}

impl ChildProcess {
    /// Starts `command` with stdout piped and stderr inherited, and waits up
    /// to `timeout` for the first `lines` lines it [`announce`]s (a port, a
    /// key). Its other stdout lines go to stderr.
    pub fn start(
        name: &'static str,
        command: &mut Command,
        lines: usize,
        timeout: Duration,
    ) -> anyhow::Result<(Self, Vec<String>)> {
        let child = command
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .with_context(|| format!("starting {name}"))?;
        // From here on, dropping `this` stops the child.
        let mut this = Self { name, child };
        let stdout = this.child.stdout.take().context("the child's stdout")?;
        let (tx, rx) = mpsc::channel();
        std::thread::spawn(move || {
            for line in std::io::BufReader::new(stdout).lines() {
                let Ok(line) = line else { break };
                match line.strip_prefix(ANNOUNCED) {
                    // Once the announcement is read nobody listens; keep
                    // draining so a chatty child never blocks on a full pipe.
                    Some(value) => drop(tx.send(value.to_owned())),
                    None => eprintln!("{line}"),
                }
            }
        });
        let deadline = Instant::now() + timeout;
        let mut announced = Vec::with_capacity(lines);
        while announced.len() < lines {
            let left = deadline.saturating_duration_since(Instant::now());
            match rx.recv_timeout(left) {
                Ok(line) => announced.push(line),
                Err(_) => {
                    let state = this.exit_status().unwrap_or_else(|| "still running".into());
                    anyhow::bail!("{name} did not announce itself within {timeout:?} ({state}); its stderr is above");
                }
            }
        }
        Ok((this, announced))
    }

    /// The child's process id (to read its memory from `/proc`).
    pub fn id(&self) -> u32 {
        self.child.id()
    }

    /// Fails if the child has exited.
    pub fn ensure_running(&mut self) -> anyhow::Result<()> {
        match self.exit_status() {
            Some(status) => anyhow::bail!("{} exited ({status})", self.name),
            None => Ok(()),
        }
    }

    fn exit_status(&mut self) -> Option<String> {
        match self.child.try_wait() {
            Ok(Some(status)) => Some(status.to_string()),
            Ok(None) => None,
            Err(e) => Some(format!("unknown state: {e}")),
        }
    }
}

impl Drop for ChildProcess {
    fn drop(&mut self) {
        if self.exit_status().is_some() {
            return;
        }
        // SIGTERM first: nginx's master stops its workers on it (a SIGKILLed
        // master would orphan them), Weft shuts down cleanly.
        let _ = Command::new("kill")
            .args(["-TERM", &self.child.id().to_string()])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status();
        let deadline = Instant::now() + STOP_GRACE;
        while Instant::now() < deadline {
            if self.exit_status().is_some() {
                return;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        eprintln!("{} ignored SIGTERM for {STOP_GRACE:?}; killing it", self.name);
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Prints `lines` for the parent's [`ChildProcess::start`] (in a child).
pub fn announce(lines: &[String]) -> anyhow::Result<()> {
    let mut out = std::io::stdout().lock();
    for line in lines {
        writeln!(out, "{ANNOUNCED}{line}")?;
    }
    out.flush()?;
    Ok(())
}

/// This benchmark binary again, with `args` (a hidden server subcommand).
pub fn this_binary(args: &[&str]) -> anyhow::Result<Command> {
    let exe = std::env::current_exe().context("locating the bench binary")?;
    let mut command = Command::new(exe);
    command.args(args);
    Ok(command)
}

/// Waits until `addr` accepts TCP connections.
pub fn wait_for_port(addr: std::net::SocketAddr, timeout: Duration) -> anyhow::Result<()> {
    let deadline = Instant::now() + timeout;
    loop {
        if std::net::TcpStream::connect_timeout(&addr, Duration::from_millis(200)).is_ok() {
            return Ok(());
        }
        anyhow::ensure!(Instant::now() < deadline, "nothing listens on {addr} after {timeout:?}");
        std::thread::sleep(Duration::from_millis(20));
    }
}
