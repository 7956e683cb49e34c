//! Helpers shared by the integration tests of `pltap-core` and `pltap-vsysd`: the
//! privilege gate, the network-namespace sandbox, a temporary directory, child processes
//! and deadline polling. A dev-dependency only (`publish = false`).
//!
//! Network safety: every test that creates a device does so inside [`in_netns`] (or
//! [`privileged`], which calls it), a thread that has moved itself into a fresh, empty
//! network namespace. Devices die with their descriptors, the namespace dies with the
//! thread (and any child process it started), so nothing ever touches the host's network.
//! Addresses come only from the benchmarking range 198.18.0.0/15 (RFC 2544).
//!
//! ```no_run
//! use pltap_test_support::privileged;
//! // A privileged test is one line: it skips (saying why) without root, else runs in a
//! // namespace of its own.
//! privileged(|| assert!(pltap_core::Tap::open(&Default::default()).is_ok()));
//! ```
#![deny(missing_docs, missing_debug_implementations)]

use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::{RwLock, RwLockReadGuard, RwLockWriteGuard};
use std::time::{Duration, Instant};

/// Whether privileged tests can run here; prints why not to stderr (the test then
/// returns early and counts as passed, as nix's `require_capability!` does).
pub fn require_root() -> bool {
    let euid = pltap_core::sys::effective_uid();
    if euid != 0 {
        eprintln!("SKIPPED: this test needs root (CAP_NET_ADMIN, CAP_SYS_ADMIN for unshare); euid is {euid}");
        return false;
    }
    if !Path::new("/dev/net/tun").exists() {
        eprintln!("SKIPPED: /dev/net/tun does not exist (load the tun module)");
        return false;
    }
    true
}

/// Runs `f` on a new thread that lives in a new network namespace of its own, with `lo`
/// up and IPv6 disabled (so the kernel sends no router solicitations, MLD reports or DAD
/// probes that would disturb exact frame and counter checks). A panic inside `f` is
/// resumed on the caller's thread.
pub fn in_netns<T: Send>(f: impl FnOnce() -> T + Send) -> T {
    pltap_core::run_in_new_network_namespace(move || {
        // Both writes go to the namespace of the calling thread (/proc/sys/net is
        // resolved per task). IPv6 may be compiled out: then there is nothing to quiet.
        for knob in ["all", "default"] {
            let path = format!("/proc/sys/net/ipv6/conf/{knob}/disable_ipv6");
            if Path::new(&path).exists() {
                std::fs::write(&path, "1").unwrap_or_else(|e| panic!("write {path}: {e}"));
            }
        }
        f()
    })
    .expect("a new network namespace with lo up")
}

static SERIAL: RwLock<()> = RwLock::new(());

/// Taken by every test of a binary that has a descriptor-counting test, so that the
/// counting test ([`exclusive`]) sees no descriptor opened by a concurrent test.
pub fn shared() -> RwLockReadGuard<'static, ()> {
    SERIAL.read().unwrap_or_else(|p| p.into_inner())
}

/// Taken by descriptor-counting tests: no other test of the binary runs meanwhile.
pub fn exclusive() -> RwLockWriteGuard<'static, ()> {
    SERIAL.write().unwrap_or_else(|p| p.into_inner())
}

/// The prologue of a privileged test in one call: `None` (after saying why) without
/// root, else `f`'s result, run in a namespace of its own ([`in_netns`]) while holding
/// [`shared`].
pub fn privileged<T: Send>(f: impl FnOnce() -> T + Send) -> Option<T> {
    if !require_root() {
        return None;
    }
    let _g = shared();
    Some(in_netns(f))
}

/// [`privileged`] for a descriptor-counting test: holds [`exclusive`] instead.
pub fn privileged_exclusive<T: Send>(f: impl FnOnce() -> T + Send) -> Option<T> {
    if !require_root() {
        return None;
    }
    let _g = exclusive();
    Some(in_netns(f))
}

/// The number of open descriptors of the process.
pub fn fd_count() -> usize {
    std::fs::read_dir("/proc/self/fd").expect("read /proc/self/fd").count()
}

/// A temporary directory (mode 0755, whatever the umask: the helper refuses a group- or
/// other-writable parent, and unprivileged clients must be able to traverse it), removed
/// with everything in it on drop.
#[derive(Debug)]
pub struct TempDir(PathBuf);

impl TempDir {
    /// A new, empty directory under the system temp dir, its name tagged with `tag`.
    pub fn new(tag: &str) -> TempDir {
        static N: AtomicU32 = AtomicU32::new(0);
        let nanos = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map_or(0, |d| d.subsec_nanos());
        let path = std::env::temp_dir().join(format!(
            "pltap-test-{tag}-{}-{}-{nanos}",
            std::process::id(),
            N.fetch_add(1, Ordering::Relaxed)
        ));
        let _ = std::fs::remove_dir_all(&path);
        std::fs::create_dir(&path).unwrap_or_else(|e| panic!("mkdir {}: {e}", path.display()));
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o755))
            .unwrap_or_else(|e| panic!("chmod {}: {e}", path.display()));
        TempDir(path)
    }

    /// Its path.
    pub fn path(&self) -> &Path {
        &self.0
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// A child process that is killed and reaped when the guard is dropped.
#[derive(Debug)]
pub struct ChildGuard(Child);

impl ChildGuard {
    /// Spawns `cmd` with stdin, stdout and stderr on `/dev/null`.
    pub fn spawn(cmd: &mut Command) -> ChildGuard {
        ChildGuard(cmd.stdin(Stdio::null()).stdout(Stdio::null()).stderr(Stdio::null()).spawn().expect("spawn child"))
    }

    /// The child's process id.
    pub fn id(&self) -> u32 {
        self.0.id()
    }
}

impl Drop for ChildGuard {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// Runs a command to completion (from the calling thread, so in its namespace) and
/// returns its stdout; panics with its stderr if it fails.
pub fn run(program: &str, args: &[&str]) -> String {
    let out =
        Command::new(program).args(args).stdin(Stdio::null()).output().unwrap_or_else(|e| panic!("run {program}: {e}"));
    assert!(
        out.status.success(),
        "{program} {args:?} failed with {}: {}",
        out.status,
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// Polls `cond` every 10 ms until it returns `Some` or `timeout` passes (a wait for a
/// condition with a deadline, never a sleep standing in for synchronisation).
pub fn poll_until<T>(timeout: Duration, mut cond: impl FnMut() -> Option<T>) -> Option<T> {
    let end = Instant::now() + timeout;
    loop {
        if let Some(v) = cond() {
            return Some(v);
        }
        if Instant::now() >= end {
            return None;
        }
        std::thread::sleep(Duration::from_millis(10));
    }
}
