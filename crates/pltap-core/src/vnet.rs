//! Offload on a device: what [`crate::netdev::Netdev`] does with virtio-net headers.
//!
//! The byte work (header codec, validation, checksum completion, splitting, coalescing) is
//! [`crate::offload`]'s; this module is the device side (offload.md §4.1-4.5):
//!
//! * **negotiation** ([`negotiate`]): `TUNSETOFFLOAD` probed from the richest wanted set
//!   downwards, set explicitly after every attach, and `TUNSETOFFLOAD 0` when offload is
//!   off ([`clear`]), because the set is device-wide and survives a re-attach (§1.7);
//! * **header I/O** on a [`Tap`] ([`Tap::recv_vnet`], [`Tap::send_vnet`]): one `readv` /
//!   `writev` of `[tun_pi][vnet header][frame]` (§1.8);
//! * **receive** ([`RxVnet`]): super-frames split natively (`deliver: 'split'`) or passed
//!   on with their header (`deliver: 'super'`);
//! * **send** ([`TxVnet`]): every header from the user validated for the whole burst before
//!   the first byte is written; plain batches coalesced; a kernel `EINVAL` on a validated
//!   GSO write answered by splitting and resending.
//!
//! ```no_run
//! use pltap_core::netdev::{Allocator, Netdev, NetdevOptions};
//! use pltap_core::vnet::OffloadOptions;
//! use pltap_core::Mode;
//! let dev = Netdev::open(NetdevOptions {
//!     allocator: Allocator::Direct { ifname: None },
//!     mode: Mode::Tap,
//!     packet_info: None,
//!     offload: Some(OffloadOptions::default()),
//! })?;
//! let state = dev.offload().expect("negotiated");
//! assert_eq!(state.header_size, 10);
//! assert!(state.granted.csum());
//! # Ok::<(), pltap_core::Error>(())
//! ```

use crate::error::{Errno, Error, OffloadMissing, Result};
use crate::frame::{self, TUN_PI_LEN, TunPi};
use crate::offload::{self, L2, L4Proto, Layout, Limits, VnetError, VnetHdr};
use crate::sys::vnet as k;
use crate::tap::Tap;
use std::cell::RefCell;
use std::io::{self, IoSlice, IoSliceMut, Read, Write};
use std::sync::atomic::{AtomicU64, Ordering::Relaxed};

mod tx;

pub use tx::GsoKind;

/// Size of the legacy `struct virtio_net_hdr`: what pltap sets and what every
/// header handed to or taken from JavaScript is.
pub use crate::offload::VNET_HDR_LEN;

/// The largest frame on an offload device: a 64 KiB IP super-packet behind an Ethernet
/// header with two VLAN tags, rounded up (offload.md Appendix A).
pub const MAX_SUPER_FRAME: usize = crate::offload::MAX_FRAME;

/// A `TUNSETOFFLOAD` set (`TUN_F_*` bits).
///
/// ```
/// use pltap_core::vnet::OffloadFlags;
/// let f = OffloadFlags::TSO;
/// assert!(f.csum() && f.tso4() && f.tso6() && f.tso_ecn() && !f.uso());
/// assert_eq!(f.bits(), 0x0f);
/// ```
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct OffloadFlags(u32);

impl OffloadFlags {
    /// Nothing: frames arrive complete and at most MTU-sized.
    pub const NONE: OffloadFlags = OffloadFlags(0);
    /// `CSUM`: partial checksums.
    pub const CSUM: OffloadFlags = OffloadFlags(k::TUN_F_CSUM);
    /// `CSUM|TSO4|TSO6|TSO_ECN`: TCP super-frames.
    pub const TSO: OffloadFlags = OffloadFlags(k::TUN_F_CSUM | k::TUN_F_TSO4 | k::TUN_F_TSO6 | k::TUN_F_TSO_ECN);
    /// `CSUM|TSO4|TSO6`: TCP super-frames without ECN.
    pub const TSO_NO_ECN: OffloadFlags = OffloadFlags(k::TUN_F_CSUM | k::TUN_F_TSO4 | k::TUN_F_TSO6);
    /// `USO4|USO6`: UDP super-datagrams (add to a set with `CSUM`).
    pub const USO: OffloadFlags = OffloadFlags(k::TUN_F_USO4 | k::TUN_F_USO6);

