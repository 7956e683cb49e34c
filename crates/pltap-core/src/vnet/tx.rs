//! The send paths of an offload device: [`Netdev::send_packed_vnet`] (pass-through),
//! [`Netdev::send_gso`] (one super-frame the user built) and the coalescing
//! `send_packed` of plain batches.

use super::{Checked, OffloadState, check_for_write, gso_header, l2_of, write_checked};
use crate::error::{Error, Result};
use crate::netdev::Netdev;
use crate::offload::{self, Coalescer, L2, Limits, VNET_HDR_LEN, VnetHdr};
use crate::tap::Tap;
use std::sync::atomic::Ordering::Relaxed;

/// What `send_gso` is told the super-frame is.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum GsoKind {
    /// TCP segmentation (`GSO_TCPV4` / `GSO_TCPV6` from the IP version).
    Tcp,
    /// UDP segmentation (`GSO_UDP_L4`; needs `rx: TsoUso`, i.e. USO granted).
    Udp,
}

impl Netdev {
    fn offload_or_invalid(&self, what: &'static str) -> Result<OffloadState> {
        self.offload().ok_or_else(|| Error::invalid(what, "the device was opened without offload"))
    }

    fn limits(&self, tap: &Tap, state: &OffloadState) -> Limits {
        let mtu = self.mtu_for_offload(tap);
        Limits { mtu, allow_uso: state.granted.uso() }
    }

    /// Writes frames packed in `data` (frame `i` is `lengths[i]` bytes) each behind its
    /// 10-byte virtio-net header in `vnet` (`vnet[10 i..10 i + 10]`): the pass-through of
    /// another offload device's `deliver: Super` reads. Every header is validated against
    /// its frame **before the first byte of the burst is written** (offload.md §4.5): a bad
    /// one is [`Error::VnetHdr`] naming the frame, and nothing is written. The header
    /// written has `hdr_len` exact and, for `NEEDS_CSUM`, a fresh pseudo-header seed is put
    /// into the write when the frame's own is stale (the caller's memory is not changed).
    ///
    /// Returns how many frames were written (the kernel queue may fill). A validated GSO
    /// write the kernel still refuses (`EINVAL`, a kernel quirk) is split natively and its
    /// segments written as plain frames (counted in `gso_fallbacks`).
    ///
    /// ```no_run
    /// # fn f(a: &pltap_core::netdev::Netdev, b: &pltap_core::netdev::Netdev, data: &[u8], lens: &[u32], vnet: &[u8]) -> pltap_core::Result<()> {
    /// let sent = b.send_packed_vnet(data, lens, vnet)?;
    /// # let _ = (a, sent); Ok(()) }
    /// ```
    pub fn send_packed_vnet(&self, data: &[u8], lengths: &[u32], vnet: &[u8]) -> Result<usize> {
        let state = self.offload_or_invalid("vnet")?;
        if vnet.len() != lengths.len() * VNET_HDR_LEN {
            return Err(Error::invalid(
                "vnet",
                format!(
                    "it holds {} bytes; {} frames need {}",
                    vnet.len(),
                    lengths.len(),
                    lengths.len() * VNET_HDR_LEN
                ),
            ));
        }
        let total: u64 = lengths.iter().map(|l| u64::from(*l)).sum();
        if total != data.len() as u64 {
            return Err(Error::invalid("lengths", format!("they add up to {total}, not {}", data.len())));
        }
        let tap = self.live_tap()?;
        let l2 = l2_of(tap.mode());
        let limits = self.limits(&tap, &state);
        // Validate the whole burst first: a bad burst writes nothing.
        let mut checked: Vec<Checked> = Vec::with_capacity(lengths.len());
        let mut at = 0usize;
        for (i, len) in lengths.iter().enumerate() {
            let len = *len as usize;
            let frame = data.get(at..at + len).ok_or_else(|| Error::invalid("lengths", "they run past the data"))?;
            let hdr = VnetHdr::decode(&vnet[i * VNET_HDR_LEN..(i + 1) * VNET_HDR_LEN])
                .map_err(|error| Error::VnetHdr { frame: i, error })?;
            checked.push(check_for_write(hdr, frame, l2, &limits, i)?);
            at += len;
        }
        let mut at = 0usize;
        let (mut sent, mut bytes) = (0usize, 0u64);
        let mut failure = None;
        for (c, len) in checked.iter().zip(lengths) {
            let len = *len as usize;
            let frame = &data[at..at + len];
            match write_checked(&tap, c, frame) {
                Ok(true) => {}
                Ok(false) => {
                    self.count_tx_dropped();
                    break;
                }
                Err(e) if c.gso && e.is_errno(libc::EINVAL) => {
                    // The kernel refused a header pltap validated: split and resend.
                    self.vnet_counters.gso_fallbacks.fetch_add(1, Relaxed);
                    if let Err(e) = self.resend_split(&tap, c, frame, l2) {
                        failure = Some(e);
                        break;
                    }
                }
                Err(e) => {
                    self.count_tx_error();
                    failure = Some(e);
                    break;
                }
            }
            sent += 1;
            bytes += len as u64;
            at += len;
        }
        self.count_tx(sent as u64, bytes);
        match failure {
            Some(e) if sent == 0 => Err(e),
            _ => Ok(sent),
        }
    }

