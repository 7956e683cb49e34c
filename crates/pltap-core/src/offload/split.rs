//! Segmentation of GSO super-frames (offload.md §2.7 "Split"), the kernel's
//! `tcp_gso_segment` / `__udp_gso_segment` / `inet_gso_segment` semantics for frames that
//! start with an Ethernet header (TAP) or with IP (TUN).

use super::csum::{add, fold, pseudo_header_sum, sum};
use super::validate::{IPPROTO_TCP, IPPROTO_UDP, TCP_CWR, TCP_FIN, TCP_PSH, addresses, complete_checksum, parse};
use super::{L2, L4Proto, VnetError, VnetHdr, VnetReason, be16, be32, put16, put32};

fn short(len: usize) -> VnetError {
    VnetError::new(VnetReason::Length, len as u64, "the frame ends inside its headers")
}

/// Splits a GSO super-frame into complete frames with full checksums, appending each to
/// `out` (a packed slab) and its length to `lens`; returns the segment count.
///
/// The super-frame is first checked as [`parse`] does (the read-side rules: the kernel's
/// frames are trusted no further than that). Each segment `i` of `n` gets the headers
/// `[0, hdr_len)` of the super-frame (VLAN tags included) and `gso_size` bytes of payload
/// (the last one the rest), with: IPv4 total length, ID + i (mod 2^16) and a fresh header
/// checksum; IPv6 payload length; TCP sequence + i·gso_size (mod 2^32), FIN and PSH only
/// on the last segment, CWR only on the first; UDP length; the L4 checksum computed in full
/// from a pseudo-header with the segment's own length (UDP: 0 sent as 0xFFFF). Trailing
/// bytes after the IP packet are dropped. A non-GSO frame is copied as it is, with its
/// checksum completed if `NEEDS_CSUM`. Nothing is appended on error.
///
/// ```
/// use pltap_core::offload::{split, VnetHdr, L2};
/// // An IPv4/UDP super-datagram of 3000 bytes in 1000-byte datagrams (USO).
/// let mut f = vec![0u8; 20 + 8 + 3000];
/// f[0] = 0x45; f[2..4].copy_from_slice(&3028u16.to_be_bytes()); f[8] = 64; f[9] = 17;
/// f[12..20].copy_from_slice(&[198, 18, 0, 1, 198, 18, 0, 2]);
/// f[24..26].copy_from_slice(&3008u16.to_be_bytes());
/// let h = VnetHdr { flags: 1, gso_type: 5, hdr_len: 28, gso_size: 1000, csum_start: 20, csum_offset: 6 };
/// let (mut out, mut lens) = (Vec::new(), Vec::new());
/// assert_eq!(split(&h, &f, L2::Ip, &mut out, &mut lens).unwrap(), 3);
/// assert_eq!(lens, [1028, 1028, 1028]);
/// ```
pub fn split(hdr: &VnetHdr, frame: &[u8], l2: L2, out: &mut Vec<u8>, lens: &mut Vec<u32>) -> Result<usize, VnetError> {
    let mark = out.len();
    let marks = lens.len();
    let r = split_inner(hdr, frame, l2, out, lens);
    if r.is_err() {
        out.truncate(mark);
        lens.truncate(marks);
    }
    r
}

fn push_len(lens: &mut Vec<u32>, n: usize) -> Result<(), VnetError> {
    lens.push(u32::try_from(n).map_err(|_| short(n))?);
    Ok(())
}

