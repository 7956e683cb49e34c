//! [`Netdev`]: a port backed by one device, the way the original `pltap` netdev was:
//! an open [`Tap`], the backend that changes its link state (vsys scripts or direct
//! ioctls), the desired/observed state, and the port's own counters.
//!
//! Every method is synchronous. Slow ones ([`Netdev::open`] through vsys,
//! [`Netdev::reconcile`]) are meant to run off the caller's event loop.
//!
//! Interface ioctls and vsys scripts address a device by name, and names are reused: once
//! the port's device is deleted or renamed, another device may carry its name. So a
//! `Netdev` records its device's ifindex at open, and every link operation first checks
//! that the device is still its own: `TUNGETIFF` on the port's descriptor gives the
//! device's current name (`EBADFD` once deleted), which must be the name it was opened
//! with and resolve to the recorded ifindex. Otherwise the operation fails with
//! [`Error::DeviceGone`] and touches nothing. (Frames go through the descriptor and so
//! always reach the port's own device; they are not checked.)

use crate::config::Config;
use crate::error::{Error, GoneReason, Result};
use crate::iface::{Counters, Iface, MacAddr};
use crate::ifname::IfName;
use crate::reconcile::{Action, Observed, Reconciler, Snapshot};
use crate::tap::{Mode, Tap, TapOptions};
use crate::vnet::{self, AtomicOffloadCounters, Fallback, OffloadCounters, OffloadOptions, OffloadState};
use crate::vsys::{TransactOptions, Vsys};
use std::os::fd::OwnedFd;
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, AtomicU32, AtomicU64, Ordering::Relaxed};
use std::sync::{Arc, Mutex, MutexGuard, RwLock};
use std::time::Instant;

mod net;

/// Where the device comes from.
#[derive(Debug)]
pub enum Allocator {
    /// `/dev/net/tun` in this process (needs `CAP_NET_ADMIN`).
    Direct {
        /// Exact name or `%d` template; `None` for `tap%d` / `tun%d`.
        ifname: Option<IfName>,
    },
    /// A vsys helper's `fd_tuntap.control`; link changes through its scripts.
    Vsys {
        /// The vsys root (`/vsys` in a sliver).
        root: PathBuf,
        /// Transaction limits.
        options: TransactOptions,
    },
    /// A descriptor the caller already holds; link changes by direct ioctls.
    Fd(OwnedFd),
}

/// How to open a [`Netdev`] (the core's side of the facade's `NetdevOptions`).
#[derive(Debug)]
pub struct NetdevOptions {
    /// The device source.
    pub allocator: Allocator,
    /// TAP or TUN.
    pub mode: Mode,
    /// `tun_pi` framing. `None` means: off for direct devices, on for vsys devices
    /// (PlanetLab's `fd_tuntap` always sets it); required for adopted descriptors.
    pub packet_info: Option<bool>,
    /// virtio-net header offload ([`crate::vnet`]); `None` is today's behaviour, except
    /// that a device with someone else's offload set gets `TUNSETOFFLOAD 0`.
    pub offload: Option<OffloadOptions>,
}

/// Counters from both sides: the port's own, and the kernel's seen from the port
/// (rx and tx swapped, as Open vSwitch does for tap devices).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Stats {
    /// What this process read and wrote.
    pub port: Counters,
    /// The kernel's interface counters with rx and tx swapped; `None` if the interface
    /// is not visible from this namespace.
    pub kernel: Option<Counters>,
}

#[derive(Debug, Default)]
struct AtomicCounters {
    rx_packets: AtomicU64,
    rx_bytes: AtomicU64,
    rx_errors: AtomicU64,
    rx_dropped: AtomicU64,
    tx_packets: AtomicU64,
    tx_bytes: AtomicU64,
    tx_errors: AtomicU64,
    tx_dropped: AtomicU64,
}

