//! Write-side GRO: merging consecutive TCP (and, opt-in, UDP) segments of one flow into
//! GSO super-frames (offload.md §2.7 "Coalesce"), under rules no looser than the kernel's
//! own GRO (`tcp_gro_receive`, `inet_gro_flush`, `ipv6_gro_flush`).

use super::csum::{fold, pseudo_header_sum, sum};
use super::validate::{
    ETH_P_IP, ETH_P_IPV6, IPPROTO_TCP, IPPROTO_UDP, Ip, TCP_ACK, TCP_CWR, TCP_ECE, TCP_FIN, TCP_PSH, TCP_RST, TCP_SYN,
    TCP_URG, l4_header_len, parse_ip, parse_l2, seed,
};
use super::{
    F_NEEDS_CSUM, GSO_TCPV4, GSO_TCPV6, GSO_UDP_L4, L2, L4Proto, Layout, Limits, MAX_COALESCE_SEGMENTS, MAX_FRAME,
    VnetHdr, be16, be32, put16,
};
use std::io;

/// How many flows may have a train open at once; a further flow closes the oldest train.
const MAX_OPEN: usize = 16;
const NONE: usize = usize::MAX;
/// `TCP_MIN_GSO_SIZE`: the kernel raises a smaller TCP `gso_size` to this.
const TCP_MIN_GSO_SIZE: usize = 8;

/// A flow: IP version, protocol, addresses and ports.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
struct Key {
    v6: bool,
    proto: u8,
    addrs: [u8; 32],
    ports: [u8; 4],
}

/// A frame that may join a train: parsed, checksums verified, flags acceptable.
#[derive(Clone, Copy, Debug)]
struct Cand {
    lay: Layout,
    payload: usize,
    seq: u32,
    flags: u8,
    id: u16,
    df: bool,
}

#[derive(Clone, Copy, Debug)]
struct Frame {
    off: usize,
    len: usize,
    key: Option<Key>,
    cand: Option<Cand>,
    next: usize,
}

#[derive(Clone, Copy, Debug)]
struct Train {
    head: usize,
    last: usize,
    count: usize,
    payload: usize,
    /// The head's payload length: the train's `gso_size`.
    gso: usize,
    /// IPv4 IDs: `None` until the second member decides, then `Some(true)` if all equal.
    id_fixed: Option<bool>,
}

/// Write-side GRO: push a burst of plain frames, get the writes to make, in order.
///
/// Consecutive TCP segments of one flow (and UDP datagrams, when [`Limits::allow_uso`])
/// are merged into one super-frame when all of these hold (offload.md §2.7, each no looser
/// than the kernel's GRO): identical L2 header bytes; IPv4 with a 20-byte header, not a
/// fragment, a valid header checksum, same TOS, TTL, DF and addresses, IDs +1 each (or
/// all equal with DF); IPv6 without extension headers, same traffic class, flow label and
/// hop limit; TCP with the same ports, ACK number, window, urgent pointer, data offset and
/// option bytes (timestamps included), flags exactly ACK (PSH and FIN allowed on the
/// frame that ends the train), no SYN/RST/URG/CWR/ECE, sequence = the previous end; UDP
/// with the same ports and no checksum-0 datagram; an L4 checksum that verifies and is in
/// its canonical form (so that splitting the result gives the frames back byte for byte);
/// every payload as long as the first except a shorter last one, which ends the train; at
/// most 64 segments and 65 535 bytes of IP; headers + first payload within the MTU; a TCP
/// first payload of at least 8 bytes (`TCP_MIN_GSO_SIZE`, below which the kernel would
/// change the segmentation).
///
/// A train is written as one super-frame: the first frame's headers with the lengths
/// updated, a fresh IPv4 header checksum (the first ID kept), PSH/FIN of the last frame,
/// the pseudo-header seed in the L4 checksum field, and a header with `NEEDS_CSUM`,
/// `TCPV4`/`TCPV6`/`UDP_L4` (never ECN), `gso_size` = the first payload length,
/// `csum_start` = the L4 offset, `csum_offset` 16/6, `hdr_len` exact. A train of one, and
/// every frame that is not a candidate, is written as it came with [`VnetHdr::NONE`].
/// Frames of one flow are never reordered; a frame that is not TCP/UDP over IP (ARP,
/// ICMP, fragments, anything unparsed) keeps its place relative to every other frame.
/// Nothing is kept between calls: each burst is written completely.
///
/// ```
/// use pltap_core::offload::{Coalescer, Limits, L2};
/// let mut c = Coalescer::new(L2::Ethernet, Limits::default());
/// let arp = [0u8; 42];
/// let mut writes = Vec::new();
/// c.coalesce(&arp, &[42], |h, f| { writes.push((*h, f.len())); Ok(()) }).unwrap();
/// assert_eq!(writes.len(), 1);
/// assert_eq!(writes[0].0, pltap_core::offload::VnetHdr::NONE);
/// ```
#[derive(Debug)]
pub struct Coalescer {
    l2: L2,
    limits: Limits,
    frames: Vec<Frame>,
    trains: Vec<Train>,
    open: Vec<(Key, usize)>,
    scratch: Vec<u8>,
}

