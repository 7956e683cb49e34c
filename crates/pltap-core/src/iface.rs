//! Interface ioctls (`SIOCGIFFLAGS`, `SIOCSIFMTU`, ...) by name, through one shared
//! AF_INET socket per network namespace.
//!
//! The original netdev-pltap used `af_inet_ifreq_ioctl()`: one lazily created socket for
//! the whole process. An ioctl by name resolves the name in the socket's network
//! namespace, so a process whose threads live in different namespaces (tests, or a
//! service that manages several) needs one socket per namespace. [`control_socket`]
//! keeps exactly that: created on first use, shared by every caller in the namespace,
//! and closed when the last [`Iface`] that holds it is dropped (so it never pins a
//! namespace that is otherwise gone).

use crate::error::{Error, Result};
use crate::ifname::IfName;
use crate::sys::{self, IfReq, linux};
use std::collections::HashMap;
use std::fmt;
use std::net::Ipv4Addr;
use std::os::fd::{AsFd, BorrowedFd, OwnedFd};
use std::os::unix::fs::MetadataExt;
use std::str::FromStr;
use std::sync::{Arc, Mutex, OnceLock, Weak};

/// The shared AF_INET ioctl socket of the calling thread's network namespace.
pub fn control_socket() -> Result<Arc<OwnedFd>> {
    static SOCKETS: OnceLock<Mutex<HashMap<u64, Weak<OwnedFd>>>> = OnceLock::new();
    let netns = std::fs::metadata("/proc/thread-self/ns/net").map(|m| m.ino()).unwrap_or(0);
    let mut map = SOCKETS.get_or_init(Default::default).lock().unwrap_or_else(|p| p.into_inner());
    if let Some(sock) = map.get(&netns).and_then(Weak::upgrade) {
        return Ok(sock);
    }
    let sock =
        Arc::new(sys::inet_dgram_socket().map_err(|e| Error::os("create the AF_INET ioctl socket", "socket", e))?);
    map.retain(|_, w| w.strong_count() > 0);
    map.insert(netns, Arc::downgrade(&sock));
    Ok(sock)
}

/// An Ethernet (MAC) address.
///
/// ```
/// use pltap_core::MacAddr;
/// let mac: MacAddr = "02:00:5e:10:00:01".parse().unwrap();
/// assert_eq!(mac.to_string(), "02:00:5e:10:00:01");
/// assert!(mac.is_unicast());
/// assert!("02:00:5e:10:00".parse::<MacAddr>().is_err());
/// ```
#[derive(Clone, Copy, PartialEq, Eq, Hash, Default)]
pub struct MacAddr(pub [u8; 6]);

impl MacAddr {
    /// Whether the group bit is clear (a device can only have a unicast address).
    pub fn is_unicast(&self) -> bool {
        self.0[0] & 1 == 0
    }
}

impl fmt::Display for MacAddr {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let b = self.0;
        write!(f, "{:02x}:{:02x}:{:02x}:{:02x}:{:02x}:{:02x}", b[0], b[1], b[2], b[3], b[4], b[5])
    }
}

impl fmt::Debug for MacAddr {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "MacAddr({self})")
    }
}

impl FromStr for MacAddr {
    type Err = Error;
    fn from_str(s: &str) -> Result<MacAddr> {
        let bad = || Error::invalid("MAC address", format!("{s:?} is not six hex octets separated by ':'"));
        let mut out = [0u8; 6];
        let mut parts = s.split(':');
        for byte in out.iter_mut() {
            let p = parts.next().ok_or_else(bad)?;
            if p.len() != 2 {
                return Err(bad());
            }
            *byte = u8::from_str_radix(p, 16).map_err(|_| bad())?;
        }
        if parts.next().is_some() {
            return Err(bad());
        }
        Ok(MacAddr(out))
    }
}

/// The interface flags pltap tracks.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub struct IfFlags {
    /// `IFF_UP`: administratively up.
    pub up: bool,
    /// `IFF_PROMISC`.
    pub promisc: bool,
    /// `IFF_RUNNING`: operationally up (for a tap: a process has it open and it is UP).
    pub running: bool,
}

