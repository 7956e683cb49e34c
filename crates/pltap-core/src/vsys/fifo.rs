//! One vsys FIFO transaction: write a request to `S.in`, read the reply from `S.out`.
//!
//! Fixes defects A2-A4 and suspects 1-3 of the original `vsys_transaction`: the whole
//! exchange runs under one total deadline (no `select` with a NULL timeout), `S.in` is
//! closed exactly once, the reply is read to EOF with a cap and no off-by-one, and
//! transactions are serialized, because vsys itself does not (S6): inside the process by
//! a mutex per root, across processes by `flock` on a descriptor of the vsys root
//! directory itself. That lock creates nothing on disk (nothing to leave behind, nothing
//! another user could pre-create or redirect with a symlink), can only be taken by who
//! may open the directory, and works the same for root and for the slice. Both FIFOs are
//! opened relative to that locked descriptor, with `O_NOFOLLOW`, and must be FIFOs.

use super::proto::check_script_name;
use crate::error::{Error, Result};
use crate::sys;
use std::collections::HashMap;
use std::fs::{File, OpenOptions};
use std::io::{self, Read, Write};
use std::os::fd::AsFd;
use std::os::unix::fs::{FileTypeExt, OpenOptionsExt};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, MutexGuard, OnceLock};
use std::time::{Duration, Instant};

/// Limits of a transaction.
#[derive(Clone, Debug)]
pub struct TransactOptions {
    /// Total time for the locks, open, write and read. Default 10 s.
    pub deadline: Duration,
    /// How long to keep retrying `ENXIO` on `S.in` (vsys is between two scripts, or
    /// down) before reporting it. Default 2 s, and never past `deadline`.
    pub open_retry: Duration,
    /// Reply bytes kept; the rest is read and discarded. Default 64 KiB.
    pub reply_cap: usize,
}

impl Default for TransactOptions {
    fn default() -> TransactOptions {
        TransactOptions { deadline: Duration::from_secs(10), open_retry: Duration::from_secs(2), reply_cap: 64 * 1024 }
    }
}

/// What a script wrote back.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Reply {
    /// The script's stdout and stderr, up to the cap (lossy UTF-8).
    pub output: String,
    /// Whether more than the cap was written (the excess was discarded).
    pub truncated: bool,
}

/// Runs one transaction with the vsys entry `<root>/<script>.{in,out}`, holding the
/// root's lock (see the module docs) from before the first open to after the last read.
///
/// Errors: `ENOENT`/`ENOTDIR`/`EACCES` opening the root or an entry, `ELOOP` for an entry
/// that is a symlink, [`Error::HelperProtocol`] for one that is not a FIFO, `ENXIO` when
/// no vsys daemon reads `S.in` within `open_retry`, [`Error::HelperTimeout`] at the deadline
/// (also while waiting for the lock).
///
/// ```no_run
/// use pltap_core::vsys::{transact, TransactOptions};
/// let reply = transact("/vsys".as_ref(), "vif_down", b"tap754-0\n", &TransactOptions::default())?;
/// println!("vif_down said {:?}", reply.output);
/// # Ok::<(), pltap_core::Error>(())
/// ```
pub fn transact(root: &Path, script: &str, request: &[u8], opts: &TransactOptions) -> Result<Reply> {
    check_script_name(script)?;
    let start = Instant::now();
    let deadline = start + opts.deadline;
    let op = format!("vsys {script}");
    let timeout = || Error::HelperTimeout { op: op.clone(), after: opts.deadline };

    let lock = root_mutex(root);
    let _local = acquire(&lock, deadline).ok_or_else(timeout)?;
    let dir = lock_root(root, deadline, opts, &op)?;

    // S.out first: vsys opens it for writing only once it sees S.in opened.
    let out_path = root.join(format!("{script}.out"));
    let mut out = open_fifo_reader(&dir, &out_path).map_err(|e| e.into_error(&out_path))?;
    let in_path = root.join(format!("{script}.in"));
    let input = open_writer_retrying(&dir, &in_path, (start + opts.open_retry).min(deadline))?;

    write_all(input, request, deadline, &in_path).map_err(|e| e.into_error(timeout))?;
    // `write_all` consumed and closed S.in: exactly once (suspect 2).

    read_to_eof(&mut out, opts.reply_cap, deadline, &out_path).map_err(|e| e.into_error(timeout))
}

