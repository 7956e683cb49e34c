//! [`Reader`]: the receive engine of a port. One thread per reader waits until the
//! device has frames (or it is woken), reads them in bursts into a reused slab and hands
//! each burst to a [`Sink`] as one packed buffer plus the frames' lengths.
//!
//! The burst read itself is [`BurstReader::read_burst`], which the thread calls and which
//! a consumer that watches the descriptor on its own event loop (the Node binding's
//! `'loop'` wake mode) calls directly: one function, one accounting, either way.
//!
//! Backpressure, all of it here:
//! - **pause**: [`ReaderHandle::pause`] stops reading until [`ReaderHandle::resume`];
//! - **pending bursts**: at most [`ReaderOptions::max_pending`] bursts are delivered and
//!   not yet [`consumed`](ReaderHandle::consumed) (a sink that hands bursts to another
//!   thread acknowledges them from there);
//! - **bytes**: every burst counts as outstanding from the moment it is read until the
//!   consumer [`release`](ReaderHandle::release)s it, and the reader never reads more
//!   than fits under [`ReaderOptions::max_bytes`].
//!
//! While the reader waits, frames stay in (and, when it is full, are dropped by) the
//! kernel's queue. Frames too large for the slab are discarded and counted (the reader's
//! [`truncated`](ReaderHandle::truncated) count and the port's `rx_dropped`), with their
//! true length reported to [`Sink::truncated`]; the slab is then sized again for the
//! current MTU. Frames read count as the port's `rx_packets`/`rx_bytes`, a failed read as
//! `rx_errors`.
//!
//! ```no_run
//! use pltap_core::netdev::{Allocator, Netdev, NetdevOptions};
//! use pltap_core::reader::{Burst, Reader, ReaderOptions, Sink};
//! use pltap_core::{Error, Mode};
//! use std::ops::ControlFlow;
//! use std::sync::Arc;
//!
//! struct Print;
//! impl Sink for Print {
//!     fn burst(&mut self, burst: Burst<'_>) -> ControlFlow<()> {
//!         println!("{} frames, {} bytes", burst.lengths.len(), burst.data.len());
//!         ControlFlow::Continue(())
//!     }
//!     fn failed(&mut self, error: Error) {
//!         eprintln!("reader failed: {error}");
//!     }
//! }
//!
//! let dev = Arc::new(Netdev::open(NetdevOptions { allocator: Allocator::Direct { ifname: None }, mode: Mode::Tap, packet_info: None, offload: None })?);
//! let reader = Reader::new(dev, ReaderOptions::default())?;
//! reader.start(Print)?;
//! // ... later:
//! reader.stop(); // wakes and joins the thread, closes its eventfd
//! # Ok::<(), pltap_core::Error>(())
//! ```

use crate::error::{Error, Result};
use crate::frame::{self, burst_frames};
use crate::netdev::Netdev;
use crate::sys;
use crate::tap::Tap;
use crate::vnet;
use std::fs::File;
use std::io::{Read, Write};
use std::ops::ControlFlow;
use std::os::fd::{AsFd, BorrowedFd};
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering::SeqCst};
use std::sync::{Arc, Mutex, RwLock};
use std::thread::JoinHandle;
use std::time::SystemTime;

/// The largest [`ReaderOptions::max_batch`]; larger values are clamped to it.
pub const MAX_BATCH: usize = 1024;

/// A reader's limits.
///
/// ```
/// use pltap_core::reader::ReaderOptions;
/// // A sink that posts bursts to another thread: 4 bursts in flight, 4 MiB outstanding.
/// let opts = ReaderOptions { max_batch: 256, max_bytes: 4 << 20, max_pending: 4 };
/// assert_eq!(ReaderOptions::default().max_pending, usize::MAX);
/// # let _ = opts;
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ReaderOptions {
    /// Most frames per burst, clamped to `1..=`[`MAX_BATCH`].
    pub max_batch: usize,
    /// Bytes delivered and not yet [`release`](ReaderHandle::release)d that the reader
    /// may reach, raised to at least [`frame::MAX_FRAME`]. `usize::MAX` for no budget
    /// (the sink never releases).
    pub max_bytes: usize,
    /// Bursts delivered and not yet [`consumed`](ReaderHandle::consumed) that the reader
    /// may reach before it waits. `usize::MAX` for no bound (the sink never acknowledges).
    pub max_pending: usize,
}