impl AtomicCounters {
    fn snapshot(&self) -> Counters {
        Counters {
            rx_packets: self.rx_packets.load(Relaxed),
            rx_bytes: self.rx_bytes.load(Relaxed),
            rx_errors: self.rx_errors.load(Relaxed),
            rx_dropped: self.rx_dropped.load(Relaxed),
            tx_packets: self.tx_packets.load(Relaxed),
            tx_bytes: self.tx_bytes.load(Relaxed),
            tx_errors: self.tx_errors.load(Relaxed),
            tx_dropped: self.tx_dropped.load(Relaxed),
        }
    }
}

/// An open port.
///
/// ```no_run
/// use pltap_core::netdev::{Netdev, NetdevOptions, Allocator};
/// use pltap_core::{Mode, config::Config};
/// let dev = Netdev::open(NetdevOptions { allocator: Allocator::Direct { ifname: None }, mode: Mode::Tap, packet_info: None, offload: None })?;
/// dev.set_config(Config::parse(Some("198.18.0.1"), Some(24))?);
/// dev.reconcile()?; // runs the pending actions: address, then UP
/// assert!(dev.observed().flags.up);
/// # Ok::<(), pltap_core::Error>(())
/// ```
#[derive(Debug)]
pub struct Netdev {
    tap: RwLock<Option<Arc<Tap>>>,
    name: IfName,
    /// The device's ifindex in the port's namespace, as first seen (0: not seen yet).
    ifindex: AtomicU32,
    vsys: Option<Vsys>,
    reconciler: Mutex<Reconciler>,
    /// Serializes [`Netdev::reconcile`] and [`Netdev::vif_down_if_up`].
    reconcile_lock: Mutex<()>,
    counters: AtomicCounters,
    /// Whether `vif_up` succeeded since the last `vif_down` (so [`Netdev::vif_down_if_up`] has work).
    vif_up_done: AtomicBool,
    /// Receive buffer of [`Netdev::recv`], large enough for any frame (so no MTU ioctl per read).
    recv_buf: Mutex<Vec<u8>>,
    /// The namespace, rtnetlink socket and kernel subscription (`netdev/net.rs`).
    net: net::NetState,
    /// What offload negotiated; `None` without.
    offload: Option<OffloadState>,
    /// The offload counters (all 0 without offload).
    pub(crate) vnet_counters: AtomicOffloadCounters,
    /// Segments of a split super-frame that [`Netdev::recv`] has not returned yet.
    pub(crate) recv_pending: Mutex<vnet::Pending>,
    /// The MTU last read, for the offload write checks when the interface cannot be read
    /// by name (moved to another namespace).
    mtu_seen: AtomicU32,
}