fn split_inner(
    hdr: &VnetHdr,
    frame: &[u8],
    l2: L2,
    out: &mut Vec<u8>,
    lens: &mut Vec<u32>,
) -> Result<usize, VnetError> {
    if !hdr.is_gso() {
        let start = out.len();
        out.extend_from_slice(frame);
        if hdr.needs_csum() {
            let mut h = *hdr;
            let copy = out.get_mut(start..).ok_or(short(frame.len()))?;
            complete_checksum(&mut h, copy, l2)?;
        }
        push_len(lens, frame.len())?;
        return Ok(1);
    }
    let lay = parse(hdr, frame, l2)?;
    let (l3, l4, hl, end) = (lay.l3_offset, lay.l4_offset, lay.payload_offset, lay.ip_end);
    let tcp = lay.l4 == L4Proto::Tcp;
    let g = usize::from(hdr.gso_size);
    let headers = frame.get(..hl).ok_or(short(frame.len()))?;
    let payload = frame.get(hl..end).ok_or(short(frame.len()))?;
    let n = payload.len().div_ceil(g);
    let (src, dst) = addresses(frame, &lay).ok_or(short(frame.len()))?;
    let proto = if tcp { IPPROTO_TCP } else { IPPROTO_UDP };
    // The address part of the pseudo-header, once per super-frame.
    let addr_sum = pseudo_header_sum(src, dst, proto, 0);
    let first_id = if lay.ipv6 { 0 } else { be16(frame, l3 + 4).ok_or(short(frame.len()))? };
    let first_seq = if tcp { be32(frame, l4 + 4).ok_or(short(frame.len()))? } else { 0 };
    let csum_at = if tcp { 16 } else { 6 };
    out.reserve(n * hl + payload.len());
    for (i, chunk) in payload.chunks(g).enumerate() {
        let start = out.len();
        out.extend_from_slice(headers);
        out.extend_from_slice(chunk);
        let seg = out.get_mut(start..).ok_or(short(frame.len()))?;
        let seg_len = seg.len();
        let l4_len = seg_len - l4;
        let last = i + 1 == n;
        patch(seg, &lay, l3, l4, i, last, first_id, first_seq, g, l4_len).ok_or(short(frame.len()))?;
        // L4 checksum over the segment's own L4 bytes, field zeroed.
        put16(seg, l4 + csum_at, 0).ok_or(short(frame.len()))?;
        let acc = add(addr_sum, l4_len as u64);
        let mut c = !fold(sum(seg.get(l4..).unwrap_or(&[]), acc));
        if !tcp && c == 0 {
            c = 0xffff;
        }
        put16(seg, l4 + csum_at, c).ok_or(short(frame.len()))?;
        push_len(lens, seg_len)?;
    }
    Ok(n)
}

/// Rewrites one segment's per-segment header fields (all but the L4 checksum).
#[allow(clippy::too_many_arguments)]
fn patch(
    seg: &mut [u8],
    lay: &super::Layout,
    l3: usize,
    l4: usize,
    i: usize,
    last: bool,
    first_id: u16,
    first_seq: u32,
    g: usize,
    l4_len: usize,
) -> Option<()> {
    let ip_len = seg.len().checked_sub(l3)?;
    if lay.ipv6 {
        put16(seg, l3 + 4, u16::try_from(ip_len.checked_sub(40)?).ok()?)?;
    } else {
        put16(seg, l3 + 2, u16::try_from(ip_len).ok()?)?;
        // The ID increments per segment, modulo 2^16 (inet_gso_segment; a virtio header
        // cannot ask for a fixed ID).
        put16(seg, l3 + 4, first_id.wrapping_add(u16::try_from(i & 0xffff).ok()?))?;
        put16(seg, l3 + 10, 0)?;
        let c = !fold(sum(seg.get(l3..l4)?, 0));
        put16(seg, l3 + 10, c)?;
    }
    if lay.l4 == L4Proto::Tcp {
        // i < 65536 and g < 65536, so i·g fits 32 bits; the sequence wraps mod 2^32.
        let step = u32::try_from(i.checked_mul(g)?).ok()?;
        put32(seg, l4 + 4, first_seq.wrapping_add(step))?;
        let flags = seg.get_mut(l4 + 13)?;
        if !last {
            *flags &= !(TCP_FIN | TCP_PSH);
        }
        if i > 0 {
            *flags &= !TCP_CWR;
        }
    } else {
        put16(seg, l4 + 4, u16::try_from(l4_len).ok()?)?;
    }
    Some(())
}
