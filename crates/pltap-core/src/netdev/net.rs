//! The rtnetlink side of a [`Netdev`]: its addresses and routes, the namespace it lives
//! in (and moving it to another), persistence, carrier, txqueuelen, and the kernel's
//! announcements about it ([`Netdev::subscribe`]).
//!
//! A `Netdev` remembers its device's network namespace as a descriptor, with an rtnetlink
//! request socket and an ioctl socket made in it. [`Netdev::move_to_netns`] moves the
//! device and then replaces all three (and the subscription), so that every operation,
//! [`Netdev::stats`] included, goes on reaching the device in its new namespace.
//!
//! Under vsys, the helper's scripts are the only way to change the link, and they offer
//! one IPv4 address (`vif_up`, which also takes `mtu` and `txqueuelen`), `vif_down` and
//! `promisc`. So MTU and txqueuelen go through `vif_up`; addresses, routes and namespace
//! moves fail with `ENOTSUP` (the carrier is set on the descriptor, which works there too).

use super::Netdev;
use crate::error::{Errno, Error, Result};
use crate::iface::monitor::{Callback, Monitor, Watch};
use crate::iface::netlink::{LinkChange, LinkInfo, Rtnl};
use crate::iface::{self, Counters, IpCidr, RouteSpec, netns};
use crate::sys;
use crate::vsys::VifOption;
use std::os::fd::{AsFd, OwnedFd};
use std::sync::atomic::{AtomicU32, Ordering::Relaxed};
use std::sync::{Arc, Mutex, RwLock, RwLockReadGuard};

/// The namespace a device lives in, and the sockets that reach it there.
#[derive(Debug, Clone)]
pub(super) struct Ns {
    netns: Arc<OwnedFd>,
    rtnl: Arc<Rtnl>,
}

/// What [`Netdev::refresh`] tracks besides the reconciler's flags and primary address.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
struct Extra {
    addresses: Vec<IpCidr>,
    mtu: u32,
}

/// A Netdev's rtnetlink state (see the module docs).
pub(super) struct NetState {
    /// Read while the device is used by namespace; written while it moves; `None` once
    /// the Netdev is closed (so its sockets close with the device, not at drop).
    ns: RwLock<Option<Ns>>,
    watch: Mutex<Option<Watch>>,
    listener: Mutex<Option<Callback>>,
    extra: Mutex<Extra>,
    /// The `vif_up` options wanted under vsys (`mtu`, `txqueuelen`).
    vif: Mutex<(Option<u32>, Option<u32>)>,
    /// How many times the device moved namespace through this Netdev.
    moves: AtomicU32,
}

impl std::fmt::Debug for NetState {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("NetState").field("ns", &self.ns).field("moves", &self.moves).finish_non_exhaustive()
    }
}

impl NetState {
    /// The calling thread's namespace, with a request socket in it.
    pub(super) fn new() -> Result<NetState> {
        let netns = netns::open("/proc/thread-self/ns/net".as_ref())?;
        Ok(NetState {
            ns: RwLock::new(Some(Ns { netns: Arc::new(netns), rtnl: Arc::new(Rtnl::new()?) })),
            watch: Mutex::new(None),
            listener: Mutex::new(None),
            extra: Mutex::new(Extra::default()),
            vif: Mutex::new((None, None)),
            moves: AtomicU32::new(0),
        })
    }

    /// Holds off a namespace move while the caller reads the device.
    pub(super) fn read_ns(&self) -> RwLockReadGuard<'_, Option<Ns>> {
        self.ns.read().unwrap_or_else(|p| p.into_inner())
    }

    fn rtnl(&self) -> Result<Arc<Rtnl>> {
        self.read_ns().as_ref().map(|ns| ns.rtnl.clone()).ok_or(Error::Closed)
    }

    /// At close: ends the subscription and closes the namespace's sockets.
    pub(super) fn release(&self) {
        self.listener.lock().unwrap_or_else(|p| p.into_inner()).take();
        self.watch.lock().unwrap_or_else(|p| p.into_inner()).take();
        self.ns.write().unwrap_or_else(|p| p.into_inner()).take();
    }

    /// The `vif_up` option lines for the wanted MTU and txqueuelen.
    pub(super) fn vif_options(&self) -> Vec<VifOption> {
        let (mtu, txqlen) = *self.vif.lock().unwrap_or_else(|p| p.into_inner());
        let mut out = Vec::new();
        if let Some(q) = txqlen {
            out.extend(VifOption::new("txqueuelen", &q.to_string()));
        }
        if let Some(m) = mtu {
            out.extend(VifOption::new("mtu", &m.to_string()));
        }
        out
    }
}

