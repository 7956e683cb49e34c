//! The receive path's conversions. A core burst read (`pltap_core::reader`, which owns the
//! reads, the backpressure and the accounting) reaches JS in one of two wake modes:
//!
//! - `'thread'`: a core [`Reader`] thread delivers each burst to a [`Sink`] that packs it
//!   into one buffer ([`Burst::pack_into`]) and crosses into JS once per burst through a
//!   thread-safe function. At most [`MAX_INFLIGHT`] bursts wait for the JS thread.
//! - `'loop'`: a libuv poll handle on the owning thread's event loop ([`crate::uv::Watch`])
//!   calls [`BurstReader::read_burst`] when the device is readable and hands the burst to
//!   the JS callback at once: one wake-up per burst, no thread hop. Polling stops while
//!   the reader is paused or its byte budget is spent, and starts again on resume/release.
//!
//! In both, the facade `pause()`s at its high-water mark and `release()`s the bytes of
//! bursts that left its queue; each burst carries its receive timestamp. Before any of
//! that, the core's [`Forward`] routes each burst: written natively to the `Rx.forward`
//! target if one is set, and then delivered to JS only if observers want to see it.

use crate::error::{IntoNapi, guard, test_panic_point, to_napi};
use crate::uv::{Caller, Event, READABLE, Watch, copy_to_js};
use napi::bindgen_prelude::*;
use napi::threadsafe_function::{ThreadsafeFunction, ThreadsafeFunctionCallMode};
use napi_derive::napi;
use pltap_core::forward::{Forward, Route};
use pltap_core::netdev::Netdev;
use pltap_core::reader::{Burst, BurstReader, PackedLayout, Reader, ReaderHandle, ReaderOptions, Sink};
use std::cell::{Cell, OnceCell, RefCell};
use std::ops::ControlFlow;
use std::rc::Rc;
use std::sync::Arc;
use std::time::{SystemTime, UNIX_EPOCH};

/// Bursts delivered but not yet handled by the JS thread (`'thread'` mode).
pub const MAX_INFLIGHT: usize = 4;

/// In the `'loop'` mode, a packed burst up to this size is copied into memory V8 allocates
/// (no finalizer, cheapest for the small bursts that latency is made of); a larger one
/// (super-frames, long bursts) is handed over as the Rust allocation it was packed into,
/// which saves V8 zero-filling a big buffer only to have it overwritten.
const COPY_MAX: usize = 16 * 1024;

/// Arguments of the JS callback: an encoded error, or a burst packed in one buffer as
/// [`PackedLayout`] says (the frames, their lengths, and on an offload device with
/// `deliver: 'super'` their 10-byte virtio-net headers), the layout's frame bytes and
/// frame count, the receive timestamp as seconds and nanoseconds since the epoch, whether
/// headers follow the lengths, and whether the burst was also forwarded natively
/// ([`pltap_core::forward`]). One allocation per burst, with no finalizer in the `'loop'`
/// mode (V8 owns the copy), and one native-to-JS value per part: the facade makes its
/// views of the buffer in JS, where that is cheap.
pub type RxCallArgs<B = Uint8Array> = FnArgs<(Option<String>, Option<B>, u32, u32, f64, u32, bool, bool)>;

/// The JS arguments for a burst packed as `layout` into `buf`; `forwarded`: it was also
/// written to the native forwarding target (JS shows it to its observers only).
fn burst_args<B>(buf: B, layout: PackedLayout, at: SystemTime, forwarded: bool) -> RxCallArgs<B> {
    let t = at.duration_since(UNIX_EPOCH).unwrap_or_default();
    FnArgs::from((
        None,
        Some(buf),
        layout.data_len as u32,
        layout.count as u32,
        t.as_secs() as f64,
        t.subsec_nanos(),
        layout.vnet,
        forwarded,
    ))
}

/// The JS arguments for a failure.
fn failure_args<B>(reason: String) -> RxCallArgs<B> {
    FnArgs::from((Some(reason), None, 0, 0, 0.0, 0, false, false))
}

enum RxEvent {
    /// A burst packed as the layout says, its receive time, and whether it was forwarded.
    Burst(Vec<u8>, PackedLayout, SystemTime, bool),
    Failed(String),
}

