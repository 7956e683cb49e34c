//! Multi-queue tun/tap: the constants and the one ioctl a queue needs beyond
//! `TUNSETIFF`/`TUNGETIFF` (`TUNSETQUEUE`).
//!
//! Values from `<linux/if_tun.h>` (kernel 6.x; the tun driver's `MAX_TAP_QUEUES` is
//! `tun.c`'s). A device created with [`IFF_MULTI_QUEUE`] takes further queues: each one a
//! **new** `open("/dev/net/tun")` plus `TUNSETIFF` with the same name and
//! `IFF_MULTI_QUEUE` (a `dup()` of a queue's descriptor is the same queue, not another).

use super::{IfReq, ioctl_ifreq};
use std::io;
use std::os::fd::BorrowedFd;

/// `IFF_MULTI_QUEUE`: asked by every queue of a multi-queue device (a mismatch with the
/// existing device is `EINVAL`); reported by `TUNGETIFF`.
pub const IFF_MULTI_QUEUE: i16 = 0x0100;
/// `IFF_ATTACH_QUEUE`: the [`TUNSETQUEUE`] argument that re-enables a detached queue.
pub const IFF_ATTACH_QUEUE: i16 = 0x0200;
/// `IFF_DETACH_QUEUE`: the [`TUNSETQUEUE`] argument that disables a queue without closing it.
pub const IFF_DETACH_QUEUE: i16 = 0x0400;
/// `TUNSETQUEUE`: `_IOW('T', 217, int)`; the kernel reads a whole `struct ifreq` for it.
pub const TUNSETQUEUE: u64 = 0x4004_54d9;
/// `MAX_TAP_QUEUES` (tun.c): the most queues a device can have.
pub const MAX_TAP_QUEUES: usize = 256;

/// `ioctl(fd, TUNSETQUEUE, { ifr_flags: IFF_ATTACH_QUEUE | IFF_DETACH_QUEUE })`: enables
/// (`attach`) or disables a queue of a multi-queue device. A disabled queue stays open and
/// keeps its place but the kernel neither queues frames to it nor takes them from it
/// (reads return `EAGAIN`). Errors: `EINVAL` on a descriptor that is not a multi-queue
/// queue, or when it already is in that state.
pub fn tun_set_queue(fd: BorrowedFd<'_>, attach: bool) -> io::Result<()> {
    let mut ifr = IfReq::default();
    ifr.set_flags(if attach { IFF_ATTACH_QUEUE } else { IFF_DETACH_QUEUE });
    // No `unsafe` here: `ioctl_ifreq` is sound for every request that takes a
    // `struct ifreq *`, and TUNSETQUEUE is one (tun.c's `__tun_chr_ioctl` copies
    // `sizeof(struct ifreq)` bytes from the argument for it, as for TUNSETIFF).
    ioctl_ifreq(fd, TUNSETQUEUE, &mut ifr)
}

/// `ioctl(fd, TUNGETIFF)`: the device's name (NUL-padded, as the kernel wrote it) and its
/// `TUN_FEATURES | IFF_PERSIST | IFF_TUN | IFF_TAP` flags. The `0x1000` bit in this output
/// is `IFF_NO_PI`.
pub fn tun_get_iff_flags(fd: BorrowedFd<'_>) -> io::Result<([u8; super::linux::IFNAMSIZ], i16)> {
    let mut ifr = IfReq::default();
    ioctl_ifreq(fd, super::linux::TUNGETIFF, &mut ifr)?;
    Ok((ifr.name, ifr.flags()))
}