impl IfFlags {
    fn from_raw(raw: i16) -> IfFlags {
        IfFlags {
            up: raw & linux::IFF_UP != 0,
            promisc: raw & linux::IFF_PROMISC != 0,
            running: raw & linux::IFF_RUNNING != 0,
        }
    }
}

/// An IPv4 address with its prefix length.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Ipv4Net {
    /// The address.
    pub addr: Ipv4Addr,
    /// The prefix length, 0..=32.
    pub prefix: u8,
}

impl Ipv4Net {
    /// The network address (host bits cleared).
    pub fn network(&self) -> Ipv4Addr {
        Ipv4Addr::from(u32::from(self.addr) & prefix_mask(self.prefix))
    }

    /// Whether `addr` lies inside this network.
    pub fn contains(&self, addr: Ipv4Addr) -> bool {
        u32::from(addr) & prefix_mask(self.prefix) == u32::from(self.network())
    }
}

impl fmt::Display for Ipv4Net {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}", self.addr, self.prefix)
    }
}

/// The netmask of a prefix length (`24` → `0xffffff00`).
pub fn prefix_mask(prefix: u8) -> u32 {
    if prefix == 0 { 0 } else { u32::MAX << (32 - prefix.min(32) as u32) }
}

/// Packet, byte, error and drop counters of an interface in both directions: the
/// kernel's (as `/sys/class/net/<if>/statistics` and `/proc/net/dev` report them) or a
/// port's own (see [`crate::netdev::Stats`]).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub struct Counters {
    /// `rx_packets`.
    pub rx_packets: u64,
    /// `rx_bytes`.
    pub rx_bytes: u64,
    /// `rx_errors`.
    pub rx_errors: u64,
    /// `rx_dropped`.
    pub rx_dropped: u64,
    /// `tx_packets`.
    pub tx_packets: u64,
    /// `tx_bytes`.
    pub tx_bytes: u64,
    /// `tx_errors`.
    pub tx_errors: u64,
    /// `tx_dropped`.
    pub tx_dropped: u64,
}

impl Counters {
    /// The same counters from the port's side, as Open vSwitch's `netdev_tap_get_stats`
    /// reports them: what the kernel transmitted is what the port received.
    pub fn swapped(self) -> Counters {
        Counters {
            rx_packets: self.tx_packets,
            rx_bytes: self.tx_bytes,
            rx_errors: self.tx_errors,
            rx_dropped: self.tx_dropped,
            tx_packets: self.rx_packets,
            tx_bytes: self.rx_bytes,
            tx_errors: self.rx_errors,
            tx_dropped: self.rx_dropped,
        }
    }

    /// Parses `name`'s line of a `/proc/net/dev` table.
    pub fn parse_proc_net_dev(table: &str, name: &str) -> Option<Counters> {
        table.lines().skip(2).find_map(|line| {
            let (ifname, rest) = line.split_once(':')?;
            if ifname.trim() != name {
                return None;
            }
            let v: Vec<u64> = rest.split_whitespace().filter_map(|x| x.parse().ok()).collect();
            (v.len() >= 16).then(|| Counters {
                rx_bytes: v[0],
                rx_packets: v[1],
                rx_errors: v[2],
                rx_dropped: v[3],
                tx_bytes: v[8],
                tx_packets: v[9],
                tx_errors: v[10],
                tx_dropped: v[11],
            })
        })
    }
}

/// An interface, addressed by name, with the ioctls pltap needs.
///
/// ```no_run
/// use pltap_core::{Iface, IfName};
/// let lo = Iface::new(IfName::new("lo")?)?;
/// assert!(lo.flags()?.up);
/// println!("lo has MTU {} and index {}", lo.mtu()?, lo.ifindex()?);
/// # Ok::<(), pltap_core::Error>(())
/// ```
#[derive(Debug, Clone)]
pub struct Iface {
    name: IfName,
    sock: Arc<OwnedFd>,
}

impl Iface {
    /// An interface in the calling thread's network namespace.
    pub fn new(name: IfName) -> Result<Iface> {
        Ok(Iface { name, sock: control_socket()? })
    }

    /// An interface reached through a given control socket (and so its namespace).
    pub fn with_socket(name: IfName, sock: Arc<OwnedFd>) -> Iface {
        Iface { name, sock }
    }

    /// The name.
    pub fn name(&self) -> &IfName {
        &self.name
    }

