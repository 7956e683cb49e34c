//! Interfaces by name: [`Iface`] and its ioctls (`SIOCGIFFLAGS`, `SIOCSIFMTU`, ...), and
//! the value types they take and return.
//!
//! | module | what it holds |
//! |---|---|
//! | [`addr`] | [`MacAddr`], [`Prefix`], [`Ipv4Net`], [`parse_ipv4`]: validated address values |
//! | [`flags`] | [`IfFlags`]: UP, PROMISC, RUNNING |
//! | [`counters`] | [`Counters`] and the `/proc/net/dev` parser |
//! | [`cidr`] | [`IpCidr`]: IPv4 and IPv6 addresses with a prefix length |
//! | [`netlink`] | [`netlink::Rtnl`]: rtnetlink requests (links, addresses) |
//! | [`route`] | [`RouteSpec`] and the route requests |
//! | [`monitor`] | [`monitor::Monitor`]: one rtnetlink subscription per namespace |
//! | [`netns`] | network namespaces as descriptors |
//! | this module | [`Iface`], the ioctls, and the per-namespace control socket |
//!
//! The ioctls go through one shared AF_INET socket per network namespace. The original
//! netdev-pltap used `af_inet_ifreq_ioctl()`: one lazily created socket for the whole
//! process. An ioctl by name resolves the name in the socket's network namespace, so a
//! process whose threads live in different namespaces (tests, or a service that manages
//! several) needs one socket per namespace. [`control_socket`] keeps exactly that:
//! created on first use, shared by every caller in the namespace, and closed when the
//! last [`Iface`] that holds it is dropped (so it never pins a namespace that is
//! otherwise gone).

pub mod addr;
pub mod cidr;
pub mod counters;
pub mod flags;
pub mod monitor;
pub mod netlink;
pub mod netns;
pub mod route;

pub use addr::{Ipv4Net, MacAddr, Prefix, parse_ipv4};
pub use cidr::IpCidr;
pub use counters::Counters;
pub use flags::IfFlags;
pub use route::RouteSpec;

use crate::error::{Errno, Error, Result};
use crate::ifname::IfName;
use crate::sys::{self, IfReq, linux};
use std::collections::HashMap;
use std::os::fd::{AsFd, OwnedFd};
use std::os::unix::fs::MetadataExt;
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
        IfReq::new(self.name.to_ifr_name())
    }

    fn ioctl(&self, request: u64, what: &'static str, ifr: &mut IfReq) -> Result<()> {
        sys::ioctl_ifreq(self.sock.as_fd(), request, ifr)
            .map_err(|e| Error::os(format!("{what} {}", self.name), "ioctl", e))
    }

    fn get_int(&self, request: u64, what: &'static str) -> Result<i32> {
        let mut ifr = self.request();
        self.ioctl(request, what, &mut ifr)?;
        Ok(ifr.int())
    }

    fn set_int(&self, request: u64, what: &'static str, value: i32) -> Result<()> {
        let mut ifr = self.request();
        ifr.set_int(value);
        self.ioctl(request, what, &mut ifr)
    }

    fn raw_flags(&self) -> Result<i16> {
        let mut ifr = self.request();
        self.ioctl(linux::SIOCGIFFLAGS, "SIOCGIFFLAGS", &mut ifr)?;
        Ok(ifr.flags())
    }

    /// `ioctl(SIOCGIFFLAGS)`: UP, PROMISC and RUNNING.
    #[doc(alias = "SIOCGIFFLAGS")]
    pub fn flags(&self) -> Result<IfFlags> {
        self.raw_flags().map(IfFlags::from_raw)
    }

    /// `ioctl(SIOCSIFFLAGS)`: sets or clears `IFF_UP` (read-modify-write; other flags are
    /// kept). Returns the flags the kernel shows afterwards.
    #[doc(alias = "SIOCSIFFLAGS")]
    pub fn set_up(&self, up: bool) -> Result<IfFlags> {
        self.update_flags(linux::IFF_UP, up)
    }

    /// `ioctl(SIOCSIFFLAGS)`: sets or clears `IFF_PROMISC` (read-modify-write; other flags
    /// are kept). Returns the flags the kernel shows afterwards.
    #[doc(alias = "SIOCSIFFLAGS")]
    pub fn set_promisc(&self, on: bool) -> Result<IfFlags> {
        self.update_flags(linux::IFF_PROMISC, on)
    }

    fn update_flags(&self, bit: i16, on: bool) -> Result<IfFlags> {
        let old = self.raw_flags()?;
        let new = if on { old | bit } else { old & !bit };
        if new != old {
            let mut ifr = self.request();
            ifr.set_flags(new);
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
        Ok(MacAddr(ifr.hwaddr()))
    }

    /// `ioctl(SIOCSIFHWADDR)` by name. The address must be unicast.
    #[doc(alias = "SIOCSIFHWADDR")]
    pub fn set_hwaddr(&self, mac: MacAddr) -> Result<()> {
        let mut ifr = self.request();
        ifr.set_hwaddr(mac.require_unicast()?.0);
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
        let addr = ifr.sockaddr_in();
        let mut ifr = self.request();
        self.ioctl(linux::SIOCGIFNETMASK, "SIOCGIFNETMASK", &mut ifr)?;
        Ok(Some(Ipv4Net::with_prefix(addr, Prefix::from_netmask(ifr.sockaddr_in()))))
    }

    /// `ioctl(SIOCSIFADDR)` then `ioctl(SIOCSIFNETMASK)`: sets the primary IPv4 address
    /// and its prefix (the kernel adds the subnet route once the interface is UP).
    #[doc(alias = "SIOCSIFADDR")]
    pub fn set_ipv4(&self, net: Ipv4Net) -> Result<()> {
        let mut ifr = self.request();
        ifr.set_sockaddr_in(net.addr());
        self.ioctl(linux::SIOCSIFADDR, "SIOCSIFADDR", &mut ifr)?;
        let mut ifr = self.request();
        ifr.set_sockaddr_in(net.netmask());
        self.ioctl(linux::SIOCSIFNETMASK, "SIOCSIFNETMASK", &mut ifr)
    }

    /// The kernel's counters for this interface, from `/proc/thread-self/net/dev`
    /// (the same numbers as `/sys/class/net/<if>/statistics`, but read in the calling
    /// thread's network namespace, which `/sys` is not).
    pub fn kernel_counters(&self) -> Result<Counters> {
        let path = "/proc/thread-self/net/dev";
        let table = std::fs::read_to_string(path).map_err(|e| Error::os(format!("read {path}"), "open", e))?;
        Counters::parse_proc_net_dev(&table, self.name.as_str())
            .ok_or_else(|| Error::errno(format!("find {} in {path}", self.name), "read", Errno::from_raw(libc::ENODEV)))
    }
}