    /// The `TUN_F_*` bits.
    pub const fn bits(self) -> u32 {
        self.0
    }
    /// From `TUN_F_*` bits.
    pub const fn from_bits(bits: u32) -> OffloadFlags {
        OffloadFlags(bits)
    }
    /// Both sets.
    pub const fn union(self, other: OffloadFlags) -> OffloadFlags {
        OffloadFlags(self.0 | other.0)
    }
    /// `TUN_F_CSUM`.
    pub fn csum(self) -> bool {
        self.0 & k::TUN_F_CSUM != 0
    }
    /// `TUN_F_TSO4`.
    pub fn tso4(self) -> bool {
        self.0 & k::TUN_F_TSO4 != 0
    }
    /// `TUN_F_TSO6`.
    pub fn tso6(self) -> bool {
        self.0 & k::TUN_F_TSO6 != 0
    }
    /// `TUN_F_TSO_ECN`.
    pub fn tso_ecn(self) -> bool {
        self.0 & k::TUN_F_TSO_ECN != 0
    }
    /// `TUN_F_USO4|TUN_F_USO6` (the kernel grants them only together).
    pub fn uso(self) -> bool {
        self.0 & k::TUN_F_USO4 != 0 && self.0 & k::TUN_F_USO6 != 0
    }
}

/// What the kernel may hand over (`OffloadOptions.rx` in JS).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum RxOffload {
    /// `CSUM` only: frames ≤ MTU, partial checksums.
    Csum,
    /// `CSUM|TSO4|TSO6|TSO_ECN` (the default; ECN dropped if refused).
    #[default]
    Tso,
    /// `Tso` plus `USO4|USO6`.
    TsoUso,
}

/// How received super-frames reach the consumer.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum Deliver {
    /// Split natively into complete MTU-sized frames with valid checksums (the default:
    /// today's receive contract).
    #[default]
    Split,
    /// As the kernel gave them, each with its 10-byte header (pass-through).
    Super,
}

/// Partial checksums of non-GSO frames with `deliver: Super`.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum ChecksumMode {
    /// Finished natively, `NEEDS_CSUM` cleared (the default).
    #[default]
    Complete,
    /// Left partial, `NEEDS_CSUM` kept.
    Partial,
}

/// Which plain batches are coalesced into GSO writes.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum Coalesce {
    /// Never.
    Off,
    /// TCP trains (the default).
    #[default]
    Tcp,
    /// TCP and UDP trains.
    TcpUdp,
}

/// What to do when the kernel, the helper or the descriptor cannot do offload.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum Fallback {
    /// Fail the open with [`Error::OffloadUnsupported`] (the default).
    #[default]
    Error,
    /// Open without offload.
    Plain,
}

/// `NetdevOptions.offload` (offload.md §4.1).
///
/// ```
/// use pltap_core::vnet::{Deliver, OffloadOptions};
/// let pass_through = OffloadOptions { deliver: Deliver::Super, ..OffloadOptions::default() };
/// # let _ = pass_through;
/// ```
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct OffloadOptions {
    /// What the kernel may hand over.
    pub rx: RxOffload,
    /// How super-frames reach the consumer.
    pub deliver: Deliver,
    /// Partial checksums of non-GSO frames (`Super` only; `Split` always completes).
    pub checksum: ChecksumMode,
    /// Coalescing of plain batches.
    pub coalesce: Coalesce,
    /// When offload is not available.
    pub fallback: Fallback,
}

/// What an offload device negotiated (`dev.offload` in JS).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct OffloadState {
    /// The vnet header size on the descriptor (10 unless an adopted device says otherwise).
    pub header_size: usize,
    /// What `TUNSETOFFLOAD` granted.
    pub granted: OffloadFlags,
    /// How super-frames reach the consumer.
    pub deliver: Deliver,
    /// Partial checksums of non-GSO frames.
    pub checksum: ChecksumMode,
    /// Coalescing of plain batches.
    pub coalesce: Coalesce,
}

/// The counters of an offload device.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct OffloadCounters {
    /// GSO super-frames received.
    pub super_frames: u64,
    /// Frames the split produced from them.
    pub segments: u64,
    /// Received frames whose header or headers did not parse: dropped and counted.
    pub malformed: u64,
    /// Validated GSO writes the kernel refused (`EINVAL`) and pltap split and resent.
    pub gso_fallbacks: u64,
    /// GSO writes the coalescer formed.
    pub coalesced: u64,
    /// Plain frames that went into them.
    pub coalesced_segments: u64,
}