type Tsfn = ThreadsafeFunction<RxEvent, (), RxCallArgs, Status, false, true>;

struct JsSink {
    tsfn: Tsfn,
    forward: Arc<Forward>,
    handle: ReaderHandle,
}

impl Sink for JsSink {
    fn started(&mut self) {
        test_panic_point("rx_reader");
    }

    fn burst(&mut self, burst: Burst<'_>) -> ControlFlow<()> {
        let Route::Deliver { forwarded } = self.forward.route(&burst, &self.handle) else {
            self.handle.consumed();
            return ControlFlow::Continue(());
        };
        let mut packed = Vec::new();
        let layout = burst.pack_into(&mut packed);
        let event = RxEvent::Burst(packed, layout, burst.timestamp, forwarded);
        match self.tsfn.call(event, ThreadsafeFunctionCallMode::NonBlocking) {
            Status::Ok => ControlFlow::Continue(()),
            _ => ControlFlow::Break(()), // the environment is going away
        }
    }

    fn failed(&mut self, error: pltap_core::Error) {
        self.tsfn.call(RxEvent::Failed(to_napi(error).reason), ThreadsafeFunctionCallMode::NonBlocking);
    }
}

/// The `'loop'` mode's state, on the JS thread.
struct LoopRx {
    watch: OnceCell<Watch>,
    /// Taken on close, so that a closed Rx holds neither the port nor its device.
    reader: RefCell<Option<BurstReader>>,
    failed: Cell<bool>,
    /// Where a burst is packed before V8 copies it (reused: no allocation of ours per burst).
    packed: RefCell<Vec<u8>>,
    forward: Arc<Forward>,
    handle: ReaderHandle,
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

    /// Hands the burst (or failure) for `event`, if any, to JS; `true` if it was a failure.
    fn deliver(&self, caller: &Caller<'_>, event: Event) -> bool {
        test_panic_point("rx_callback");
        let mut packed = self.packed.borrow_mut();
        // The reader is borrowed only for the read: JS may close or pause it from the callback.
        let read = {
            let mut slot = self.reader.borrow_mut();
            let Some(reader) = slot.as_mut() else { return false };
            match reader.read_burst(|_, _| {}) {
                Ok(Some(b)) => match self.forward.route(&b, &self.handle) {
                    Route::Done => return false,
                    Route::Deliver { forwarded } => Ok(Some((b.pack_into(&mut packed), b.timestamp, forwarded))),
                },
                Ok(None) => Ok(None),
                Err(e) => Err(e),
            }
        };
        let failure = match read {
            Ok(Some((layout, at, forwarded))) if packed.len() > COPY_MAX => {
                // Large (super-frames): hand JS this allocation rather than zero a new one and copy.
                let owned = std::mem::take(&mut *packed);
                drop(packed);
                let _ = caller.call(burst_args(Uint8Array::new(owned), layout, at, forwarded));
                return false;
            }
            Ok(Some((layout, at, forwarded))) => match copy_to_js(&caller.env(), &packed) {
                Ok(buf) => {
                    drop(packed);
                    let _ = caller.call(burst_args(buf, layout, at, forwarded));
                    return false;
                }
                Err(e) => e.reason,
            },
            Ok(None) => match event {
                Event::Failed(e) => to_napi(pltap_core::Error::os("poll", "poll", e)).reason,
                Event::Ready => return false,
            },
            Err(e) => to_napi(e).reason,
        };
        drop(packed);
        let _ = caller.call(failure_args::<Uint8Array>(failure));
        true
    }

