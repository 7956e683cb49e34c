//! Node-API binding of `pltap-core`: conversions only.
//!
//! The TypeScript facade in `ts/` is the public API; these classes are exported as
//! `NativeNetdev` and `NativeRx` and are not meant to be used directly. Arguments are
//! validated by the facade before they get here, and again by the core.

mod error;
mod rx;
mod vsysd;

use error::{IntoNapi, to_napi};
use napi::bindgen_prelude::*;
use napi_derive::napi;
use pltap_core::netdev::{Allocator, Netdev, OpenSpec};
use pltap_core::state::{Config, parse_local_ip};
use pltap_core::vsys::TransactOptions;
use pltap_core::{IfName, MacAddr, Mode};
use std::sync::Arc;
use std::time::Duration;

pub use rx::JsRx;
pub use vsysd::{JsVsysd, vsysd_start, vsysd_usage};

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
    /// The last link-change failure, if the desired state is not reached since.
    pub last_error: Option<String>,
}

impl From<pltap_core::state::Observed> for NativeObserved {
    fn from(o: pltap_core::state::Observed) -> Self {
        NativeObserved {
            up: o.flags.up,
            promisc: o.flags.promisc,
            running: o.flags.running,
            address: o.addr.map(|a| a.addr.to_string()),
            prefix: o.addr.map(|a| u32::from(a.prefix)),
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

fn parse_spec(o: NativeOpenOptions) -> pltap_core::Result<OpenSpec> {
    let mode = match o.mode.as_str() {
        "tap" => Mode::Tap,
        "tun" => Mode::Tun,
        m => return Err(pltap_core::Error::invalid("mode", format!("{m:?} is not 'tap' or 'tun'"))),
    };
    let timeout = Duration::from_millis(u64::from(o.timeout_ms.unwrap_or(10_000)));
    let allocator = match o.allocator.as_str() {
        "direct" => Allocator::Direct { ifname: o.ifname.as_deref().map(IfName::new).transpose()? },
        "vsys" => Allocator::Vsys {
            root: o.vsys_root.unwrap_or_else(|| "/vsys".into()).into(),
            options: TransactOptions { deadline: timeout, ..TransactOptions::default() },
        },
        "fd" => {
            let raw = o.fd.ok_or_else(|| pltap_core::Error::invalid("fd", "missing"))?;
            let fd = pltap_core::sys::duplicate_raw_fd(raw).map_err(|e| pltap_core::Error::os(format!("duplicate fd {raw}"), "fcntl", e))?;
            Allocator::Fd(fd)
        }
        a => return Err(pltap_core::Error::invalid("allocator", format!("{a:?} is unknown"))),
    };
    Ok(OpenSpec { allocator, mode, packet_info: o.packet_info })
}

/// Opens a device off the JS thread (helper connects can take a while).
#[napi]
pub async fn open_netdev(options: NativeOpenOptions) -> Result<JsNetdev> {
    let spec = parse_spec(options).into_napi()?;
    let dev = spawn_blocking(move || Netdev::open(spec)).await.map_err(|e| Error::from_reason(e.to_string()))?.into_napi()?;
    Ok(JsNetdev { inner: Arc::new(dev) })
}

#[napi]
impl JsNetdev {
    /// The kernel's interface name.
    #[napi(getter)]
    pub fn real_name(&self) -> String {
        self.inner.name().to_string()
    }

    /// `"tap"` or `"tun"`.
    #[napi(getter)]
    pub fn mode(&self) -> Result<String> {
        Ok(self.inner.tap().into_napi()?.mode().as_str().to_string())
    }

    /// Whether frames carry tun_pi on the descriptor.
    #[napi(getter)]
    pub fn packet_info(&self) -> Result<bool> {
        Ok(self.inner.tap().into_napi()?.packet_info())
    }

    /// Whether link changes go through vsys.
    #[napi(getter)]
    pub fn uses_vsys(&self) -> bool {
        self.inner.uses_vsys()
    }

    /// Closes the descriptor; `false` if it was already closed.
    #[napi]
    pub fn close(&self) -> bool {
        self.inner.close()
    }

    /// Re-reads flags and address; `true` if they changed.
    #[napi]
    pub fn refresh(&self) -> Result<bool> {
        self.inner.refresh().into_napi()
    }

    /// Last observed flags and address.
    #[napi]
    pub fn observed(&self) -> NativeObserved {
        let o = self.inner.observed();
        NativeObserved {
            up: o.flags.up,
            promisc: o.flags.promisc,
            running: o.flags.running,
            address: o.addr.map(|a| a.addr.to_string()),
            prefix: o.addr.map(|a| u32::from(a.prefix)),
        }
    }

    /// Observed state, change counter and last error, read under one lock.
    #[napi]
    pub fn snapshot(&self) -> NativeSnapshot {
        let s = self.inner.snapshot();
        NativeSnapshot { observed: s.observed.into(), change_seq: s.change_seq as f64, last_error: s.last_error }
    }

    /// The change counter.
    #[napi]
    pub fn change_seq(&self) -> f64 {
        self.inner.change_seq() as f64
    }

    /// Replaces the configuration (strings already validated by the facade).
    #[napi]
    pub fn set_config(&self, local_ip: Option<String>, local_netmask: Option<u32>) -> Result<()> {
        let local_ip = local_ip.as_deref().map(parse_local_ip).transpose().into_napi()?;
        let local_netmask = match local_netmask {
            Some(m @ 1..=32) => Some(m as u8),
            Some(m) => return Err(to_napi(pltap_core::Error::invalid("localNetmask", format!("{m} is out of range 1..=32")))),
            None => None,
        };
        self.inner.set_config(Config { local_ip, local_netmask });
        Ok(())
    }

    /// Wants UP or DOWN at the next `sync`.
    #[napi]
    pub fn set_want_up(&self, up: bool) {
        self.inner.set_want_up(up);
    }

    /// Wants PROMISC on or off at the next `sync`.
    #[napi]
    pub fn set_want_promisc(&self, on: bool) {
        self.inner.set_want_promisc(on);
    }

    /// The last link-change failure, if the last attempt failed.
    #[napi]
    pub fn last_error(&self) -> Option<String> {
        self.inner.last_error()
    }

    /// Milliseconds until the reconciler retries a failed link change; `null` if none failed.
    #[napi]
    pub fn retry_in_ms(&self) -> Option<f64> {
        let at = self.inner.retry_at()?;
        Some(at.saturating_duration_since(std::time::Instant::now()).as_millis() as f64)
    }

    /// Runs the pending link changes off the JS thread; resolves with the scripts' warnings.
    #[napi]
    pub async fn sync(&self) -> Result<Vec<String>> {
        let dev = self.inner.clone();
        spawn_blocking(move || dev.sync()).await.map_err(|e| Error::from_reason(e.to_string()))?.into_napi()
    }

    /// Under vsys, runs `vif_down` if `vif_up` ran (before close); resolves with its warning.
    #[napi]
    pub async fn release(&self) -> Result<Option<String>> {
        let dev = self.inner.clone();
        spawn_blocking(move || dev.release()).await.map_err(|e| Error::from_reason(e.to_string()))?.into_napi()
    }

    /// Waits up to `timeout_ms` for room to write (`POLLOUT`), off the JS thread.
    #[napi]
    pub async fn wait_writable(&self, timeout_ms: u32) -> Result<bool> {
        let tap = self.inner.tap().into_napi()?;
        spawn_blocking(move || {
            let mut rev = [0i16];
            pltap_core::sys::poll(&[(tap.fd(), pltap_core::sys::POLLOUT)], &mut rev, timeout_ms as i32)
                .map(|n| n > 0)
                .map_err(|e| pltap_core::Error::os("poll", "poll", e))
        })
        .await
        .map_err(|e| Error::from_reason(e.to_string()))?
        .into_napi()
    }

    /// MAC address.
    #[napi]
    pub fn hwaddr(&self) -> Result<String> {
        Ok(self.inner.hwaddr().into_napi()?.to_string())
    }

    /// Sets the MAC address.
    #[napi]
    pub fn set_hwaddr(&self, mac: String) -> Result<()> {
        let mac: MacAddr = mac.parse().into_napi()?;
        self.inner.set_hwaddr(mac).into_napi()
    }

    /// MTU.
    #[napi]
    pub fn mtu(&self) -> Result<u32> {
        self.inner.mtu().into_napi()
    }

    /// Sets the MTU.
    #[napi]
    pub fn set_mtu(&self, mtu: u32) -> Result<()> {
        self.inner.set_mtu(mtu).into_napi()
    }

    /// Interface index.
    #[napi]
    pub fn ifindex(&self) -> Result<u32> {
        self.inner.ifindex().into_napi()
    }

    /// Counters.
    #[napi]
    pub fn stats(&self) -> Result<NativeStats> {
        let s = self.inner.stats().into_napi()?;
        Ok(NativeStats { port: s.port.into(), kernel: s.kernel.map(Into::into) })
    }

    /// Writes one frame; `false` if the kernel queue is full.
    #[napi]
    pub fn send(&self, frame: &[u8]) -> Result<bool> {
        self.inner.send(frame).into_napi()
    }

    /// Writes frames packed back to back in `data` (frame `i` is `lengths[i]` bytes),
    /// in order, until one does not fit; returns how many were written. An error on the
    /// first frame is thrown; on a later one the count so far is returned. One call and
    /// no per-frame allocation, however many frames.
    #[napi]
    pub fn send_packed(&self, data: &[u8], lengths: &[u32]) -> Result<u32> {
        Ok(self.inner.send_packed(data, lengths).into_napi()? as u32)
    }

    /// Reads one frame synchronously; `null` when nothing is queued.
    #[napi]
    pub fn recv(&self) -> Result<Option<Buffer>> {
        Ok(self.inner.recv().into_napi()?.map(Buffer::from))
    }

    /// Discards every queued frame; returns how many.
    #[napi]
    pub fn drain(&self) -> Result<u32> {
        let n = self.inner.tap().into_napi()?.drain().into_napi()?;
        Ok(n as u32)
    }

    /// Starts a reader thread that delivers bursts of frames to `callback`, with at most
    /// `max_bytes` read and not yet released (see `NativeRx.release`).
    #[napi(ts_args_type = "callback: (err: string | null, frames: Buffer | null, lengths: Uint32Array | null) => void, maxBatch: number, maxBytes: number")]
    pub fn rx_start(&self, callback: Function<'_, rx::RxCallArgs, ()>, max_batch: u32, max_bytes: u32) -> Result<JsRx> {
        JsRx::start(self.inner.clone(), callback, max_batch, max_bytes)
    }
}
