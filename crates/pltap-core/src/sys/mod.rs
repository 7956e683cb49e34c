//! The only module of `pltap-core` that talks to the kernel through `unsafe` code.
//!
//! Each function is a small, safe wrapper over one system call: it takes owned or
//! borrowed descriptors (bare integers only in [`duplicate_raw_fd`] and
//! [`queue::take_raw_fd`], the edges where a number from JavaScript becomes a
//! descriptor), returns `io::Result`, and opens every
//! descriptor it creates with `O_CLOEXEC`. Everything above this module is safe Rust.
//!
//! Nothing public here can hand the kernel a pointer it would misread: the generic
//! `ifreq` ioctl, whose soundness depends on the request number, is crate-private.
#![allow(unsafe_code)]

mod ifreq;
pub mod link;
pub mod linux;
pub mod queue;
pub mod vnet;

pub(crate) use ifreq::{IfReq, ioctl_ifreq};

use std::ffi::CString;
use std::io;
use std::mem::{size_of, zeroed};
use std::os::fd::{AsRawFd, BorrowedFd, FromRawFd, OwnedFd, RawFd};
use std::os::unix::ffi::OsStrExt;
use std::path::Path;

/// Turns a `-1` return into the thread's `errno`.
fn cvt(ret: libc::c_int) -> io::Result<libc::c_int> {
    if ret < 0 { Err(io::Error::last_os_error()) } else { Ok(ret) }
}

/// Same as [`cvt`] for calls that return `ssize_t`.
fn cvt_size(ret: libc::ssize_t) -> io::Result<usize> {
    if ret < 0 { Err(io::Error::last_os_error()) } else { Ok(ret as usize) }
}

/// Wraps a freshly returned descriptor, which nothing else owns.
fn owned(fd: RawFd) -> OwnedFd {
    // SAFETY: `fd` was just returned by a successful syscall that creates a new
    // descriptor, so it is open and owned by no other object.
    unsafe { OwnedFd::from_raw_fd(fd) }
}

/// `socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0)`: the handle for interface ioctls.
pub fn inet_dgram_socket() -> io::Result<OwnedFd> {
    // SAFETY: plain syscall with constant arguments; no memory is passed.
    let fd = cvt(unsafe { libc::socket(libc::AF_INET, libc::SOCK_DGRAM | libc::SOCK_CLOEXEC, 0) })?;
    Ok(owned(fd))
}

/// `eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK)`: a wake-up handle for reader threads.
pub fn eventfd() -> io::Result<OwnedFd> {
    // SAFETY: plain syscall with constant arguments; no memory is passed.
    let fd = cvt(unsafe { libc::eventfd(0, libc::EFD_CLOEXEC | libc::EFD_NONBLOCK) })?;
    Ok(owned(fd))
}

/// Sets or clears `O_NONBLOCK` with `fcntl(F_GETFL/F_SETFL)`.
pub fn set_nonblocking(fd: BorrowedFd<'_>, on: bool) -> io::Result<()> {
    // SAFETY: F_GETFL takes no pointer argument.
    let flags = cvt(unsafe { libc::fcntl(fd.as_raw_fd(), libc::F_GETFL) })?;
    let new = if on { flags | libc::O_NONBLOCK } else { flags & !libc::O_NONBLOCK };
    if new != flags {
        // SAFETY: F_SETFL takes an int argument.
        cvt(unsafe { libc::fcntl(fd.as_raw_fd(), libc::F_SETFL, new) })?;
    }
    Ok(())
}

/// Whether `fd` has `O_NONBLOCK` set (`fcntl(F_GETFL)`).
pub fn is_nonblocking(fd: BorrowedFd<'_>) -> io::Result<bool> {
    // SAFETY: F_GETFL takes no pointer argument.
    let flags = cvt(unsafe { libc::fcntl(fd.as_raw_fd(), libc::F_GETFL) })?;
    Ok(flags & libc::O_NONBLOCK != 0)
}