#[derive(Debug, Default)]
pub(crate) struct AtomicOffloadCounters {
    pub super_frames: AtomicU64,
    pub segments: AtomicU64,
    pub malformed: AtomicU64,
    pub gso_fallbacks: AtomicU64,
    pub coalesced: AtomicU64,
    pub coalesced_segments: AtomicU64,
}

impl AtomicOffloadCounters {
    pub(crate) fn snapshot(&self) -> OffloadCounters {
        OffloadCounters {
            super_frames: self.super_frames.load(Relaxed),
            segments: self.segments.load(Relaxed),
            malformed: self.malformed.load(Relaxed),
            gso_fallbacks: self.gso_fallbacks.load(Relaxed),
            coalesced: self.coalesced.load(Relaxed),
            coalesced_segments: self.coalesced_segments.load(Relaxed),
        }
    }
}

/// The sets tried for `rx`, richest first, and the least the open accepts.
fn candidates(rx: RxOffload) -> (&'static [OffloadFlags], OffloadFlags) {
    const CSUM: &[OffloadFlags] = &[OffloadFlags::CSUM];
    const TSO: &[OffloadFlags] = &[OffloadFlags::TSO, OffloadFlags::TSO_NO_ECN];
    const USO: &[OffloadFlags] = &[
        OffloadFlags::TSO.union(OffloadFlags::USO),
        OffloadFlags::TSO_NO_ECN.union(OffloadFlags::USO),
        OffloadFlags::TSO,
        OffloadFlags::TSO_NO_ECN,
    ];
    match rx {
        RxOffload::Csum => (CSUM, OffloadFlags::CSUM),
        RxOffload::Tso => (TSO, OffloadFlags::TSO_NO_ECN),
        RxOffload::TsoUso => (USO, OffloadFlags::TSO_NO_ECN.union(OffloadFlags::USO)),
    }
}

/// What a wanted set lacks, named as in `err.missing` (`'csum'`, `'tso4'`, ...).
fn missing(want: OffloadFlags, have: OffloadFlags) -> Vec<String> {
    let lacks = |bit: u32| want.0 & bit != 0 && have.0 & bit == 0;
    let mut m = Vec::new();
    for (bit, name) in [
        (k::TUN_F_CSUM, "csum"),
        (k::TUN_F_TSO4, "tso4"),
        (k::TUN_F_TSO6, "tso6"),
        (k::TUN_F_TSO_ECN, "tsoEcn"),
        (k::TUN_F_USO4, "uso"),
    ] {
        if lacks(bit) {
            m.push(name.to_string());
        }
    }
    m
}

/// Sets the richest `TUNSETOFFLOAD` set of `opts.rx` the kernel accepts on `tap` (which
/// has `IFF_VNET_HDR`) and returns the state. Fails with
/// [`Error::OffloadUnsupported`] (`reason: kernel`) when even the least acceptable set is
/// refused, unless `opts.fallback` is `Plain`: then the device keeps what was granted
/// (possibly nothing) and the state says so.
pub fn negotiate(tap: &Tap, opts: &OffloadOptions) -> Result<OffloadState> {
    let (sets, least) = candidates(opts.rx);
    let mut granted = None;
    let mut last_err = None;
    for set in sets {
        match tap.set_offload(set.bits()) {
            Ok(()) => {
                granted = Some(*set);
                break;
            }
            Err(e) if e.is_errno(libc::EINVAL) => last_err = Some(e),
            Err(e) => return Err(e),
        }
    }
    let granted = match granted {
        Some(g) if g.0 & least.0 == least.0 => g,
        // The framing is fixed at TUNSETIFF: keep it, with what the kernel granted.
        other if opts.fallback == Fallback::Plain => other.unwrap_or_else(|| {
            clear(tap);
            OffloadFlags::NONE
        }),
        other => {
            clear(tap);
            return Err(Error::OffloadUnsupported {
                reason: OffloadMissing::Kernel,
                missing: missing(least, other.unwrap_or_default()),
                detail: format!(
                    "the kernel refused TUNSETOFFLOAD on {}{}",
                    tap.name(),
                    last_err.map(|e| format!(" ({e})")).unwrap_or_default()
                ),
            });
        }
    };
    Ok(OffloadState {
        header_size: tap.vnet_header_size(),
        granted,
        deliver: opts.deliver,
        checksum: opts.checksum,
        coalesce: opts.coalesce,
    })
}