impl Default for ReaderOptions {
    /// 64 frames per burst, no byte budget, no pending bound: for a sink that is done
    /// with each burst when [`Sink::burst`] returns.
    fn default() -> ReaderOptions {
        ReaderOptions { max_batch: 64, max_bytes: usize::MAX, max_pending: usize::MAX }
    }
}

impl ReaderOptions {
    /// The limits the reader really uses (see the fields).
    fn normalized(self) -> ReaderOptions {
        ReaderOptions {
            max_batch: self.max_batch.clamp(1, MAX_BATCH),
            max_bytes: self.max_bytes.max(frame::MAX_FRAME),
            max_pending: self.max_pending.max(1),
        }
    }
}

/// One burst: `data` holds the frames back to back, `lengths[i]` is frame `i`'s length.
/// Valid only during [`Sink::burst`] (or until the next [`BurstReader::read_burst`]:
/// the slab is reused).
#[derive(Clone, Copy, Debug)]
pub struct Burst<'a> {
    /// The frames, packed.
    pub data: &'a [u8],
    /// Their lengths; they add up to `data.len()`.
    pub lengths: &'a [u32],
    /// When the burst's first frame was read (`CLOCK_REALTIME`, taken right after that
    /// read returned): the receive timestamp of every frame of the burst.
    pub timestamp: SystemTime,
    /// On an offload device with `deliver: Super`: each frame's 10-byte virtio-net header
    /// (`vnet[10 i..10 i + 10]`), `hdr_len` exact ([`crate::vnet`]). `None` otherwise.
    pub vnet: Option<&'a [u8]>,
}

/// Where the parts of a burst sit in the one buffer [`Burst::pack_into`] made: the frames
/// from byte 0, their lengths (native-endian `u32`) from [`PackedLayout::lengths_at`], and
/// on an offload device their virtio-net headers from [`PackedLayout::vnet_at`]. One
/// buffer is one allocation per burst on the JS side, with aligned views for the lengths.
///
/// # Examples
/// ```
/// use pltap_core::reader::PackedLayout;
/// let layout = PackedLayout { data_len: 61, count: 2, vnet: false };
/// assert_eq!(layout.lengths_at(), 64); // padded to a multiple of 4
/// assert_eq!(layout.total(), 72);
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct PackedLayout {
    /// Bytes of frames, from offset 0.
    pub data_len: usize,
    /// Frames (lengths, and headers if any).
    pub count: usize,
    /// Whether 10-byte virtio-net headers follow the lengths.
    pub vnet: bool,
}

impl PackedLayout {
    /// Where the lengths start: `data_len` rounded up to a multiple of 4.
    pub fn lengths_at(&self) -> usize {
        self.data_len.next_multiple_of(4)
    }

    /// Where the virtio-net headers start (right after the lengths).
    pub fn vnet_at(&self) -> usize {
        self.lengths_at() + 4 * self.count
    }

    /// The buffer's size.
    pub fn total(&self) -> usize {
        self.vnet_at() + if self.vnet { crate::vnet::VNET_HDR_LEN * self.count } else { 0 }
    }
}

impl Burst<'_> {
    /// Writes the burst into `out` (cleared first) as one buffer laid out as
    /// [`PackedLayout`] says, and returns the layout.
    ///
    /// # Examples
    /// ```
    /// use pltap_core::reader::Burst;
    /// let burst = Burst { data: &[1, 2, 3], lengths: &[1, 2], timestamp: std::time::UNIX_EPOCH, vnet: None };
    /// let mut out = Vec::new();
    /// let layout = burst.pack_into(&mut out);
    /// assert_eq!(out.len(), layout.total());
    /// assert_eq!(&out[..3], &[1, 2, 3]);
    /// assert_eq!(&out[4..8], &1u32.to_ne_bytes());
    /// ```
    pub fn pack_into(&self, out: &mut Vec<u8>) -> PackedLayout {
        let layout = PackedLayout { data_len: self.data.len(), count: self.lengths.len(), vnet: self.vnet.is_some() };
        out.clear();
        out.reserve(layout.total());
        out.extend_from_slice(self.data);
        out.resize(layout.lengths_at(), 0);
        for len in self.lengths {
            out.extend_from_slice(&len.to_ne_bytes());
        }
        if let Some(vnet) = self.vnet {
            out.extend_from_slice(vnet);
        }
        layout
    }
}