/// Readiness asked of and reported by [`poll`].
pub use libc::{POLLERR, POLLHUP, POLLIN, POLLNVAL, POLLOUT};

/// [`poll`]'s timeout for a wait of `d`: whole milliseconds, at least 1 (a remainder
/// under a millisecond must not become `0`, which returns at once and makes a deadline
/// loop spin) and at most `i32::MAX`. Cap `d` first (`d.min(..)`) to wake up regularly.
///
/// ```
/// use pltap_core::sys::poll_timeout_ms;
/// use std::time::Duration;
/// assert_eq!(poll_timeout_ms(Duration::from_micros(10)), 1);
/// assert_eq!(poll_timeout_ms(Duration::from_millis(250)), 250);
/// assert_eq!(poll_timeout_ms(Duration::MAX), i32::MAX);
/// ```
pub fn poll_timeout_ms(d: std::time::Duration) -> i32 {
    d.as_millis().clamp(1, i32::MAX as u128) as i32
}

/// `poll(2)` over `(fd, events)` pairs; fills `revents` and returns how many are ready.
/// `EINTR` is returned as `Ok(0)`, as a timeout: callers wait in deadline loops (or, like
/// [`crate::Tap::wait_readable`], say that `false` may also mean a signal).
pub fn poll(fds: &[(BorrowedFd<'_>, i16)], revents: &mut [i16], timeout_ms: i32) -> io::Result<usize> {
    let mut pfds: Vec<libc::pollfd> =
        fds.iter().map(|(fd, ev)| libc::pollfd { fd: fd.as_raw_fd(), events: *ev, revents: 0 }).collect();
    // SAFETY: `pfds` is a live, correctly sized array of `pollfd` for the whole call.
    let ret = unsafe { libc::poll(pfds.as_mut_ptr(), pfds.len() as libc::nfds_t, timeout_ms) };
    match cvt(ret) {
        Ok(n) => {
            for (out, p) in revents.iter_mut().zip(&pfds) {
                *out = p.revents;
            }
            Ok(n as usize)
        }
        Err(e) if e.kind() == io::ErrorKind::Interrupted => Ok(0),
        Err(e) => Err(e),
    }
}

/// What [`recv_with_fds`] got: the payload length, the descriptors that came with it
/// (each already owned, so surplus ones close on drop) and whether the kernel had to
/// truncate the control data (`MSG_CTRUNC`).
#[derive(Debug)]
pub struct ReceivedFds {
    /// Bytes of payload received; 0 means the peer closed the stream.
    pub len: usize,
    /// Every `SCM_RIGHTS` descriptor received, opened close-on-exec.
    pub fds: Vec<OwnedFd>,
    /// `MSG_CTRUNC`: more descriptors were sent than the buffer could hold.
    pub control_truncated: bool,
}

/// `recvmsg(fd, MSG_CMSG_CLOEXEC)` with room for up to `max_fds` `SCM_RIGHTS`
/// descriptors. Only `SOL_SOCKET`/`SCM_RIGHTS` messages are taken; their length is
/// checked against the header before any descriptor is read.
pub fn recv_with_fds(fd: BorrowedFd<'_>, buf: &mut [u8], max_fds: usize) -> io::Result<ReceivedFds> {
    let fd_bytes = (max_fds.max(1) * size_of::<RawFd>()) as u32;
    // SAFETY: CMSG_SPACE is a pure size computation.
    let space = unsafe { libc::CMSG_SPACE(fd_bytes) } as usize;
    // u64 storage keeps the control buffer aligned for `cmsghdr`.
    let mut control = vec![0u64; space.div_ceil(8)];
    let mut iov = libc::iovec { iov_base: buf.as_mut_ptr().cast(), iov_len: buf.len() };
    // SAFETY: an all-zero msghdr is a valid empty header.
    let mut msg: libc::msghdr = unsafe { zeroed() };
    msg.msg_iov = &mut iov;
    msg.msg_iovlen = 1;
    msg.msg_control = control.as_mut_ptr().cast();
    msg.msg_controllen = space as _;
    // SAFETY: `msg` points at `iov` (into `buf`) and `control`, both live and writable
    // for their stated lengths during the call.
    let len = cvt_size(unsafe { libc::recvmsg(fd.as_raw_fd(), &mut msg, libc::MSG_CMSG_CLOEXEC) })?;
    let mut fds = Vec::new();
    // SAFETY: `msg` was filled in by the kernel; CMSG_FIRSTHDR/NXTHDR only walk inside
    // `msg_control[..msg_controllen]` and return null at its end.
    let mut cmsg = unsafe { libc::CMSG_FIRSTHDR(&msg) };
    while !cmsg.is_null() {
        // SAFETY: `cmsg` is non-null and points at a header inside the control buffer.
        let hdr = unsafe { &*cmsg };
        // SAFETY: CMSG_LEN is a pure size computation.
        let header_len = unsafe { libc::CMSG_LEN(0) } as usize;
        if hdr.cmsg_level == libc::SOL_SOCKET
            && hdr.cmsg_type == libc::SCM_RIGHTS
            && hdr.cmsg_len as usize >= header_len
        {
            let count = (hdr.cmsg_len as usize - header_len) / size_of::<RawFd>();
            // SAFETY: the data of this message holds `count` ints, as its checked length says.
            let data = unsafe { libc::CMSG_DATA(cmsg) } as *const RawFd;
            for i in 0..count {
                // SAFETY: `i < count`; the data may be unaligned, hence read_unaligned.
                let raw = unsafe { data.add(i).read_unaligned() };
                fds.push(owned(raw));
            }
        }
        // SAFETY: see CMSG_FIRSTHDR above.
        cmsg = unsafe { libc::CMSG_NXTHDR(&msg, cmsg) };
    }
    Ok(ReceivedFds { len, fds, control_truncated: msg.msg_flags & libc::MSG_CTRUNC != 0 })
}

/// `sendmsg(fd, buf, SCM_RIGHTS [fds...])`: sends `buf` with the given descriptors
/// attached (the helper side of `fd_tuntap`). `MSG_NOSIGNAL` turns a closed peer into
/// `EPIPE` rather than a signal.
pub fn send_with_fds(fd: BorrowedFd<'_>, buf: &[u8], pass: &[BorrowedFd<'_>]) -> io::Result<usize> {
    let fd_bytes = (pass.len() * size_of::<RawFd>()) as u32;
    // SAFETY: CMSG_SPACE is a pure size computation.
    let space = unsafe { libc::CMSG_SPACE(fd_bytes) } as usize;
    let mut control = vec![0u64; space.div_ceil(8)];
    let mut iov = libc::iovec { iov_base: buf.as_ptr() as *mut _, iov_len: buf.len() };
    // SAFETY: an all-zero msghdr is a valid empty header.
    let mut msg: libc::msghdr = unsafe { zeroed() };
    msg.msg_iov = &mut iov;
    msg.msg_iovlen = 1;
    if !pass.is_empty() {
        msg.msg_control = control.as_mut_ptr().cast();
        msg.msg_controllen = space as _;
        // SAFETY: the control buffer is `space` bytes, enough for one header carrying
        // `pass.len()` ints, so FIRSTHDR is non-null and DATA has room for them.
        unsafe {
            let cmsg = libc::CMSG_FIRSTHDR(&msg);
            (*cmsg).cmsg_level = libc::SOL_SOCKET;
            (*cmsg).cmsg_type = libc::SCM_RIGHTS;
            (*cmsg).cmsg_len = libc::CMSG_LEN(fd_bytes) as _;
            let data = libc::CMSG_DATA(cmsg) as *mut RawFd;
            for (i, f) in pass.iter().enumerate() {
                data.add(i).write_unaligned(f.as_raw_fd());
            }
        }
    }
    // SAFETY: `msg` points at live buffers (`buf`, `control`) for the whole call.
    cvt_size(unsafe { libc::sendmsg(fd.as_raw_fd(), &msg, libc::MSG_NOSIGNAL) })
}

/// `flock(fd, LOCK_EX | LOCK_NB)`: `Ok(false)` if another holder has it.
pub fn try_lock_exclusive(fd: BorrowedFd<'_>) -> io::Result<bool> {
    // SAFETY: plain syscall on a borrowed, open descriptor.
    match cvt(unsafe { libc::flock(fd.as_raw_fd(), libc::LOCK_EX | libc::LOCK_NB) }) {
        Ok(_) => Ok(true),
        Err(e) if e.raw_os_error() == Some(libc::EWOULDBLOCK) => Ok(false),
        Err(e) => Err(e),
    }
}

/// `mkfifo(path, mode)`.
pub fn mkfifo(path: &Path, mode: u32) -> io::Result<()> {
    let c = CString::new(path.as_os_str().as_bytes()).map_err(|_| io::Error::from_raw_os_error(libc::EINVAL))?;
    // SAFETY: `c` is a valid NUL-terminated path for the duration of the call.
    cvt(unsafe { libc::mkfifo(c.as_ptr(), mode as libc::mode_t) }).map(drop)
}

/// `unshare(CLONE_NEWNET)`: moves the **calling thread** into a new, empty network
/// namespace. Threads and processes it starts afterwards inherit it.
pub fn unshare_network_namespace() -> io::Result<()> {
    // SAFETY: plain syscall with a constant flag.
    cvt(unsafe { libc::unshare(libc::CLONE_NEWNET) }).map(drop)
}

/// `geteuid()`.
pub fn effective_uid() -> u32 {
    // SAFETY: geteuid cannot fail and touches no memory.
    unsafe { libc::geteuid() }
}

/// Blocks `SIGTERM`, `SIGINT` and `SIGHUP` in the calling thread (and the threads it
/// starts later), so that [`wait_termination_signal`] can take them synchronously.
pub fn block_termination_signals() -> io::Result<()> {
    let set = termination_set();
    // SAFETY: `set` is an initialised sigset; the old mask is not requested.
    let ret = unsafe { libc::pthread_sigmask(libc::SIG_BLOCK, &set, std::ptr::null_mut()) };
    if ret != 0 { Err(io::Error::from_raw_os_error(ret)) } else { Ok(()) }
}

/// `sigwait` for one of the signals blocked by [`block_termination_signals`]; returns it.
pub fn wait_termination_signal() -> io::Result<i32> {
    let set = termination_set();
    let mut sig = 0;
    // SAFETY: `set` is initialised and `sig` is a valid out pointer.
    let ret = unsafe { libc::sigwait(&set, &mut sig) };
    if ret != 0 { Err(io::Error::from_raw_os_error(ret)) } else { Ok(sig) }
}

fn termination_set() -> libc::sigset_t {
    // SAFETY: sigemptyset initialises the zeroed set; sigaddset only adds valid signals.
    unsafe {
        let mut set: libc::sigset_t = zeroed();
        libc::sigemptyset(&mut set);
        libc::sigaddset(&mut set, libc::SIGTERM);
        libc::sigaddset(&mut set, libc::SIGINT);
        libc::sigaddset(&mut set, libc::SIGHUP);
        set
    }
}

/// `fcntl(raw, F_DUPFD_CLOEXEC)`: an owned, close-on-exec duplicate of a descriptor
/// number someone else owns (and keeps). An invalid number gives `EBADF`.
pub fn duplicate_raw_fd(raw: RawFd) -> io::Result<OwnedFd> {
    // SAFETY: F_DUPFD_CLOEXEC only reads the descriptor table; it neither closes nor
    // takes ownership of `raw`, and fails with EBADF if `raw` is not open.
    let fd = cvt(unsafe { libc::fcntl(raw, libc::F_DUPFD_CLOEXEC, 0) })?;
    Ok(owned(fd))
}

// ---- Added for the Node binding (issue 6): inputs another thread may be writing. ----

/// Copies `src`, whose memory another thread may be writing meanwhile (a JS
/// `SharedArrayBuffer` that a worker mutates), with one relaxed atomic load per element.
/// The copy is then stable: checks made on it hold when it is used.
pub fn snapshot_shared_u32(src: &[u32]) -> Vec<u32> {
    let base = src.as_ptr() as *mut u32;
    (0..src.len())
        .map(|i| {
            // SAFETY: `i < src.len()`, so the pointer is in bounds, aligned and valid for
            // reads for the whole call; `AtomicU32` has the size and alignment of `u32`, and
            // an atomic load (never a store) is well defined while other threads write it.
            unsafe { std::sync::atomic::AtomicU32::from_ptr(base.add(i)) }.load(std::sync::atomic::Ordering::Relaxed)
        })
        .collect()
}

// ---------------------------------------------------------------------------------------
// Directory-relative file operations, credentials and listening sockets, for the
// privileged helper (`pltap-vsysd`): every entry it serves is created and checked
// relative to a descriptor of its directory, never by a path the slice could redirect.
// ---------------------------------------------------------------------------------------

/// The fields of `struct stat` that identify a file and decide who may use it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct FileStat {
    /// `st_dev`.
    pub dev: u64,
    /// `st_ino`.
    pub ino: u64,
    /// `st_mode`: the file type (`S_IFMT` bits) and the permission bits.
    pub mode: u32,
    /// `st_nlink`.
    pub nlink: u64,
    /// `st_uid`.
    pub uid: u32,
    /// `st_gid`.
    pub gid: u32,
}