/// `TUNSETOFFLOAD 0`: for a device opened without offload. The set is device-wide and
/// survives a re-attach, so a persistent or adopted device may still carry someone
/// else's TSO, which would hand 64 KiB frames to a reader that expects MTU frames
/// (offload.md §1.7, Appendix B 9-10). Best effort: a descriptor that refuses it is left
/// as it is (today's behaviour).
pub fn clear(tap: &Tap) {
    let _ = tap.set_offload(0);
}

thread_local! {
    /// Takes the part of an oversized frame that does not fit the caller's buffer (see
    /// [`Tap::recv`]): without room past it a cut frame would look like one that fits.
    static OVERFLOW: RefCell<Vec<u8>> = const { RefCell::new(Vec::new()) };
    /// A header buffer of the device's header size, for reads that discard the header.
    static HEADER: RefCell<Vec<u8>> = const { RefCell::new(Vec::new()) };
}

/// Runs `f` with a scratch header buffer of `size` bytes (this thread's).
pub(crate) fn with_header_scratch<T>(size: usize, f: impl FnOnce(&mut [u8]) -> T) -> T {
    HEADER.with_borrow_mut(|h| {
        if h.len() < size {
            h.resize(size, 0);
        }
        f(&mut h[..size])
    })
}

impl Tap {
    /// Reads one frame with its vnet header (`IFF_VNET_HDR` descriptors): the header into
    /// `hdr` (the device's header size, [`Tap::vnet_header_size`]; only its first 10
    /// bytes mean anything), the frame into `buf`. `Ok(None)` when nothing is queued.
    ///
    /// Errors as [`Tap::recv`]: [`Error::Truncated`] when the frame was larger than `buf`
    /// (size `buf` for [`MAX_SUPER_FRAME`] with TSO on); `EIO` for a read shorter than the
    /// header.
    pub fn recv_vnet(&self, hdr: &mut [u8], buf: &mut [u8]) -> Result<Option<usize>> {
        debug_assert!(hdr.len() == self.vnet_header_size());
        let mut pi = [0u8; TUN_PI_LEN];
        let res = OVERFLOW.with_borrow_mut(|overflow| {
            if overflow.len() < MAX_SUPER_FRAME {
                overflow.resize(MAX_SUPER_FRAME, 0);
            }
            let mut file = self.file();
            if self.packet_info() {
                file.read_vectored(&mut [
                    IoSliceMut::new(&mut pi),
                    IoSliceMut::new(hdr),
                    IoSliceMut::new(buf),
                    IoSliceMut::new(overflow),
                ])
            } else {
                file.read_vectored(&mut [IoSliceMut::new(hdr), IoSliceMut::new(buf), IoSliceMut::new(overflow)])
            }
        });
        let n = match res {
            Ok(n) => n,
            Err(e) if e.kind() == io::ErrorKind::WouldBlock => return Ok(None),
            Err(e) => return Err(Error::os(format!("read {}", self.name()), "read", e)),
        };
        let prefix = hdr.len() + if self.packet_info() { TUN_PI_LEN } else { 0 };
        if n < prefix {
            return Err(Error::os(
                format!("read {}: shorter than tun_pi and the vnet header", self.name()),
                "read",
                io::Error::from_raw_os_error(libc::EIO),
            ));
        }
        let len = n - prefix;
        let stripped = self.packet_info() && TunPi::new_unchecked(&pi[..]).truncated();
        if stripped || len > buf.len() {
            return Err(Error::Truncated { len, capacity: buf.len() });
        }
        Ok(Some(len))
    }

    /// Writes one frame behind the 10-byte vnet header `hdr` (zero-padded to the device's
    /// header size, behind `tun_pi` if the descriptor has it). `Ok(false)` on `EAGAIN`.
    /// The header is written as given: validate it first (the kernel's own checks are weak,
    /// offload.md §1.6); [`crate::netdev::Netdev::send_packed_vnet`] does.
    ///
    /// Errors as [`Tap::send`]; `EINVAL` when the kernel refuses the header.
    pub fn send_vnet(&self, hdr: &[u8; VNET_HDR_LEN], frame: &[u8]) -> Result<bool> {
        if frame.is_empty() || frame.len() > MAX_SUPER_FRAME {
            return Err(Error::invalid("frame", format!("length {} is not in 1..={MAX_SUPER_FRAME}", frame.len())));
        }
        let pad = self.vnet_pad();
        let pi = frame::tx_header(frame, self.mode());
        let mut iov = [IoSlice::new(&[]), IoSlice::new(hdr), IoSlice::new(&pad), IoSlice::new(frame)];
        if self.packet_info() {
            iov[0] = IoSlice::new(&pi);
        }
        self.write_frame_iov(&iov)
    }
}