/// Where a [`Reader`] delivers. Every method runs on the reader's thread; a panic in
/// one is caught and reported to [`Sink::failed`] as [`Error::Internal`].
pub trait Sink: Send + 'static {
    /// Called once on the reader's thread, after it sized its slab for the current MTU
    /// and before it first waits.
    fn started(&mut self) {}

    /// A burst was read. Its bytes count as outstanding until released, and the burst as
    /// pending until consumed (see [`ReaderOptions`]). `Break` ends the reader (the
    /// consumer is gone).
    fn burst(&mut self, burst: Burst<'_>) -> ControlFlow<()>;

    /// A frame of `len` bytes did not fit the `capacity` bytes of the slab and was
    /// discarded (it is counted already).
    fn truncated(&mut self, len: usize, capacity: usize) {
        let _ = (len, capacity);
    }

    /// The reader failed and has ended: a failed wait or read, or a panic. Called at most
    /// once, and nothing after it.
    fn failed(&mut self, error: Error);
}

#[derive(Debug)]
struct Shared {
    /// The wake-up eventfd; `None` once the reader is stopped, so stopping releases the
    /// descriptor at once rather than when the last handle goes.
    wake: RwLock<Option<File>>,
    stop: AtomicBool,
    paused: AtomicBool,
    pending: AtomicUsize,
    truncated: AtomicU64,
    /// Bytes delivered and not yet released.
    outstanding: AtomicUsize,
    /// Set by the reader while it waits for bytes to be released.
    bytes_blocked: AtomicBool,
    opts: ReaderOptions,
}

impl Shared {
    fn new(wake: Option<File>, opts: ReaderOptions) -> Shared {
        Shared {
            wake: RwLock::new(wake),
            stop: AtomicBool::new(false),
            paused: AtomicBool::new(false),
            pending: AtomicUsize::new(0),
            truncated: AtomicU64::new(0),
            outstanding: AtomicUsize::new(0),
            bytes_blocked: AtomicBool::new(false),
            opts: opts.normalized(),
        }
    }

    fn wake(&self) {
        if let Some(wake) = self.wake.read().unwrap_or_else(|p| p.into_inner()).as_ref() {
            let _ = (&*wake).write(&1u64.to_ne_bytes());
        }
    }
}

/// What a consumer uses to steer a [`Reader`] from any thread: pause/resume, releasing
/// bytes, acknowledging bursts. Cheap to clone; keeps no descriptor alive once the reader
/// is stopped.
///
/// ```no_run
/// # fn f(reader: &pltap_core::reader::Reader) {
/// let handle = reader.handle();
/// handle.pause();
/// handle.resume();
/// handle.release(1500); // the consumer is done with 1500 bytes of what it was given
/// # }
/// ```
#[derive(Clone, Debug)]
pub struct ReaderHandle(Arc<Shared>);

impl ReaderHandle {
    /// Stops reading from the device until [`ReaderHandle::resume`].
    pub fn pause(&self) {
        self.0.paused.store(true, SeqCst);
        self.0.wake();
    }

    /// Resumes reading.
    pub fn resume(&self) {
        self.0.paused.store(false, SeqCst);
        self.0.wake();
    }

    /// The consumer is done with `bytes` of the bursts delivered: the reader may read
    /// that much again. Releasing more than is outstanding releases everything.
    pub fn release(&self, bytes: usize) {
        let _ = self.0.outstanding.fetch_update(SeqCst, SeqCst, |o| Some(o.saturating_sub(bytes)));
        // `release` lowers `outstanding` before it reads the flag, and the reader raises
        // the flag before it reads `outstanding`: either we see the flag and wake it, or
        // it sees what we released.
        if self.0.bytes_blocked.load(SeqCst) {
            self.0.wake();
        }
    }