impl FileStat {
    // The `stat` field types differ between architectures; the casts are no-ops on x86_64.
    #[allow(clippy::unnecessary_cast)]
    fn from_stat(st: &libc::stat) -> FileStat {
        FileStat {
            dev: st.st_dev as u64,
            ino: st.st_ino as u64,
            mode: st.st_mode as u32,
            nlink: st.st_nlink as u64,
            uid: st.st_uid,
            gid: st.st_gid,
        }
    }

    /// The `S_IFMT` bits of the mode.
    pub fn file_type(&self) -> u32 {
        self.mode & libc::S_IFMT
    }

    /// A directory.
    pub fn is_dir(&self) -> bool {
        self.file_type() == libc::S_IFDIR
    }

    /// A FIFO.
    pub fn is_fifo(&self) -> bool {
        self.file_type() == libc::S_IFIFO
    }

    /// A UNIX-domain socket.
    pub fn is_socket(&self) -> bool {
        self.file_type() == libc::S_IFSOCK
    }

    /// A symbolic link.
    pub fn is_symlink(&self) -> bool {
        self.file_type() == libc::S_IFLNK
    }

    /// A regular file.
    pub fn is_regular(&self) -> bool {
        self.file_type() == libc::S_IFREG
    }

    /// The permission bits, including set-id and sticky (`mode & 07777`).
    pub fn permissions(&self) -> u32 {
        self.mode & 0o7777
    }

