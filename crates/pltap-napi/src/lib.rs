//! Node-API binding of `pltap-core`: conversions only.
//!
//! The TypeScript facade in `ts/` is the public API; these classes are exported as
//! `NativeNetdev` and `NativeRx` and are not meant to be used directly. The binding
//! checks nothing itself: the facade checks JavaScript types and option shapes, and asks
//! the core for value rules through the pure `check*` functions (`src/check.rs`); whatever
//! reaches the core is converted with the core's own parsers, which reject bad values
//! with their own errors.

mod check;
mod error;
mod offload;
mod queue;
mod rx;
mod uv;
mod vsysd;
mod writable;

use error::{IntoNapi, blocking, encode, guard, test_panic_point};
use napi::bindgen_prelude::*;
use napi_derive::napi;
use pltap_core::config::Config;
use pltap_core::netdev::{Allocator, Netdev, NetdevOptions};
use pltap_core::reconcile::Observed;
use pltap_core::vsys::TransactOptions;
use pltap_core::{IfName, MacAddr};
use std::sync::Arc;
use std::time::Duration;

pub use check::{MAX_FRAME, check_ifname, check_ipv4, check_local_netmask, check_mac};
pub use queue::{
    NativeQueueIdentity, adopt_netdev_queue, attach_netdev_queue, close_transferred_fd, netdev_is_multi_queue,
    netdev_queue_enabled, netdev_queue_identity, netdev_transfer_fd, open_netdev_queues, set_netdev_queue_enabled,
};
pub use rx::JsRx;
pub use vsysd::{JsVsysd, vsysd_start, vsysd_usage};
pub use writable::JsWritableWait;

/// What `Netdev.open` passes down, already validated by the facade.
#[napi(object)]
pub struct NativeOpenOptions {
    /// `"direct"`, `"vsys"` or `"fd"`.
    pub allocator: String,
    /// The descriptor to adopt (duplicated; the caller keeps its own).
    pub fd: Option<i32>,
    /// vsys root directory.
    pub vsys_root: Option<String>,
    /// `"tap"` or `"tun"`.
    pub mode: String,
    /// Exact name or `%d` template (direct only).
    pub ifname: Option<String>,
    /// tun_pi framing.
    pub packet_info: Option<bool>,
    /// Deadline for helper connects and vsys scripts, in ms.
    pub timeout_ms: Option<u32>,
    /// virtio-net header offload; absent for none.
    pub offload: Option<offload::NativeOffloadOptions>,
}

/// Flags and address as last observed.
#[napi(object)]
pub struct NativeObserved {
    /// IFF_UP.
    pub up: bool,
    /// IFF_PROMISC.
    pub promisc: bool,
    /// IFF_RUNNING.
    pub running: bool,
    /// Primary IPv4 address.
    pub address: Option<String>,
    /// Its prefix length.
    pub prefix: Option<u32>,
}

/// Observed state, change counter and last error, taken together.
#[napi(object)]
pub struct NativeSnapshot {
    /// The observed flags and address.
    pub observed: NativeObserved,
    /// The change counter.
    pub change_seq: f64,
    /// The last link-change failure, if the desired state is not reached since, in the
    /// error wire encoding (`error::encode`) that the facade's `fromNative` decodes.
    pub last_error: Option<String>,
}

impl From<Observed> for NativeObserved {
    fn from(o: Observed) -> Self {
        NativeObserved {
            up: o.flags.up,
            promisc: o.flags.promisc,
            running: o.flags.running,
            address: o.addr.map(|a| a.addr().to_string()),
            prefix: o.addr.map(|a| u32::from(a.prefix())),
        }
    }
}

/// Counters (JS numbers: exact up to 2^53).
#[napi(object)]
pub struct NativeCounters {
    pub rx_packets: f64,
    pub rx_bytes: f64,
    pub rx_errors: f64,
    pub rx_dropped: f64,
    pub tx_packets: f64,
    pub tx_bytes: f64,
    pub tx_errors: f64,
    pub tx_dropped: f64,
}

impl From<pltap_core::Counters> for NativeCounters {
    fn from(c: pltap_core::Counters) -> Self {
        NativeCounters {
            rx_packets: c.rx_packets as f64,
            rx_bytes: c.rx_bytes as f64,
            rx_errors: c.rx_errors as f64,
            rx_dropped: c.rx_dropped as f64,
            tx_packets: c.tx_packets as f64,
            tx_bytes: c.tx_bytes as f64,
            tx_errors: c.tx_errors as f64,
            tx_dropped: c.tx_dropped as f64,
        }
    }
}

/// Both sides' counters.
#[napi(object)]
pub struct NativeStats {
    pub port: NativeCounters,
    pub kernel: Option<NativeCounters>,
}