    /// The consumer has handled one delivered burst (see [`ReaderOptions::max_pending`]).
    pub fn consumed(&self) {
        let before = self.0.pending.fetch_update(SeqCst, SeqCst, |p| Some(p.saturating_sub(1))).unwrap_or(0);
        if before >= self.0.opts.max_pending {
            self.0.wake();
        }
    }

    /// Frames discarded because they did not fit the slab.
    pub fn truncated(&self) -> u64 {
        self.0.truncated.load(SeqCst)
    }

    /// Bytes delivered and not yet released.
    pub fn outstanding(&self) -> usize {
        self.0.outstanding.load(SeqCst)
    }

    /// Whether the reader is waiting for the consumer to release bytes.
    pub fn waiting_for_release(&self) -> bool {
        self.0.bytes_blocked.load(SeqCst)
    }

    /// Whether [`ReaderHandle::pause`] is in force.
    ///
    /// ```no_run
    /// # fn f(handle: &pltap_core::reader::ReaderHandle) {
    /// handle.pause();
    /// assert!(handle.paused());
    /// # }
    /// ```
    pub fn paused(&self) -> bool {
        self.0.paused.load(SeqCst)
    }
}

/// A port's receive engine: one thread reading bursts into a [`Sink`] (see the module
/// documentation). Dropping it stops it.
#[derive(Debug)]
pub struct Reader {
    handle: ReaderHandle,
    /// The port and its device until the thread takes them (or `stop()` drops them), so
    /// that a stopped reader keeps no descriptor of the device alive.
    source: Mutex<Option<(Arc<Netdev>, Arc<Tap>)>>,
    thread: Mutex<Option<JoinHandle<()>>>,
}

impl Reader {
    /// A reader of `dev`'s device, not started yet (so that the sink can be built with
    /// its [`handle`](Reader::handle)). Opens the wake-up eventfd.
    ///
    /// Errors: [`Error::Closed`] for a closed port; `eventfd` failures.
    pub fn new(dev: Arc<Netdev>, opts: ReaderOptions) -> Result<Reader> {
        let tap = dev.live_tap()?;
        let wake = sys::eventfd().map_err(|e| Error::os("eventfd", "eventfd", e))?;
        let shared = Shared::new(Some(File::from(wake)), opts);
        Ok(Reader {
            handle: ReaderHandle(Arc::new(shared)),
            source: Mutex::new(Some((dev, tap))),
            thread: Mutex::new(None),
        })
    }

    /// A handle to steer the reader.
    pub fn handle(&self) -> ReaderHandle {
        self.handle.clone()
    }

    /// Starts the reader thread (`pltap-rx-<ifname>`), which delivers to `sink` until
    /// [`Reader::stop`], a `Break` from the sink, or a failure.
    ///
    /// Errors: [`Error::InvalidArgument`] when already started (or stopped); thread
    /// creation failures.
    pub fn start(&self, sink: impl Sink) -> Result<()> {
        let source = self.source.lock().unwrap_or_else(|p| p.into_inner()).take();
        let Some((dev, tap)) = source else {
            return Err(Error::invalid("reader", "already started or stopped"));
        };
        let shared = self.handle.0.clone();
        let thread = std::thread::Builder::new()
            .name(format!("pltap-rx-{}", dev.name()))
            .spawn(move || {
                let mut sink = sink;
                let run = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
                    let mut burst = BurstReader::with_shared(dev.clone(), tap, shared.clone());
                    run(&mut burst, &shared, &mut sink)
                }));
                let failure = match run {
                    Ok(Ok(())) => return,
                    Ok(Err(e)) => e,
                    Err(p) => Error::from_panic(&format!("the reader thread of {}", dev.name()), p),
                };
                let _ = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| sink.failed(failure)));
            })
            .map_err(|e| Error::os("spawn the reader thread", "pthread_create", e))?;
        *self.thread.lock().unwrap_or_else(|p| p.into_inner()) = Some(thread);
        Ok(())
    }

    /// Stops the reader: wakes the thread, joins it, and closes the eventfd; the reader
    /// then holds neither the port nor its device. Idempotent; a reader never started
    /// cannot be started afterwards.
    pub fn stop(&self) {
        self.source.lock().unwrap_or_else(|p| p.into_inner()).take();
        let shared = &self.handle.0;
        shared.stop.store(true, SeqCst);
        shared.wake();
        let thread = self.thread.lock().unwrap_or_else(|p| p.into_inner()).take();
        if let Some(t) = thread {
            let _ = t.join();
        }
        // The thread is gone: nobody polls the eventfd any more.
        shared.wake.write().unwrap_or_else(|p| p.into_inner()).take();
    }
}