/// Why a wait for a FIFO ended without it being ready.
enum WaitError {
    /// The transaction's deadline passed.
    TimedOut,
    /// The wait or the I/O itself failed.
    Os(Error),
}

impl WaitError {
    /// The error to report; `timeout` builds the one for [`WaitError::TimedOut`].
    fn into_error(self, timeout: impl FnOnce() -> Error) -> Error {
        match self {
            WaitError::TimedOut => timeout(),
            WaitError::Os(e) => e,
        }
    }
}

/// Why an entry could not be opened.
enum OpenFailure {
    Os(io::Error),
    NotFifo(&'static str),
}

impl OpenFailure {
    fn into_error(self, path: &Path) -> Error {
        match self {
            OpenFailure::Os(e) => Error::os(format!("open {}", path.display()), "open", e),
            OpenFailure::NotFifo(kind) => Error::HelperProtocol {
                op: format!("open {}", path.display()),
                detail: format!("it is a {kind}, not a FIFO"),
            },
        }
    }
}

/// Opens the reply end `<dir>/<file name of path>` (`O_RDONLY`), see [`open_fifo`].
fn open_fifo_reader(dir: &File, path: &Path) -> std::result::Result<File, OpenFailure> {
    open_fifo(dir, path, libc::O_RDONLY)
}

/// Opens the request end `<dir>/<file name of path>` (`O_WRONLY`: `ENXIO` while no vsys
/// daemon reads it), see [`open_fifo`].
fn open_fifo_writer(dir: &File, path: &Path) -> std::result::Result<File, OpenFailure> {
    open_fifo(dir, path, libc::O_WRONLY)
}

/// Opens `<dir>/<file name of path>` with `access`, nonblocking, without following a
/// symlink, and checks on the descriptor that it is a FIFO.
fn open_fifo(dir: &File, path: &Path, access: i32) -> std::result::Result<File, OpenFailure> {
    let name = Path::new(path.file_name().expect("an entry name"));
    let fd = sys::openat(dir.as_fd(), name.as_os_str(), access | libc::O_NONBLOCK | libc::O_NOFOLLOW, 0)
        .map_err(OpenFailure::Os)?;
    let file = File::from(fd);
    let kind = file.metadata().map_err(OpenFailure::Os)?.file_type();
    if !kind.is_fifo() {
        let what = if kind.is_file() {
            "regular file"
        } else if kind.is_dir() {
            "directory"
        } else if kind.is_socket() {
            "socket"
        } else {
            "special file"
        };
        return Err(OpenFailure::NotFifo(what));
    }
    Ok(file)
}

fn open_writer_retrying(dir: &File, path: &Path, give_up: Instant) -> Result<File> {
    let mut pause = Duration::from_millis(1);
    loop {
        match open_fifo_writer(dir, path) {
            Ok(f) => return Ok(f),
            Err(OpenFailure::Os(e)) if e.raw_os_error() == Some(libc::ENXIO) && Instant::now() < give_up => {
                // Never sleep past `give_up`, and try once more there: the whole window
                // is used, not cut short by the last pause.
                std::thread::sleep(pause.min(give_up.saturating_duration_since(Instant::now())));
                pause = (pause * 2).min(Duration::from_millis(50));
            }
            Err(OpenFailure::Os(e)) if e.raw_os_error() == Some(libc::ENXIO) => {
                return Err(Error::os(
                    format!("open {} (no reader: is the vsys daemon running?)", path.display()),
                    "open",
                    e,
                ));
            }
            Err(other) => return Err(other.into_error(path)),
        }
    }
}

/// Polls `file` for `events` until `deadline`; the revents, or 0 when a signal
/// interrupted the wait.
fn wait(file: &File, events: i16, deadline: Instant) -> std::result::Result<i16, WaitError> {
    let left = deadline.checked_duration_since(Instant::now()).ok_or(WaitError::TimedOut)?;
    let mut rev = [0i16];
    let n = sys::poll(&[(file.as_fd(), events)], &mut rev, sys::poll_timeout_ms(left))
        .map_err(|e| WaitError::Os(Error::os("poll", "poll", e)))?;
    match n {
        0 if Instant::now() >= deadline => Err(WaitError::TimedOut),
        0 => Ok(0),
        _ => Ok(rev[0]),
    }
}

fn write_all(mut input: File, mut buf: &[u8], deadline: Instant, path: &Path) -> std::result::Result<(), WaitError> {
    while !buf.is_empty() {
        match input.write(buf) {
            Ok(n) => buf = &buf[n..],
            Err(e) if e.kind() == io::ErrorKind::WouldBlock => {
                wait(&input, sys::POLLOUT, deadline)?;
            }
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => return Err(WaitError::Os(Error::os(format!("write {}", path.display()), "write", e))),
        }
    }
    Ok(())
}

fn read_to_eof(out: &mut File, cap: usize, deadline: Instant, path: &Path) -> std::result::Result<Reply, WaitError> {
    let mut kept = Vec::new();
    let mut truncated = false;
    let mut chunk = [0u8; 4096];
    loop {
        // A FIFO read end with no writer yet reads as EOF, so only read once poll
        // reports data or a hang-up (which Linux gives only after a writer came and went).
        if wait(out, sys::POLLIN, deadline)? == 0 {
            continue;
        }
        loop {
            match out.read(&mut chunk) {
                Ok(0) => {
                    return Ok(Reply { output: String::from_utf8_lossy(&kept).into_owned(), truncated });
                }
                Ok(n) => {
                    let room = cap.saturating_sub(kept.len());
                    kept.extend_from_slice(&chunk[..n.min(room)]);
                    truncated |= n > room;
                }
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => break,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) => return Err(WaitError::Os(Error::os(format!("read {}", path.display()), "read", e))),
            }
        }
    }
}