    fn on_event(&self, caller: &Caller<'_>, event: Event) {
        // napi-rs is not around this callback: a panic is the Rx's failure, as in the
        // thread mode's callback.
        let failed = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| self.deliver(caller, event)))
            .unwrap_or_else(|p| {
                let reason = to_napi(crate::error::panic_error("the Rx callback", p)).reason;
                let _ = caller.call(failure_args::<Uint8Array>(reason));
                true
            });
        if failed {
            self.failed.set(true);
        }
        // JS ran: it may have paused, released or closed.
        if let Err(e) = self.update() {
            self.failed.set(true);
            let _ = caller.call(failure_args::<Uint8Array>(e.reason));
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

/// `pltap_core::forward::ForwardCounters` in JS.
#[napi(object)]
pub struct NativeForwardCounters {
    /// Frames written to the target.
    pub frames: f64,
    /// Their bytes.
    pub bytes: f64,
    /// Bursts forwarded.
    pub bursts: f64,
    /// Frames not written (target down, queue full, or refused).
    pub dropped: f64,
    /// Bursts refused for another reason than the link down or the queue full.
    pub errors: f64,
}

/// A running receive engine (`NativeRx` in JS), in either wake mode.
#[napi(js_name = "NativeRx")]
pub struct JsRx {
    engine: Engine,
    handle: ReaderHandle,
    forward: Arc<Forward>,
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
                        RxEvent::Burst(packed, layout, at, forwarded) => {
                            burst_args(Uint8Array::new(packed), layout, at, forwarded)
                        }
                        RxEvent::Failed(msg) => failure_args(msg),
                    }
                }));
                Ok(args
                    .unwrap_or_else(|p| failure_args(to_napi(crate::error::panic_error("the Rx callback", p)).reason)))
            })?;
        let forward = Arc::new(Forward::new());
        reader.start(JsSink { tsfn, forward: forward.clone(), handle: handle.clone() }).into_napi()?;
        Ok(JsRx { engine: Engine::Thread(reader), handle, forward })
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
        let state = Rc::new(LoopRx {
            watch: OnceCell::new(),
            reader: RefCell::new(None),
            failed: Cell::new(false),
            packed: RefCell::new(Vec::new()),
            forward: Arc::new(Forward::new()),
            handle: handle.clone(),
        });
        let weak = Rc::downgrade(&state);
        let watch = Watch::new(env, reader.fd(), &callback, "pltap:rx", false, move |caller, event| {
            if let Some(state) = weak.upgrade() {
                state.on_event(caller, event);
            }
        })?;
        *state.reader.borrow_mut() = Some(reader);
        let _ = state.watch.set(watch);
        state.update()?;
        let forward = state.forward.clone();
        Ok(JsRx { engine: Engine::Loop(state), handle, forward })
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

    /// Forwards every burst read from now on to `target` natively, before JS sees it
    /// (`null`: stop forwarding); `deliver`: whether JS still gets the forwarded bursts.
    #[napi(catch_unwind)]
    pub fn set_forward(&self, target: Option<&crate::JsNetdev>, deliver: bool) -> Result<()> {
        guard("Rx.setForward", || {
            self.forward.set_route(target.map(crate::JsNetdev::core), deliver);
            Ok(())
        })
    }

    /// The forwarding target may no longer be written through (closed, or transferred to
    /// another thread): later bursts are dropped and counted as errors.
    #[napi(catch_unwind)]
    pub fn revoke_forward(&self) -> Result<()> {
        guard("Rx.revokeForward", || {
            self.forward.revoke();
            Ok(())
        })
    }

    /// Forwards a burst that was read before the forward was set (it waited in the
    /// facade's queue) through the same target and counters; `vnet`: its headers.
    #[napi(catch_unwind)]
    pub fn forward_packed(&self, data: &[u8], lengths: &[u32], vnet: Option<&[u8]>) -> Result<()> {
        guard("Rx.forwardPacked", || {
            let lengths = pltap_core::sys::snapshot_shared_u32(lengths);
            let burst = Burst { data, lengths: &lengths, timestamp: SystemTime::now(), vnet };
            self.forward.forward(&burst);
            Ok(())
        })
    }

    /// What the native forwarding wrote and dropped so far.
    #[napi(getter, catch_unwind)]
    pub fn forwarded(&self) -> Result<NativeForwardCounters> {
        guard("Rx.forwarded", || {
            let c = self.forward.counters();
            Ok(NativeForwardCounters {
                frames: c.frames as f64,
                bytes: c.bytes as f64,
                bursts: c.bursts as f64,
                dropped: c.dropped as f64,
                errors: c.errors as f64,
            })
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