impl Tap {
    /// The zero bytes between the 10-byte header and the frame when the device's header
    /// size is larger (borrowed for up to 64, allocated past that).
    fn vnet_pad(&self) -> std::borrow::Cow<'static, [u8]> {
        const ZEROS: [u8; 64] = [0; 64];
        let pad_len = self.vnet_header_size().saturating_sub(VNET_HDR_LEN);
        if pad_len <= ZEROS.len() { std::borrow::Cow::Borrowed(&ZEROS[..pad_len]) } else { vec![0u8; pad_len].into() }
    }

    /// One `writev` of a whole frame (its headers included): `Ok(false)` on `EAGAIN`, a short
    /// write as `EMSGSIZE` (the tun driver takes a frame whole or not at all).
    fn write_frame_iov(&self, iov: &[IoSlice<'_>]) -> Result<bool> {
        let total: usize = iov.iter().map(|s| s.len()).sum();
        match self.file().write_vectored(iov) {
            Ok(n) if n == total => Ok(true),
            Ok(n) => Err(Error::errno(
                format!("write {}: partial write of {n} of {total} bytes", self.name()),
                "write",
                Errno::from_raw(libc::EMSGSIZE),
            )),
            Err(e) if e.kind() == io::ErrorKind::WouldBlock => Ok(false),
            Err(e) => Err(Error::os(format!("write {}", self.name()), "write", e)),
        }
    }

    /// Writes `parts` (one frame, in pieces) behind `hdr`, like [`Tap::send_vnet`].
    pub(crate) fn send_vnet_parts(&self, hdr: &[u8; VNET_HDR_LEN], parts: &[&[u8]]) -> Result<bool> {
        let len: usize = parts.iter().map(|p| p.len()).sum();
        if len == 0 || len > MAX_SUPER_FRAME {
            return Err(Error::invalid("frame", format!("length {len} is not in 1..={MAX_SUPER_FRAME}")));
        }
        let pad = self.vnet_pad();
        let first = parts.iter().find(|p| !p.is_empty()).copied().unwrap_or(&[]);
        let pi = if self.packet_info() {
            // The proto field comes from the frame's first bytes; they sit in the first part.
            frame::tx_header(first, self.mode())
        } else {
            [0; TUN_PI_LEN]
        };
        let mut iov: Vec<IoSlice<'_>> = Vec::with_capacity(parts.len() + 3);
        if self.packet_info() {
            iov.push(IoSlice::new(&pi));
        }
        iov.push(IoSlice::new(hdr));
        iov.push(IoSlice::new(&pad));
        iov.extend(parts.iter().map(|p| IoSlice::new(p)));
        self.write_frame_iov(&iov)
    }
}

/// The L2 of a device's frames.
pub fn l2_of(mode: crate::Mode) -> L2 {
    match mode {
        crate::Mode::Tap => L2::Ethernet,
        crate::Mode::Tun => L2::Ip,
    }
}

/// Frames of a split super-frame waiting for [`crate::netdev::Netdev::recv`].
#[derive(Debug, Default)]
pub struct Pending {
    data: Vec<u8>,
    lens: Vec<u32>,
    next: usize,
    at: usize,
}

impl Pending {
    /// The next waiting frame, if any.
    pub(crate) fn pop(&mut self) -> Option<Vec<u8>> {
        let len = *self.lens.get(self.next)? as usize;
        let frame = self.data.get(self.at..self.at + len)?.to_vec();
        self.next += 1;
        self.at += len;
        if self.next == self.lens.len() {
            self.clear();
        }
        Some(frame)
    }

    fn clear(&mut self) {
        self.data.clear();
        self.lens.clear();
        self.next = 0;
        self.at = 0;
    }
}