impl Netdev {
    /// Allocates or adopts the device and reads its state.
    pub fn open(spec: NetdevOptions) -> Result<Netdev> {
        let want = spec.offload;
        let (tap, vsys) = match spec.allocator {
            Allocator::Direct { ifname } => {
                let opts = TapOptions {
                    mode: spec.mode,
                    name: ifname,
                    packet_info: spec.packet_info.unwrap_or(false),
                    vnet_hdr: want.is_some(),
                };
                (Tap::open(&opts)?, None)
            }
            Allocator::Vsys { root, options } => {
                if spec.packet_info == Some(false) {
                    return Err(Error::invalid(
                        "packet_info",
                        "vsys devices always carry tun_pi framing (fd_tuntap cannot set IFF_NO_PI)",
                    ));
                }
                let vsys = Vsys::new(root).with_options(options);
                let tap = match want {
                    Some(o) => vsys.allocate_vnet(spec.mode, o.fallback == Fallback::Plain)?,
                    None => vsys.allocate(spec.mode)?,
                };
                (tap, Some(vsys))
            }
            Allocator::Fd(fd) => {
                let Some(pi) = spec.packet_info else {
                    return Err(Error::invalid(
                        "packet_info",
                        "must be given for an adopted descriptor: TUNGETIFF cannot tell",
                    ));
                };
                let tap = Tap::adopt(fd, pi)?;
                if tap.mode() != spec.mode {
                    return Err(Error::invalid(
                        "mode",
                        format!("the descriptor is a {} device, not {}", tap.mode().as_str(), spec.mode.as_str()),
                    ));
                }
                (tap, None)
            }
        };
        let offload = match want {
            None => {
                vnet::clear(&tap);
                None
            }
            Some(o) if tap.vnet_header_size() > 0 => Some(vnet::negotiate(&tap, &o)?),
            Some(o) if o.fallback == Fallback::Plain => {
                vnet::clear(&tap);
                None
            }
            Some(_) => {
                let (reason, detail) = if vsys.is_some() {
                    (crate::error::OffloadMissing::Helper, "the helper sent a descriptor without IFF_VNET_HDR")
                } else {
                    (crate::error::OffloadMissing::Fd, "the descriptor was opened without IFF_VNET_HDR (TUNGETIFF)")
                };
                return Err(Error::OffloadUnsupported {
                    reason,
                    missing: vec!["IFF_VNET_HDR".into()],
                    detail: format!("{}: {detail}", tap.name()),
                });
            }
        };
        let name = tap.name().clone();
        // Not visible by name yet (e.g. from another namespace): recorded when first seen.
        let ifindex = tap.iface().ifindex().unwrap_or(0);
        let dev = Netdev {
            tap: RwLock::new(Some(Arc::new(tap))),
            name,
            ifindex: AtomicU32::new(ifindex),
            vsys,
            reconciler: Mutex::new(Reconciler::default()),
            reconcile_lock: Mutex::new(()),
            counters: AtomicCounters::default(),
            vif_up_done: AtomicBool::new(false),
            recv_buf: Mutex::new(vec![
                0;
                if offload.is_some() { vnet::MAX_SUPER_FRAME } else { crate::frame::MAX_FRAME }
            ]),
            offload,
            vnet_counters: AtomicOffloadCounters::default(),
            recv_pending: Mutex::new(vnet::Pending::default()),
            mtu_seen: AtomicU32::new(0),
            net: net::NetState::new()?,
        };
        if dev.offload.is_some()
            && let Ok(tap) = dev.live_tap()
        {
            dev.mtu_for_offload(&tap);
        }
        let observed = dev.read_kernel().unwrap_or_default();
        *dev.reconciler() = Reconciler::new(observed);
        dev.refresh_extra(&dev.net.read_ns()); // the addresses and MTU at open: no change yet
        Ok(dev)
    }

    fn reconciler(&self) -> MutexGuard<'_, Reconciler> {
        self.reconciler.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// The open device, or [`Error::Closed`] once [`Netdev::close`] ran.
    pub fn live_tap(&self) -> Result<Arc<Tap>> {
        self.tap.read().unwrap_or_else(|p| p.into_inner()).clone().ok_or(Error::Closed)
    }

    /// What offload negotiated, or `None` for a device opened without it.
    pub fn offload(&self) -> Option<OffloadState> {
        self.offload
    }

    /// The offload counters (all 0 without offload).
    pub fn offload_counters(&self) -> OffloadCounters {
        self.vnet_counters.snapshot()
    }

    /// The kernel's interface name.
    pub fn name(&self) -> &IfName {
        &self.name
    }

    /// Whether link changes go through vsys scripts.
    pub fn uses_vsys(&self) -> bool {
        self.vsys.is_some()
    }

    /// Closes the descriptor (once; later calls return `false`). Threads still using
    /// the device keep it until they drop their `Arc<Tap>`.
    pub fn close(&self) -> bool {
        let closed = self.tap.write().unwrap_or_else(|p| p.into_inner()).take().is_some();
        self.net.release();
        closed
    }