/// An open port (`pltap_core::netdev::Netdev`).
#[napi(js_name = "NativeNetdev")]
pub struct JsNetdev {
    inner: Arc<Netdev>,
}

impl JsNetdev {
    /// The core device (a forwarding target).
    pub(crate) fn core(&self) -> Arc<Netdev> {
        self.inner.clone()
    }
}

fn parse_spec(o: NativeOpenOptions) -> pltap_core::Result<NetdevOptions> {
    let mode = o.mode.parse()?;
    let timeout = Duration::from_millis(u64::from(o.timeout_ms.unwrap_or(10_000)));
    let allocator = match o.allocator.as_str() {
        "direct" => Allocator::Direct { ifname: o.ifname.as_deref().map(IfName::new).transpose()? },
        "vsys" => Allocator::Vsys {
            root: o.vsys_root.unwrap_or_else(|| "/vsys".into()).into(),
            options: TransactOptions { deadline: timeout, ..TransactOptions::default() },
        },
        "fd" => {
            let raw = o.fd.ok_or_else(|| pltap_core::Error::invalid("fd", "missing"))?;
            let fd = pltap_core::sys::duplicate_raw_fd(raw)
                .map_err(|e| pltap_core::Error::os(format!("duplicate fd {raw}"), "fcntl", e))?;
            Allocator::Fd(fd)
        }
        a => return Err(pltap_core::Error::invalid("allocator", format!("{a:?} is unknown"))),
    };
    let offload = o.offload.map(offload::parse_offload).transpose()?;
    Ok(NetdevOptions { allocator, mode, packet_info: o.packet_info, offload })
}

/// Opens a device off the JS thread (helper connects can take a while).
#[napi(catch_unwind)]
pub async fn open_netdev(options: NativeOpenOptions) -> Result<JsNetdev> {
    let spec = guard("openNetdev", || parse_spec(options).into_napi())?;
    let dev = blocking("openNetdev", move || {
        test_panic_point("open");
        Netdev::open(spec)
    })
    .await?;
    Ok(JsNetdev { inner: Arc::new(dev) })
}

// Every entry point below runs its body in `guard` (a panic becomes ERR_PLTAP_INTERNAL,
// never an abort) and carries `catch_unwind` for napi-rs's own conversions around it.
#[napi]
impl JsNetdev {
    /// The kernel's interface name.
    #[napi(getter, catch_unwind)]
    pub fn real_name(&self) -> Result<String> {
        guard("realName", || Ok(self.inner.name().to_string()))
    }

    /// `"tap"` or `"tun"`.
    #[napi(getter, catch_unwind)]
    pub fn mode(&self) -> Result<String> {
        guard("mode", || Ok(self.inner.live_tap().into_napi()?.mode().as_str().to_string()))
    }

    /// Whether frames carry tun_pi on the descriptor.
    #[napi(getter, catch_unwind)]
    pub fn packet_info(&self) -> Result<bool> {
        guard("packetInfo", || Ok(self.inner.live_tap().into_napi()?.packet_info()))
    }

    /// What offload negotiated; `null` without offload.
    #[napi(getter, catch_unwind)]
    pub fn offload(&self) -> Result<Option<offload::NativeOffloadState>> {
        guard("offload", || Ok(self.inner.offload().map(Into::into)))
    }

    /// The offload counters (all 0 without offload).
    #[napi(catch_unwind)]
    pub fn offload_stats(&self) -> Result<offload::NativeOffloadStats> {
        guard("offloadStats", || Ok(self.inner.offload_counters().into()))
    }

    /// Writes one super-frame with a header filled in from its own headers (`"tcp"` or
    /// `"udp"` segmentation, `segmentSize` bytes per segment); `false` if the queue is full.
    #[napi(catch_unwind)]
    pub fn send_gso(&self, frame: &[u8], kind: String, segment_size: u32) -> Result<bool> {
        guard("sendGso", || {
            let kind = match kind.as_str() {
                "tcp" => pltap_core::vnet::GsoKind::Tcp,
                "udp" => pltap_core::vnet::GsoKind::Udp,
                _ => {
                    return Err(error::to_napi(pltap_core::Error::invalid_value(
                        "gso",
                        kind,
                        "must be 'tcp' or 'udp'",
                    )));
                }
            };
            let size = u16::try_from(segment_size)
                .map_err(|_| error::to_napi(pltap_core::Error::invalid("segmentSize", "must be 1 to 65535")))?;
            self.inner.send_gso(frame, kind, size).into_napi()
        })
    }

    /// Writes frames packed in `data`, each behind its 10-byte header in `vnet`; every
    /// header is validated before anything is written (`Netdev::send_packed_vnet`).
    #[napi(catch_unwind)]
    pub fn send_packed_vnet(&self, data: &[u8], lengths: &[u32], vnet: &[u8]) -> Result<u32> {
        guard("sendPackedVnet", || {
            let lengths = pltap_core::sys::snapshot_shared_u32(lengths);
            Ok(self.inner.send_packed_vnet(data, &lengths, vnet).into_napi()? as u32)
        })
    }