fn unsupported_under_vsys(what: &str, name: &str, syscall: &'static str) -> Error {
    Error::errno(
        format!(
            "{what} on vsys device {name}: not supported (the vsys helper's scripts set one IPv4 address, \
             mtu and txqueuelen with vif_up, and promisc; nothing else)"
        ),
        syscall,
        Errno::from_raw(libc::ENOTSUP),
    )
}

impl Netdev {
    fn own_index(&self) -> Result<u32> {
        self.check_device()?;
        match self.ifindex.load(Relaxed) {
            0 => Err(Error::errno(
                format!("find {} in this network namespace", self.name),
                "rtnetlink(RTM_GETLINK)",
                Errno::from_raw(libc::ENODEV),
            )),
            i => Ok(i),
        }
    }

    fn no_vsys(&self, what: &str, syscall: &'static str) -> Result<()> {
        match self.vsys {
            Some(_) => Err(unsupported_under_vsys(what, self.name.as_str(), syscall)),
            None => Ok(()),
        }
    }

    /// Reads the addresses and MTU for change detection; whether they changed.
    pub(super) fn refresh_extra(&self, ns: &Option<Ns>) -> bool {
        let index = self.ifindex.load(Relaxed);
        let Some(ns) = ns else { return false };
        let next = match (ns.rtnl.addresses(index), ns.rtnl.link(index)) {
            (Ok(addresses), Ok(link)) => Extra { addresses, mtu: link.mtu },
            _ => Extra::default(),
        };
        let mut extra = self.net.extra.lock().unwrap_or_else(|p| p.into_inner());
        let changed = *extra != next;
        *extra = next;
        changed
    }

    /// The addresses and MTU as of the last [`Netdev::refresh`] (the snapshot's).
    pub fn observed_addresses(&self) -> (Vec<IpCidr>, u32) {
        let extra = self.net.extra.lock().unwrap_or_else(|p| p.into_inner());
        (extra.addresses.clone(), extra.mtu)
    }

    /// The kernel's counters over rtnetlink (`IFLA_STATS64`), in the device's namespace
    /// wherever it moved; not swapped.
    pub(super) fn kernel_counters(&self) -> Result<Counters> {
        Ok(self.net.rtnl()?.link(self.own_index()?)?.stats)
    }

    /// What the kernel reports about the device now (`RTM_GETLINK`).
    pub fn link_info(&self) -> Result<LinkInfo> {
        self.net.rtnl()?.link(self.own_index()?)
    }

    /// Every IPv4 and IPv6 address of the device, IPv4 first (`RTM_GETADDR`).
    pub fn addresses(&self) -> Result<Vec<IpCidr>> {
        self.net.rtnl()?.addresses(self.own_index()?)
    }

    /// Adds an address (`ip addr add CIDR dev NAME`): `EEXIST` if the device has it.
    /// `ENOTSUP` under vsys.
    ///
    /// ```no_run
    /// # use pltap_core::netdev::{Allocator, Netdev, NetdevOptions};
    /// # let dev = Netdev::open(NetdevOptions { allocator: Allocator::Direct { ifname: None }, mode: pltap_core::Mode::Tap, packet_info: None, offload: None })?;
    /// dev.add_address("2001:db8::1/64".parse()?)?;
    /// dev.add_address("198.18.1.1/24".parse()?)?;
    /// assert_eq!(dev.addresses()?[0].to_string(), "198.18.1.1/24");
    /// # Ok::<(), pltap_core::Error>(())
    /// ```
    pub fn add_address(&self, cidr: IpCidr) -> Result<()> {
        self.no_vsys(&format!("add address {cidr}"), "rtnetlink(RTM_NEWADDR)")?;
        self.net.rtnl()?.add_address(self.own_index()?, self.name.as_str(), cidr)
    }

    /// Removes an address (`ip addr del`): `EADDRNOTAVAIL` if the device does not have it.
    /// `ENOTSUP` under vsys.
    pub fn remove_address(&self, cidr: IpCidr) -> Result<()> {
        self.no_vsys(&format!("remove address {cidr}"), "rtnetlink(RTM_DELADDR)")?;
        self.net.rtnl()?.remove_address(self.own_index()?, self.name.as_str(), cidr)
    }

    /// Adds a route through the device (`ip route add ... dev NAME`). `ENOTSUP` under vsys.
    pub fn add_route(&self, route: &RouteSpec) -> Result<()> {
        self.no_vsys(&format!("add route {route}"), "rtnetlink(RTM_NEWROUTE)")?;
        self.net.rtnl()?.add_route(self.own_index()?, self.name.as_str(), route)
    }