type RootLocks = Mutex<HashMap<PathBuf, Arc<Mutex<()>>>>;

/// The in-process mutex of `root` (threads of one process queue here rather than on the
/// `flock`, which they would otherwise poll).
fn root_mutex(root: &Path) -> Arc<Mutex<()>> {
    static LOCKS: OnceLock<RootLocks> = OnceLock::new();
    let mut map = LOCKS.get_or_init(Default::default).lock().unwrap_or_else(|p| p.into_inner());
    map.entry(root.to_path_buf()).or_default().clone()
}

/// Takes `lock`, polling until `deadline`.
fn acquire(lock: &Mutex<()>, deadline: Instant) -> Option<MutexGuard<'_, ()>> {
    loop {
        match lock.try_lock() {
            Ok(guard) => return Some(guard),
            Err(std::sync::TryLockError::Poisoned(p)) => return Some(p.into_inner()),
            Err(std::sync::TryLockError::WouldBlock) if Instant::now() < deadline => {
                std::thread::sleep(Duration::from_millis(2));
            }
            Err(std::sync::TryLockError::WouldBlock) => return None,
        }
    }
}

/// Opens `root` (`O_RDONLY | O_DIRECTORY | O_CLOEXEC`) and takes `flock(LOCK_EX)` on that
/// descriptor, polling until `deadline`. The lock goes with the descriptor: on drop, or
/// when the process dies.
fn lock_root(root: &Path, deadline: Instant, opts: &TransactOptions, op: &str) -> Result<File> {
    let dir = OpenOptions::new()
        .read(true)
        .custom_flags(libc::O_DIRECTORY | libc::O_CLOEXEC)
        .open(root)
        .map_err(|e| Error::os(format!("open the vsys root {}", root.display()), "open", e))?;
    loop {
        if sys::try_lock_exclusive(dir.as_fd())
            .map_err(|e| Error::os(format!("flock {}", root.display()), "flock", e))?
        {
            return Ok(dir);
        }
        if Instant::now() >= deadline {
            return Err(Error::HelperTimeout {
                op: format!("{op} (waiting for the lock on {})", root.display()),
                after: opts.deadline,
            });
        }
        std::thread::sleep(Duration::from_millis(2));
    }
}