    /// Splits a validated super-frame the kernel refused and writes its segments plain.
    fn resend_split(&self, tap: &Tap, c: &Checked, frame: &[u8], l2: L2) -> Result<()> {
        let hdr = VnetHdr::decode(&c.hdr).map_err(|error| Error::VnetHdr { frame: 0, error })?;
        let mut owned;
        let frame = match c.fix {
            None => frame,
            Some((at, seed)) => {
                owned = frame.to_vec();
                owned[at..at + 2].copy_from_slice(&seed);
                &owned[..]
            }
        };
        let (mut out, mut lens) = (Vec::new(), Vec::new());
        offload::split(&hdr, frame, l2, &mut out, &mut lens).map_err(|error| Error::VnetHdr { frame: 0, error })?;
        let mut at = 0usize;
        for len in lens {
            let seg = &out[at..at + len as usize];
            // A full queue here loses the rest of the super-frame, as a full queue would.
            if !tap.send_vnet(&[0; VNET_HDR_LEN], seg)? {
                self.count_tx_dropped();
                break;
            }
            at += len as usize;
        }
        Ok(())
    }

    /// Writes one super-frame the user built (its IP length, L4 lengths and so on cover
    /// the whole super-packet), with a virtio-net header pltap fills in from the frame's
    /// own headers: `NEEDS_CSUM`, `csum_start`/`csum_offset` at the parsed L4 header,
    /// `hdr_len` exact, `gso_type` from the IP version and `kind`, `gso_size` =
    /// `segment_size`; correct by construction, then validated like every header. The
    /// kernel segments it (on the way to a socket or another device).
    ///
    /// Errors: [`Error::VnetHdr`] (`frame: 0`) for a frame that does not parse or does not
    /// fit the device's MTU; `Ok(false)` when the kernel queue is full.
    ///
    /// ```no_run
    /// use pltap_core::vnet::GsoKind;
    /// # fn f(dev: &pltap_core::netdev::Netdev, super_frame: &[u8]) -> pltap_core::Result<()> {
    /// dev.send_gso(super_frame, GsoKind::Tcp, 1448)?;
    /// # Ok(()) }
    /// ```
    pub fn send_gso(&self, frame: &[u8], kind: GsoKind, segment_size: u16) -> Result<bool> {
        let state = self.offload_or_invalid("gso")?;
        let tap = self.live_tap()?;
        let l2 = l2_of(tap.mode());
        let limits = self.limits(&tap, &state);
        let hdr = gso_header(frame, l2, kind == GsoKind::Udp, segment_size)
            .map_err(|error| Error::VnetHdr { frame: 0, error })?;
        let c = check_for_write(hdr, frame, l2, &limits, 0)?;
        match write_checked(&tap, &c, frame) {
            Ok(true) => {
                self.count_tx(1, frame.len() as u64);
                Ok(true)
            }
            Ok(false) => {
                self.count_tx_dropped();
                Ok(false)
            }
            Err(e) if e.is_errno(libc::EINVAL) => {
                self.vnet_counters.gso_fallbacks.fetch_add(1, Relaxed);
                self.resend_split(&tap, &c, frame, l2)?;
                self.count_tx(1, frame.len() as u64);
                Ok(true)
            }
            Err(e) => {
                self.count_tx_error();
                Err(e)
            }
        }
    }

