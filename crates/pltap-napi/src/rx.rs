//! The receive path: one reader thread per `Rx` that drains bursts of frames off the
//! JS thread and crosses into JS once per burst through a thread-safe function.
//!
//! Backpressure: at most [`MAX_INFLIGHT`] bursts wait for the JS thread; the facade
//! can also `pause()` the reader when its own queue holds too many frames. Bytes are
//! bounded here: every burst counts as outstanding from the moment it is read until the
//! facade `release()`s it (it left the JS queue), and the reader never reads more than
//! fits under `max_bytes`, so bursts in flight and the JS queue together stay within
//! it. While the reader waits, frames stay in (and, when it is full, are dropped by)
//! the kernel's queue.

use crate::error::{IntoNapi, guard, panic_error, test_panic_point, to_napi};
use napi::bindgen_prelude::*;
use napi::threadsafe_function::{ThreadsafeFunction, ThreadsafeFunctionCallMode};
use napi_derive::napi;
use pltap_core::netdev::Netdev;
use pltap_core::sys;
use std::fs::File;
use std::io::{Read, Write};
use std::os::fd::AsFd;
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering::SeqCst};
use std::sync::{Arc, Mutex, RwLock};
use std::thread::JoinHandle;

/// Bursts delivered but not yet handled by the JS thread.
pub const MAX_INFLIGHT: usize = 4;

/// Arguments of the JS callback: an encoded error, or a burst (frames back to back,
/// and their lengths).
pub type RxCallArgs = FnArgs<(Option<String>, Option<Buffer>, Option<Uint32Array>)>;

enum RxEvent {
    Burst(Vec<u8>, Vec<u32>),
    Failed(String),
}

struct Shared {
    /// The wake-up eventfd; `None` once the reader is stopped, so `close()` releases the
    /// descriptor at once instead of when JS garbage-collects the `NativeRx`.
    wake: RwLock<Option<File>>,
    stop: AtomicBool,
    paused: AtomicBool,
    inflight: AtomicUsize,
    /// Frames the reader discarded because they did not fit (the `truncated` getter).
    truncated: AtomicU64,
    /// Bytes read and not yet released by the facade (in flight or in the JS queue).
    outstanding: AtomicUsize,
    /// The bound on `outstanding`.
    max_bytes: usize,
    /// Set by the reader while it waits for the facade to release bytes.
    bytes_blocked: AtomicBool,
}

impl Shared {
    fn wake(&self) {
        if let Some(wake) = self.wake.read().unwrap_or_else(|p| p.into_inner()).as_ref() {
            let _ = (&*wake).write(&1u64.to_ne_bytes());
        }
    }
}

type Tsfn = ThreadsafeFunction<RxEvent, (), RxCallArgs, Status, false, true>;

/// A running reader (`NativeRx` in JS).
#[napi(js_name = "NativeRx")]
pub struct JsRx {
    shared: Arc<Shared>,
    thread: Mutex<Option<JoinHandle<()>>>,
}