    /// Under vsys, if `vif_up` ran for this port and no `vif_down` since: runs `vif_down`,
    /// so that the helper undoes what it set up for the device (PlanetLab's scripts remove
    /// their iptables rules; the original never called it, defect A11). A no-op otherwise.
    /// Meant to run just before [`Netdev::close`]; returns the script's warning, if any.
    ///
    /// Only for a device that is still the port's own: once it is gone (deleted, renamed
    /// or moved), its name may be another device's, so no `vif_down` runs and
    /// [`Error::DeviceGone`] says why.
    pub fn vif_down_if_up(&self) -> Result<Option<String>> {
        let Some(vsys) = &self.vsys else { return Ok(None) };
        let _one_at_a_time = self.reconcile_lock.lock().unwrap_or_else(|p| p.into_inner());
        if !self.vif_up_done.swap(false, Relaxed) {
            return Ok(None);
        }
        Ok(vsys.vif_down(&self.own_iface()?)?.warning)
    }

    /// Whether [`Netdev::close`] was called.
    pub fn is_closed(&self) -> bool {
        self.tap.read().unwrap_or_else(|p| p.into_inner()).is_none()
    }

    /// Checks that `tap`'s device is still this port's (see the module docs).
    fn verify(&self, tap: &Tap) -> Result<()> {
        let gone = |reason| Error::DeviceGone { name: self.name.to_string(), reason };
        let current = match tap.tun_get_iff() {
            Ok((name, _)) => name,
            Err(e) if e.is_errno(libc::EBADFD) || e.is_errno(libc::ENODEV) => return Err(gone(GoneReason::Deleted)),
            Err(e) => return Err(e),
        };
        if current != self.name {
            return Err(gone(GoneReason::Renamed(current.to_string())));
        }
        let recorded = self.ifindex.load(Relaxed);
        match tap.iface().ifindex() {
            Ok(now) if now == recorded => Ok(()),
            Ok(now) if recorded == 0 => {
                // First seen by name now; a concurrent check may have recorded it first.
                match self.ifindex.compare_exchange(0, now, Relaxed, Relaxed) {
                    Ok(_) => Ok(()),
                    Err(other) if other == now => Ok(()),
                    Err(_) => Err(gone(GoneReason::Moved)),
                }
            }
            Ok(_) => Err(gone(GoneReason::Moved)),
            Err(e) if e.is_errno(libc::ENODEV) && recorded != 0 => Err(gone(GoneReason::Moved)),
            // Never seen by name here: the operation itself will say why it cannot work.
            Err(_) => Ok(()),
        }
    }

    /// The open device after [`Netdev::verify`].
    fn own_tap(&self) -> Result<Arc<Tap>> {
        let tap = self.live_tap()?;
        self.verify(&tap)?;
        Ok(tap)
    }

    /// The ioctl handle of the open device after [`Netdev::verify`].
    fn own_iface(&self) -> Result<Iface> {
        Ok(self.own_tap()?.iface())
    }

    /// Checks that the device is still this port's own: not deleted, not renamed, not
    /// moved out of the namespace it was opened in. Every link operation does this first.
    ///
    /// Errors: [`Error::DeviceGone`] saying what happened; [`Error::Closed`].
    pub fn check_device(&self) -> Result<()> {
        self.own_tap().map(drop)
    }

    fn read_kernel(&self) -> Result<Observed> {
        let iface = self.own_iface()?;
        Ok(Observed { flags: iface.flags()?, addr: iface.ipv4()? })
    }

    /// Reads flags, address, addresses and MTU from the kernel; returns whether they
    /// changed. Once the device is gone ([`Error::DeviceGone`], returned), the observed
    /// state is emptied (down, no address), so nobody reads a stale UP.
    pub fn refresh(&self) -> Result<bool> {
        let ns = self.net.read_ns();
        let observed = match self.read_kernel() {
            Err(e @ Error::DeviceGone { .. }) => {
                self.reconciler().observe(Observed::default());
                return Err(e);
            }
            r => r?,
        };
        let extra = self.refresh_extra(&ns);
        let mut reconciler = self.reconciler();
        let changed = reconciler.observe(observed);
        if extra && !changed {
            reconciler.touch();
        }
        Ok(changed || extra)
    }

    /// The last observed state.
    pub fn observed(&self) -> Observed {
        self.reconciler().observed()
    }