    /// The same file (device and inode) as `other`.
    pub fn same_file(&self, other: &FileStat) -> bool {
        self.dev == other.dev && self.ino == other.ino
    }
}

/// A path component (or relative path) as a C string; an interior NUL is `EINVAL`.
fn c_name(name: &std::ffi::OsStr) -> io::Result<CString> {
    CString::new(name.as_bytes()).map_err(|_| io::Error::from_raw_os_error(libc::EINVAL))
}

/// `openat(dir, name, flags | O_CLOEXEC, mode)`. Pass `O_NOFOLLOW` to refuse a symlink
/// as the last component, `O_PATH` for a descriptor that only names the file.
pub fn openat(dir: BorrowedFd<'_>, name: &std::ffi::OsStr, flags: i32, mode: u32) -> io::Result<OwnedFd> {
    let c = c_name(name)?;
    // SAFETY: `c` is a valid NUL-terminated string for the duration of the call; the
    // mode argument is read only with O_CREAT and is a plain integer otherwise.
    let fd = cvt(unsafe { libc::openat(dir.as_raw_fd(), c.as_ptr(), flags | libc::O_CLOEXEC, mode as libc::c_uint) })?;
    Ok(owned(fd))
}

/// `open(path, flags | O_CLOEXEC)` (no `O_CREAT`).
pub fn open_path(path: &Path, flags: i32) -> io::Result<OwnedFd> {
    let c = c_name(path.as_os_str())?;
    // SAFETY: `c` is a valid NUL-terminated path for the duration of the call; without
    // O_CREAT no mode argument is read.
    let fd = cvt(unsafe { libc::open(c.as_ptr(), (flags & !libc::O_CREAT) | libc::O_CLOEXEC) })?;
    Ok(owned(fd))
}

