//! `write()`'s wait for room, on the event loop: a one-shot poll for `UV_WRITABLE` on the
//! device ([`crate::uv::Watch`]) instead of a `poll` on the thread pool. The facade
//! cancels it on abort and when the device closes.

use crate::error::{IntoNapi, guard};
use crate::uv::{Event, WRITABLE, Watch};
use napi::bindgen_prelude::*;
use napi_derive::napi;
use pltap_core::netdev::Netdev;

/// A pending wait for room to write (`NativeWritableWait` in JS).
#[napi(js_name = "NativeWritableWait")]
pub struct JsWritableWait {
    watch: Watch,
}

/// Calls `callback` (no arguments) once `dev` has room to write, or when the descriptor
/// reports an error (the next write then says which). The handle is referenced: the wait
/// keeps the process alive, like any pending I/O.
pub(crate) fn watch(env: &Env, dev: &Netdev, callback: Function<'_, (), ()>) -> Result<JsWritableWait> {
    let tap = dev.live_tap().into_napi()?;
    // One shot: readiness and an error alike end the wait (the next write tells which).
    let watch = Watch::new(env, tap.fd(), &callback, "pltap:writable", true, |caller, _: Event| {
        let _ = caller.call(());
        caller.close();
    })?;
    watch.start(WRITABLE)?;
    Ok(JsWritableWait { watch })
}

#[napi]
impl JsWritableWait {
    /// Ends the wait without calling the callback (idempotent).
    #[napi(catch_unwind)]
    pub fn cancel(&self) -> Result<()> {
        guard("WritableWait.cancel", || {
            self.watch.close();
            Ok(())
        })
    }
}
