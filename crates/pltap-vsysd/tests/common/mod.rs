//! Shared helpers of the privileged tests.
//!
//! Network safety: everything that touches a device or the helper runs inside
//! [`in_netns`], a thread that moved itself into a fresh, empty network namespace;
//! processes it spawns inherit that namespace and die with their [`Helper`] guard.
//! Addresses come only from 198.18.0.0/15 (RFC 2544).
#![allow(dead_code)]

use pltap_core::vsys::{TransactOptions, Vsys};
use std::io::{BufRead, BufReader, Read};
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// Runs `f` on a new thread living in a new network namespace with `lo` up; a panic in
/// `f` is resumed on the caller's thread.
pub fn in_netns<T: Send>(f: impl FnOnce() -> T + Send) -> T {
    pltap_core::run_in_new_network_namespace(f).expect("a new network namespace with lo up")
}

/// Whether privileged tests can run here; prints why not.
pub fn require_root() -> bool {
    if pltap_core::sys::effective_uid() != 0 {
        eprintln!("SKIPPED: needs root (CAP_NET_ADMIN and CAP_SYS_ADMIN for unshare)");
        return false;
    }
    if !Path::new("/dev/net/tun").exists() {
        eprintln!("SKIPPED: /dev/net/tun does not exist");
        return false;
    }
    true
}

/// A directory under the system temp dir, removed (recursively) on drop.
pub struct TempDir(PathBuf);

impl TempDir {
    pub fn new(tag: &str) -> TempDir {
        static N: AtomicU32 = AtomicU32::new(0);
        let nanos = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().subsec_nanos();
        let path = std::env::temp_dir().join(format!(
            "pltap-vsysd-{tag}-{}-{}-{nanos}",
            std::process::id(),
            N.fetch_add(1, Ordering::SeqCst)
        ));
        std::fs::create_dir(&path).expect("create the temp dir");
        // Explicitly 0755 whatever the umask: the helper refuses a group- or
        // other-writable parent, and unprivileged clients must be able to traverse it.
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o755)).expect("chmod the temp dir");
        TempDir(path)
    }

    pub fn path(&self) -> &Path {
        &self.0
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

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
        let until = Instant::now() + timeout;
        while Instant::now() < until {
            if self.stderr().contains(needle) {
                return true;
            }
            std::thread::sleep(Duration::from_millis(10));
        }
        false
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
        let until = Instant::now() + timeout;
        let child = self.child.as_mut()?;
        loop {
            if let Some(st) = child.try_wait().expect("try_wait") {
                self.child = None;
                return Some(st);
            }
            if Instant::now() >= until {
                return None;
            }
            std::thread::sleep(Duration::from_millis(10));
        }
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

/// Runs a command and returns its stdout (panics on failure).
pub fn run(cmd: &str, args: &[&str]) -> String {
    let out = Command::new(cmd).args(args).output().unwrap_or_else(|e| panic!("run {cmd}: {e}"));
    assert!(out.status.success(), "{cmd} {args:?} failed: {}", String::from_utf8_lossy(&out.stderr));
    String::from_utf8_lossy(&out.stdout).into_owned()
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
    let until = Instant::now() + Duration::from_secs(10);
    let status = loop {
        if let Some(st) = child.try_wait().expect("try_wait") {
            break Some(st);
        }
        if Instant::now() >= until {
            let _ = child.kill();
            let _ = child.wait();
            break None;
        }
        std::thread::sleep(Duration::from_millis(10));
    };
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
