//! Multi-queue devices (`IFF_MULTI_QUEUE`): a device with several queues, each its own
//! descriptor with its own kernel ring, so that several threads can read and write one
//! device without sharing a descriptor.
//!
//! A queue here is a [`Netdev`] of its own over the queue's descriptor: it has the whole
//! per-descriptor I/O of a port ([`Netdev::send`], [`Netdev::send_packed`],
//! [`Netdev::recv`], a [`crate::reader::Reader`]) and its own port counters, which count
//! what went through that queue only. The port that opened the device (queue 0) keeps the
//! link operations; a queue's identity is checked like a port's (`TUNGETIFF` name, then
//! the ifindex by name) when it is opened or adopted.
//!
//! How the kernel picks a queue for a frame it sends to the device (tun.c,
//! `tun_automq_select_queue`): a flow (symmetric flow hash) goes to the queue whose
//! descriptor last **wrote** a frame of that flow (entries expire after 3 s); a flow it
//! has not seen goes to `hash × n >> 32`. So a thread that both reads and writes a flow
//! keeps it, and a bridge that pairs queue *i* of one device with queue *i* of another in
//! thread *i* keeps each flow on one thread in both directions.
//!
//! ```no_run
//! use pltap_core::netdev::{Allocator, Netdev, NetdevOptions};
//! use pltap_core::{IfName, Mode};
//! let spec = NetdevOptions {
//!     allocator: Allocator::Direct { ifname: Some(IfName::new("mq%d")?) },
//!     mode: Mode::Tap,
//!     packet_info: None,
//!     offload: None,
//! };
//! let queues = Netdev::open_queues(spec, 2)?; // queues[0] is the port, queues[1] another queue
//! let third = queues[0].open_queue()?;        // attach one more later
//! third.set_queue_enabled(false)?;            // disable it without closing it
//! assert_eq!(queues[1].name(), queues[0].name());
//! # Ok::<(), pltap_core::Error>(())
//! ```

use crate::error::{Error, GoneReason, Result};
use crate::ifname::IfName;
use crate::netdev::{Allocator, Netdev, NetdevOptions};
use crate::sys::queue::{IFF_DETACH_QUEUE, IFF_MULTI_QUEUE, MAX_TAP_QUEUES, tun_get_iff_flags, tun_set_queue};
use crate::tap::{Mode, Tap, TapOptions};
use std::os::fd::OwnedFd;

/// The most queues a device can have (the tun driver's `MAX_TAP_QUEUES`).
pub const MAX_QUEUES: usize = MAX_TAP_QUEUES;

const VSYS_ONE_QUEUE: &str = "must be 1 for a vsys device: fd_tuntap hands over one descriptor of a device \
     created without IFF_MULTI_QUEUE, and attaching more queues needs CAP_NET_ADMIN";

const OFFLOAD_ONE_QUEUE: &str = "must be 1 for an offload device: multi-queue with virtio-net headers is not \
     supported yet (offload state is device-wide and each queue would need it set up)";

/// What a queue's descriptor must be to serve as a queue of a given device: what
/// [`Netdev::queue_identity`] reports and [`Netdev::adopt_queue`] checks.
///
/// ```
/// use pltap_core::queue::QueueIdentity;
/// use pltap_core::{IfName, Mode};
/// let id = QueueIdentity { name: IfName::new("mq0")?, ifindex: 7, mode: Mode::Tap, packet_info: false };
/// assert_eq!(id.name.to_string(), "mq0");
/// # Ok::<(), pltap_core::Error>(())
/// ```
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct QueueIdentity {
    /// The device's name.
    pub name: IfName,
    /// Its ifindex in the namespace it was opened in; `0` when it was not visible by name
    /// there (then only the name is checked).
    pub ifindex: u32,
    /// TAP or TUN.
    pub mode: Mode,
    /// Whether frames carry `tun_pi` on the descriptor.
    pub packet_info: bool,
}

/// Checks a queue count: `1..=`[`MAX_QUEUES`], else [`Error::InvalidArgument`].
///
/// ```
/// use pltap_core::queue::check_queue_count;
/// assert!(check_queue_count(1).is_ok() && check_queue_count(256).is_ok());
/// assert!(check_queue_count(0).is_err() && check_queue_count(257).is_err());
/// ```
pub fn check_queue_count(queues: usize) -> Result<()> {
    if (1..=MAX_QUEUES).contains(&queues) {
        Ok(())
    } else {
        Err(Error::invalid_value("queues", queues.to_string(), format!("must be an integer >= 1 and <= {MAX_QUEUES}")))
    }
}

