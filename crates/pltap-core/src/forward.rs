//! Native forwarding: every burst a receive engine reads from one device is written to
//! another as soon as it is read, before (or instead of) any JavaScript runs. A patch
//! cable between two ports, as Open vSwitch's patch ports are: for bridges and switches
//! whose forwarding decision is "the other port", with no per-burst cost in JS.
//!
//! A [`Forward`] is the slot a receive engine consults for every burst: empty (the burst
//! goes to JS as usual) or holding a target device and the counters of what was sent.
//! Setting and clearing the target is safe from any thread while the engine runs (the
//! reader thread of [`crate::reader::Reader`] or the event loop of a
//! [`crate::reader::BurstReader`]).
//!
//! What a target refuses is dropped and counted, as a switch drops frames for a port that
//! is down or congested: `dropped` counts every frame not written, `errors` the bursts
//! refused for any reason other than the link being down (`EIO`) or the queue being full.
//!
//! # Examples
//! ```no_run
//! use pltap_core::forward::Forward;
//! use pltap_core::netdev::{Allocator, Netdev, NetdevOptions};
//! use pltap_core::reader::{BurstReader, ReaderOptions};
//! use pltap_core::{IfName, Mode};
//! use std::sync::Arc;
//!
//! let direct = |name: &str| -> pltap_core::Result<Arc<Netdev>> {
//!     let ifname = Some(IfName::new(name)?);
//!     let spec = NetdevOptions { allocator: Allocator::Direct { ifname }, mode: Mode::Tap, packet_info: None, offload: None };
//!     Ok(Arc::new(Netdev::open(spec)?))
//! };
//! let (a, b) = (direct("a0")?, direct("b0")?);
//! let forward = Forward::new();
//! forward.set(Some(b.clone()));
//! let mut reader = BurstReader::new(a, ReaderOptions::default())?;
//! // When the device is readable (poll it with `reader.fd()`):
//! if let Some(burst) = reader.read_burst(|_, _| {})? {
//!     forward.forward(&burst);
//! }
//! println!("{:?}", forward.counters());
//! # Ok::<(), pltap_core::Error>(())
//! ```

use crate::netdev::Netdev;
use crate::reader::{Burst, ReaderHandle};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering::Relaxed};
use std::sync::{Arc, Mutex, PoisonError};

/// What a [`Forward`] has written, and what its target refused (cumulative).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct ForwardCounters {
    /// Frames written to the target.
    pub frames: u64,
    /// Their bytes.
    pub bytes: u64,
    /// Bursts forwarded (each one write call, or a few).
    pub bursts: u64,
    /// Frames not written: the target was down (`EIO`), its queue full, or it refused them.
    pub dropped: u64,
    /// Bursts refused for another reason than the link being down or the queue full (the
    /// target closed or gone, a header it rejected, ...).
    pub errors: u64,
}

#[derive(Default)]
struct Counts {
    frames: AtomicU64,
    bytes: AtomicU64,
    bursts: AtomicU64,
    dropped: AtomicU64,
    errors: AtomicU64,
}

/// The target of a receive engine's bursts, if any, and the counters of what it was sent.
#[derive(Default)]
pub struct Forward {
    target: Mutex<Target>,
    /// Whether a forwarded burst is still delivered (to observers), see [`Forward::route`].
    deliver_forwarded: AtomicBool,
    counts: Counts,
}

/// The slot's state.
#[derive(Default)]
enum Target {
    /// Bursts are the engine's to deliver.
    #[default]
    None,
    /// Bursts are written here.
    Device(Arc<Netdev>),
    /// The target may no longer be written through (its owner closed it or handed its
    /// descriptor to another thread): bursts are dropped and counted as errors until the
    /// slot is set again.
    Revoked,
}

/// Where [`Forward::route`] sends a burst.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Route {
    /// Deliver it as usual; `forwarded` says whether it was also written to the target
    /// (then it is delivered only to be seen, e.g. by observers: it is the target's now).
    Deliver {
        /// It went to the target too.
        forwarded: bool,
    },
    /// Forwarded, and nobody wants to see it: its bytes are already released.
    Done,
}

/// What [`Forward::forward`] did with a burst.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Forwarded {
    /// No target is set: the burst is the caller's to deliver.
    NoTarget,
    /// Written to the target: `sent` of its frames (the rest were dropped and counted).
    Sent {
        /// Frames written.
        sent: usize,
    },
}

impl Forward {
    /// An empty slot: bursts are not forwarded until [`Forward::set`].
    pub fn new() -> Forward {
        Forward::default()
    }

    /// Sets (`Some`) or clears (`None`) the target and whether forwarded bursts are still
    /// delivered ([`Forward::route`]); takes effect from the next burst.
    pub fn set_route(&self, target: Option<Arc<Netdev>>, deliver_forwarded: bool) {
        self.deliver_forwarded.store(deliver_forwarded, Relaxed);
        self.set(target);
    }

