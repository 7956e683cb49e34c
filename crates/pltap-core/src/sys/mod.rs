//! The only module of `pltap-core` that talks to the kernel through `unsafe` code.
//!
//! Each function is a small, safe wrapper over one system call: it takes owned or
//! borrowed descriptors (bare integers only in [`duplicate_raw_fd`], the edge where a
//! number from JavaScript becomes a descriptor), returns `io::Result`, and opens every
//! descriptor it creates with `O_CLOEXEC`. Everything above this module is safe Rust.
//!
//! Nothing public here can hand the kernel a pointer it would misread: the generic
//! `ifreq` ioctl, whose soundness depends on the request number, is crate-private.
#![allow(unsafe_code)]

pub mod linux;

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

/// `struct ifreq`: a 16-byte interface name followed by a 24-byte union.
///
/// The union is kept as raw bytes; the safe layer above reads and writes the member it
/// needs (`ifr_flags` is an `i16` at offset 0, `ifr_mtu`/`ifr_ifindex`/`ifr_qlen` an
/// `i32` at offset 0, `ifr_addr`/`ifr_hwaddr` a `struct sockaddr` at offset 0).
#[repr(C)]
#[derive(Clone, Copy, Debug, Default)]
pub(crate) struct IfReq {
    /// `ifr_name`, NUL-padded.
    pub name: [u8; linux::IFNAMSIZ],
    /// `ifr_ifru`, native-endian.
    pub data: [u8; 24],
}

/// `ioctl(fd, request, &mut ifreq)` for every ifreq-shaped request (`TUNSETIFF`,
/// `TUNGETIFF`, `SIOCGIFFLAGS`, ...).
///
/// Crate-private on purpose: it is sound only for requests that take a `struct ifreq *`
/// (a request such as `SIOCGIFCONF`, or any `_IOR` larger than 40 bytes, would make the
/// kernel write past `ifr`), and only the crate's own callers (`tap`, `iface`), which pass
/// the `linux::TUN*` / `SIOC*IF*` constants, are known to do that.
pub(crate) fn ioctl_ifreq(fd: BorrowedFd<'_>, request: u64, ifr: &mut IfReq) -> io::Result<()> {
    // SAFETY: `ifr` is a valid, exclusively borrowed `struct ifreq` of the size the
    // kernel expects for every request this crate passes (all take a `struct ifreq *`);
    // the function is crate-private, so no other request can reach it.
    cvt(unsafe { libc::ioctl(fd.as_raw_fd(), request as _, ifr as *mut IfReq) }).map(drop)
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

/// `poll(2)` over `(fd, events)` pairs; fills `revents` and returns how many are ready.
/// `EINTR` is retried by the caller's deadline loop, so it is returned as `Ok(0)`.
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
        if hdr.cmsg_level == libc::SOL_SOCKET && hdr.cmsg_type == libc::SCM_RIGHTS && hdr.cmsg_len as usize >= header_len {
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

// ---- Added for the vsys client (issue 6): FIFOs opened relative to the locked root. ----

/// `openat(dir, name, flags | O_CLOEXEC)`: opens `name` relative to the directory `dir`
/// (no `O_CREAT`, so no mode). With `O_NOFOLLOW` in `flags`, a symlink as the last
/// component fails with `ELOOP`.
pub fn open_at(dir: BorrowedFd<'_>, name: &Path, flags: libc::c_int) -> io::Result<OwnedFd> {
    let c = CString::new(name.as_os_str().as_bytes()).map_err(|_| io::Error::from_raw_os_error(libc::EINVAL))?;
    // SAFETY: `c` is a valid NUL-terminated path for the duration of the call and `dir`
    // is an open descriptor borrowed for it; without O_CREAT no mode argument is read.
    let fd = cvt(unsafe { libc::openat(dir.as_raw_fd(), c.as_ptr(), flags | libc::O_CLOEXEC) })?;
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