    /// Whether link changes go through vsys.
    #[napi(getter, catch_unwind)]
    pub fn uses_vsys(&self) -> Result<bool> {
        guard("usesVsys", || Ok(self.inner.uses_vsys()))
    }

    /// Closes the descriptor; `false` if it was already closed.
    #[napi(catch_unwind)]
    pub fn close(&self) -> Result<bool> {
        guard("close", || Ok(self.inner.close()))
    }

    /// Re-reads flags and address; `true` if they changed.
    #[napi(catch_unwind)]
    pub fn refresh(&self) -> Result<bool> {
        guard("refresh", || self.inner.refresh().into_napi())
    }

    /// Last observed flags and address.
    #[napi(catch_unwind)]
    pub fn observed(&self) -> Result<NativeObserved> {
        guard("observed", || Ok(self.inner.observed().into()))
    }

    /// Observed state, change counter and last error, read under one lock.
    #[napi(catch_unwind)]
    pub fn snapshot(&self) -> Result<NativeSnapshot> {
        guard("snapshot", || {
            let s = self.inner.snapshot();
            Ok(NativeSnapshot {
                observed: s.observed.into(),
                change_seq: s.change_seq as f64,
                last_error: s.last_error.as_ref().map(encode),
            })
        })
    }

    /// The change counter.
    #[napi(catch_unwind)]
    pub fn change_seq(&self) -> Result<f64> {
        guard("changeSeq", || Ok(self.inner.change_seq() as f64))
    }

    /// Replaces the configuration, converted by the core's parsers (`Config::parse`).
    #[napi(catch_unwind)]
    pub fn set_config(&self, local_ip: Option<String>, local_netmask: Option<i64>) -> Result<()> {
        guard("setConfig", || {
            self.inner.set_config(Config::parse(local_ip.as_deref(), local_netmask).into_napi()?);
            Ok(())
        })
    }

    /// Sets whether the interface is desired UP or DOWN (at the next `reconcile`).
    #[napi(catch_unwind)]
    pub fn set_desired_up(&self, up: bool) -> Result<()> {
        guard("setDesiredUp", || {
            self.inner.set_desired_up(up);
            Ok(())
        })
    }

    /// Sets whether PROMISC is desired on or off (at the next `reconcile`).
    #[napi(catch_unwind)]
    pub fn set_desired_promisc(&self, on: bool) -> Result<()> {
        guard("setDesiredPromisc", || {
            self.inner.set_desired_promisc(on);
            Ok(())
        })
    }

    /// Milliseconds until the reconciler retries a failed link change; `null` if none failed.
    #[napi(catch_unwind)]
    pub fn retry_in_ms(&self) -> Result<Option<f64>> {
        guard("retryInMs", || {
            Ok(self
                .inner
                .retry_at()
                .map(|at| at.saturating_duration_since(std::time::Instant::now()).as_millis() as f64))
        })
    }

    /// Runs the pending link changes off the JS thread (`Netdev::reconcile`); resolves
    /// with the scripts' warnings.
    #[napi(catch_unwind)]
    pub async fn reconcile(&self) -> Result<Vec<String>> {
        let dev = self.inner.clone();
        blocking("reconcile", move || {
            test_panic_point("sync");
            dev.reconcile()
        })
        .await
    }

    /// Under vsys, runs `vif_down` if `vif_up` ran (before close); resolves with its warning.
    #[napi(catch_unwind)]
    pub async fn vif_down_if_up(&self) -> Result<Option<String>> {
        let dev = self.inner.clone();
        blocking("vifDownIfUp", move || dev.vif_down_if_up()).await
    }

    /// Waits up to `timeout_ms` for room to write (`POLLOUT`), off the JS thread.
    #[napi(catch_unwind)]
    pub async fn wait_writable(&self, timeout_ms: u32) -> Result<bool> {
        let tap = guard("waitWritable", || self.inner.live_tap().into_napi())?;
        blocking("waitWritable", move || tap.wait_writable(i32::try_from(timeout_ms).unwrap_or(i32::MAX))).await
    }

    /// Calls `callback` once the device has room to write, watched on this thread's event
    /// loop (the `waitWritable` of the loop); `cancel()` on the result ends the wait.
    #[napi(catch_unwind, ts_args_type = "callback: () => void")]
    pub fn watch_writable(&self, env: Env, callback: Function<'_, (), ()>) -> Result<JsWritableWait> {
        guard("watchWritable", || writable::watch(&env, &self.inner, callback))
    }