    /// The observed state, change counter and last error, read under one lock.
    pub fn snapshot(&self) -> Snapshot {
        self.reconciler().snapshot()
    }

    /// The change counter (moves on every observed change, never 0).
    pub fn change_seq(&self) -> u64 {
        self.reconciler().change_seq()
    }

    /// The configuration.
    pub fn config(&self) -> Config {
        self.reconciler().config()
    }

    /// Replaces the configuration; once complete, the device is desired UP.
    /// Takes effect at the next [`Netdev::reconcile`].
    pub fn set_config(&self, config: Config) {
        self.reconciler().set_config(config);
    }

    /// Sets whether the interface is desired UP or DOWN (at the next [`Netdev::reconcile`]).
    pub fn set_desired_up(&self, up: bool) {
        self.reconciler().set_desired_up(up);
    }

    /// Sets whether promiscuous mode is desired on or off (at the next [`Netdev::reconcile`]).
    pub fn set_desired_promisc(&self, on: bool) {
        self.reconciler().set_desired_promisc(on);
    }

    /// The last failure of a link change, kept until one succeeds (or the kernel shows
    /// the desired state).
    pub fn last_error(&self) -> Option<Error> {
        self.reconciler().last_error().cloned()
    }

    /// When the reconciler will retry after a failure.
    pub fn retry_at(&self) -> Option<Instant> {
        self.reconciler().retry_at()
    }

    /// Runs every pending action now (ignoring backoff), in order, until the kernel
    /// shows the desired state or one fails. Returns the scripts' warnings. Concurrent
    /// calls are serialized. Under vsys, bringing the device up needs a complete config.
    pub fn reconcile(&self) -> Result<Vec<String>> {
        let _one_at_a_time = self.reconcile_lock.lock().unwrap_or_else(|p| p.into_inner());
        let result = self.run_pending();
        if let Err(e) = &result {
            // Every failure, whether of an action or of reading the kernel back, is kept.
            self.reconciler().finish(Err(e.clone()), Instant::now());
        }
        result
    }

    fn run_pending(&self) -> Result<Vec<String>> {
        let mut warnings = Vec::new();
        // Each action changes the observed state; bound the loop by the action count.
        for _ in 0..4 {
            self.refresh()?;
            let Some(action) = self.reconciler().pending().into_iter().next() else {
                return Ok(warnings);
            };
            let outcome = self.apply(action);
            // Record what the action did even if it failed halfway.
            let _ = self.refresh();
            warnings.extend(outcome?);
            self.reconciler().finish(Ok(()), Instant::now());
        }
        match self.reconciler().pending().first() {
            None => Ok(warnings),
            Some(a) => Err(Error::LinkUnstable { action: format!("{a:?}") }),
        }
    }

    fn apply(&self, action: Action) -> Result<Option<String>> {
        let iface = self.own_iface()?;
        match (&self.vsys, action) {
            (Some(vsys), Action::Up(Some(net))) => {
                let outcome = vsys.vif_up(&iface, net, &self.net.vif_options())?;
                self.vif_up_done.store(true, Relaxed);
                Ok(outcome.warning)
            }
            (Some(_), Action::Up(None)) => Err(Error::NotConfigured {
                detail: "bringing a vsys device up runs vif_up, which needs localIp and localNetmask".into(),
            }),
            (Some(vsys), Action::Down) => {
                let outcome = vsys.vif_down(&iface)?;
                self.vif_up_done.store(false, Relaxed);
                Ok(outcome.warning)
            }
            (Some(vsys), Action::Promisc(on)) => Ok(vsys.promisc(&iface, on)?.warning),
            (None, Action::Up(net)) => {
                if let Some(net) = net {
                    iface.set_ipv4(net)?;
                }
                iface.set_up(true).map(|_| None)
            }
            (None, Action::Down) => iface.set_up(false).map(|_| None),
            (None, Action::Promisc(on)) => iface.set_promisc(on).map(|_| None),
        }
    }