impl Coalescer {
    /// A coalescer for frames of this kind and a device with these limits.
    pub fn new(l2: L2, limits: Limits) -> Self {
        Coalescer { l2, limits, frames: Vec::new(), trains: Vec::new(), open: Vec::new(), scratch: Vec::new() }
    }

    /// The limits it was made with.
    pub fn limits(&self) -> &Limits {
        &self.limits
    }

    /// Feeds a packed burst (`data` holds the frames back to back, `lens` their lengths);
    /// calls `emit(hdr, frame)` for each write to make, in order, and stops at the first
    /// error `emit` returns. Lengths that add up to more than `data` are an
    /// `InvalidInput` error before anything is emitted.
    pub fn coalesce(
        &mut self,
        data: &[u8],
        lens: &[u32],
        mut emit: impl FnMut(&VnetHdr, &[u8]) -> io::Result<()>,
    ) -> io::Result<()> {
        self.frames.clear();
        self.trains.clear();
        self.open.clear();
        let mut off = 0usize;
        for &len in lens {
            let len = usize::try_from(len).map_err(|_| bad_lens())?;
            let end = off.checked_add(len).filter(|&e| e <= data.len()).ok_or_else(bad_lens)?;
            let f = data.get(off..end).ok_or_else(bad_lens)?;
            let (key, cand) = classify(f, self.l2, &self.limits);
            self.frames.push(Frame { off, len, key, cand, next: NONE });
            off = end;
        }
        for k in 0..self.frames.len() {
            self.place(data, k);
        }
        let mut scratch = std::mem::take(&mut self.scratch);
        let r = self.emit_all(data, &mut scratch, &mut emit);
        self.scratch = scratch;
        r
    }

    /// Puts frame `k` into a train: the open one of its flow, or a new one.
    fn place(&mut self, data: &[u8], k: usize) {
        let Some(frame) = self.frames.get(k).copied() else { return };
        let Some(key) = frame.key else {
            // A barrier: nothing before it may be written after it.
            self.open.clear();
            self.new_train(k);
            return;
        };
        let slot = self.open.iter().position(|(q, _)| *q == key);
        if let (Some(c), Some(i)) = (frame.cand, slot) {
            let t = self.open.get(i).map(|&(_, t)| t).unwrap_or(NONE);
            if let Some(fixed) = self.can_merge(data, t, k, &c) {
                self.append(t, k, &c, fixed);
                let ends = c.payload < self.trains.get(t).map_or(0, |tr| tr.gso)
                    || (c.lay.l4 == L4Proto::Tcp && c.flags & (TCP_PSH | TCP_FIN) != 0)
                    || self.trains.get(t).is_some_and(|tr| tr.count >= MAX_COALESCE_SEGMENTS);
                if ends {
                    self.open.remove(i);
                }
                return;
            }
        }
        if let Some(i) = slot {
            self.open.remove(i);
        }
        let t = self.new_train(k);
        if let Some(c) = frame.cand {
            // The kernel raises a TCP gso_size below TCP_MIN_GSO_SIZE (8): such a train
            // would not come out as it went in, so it is not formed.
            let can_lead = c.lay.l4 == L4Proto::Udp || (c.flags == TCP_ACK && c.payload >= TCP_MIN_GSO_SIZE);
            if can_lead {
                if self.open.len() >= MAX_OPEN {
                    self.open.remove(0);
                }
                self.open.push((key, t));
            }
        }
    }

