//! Network namespaces as descriptors: opening one by path, telling two apart, and running
//! code inside one.

use crate::error::{Error, Result};
use crate::sys;
use std::os::fd::{AsFd, BorrowedFd, OwnedFd};
use std::os::unix::fs::MetadataExt;
use std::path::Path;

/// Opens a network namespace by path (`/run/netns/X`, `/proc/PID/ns/net`), read-only and
/// close-on-exec. `ENOENT` for a missing path; `EINVAL` once used, if it is not a
/// network namespace.
pub fn open(path: &Path) -> Result<OwnedFd> {
    sys::open_path(path, libc::O_RDONLY | libc::O_CLOEXEC)
        .map_err(|e| Error::os(format!("open network namespace {}", path.display()), "open", e))
}

/// The identity of a namespace descriptor (its nsfs inode), as `ip netns identify` compares.
pub fn id_of(ns: BorrowedFd<'_>) -> Result<u64> {
    sys::fstat(ns).map(|st| st.ino).map_err(|e| Error::os("fstat a network namespace", "fstat", e))
}

/// The identity of the calling thread's network namespace.
pub fn current_id() -> u64 {
    std::fs::metadata("/proc/thread-self/ns/net").map(|m| m.ino()).unwrap_or(0)
}

/// Runs `f` on a new thread that first enters the namespace `ns` (`setns`), and returns
/// what it returns. The caller's threads are not moved. A panic in `f` is resumed here.
///
/// ```no_run
/// use pltap_core::iface::netns;
/// let ns = netns::open("/run/netns/blue".as_ref())?;
/// let sock = netns::run_in(std::os::fd::AsFd::as_fd(&ns), pltap_core::iface::control_socket)??;
/// # Ok::<(), pltap_core::Error>(())
/// ```
pub fn run_in<T: Send>(ns: BorrowedFd<'_>, f: impl FnOnce() -> T + Send) -> Result<T> {
    let ns = ns.try_clone_to_owned().map_err(|e| Error::os("duplicate a namespace descriptor", "fcntl", e))?;
    std::thread::scope(|s| {
        let handle = s.spawn(move || -> Result<T> {
            sys::link::setns_net(ns.as_fd()).map_err(|e| Error::os("enter a network namespace", "setns", e))?;
            Ok(f())
        });
        match handle.join() {
            Ok(v) => v,
            Err(panic) => std::panic::resume_unwind(panic),
        }
    })
}