/// What the receive side does with one frame read with its header.
#[derive(Debug)]
pub(crate) enum Taken {
    /// Deliver `frame` as read (possibly completed in place), with this header.
    AsIs(VnetHdr),
    /// A super-frame: split it (`deliver: Split`).
    Split(VnetHdr),
    /// Malformed: dropped and counted.
    Dropped,
}

/// Decides what happens to a frame read with header bytes `hdr_bytes` (offload.md §4.2):
/// a non-GSO `NEEDS_CSUM` frame is completed in place (always for `Split`, with
/// `checksum: Complete` for `Super`); a GSO frame is split (`Split`) or passed on with
/// `hdr_len` set to the exact parsed header length (`Super`). A frame whose headers do not
/// parse is dropped and counted as malformed.
pub(crate) fn take(
    state: &OffloadState,
    l2: L2,
    hdr_bytes: &[u8],
    frame: &mut [u8],
    c: &AtomicOffloadCounters,
) -> Taken {
    let Ok(mut hdr) = VnetHdr::decode(hdr_bytes) else {
        c.malformed.fetch_add(1, Relaxed);
        return Taken::Dropped;
    };
    // DATA_VALID is informational; nothing to do for a plain frame.
    if !hdr.needs_csum() && !hdr.is_gso() {
        hdr.hdr_len = 0;
        return Taken::AsIs(hdr);
    }
    let layout = match offload::parse(&hdr, frame, l2) {
        Ok(l) => l,
        Err(_) => {
            c.malformed.fetch_add(1, Relaxed);
            return Taken::Dropped;
        }
    };
    if hdr.is_gso() {
        c.super_frames.fetch_add(1, Relaxed);
        if state.deliver == Deliver::Split {
            return Taken::Split(hdr);
        }
        hdr.hdr_len = layout.payload_offset as u16;
        return Taken::AsIs(hdr);
    }
    let complete = state.deliver == Deliver::Split || state.checksum == ChecksumMode::Complete;
    if complete && offload::complete_checksum(&mut hdr, frame, l2).is_err() {
        c.malformed.fetch_add(1, Relaxed);
        return Taken::Dropped;
    }
    hdr.hdr_len = layout.payload_offset as u16;
    Taken::AsIs(hdr)
}

/// The receive slab of an offload device's reader: frames packed back to back, with a
/// high-water rule (a read starts only where a whole super-frame still fits, offload.md
/// §4.3 "Reader buffers"), their lengths, and (`deliver: Super`) their headers.
#[derive(Debug)]
pub(crate) struct VnetSlab {
    state: OffloadState,
    l2: L2,
    slab: Vec<u8>,
    used: usize,
    lens: Vec<u32>,
    vnet: Vec<u8>,
    hdr: Vec<u8>,
    seg: Vec<u8>,
    seg_lens: Vec<u32>,
}

/// What one [`VnetSlab::read`] stored, in the reader's terms.
#[derive(Debug, Default)]
pub(crate) struct VnetRead {
    /// Frames read from the device (before splitting).
    pub reads: usize,
    /// Bytes read.
    pub read_bytes: usize,
    /// Frames too large for the buffer (never with a 64 KiB+ buffer), discarded.
    pub truncated: usize,
    /// When the first read returned (the burst's receive timestamp).
    pub first_read: Option<std::time::SystemTime>,
}

impl VnetSlab {
    /// A slab of about `bytes` (at least two super-frames).
    pub(crate) fn new(state: OffloadState, mode: crate::Mode, header_size: usize, bytes: usize) -> VnetSlab {
        let size = bytes.clamp(2 * MAX_SUPER_FRAME, 4 << 20);
        VnetSlab {
            state,
            l2: l2_of(mode),
            slab: vec![0; size],
            used: 0,
            lens: Vec::with_capacity(256),
            vnet: Vec::with_capacity(256 * VNET_HDR_LEN),
            hdr: vec![0; header_size],
            seg: Vec::new(),
            seg_lens: Vec::new(),
        }
    }

    /// The frames of the last read.
    pub(crate) fn data(&self) -> &[u8] {
        &self.slab[..self.used]
    }

    /// Their lengths.
    pub(crate) fn lengths(&self) -> &[u32] {
        &self.lens
    }

    /// Their headers (`deliver: Super`), 10 bytes each.
    pub(crate) fn vnet(&self) -> Option<&[u8]> {
        (self.state.deliver == Deliver::Super).then_some(&self.vnet[..])
    }