    /// `send_packed` of plain frames with coalescing on (see [`Netdev::send_packed`]).
    pub(crate) fn send_coalesced(&self, state: &OffloadState, data: &[u8], lengths: &[u32]) -> Result<usize> {
        let total: u64 = lengths.iter().map(|l| u64::from(*l)).sum();
        if total != data.len() as u64 {
            return Err(Error::invalid("lengths", format!("they add up to {total}, not {}", data.len())));
        }
        if let Some(i) = lengths.iter().position(|l| *l == 0 || *l as usize > crate::frame::MAX_FRAME) {
            return Err(Error::invalid(
                "frame",
                format!("frame {i}: length {} is not in 1..={}", lengths[i], crate::frame::MAX_FRAME),
            ));
        }
        let tap = self.live_tap()?;
        let l2 = l2_of(tap.mode());
        let mut limits = self.limits(&tap, state);
        limits.allow_uso = limits.allow_uso && state.coalesce == super::Coalesce::TcpUdp;
        let mut co = Coalescer::new(l2, limits);
        let (mut sent, mut bytes) = (0usize, 0u64);
        let mut failure: Option<Error> = None;
        let mut full = false;
        let result = co.coalesce(data, lengths, |hdr, frame| {
            if full || failure.is_some() {
                return Err(std::io::Error::from(std::io::ErrorKind::WouldBlock));
            }
            let segments = if hdr.is_gso() && hdr.gso_size > 0 {
                let payload = frame.len().saturating_sub(usize::from(hdr.hdr_len));
                payload.div_ceil(usize::from(hdr.gso_size)).max(1)
            } else {
                1
            };
            let wire = hdr.to_bytes();
            // The bytes of the plain frames it stands for: each repeats the headers.
            let payload_bytes = (frame.len() + (segments - 1) * usize::from(hdr.hdr_len)) as u64;
            let outcome = match tap.send_vnet(&wire, frame) {
                Err(e) if hdr.is_gso() && e.is_errno(libc::EINVAL) => {
                    self.vnet_counters.gso_fallbacks.fetch_add(1, Relaxed);
                    let c = Checked { hdr: wire, fix: None, gso: true };
                    self.resend_split(&tap, &c, frame, l2).map(|_| true)
                }
                other => other,
            };
            match outcome {
                Ok(true) => {
                    if hdr.is_gso() {
                        self.vnet_counters.coalesced.fetch_add(1, Relaxed);
                        self.vnet_counters.coalesced_segments.fetch_add(segments as u64, Relaxed);
                    }
                    sent += segments;
                    bytes += payload_bytes;
                    Ok(())
                }
                Ok(false) => {
                    full = true;
                    Err(std::io::Error::from(std::io::ErrorKind::WouldBlock))
                }
                Err(e) => {
                    failure = Some(e);
                    Err(std::io::Error::other("write failed"))
                }
            }
        });
        drop(result);
        if full {
            self.count_tx_dropped();
        }
        if failure.is_some() {
            self.count_tx_error();
        }
        self.count_tx(sent as u64, bytes);
        match failure {
            Some(e) if sent == 0 => Err(e),
            _ => Ok(sent.min(lengths.len())),
        }
    }
}