/// Words a failed multi-queue `TUNSETIFF` so that it says what the kernel refused.
fn explain_tunsetiff(e: Error) -> Error {
    match e {
        Error::Os { op, syscall, errno } => {
            let why = if errno.raw() == libc::EINVAL {
                ": a device of that name exists but was not created with IFF_MULTI_QUEUE, or is not of this TAP/TUN mode"
            } else if errno.raw() == libc::E2BIG {
                ": the device has its maximum of 256 queues"
            } else {
                ""
            };
            Error::Os { op: format!("{op} with IFF_MULTI_QUEUE{why}"), syscall, errno }
        }
        other => other,
    }
}

/// The `TUNGETIFF` flags of a port's descriptor.
fn kernel_flags(dev: &Netdev) -> Result<i16> {
    let tap = dev.live_tap()?;
    tun_get_iff_flags(tap.fd())
        .map(|(_, flags)| flags)
        .map_err(|e| Error::os(format!("TUNGETIFF {}", dev.name()), "ioctl", e))
}

impl Netdev {
    /// Opens a device with `queues` queues (`1..=`[`MAX_QUEUES`]); element 0 is the port
    /// (the device's own descriptor, for link operations), the others its further queues.
    ///
    /// - `Allocator::Direct`: the device is created with `IFF_MULTI_QUEUE` (even for one
    ///   queue, so that [`Netdev::open_queue`] works later). An existing device of that
    ///   name without multi-queue is refused by the kernel (`EINVAL`, worded to say so).
    /// - `Allocator::Fd`: the descriptor is adopted as queue 0; more queues need its
    ///   device to be multi-queue (and `CAP_NET_ADMIN`).
    /// - `Allocator::Vsys`: one queue only ([`Error::InvalidArgument`] otherwise, before
    ///   any I/O): the helper protocol hands over one descriptor of a plain device.
    ///
    /// If a later queue fails, the ones opened so far are closed and the error returned.
    pub fn open_queues(spec: NetdevOptions, queues: usize) -> Result<Vec<Netdev>> {
        check_queue_count(queues)?;
        if queues > 1 && spec.offload.is_some() {
            return Err(Error::invalid_value("queues", queues.to_string(), OFFLOAD_ONE_QUEUE));
        }
        let first = match spec.allocator {
            Allocator::Direct { ifname } => {
                let packet_info = spec.packet_info.unwrap_or(false);
                let opts = TapOptions { mode: spec.mode, name: ifname, packet_info, vnet_hdr: spec.offload.is_some() };
                let tap = Tap::open_with(&opts, IFF_MULTI_QUEUE).map_err(explain_tunsetiff)?;
                let fd = tap.into_fd();
                Netdev::open(NetdevOptions {
                    allocator: Allocator::Fd(fd),
                    mode: spec.mode,
                    packet_info: Some(packet_info),
                    offload: spec.offload,
                })?
            }
            Allocator::Vsys { .. } if queues > 1 => {
                return Err(Error::invalid_value("queues", queues.to_string(), VSYS_ONE_QUEUE));
            }
            allocator => Netdev::open(NetdevOptions { allocator, ..spec })?,
        };
        let mut all = Vec::with_capacity(queues);
        all.push(first);
        for _ in 1..queues {
            let queue = all[0].open_queue()?;
            all.push(queue);
        }
        Ok(all)
    }

    /// Attaches another queue to this port's device: a new `open("/dev/net/tun")` and
    /// `TUNSETIFF` with the device's name and `IFF_MULTI_QUEUE` (needs `CAP_NET_ADMIN`, or
    /// ownership through `TUNSETOWNER`). The queue takes the device's framing (the kernel
    /// gives later queues the first one's flags), so this port's `packet_info` must be
    /// right (it is for devices opened here). Before and after attaching, the port's
    /// device is checked to be still its own, and the new queue to be that device (same
    /// name and ifindex): a name reused by another device is never joined.
    ///
    /// Errors: [`Error::InvalidArgument`] for a vsys port; `EINVAL` when the device is not
    /// multi-queue; `E2BIG` past [`MAX_QUEUES`]; [`Error::DeviceGone`]; [`Error::Closed`].
    pub fn open_queue(&self) -> Result<Netdev> {
        if self.uses_vsys() {
            return Err(Error::invalid_value("queues", "2", VSYS_ONE_QUEUE));
        }
        if self.offload().is_some() {
            return Err(Error::invalid_value("queues", "2", OFFLOAD_ONE_QUEUE));
        }
        let own = self.live_tap()?;
        // Still ours, and where it is by name: TUNSETIFF below attaches by name.
        let ifindex = self.ifindex()?;
        let opts = TapOptions {
            mode: own.mode(),
            name: Some(self.name().clone()),
            packet_info: own.packet_info(),
            vnet_hdr: false,
        };
        let tap = Tap::open_with(&opts, IFF_MULTI_QUEUE).map_err(explain_tunsetiff)?;
        // The kernel gives a later queue the device's flags, so its framing is the port's.
        // (It cannot be read back: TUNGETIFF sets the same bit, as IFF_NOFILTER, whenever
        // no socket filter is attached, which is always here.)
        let packet_info = own.packet_info();
        let spec = NetdevOptions {
            allocator: Allocator::Fd(tap.into_fd()),
            mode: own.mode(),
            packet_info: Some(packet_info),
            offload: None,
        };
        let queue = Netdev::open(spec)?;
        // If our device went away meanwhile, TUNSETIFF made a new one under its name:
        // say what happened to ours (the new device goes when `queue` drops).
        self.check_device()?;
        queue.check_identity(&QueueIdentity { name: self.name().clone(), ifindex, mode: own.mode(), packet_info })?;
        Ok(queue)
    }

