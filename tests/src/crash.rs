//! The shared part of the SIGKILL crash tests: run this test binary again as a
//! writer, let it write for a while, kill it, and collect what it acknowledged.

use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::Duration;

/// Kill rounds: `PROXIMA_CRASH_ITERATIONS`, 50 by default.
pub fn iterations() -> u64 {
    std::env::var("PROXIMA_CRASH_ITERATIONS").ok().and_then(|v| v.parse().ok()).unwrap_or(50)
}

/// A seed from the clock; tests print it with every failure.
pub fn seed() -> u64 {
    std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map(|d| d.as_nanos() as u64).unwrap_or(1) | 1
}

/// A small xorshift generator for kill timings.
#[derive(Debug, Clone)]
pub struct Rng(pub u64);

impl Rng {
    /// A number in `0..n`.
    pub fn below(&mut self, n: u64) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0 % n.max(1)
    }
}

/// The line a child prints once it is open and about to write: see
/// [`kill_child_once_ready`].
pub const READY: &str = "READY";

/// When the kill comes.
#[derive(Debug, Clone, Copy)]
pub enum KillAt {
    /// This long after the child starts: it may still be opening (recovery).
    AfterStart(Duration),
    /// This long after it prints [`READY`] (waited for up to a minute): it is
    /// writing, however slowly it opened.
    AfterReady(Duration),
}

/// Runs test `test_name` of the current test binary as a child with `var` set
/// to `dir`, SIGKILLs it after `run_for`, and returns the text after `ACK ` of
/// every acknowledgement line it printed (found anywhere in a line: libtest
/// prints `test <name> ... ` without a newline before the child's first line).
pub fn kill_child_after(test_name: &str, var: &str, dir: &Path, run_for: Duration) -> Vec<String> {
    kill_child(test_name, var, dir, KillAt::AfterStart(run_for))
}

/// As [`kill_child_after`], the kill timed as `at` says.
pub fn kill_child(test_name: &str, var: &str, dir: &Path, at: KillAt) -> Vec<String> {
    let exe = std::env::current_exe().expect("the test binary's path");
    let mut child = Command::new(exe)
        .args([test_name, "--exact", "--nocapture", "--test-threads", "1"])
        .env(var, dir)
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("spawn the writer");
    let stdout = child.stdout.take().expect("piped stdout");
    let (ready, ready_seen) = std::sync::mpsc::channel();
    let reader = std::thread::spawn(move || {
        let mut acks = Vec::new();
        for line in BufReader::new(stdout).lines().map_while(Result::ok) {
            if line.contains(READY) {
                let _ = ready.send(());
            }
            if let Some(at) = line.find("ACK ") {
                acks.push(line[at + 4..].trim().to_string());
            }
        }
        acks
    });
    match at {
        KillAt::AfterStart(run_for) => std::thread::sleep(run_for),
        KillAt::AfterReady(run_for) => {
            // A child that dies before it is ready has nothing to kill.
            if ready_seen.recv_timeout(Duration::from_secs(60)).is_ok() {
                std::thread::sleep(run_for);
            }
        }
    }
    child.kill().expect("SIGKILL the writer");
    child.wait().expect("reap the writer");
    reader.join().expect("the reader thread")
}