impl Drop for Reader {
    fn drop(&mut self) {
        self.stop();
    }
}

/// Frames the slab holds: a full batch, but never (much) more than the byte budget.
fn slab_frames(stride: usize, opts: &ReaderOptions) -> usize {
    burst_frames(0, opts.max_bytes, stride, opts.max_batch)
}

/// Frames the next burst may read with `outstanding` bytes not yet released.
fn burst_cap(outstanding: usize, stride: usize, opts: &ReaderOptions, slab_frames: usize) -> usize {
    burst_frames(outstanding, opts.max_bytes, stride, opts.max_batch).min(slab_frames)
}

/// What one packed read stored and discarded.
#[derive(Debug, Default)]
struct Packed {
    frames: usize,
    bytes: usize,
    truncated: usize,
    first_read: Option<SystemTime>,
}

/// Reads up to `lens.len()` frames back to back into `slab` (each given `stride` bytes
/// of room), until the queue is empty. `slab` holds at least `lens.len() * stride` bytes.
/// A truncated frame is counted (the reader's count and the port's `rx_dropped`) before
/// `on_truncated` hears of it, so a sink that looks at the counters sees it counted, and
/// ends the read, so the slab is sized again before the next frame.
fn read_packed(
    dev: &Netdev,
    shared: &Shared,
    tap: &Tap,
    slab: &mut [u8],
    stride: usize,
    lens: &mut [u32],
    on_truncated: &mut impl FnMut(usize, usize),
) -> Result<Packed> {
    let mut p = Packed::default();
    while p.frames < lens.len() {
        // p.bytes <= p.frames * stride, so this stays within lens.len() * stride.
        match tap.recv(&mut slab[p.bytes..p.bytes + stride]) {
            Ok(Some(len)) => {
                if p.first_read.is_none() {
                    p.first_read = Some(SystemTime::now());
                }
                lens[p.frames] = len as u32;
                p.frames += 1;
                p.bytes += len;
            }
            Ok(None) => break,
            Err(Error::Truncated { len, capacity }) => {
                p.truncated += 1;
                shared.truncated.fetch_add(1, SeqCst);
                dev.count_rx_dropped(1);
                on_truncated(len, capacity);
                // The MTU may have grown: stop here, so the caller sizes the slab again
                // before reading on (the next frames would be cut the same way).
                break;
            }
            // Report what was read; the error comes back on the next read.
            Err(_) if p.frames > 0 || p.truncated > 0 => break,
            Err(e) => return Err(e),
        }
    }
    Ok(p)
}

fn stride_of(tap: &Tap) -> usize {
    tap.rx_capacity().unwrap_or(frame::MAX_FRAME)
}