/// Opens the file `fd` refers to again, with new `flags`, through `/proc/self/fd/<fd>`:
/// the same inode, whatever its name now points to. Works on `O_PATH` descriptors too.
/// Fails with `ENOENT` where `/proc` is not mounted.
pub fn reopen(fd: BorrowedFd<'_>, flags: i32) -> io::Result<OwnedFd> {
    open_path(Path::new(&format!("/proc/self/fd/{}", fd.as_raw_fd())), flags)
}

/// `fstat(fd)`; also works on `O_PATH` descriptors.
pub fn fstat(fd: BorrowedFd<'_>) -> io::Result<FileStat> {
    // SAFETY: an all-zero `struct stat` is a valid out buffer.
    let mut st: libc::stat = unsafe { zeroed() };
    // SAFETY: `st` is a valid, exclusively borrowed out pointer for the call.
    cvt(unsafe { libc::fstat(fd.as_raw_fd(), &mut st) })?;
    Ok(FileStat::from_stat(&st))
}

/// `fstatat(dir, name, AT_SYMLINK_NOFOLLOW)`: a symlink is reported as itself.
pub fn fstatat_nofollow(dir: BorrowedFd<'_>, name: &std::ffi::OsStr) -> io::Result<FileStat> {
    let c = c_name(name)?;
    // SAFETY: an all-zero `struct stat` is a valid out buffer.
    let mut st: libc::stat = unsafe { zeroed() };
    // SAFETY: `c` is NUL-terminated and `st` a valid out pointer for the call.
    cvt(unsafe { libc::fstatat(dir.as_raw_fd(), c.as_ptr(), &mut st, libc::AT_SYMLINK_NOFOLLOW) })?;
    Ok(FileStat::from_stat(&st))
}