    /// Takes a descriptor that is a queue of the device `want` describes (handed over by
    /// another thread, see [`Netdev::queue_identity`]) as a port of its own, after checking
    /// that it is: `TUNGETIFF` gives `want.name` and `want.mode`, and (when `want.ifindex`
    /// is not 0) the name has that ifindex here. The framing is taken from `want` (the
    /// kernel cannot report it: see [`Netdev::open_queue`]).
    ///
    /// Errors: [`Error::DeviceGone`] when the device is deleted, renamed or another one;
    /// [`Error::InvalidArgument`] for a mode that differs; OS errors (`EBADF`, `EBADFD` for
    /// a descriptor that is not attached to a device).
    pub fn adopt_queue(fd: OwnedFd, want: &QueueIdentity) -> Result<Netdev> {
        let spec = NetdevOptions {
            allocator: Allocator::Fd(fd),
            mode: want.mode,
            packet_info: Some(want.packet_info),
            offload: None,
        };
        let dev = Netdev::open(spec).map_err(|e| {
            if e.is_errno(libc::EBADFD) {
                Error::DeviceGone { name: want.name.to_string(), reason: GoneReason::Deleted }
            } else {
                e
            }
        })?;
        dev.check_identity(want)?;
        Ok(dev)
    }

    /// Checks that this port's descriptor is a queue of the device `want` describes.
    fn check_identity(&self, want: &QueueIdentity) -> Result<()> {
        let gone = |reason| Error::DeviceGone { name: want.name.to_string(), reason };
        if self.name() != &want.name {
            return Err(gone(GoneReason::Renamed(self.name().to_string())));
        }
        if want.ifindex != 0 {
            match self.ifindex() {
                Ok(now) if now == want.ifindex => {}
                // The name now belongs to a newer device: ours was deleted.
                Ok(_) => return Err(gone(GoneReason::Deleted)),
                Err(e) if e.is_errno(libc::ENODEV) => return Err(gone(GoneReason::Moved)),
                Err(e) => return Err(e),
            }
        }
        Ok(())
    }

    /// The identity another thread needs to adopt a duplicate of this port's descriptor
    /// ([`Netdev::adopt_queue`]). The ifindex is `0` when the device is not visible by
    /// name from here.
    ///
    /// Errors: [`Error::DeviceGone`]; [`Error::Closed`].
    pub fn queue_identity(&self) -> Result<QueueIdentity> {
        let tap = self.live_tap()?;
        let ifindex = match self.ifindex() {
            Ok(i) => i,
            Err(e) if e.is_errno(libc::ENODEV) => 0,
            Err(e) => return Err(e),
        };
        Ok(QueueIdentity { name: self.name().clone(), ifindex, mode: tap.mode(), packet_info: tap.packet_info() })
    }

    /// Whether the device is multi-queue (`IFF_MULTI_QUEUE` in `TUNGETIFF`).
    pub fn is_multi_queue(&self) -> Result<bool> {
        Ok(kernel_flags(self)? & IFF_MULTI_QUEUE != 0)
    }

    /// Whether this port's queue is enabled (`IFF_DETACH_QUEUE` absent from `TUNGETIFF`,
    /// which reports it per descriptor). A plain device's only queue is always enabled.
    pub fn is_queue_enabled(&self) -> Result<bool> {
        Ok(kernel_flags(self)? & IFF_DETACH_QUEUE == 0)
    }

    /// Enables or disables this port's queue (`TUNSETQUEUE` with `IFF_ATTACH_QUEUE` /
    /// `IFF_DETACH_QUEUE`). A disabled queue stays open and keeps its place; the kernel
    /// sends it nothing and it reads nothing. The last enabled queue of a device can be
    /// disabled too (the device then drops what it would send).
    ///
    /// Errors: `EINVAL` on a device that is not multi-queue, or a queue already in that
    /// state; [`Error::Closed`].
    pub fn set_queue_enabled(&self, on: bool) -> Result<()> {
        let tap = self.live_tap()?;
        let what = if on { "IFF_ATTACH_QUEUE" } else { "IFF_DETACH_QUEUE" };
        tun_set_queue(tap.fd(), on).map_err(|e| Error::os(format!("TUNSETQUEUE {what} on {}", self.name()), "ioctl", e))
    }
}