/// The burst read, the one function both wake modes call: the [`Reader`]'s thread after
/// `poll` says the device is readable, and a consumer that watches the descriptor itself
/// (an event loop) when it is told so. It owns the reused slab, reads as many frames as
/// the burst and the byte budget allow, and does the accounting: frames read count as the
/// port's `rx_packets`/`rx_bytes` and as outstanding bytes (until
/// [`ReaderHandle::release`]d), truncated frames as the reader's
/// [`truncated`](ReaderHandle::truncated) and the port's `rx_dropped`, a failed read as
/// `rx_errors`. After a truncation the slab is sized again (for the current MTU) before
/// the next read.
///
/// Its [`handle`](BurstReader::handle) steers it like a [`Reader`]'s: `pause` and the
/// byte budget make [`BurstReader::can_read`] false; the consumer is expected to stop
/// watching the descriptor meanwhile (there is no thread to wake).
///
/// ```no_run
/// use pltap_core::netdev::{Allocator, Netdev, NetdevOptions};
/// use pltap_core::reader::{BurstReader, ReaderOptions};
/// use pltap_core::Mode;
/// use std::sync::Arc;
///
/// let dev = Arc::new(Netdev::open(NetdevOptions { allocator: Allocator::Direct { ifname: None }, mode: Mode::Tap, packet_info: None, offload: None })?);
/// let mut reader = BurstReader::new(dev, ReaderOptions { max_batch: 64, max_bytes: 1 << 20, max_pending: 1 })?;
/// // ... when an event loop says `reader.fd()` is readable:
/// if reader.can_read() {
///     if let Some(burst) = reader.read_burst(|len, cap| eprintln!("{len}-byte frame > {cap}"))? {
///         println!("{} frames at {:?}", burst.lengths.len(), burst.timestamp);
///         let bytes = burst.data.len();
///         reader.handle().release(bytes); // done with them
///     }
/// }
/// # Ok::<(), pltap_core::Error>(())
/// ```
#[derive(Debug)]
pub struct BurstReader {
    dev: Arc<Netdev>,
    tap: Arc<Tap>,
    shared: Arc<Shared>,
    stride: usize,
    frames: usize,
    slab: Vec<u8>,
    lens: Vec<u32>,
    /// A frame was truncated: size the slab again before the next read.
    resize: bool,
    /// Offload devices: frames read with their headers into a packed slab with room for a
    /// super-frame at every read ([`vnet::VnetSlab`]) instead of `slab`.
    vslab: Option<vnet::VnetSlab>,
}

impl BurstReader {
    /// A burst reader of `dev`'s device with `opts` (`max_pending` is not used: the
    /// caller delivers each burst before it reads the next), sized for the current MTU.
    /// It holds the device open until dropped.
    ///
    /// Errors: [`Error::Closed`] for a closed port.
    pub fn new(dev: Arc<Netdev>, opts: ReaderOptions) -> Result<BurstReader> {
        let tap = dev.live_tap()?;
        Ok(BurstReader::with_shared(dev, tap, Arc::new(Shared::new(None, opts))))
    }

    fn with_shared(dev: Arc<Netdev>, tap: Arc<Tap>, shared: Arc<Shared>) -> BurstReader {
        if let Some(state) = dev.offload() {
            let opts = &shared.opts;
            let vslab = vnet::VnetSlab::new(state, tap.mode(), tap.vnet_header_size(), opts.max_bytes.min(4 << 20));
            let (stride, frames) = (vnet::MAX_SUPER_FRAME, opts.max_batch);
            let lens = Vec::new();
            return BurstReader {
                dev,
                tap,
                shared,
                stride,
                frames,
                slab: Vec::new(),
                lens,
                resize: false,
                vslab: Some(vslab),
            };
        }
        let stride = stride_of(&tap);
        let frames = slab_frames(stride, &shared.opts);
        let lens = vec![0u32; shared.opts.max_batch];
        BurstReader {
            dev,
            tap,
            shared,
            stride,
            frames,
            slab: vec![0u8; frames * stride],
            lens,
            resize: false,
            vslab: None,
        }
    }

    /// A handle to steer it (pause, release, counters).
    pub fn handle(&self) -> ReaderHandle {
        ReaderHandle(self.shared.clone())
    }