    /// The MAC address, read on the descriptor (works before the interface is visible).
    /// [`Error::DeviceGone`] once the device is not the port's own.
    pub fn hwaddr(&self) -> Result<MacAddr> {
        self.own_tap()?.hwaddr()
    }

    /// Sets the MAC address on the descriptor (TAP only; `ENOTSUP` for TUN).
    /// [`Error::DeviceGone`] once the device is not the port's own.
    pub fn set_hwaddr(&self, mac: MacAddr) -> Result<()> {
        self.own_tap()?.set_hwaddr(mac)
    }

    /// `SIOCGIFMTU`. [`Error::DeviceGone`] once the device is not the port's own.
    pub fn mtu(&self) -> Result<u32> {
        self.own_iface()?.mtu()
    }

    /// `SIOCSIFMTU`; under vsys, `vif_up`'s `mtu=` option ([`Netdev::set_link_options`]).
    /// [`Error::DeviceGone`] once the device is not the port's own.
    pub fn set_mtu(&self, mtu: u32) -> Result<()> {
        if self.vsys.is_some() {
            return self.set_link_options(Some(mtu), None).map(drop);
        }
        self.own_iface()?.set_mtu(mtu)
    }

    /// `SIOCGIFINDEX`. [`Error::DeviceGone`] once the device is not the port's own.
    pub fn ifindex(&self) -> Result<u32> {
        self.own_iface()?.ifindex()
    }

    /// Writes one frame and counts it. `Ok(false)` if the kernel queue is full.
    pub fn send(&self, frame: &[u8]) -> Result<bool> {
        self.send_packed(frame, &[frame.len() as u32]).map(|n| n == 1)
    }

    /// Writes frames packed back to back in `data` (frame `i` is `lengths[i]` bytes), in
    /// order, until one does not fit; returns how many were written and counts them. An
    /// error on the first frame is returned; after that the count so far is. `lengths` must
    /// not change during the call (the Node binding passes a snapshot).
    ///
    /// On an offload device with `coalesce` on, consecutive TCP (and with `TcpUdp`, UDP)
    /// segments of one flow go out as one GSO write ([`crate::offload::Coalescer`]); the
    /// count is still in frames.
    pub fn send_packed(&self, data: &[u8], lengths: &[u32]) -> Result<usize> {
        if let Some(state) = self.offload
            && state.coalesce != vnet::Coalesce::Off
            && lengths.len() > 1
        {
            return self.send_coalesced(&state, data, lengths);
        }
        let total: u64 = lengths.iter().map(|l| u64::from(*l)).sum();
        if total != data.len() as u64 {
            return Err(Error::invalid("lengths", format!("they add up to {total}, not {}", data.len())));
        }
        let tap = self.live_tap()?;
        let c = &self.counters;
        let (mut sent, mut bytes, mut at) = (0usize, 0u64, 0usize);
        let mut failure = None;
        for len in lengths.iter().map(|l| *l as usize) {
            // In bounds, as the lengths add up; checked all the same, so that no input
            // (say, lengths that changed under us) can make this panic.
            let Some(frame) = data.get(at..at + len) else {
                failure =
                    Some(Error::invalid("lengths", format!("frame {sent} runs past the {} bytes of data", data.len())));
                break;
            };
            match tap.send(frame) {
                Ok(true) => {
                    sent += 1;
                    bytes += len as u64;
                    at += len;
                }
                Ok(false) => {
                    c.tx_dropped.fetch_add(1, Relaxed);
                    break;
                }
                Err(e) => {
                    if !matches!(e, Error::InvalidArgument { .. }) {
                        c.tx_errors.fetch_add(1, Relaxed);
                    }
                    failure = Some(e);
                    break;
                }
            }
        }
        c.tx_packets.fetch_add(sent as u64, Relaxed);
        c.tx_bytes.fetch_add(bytes, Relaxed);
        match failure {
            Some(e) if sent == 0 => Err(e),
            _ => Ok(sent),
        }
    }

