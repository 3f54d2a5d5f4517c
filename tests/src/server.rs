//! Runs the real `proximadb` binary for end-to-end tests.

use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::time::Duration;

/// A `proximadb serve` child process on a free port.
#[derive(Debug)]
pub struct ServerProcess {
    child: Child,
    /// `host:port` it listens on.
    pub addr: String,
}

impl ServerProcess {
    /// Starts `binary serve --bind 127.0.0.1:0 --data-dir DIR` plus `extra` args
    /// and `env` variables, and waits until it prints the address it bound.
    pub fn start(binary: &str, data_dir: &Path, extra: &[&str], env: &[(&str, &str)]) -> Self {
        Self::start_on(binary, "127.0.0.1:0", data_dir, extra, env)
    }

    /// [`ServerProcess::start`] on `bind` (a port chosen beforehand, for a
    /// node that must advertise its address: [`free_port`]).
    pub fn start_on(binary: &str, bind: &str, data_dir: &Path, extra: &[&str], env: &[(&str, &str)]) -> Self {
        let mut child = Command::new(binary)
            .args(["serve", "--bind", bind, "--data-dir"])
            .arg(data_dir)
            .args(extra)
            .env("PROXIMADB_LOG", "warn")
            .envs(env.iter().copied())
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .expect("start proximadb");
        let stderr = child.stderr.take().expect("stderr");
        let (tx, rx) = mpsc::channel();
        std::thread::spawn(move || {
            for line in BufReader::new(stderr).lines().map_while(Result::ok) {
                if let Some(addr) = line.split("listening on http://").nth(1) {
                    let _ = tx.send(addr.trim().to_string());
                } else {
                    eprintln!("[proximadb] {line}");
                }
            }
        });
        let addr = rx.recv_timeout(Duration::from_secs(60)).expect("proximadb did not report its address in 60 s");
        Self { child, addr }
    }

    /// The process id.
    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// SIGSTOP: the process stays, answering nothing, until [`ServerProcess::resume`].
    pub fn pause(&self) {
        let _ = Command::new("kill").args(["-STOP", &self.child.id().to_string()]).status();
    }

    /// SIGCONT after [`ServerProcess::pause`].
    pub fn resume(&self) {
        let _ = Command::new("kill").args(["-CONT", &self.child.id().to_string()]).status();
    }

    /// SIGKILL: no shutdown, no flush.
    pub fn kill_hard(mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }

    /// SIGTERM, then waits for a clean exit; returns whether it exited successfully.
    pub fn terminate(mut self) -> bool {
        let _ = Command::new("kill").args(["-TERM", &self.child.id().to_string()]).status();
        self.child.wait().map(|s| s.success()).unwrap_or(false)
    }
}

impl Drop for ServerProcess {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A port free on the loopback interface now (bound and released).
pub fn free_port() -> u16 {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind a free port");
    listener.local_addr().expect("its address").port()
}

/// Runs `binary serve` with `args` and `env`, expecting it to refuse to
/// start; returns what it printed on stderr.
pub fn refused_start(binary: &str, data_dir: &Path, args: &[&str], env: &[(&str, &str)]) -> String {
    let mut child = Command::new(binary)
        .args(["serve", "--bind", "127.0.0.1:0", "--data-dir"])
        .arg(data_dir)
        .args(args)
        .envs(env.iter().copied())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .expect("run proximadb");
    let deadline = std::time::Instant::now() + Duration::from_secs(60);
    let status = loop {
        if let Some(status) = child.try_wait().expect("wait for proximadb") {
            break status;
        }
        if std::time::Instant::now() > deadline {
            let _ = child.kill();
            panic!("proximadb kept running with a configuration it must refuse");
        }
        std::thread::sleep(Duration::from_millis(50));
    };
    let mut stderr = String::new();
    std::io::Read::read_to_string(&mut child.stderr.take().expect("stderr"), &mut stderr).expect("read stderr");
    assert!(!status.success(), "proximadb exited cleanly with a configuration it must refuse: {stderr}");
    stderr
}