    /// Reads frames until the queue is empty, `max_frames` frames are stored, or less
    /// than a super-frame of room is left in the first `room` bytes of the slab.
    /// `truncated(len, capacity)` hears of a discarded frame (already counted by the
    /// caller's accounting through the returned count).
    pub(crate) fn read(
        &mut self,
        tap: &Tap,
        counters: &AtomicOffloadCounters,
        room: usize,
        max_frames: usize,
        mut truncated: impl FnMut(usize, usize),
    ) -> Result<VnetRead> {
        self.used = 0;
        self.lens.clear();
        self.vnet.clear();
        let room = room.clamp(MAX_SUPER_FRAME, self.slab.len());
        let mut r = VnetRead::default();
        while self.lens.len() < max_frames && room - self.used >= MAX_SUPER_FRAME {
            let at = self.used;
            let got = tap.recv_vnet(&mut self.hdr, &mut self.slab[at..at + MAX_SUPER_FRAME]);
            let len = match got {
                Ok(Some(len)) => len,
                Ok(None) => break,
                Err(Error::Truncated { len, capacity }) => {
                    r.truncated += 1;
                    truncated(len, capacity);
                    continue;
                }
                Err(_) if r.reads > 0 || r.truncated > 0 => break,
                Err(e) => return Err(e),
            };
            r.reads += 1;
            r.read_bytes += len;
            if r.first_read.is_none() {
                r.first_read = Some(std::time::SystemTime::now());
            }
            let frame = &mut self.slab[at..at + len];
            match take(&self.state, self.l2, &self.hdr, frame, counters) {
                Taken::Dropped => {}
                Taken::AsIs(hdr) => {
                    self.used += len;
                    self.lens.push(len as u32);
                    if self.state.deliver == Deliver::Super {
                        self.vnet.extend_from_slice(&hdr.to_bytes());
                    }
                }
                Taken::Split(hdr) => {
                    self.seg.clear();
                    self.seg_lens.clear();
                    match offload::split(&hdr, frame, self.l2, &mut self.seg, &mut self.seg_lens) {
                        Ok(n) => {
                            counters.segments.fetch_add(n as u64, Relaxed);
                            let end = at + self.seg.len();
                            if end > self.slab.len() {
                                // Tiny segments of a huge super-frame: grow (rare).
                                self.slab.resize(end + MAX_SUPER_FRAME, 0);
                            }
                            self.slab[at..end].copy_from_slice(&self.seg);
                            self.used = end;
                            self.lens.extend_from_slice(&self.seg_lens);
                        }
                        Err(_) => {
                            counters.malformed.fetch_add(1, Relaxed);
                        }
                    }
                    if self.slab.len() - self.used < MAX_SUPER_FRAME {
                        break;
                    }
                }
            }
        }
        Ok(r)
    }
}

/// Reads one frame for [`crate::netdev::Netdev::recv`] on an offload device: splits a
/// super-frame into `pending` and returns its first segment.
pub(crate) fn recv_one(
    tap: &Tap,
    state: &OffloadState,
    counters: &AtomicOffloadCounters,
    buf: &mut [u8],
    pending: &mut Pending,
) -> Result<Option<Result<Vec<u8>>>> {
    if let Some(f) = pending.pop() {
        return Ok(Some(Ok(f)));
    }
    let l2 = l2_of(tap.mode());
    with_header_scratch(tap.vnet_header_size(), |hdr| {
        loop {
            let len = match tap.recv_vnet(hdr, buf) {
                Ok(Some(len)) => len,
                Ok(None) => return Ok(None),
                Err(e) => return Ok(Some(Err(e))),
            };
            let frame = &mut buf[..len];
            match take(state, l2, hdr, frame, counters) {
                Taken::Dropped => continue,
                Taken::AsIs(_) => return Ok(Some(Ok(frame.to_vec()))),
                Taken::Split(h) => {
                    pending.clear();
                    match offload::split(&h, frame, l2, &mut pending.data, &mut pending.lens) {
                        Ok(n) => {
                            counters.segments.fetch_add(n as u64, Relaxed);
                            if let Some(f) = pending.pop() {
                                return Ok(Some(Ok(f)));
                            }
                        }
                        Err(_) => {
                            counters.malformed.fetch_add(1, Relaxed);
                        }
                    }
                }
            }
        }
    })
}

