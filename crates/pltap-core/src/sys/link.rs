//! The tun driver's device-lifetime and carrier ioctls (`TUNSETPERSIST`, `TUNSETOWNER`,
//! `TUNSETGROUP`, `TUNSETCARRIER`) and `setns(CLONE_NEWNET)`: small safe wrappers, each
//! over one system call.

use super::cvt;
use std::io;
use std::os::fd::{AsRawFd, BorrowedFd};

/// `TUNSETPERSIST`: `_IOW('T', 203, int)`.
pub const TUNSETPERSIST: u64 = 0x4004_54cb;
/// `TUNSETOWNER`: `_IOW('T', 204, int)`.
pub const TUNSETOWNER: u64 = 0x4004_54cc;
/// `TUNSETGROUP`: `_IOW('T', 206, int)`.
pub const TUNSETGROUP: u64 = 0x4004_54ce;
/// `TUNSETCARRIER`: `_IOW('T', 226, int)`.
pub const TUNSETCARRIER: u64 = 0x4004_54e2;

/// An ioctl on a tun descriptor whose argument is passed by value (the driver reads
/// `arg` itself as the integer).
fn tun_ioctl_value(fd: BorrowedFd<'_>, request: u64, value: libc::c_ulong) -> io::Result<()> {
    // SAFETY: TUNSETPERSIST, TUNSETOWNER and TUNSETGROUP (the only callers) take their
    // argument by value: the tun driver never dereferences it, so no memory is passed.
    cvt(unsafe { libc::ioctl(fd.as_raw_fd(), request as _, value) }).map(drop)
}

/// `ioctl(fd, TUNSETPERSIST, on)`: whether the device outlives its last descriptor.
pub fn tun_set_persist(fd: BorrowedFd<'_>, on: bool) -> io::Result<()> {
    tun_ioctl_value(fd, TUNSETPERSIST, libc::c_ulong::from(on))
}

/// `ioctl(fd, TUNSETOWNER, uid)`: the user allowed to attach to the device.
pub fn tun_set_owner(fd: BorrowedFd<'_>, uid: u32) -> io::Result<()> {
    tun_ioctl_value(fd, TUNSETOWNER, libc::c_ulong::from(uid))
}

/// `ioctl(fd, TUNSETGROUP, gid)`: the group allowed to attach to the device.
pub fn tun_set_group(fd: BorrowedFd<'_>, gid: u32) -> io::Result<()> {
    tun_ioctl_value(fd, TUNSETGROUP, libc::c_ulong::from(gid))
}

/// `ioctl(fd, TUNSETCARRIER, &on)`: the device's carrier (Linux 5.0+).
pub fn tun_set_carrier(fd: BorrowedFd<'_>, on: bool) -> io::Result<()> {
    let value: libc::c_int = on.into();
    // SAFETY: TUNSETCARRIER reads one `int` through its argument; `value` is a live
    // `c_int` on this stack frame for the whole call.
    cvt(unsafe { libc::ioctl(fd.as_raw_fd(), TUNSETCARRIER as _, &value as *const libc::c_int) }).map(drop)
}

/// `setns(fd, CLONE_NEWNET)`: moves the **calling thread** into the network namespace
/// `fd` refers to (`/run/netns/X`, `/proc/PID/ns/net`).
pub fn setns_net(fd: BorrowedFd<'_>) -> io::Result<()> {
    // SAFETY: plain syscall on a borrowed, open descriptor and a constant flag.
    cvt(unsafe { libc::setns(fd.as_raw_fd(), libc::CLONE_NEWNET) }).map(drop)
}
