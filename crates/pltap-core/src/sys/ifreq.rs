//! `struct ifreq` and the one ioctl that takes it.
//!
//! The byte layout of the union lives here and nowhere else: the safe layers above
//! (`tap`, `iface`) read and write members through the accessors, never by offset.

use super::{cvt, linux};
use std::io;
use std::net::Ipv4Addr;
use std::os::fd::{AsRawFd, BorrowedFd};

/// `struct ifreq`: a 16-byte interface name followed by a 24-byte union.
///
/// The union is kept as raw bytes behind accessors for the members pltap uses:
/// `ifr_flags` (an `i16` at offset 0), `ifr_mtu` / `ifr_ifindex` / `ifr_qlen` (an `i32`
/// at offset 0), and `ifr_addr` / `ifr_hwaddr` (a `struct sockaddr` at offset 0: a
/// native-endian `u16` family, then `sa_data`).
#[repr(C)]
#[derive(Clone, Copy, Debug, Default)]
pub(crate) struct IfReq {
    /// `ifr_name`, NUL-padded.
    pub name: [u8; linux::IFNAMSIZ],
    /// `ifr_ifru`, native-endian.
    data: [u8; 24],
}

impl IfReq {
    /// A request for the interface whose NUL-padded `ifr_name` is `name`, union zeroed.
    pub fn new(name: [u8; linux::IFNAMSIZ]) -> IfReq {
        IfReq { name, data: [0; 24] }
    }

    /// `ifr_flags`.
    pub fn flags(&self) -> i16 {
        i16::from_ne_bytes([self.data[0], self.data[1]])
    }

    /// Sets `ifr_flags`.
    pub fn set_flags(&mut self, flags: i16) {
        self.data[..2].copy_from_slice(&flags.to_ne_bytes());
    }

    /// `ifr_mtu`, `ifr_ifindex` or `ifr_qlen` (they share the slot).
    pub fn int(&self) -> i32 {
        i32::from_ne_bytes([self.data[0], self.data[1], self.data[2], self.data[3]])
    }

    /// Sets `ifr_mtu`, `ifr_ifindex` or `ifr_qlen`.
    pub fn set_int(&mut self, value: i32) {
        self.data[..4].copy_from_slice(&value.to_ne_bytes());
    }

    /// The address of `ifr_addr` / `ifr_netmask` as a `struct sockaddr_in`: family (u16),
    /// port (be16), then the four address bytes.
    pub fn sockaddr_in(&self) -> Ipv4Addr {
        Ipv4Addr::new(self.data[4], self.data[5], self.data[6], self.data[7])
    }

    /// Sets `ifr_addr` / `ifr_netmask` to an `AF_INET` `struct sockaddr_in` (port 0).
    pub fn set_sockaddr_in(&mut self, addr: Ipv4Addr) {
        self.data[..2].copy_from_slice(&(libc::AF_INET as u16).to_ne_bytes());
        self.data[2..4].fill(0);
        self.data[4..8].copy_from_slice(&addr.octets());
    }

    /// The six bytes of `ifr_hwaddr.sa_data`.
    pub fn hwaddr(&self) -> [u8; 6] {
        [self.data[2], self.data[3], self.data[4], self.data[5], self.data[6], self.data[7]]
    }

    /// Sets `ifr_hwaddr` to an `ARPHRD_ETHER` address.
    pub fn set_hwaddr(&mut self, mac: [u8; 6]) {
        self.data[..2].copy_from_slice(&linux::ARPHRD_ETHER.to_ne_bytes());
        self.data[2..8].copy_from_slice(&mac);
    }
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn union_members_sit_where_the_kernel_reads_them() {
        assert_eq!(std::mem::size_of::<IfReq>(), 40, "sizeof(struct ifreq) on Linux");
        let mut ifr = IfReq::new(*b"tap0\0\0\0\0\0\0\0\0\0\0\0\0");
        ifr.set_flags(0x1102);
        assert_eq!(ifr.data[..2], 0x1102i16.to_ne_bytes());
        assert_eq!(ifr.flags(), 0x1102);

        let mut ifr = IfReq::default();
        ifr.set_int(1500);
        assert_eq!(ifr.data[..4], 1500i32.to_ne_bytes());
        assert_eq!(ifr.int(), 1500);

        // sockaddr_in: family AF_INET (2, native), port 0, then the address bytes.
        let mut ifr = IfReq::default();
        ifr.set_sockaddr_in(Ipv4Addr::new(198, 18, 0, 1));
        let mut want = [0u8; 24];
        want[..2].copy_from_slice(&2u16.to_ne_bytes());
        want[4..8].copy_from_slice(&[198, 18, 0, 1]);
        assert_eq!(ifr.data, want);
        assert_eq!(ifr.sockaddr_in(), Ipv4Addr::new(198, 18, 0, 1));

        // sockaddr with ARPHRD_ETHER (1, native) and the MAC at sa_data[0..6].
        let mut ifr = IfReq::default();
        ifr.set_hwaddr([0x02, 0, 0x5e, 0x10, 0, 0x01]);
        let mut want = [0u8; 24];
        want[..2].copy_from_slice(&1u16.to_ne_bytes());
        want[2..8].copy_from_slice(&[0x02, 0, 0x5e, 0x10, 0, 0x01]);
        assert_eq!(ifr.data, want);
        assert_eq!(ifr.hwaddr(), [0x02, 0, 0x5e, 0x10, 0, 0x01]);
    }
}