/// `mkdirat(dir, name, mode)` (the umask applies: set the mode afterwards with [`fchmod`]).
pub fn mkdirat(dir: BorrowedFd<'_>, name: &std::ffi::OsStr, mode: u32) -> io::Result<()> {
    let c = c_name(name)?;
    // SAFETY: `c` is a valid NUL-terminated string for the duration of the call.
    cvt(unsafe { libc::mkdirat(dir.as_raw_fd(), c.as_ptr(), mode as libc::mode_t) }).map(drop)
}

/// `mkfifoat(dir, name, mode)` (the umask applies: set the mode afterwards).
pub fn mkfifoat(dir: BorrowedFd<'_>, name: &std::ffi::OsStr, mode: u32) -> io::Result<()> {
    let c = c_name(name)?;
    // SAFETY: `c` is a valid NUL-terminated string for the duration of the call.
    cvt(unsafe { libc::mkfifoat(dir.as_raw_fd(), c.as_ptr(), mode as libc::mode_t) }).map(drop)
}

/// `unlinkat(dir, name, 0)`: removes a file (not a directory); never follows a symlink.
pub fn unlinkat(dir: BorrowedFd<'_>, name: &std::ffi::OsStr) -> io::Result<()> {
    unlinkat_flags(dir, name, 0)
}