/// The folded pseudo-header seed a `NEEDS_CSUM` frame must carry in its L4 checksum field.
fn seed(frame: &[u8], layout: &Layout, proto: u8) -> Option<u16> {
    let l3 = layout.l3_offset;
    let (src, dst) = if layout.ipv6 {
        (frame.get(l3 + 8..l3 + 24)?, frame.get(l3 + 24..l3 + 40)?)
    } else {
        (frame.get(l3 + 12..l3 + 16)?, frame.get(l3 + 16..l3 + 20)?)
    };
    let l4_len = u32::try_from(layout.ip_end.checked_sub(layout.l4_offset)?).ok()?;
    Some(offload::fold(offload::pseudo_header_sum(src, dst, proto, l4_len)))
}

/// One validated frame of a burst: its header to write, and where its seed must be put
/// if the frame's own is stale.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Checked {
    pub hdr: [u8; VNET_HDR_LEN],
    /// `(offset of the checksum field, seed)` when the field differs from the seed.
    pub fix: Option<(usize, [u8; 2])>,
    pub gso: bool,
}

/// Validates header `hdr` against `frame` for writing (offload.md §4.5): the header to write
/// gets `hdr_len` = the exact header length, and a stale pseudo-header seed is noted (it is
/// put into the write, not into the caller's memory).
pub(crate) fn check_for_write(
    mut hdr: VnetHdr,
    frame: &[u8],
    l2: L2,
    limits: &Limits,
    index: usize,
) -> Result<Checked> {
    let layout = offload::validate(&hdr, frame, l2, limits).map_err(|error| Error::VnetHdr { frame: index, error })?;
    let mut fix = None;
    if hdr.needs_csum() || hdr.is_gso() {
        hdr.hdr_len = layout.payload_offset as u16;
        let proto = match layout.l4 {
            L4Proto::Tcp => 6,
            L4Proto::Udp => 17,
            _ => 0,
        };
        if hdr.needs_csum() && proto != 0 {
            let field = usize::from(hdr.csum_start) + usize::from(hdr.csum_offset);
            if let (Some(want), Some(have)) = (seed(frame, &layout, proto), frame.get(field..field + 2)) {
                let want = want.to_be_bytes();
                if have != want {
                    fix = Some((field, want));
                }
            }
        }
    }
    Ok(Checked { hdr: hdr.to_bytes(), fix, gso: hdr.is_gso() })
}

/// Writes one checked frame. `Ok(false)` on `EAGAIN`.
pub(crate) fn write_checked(tap: &Tap, c: &Checked, frame: &[u8]) -> Result<bool> {
    match c.fix {
        None => tap.send_vnet(&c.hdr, frame),
        Some((at, seed)) => tap.send_vnet_parts(&c.hdr, &[&frame[..at], &seed, &frame[at + 2..]]),
    }
}

/// The header [`crate::netdev::Netdev::send_gso`] writes for a super-frame the user built:
/// filled in from the frame's own headers, so it is correct by construction.
pub(crate) fn gso_header(
    frame: &[u8],
    l2: L2,
    udp: bool,
    segment_size: u16,
) -> std::result::Result<VnetHdr, VnetError> {
    let layout = offload::parse(&VnetHdr::NONE, frame, l2)?;
    let (gso_type, csum_offset) = match (layout.l4, udp, layout.ipv6) {
        (L4Proto::Tcp, false, false) => (offload::GSO_TCPV4, 16),
        (L4Proto::Tcp, false, true) => (offload::GSO_TCPV6, 16),
        (L4Proto::Udp, true, _) => (offload::GSO_UDP_L4, 6),
        (l4, _, _) => {
            let value = match l4 {
                L4Proto::Tcp => 6,
                L4Proto::Udp => 17,
                L4Proto::Other(p) => u64::from(p),
                L4Proto::None => 0,
            };
            return Err(VnetError::new(
                offload::VnetReason::GsoType,
                value,
                "the frame's L4 protocol does not match the gso kind (TCP for 'tcp', UDP for 'udp')",
            ));
        }
    };
    Ok(VnetHdr {
        flags: offload::F_NEEDS_CSUM,
        gso_type,
        hdr_len: layout.payload_offset as u16,
        gso_size: segment_size,
        csum_start: layout.l4_offset as u16,
        csum_offset,
    })
}