    fn request(&self) -> IfReq {
        IfReq { name: self.name.to_ifr_name(), data: [0; 24] }
    }

    fn ioctl(&self, request: u64, what: &'static str, ifr: &mut IfReq) -> Result<()> {
        sys::ioctl_ifreq(self.sock.as_fd(), request, ifr)
            .map_err(|e| Error::os(format!("{what} {}", self.name), "ioctl", e))
    }

    fn get_int(&self, request: u64, what: &'static str) -> Result<i32> {
        let mut ifr = self.request();
        self.ioctl(request, what, &mut ifr)?;
        Ok(i32::from_ne_bytes(ifr.data[..4].try_into().expect("4 bytes")))
    }

    fn set_int(&self, request: u64, what: &'static str, value: i32) -> Result<()> {
        let mut ifr = self.request();
        ifr.data[..4].copy_from_slice(&value.to_ne_bytes());
        self.ioctl(request, what, &mut ifr)
    }

    fn raw_flags(&self) -> Result<i16> {
        let mut ifr = self.request();
        self.ioctl(linux::SIOCGIFFLAGS, "SIOCGIFFLAGS", &mut ifr)?;
        Ok(i16::from_ne_bytes([ifr.data[0], ifr.data[1]]))
    }

    /// `ioctl(SIOCGIFFLAGS)`: UP, PROMISC and RUNNING.
    #[doc(alias = "SIOCGIFFLAGS")]
    pub fn flags(&self) -> Result<IfFlags> {
        self.raw_flags().map(IfFlags::from_raw)
    }

    /// `ioctl(SIOCSIFFLAGS)`: read-modify-write of UP and/or PROMISC; other flags are
    /// kept. Returns the flags the kernel shows afterwards.
    #[doc(alias = "SIOCSIFFLAGS")]
    pub fn set_flags(&self, up: Option<bool>, promisc: Option<bool>) -> Result<IfFlags> {
        let old = self.raw_flags()?;
        let mut new = old;
        for (want, bit) in [(up, linux::IFF_UP), (promisc, linux::IFF_PROMISC)] {
            match want {
                Some(true) => new |= bit,
                Some(false) => new &= !bit,
                None => {}
            }
        }
        if new != old {
            let mut ifr = self.request();
            ifr.data[..2].copy_from_slice(&new.to_ne_bytes());
            self.ioctl(linux::SIOCSIFFLAGS, "SIOCSIFFLAGS", &mut ifr)?;
        }
        self.flags()
    }

    /// `ioctl(SIOCGIFMTU)`.
    #[doc(alias = "SIOCGIFMTU")]
    pub fn mtu(&self) -> Result<u32> {
        self.get_int(linux::SIOCGIFMTU, "SIOCGIFMTU").map(|v| v as u32)
    }

    /// `ioctl(SIOCSIFMTU)`.
    #[doc(alias = "SIOCSIFMTU")]
    pub fn set_mtu(&self, mtu: u32) -> Result<()> {
        let mtu = i32::try_from(mtu).map_err(|_| Error::invalid("MTU", format!("{mtu} is too large")))?;
        self.set_int(linux::SIOCSIFMTU, "SIOCSIFMTU", mtu)
    }

    /// `ioctl(SIOCGIFINDEX)`.
    #[doc(alias = "SIOCGIFINDEX")]
    pub fn ifindex(&self) -> Result<u32> {
        self.get_int(linux::SIOCGIFINDEX, "SIOCGIFINDEX").map(|v| v as u32)
    }

    /// `ioctl(SIOCGIFTXQLEN)`: the length of the device's transmit queue, which for a
    /// TAP device is how many frames the kernel buffers for the reader.
    #[doc(alias = "SIOCGIFTXQLEN")]
    pub fn txqlen(&self) -> Result<u32> {
        self.get_int(linux::SIOCGIFTXQLEN, "SIOCGIFTXQLEN").map(|v| v as u32)
    }

    /// `ioctl(SIOCSIFTXQLEN)`.
    #[doc(alias = "SIOCSIFTXQLEN")]
    pub fn set_txqlen(&self, len: u32) -> Result<()> {
        let len = i32::try_from(len).map_err(|_| Error::invalid("txqueuelen", format!("{len} is too large")))?;
        self.set_int(linux::SIOCSIFTXQLEN, "SIOCSIFTXQLEN", len)
    }