    /// What a receive engine does with `burst`: forward it if a target is set, then
    /// deliver it unless it was forwarded and forwarded bursts are not delivered, in which
    /// case its bytes are released to `handle` at once (nothing else holds them).
    pub fn route(&self, burst: &Burst<'_>, handle: &ReaderHandle) -> Route {
        if self.forward(burst) == Forwarded::NoTarget {
            return Route::Deliver { forwarded: false };
        }
        if self.deliver_forwarded.load(Relaxed) {
            return Route::Deliver { forwarded: true };
        }
        handle.release(burst.data.len());
        Route::Done
    }

    /// Sets (`Some`) or clears (`None`) the target; takes effect from the next burst.
    pub fn set(&self, target: Option<Arc<Netdev>>) {
        *self.target.lock().unwrap_or_else(PoisonError::into_inner) = target.map_or(Target::None, Target::Device);
    }

    /// Revokes the target, if one is set: from now on bursts are still taken from the
    /// engine but dropped and counted as errors, as a write to a closed device would be,
    /// without touching the device (whose descriptor may be another thread's now).
    pub fn revoke(&self) {
        let mut target = self.target.lock().unwrap_or_else(PoisonError::into_inner);
        if matches!(*target, Target::Device(_)) {
            *target = Target::Revoked;
        }
    }

    /// Whether a target is set (revoked or not).
    pub fn is_set(&self) -> bool {
        !matches!(*self.target.lock().unwrap_or_else(PoisonError::into_inner), Target::None)
    }

    /// Writes `burst` to the target, if one is set, with its virtio-net headers when it
    /// carries them (an offload device with `deliver: Super` to another offload device:
    /// super-frames pass through untouched). Counts what was written and what was not.
    pub fn forward(&self, burst: &Burst<'_>) -> Forwarded {
        let target = match &*self.target.lock().unwrap_or_else(PoisonError::into_inner) {
            Target::None => return Forwarded::NoTarget,
            Target::Device(dev) => Some(dev.clone()),
            Target::Revoked => None,
        };
        let n = burst.lengths.len();
        let result = match (target, burst.vnet) {
            (Some(target), Some(vnet)) => target.send_packed_vnet(burst.data, burst.lengths, vnet),
            (Some(target), None) => target.send_packed(burst.data, burst.lengths),
            (None, _) => Err(crate::Error::Closed),
        };
        let c = &self.counts;
        c.bursts.fetch_add(1, Relaxed);
        let sent = match result {
            Ok(sent) => sent,
            Err(e) => {
                if e.os_errno().map(|e| e.raw()) != Some(libc::EIO) {
                    c.errors.fetch_add(1, Relaxed);
                }
                0
            }
        };
        let bytes: u64 =
            if sent == n { burst.data.len() as u64 } else { burst.lengths[..sent].iter().map(|l| u64::from(*l)).sum() };
        c.frames.fetch_add(sent as u64, Relaxed);
        c.bytes.fetch_add(bytes, Relaxed);
        c.dropped.fetch_add((n - sent) as u64, Relaxed);
        Forwarded::Sent { sent }
    }

    /// The counters so far.
    pub fn counters(&self) -> ForwardCounters {
        let c = &self.counts;
        ForwardCounters {
            frames: c.frames.load(Relaxed),
            bytes: c.bytes.load(Relaxed),
            bursts: c.bursts.load(Relaxed),
            dropped: c.dropped.load(Relaxed),
            errors: c.errors.load(Relaxed),
        }
    }
}

impl std::fmt::Debug for Forward {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Forward").field("set", &self.is_set()).field("counters", &self.counters()).finish()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn without_a_target_the_burst_stays_the_callers_and_nothing_is_counted() {
        let forward = Forward::new();
        assert!(!forward.is_set());
        let burst = Burst { data: &[1, 2, 3], lengths: &[3], timestamp: std::time::UNIX_EPOCH, vnet: None };
        assert_eq!(forward.forward(&burst), Forwarded::NoTarget);
        assert_eq!(forward.counters(), ForwardCounters::default());
    }

    #[test]
    fn a_revoked_target_takes_the_bursts_and_counts_them_as_errors() {
        let forward = Forward::new();
        forward.revoke(); // nothing set: nothing to revoke
        assert!(!forward.is_set());
        // A device is needed to set one; a revoked slot behaves the same whatever it held.
        *forward.target.lock().unwrap() = Target::Revoked;
        assert!(forward.is_set());
        let burst = Burst { data: &[1, 2, 3, 4, 5], lengths: &[2, 3], timestamp: std::time::UNIX_EPOCH, vnet: None };
        assert_eq!(forward.forward(&burst), Forwarded::Sent { sent: 0 });
        assert_eq!(forward.counters(), ForwardCounters { frames: 0, bytes: 0, bursts: 1, dropped: 2, errors: 1 });
        forward.set(None);
        assert_eq!(forward.forward(&burst), Forwarded::NoTarget);
    }
}