impl JsRx {
    pub(crate) fn start(
        dev: Arc<Netdev>,
        callback: Function<'_, RxCallArgs, ()>,
        max_batch: u32,
        max_bytes: u32,
    ) -> Result<JsRx> {
        let batch = max_batch.clamp(1, 1024) as usize;
        // At least one largest frame, so that a reader with nothing outstanding can always read.
        let max_bytes = (max_bytes as usize).max(pltap_core::frame::MAX_FRAME);
        let tap = dev.live_tap().into_napi()?;
        let wake = sys::eventfd().map_err(|e| to_napi(pltap_core::Error::os("eventfd", "eventfd", e)))?;
        let shared = Arc::new(Shared {
            wake: RwLock::new(Some(File::from(wake))),
            stop: AtomicBool::new(false),
            paused: AtomicBool::new(false),
            inflight: AtomicUsize::new(0),
            truncated: AtomicU64::new(0),
            outstanding: AtomicUsize::new(0),
            max_bytes,
            bytes_blocked: AtomicBool::new(false),
        });
        let on_js = shared.clone();
        let tsfn: Tsfn =
            callback.build_threadsafe_function::<RxEvent>().callee_handled::<false>().weak::<true>().build_callback(
                move |ctx| {
                    // napi-rs does not catch panics here, and one would abort the process:
                    // hand it to JS as the reader's failure instead.
                    let args = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
                        if on_js.inflight.fetch_sub(1, SeqCst) == MAX_INFLIGHT {
                            on_js.wake();
                        }
                        test_panic_point("rx_callback");
                        match ctx.value {
                            RxEvent::Burst(data, lens) => (None, Some(data.into()), Some(Uint32Array::new(lens))),
                            RxEvent::Failed(msg) => (Some(msg), None, None),
                        }
                    }));
                    Ok(FnArgs::from(
                        args.unwrap_or_else(|p| (Some(to_napi(panic_error("the Rx callback", p)).reason), None, None)),
                    ))
                },
            )?;
        let for_thread = shared.clone();
        let thread = std::thread::Builder::new()
            .name(format!("pltap-rx-{}", dev.name()))
            .spawn(move || {
                // A panic would end the thread silently: report it as the reader's failure.
                let run = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
                    reader(&dev, &tap, &for_thread, &tsfn, batch)
                }));
                if let Err(p) = run {
                    let msg = to_napi(panic_error("the Rx reader thread", p)).reason;
                    tsfn.call(RxEvent::Failed(msg), ThreadsafeFunctionCallMode::NonBlocking);
                }
            })
            .map_err(|e| to_napi(pltap_core::Error::os("spawn the reader thread", "pthread_create", e)))?;
        Ok(JsRx { shared, thread: Mutex::new(Some(thread)) })
    }

    fn stop(&self) {
        self.shared.stop.store(true, SeqCst);
        self.shared.wake();
        let handle = self.thread.lock().unwrap_or_else(|p| p.into_inner()).take();
        if let Some(h) = handle {
            let _ = h.join();
        }
        // The thread is gone: nobody polls the eventfd any more, so close it now.
        self.shared.wake.write().unwrap_or_else(|p| p.into_inner()).take();
    }
}

/// A slab for `batch` frames of `stride` bytes, but never (much) more than `max_bytes`.
fn slab_for(stride: usize, batch: usize, max_bytes: usize) -> Vec<u8> {
    vec![0u8; stride * pltap_core::frame::burst_frames(0, max_bytes, stride, batch)]
}

