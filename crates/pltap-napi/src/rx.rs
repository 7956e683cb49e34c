//! The receive path's conversions. A core burst read (`pltap_core::reader`, which owns the
//! reads, the backpressure and the accounting) reaches JS in one of two wake modes:
//!
//! - `'thread'`: a core [`Reader`] thread delivers each burst to a [`Sink`] that turns it
//!   into a `Buffer` + `Uint32Array` and crosses into JS once per burst through a
//!   thread-safe function. At most [`MAX_INFLIGHT`] bursts wait for the JS thread.
//! - `'loop'`: a libuv poll handle on the owning thread's event loop ([`crate::uv::Watch`])
//!   calls [`BurstReader::read_burst`] when the device is readable and hands the burst to
//!   the JS callback at once: one wake-up per burst, no thread hop. Polling stops while
//!   the reader is paused or its byte budget is spent, and starts again on resume/release.
//!
//! In both, the facade `pause()`s at its high-water mark and `release()`s the bytes of
//! bursts that left its queue; each burst carries its receive timestamp.

use crate::error::{IntoNapi, guard, test_panic_point, to_napi};
use crate::uv::{Caller, Event, READABLE, Watch};
use napi::bindgen_prelude::*;
use napi::threadsafe_function::{ThreadsafeFunction, ThreadsafeFunctionCallMode};
use napi_derive::napi;
use pltap_core::netdev::Netdev;
use pltap_core::reader::{Burst, BurstReader, Reader, ReaderHandle, ReaderOptions, Sink};
use std::cell::{Cell, OnceCell, RefCell};
use std::ops::ControlFlow;
use std::rc::Rc;
use std::sync::Arc;
use std::time::{SystemTime, UNIX_EPOCH};

/// Bursts delivered but not yet handled by the JS thread (`'thread'` mode).
pub const MAX_INFLIGHT: usize = 4;

/// Arguments of the JS callback: an encoded error, or a burst (frames back to back,
/// their lengths, and the receive timestamp as seconds and nanoseconds since the epoch).
/// On an offload device with `deliver: 'super'`, a sixth argument carries the frames'
/// 10-byte virtio-net headers.
pub type RxCallArgs =
    FnArgs<(Option<String>, Option<Buffer>, Option<Uint32Array>, Option<f64>, Option<u32>, Option<Buffer>)>;

/// The JS arguments for a burst.
fn burst_args(data: Vec<u8>, lens: Vec<u32>, at: SystemTime, vnet: Option<Vec<u8>>) -> RxCallArgs {
    let t = at.duration_since(UNIX_EPOCH).unwrap_or_default();
    FnArgs::from((
        None,
        Some(data.into()),
        Some(Uint32Array::new(lens)),
        Some(t.as_secs() as f64),
        Some(t.subsec_nanos()),
        vnet.map(Buffer::from),
    ))
}

/// The JS arguments for a failure.
fn failure_args(reason: String) -> RxCallArgs {
    FnArgs::from((Some(reason), None, None, None, None, None))
}

enum RxEvent {
    /// Frames, lengths, the receive time and (offload, `deliver: 'super'`) their headers.
    Burst(Vec<u8>, Vec<u32>, SystemTime, Option<Vec<u8>>),
    Failed(String),
}

type Tsfn = ThreadsafeFunction<RxEvent, (), RxCallArgs, Status, false, true>;

struct JsSink(Tsfn);

impl Sink for JsSink {
    fn started(&mut self) {
        test_panic_point("rx_reader");
    }

    fn burst(&mut self, burst: Burst<'_>) -> ControlFlow<()> {
        let vnet = burst.vnet.map(<[u8]>::to_vec);
        let event = RxEvent::Burst(burst.data.to_vec(), burst.lengths.to_vec(), burst.timestamp, vnet);
        match self.0.call(event, ThreadsafeFunctionCallMode::NonBlocking) {
            Status::Ok => ControlFlow::Continue(()),
            _ => ControlFlow::Break(()), // the environment is going away
        }
    }

    fn failed(&mut self, error: pltap_core::Error) {
        self.0.call(RxEvent::Failed(to_napi(error).reason), ThreadsafeFunctionCallMode::NonBlocking);
    }
}

/// The `'loop'` mode's state, on the JS thread.
struct LoopRx {
    watch: OnceCell<Watch>,
    /// Taken on close, so that a closed Rx holds neither the port nor its device.
    reader: RefCell<Option<BurstReader>>,
    failed: Cell<bool>,
}

impl LoopRx {
    /// Polls while a read may take frames; stops while paused, over budget, failed or closed.
    fn update(&self) -> Result<()> {
        let Some(watch) = self.watch.get() else { return Ok(()) };
        let can = !self.failed.get() && self.reader.borrow().as_ref().is_some_and(BurstReader::can_read);
        if can {
            watch.start(READABLE)
        } else {
            watch.stop();
            Ok(())
        }
    }

    /// The burst (or failure) to hand to JS for `event`, if any.
    fn read(&self, event: Event) -> Option<RxCallArgs> {
        test_panic_point("rx_callback");
        let mut slot = self.reader.borrow_mut();
        let reader = slot.as_mut()?;
        match reader.read_burst(|_, _| {}) {
            Ok(Some(b)) => {
                Some(burst_args(b.data.to_vec(), b.lengths.to_vec(), b.timestamp, b.vnet.map(<[u8]>::to_vec)))
            }
            Ok(None) => match event {
                Event::Failed(e) => Some(failure_args(to_napi(pltap_core::Error::os("poll", "poll", e)).reason)),
                Event::Ready => None,
            },
            Err(e) => Some(failure_args(to_napi(e).reason)),
        }
    }