/// `unlinkat(dir, name, AT_REMOVEDIR)`: removes an empty directory.
pub fn rmdirat(dir: BorrowedFd<'_>, name: &std::ffi::OsStr) -> io::Result<()> {
    unlinkat_flags(dir, name, libc::AT_REMOVEDIR)
}

fn unlinkat_flags(dir: BorrowedFd<'_>, name: &std::ffi::OsStr, flags: i32) -> io::Result<()> {
    let c = c_name(name)?;
    // SAFETY: `c` is a valid NUL-terminated string for the duration of the call.
    cvt(unsafe { libc::unlinkat(dir.as_raw_fd(), c.as_ptr(), flags) }).map(drop)
}

/// `readlinkat(dir, name)`: the target of a symlink. With an empty `name`, `dir` is an
/// `O_PATH | O_NOFOLLOW` descriptor of the symlink itself.
pub fn readlinkat(dir: BorrowedFd<'_>, name: &std::ffi::OsStr) -> io::Result<std::path::PathBuf> {
    let c = c_name(name)?;
    let mut buf = vec![0u8; libc::PATH_MAX as usize + 1];
    // SAFETY: `c` is NUL-terminated; `buf` is writable for `buf.len()` bytes.
    let n = cvt_size(unsafe { libc::readlinkat(dir.as_raw_fd(), c.as_ptr(), buf.as_mut_ptr().cast(), buf.len()) })?;
    if n >= buf.len() {
        return Err(io::Error::from_raw_os_error(libc::ENAMETOOLONG));
    }
    buf.truncate(n);
    Ok(std::path::PathBuf::from(<std::ffi::OsString as std::os::unix::ffi::OsStringExt>::from_vec(buf)))
}

/// `fchmod(fd, mode)`: exact permission bits, whatever the umask was.
pub fn fchmod(fd: BorrowedFd<'_>, mode: u32) -> io::Result<()> {
    // SAFETY: plain syscall on a borrowed, open descriptor.
    cvt(unsafe { libc::fchmod(fd.as_raw_fd(), mode as libc::mode_t) }).map(drop)
}

/// `fchown(fd, uid, gid)`.
pub fn fchown(fd: BorrowedFd<'_>, uid: u32, gid: u32) -> io::Result<()> {
    // SAFETY: plain syscall on a borrowed, open descriptor.
    cvt(unsafe { libc::fchown(fd.as_raw_fd(), uid, gid) }).map(drop)
}

/// `fchownat(dir, name, uid, gid, AT_SYMLINK_NOFOLLOW)`.
pub fn fchownat_nofollow(dir: BorrowedFd<'_>, name: &std::ffi::OsStr, uid: u32, gid: u32) -> io::Result<()> {
    let c = c_name(name)?;
    // SAFETY: `c` is a valid NUL-terminated string for the duration of the call.
    cvt(unsafe { libc::fchownat(dir.as_raw_fd(), c.as_ptr(), uid, gid, libc::AT_SYMLINK_NOFOLLOW) }).map(drop)
}

/// `fchmodat(dir, name, mode, 0)`. Linux cannot refuse to follow a symlink here, so use
/// it only on a name in a directory nobody else can write.
pub fn fchmodat(dir: BorrowedFd<'_>, name: &std::ffi::OsStr, mode: u32) -> io::Result<()> {
    let c = c_name(name)?;
    // SAFETY: `c` is a valid NUL-terminated string for the duration of the call.
    cvt(unsafe { libc::fchmodat(dir.as_raw_fd(), c.as_ptr(), mode as libc::mode_t, 0) }).map(drop)
}

/// The peer of a connected UNIX socket, from `SO_PEERCRED` (as of `connect`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct PeerCred {
    /// The peer's process id.
    pub pid: i32,
    /// The peer's effective uid.
    pub uid: u32,
    /// The peer's effective gid.
    pub gid: u32,
}

