//! Running one test in a process of its own, and reading what that process
//! holds.
//!
//! The tests of a binary run in parallel threads of one process, so they
//! share its environment, its resident memory and its file descriptors. A
//! test that measures those, or needs a variable in the environment, re-runs
//! itself alone in a child process: `set_var` in a threaded process is
//! unsound, and the figures would otherwise include the other tests' work.

use std::process::Command;

/// Set in the child to the name of the test it runs alone.
const ALONE: &str = "WEFT_TEST_ALONE";

/// Re-runs test `name` (its path in the test binary, e.g.
/// `test_hostile::env_is_empty`) alone in a child process of this binary,
/// with `env` added to the child's environment, and fails unless it passed.
///
/// Returns `true` in that child, where the test does its work, and `false`
/// in the parent once the child has passed; a test starts with
/// `if !alone(name, env) { return; }`.
pub fn alone(name: &str, env: &[(&str, &str)]) -> bool {
    if std::env::var(ALONE).is_ok_and(|v| v == name) {
        return true;
    }
    let exe = std::env::current_exe().expect("the test binary's path");
    let out = Command::new(exe)
        .args([name, "--exact", "--nocapture", "--test-threads=1"])
        .env(ALONE, name)
        .envs(env.iter().copied())
        .output()
        .expect("starting the test binary");
    let stdout = String::from_utf8_lossy(&out.stdout);
    print!("{stdout}");
    eprint!("{}", String::from_utf8_lossy(&out.stderr));
    assert!(out.status.success(), "{name} failed in its own process ({})", out.status);
    // A misspelt name selects no test, and no test passes.
    assert!(stdout.contains("test result: ok. 1 passed"), "{name} did not run in its own process");
    false
}

/// Resident set size of this process, in KiB (`VmRSS` of `/proc/self/status`).
pub fn rss_kib() -> u64 {
    let status = std::fs::read_to_string("/proc/self/status").expect("reading /proc/self/status");
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        .expect("/proc/self/status has VmRSS")
}

/// File descriptors this process holds open (entries of `/proc/self/fd`,
/// including the one that reads the directory).
pub fn open_fds() -> usize {
    std::fs::read_dir("/proc/self/fd").expect("reading /proc/self/fd").count()
}