    fn on_event(&self, caller: &Caller<'_>, event: Event) {
        // napi-rs is not around this callback: a panic is the Rx's failure, as in the
        // thread mode's callback.
        let args = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| self.read(event)))
            .unwrap_or_else(|p| Some(failure_args(to_napi(crate::error::panic_error("the Rx callback", p)).reason)));
        if let Some(args) = args {
            if args.data.0.is_some() {
                self.failed.set(true);
            }
            let _ = caller.call(args);
        }
        // JS ran: it may have paused, released or closed.
        if let Err(e) = self.update() {
            self.failed.set(true);
            let _ = caller.call(failure_args(e.reason));
        }
    }

    fn close(&self) {
        if let Some(watch) = self.watch.get() {
            watch.close();
        }
        self.reader.borrow_mut().take();
    }
}

enum Engine {
    Thread(Reader),
    Loop(Rc<LoopRx>),
}

/// A running receive engine (`NativeRx` in JS), in either wake mode.
#[napi(js_name = "NativeRx")]
pub struct JsRx {
    engine: Engine,
    handle: ReaderHandle,
}

impl JsRx {
    /// `'thread'` mode: starts a reader thread delivering through a thread-safe function.
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
        let tsfn: Tsfn = callback
            .build_threadsafe_function::<RxEvent>()
            .callee_handled::<false>()
            .weak::<true>()
            .build_callback(move |ctx| {
                // napi-rs does not catch panics here, and one would abort the process:
                // hand it to JS as the reader's failure instead.
                let args = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
                    on_js.consumed();
                    test_panic_point("rx_callback");
                    match ctx.value {
                        RxEvent::Burst(data, lens, at, vnet) => burst_args(data, lens, at, vnet),
                        RxEvent::Failed(msg) => failure_args(msg),
                    }
                }));
                Ok(args
                    .unwrap_or_else(|p| failure_args(to_napi(crate::error::panic_error("the Rx callback", p)).reason)))
            })?;
        reader.start(JsSink(tsfn)).into_napi()?;
        Ok(JsRx { engine: Engine::Thread(reader), handle })
    }

    /// `'loop'` mode: watches the device on `env`'s event loop (unreferenced: it does not
    /// keep the process alive) and reads in the loop's callback.
    pub(crate) fn start_loop(
        env: &Env,
        dev: Arc<Netdev>,
        callback: Function<'_, RxCallArgs, ()>,
        max_batch: u32,
        max_bytes: u32,
    ) -> Result<JsRx> {
        test_panic_point("rx_reader");
        let opts = ReaderOptions { max_batch: max_batch as usize, max_bytes: max_bytes as usize, max_pending: 1 };
        let reader = BurstReader::new(dev, opts).into_napi()?;
        let handle = reader.handle();
        let state = Rc::new(LoopRx { watch: OnceCell::new(), reader: RefCell::new(None), failed: Cell::new(false) });
        let weak = Rc::downgrade(&state);
        let watch = Watch::new(env, reader.fd(), &callback, "pltap:rx", false, move |caller, event| {
            if let Some(state) = weak.upgrade() {
                state.on_event(caller, event);
            }
        })?;
        *state.reader.borrow_mut() = Some(reader);
        let _ = state.watch.set(watch);
        state.update()?;
        Ok(JsRx { engine: Engine::Loop(state), handle })
    }

    /// Re-evaluates the loop mode's polling after a change of the reader's state.
    fn update(&self) -> Result<()> {
        match &self.engine {
            Engine::Thread(_) => Ok(()),
            Engine::Loop(state) => state.update(),
        }
    }
}

impl Drop for JsRx {
    fn drop(&mut self) {
        if let Engine::Loop(state) = &self.engine {
            state.close(); // finalized on the JS thread
        }
    }
}

#[napi]
impl JsRx {
    /// Whether the `'loop'` wake mode can run in this runtime (it needs libuv's poll
    /// handle, which Node exports).
    #[napi(catch_unwind)]
    pub fn loop_available() -> Result<bool> {
        guard("Rx.loopAvailable", || Ok(Watch::available()))
    }

    /// Stops reading from the device until `resume()`.
    #[napi(catch_unwind)]
    pub fn pause(&self) -> Result<()> {
        guard("Rx.pause", || {
            self.handle.pause();
            self.update()
        })
    }

    /// Resumes reading.
    #[napi(catch_unwind)]
    pub fn resume(&self) -> Result<()> {
        guard("Rx.resume", || {
            self.handle.resume();
            self.update()
        })
    }

    /// The facade is done with `bytes` of the bursts delivered (they left its queue):
    /// the reader may read that much again.
    #[napi(catch_unwind)]
    pub fn release(&self, bytes: f64) -> Result<()> {
        guard("Rx.release", || {
            let bytes = if bytes.is_finite() && bytes > 0.0 { bytes as usize } else { 0 };
            self.handle.release(bytes);
            self.update()
        })
    }

    /// Frames the reader discarded because they did not fit its buffer.
    #[napi(getter, catch_unwind)]
    pub fn truncated(&self) -> Result<f64> {
        guard("Rx.truncated", || Ok(self.handle.truncated() as f64))
    }

    /// Stops the reader (joins its thread, or closes its poll handle); idempotent.
    #[napi(catch_unwind)]
    pub fn close(&self) -> Result<()> {
        guard("Rx.close", || {
            match &self.engine {
                Engine::Thread(reader) => reader.stop(),
                Engine::Loop(state) => state.close(),
            }
            Ok(())
        })
    }
}