    /// `ioctl(SIOCGIFHWADDR)` by name.
    #[doc(alias = "SIOCGIFHWADDR")]
    pub fn hwaddr(&self) -> Result<MacAddr> {
        let mut ifr = self.request();
        self.ioctl(linux::SIOCGIFHWADDR, "SIOCGIFHWADDR", &mut ifr)?;
        Ok(mac_from_sockaddr(&ifr))
    }

    /// `ioctl(SIOCSIFHWADDR)` by name.
    #[doc(alias = "SIOCSIFHWADDR")]
    pub fn set_hwaddr(&self, mac: MacAddr) -> Result<()> {
        let mut ifr = self.request();
        mac_to_sockaddr(&mut ifr, mac)?;
        self.ioctl(linux::SIOCSIFHWADDR, "SIOCSIFHWADDR", &mut ifr)
    }

    /// `ioctl(SIOCGIFADDR)` and `ioctl(SIOCGIFNETMASK)`: the primary IPv4 address, or
    /// `None` if the interface has none.
    #[doc(alias = "SIOCGIFADDR")]
    pub fn ipv4(&self) -> Result<Option<Ipv4Net>> {
        let mut ifr = self.request();
        match self.ioctl(linux::SIOCGIFADDR, "SIOCGIFADDR", &mut ifr) {
            Err(e) if e.is_errno(libc::EADDRNOTAVAIL) => return Ok(None),
            r => r?,
        }
        let addr = ipv4_from_sockaddr(&ifr);
        let mut ifr = self.request();
        self.ioctl(linux::SIOCGIFNETMASK, "SIOCGIFNETMASK", &mut ifr)?;
        let prefix = u32::from(ipv4_from_sockaddr(&ifr)).leading_ones() as u8;
        Ok(Some(Ipv4Net { addr, prefix }))
    }

    /// `ioctl(SIOCSIFADDR)` then `ioctl(SIOCSIFNETMASK)`: sets the primary IPv4 address
    /// and its prefix (the kernel adds the subnet route once the interface is UP).
    #[doc(alias = "SIOCSIFADDR")]
    pub fn set_ipv4(&self, net: Ipv4Net) -> Result<()> {
        if net.prefix > 32 {
            return Err(Error::invalid("prefix", format!("{} is not in 0..=32", net.prefix)));
        }
        let mut ifr = self.request();
        ipv4_to_sockaddr(&mut ifr, net.addr);
        self.ioctl(linux::SIOCSIFADDR, "SIOCSIFADDR", &mut ifr)?;
        let mut ifr = self.request();
        ipv4_to_sockaddr(&mut ifr, Ipv4Addr::from(prefix_mask(net.prefix)));
        self.ioctl(linux::SIOCSIFNETMASK, "SIOCSIFNETMASK", &mut ifr)
    }

    /// The kernel's counters for this interface, from `/proc/thread-self/net/dev`
    /// (the same numbers as `/sys/class/net/<if>/statistics`, but read in the calling
    /// thread's network namespace, which `/sys` is not).
    pub fn kernel_counters(&self) -> Result<Counters> {
        let path = "/proc/thread-self/net/dev";
        let table = std::fs::read_to_string(path).map_err(|e| Error::os(format!("read {path}"), "open", e))?;
        Counters::parse_proc_net_dev(&table, self.name.as_str()).ok_or_else(|| Error::Os {
            op: format!("find {} in {path}", self.name),
            syscall: "read",
            errno: crate::Errno(libc::ENODEV),
        })
    }
}

/// `ioctl(fd, SIOCGIFHWADDR)` on a tun/tap descriptor itself: works before the
/// interface is visible by name (defect A13).
pub(crate) fn fd_hwaddr(fd: BorrowedFd<'_>, name: &IfName) -> Result<MacAddr> {
    let mut ifr = IfReq { name: name.to_ifr_name(), data: [0; 24] };
    sys::ioctl_ifreq(fd, linux::SIOCGIFHWADDR, &mut ifr)
        .map_err(|e| Error::os(format!("SIOCGIFHWADDR {name}"), "ioctl", e))?;
    Ok(mac_from_sockaddr(&ifr))
}