    /// MAC address.
    #[napi(catch_unwind)]
    pub fn hwaddr(&self) -> Result<String> {
        guard("hwaddr", || Ok(self.inner.hwaddr().into_napi()?.to_string()))
    }

    /// Sets the MAC address.
    #[napi(catch_unwind)]
    pub fn set_hwaddr(&self, mac: String) -> Result<()> {
        guard("setHwaddr", || {
            let mac: MacAddr = mac.parse().into_napi()?;
            self.inner.set_hwaddr(mac).into_napi()
        })
    }

    /// MTU.
    #[napi(catch_unwind)]
    pub fn mtu(&self) -> Result<u32> {
        guard("mtu", || self.inner.mtu().into_napi())
    }

    /// Sets the MTU.
    #[napi(catch_unwind)]
    pub fn set_mtu(&self, mtu: u32) -> Result<()> {
        guard("setMtu", || self.inner.set_mtu(mtu).into_napi())
    }

    /// Interface index.
    #[napi(catch_unwind)]
    pub fn ifindex(&self) -> Result<u32> {
        guard("ifindex", || self.inner.ifindex().into_napi())
    }

    /// Counters.
    #[napi(catch_unwind)]
    pub fn stats(&self) -> Result<NativeStats> {
        guard("stats", || {
            let s = self.inner.stats().into_napi()?;
            Ok(NativeStats { port: s.port.into(), kernel: s.kernel.map(Into::into) })
        })
    }

    /// Writes one frame; `false` if the kernel queue is full.
    #[napi(catch_unwind)]
    pub fn send(&self, frame: &[u8]) -> Result<bool> {
        guard("send", || self.inner.send(frame).into_napi())
    }

    /// Writes frames packed back to back in `data` (frame `i` is `lengths[i]` bytes),
    /// in order, until one does not fit; returns how many were written. An error on the
    /// first frame is thrown; on a later one the count so far is returned. One call and
    /// no per-frame allocation, however many frames.
    ///
    /// `lengths` is copied before anything looks at it: it may sit on a
    /// `SharedArrayBuffer` that another thread changes meanwhile, and the check that the
    /// lengths add up must hold for the values used.
    #[napi(catch_unwind)]
    pub fn send_packed(&self, data: &[u8], lengths: &[u32]) -> Result<u32> {
        guard("sendPacked", || {
            let lengths = pltap_core::sys::snapshot_shared_u32(lengths);
            test_panic_point("send_packed");
            Ok(self.inner.send_packed(data, &lengths).into_napi()? as u32)
        })
    }

    /// Reads one frame synchronously; `null` when nothing is queued.
    #[napi(catch_unwind)]
    pub fn recv(&self) -> Result<Option<Buffer>> {
        guard("recv", || Ok(self.inner.recv().into_napi()?.map(Buffer::from)))
    }

    /// Discards every queued frame; returns how many.
    #[napi(catch_unwind)]
    pub fn drain(&self) -> Result<u32> {
        guard("drain", || Ok(self.inner.live_tap().into_napi()?.drain().into_napi()? as u32))
    }

    /// Starts a reader thread that delivers bursts of frames to `callback`, with at most
    /// `max_bytes` read and not yet released (see `NativeRx.release`). Each burst is one
    /// buffer laid out as `pltap_core::reader::PackedLayout` says (see `rx::RxCallArgs`).
    #[napi(
        catch_unwind,
        ts_args_type = "callback: (err: string | null, packed: Uint8Array | null, dataLength: number, count: number, sec: number, nsec: number, vnet: boolean, forwarded: boolean) => void, maxBatch: number, maxBytes: number"
    )]
    pub fn rx_start(&self, callback: Function<'_, rx::RxCallArgs, ()>, max_batch: u32, max_bytes: u32) -> Result<JsRx> {
        guard("rxStart", || JsRx::start(self.inner.clone(), callback, max_batch, max_bytes))
    }

    /// Like `rxStart`, in the `'loop'` wake mode: the device is watched on this thread's
    /// event loop and each burst is read and delivered in the loop's callback.
    #[napi(
        catch_unwind,
        ts_args_type = "callback: (err: string | null, packed: Uint8Array | null, dataLength: number, count: number, sec: number, nsec: number, vnet: boolean, forwarded: boolean) => void, maxBatch: number, maxBytes: number"
    )]
    pub fn rx_start_loop(
        &self,
        env: Env,
        callback: Function<'_, rx::RxCallArgs, ()>,
        max_batch: u32,
        max_bytes: u32,
    ) -> Result<JsRx> {
        guard("rxStartLoop", || JsRx::start_loop(&env, self.inner.clone(), callback, max_batch, max_bytes))
    }
}

// After `JsNetdev`, so that its `#[napi] impl` block sees the class's JS name.
mod link;
pub use link::{check_cidr, check_route};