    fn new_train(&mut self, k: usize) -> usize {
        let gso = self.frames.get(k).and_then(|f| f.cand).map_or(0, |c| c.payload);
        self.trains.push(Train { head: k, last: k, count: 1, payload: gso, gso, id_fixed: None });
        self.trains.len() - 1
    }

    fn append(&mut self, t: usize, k: usize, c: &Cand, fixed: Option<bool>) {
        let Some(tr) = self.trains.get_mut(t) else { return };
        let last = tr.last;
        tr.last = k;
        tr.count += 1;
        tr.payload += c.payload;
        tr.id_fixed = fixed;
        if let Some(f) = self.frames.get_mut(last) {
            f.next = k;
        }
    }

    /// Whether frame `k` may join train `t`; `Some(id_fixed)` if so.
    fn can_merge(&self, data: &[u8], t: usize, k: usize, c: &Cand) -> Option<Option<bool>> {
        let tr = self.trains.get(t)?;
        let head = self.frames.get(tr.head)?;
        let h = head.cand?;
        let kf = self.frames.get(k)?;
        if tr.count >= MAX_COALESCE_SEGMENTS || c.payload > tr.gso {
            return None;
        }
        let (a, b) = (&h.lay, &c.lay);
        if a.l3_offset != b.l3_offset
            || a.l4_offset != b.l4_offset
            || a.payload_offset != b.payload_offset
            || a.ipv6 != b.ipv6
            || a.l4 != b.l4
        {
            return None;
        }
        let hf = data.get(head.off..head.off + head.len)?;
        let cf = data.get(kf.off..kf.off + kf.len)?;
        let (l3, l4, hl) = (a.l3_offset, a.l4_offset, a.payload_offset);
        let same = |r: std::ops::Range<usize>| -> bool {
            match (hf.get(r.clone()), cf.get(r)) {
                (Some(x), Some(y)) => x == y,
                _ => false,
            }
        };
        if !same(0..l3) {
            return None;
        }
        let mut fixed = tr.id_fixed;
        if a.ipv6 {
            // version/traffic class/flow label, next header/hop limit, addresses.
            if !same(l3..l3 + 4) || !same(l3 + 6..l3 + 40) {
                return None;
            }
        } else {
            // version/IHL/TOS, flags (DF) and fragment offset, TTL/protocol, addresses.
            if !same(l3..l3 + 2) || !same(l3 + 6..l3 + 10) || !same(l3 + 12..l3 + 20) {
                return None;
            }
            let count = u16::try_from(tr.count).ok()?;
            let inc = c.id == h.id.wrapping_add(count);
            let equal = c.id == h.id && h.df;
            fixed = match tr.id_fixed {
                None if inc => Some(false),
                None if equal => Some(true),
                Some(false) if inc => Some(false),
                Some(true) if equal => Some(true),
                _ => return None,
            };
        }
        if a.l4 == L4Proto::Tcp {
            // Ports; ACK, data offset; window; urgent pointer and options. Not the
            // sequence number, the flags or the checksum.
            if !same(l4..l4 + 4) || !same(l4 + 8..l4 + 13) || !same(l4 + 14..l4 + 16) || !same(l4 + 18..hl) {
                return None;
            }
            if h.flags != TCP_ACK || c.flags & !(TCP_PSH | TCP_FIN) != TCP_ACK {
                return None;
            }
            let want = h.seq.wrapping_add(u32::try_from(tr.payload).ok()?);
            if c.seq != want {
                return None;
            }
        } else if !same(l4..l4 + 4) {
            return None;
        }
        let ip_len = (hl - l3).checked_add(tr.payload)?.checked_add(c.payload)?;
        if ip_len > 65_535 {
            return None;
        }
        Some(fixed)
    }

