//! Multi-queue conversions (`pltap_core::queue`): opening a device with N queues,
//! attaching one more, enabling/disabling a queue, and handing a queue's descriptor to
//! another thread. Every queue is a `NativeNetdev` of its own (a core `Netdev` over the
//! queue's descriptor), so the whole per-descriptor I/O of `NativeNetdev` (send,
//! sendPacked, recv, rxStart) works on a queue unchanged.

use crate::error::{IntoNapi, blocking, guard, guard_core, to_napi};
use crate::{JsNetdev, NativeOpenOptions, parse_spec};
use napi::bindgen_prelude::*;
use napi_derive::napi;
use pltap_core::netdev::Netdev;
use pltap_core::queue::QueueIdentity;
use pltap_core::{Error, IfName};
use std::os::fd::{AsRawFd, IntoRawFd};
use std::sync::Arc;

/// What a thread needs to adopt a queue's descriptor (`pltap_core::queue::QueueIdentity`).
#[napi(object)]
pub struct NativeQueueIdentity {
    /// The device's name.
    pub name: String,
    /// Its ifindex where it was opened; 0 when not visible by name there.
    pub ifindex: u32,
    /// `"tap"` or `"tun"`.
    pub mode: String,
    /// tun_pi framing.
    pub packet_info: bool,
}

/// Opens a device with `queues` queues off the JS thread (`Netdev::open_queues`):
/// element 0 is the port, the others its further queues.
#[napi(catch_unwind, ts_return_type = "Promise<Array<NativeNetdev>>")]
pub async fn open_netdev_queues(options: NativeOpenOptions, queues: u32) -> Result<Vec<JsNetdev>> {
    let spec = guard("openNetdevQueues", || parse_spec(options).into_napi())?;
    let devs = blocking("openNetdevQueues", move || Netdev::open_queues(spec, queues as usize)).await?;
    Ok(devs.into_iter().map(|d| JsNetdev { inner: Arc::new(d) }).collect())
}

/// Adopts a queue's descriptor handed over by another thread (`Netdev::adopt_queue`),
/// after checking it is a queue of the device `identity` names. The descriptor is
/// duplicated: the caller still owns `fd` and closes it.
#[napi(catch_unwind, ts_return_type = "NativeNetdev")]
pub fn adopt_netdev_queue(fd: i32, identity: NativeQueueIdentity) -> Result<JsNetdev> {
    guard("adoptNetdevQueue", || {
        let want = QueueIdentity {
            name: IfName::new(&identity.name).into_napi()?,
            ifindex: identity.ifindex,
            mode: identity.mode.parse().into_napi()?,
            packet_info: identity.packet_info,
        };
        let owned = pltap_core::sys::duplicate_raw_fd(fd)
            .map_err(|e| Error::os(format!("duplicate fd {fd}"), "fcntl", e))
            .into_napi()?;
        Ok(JsNetdev { inner: Arc::new(Netdev::adopt_queue(owned, &want).into_napi()?) })
    })
}

/// Attaches another queue to the device of `dev`, off the JS thread (`Netdev::open_queue`).
#[napi(catch_unwind, ts_args_type = "dev: NativeNetdev", ts_return_type = "Promise<NativeNetdev>")]
pub fn attach_netdev_queue(dev: &JsNetdev) -> AsyncTask<AttachQueue> {
    AsyncTask::new(AttachQueue(dev.inner.clone()))
}

/// The blocking half of [`attach_netdev_queue`].
pub struct AttachQueue(Arc<Netdev>);

impl Task for AttachQueue {
    type Output = Netdev;
    type JsValue = JsNetdev;

    fn compute(&mut self) -> Result<Netdev> {
        guard_core("attachQueue", || self.0.open_queue()).map_err(to_napi)
    }

    fn resolve(&mut self, _env: Env, queue: Netdev) -> Result<JsNetdev> {
        Ok(JsNetdev { inner: Arc::new(queue) })
    }
}

/// Enables or disables the queue of `dev`'s descriptor (`TUNSETQUEUE`).
#[napi(catch_unwind, ts_args_type = "dev: NativeNetdev, on: boolean")]
pub fn set_netdev_queue_enabled(dev: &JsNetdev, on: bool) -> Result<()> {
    guard("setQueueEnabled", || dev.inner.set_queue_enabled(on).into_napi())
}

/// Whether `dev`'s device is multi-queue (`TUNGETIFF`).
#[napi(catch_unwind, ts_args_type = "dev: NativeNetdev")]
pub fn netdev_is_multi_queue(dev: &JsNetdev) -> Result<bool> {
    guard("isMultiQueue", || dev.inner.is_multi_queue().into_napi())
}

/// The identity a thread adopting `dev`'s descriptor checks (`Netdev::queue_identity`).
#[napi(catch_unwind, ts_args_type = "dev: NativeNetdev")]
pub fn netdev_queue_identity(dev: &JsNetdev) -> Result<NativeQueueIdentity> {
    guard("queueIdentity", || {
        let id = dev.inner.queue_identity().into_napi()?;
        Ok(NativeQueueIdentity {
            name: id.name.to_string(),
            ifindex: id.ifindex,
            mode: id.mode.as_str().to_string(),
            packet_info: id.packet_info,
        })
    })
}

/// A close-on-exec duplicate of `dev`'s descriptor, as a bare number that nothing in the
/// addon owns: the caller (the facade's `QueueTransfer`) owns it from here on and must
/// close it exactly once (`fs.closeSync`).
#[napi(catch_unwind, ts_args_type = "dev: NativeNetdev")]
pub fn netdev_transfer_fd(dev: &JsNetdev) -> Result<i32> {
    guard("transferFd", || {
        let tap = dev.inner.live_tap().into_napi()?;
        let dup = pltap_core::sys::duplicate_raw_fd(tap.fd().as_raw_fd())
            .map_err(|e| Error::os(format!("duplicate the descriptor of {}", tap.name()), "fcntl", e))
            .into_napi()?;
        Ok(dup.into_raw_fd())
    })
}