/// `ioctl(fd, SIOCSIFHWADDR)` on a tun/tap descriptor itself.
pub(crate) fn fd_set_hwaddr(fd: BorrowedFd<'_>, name: &IfName, mac: MacAddr) -> Result<()> {
    let mut ifr = IfReq { name: name.to_ifr_name(), data: [0; 24] };
    mac_to_sockaddr(&mut ifr, mac)?;
    sys::ioctl_ifreq(fd, linux::SIOCSIFHWADDR, &mut ifr)
        .map_err(|e| Error::os(format!("SIOCSIFHWADDR {name}"), "ioctl", e))
}

// struct sockaddr: sa_family (u16, native), then sa_data[14].
fn mac_from_sockaddr(ifr: &IfReq) -> MacAddr {
    MacAddr(ifr.data[2..8].try_into().expect("6 bytes"))
}

fn mac_to_sockaddr(ifr: &mut IfReq, mac: MacAddr) -> Result<()> {
    if !mac.is_unicast() {
        return Err(Error::invalid("MAC address", format!("{mac} is a multicast address")));
    }
    ifr.data[..2].copy_from_slice(&linux::ARPHRD_ETHER.to_ne_bytes());
    ifr.data[2..8].copy_from_slice(&mac.0);
    Ok(())
}

// struct sockaddr_in: sin_family (u16), sin_port (be16), sin_addr (4 bytes).
fn ipv4_from_sockaddr(ifr: &IfReq) -> Ipv4Addr {
    Ipv4Addr::new(ifr.data[4], ifr.data[5], ifr.data[6], ifr.data[7])
}

fn ipv4_to_sockaddr(ifr: &mut IfReq, addr: Ipv4Addr) {
    ifr.data[..2].copy_from_slice(&(libc::AF_INET as u16).to_ne_bytes());
    ifr.data[4..8].copy_from_slice(&addr.octets());
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn mac_parse_and_format() {
        let m: MacAddr = "0A:bc:00:11:22:33".parse().unwrap();
        assert_eq!(m.to_string(), "0a:bc:00:11:22:33");
        for bad in
            ["", "0a:bc:00:11:22", "0a:bc:00:11:22:33:44", "0a-bc-00-11-22-33", "0g:00:00:00:00:00", "a:b:c:d:e:f"]
        {
            assert!(bad.parse::<MacAddr>().is_err(), "{bad}");
        }
        assert!(!"01:00:5e:00:00:01".parse::<MacAddr>().unwrap().is_unicast());
    }

    #[test]
    fn prefix_math() {
        assert_eq!(prefix_mask(24), 0xffff_ff00);
        assert_eq!(prefix_mask(0), 0);
        assert_eq!(prefix_mask(32), u32::MAX);
        let net = Ipv4Net { addr: Ipv4Addr::new(198, 18, 7, 9), prefix: 16 };
        assert_eq!(net.network(), Ipv4Addr::new(198, 18, 0, 0));
        assert!(net.contains(Ipv4Addr::new(198, 18, 255, 1)));
        assert!(!net.contains(Ipv4Addr::new(198, 19, 0, 1)));
    }

    #[test]
    fn proc_net_dev_parsing_and_swap() {
        let table = "Inter-|   Receive                                                |  Transmit\n \
 face |bytes    packets errs drop fifo frame compressed multicast|bytes    packets errs drop fifo colls carrier compressed\n    \
lo:     100       2    0    0    0     0          0         0      300       4    0    1    0     0       0          0\n \
tap0: 42 1 0 0 0 0 0 0 84 2 0 0 0 0 0 0\n";
        let lo = Counters::parse_proc_net_dev(table, "lo").unwrap();
        assert_eq!((lo.rx_bytes, lo.rx_packets, lo.tx_bytes, lo.tx_packets, lo.tx_dropped), (100, 2, 300, 4, 1));
        let port = lo.swapped();
        assert_eq!((port.rx_packets, port.tx_packets, port.rx_dropped), (4, 2, 1));
        assert_eq!(Counters::parse_proc_net_dev(table, "tap0").unwrap().tx_bytes, 84);
        assert!(Counters::parse_proc_net_dev(table, "eth0").is_none());
    }
}
