//! The receive path's conversions: a core [`Reader`] (`pltap_core::reader`, which owns
//! the loop, the backpressure and the accounting) delivers each burst to a [`Sink`] that
//! turns it into a `Buffer` + `Uint32Array` and crosses into JS once per burst through a
//! thread-safe function. At most [`MAX_INFLIGHT`] bursts wait for the JS thread; the
//! facade `pause()`s the reader at its high-water mark and `release()`s the bytes of
//! bursts that left its queue.

use crate::error::{IntoNapi, guard, test_panic_point, to_napi};
use napi::bindgen_prelude::*;
use napi::threadsafe_function::{ThreadsafeFunction, ThreadsafeFunctionCallMode};
use napi_derive::napi;
use pltap_core::netdev::Netdev;
use pltap_core::reader::{Burst, Reader, ReaderHandle, ReaderOptions, Sink};
use std::ops::ControlFlow;
use std::sync::Arc;

/// Bursts delivered but not yet handled by the JS thread.
pub const MAX_INFLIGHT: usize = 4;

/// Arguments of the JS callback: an encoded error, or a burst (frames back to back,
/// and their lengths).
pub type RxCallArgs = FnArgs<(Option<String>, Option<Buffer>, Option<Uint32Array>, Option<Buffer>)>;

enum RxEvent {
    /// Frames, lengths and (offload, `deliver: 'super'`) their 10-byte headers.
    Burst(Vec<u8>, Vec<u32>, Option<Vec<u8>>),
    Failed(String),
}

type Tsfn = ThreadsafeFunction<RxEvent, (), RxCallArgs, Status, false, true>;

struct JsSink(Tsfn);

impl Sink for JsSink {
    fn started(&mut self) {
        test_panic_point("rx_reader");
    }

    fn burst(&mut self, burst: Burst<'_>) -> ControlFlow<()> {
        let event = RxEvent::Burst(burst.data.to_vec(), burst.lengths.to_vec(), burst.vnet.map(<[u8]>::to_vec));
        match self.0.call(event, ThreadsafeFunctionCallMode::NonBlocking) {
            Status::Ok => ControlFlow::Continue(()),
            _ => ControlFlow::Break(()), // the environment is going away
        }
    }

    fn failed(&mut self, error: pltap_core::Error) {
        self.0.call(RxEvent::Failed(to_napi(error).reason), ThreadsafeFunctionCallMode::NonBlocking);
    }
}

/// A running reader (`NativeRx` in JS).
#[napi(js_name = "NativeRx")]
pub struct JsRx {
    reader: Reader,
    handle: ReaderHandle,
}

impl JsRx {
    pub(crate) fn start(
        dev: Arc<Netdev>,
        callback: Function<'_, RxCallArgs, ()>,
        max_batch: u32,
        max_bytes: u32,
    ) -> Result<JsRx> {
        let opts =
            ReaderOptions { max_batch: max_batch as usize, max_bytes: max_bytes as usize, max_pending: MAX_INFLIGHT };
        let reader = Reader::new(dev, opts).into_napi()?;
        let handle = reader.handle();
        let on_js = reader.handle();
        let tsfn: Tsfn =
            callback.build_threadsafe_function::<RxEvent>().callee_handled::<false>().weak::<true>().build_callback(
                move |ctx| {
                    // napi-rs does not catch panics here, and one would abort the process:
                    // hand it to JS as the reader's failure instead.
                    let args = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
                        on_js.consumed();
                        test_panic_point("rx_callback");
                        match ctx.value {
                            RxEvent::Burst(data, lens, vnet) => {
                                (None, Some(data.into()), Some(Uint32Array::new(lens)), vnet.map(Buffer::from))
                            }
                            RxEvent::Failed(msg) => (Some(msg), None, None, None),
                        }
                    }));
                    Ok(FnArgs::from(args.unwrap_or_else(|p| {
                        (Some(to_napi(crate::error::panic_error("the Rx callback", p)).reason), None, None, None)
                    })))
                },
            )?;
        reader.start(JsSink(tsfn)).into_napi()?;
        Ok(JsRx { reader, handle })
    }
}

#[napi]
impl JsRx {
    /// Stops reading from the device until `resume()`.
    #[napi(catch_unwind)]
    pub fn pause(&self) -> Result<()> {
        guard("Rx.pause", || {
            self.handle.pause();
            Ok(())
        })
    }

    /// Resumes reading.
    #[napi(catch_unwind)]
    pub fn resume(&self) -> Result<()> {
        guard("Rx.resume", || {
            self.handle.resume();
            Ok(())
        })
    }

    /// The facade is done with `bytes` of the bursts delivered (they left its queue):
    /// the reader may read that much again.
    #[napi(catch_unwind)]
    pub fn release(&self, bytes: f64) -> Result<()> {
        guard("Rx.release", || {
            let bytes = if bytes.is_finite() && bytes > 0.0 { bytes as usize } else { 0 };
            self.handle.release(bytes);
            Ok(())
        })
    }

    /// Frames the reader discarded because they did not fit its buffer.
    #[napi(getter, catch_unwind)]
    pub fn truncated(&self) -> Result<f64> {
        guard("Rx.truncated", || Ok(self.handle.truncated() as f64))
    }

    /// Stops and joins the reader thread (idempotent).
    #[napi(catch_unwind)]
    pub fn close(&self) -> Result<()> {
        guard("Rx.close", || {
            self.reader.stop();
            Ok(())
        })
    }
}
