//! The tun driver's virtio-net header ioctls (offload.md §1.2-1.4, Appendix A).
//!
//! Each is a plain file ioctl on a tun descriptor; none needs privilege. The header size
//! and the offload set are **device-wide** and survive a re-attach (§1.7), so pltap sets
//! both explicitly after every attach.

use super::cvt;
use std::io;
use std::os::fd::{AsRawFd, BorrowedFd};

/// `TUNSETOFFLOAD`: `_IOW('T', 208, unsigned int)`; the argument is passed **by value**.
pub const TUNSETOFFLOAD: u64 = 0x4004_54d0;
/// `TUNGETFEATURES`: `_IOR('T', 207, unsigned int)`.
pub const TUNGETFEATURES: u64 = 0x8004_54cf;
/// `TUNGETVNETHDRSZ`: `_IOR('T', 215, int)`.
pub const TUNGETVNETHDRSZ: u64 = 0x8004_54d7;
/// `TUNSETVNETHDRSZ`: `_IOW('T', 216, int)`.
pub const TUNSETVNETHDRSZ: u64 = 0x4004_54d8;
/// `TUNSETVNETLE`: `_IOW('T', 220, int)`.
pub const TUNSETVNETLE: u64 = 0x4004_54dc;
/// `TUNGETVNETLE`: `_IOR('T', 221, int)`.
pub const TUNGETVNETLE: u64 = 0x8004_54dd;

/// `IFF_VNET_HDR` in `ifr_flags`: every frame carries a `virtio_net_hdr`.
pub const IFF_VNET_HDR: i16 = 0x4000;

/// `TUN_F_CSUM`: the device may hand over frames with a partial checksum.
pub const TUN_F_CSUM: u32 = 0x01;
/// `TUN_F_TSO4`: TCP/IPv4 super-frames.
pub const TUN_F_TSO4: u32 = 0x02;
/// `TUN_F_TSO6`: TCP/IPv6 super-frames.
pub const TUN_F_TSO6: u32 = 0x04;
/// `TUN_F_TSO_ECN`: TCP super-frames with CWR (`gso_type | 0x80`).
pub const TUN_F_TSO_ECN: u32 = 0x08;
/// `TUN_F_USO4`: UDP/IPv4 super-datagrams (only together with `USO6`).
pub const TUN_F_USO4: u32 = 0x20;
/// `TUN_F_USO6`: UDP/IPv6 super-datagrams (only together with `USO4`).
pub const TUN_F_USO6: u32 = 0x40;

/// `ioctl(fd, TUNSETOFFLOAD, flags)`: replaces the device's offload set (0 turns all off).
/// `EINVAL` for a combination the kernel refuses (§1.4 rules 1-5).
pub fn tun_set_offload(fd: BorrowedFd<'_>, flags: u32) -> io::Result<()> {
    // SAFETY: TUNSETOFFLOAD takes its argument by value (`set_offload(tun, arg)` in
    // tun.c); no memory is passed, so no request number mix-up can make the kernel write.
    cvt(unsafe { libc::ioctl(fd.as_raw_fd(), TUNSETOFFLOAD as _, flags as libc::c_ulong) }).map(drop)
}

/// `ioctl(fd, TUNGETFEATURES, &flags)`: the `TUNSETIFF` flags the driver understands.
pub fn tun_get_features(fd: BorrowedFd<'_>) -> io::Result<u32> {
    let mut v: libc::c_uint = 0;
    // SAFETY: TUNGETFEATURES writes one `unsigned int` through the pointer, which points
    // at a live, exclusively borrowed `c_uint`.
    cvt(unsafe { libc::ioctl(fd.as_raw_fd(), TUNGETFEATURES as _, &mut v as *mut libc::c_uint) })?;
    Ok(v)
}

/// `ioctl(fd, TUNGETVNETHDRSZ, &size)`: the device's vnet header size.
pub fn tun_get_vnet_hdr_sz(fd: BorrowedFd<'_>) -> io::Result<usize> {
    let mut v: libc::c_int = 0;
    // SAFETY: TUNGETVNETHDRSZ writes one `int` through the pointer, which points at a
    // live, exclusively borrowed `c_int`.
    cvt(unsafe { libc::ioctl(fd.as_raw_fd(), TUNGETVNETHDRSZ as _, &mut v as *mut libc::c_int) })?;
    usize::try_from(v).map_err(|_| io::Error::from_raw_os_error(libc::EINVAL))
}

/// `ioctl(fd, TUNSETVNETHDRSZ, &size)`: sets the device's vnet header size (`EINVAL`
/// below 10).
pub fn tun_set_vnet_hdr_sz(fd: BorrowedFd<'_>, size: usize) -> io::Result<()> {
    let v = libc::c_int::try_from(size).map_err(|_| io::Error::from_raw_os_error(libc::EINVAL))?;
    // SAFETY: TUNSETVNETHDRSZ reads one `int` through the pointer, which points at a
    // live `c_int` for the whole call.
    cvt(unsafe { libc::ioctl(fd.as_raw_fd(), TUNSETVNETHDRSZ as _, &v as *const libc::c_int) }).map(drop)
}

/// `ioctl(fd, TUNSETVNETLE, &on)`: little-endian headers (a no-op on a little-endian host,
/// set all the same so a big-endian port behaves alike; §1.1.3).
pub fn tun_set_vnet_le(fd: BorrowedFd<'_>, on: bool) -> io::Result<()> {
    let v: libc::c_int = on.into();
    // SAFETY: TUNSETVNETLE reads one `int` through the pointer, which points at a live
    // `c_int` for the whole call.
    cvt(unsafe { libc::ioctl(fd.as_raw_fd(), TUNSETVNETLE as _, &v as *const libc::c_int) }).map(drop)
}