    /// The device's descriptor, to watch for readability.
    pub fn fd(&self) -> BorrowedFd<'_> {
        self.tap.fd()
    }

    /// The device, which owns [`BurstReader::fd`] (a watcher keeps it to hold the
    /// descriptor open for as long as it watches).
    pub fn tap(&self) -> &Arc<Tap> {
        &self.tap
    }

    /// Frames the next burst may read: none while the byte budget leaves less than a frame.
    fn cap(&self) -> usize {
        if self.vslab.is_some() {
            // A read needs room for a whole super-frame under the budget (or nothing held).
            let (outstanding, opts) = (self.shared.outstanding.load(SeqCst), &self.shared.opts);
            let room = opts.max_bytes.saturating_sub(outstanding) >= self.stride;
            return if outstanding == 0 || room { opts.max_batch } else { 0 };
        }
        burst_cap(self.shared.outstanding.load(SeqCst), self.stride, &self.shared.opts, self.frames)
    }

    /// Whether a read now may take frames: not paused, and the byte budget leaves room
    /// for a frame (releasing bytes or resuming makes it true again).
    pub fn can_read(&self) -> bool {
        !self.shared.paused.load(SeqCst) && !self.shared.stop.load(SeqCst) && self.cap() > 0
    }

    /// Reads one burst: up to the batch (and what the byte budget leaves) frames, until
    /// the kernel's queue is empty. `Ok(None)` when no frame was read (nothing queued, no
    /// room in the budget, or only a truncated frame, which `on_truncated(len, capacity)`
    /// heard of). The burst's bytes count as outstanding from now on.
    ///
    /// Errors: the failed read (counted as `rx_errors`), e.g. `EBADFD` once the device is
    /// gone; frames read before it are delivered first and the error comes on the next call.
    pub fn read_burst(&mut self, mut on_truncated: impl FnMut(usize, usize)) -> Result<Option<Burst<'_>>> {
        if self.resize {
            // The MTU may have grown: size the slab again.
            self.resize = false;
            self.stride = stride_of(&self.tap);
            self.frames = slab_frames(self.stride, &self.shared.opts);
            self.slab = vec![0u8; self.frames * self.stride];
        }
        let cap = self.cap();
        if cap == 0 {
            return Ok(None);
        }
        let (dev, shared) = (&*self.dev, &*self.shared);
        if let Some(v) = self.vslab.as_mut() {
            let room = shared.opts.max_bytes.saturating_sub(shared.outstanding.load(SeqCst));
            let read = v.read(&self.tap, &dev.vnet_counters, room, cap, |len, capacity| {
                shared.truncated.fetch_add(1, SeqCst);
                dev.count_rx_dropped(1);
                on_truncated(len, capacity);
            });
            let read = match read {
                Ok(r) => r,
                Err(e) => {
                    dev.count_rx_error();
                    return Err(e);
                }
            };
            let (Some(timestamp), n) = (read.first_read, v.lengths().len()) else { return Ok(None) };
            if n == 0 {
                return Ok(None);
            }
            dev.count_rx(n as u64, v.data().len() as u64);
            shared.outstanding.fetch_add(v.data().len(), SeqCst);
            return Ok(Some(Burst { data: v.data(), lengths: v.lengths(), timestamp, vnet: v.vnet() }));
        }
        let read =
            read_packed(dev, shared, &self.tap, &mut self.slab, self.stride, &mut self.lens[..cap], &mut on_truncated);
        let burst = match read {
            Ok(burst) => burst,
            Err(e) => {
                dev.count_rx_error();
                return Err(e);
            }
        };
        self.resize = burst.truncated > 0;
        let Some(timestamp) = burst.first_read.filter(|_| burst.frames > 0) else { return Ok(None) };
        dev.count_rx(burst.frames as u64, burst.bytes as u64);
        shared.outstanding.fetch_add(burst.bytes, SeqCst);
        Ok(Some(Burst { data: &self.slab[..burst.bytes], lengths: &self.lens[..burst.frames], timestamp, vnet: None }))
    }
}

