//! Shared helpers of the privileged tests.
//!
//! Network safety: everything that touches a device or the helper runs inside
//! [`in_netns`], a thread that moved itself into a fresh, empty network namespace;
//! processes it spawns inherit that namespace and die with their [`Helper`] guard.
//! Addresses come only from 198.18.0.0/15 (RFC 2544).
#![allow(dead_code, unused_imports)]

// The privilege gate, the namespace sandbox, `TempDir`, `run` and `poll_until` are shared
// with pltap-core's tests.
pub use pltap_test_support::*;

use pltap_core::vsys::{TransactOptions, Vsys};
use std::io::{BufRead, BufReader, Read};
use std::path::Path;
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// Transaction options for the tests' clients (the client locks the vsys root itself and
/// creates no lock files, so `_locks` is unused). The one place that knows how the
/// client's cross-process lock is configured.
pub fn transact_options(_locks: &Path) -> TransactOptions {
    TransactOptions { deadline: Duration::from_secs(10), ..TransactOptions::default() }
}

/// A vsys client for `dir`.
pub fn client(dir: &Path, locks: &Path) -> Vsys {
    Vsys::new(dir).with_options(transact_options(locks))
}

/// The helper binary running as a child process. Killed (SIGKILL) on drop unless it
/// already exited.
pub struct Helper {
    child: Option<Child>,
    stderr: Arc<Mutex<String>>,
    pub ready_line: String,
}

pub const BIN: &str = env!("CARGO_BIN_EXE_pltap-vsysd");

impl Helper {
    /// Starts `pltap-vsysd <args>` (call inside [`in_netns`]) and waits for its
    /// "serving" line.
    pub fn start(args: &[&str]) -> Helper {
        Helper::spawn(Command::new(BIN).args(args))
    }

    /// Like [`Helper::start`], with the helper's umask set to `umask` (octal) first.
    pub fn start_with_umask(umask: &str, args: &[&str]) -> Helper {
        Helper::spawn(Command::new("sh").args(["-c", &format!("umask {umask} && exec \"$0\" \"$@\""), BIN]).args(args))
    }

    fn spawn(cmd: &mut Command) -> Helper {
        let mut child =
            cmd.stdin(Stdio::null()).stdout(Stdio::piped()).stderr(Stdio::piped()).spawn().expect("spawn pltap-vsysd");
        let stderr = Arc::new(Mutex::new(String::new()));
        let mut err_pipe = child.stderr.take().unwrap();
        let sink = stderr.clone();
        std::thread::spawn(move || {
            let mut buf = [0u8; 4096];
            while let Ok(n) = err_pipe.read(&mut buf) {
                if n == 0 {
                    break;
                }
                sink.lock().unwrap().push_str(&String::from_utf8_lossy(&buf[..n]));
            }
        });
        let out = child.stdout.take().unwrap();
        let (tx, rx) = std::sync::mpsc::channel();
        std::thread::spawn(move || {
            let mut line = String::new();
            let _ = BufReader::new(out).read_line(&mut line);
            let _ = tx.send(line);
        });
        let mut helper = Helper { child: Some(child), stderr, ready_line: String::new() };
        match rx.recv_timeout(Duration::from_secs(10)) {
            Ok(line) if line.starts_with("pltap-vsysd: serving ") => helper.ready_line = line,
            other => panic!("pltap-vsysd did not get ready: {other:?}; stderr: {}", helper.stderr()),
        }
        helper
    }

    /// Everything the helper logged so far.
    pub fn stderr(&self) -> String {
        self.stderr.lock().unwrap().clone()
    }

    /// Waits (up to `timeout`) until the log contains `needle`.
    pub fn wait_log(&self, needle: &str, timeout: Duration) -> bool {
        poll_until(timeout, || self.stderr().contains(needle).then_some(())).is_some()
    }

    pub fn pid(&self) -> u32 {
        self.child.as_ref().unwrap().id()
    }

    /// Sends `signal` (e.g. "TERM") with kill(1).
    pub fn signal(&self, signal: &str) {
        let st = Command::new("kill").arg(format!("-{signal}")).arg(self.pid().to_string()).status().expect("run kill");
        assert!(st.success(), "kill -{signal} failed");
    }

    /// Waits up to `timeout` for the helper to exit.
    pub fn wait_exit(&mut self, timeout: Duration) -> Option<ExitStatus> {
        let child = self.child.as_mut()?;
        let st = poll_until(timeout, || child.try_wait().expect("try_wait"))?;
        self.child = None;
        Some(st)
    }
}

impl Drop for Helper {
    fn drop(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

/// What a helper that was expected to refuse did: its exit status (None: it was still
/// running after the deadline and was killed) and its output.
pub struct Refused {
    pub status: Option<ExitStatus>,
    pub stdout: String,
    pub stderr: String,
}

/// Runs `pltap-vsysd <args>` expecting it to exit by itself within 10 s.
pub fn run_helper_to_exit(args: &[&str]) -> Refused {
    let mut child = Command::new(BIN)
        .args(args)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn pltap-vsysd");
    let status = poll_until(Duration::from_secs(10), || child.try_wait().expect("try_wait"));
    if status.is_none() {
        let _ = child.kill();
        let _ = child.wait();
    }
    let mut stdout = String::new();
    let mut stderr = String::new();
    let _ = child.stdout.take().unwrap().read_to_string(&mut stdout);
    let _ = child.stderr.take().unwrap().read_to_string(&mut stderr);
    Refused { status, stdout, stderr }
}

impl Helper {
    /// SIGTERMs the helper and waits for a clean exit (panics otherwise).
    pub fn stop(mut self) {
        self.signal("TERM");
        let st = self.wait_exit(Duration::from_secs(10)).expect("pltap-vsysd did not exit on SIGTERM");
        assert!(st.success(), "exit status {st:?}; log: {}", self.stderr());
    }
}