    /// Removes a route through the device (`ip route del ... dev NAME`): `ESRCH` if there
    /// is none. `ENOTSUP` under vsys.
    pub fn remove_route(&self, route: &RouteSpec) -> Result<()> {
        self.no_vsys(&format!("remove route {route}"), "rtnetlink(RTM_DELROUTE)")?;
        self.net.rtnl()?.remove_route(self.own_index()?, self.name.as_str(), route)
    }

    /// How many times the device moved namespace through [`Netdev::move_to_netns`].
    pub fn netns_moves(&self) -> u32 {
        self.net.moves.load(Relaxed)
    }

    /// Moves the device into the network namespace `target` refers to (an open
    /// `/run/netns/X` or `/proc/PID/ns/net`), as `ip link set NAME netns X` does, and
    /// follows it: every later operation (link changes, addresses, [`Netdev::stats`],
    /// the announcements) acts on the device in its new namespace.
    ///
    /// Errors: `EEXIST` if the target has an interface of this name, `EINVAL` if `target`
    /// is not a network namespace, `ENOTSUP` under vsys; [`Error::DeviceGone`].
    ///
    /// ```no_run
    /// # use pltap_core::netdev::{Allocator, Netdev, NetdevOptions};
    /// use pltap_core::iface::netns;
    /// # let dev = Netdev::open(NetdevOptions { allocator: Allocator::Direct { ifname: None }, mode: pltap_core::Mode::Tap, packet_info: None, offload: None })?;
    /// dev.move_to_netns(netns::open("/run/netns/blue".as_ref())?)?;
    /// assert!(dev.stats()?.kernel.is_some()); // read in blue
    /// # Ok::<(), pltap_core::Error>(())
    /// ```
    pub fn move_to_netns(&self, target: OwnedFd) -> Result<()> {
        self.no_vsys("move to another network namespace", "rtnetlink(RTM_SETLINK)")?;
        let mut guard = self.net.ns.write().unwrap_or_else(|p| p.into_inner());
        let Some(ns) = guard.as_mut() else { return Err(Error::Closed) };
        let tap = self.own_tap()?;
        let index = self.own_index()?;
        if netns::id_of(target.as_fd())? == netns::id_of(ns.netns.as_fd())? {
            return Ok(()); // already there
        }
        ns.rtnl.set_link(
            index,
            self.name.as_str(),
            LinkChange { netns: Some(target.as_fd()), ..Default::default() },
        )?;
        // The device is there now: reach it there. These only fail for want of memory or
        // descriptors; the device is then in the target without this Netdev following.
        let (ctl, rtnl) =
            netns::run_in(target.as_fd(), || -> Result<_> { Ok((iface::control_socket()?, Rtnl::new()?)) })??;
        tap.set_control_socket(ctl);
        let new_index = tap.iface().ifindex()?;
        self.ifindex.store(new_index, Relaxed);
        *ns = Ns { netns: Arc::new(target), rtnl: Arc::new(rtnl) };
        self.net.moves.fetch_add(1, Relaxed);
        let listener = self.net.listener.lock().unwrap_or_else(|p| p.into_inner()).clone();
        if let Some(cb) = listener {
            let watch = Monitor::watch(Some(ns.netns.as_fd()), new_index, cb.clone())?;
            *self.net.watch.lock().unwrap_or_else(|p| p.into_inner()) = Some(watch);
            drop(guard);
            cb(iface::monitor::Event::Resync);
        }
        Ok(())
    }

    /// Calls `callback` (on a monitor thread; it must not block) whenever the kernel
    /// announces a change of the device's link or addresses, or its removal, whoever made
    /// it. Replaces an earlier callback. The subscription follows the device when it moves
    /// through [`Netdev::move_to_netns`] and ends when the Netdev is closed or dropped.
    ///
    /// ```no_run
    /// # use pltap_core::netdev::{Allocator, Netdev, NetdevOptions};
    /// # let dev = Netdev::open(NetdevOptions { allocator: Allocator::Direct { ifname: None }, mode: pltap_core::Mode::Tap, packet_info: None, offload: None })?;
    /// dev.subscribe(std::sync::Arc::new(|event| eprintln!("kernel says: {event:?}")))?;
    /// # Ok::<(), pltap_core::Error>(())
    /// ```
    pub fn subscribe(&self, callback: Callback) -> Result<()> {
        let ns = self.net.read_ns();
        let Some(ns) = ns.as_ref() else { return Err(Error::Closed) };
        let watch = Monitor::watch(Some(ns.netns.as_fd()), self.ifindex.load(Relaxed), callback.clone())?;
        *self.net.listener.lock().unwrap_or_else(|p| p.into_inner()) = Some(callback);
        *self.net.watch.lock().unwrap_or_else(|p| p.into_inner()) = Some(watch);
        Ok(())
    }