    /// Reads one frame now, into an exactly sized buffer; `Ok(None)` when nothing is
    /// queued. Frames too large for any MTU are skipped and counted as dropped.
    ///
    /// On an offload device the frame comes without its vnet header; with `deliver: Split`
    /// a super-frame is split and its segments returned one per call.
    pub fn recv(&self) -> Result<Option<Vec<u8>>> {
        let tap = self.live_tap()?;
        let mut buf = self.recv_buf.lock().unwrap_or_else(|p| p.into_inner());
        if let Some(state) = &self.offload {
            let mut pending = self.recv_pending.lock().unwrap_or_else(|p| p.into_inner());
            loop {
                match vnet::recv_one(&tap, state, &self.vnet_counters, &mut buf, &mut pending)? {
                    None => return Ok(None),
                    Some(Ok(frame)) => {
                        self.count_rx(1, frame.len() as u64);
                        return Ok(Some(frame));
                    }
                    Some(Err(Error::Truncated { .. })) => self.count_rx_dropped(1),
                    Some(Err(e)) => {
                        self.count_rx_error();
                        return Err(e);
                    }
                }
            }
        }
        loop {
            match tap.recv(&mut buf) {
                Ok(Some(len)) => {
                    self.count_rx(1, len as u64);
                    return Ok(Some(buf[..len].to_vec()));
                }
                Ok(None) => return Ok(None),
                Err(Error::Truncated { .. }) => self.count_rx_dropped(1),
                Err(e) => {
                    self.count_rx_error();
                    return Err(e);
                }
            }
        }
    }

    /// Counts `frames` frames of `bytes` bytes in all received by a reader of this device
    /// ([`Netdev::recv`] or a [`crate::reader::Reader`]; not public, so the port's counters
    /// only ever say what the core read).
    pub(crate) fn count_rx(&self, frames: u64, bytes: u64) {
        self.counters.rx_packets.fetch_add(frames, Relaxed);
        self.counters.rx_bytes.fetch_add(bytes, Relaxed);
    }

    /// The device's MTU for the offload write checks: read now, or the last value read
    /// (1500 if it never could be).
    pub(crate) fn mtu_for_offload(&self, tap: &Tap) -> u32 {
        match tap.iface().mtu() {
            Ok(m) => {
                self.mtu_seen.store(m, Relaxed);
                m
            }
            Err(_) => match self.mtu_seen.load(Relaxed) {
                0 => 1500,
                m => m,
            },
        }
    }

    /// Counts frames written by the offload send paths ([`crate::vnet`]).
    pub(crate) fn count_tx(&self, frames: u64, bytes: u64) {
        self.counters.tx_packets.fetch_add(frames, Relaxed);
        self.counters.tx_bytes.fetch_add(bytes, Relaxed);
    }

    /// Counts a frame the kernel had no room for (`EAGAIN`).
    pub(crate) fn count_tx_dropped(&self) {
        self.counters.tx_dropped.fetch_add(1, Relaxed);
    }

    /// Counts a failed write.
    pub(crate) fn count_tx_error(&self) {
        self.counters.tx_errors.fetch_add(1, Relaxed);
    }

    /// Counts `frames` received frames that a reader discarded (they did not fit).
    pub(crate) fn count_rx_dropped(&self, frames: u64) {
        self.counters.rx_dropped.fetch_add(frames, Relaxed);
    }

    /// Counts a failed read.
    pub(crate) fn count_rx_error(&self) {
        self.counters.rx_errors.fetch_add(1, Relaxed);
    }

    /// The port's counters and the kernel's (swapped to the port's point of view).
    /// [`Error::DeviceGone`] once the device is not the port's own (the kernel's counters
    /// under its name would be another device's).
    pub fn stats(&self) -> Result<Stats> {
        let port = self.counters.snapshot();
        self.check_device()?;
        // Over rtnetlink in the device's namespace, so this holds after a move too.
        let kernel = self.kernel_counters().ok().map(Counters::swapped);
        Ok(Stats { port, kernel })
    }
}