fn reader(dev: &Netdev, tap: &pltap_core::Tap, shared: &Shared, tsfn: &Tsfn, batch: usize) {
    let mut stride = tap.rx_capacity().unwrap_or(pltap_core::frame::MAX_FRAME);
    let mut slab = slab_for(stride, batch, shared.max_bytes);
    let mut lens = vec![0usize; batch];
    let mut rev = [0i16; 2];
    test_panic_point("rx_reader");
    while !shared.stop.load(SeqCst) {
        // The flag goes up before `outstanding` is read, and `release()` lowers
        // `outstanding` before it reads the flag: either it sees the flag and wakes us,
        // or we see what it released.
        shared.bytes_blocked.store(true, SeqCst);
        let cap = pltap_core::frame::burst_frames(shared.outstanding.load(SeqCst), shared.max_bytes, stride, batch)
            .min(slab.len() / stride);
        if cap > 0 {
            shared.bytes_blocked.store(false, SeqCst);
        }
        let blocked = cap == 0 || shared.paused.load(SeqCst) || shared.inflight.load(SeqCst) >= MAX_INFLIGHT;
        // Held (shared) while polling; `stop()` takes the eventfd only after joining us.
        let wake_guard = shared.wake.read().unwrap_or_else(|p| p.into_inner());
        let Some(wake) = wake_guard.as_ref() else { return };
        let wait_on: &[_] = if blocked {
            &[(wake.as_fd(), sys::POLLIN)]
        } else {
            &[(wake.as_fd(), sys::POLLIN), (tap.fd(), sys::POLLIN)]
        };
        rev[1] = 0;
        if let Err(e) = sys::poll(wait_on, &mut rev, -1) {
            tsfn.call(
                RxEvent::Failed(to_napi(pltap_core::Error::os("poll", "poll", e)).reason),
                ThreadsafeFunctionCallMode::NonBlocking,
            );
            return;
        }
        if rev[0] != 0 {
            let mut b = [0u8; 8];
            let _ = (&*wake).read(&mut b);
            continue;
        }
        drop(wake_guard);
        if rev[1] == 0 {
            continue;
        }
        match tap.recv_burst(&mut slab[..cap * stride], stride, &mut lens[..cap]) {
            Ok(burst) => {
                if burst.truncated > 0 {
                    shared.truncated.fetch_add(burst.truncated as u64, SeqCst);
                    dev.count_rx_dropped(burst.truncated as u64);
                    // The MTU may have grown: size the slab again.
                    stride = tap.rx_capacity().unwrap_or(pltap_core::frame::MAX_FRAME);
                    slab = slab_for(stride, batch, shared.max_bytes);
                }
                if burst.frames == 0 {
                    continue;
                }
                let total: usize = lens[..burst.frames].iter().sum();
                let mut data = Vec::with_capacity(total);
                for (i, len) in lens[..burst.frames].iter().enumerate() {
                    data.extend_from_slice(&slab[i * stride..i * stride + len]);
                }
                dev.count_rx(burst.frames as u64, total as u64);
                let lengths = lens[..burst.frames].iter().map(|l| *l as u32).collect();
                shared.inflight.fetch_add(1, SeqCst);
                shared.outstanding.fetch_add(total, SeqCst);
                if tsfn.call(RxEvent::Burst(data, lengths), ThreadsafeFunctionCallMode::NonBlocking) != Status::Ok {
                    return; // the environment is going away
                }
            }
            Err(e) => {
                dev.count_rx_error();
                tsfn.call(RxEvent::Failed(to_napi(e).reason), ThreadsafeFunctionCallMode::NonBlocking);
                return;
            }
        }
    }
}

#[napi]
impl JsRx {
    /// Stops reading from the device until `resume()`.
    #[napi(catch_unwind)]
    pub fn pause(&self) -> Result<()> {
        guard("Rx.pause", || {
            self.shared.paused.store(true, SeqCst);
            self.shared.wake();
            Ok(())
        })
    }

    /// Resumes reading.
    #[napi(catch_unwind)]
    pub fn resume(&self) -> Result<()> {
        guard("Rx.resume", || {
            self.shared.paused.store(false, SeqCst);
            self.shared.wake();
            Ok(())
        })
    }

    /// The facade is done with `bytes` of the bursts delivered (they left its queue):
    /// the reader may read that much again.
    #[napi(catch_unwind)]
    pub fn release(&self, bytes: f64) -> Result<()> {
        guard("Rx.release", || {
            let bytes = if bytes.is_finite() && bytes > 0.0 { bytes as usize } else { 0 };
            let _ = self.shared.outstanding.fetch_update(SeqCst, SeqCst, |o| Some(o.saturating_sub(bytes)));
            if self.shared.bytes_blocked.load(SeqCst) {
                self.shared.wake();
            }
            Ok(())
        })
    }

    /// Frames the reader discarded because they did not fit its buffer.
    #[napi(getter, catch_unwind)]
    pub fn truncated(&self) -> Result<f64> {
        guard("Rx.truncated", || Ok(self.shared.truncated.load(SeqCst) as f64))
    }

    /// Stops and joins the reader thread (idempotent).
    #[napi(catch_unwind)]
    pub fn close(&self) -> Result<()> {
        guard("Rx.close", || {
            self.stop();
            Ok(())
        })
    }
}

impl Drop for JsRx {
    fn drop(&mut self) {
        self.stop();
    }
}