    /// Ends the subscription of [`Netdev::subscribe`].
    pub fn unsubscribe(&self) {
        self.net.listener.lock().unwrap_or_else(|p| p.into_inner()).take();
        self.net.watch.lock().unwrap_or_else(|p| p.into_inner()).take();
    }

    /// At open: `TUNSETOWNER` / `TUNSETGROUP` for each given, then `TUNSETPERSIST` if
    /// `persist` is given (a persistent device outlives its last descriptor: delete it with
    /// `ip link delete NAME`, or open it again with `persist: Some(false)` and close it).
    /// Rejected under vsys, whose helper owns the device's life.
    ///
    /// ```no_run
    /// # use pltap_core::netdev::{Allocator, Netdev, NetdevOptions};
    /// # let dev = Netdev::open(NetdevOptions { allocator: Allocator::Direct { ifname: None }, mode: pltap_core::Mode::Tap, packet_info: None, offload: None })?;
    /// dev.set_lifetime(Some(true), Some(1000), None)?; // uid 1000 may attach; it stays after close
    /// # Ok::<(), pltap_core::Error>(())
    /// ```
    pub fn set_lifetime(&self, persist: Option<bool>, owner: Option<u32>, group: Option<u32>) -> Result<()> {
        if self.vsys.is_some() {
            return Err(Error::invalid("persist/owner/group", "a vsys device's lifetime belongs to the helper"));
        }
        let tap = self.own_tap()?;
        let name = &self.name;
        if let Some(uid) = owner {
            sys::link::tun_set_owner(tap.fd(), uid)
                .map_err(|e| Error::os(format!("TUNSETOWNER {name} {uid}"), "ioctl", e))?;
        }
        if let Some(gid) = group {
            sys::link::tun_set_group(tap.fd(), gid)
                .map_err(|e| Error::os(format!("TUNSETGROUP {name} {gid}"), "ioctl", e))?;
        }
        if let Some(on) = persist {
            sys::link::tun_set_persist(tap.fd(), on)
                .map_err(|e| Error::os(format!("TUNSETPERSIST {name} {}", u8::from(on)), "ioctl", e))?;
        }
        Ok(())
    }

    /// `TUNSETCARRIER` on the descriptor: carrier on or off (`ip link` then shows
    /// `NO-CARRIER` and operstate `DOWN` while it is off and the link is UP). Works under
    /// vsys too (the descriptor is the port's).
    pub fn set_carrier(&self, on: bool) -> Result<()> {
        let tap = self.own_tap()?;
        sys::link::tun_set_carrier(tap.fd(), on)
            .map_err(|e| Error::os(format!("TUNSETCARRIER {} {}", self.name, u8::from(on)), "ioctl", e))
    }

    /// Sets the MTU and/or the transmit queue length. Direct: `RTM_SETLINK`. Under vsys:
    /// remembered as `vif_up`'s `mtu=` / `txqueuelen=` options, and if the device is up
    /// through `vif_up`, `vif_up` runs again now with them (it is idempotent); otherwise
    /// they apply at the next `vif_up`. Returns the script's warning, if any.
    pub fn set_link_options(&self, mtu: Option<u32>, txqlen: Option<u32>) -> Result<Option<String>> {
        let Some(vsys) = &self.vsys else {
            let index = self.own_index()?;
            self.net.rtnl()?.set_link(index, self.name.as_str(), LinkChange { mtu, txqlen, netns: None })?;
            return Ok(None);
        };
        let _one_at_a_time = self.reconcile_lock.lock().unwrap_or_else(|p| p.into_inner());
        {
            let mut v = self.net.vif.lock().unwrap_or_else(|p| p.into_inner());
            if mtu.is_some() {
                v.0 = mtu;
            }
            if txqlen.is_some() {
                v.1 = txqlen;
            }
        }
        let Some(net) = self.config().net().filter(|_| self.vif_up_done.load(Relaxed)) else {
            self.check_device()?;
            return Ok(None);
        };
        let iface = self.own_iface()?;
        let outcome = vsys.vif_up(&iface, net, &self.net.vif_options())?;
        let shown = (iface.mtu()?, iface.txqlen()?);
        if mtu.is_some_and(|m| m != shown.0) || txqlen.is_some_and(|q| q != shown.1) {
            return Err(Error::Script {
                script: "vif_up".into(),
                reply: outcome.warning.unwrap_or_default(),
                detail: format!("the kernel shows {} with mtu {} and txqueuelen {}", self.name, shown.0, shown.1),
            });
        }
        Ok(outcome.warning)
    }
}