    fn emit_all(
        &self,
        data: &[u8],
        scratch: &mut Vec<u8>,
        emit: &mut impl FnMut(&VnetHdr, &[u8]) -> io::Result<()>,
    ) -> io::Result<()> {
        for tr in &self.trains {
            let head = self.frames.get(tr.head).ok_or_else(internal)?;
            let hf = data.get(head.off..head.off + head.len).ok_or_else(internal)?;
            let (true, Some(h)) = (tr.count > 1, head.cand) else {
                emit(&VnetHdr::NONE, hf)?;
                continue;
            };
            let hdr = build(data, &self.frames, tr, &h, hf, scratch).ok_or_else(internal)?;
            emit(&hdr, scratch)?;
        }
        Ok(())
    }
}

/// Builds a train's super-frame in `out`; returns its header.
fn build(data: &[u8], frames: &[Frame], tr: &Train, h: &Cand, hf: &[u8], out: &mut Vec<u8>) -> Option<VnetHdr> {
    let lay = &h.lay;
    let (l3, l4, hl) = (lay.l3_offset, lay.l4_offset, lay.payload_offset);
    out.clear();
    out.reserve(hl + tr.payload);
    out.extend_from_slice(hf.get(..hl)?);
    let mut k = tr.head;
    let mut last_flags = 0u8;
    while k != NONE {
        let f = frames.get(k)?;
        out.extend_from_slice(data.get(f.off + hl..f.off + f.len)?);
        last_flags = f.cand?.flags;
        k = f.next;
    }
    let total = out.len();
    let ip_len = total.checked_sub(l3)?;
    if lay.ipv6 {
        put16(out, l3 + 4, u16::try_from(ip_len.checked_sub(40)?).ok()?)?;
    } else {
        put16(out, l3 + 2, u16::try_from(ip_len).ok()?)?;
        put16(out, l3 + 10, 0)?;
        let c = !fold(sum(out.get(l3..l4)?, 0));
        put16(out, l3 + 10, c)?;
    }
    let l4_len = total.checked_sub(l4)?;
    let (gso_type, csum_offset) = match lay.l4 {
        L4Proto::Tcp => {
            *out.get_mut(l4 + 13)? |= last_flags & (TCP_PSH | TCP_FIN);
            (if lay.ipv6 { GSO_TCPV6 } else { GSO_TCPV4 }, 16u16)
        }
        _ => {
            put16(out, l4 + 4, u16::try_from(l4_len).ok()?)?;
            (GSO_UDP_L4, 6u16)
        }
    };
    let s = seed(out, lay, l4_len)?;
    put16(out, l4 + usize::from(csum_offset), s)?;
    Some(VnetHdr {
        flags: F_NEEDS_CSUM,
        gso_type,
        hdr_len: u16::try_from(hl).ok()?,
        gso_size: u16::try_from(tr.gso).ok()?,
        csum_start: u16::try_from(l4).ok()?,
        csum_offset,
    })
}

fn bad_lens() -> io::Error {
    io::Error::new(io::ErrorKind::InvalidInput, "the frame lengths add up to more than the data")
}

fn internal() -> io::Error {
    io::Error::other("offload coalescer: inconsistent train (a bug in pltap)")
}