fn run(reader: &mut BurstReader, shared: &Shared, sink: &mut impl Sink) -> Result<()> {
    let opts = &shared.opts;
    let mut rev = [0i16; 2];
    sink.started();
    while !shared.stop.load(SeqCst) {
        shared.bytes_blocked.store(true, SeqCst);
        let cap = reader.cap();
        if cap > 0 {
            shared.bytes_blocked.store(false, SeqCst);
        }
        let blocked = cap == 0 || shared.paused.load(SeqCst) || shared.pending.load(SeqCst) >= opts.max_pending;
        // Held (shared) while polling; `stop()` takes the eventfd only after joining us.
        let wake_guard = shared.wake.read().unwrap_or_else(|p| p.into_inner());
        let Some(wake) = wake_guard.as_ref() else { return Ok(()) };
        let wait_on: &[_] = if blocked {
            &[(wake.as_fd(), sys::POLLIN)]
        } else {
            &[(wake.as_fd(), sys::POLLIN), (reader.fd(), sys::POLLIN)]
        };
        rev[1] = 0;
        sys::poll(wait_on, &mut rev, -1).map_err(|e| Error::os("poll", "poll", e))?;
        if rev[0] != 0 {
            let mut b = [0u8; 8];
            let _ = (&*wake).read(&mut b);
            continue;
        }
        drop(wake_guard);
        if rev[1] == 0 {
            continue;
        }
        // The pending count goes up before the sink can hand the burst on (and the
        // consumer acknowledge it).
        let Some(burst) = reader.read_burst(|len, capacity| sink.truncated(len, capacity))? else { continue };
        shared.pending.fetch_add(1, SeqCst);
        if sink.burst(burst).is_break() {
            return Ok(());
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn options_are_normalized() {
        let o = ReaderOptions { max_batch: 0, max_bytes: 10, max_pending: 0 }.normalized();
        assert_eq!(o, ReaderOptions { max_batch: 1, max_bytes: frame::MAX_FRAME, max_pending: 1 });
        let o = ReaderOptions { max_batch: 1 << 20, max_bytes: usize::MAX, max_pending: usize::MAX }.normalized();
        assert_eq!((o.max_batch, o.max_bytes, o.max_pending), (MAX_BATCH, usize::MAX, usize::MAX));
    }

    #[test]
    fn the_slab_fits_a_batch_within_the_budget() {
        let o = ReaderOptions { max_batch: 256, max_bytes: 4 << 20, max_pending: 4 }.normalized();
        assert_eq!(slab_frames(1518, &o), 256, "the batch is the limit");
        assert_eq!(slab_frames(65535, &o), 64, "the budget is the limit");
        let tight = ReaderOptions { max_batch: 256, max_bytes: 0, max_pending: 4 }.normalized();
        assert_eq!(slab_frames(65535, &tight), 1, "one largest frame always fits");
        let unbounded = ReaderOptions::default().normalized();
        assert_eq!(slab_frames(65535, &unbounded), 64, "no budget: the batch");
        // A burst never exceeds the slab, nor takes the outstanding bytes past the budget.
        for outstanding in [0, 1, 1518, 100_000, (4 << 20) - 1518, 4 << 20, 5 << 20] {
            for stride in [64, 1518, 9018, 65535] {
                let frames = slab_frames(stride, &o);
                let cap = burst_cap(outstanding, stride, &o, frames);
                assert!(cap <= frames && cap <= o.max_batch, "{outstanding} {stride}");
                assert!(cap == 0 || outstanding + cap * stride <= o.max_bytes, "{outstanding} {stride}");
                assert!(outstanding != 0 || cap >= 1, "nothing outstanding: at least one frame");
            }
        }
        // A slab sized for a small stride caps the burst even if the budget allows more.
        assert_eq!(burst_cap(0, 64, &o, 10), 10);
    }

    #[test]
    fn a_packed_burst_has_its_frames_lengths_and_headers_at_the_layouts_offsets() {
        let data: Vec<u8> = (1..=7).collect();
        let vnet: Vec<u8> = (100..120).collect();
        let burst = Burst { data: &data, lengths: &[3, 4], timestamp: std::time::UNIX_EPOCH, vnet: Some(&vnet) };
        let mut out = vec![0xee; 3]; // cleared first
        let layout = burst.pack_into(&mut out);
        assert_eq!(layout, PackedLayout { data_len: 7, count: 2, vnet: true });
        assert_eq!((layout.lengths_at(), layout.vnet_at(), layout.total()), (8, 16, 36));
        let mut want = data.clone();
        want.push(0); // padding
        want.extend_from_slice(&3u32.to_ne_bytes());
        want.extend_from_slice(&4u32.to_ne_bytes());
        want.extend_from_slice(&vnet);
        assert_eq!(out, want);
        // Without headers, and with data already aligned: no padding, nothing after the lengths.
        let burst = Burst { data: &data[..4], lengths: &[4], timestamp: std::time::UNIX_EPOCH, vnet: None };
        let layout = burst.pack_into(&mut out);
        assert_eq!((layout.lengths_at(), layout.total()), (4, 8));
        let mut want = data[..4].to_vec();
        want.extend_from_slice(&4u32.to_ne_bytes());
        assert_eq!(out, want);
    }
}