/// `getsockopt(fd, SOL_SOCKET, SO_PEERCRED)`.
pub fn peer_credentials(fd: BorrowedFd<'_>) -> io::Result<PeerCred> {
    let mut cred = libc::ucred { pid: 0, uid: 0, gid: 0 };
    let mut len = size_of::<libc::ucred>() as libc::socklen_t;
    // SAFETY: `cred` and `len` are valid out pointers; `len` holds the buffer's size.
    cvt(unsafe {
        libc::getsockopt(
            fd.as_raw_fd(),
            libc::SOL_SOCKET,
            libc::SO_PEERCRED,
            (&mut cred as *mut libc::ucred).cast(),
            &mut len,
        )
    })?;
    if len as usize != size_of::<libc::ucred>() {
        return Err(io::Error::from_raw_os_error(libc::EINVAL));
    }
    Ok(PeerCred { pid: cred.pid, uid: cred.uid, gid: cred.gid })
}

/// The primary gid of `uid`'s passwd entry (`getpwuid_r`), `None` if it has none.
pub fn passwd_primary_gid(uid: u32) -> io::Result<Option<u32>> {
    let mut size = 4096usize;
    loop {
        let mut buf = vec![0u8; size];
        // SAFETY: an all-zero `struct passwd` is a valid out buffer.
        let mut pwd: libc::passwd = unsafe { zeroed() };
        let mut result: *mut libc::passwd = std::ptr::null_mut();
        // SAFETY: every pointer is valid for the call; `buf` is writable for its length
        // and outlives the only read of `pwd` below (`pw_gid` is a plain integer).
        let ret = unsafe { libc::getpwuid_r(uid, &mut pwd, buf.as_mut_ptr().cast(), buf.len(), &mut result) };
        match ret {
            0 if result.is_null() => return Ok(None),
            0 => return Ok(Some(pwd.pw_gid)),
            libc::ERANGE if size < 1 << 20 => size *= 4,
            libc::ENOENT | libc::ESRCH | libc::EBADF | libc::EPERM => return Ok(None),
            e => return Err(io::Error::from_raw_os_error(e)),
        }
    }
}

/// `socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0)`, not yet bound.
pub fn unix_stream_socket() -> io::Result<OwnedFd> {
    // SAFETY: plain syscall with constant arguments; no memory is passed.
    let fd = cvt(unsafe { libc::socket(libc::AF_UNIX, libc::SOCK_STREAM | libc::SOCK_CLOEXEC, 0) })?;
    Ok(owned(fd))
}

/// `bind(fd, sockaddr_un { path })`. The path must fit `sun_path` with its NUL
/// (107 bytes), else `ENAMETOOLONG`.
pub fn bind_unix(fd: BorrowedFd<'_>, path: &Path) -> io::Result<()> {
    let bytes = path.as_os_str().as_bytes();
    // SAFETY: an all-zero `sockaddr_un` is valid (family set below).
    let mut addr: libc::sockaddr_un = unsafe { zeroed() };
    if bytes.is_empty() || bytes.contains(&0) {
        return Err(io::Error::from_raw_os_error(libc::EINVAL));
    }
    if bytes.len() >= addr.sun_path.len() {
        return Err(io::Error::from_raw_os_error(libc::ENAMETOOLONG));
    }
    addr.sun_family = libc::AF_UNIX as libc::sa_family_t;
    for (dst, src) in addr.sun_path.iter_mut().zip(bytes) {
        *dst = *src as libc::c_char;
    }
    let len = (size_of::<libc::sa_family_t>() + bytes.len() + 1) as libc::socklen_t;
    // SAFETY: `addr` is a valid sockaddr_un of at least `len` bytes for the call.
    cvt(unsafe { libc::bind(fd.as_raw_fd(), (&addr as *const libc::sockaddr_un).cast(), len) }).map(drop)
}

/// `listen(fd, backlog)`.
pub fn listen(fd: BorrowedFd<'_>, backlog: i32) -> io::Result<()> {
    // SAFETY: plain syscall on a borrowed, open descriptor.
    cvt(unsafe { libc::listen(fd.as_raw_fd(), backlog) }).map(drop)
}