/// A frame's flow key (None: a barrier) and, if it may join a train, its candidate facts.
fn classify(f: &[u8], l2: L2, limits: &Limits) -> (Option<Key>, Option<Cand>) {
    let min = match l2 {
        L2::Ethernet => 14,
        L2::Ip => 20,
    };
    if f.len() < min || f.len() > MAX_FRAME {
        return (None, None);
    }
    let (l3, et, tags) = parse_l2(f, l2);
    if et != ETH_P_IP && et != ETH_P_IPV6 {
        return (None, None);
    }
    let Ok(ip) = parse_ip(f, l3, et) else { return (None, None) };
    if ip.proto != IPPROTO_TCP && ip.proto != IPPROTO_UDP {
        return (None, None);
    }
    let Some(key) = key_of(f, l3, &ip) else { return (None, None) };
    (Some(key), candidate(f, l3, et, tags, &ip, limits))
}

fn key_of(f: &[u8], l3: usize, ip: &Ip) -> Option<Key> {
    let mut addrs = [0u8; 32];
    if ip.ipv6 {
        addrs.copy_from_slice(f.get(l3 + 8..l3 + 40)?);
    } else {
        addrs.get_mut(..8)?.copy_from_slice(f.get(l3 + 12..l3 + 20)?);
    }
    let mut ports = [0u8; 4];
    ports.copy_from_slice(f.get(ip.l4..ip.l4 + 4).filter(|_| ip.l4 + 4 <= ip.end)?);
    Some(Key { v6: ip.ipv6, proto: ip.proto, addrs, ports })
}

fn candidate(f: &[u8], l3: usize, et: u16, tags: u8, ip: &Ip, limits: &Limits) -> Option<Cand> {
    if ip.end != f.len() {
        return None; // trailing bytes
    }
    let (id, df) = if ip.ipv6 {
        if ip.l4 != l3 + 40 {
            return None; // extension headers
        }
        (0, false)
    } else {
        if ip.l4 != l3 + 20 || fold(sum(f.get(l3..ip.l4)?, 0)) != 0xffff {
            return None; // options, or a bad header checksum
        }
        (be16(f, l3 + 4)?, be16(f, l3 + 6)? & 0x4000 != 0)
    };
    let l4_len = l4_header_len(f, ip).ok()?;
    let hl = ip.l4 + l4_len;
    let payload = ip.end - hl;
    if payload == 0 || (hl - l3 + payload) as u64 > u64::from(limits.mtu) {
        return None;
    }
    let tcp = ip.proto == IPPROTO_TCP;
    let (seq, flags) = if tcp {
        let flags = *f.get(ip.l4 + 13)?;
        if flags & (TCP_SYN | TCP_RST | TCP_URG | TCP_CWR | TCP_ECE) != 0 || flags & TCP_ACK == 0 {
            return None;
        }
        (be32(f, ip.l4 + 4)?, flags)
    } else {
        if !limits.allow_uso || be16(f, ip.l4 + 6)? == 0 {
            return None;
        }
        (0, 0)
    };
    let lay = Layout {
        l3_offset: l3,
        l4_offset: ip.l4,
        payload_offset: hl,
        ip_end: ip.end,
        ipv6: ip.ipv6,
        l4: if tcp { L4Proto::Tcp } else { L4Proto::Udp },
        vlan: tags > 0,
        vlan_tags: tags,
        ethertype: et,
    };
    // The checksum must verify and be the value a split would compute, so that splitting
    // the super-frame gives this frame back exactly.
    let at = ip.l4 + if tcp { 16 } else { 6 };
    let field = be16(f, at)?;
    let (src, dst) = super::validate::addresses(f, &lay)?;
    let acc = pseudo_header_sum(src, dst, ip.proto, u32::try_from(ip.end - ip.l4).ok()?);
    let all = sum(f.get(ip.l4..ip.end)?, acc);
    if fold(all) != 0xffff {
        return None;
    }
    // The sum without the field: adding the field's complement removes it.
    let mut want = !fold(super::csum::add(all, u64::from(!field)));
    if !tcp && want == 0 {
        want = 0xffff;
    }
    if want != field {
        return None;
    }
    Some(Cand { lay, payload, seq, flags, id, df })
}
