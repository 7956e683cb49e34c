//! Parsing a frame's headers and validating a virtio-net header against it
//! (offload.md §2.7 "Parse" and §4.5 V1..V8).

use super::csum::{fold, pseudo_header_sum, sum};
use super::{
    F_DATA_VALID, F_NEEDS_CSUM, GSO_ECN, GSO_NONE, GSO_TCPV4, GSO_TCPV6, GSO_UDP_L4, L2, L4Proto, Layout, Limits,
    MAX_FRAME, UDP_MAX_SEGMENTS, VnetHdr, be16, put16,
};
use std::fmt;

/// Why a header was refused: the rule of offload.md §4.5 that failed. [`VnetReason::as_str`]
/// is the `reason` of the JS `ERR_PLTAP_VNET_HDR` error.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum VnetReason {
    /// V1: the frame is shorter than an Ethernet (14) / IP (20) header, or longer than 65 600.
    Length,
    /// V2: a flag other than `NEEDS_CSUM`.
    Flags,
    /// V3/V6: an unknown or refused GSO type, or one that contradicts the packet.
    GsoType,
    /// V4: GSO without `NEEDS_CSUM`, a `gso_size` of 0 or 0xFFFF, or segments above the MTU.
    GsoSize,
    /// V5: `NEEDS_CSUM`/GSO on a non-IP frame, a malformed IP header, a fragment, trailing bytes.
    L3,
    /// V7: `csum_start` is not the parsed L4 offset.
    CsumStart,
    /// V7: `csum_offset` is not 16 (TCP) / 6 (UDP).
    CsumOffset,
    /// V8: a malformed TCP/UDP header, or SYN/RST on a GSO frame.
    L4,
}

impl VnetReason {
    /// The reason's JS name: `"length"`, `"flags"`, `"gsoType"`, `"gsoSize"`, `"l3"`,
    /// `"csumStart"`, `"csumOffset"`, `"l4"`.
    ///
    /// ```
    /// use pltap_core::offload::VnetReason;
    /// assert_eq!(VnetReason::CsumStart.as_str(), "csumStart");
    /// ```
    pub fn as_str(self) -> &'static str {
        match self {
            VnetReason::Length => "length",
            VnetReason::Flags => "flags",
            VnetReason::GsoType => "gsoType",
            VnetReason::GsoSize => "gsoSize",
            VnetReason::L3 => "l3",
            VnetReason::CsumStart => "csumStart",
            VnetReason::CsumOffset => "csumOffset",
            VnetReason::L4 => "l4",
        }
    }

    /// The rule of offload.md §4.5 (`"V1 length"`, ...).
    pub fn rule(self) -> &'static str {
        match self {
            VnetReason::Length => "V1 length",
            VnetReason::Flags => "V2 flags",
            VnetReason::GsoType => "V3/V6 gso type",
            VnetReason::GsoSize => "V4 gso size",
            VnetReason::L3 => "V5 L2/L3",
            VnetReason::CsumStart => "V7 checksum start",
            VnetReason::CsumOffset => "V7 checksum offset",
            VnetReason::L4 => "V8 L4 header",
        }
    }
}

impl fmt::Display for VnetReason {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A virtio-net header that does not fit its frame: the rule that failed, the offending
/// value (a length, a flag byte, an offset, a protocol number...) and what was expected.
///
/// ```
/// use pltap_core::offload::{VnetError, VnetReason};
/// let e = VnetError::new(VnetReason::GsoSize, 0, "gso_size must not be 0");
/// assert_eq!(e.to_string(), "invalid virtio-net header (V4 gso size, gsoSize = 0): gso_size must not be 0");
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct VnetError {
    /// The rule.
    pub reason: VnetReason,
    /// The offending value.
    pub value: u64,
    /// What was wrong, as a short sentence without the value.
    pub detail: &'static str,
}

impl VnetError {
    /// A new error.
    pub const fn new(reason: VnetReason, value: u64, detail: &'static str) -> VnetError {
        VnetError { reason, value, detail }
    }
}

impl fmt::Display for VnetError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "invalid virtio-net header ({}, {} = {}): {}",
            self.reason.rule(),
            self.reason,
            self.value,
            self.detail
        )
    }
}

impl std::error::Error for VnetError {}

pub(crate) const ETH_P_IP: u16 = 0x0800;
pub(crate) const ETH_P_IPV6: u16 = 0x86dd;
const ETH_P_8021Q: u16 = 0x8100;
const ETH_P_8021AD: u16 = 0x88a8;
pub(crate) const IPPROTO_TCP: u8 = 6;
pub(crate) const IPPROTO_UDP: u8 = 17;
pub(crate) const TCP_FIN: u8 = 0x01;
pub(crate) const TCP_SYN: u8 = 0x02;
pub(crate) const TCP_RST: u8 = 0x04;
pub(crate) const TCP_PSH: u8 = 0x08;
pub(crate) const TCP_ACK: u8 = 0x10;
pub(crate) const TCP_URG: u8 = 0x20;
pub(crate) const TCP_ECE: u8 = 0x40;
pub(crate) const TCP_CWR: u8 = 0x80;

const fn err(reason: VnetReason, value: u64, detail: &'static str) -> VnetError {
    VnetError::new(reason, value, detail)
}

fn len_err(value: usize) -> VnetError {
    err(VnetReason::Length, value as u64, "the frame ends inside its headers")
}

/// The L2 header: (L3 offset, EtherType, VLAN tags). EtherType 0 when the frame is too
/// short to say (or, for TUN, the version nibble is neither 4 nor 6).
pub(crate) fn parse_l2(frame: &[u8], l2: L2) -> (usize, u16, u8) {
    match l2 {
        L2::Ip => match frame.first().map(|b| b >> 4) {
            Some(4) => (0, ETH_P_IP, 0),
            Some(6) => (0, ETH_P_IPV6, 0),
            _ => (0, 0, 0),
        },
        L2::Ethernet => {
            let mut et = be16(frame, 12).unwrap_or(0);
            let mut tags: u8 = 0;
            while tags < 2 && (et == ETH_P_8021Q || et == ETH_P_8021AD) {
                // Tag k holds the TPID at 12+4k, the TCI at 14+4k; the next type follows.
                // A frame that ends inside the tag is not IP: EtherType 0, tag not counted.
                let Some(next) = be16(frame, 16 + 4 * usize::from(tags)) else {
                    et = 0;
                    break;
                };
                et = next;
                tags += 1;
            }
            (14 + 4 * usize::from(tags), et, tags)
        }
    }
}

/// An IP header, parsed.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Ip {
    pub l4: usize,
    pub proto: u8,
    pub end: usize,
    pub ipv6: bool,
}

/// Parses the IPv4/IPv6 header at `l3` (offload.md §2.7 Parse step 2): lengths inside the
/// frame, no fragment, IPv6 extension headers walked (a routing header only with no
/// segments left, so that the destination is the final one the pseudo-header needs).
pub(crate) fn parse_ip(frame: &[u8], l3: usize, et: u16) -> Result<Ip, VnetError> {
    let b0 = *frame.get(l3).ok_or(len_err(frame.len()))?;
    if et == ETH_P_IP {
        if b0 >> 4 != 4 {
            return Err(err(VnetReason::L3, u64::from(b0 >> 4), "an IPv4 EtherType needs IP version 4"));
        }
        let ihl = usize::from(b0 & 0x0f) * 4;
        if ihl < 20 {
            return Err(err(VnetReason::L3, ihl as u64, "the IPv4 header length must be at least 20"));
        }
        if l3 + ihl > frame.len() {
            return Err(err(VnetReason::L3, ihl as u64, "the IPv4 header goes past the frame's end"));
        }
        let total = usize::from(be16(frame, l3 + 2).ok_or(len_err(frame.len()))?);
        if total < ihl || l3 + total > frame.len() {
            return Err(err(VnetReason::L3, total as u64, "the IPv4 total length does not fit the frame"));
        }
        let frag = be16(frame, l3 + 6).ok_or(len_err(frame.len()))? & 0x3fff;
        if frag != 0 {
            return Err(err(VnetReason::L3, u64::from(frag), "an IPv4 fragment cannot carry offload"));
        }
        let proto = *frame.get(l3 + 9).ok_or(len_err(frame.len()))?;
        Ok(Ip { l4: l3 + ihl, proto, end: l3 + total, ipv6: false })
    } else if et == ETH_P_IPV6 {
        if b0 >> 4 != 6 {
            return Err(err(VnetReason::L3, u64::from(b0 >> 4), "an IPv6 EtherType needs IP version 6"));
        }
        if l3 + 40 > frame.len() {
            return Err(err(VnetReason::L3, (frame.len() - l3) as u64, "the IPv6 header goes past the frame's end"));
        }
        let plen = usize::from(be16(frame, l3 + 4).ok_or(len_err(frame.len()))?);
        let end = l3 + 40 + plen;
        if end > frame.len() {
            return Err(err(VnetReason::L3, plen as u64, "the IPv6 payload length does not fit the frame"));
        }
        let mut nh = *frame.get(l3 + 6).ok_or(len_err(frame.len()))?;
        let mut off = l3 + 40;
        for _ in 0..8 {
            match nh {
                0 | 43 | 60 => {
                    let ext = frame.get(off..off + 8).filter(|_| off + 8 <= end).ok_or(err(
                        VnetReason::L3,
                        u64::from(nh),
                        "an IPv6 extension header goes past the packet's end",
                    ))?;
                    if nh == 43 && ext.get(3).copied().unwrap_or(0) != 0 {
                        return Err(err(VnetReason::L3, 43, "an IPv6 routing header with segments left"));
                    }
                    let len = (usize::from(ext.get(1).copied().unwrap_or(0)) + 1) * 8;
                    nh = ext.first().copied().unwrap_or(0);
                    off += len;
                    if off > end {
                        return Err(err(
                            VnetReason::L3,
                            len as u64,
                            "an IPv6 extension header goes past the packet's end",
                        ));
                    }
                }
                44 => return Err(err(VnetReason::L3, 44, "an IPv6 fragment cannot carry offload")),
                _ => return Ok(Ip { l4: off, proto: nh, end, ipv6: true }),
            }
        }
        Err(err(VnetReason::L3, u64::from(nh), "more than 8 IPv6 extension headers"))
    } else {
        Err(err(VnetReason::L3, u64::from(et), "offload needs an IPv4 or IPv6 packet"))
    }
}

/// The TCP (data offset·4) or UDP (8) header length (offload.md §2.7 Parse step 3).
pub(crate) fn l4_header_len(frame: &[u8], ip: &Ip) -> Result<usize, VnetError> {
    let room = ip.end - ip.l4;
    match ip.proto {
        IPPROTO_TCP => {
            if room < 20 {
                return Err(err(VnetReason::L4, room as u64, "the TCP header goes past the packet's end"));
            }
            let doff = usize::from(frame.get(ip.l4 + 12).copied().unwrap_or(0) >> 4);
            if doff < 5 {
                return Err(err(VnetReason::L4, doff as u64, "the TCP data offset must be at least 5"));
            }
            if doff * 4 > room {
                return Err(err(VnetReason::L4, doff as u64, "the TCP data offset goes past the packet's end"));
            }
            Ok(doff * 4)
        }
        IPPROTO_UDP => {
            if room < 8 {
                return Err(err(VnetReason::L4, room as u64, "the UDP header goes past the packet's end"));
            }
            let ulen = usize::from(be16(frame, ip.l4 + 4).unwrap_or(0));
            if ulen != room {
                return Err(err(VnetReason::L4, ulen as u64, "the UDP length must match the IP length"));
            }
            Ok(8)
        }
        p => Err(err(VnetReason::L4, u64::from(p), "offload needs TCP or UDP")),
    }
}

/// The layout of a frame that carries no offload: parsed as far as it goes; a frame that
/// does not parse is still a valid plain frame.
pub(crate) fn plain_layout(frame: &[u8], l2: L2) -> Layout {
    let (l3, et, tags) = parse_l2(frame, l2);
    let mut lay = Layout {
        l3_offset: l3,
        l4_offset: 0,
        payload_offset: 0,
        ip_end: frame.len(),
        ipv6: et == ETH_P_IPV6,
        l4: L4Proto::None,
        vlan: tags > 0,
        vlan_tags: tags,
        ethertype: et,
    };
    let Ok(ip) = parse_ip(frame, l3, et) else { return lay };
    lay.ip_end = ip.end;
    lay.l4_offset = ip.l4;
    match l4_header_len(frame, &ip) {
        Ok(n) => {
            lay.payload_offset = ip.l4 + n;
            lay.l4 = if ip.proto == IPPROTO_TCP { L4Proto::Tcp } else { L4Proto::Udp };
        }
        Err(_) if ip.proto != IPPROTO_TCP && ip.proto != IPPROTO_UDP => {
            lay.payload_offset = ip.l4;
            lay.l4 = L4Proto::Other(ip.proto);
        }
        Err(_) => lay.l4_offset = 0,
    }
    lay
}

#[derive(Clone, Copy)]
enum Mode<'a> {
    Write(&'a Limits),
    Read,
}

/// V1: at least an Ethernet (TAP) / IPv4 (TUN) header, at most [`MAX_FRAME`].
fn check_length(frame: &[u8], l2: L2) -> Result<(), VnetError> {
    let min = match l2 {
        L2::Ethernet => 14,
        L2::Ip => 20,
    };
    if frame.len() < min {
        return Err(err(VnetReason::Length, frame.len() as u64, "the frame is shorter than its L2/L3 header"));
    }
    if frame.len() > MAX_FRAME {
        return Err(err(VnetReason::Length, frame.len() as u64, "the frame is longer than 65600 bytes"));
    }
    Ok(())
}

fn check(hdr: &VnetHdr, frame: &[u8], l2: L2, mode: Mode<'_>) -> Result<Layout, VnetError> {
    check_length(frame, l2)?;
    let write = matches!(mode, Mode::Write(_));
    let allowed = if write { F_NEEDS_CSUM } else { F_NEEDS_CSUM | F_DATA_VALID };
    if hdr.flags & !allowed != 0 {
        return Err(err(VnetReason::Flags, u64::from(hdr.flags), "only NEEDS_CSUM may be set"));
    }
    let uso = match mode {
        Mode::Write(l) => l.allow_uso,
        Mode::Read => true,
    };
    match hdr.gso_type {
        GSO_NONE | GSO_TCPV4 | GSO_TCPV6 => {}
        t if t == GSO_TCPV4 | GSO_ECN || t == GSO_TCPV6 | GSO_ECN => {}
        GSO_UDP_L4 if uso => {}
        t => return Err(err(VnetReason::GsoType, u64::from(t), "the GSO type is unknown or not enabled")),
    }
    let gso = hdr.is_gso();
    let csum = hdr.needs_csum();
    if gso {
        if !csum && write {
            return Err(err(VnetReason::GsoSize, u64::from(hdr.flags), "a GSO frame needs NEEDS_CSUM"));
        }
        if hdr.gso_size == 0 || hdr.gso_size == 0xffff {
            return Err(err(VnetReason::GsoSize, u64::from(hdr.gso_size), "gso_size must be 1..=65534"));
        }
    }
    if !gso && !csum {
        return Ok(plain_layout(frame, l2));
    }
    let (l3, et, tags) = parse_l2(frame, l2);
    if et != ETH_P_IP && et != ETH_P_IPV6 {
        return Err(err(VnetReason::L3, u64::from(et), "offload needs an IPv4 or IPv6 packet"));
    }
    let ip = parse_ip(frame, l3, et)?;
    if write && ip.end != frame.len() {
        return Err(err(VnetReason::L3, (frame.len() - ip.end) as u64, "trailing bytes after the IP packet"));
    }
    let l4 = match ip.proto {
        IPPROTO_TCP => L4Proto::Tcp,
        IPPROTO_UDP => L4Proto::Udp,
        p => L4Proto::Other(p),
    };
    if gso {
        let fits = match hdr.gso_type & !GSO_ECN {
            GSO_TCPV4 => !ip.ipv6 && l4 == L4Proto::Tcp,
            GSO_TCPV6 => ip.ipv6 && l4 == L4Proto::Tcp,
            _ => l4 == L4Proto::Udp,
        };
        if !fits {
            return Err(err(VnetReason::GsoType, u64::from(hdr.gso_type), "the GSO type does not match the packet"));
        }
    } else if !matches!(l4, L4Proto::Tcp | L4Proto::Udp) {
        return Err(err(VnetReason::L4, u64::from(ip.proto), "NEEDS_CSUM needs TCP or UDP"));
    }
    if csum {
        if usize::from(hdr.csum_start) != ip.l4 {
            return Err(err(
                VnetReason::CsumStart,
                u64::from(hdr.csum_start),
                "csum_start must be the L4 header's offset",
            ));
        }
        let want = if l4 == L4Proto::Tcp { 16 } else { 6 };
        if hdr.csum_offset != want {
            return Err(err(
                VnetReason::CsumOffset,
                u64::from(hdr.csum_offset),
                "csum_offset must be 16 for TCP, 6 for UDP",
            ));
        }
    }
    let l4_len = l4_header_len(frame, &ip)?;
    let hl = ip.l4 + l4_len;
    if gso {
        if l4 == L4Proto::Tcp {
            let flags = frame.get(ip.l4 + 13).copied().unwrap_or(0);
            if flags & (TCP_SYN | TCP_RST) != 0 {
                return Err(err(VnetReason::L4, u64::from(flags), "a GSO frame must not carry SYN or RST"));
            }
        }
        let payload = ip.end - hl;
        if payload == 0 {
            return Err(err(VnetReason::GsoType, 0, "a GSO frame needs a payload"));
        }
        let segs = payload.div_ceil(usize::from(hdr.gso_size));
        if l4 == L4Proto::Udp && segs > UDP_MAX_SEGMENTS {
            return Err(err(VnetReason::GsoType, segs as u64, "a UDP GSO frame may stand for at most 128 datagrams"));
        }
        if let Mode::Write(limits) = mode {
            let seg = (hl - l3) + usize::from(hdr.gso_size);
            if seg as u64 > u64::from(limits.mtu) {
                return Err(err(
                    VnetReason::GsoSize,
                    u64::from(hdr.gso_size),
                    "headers plus gso_size exceed the device MTU",
                ));
            }
        }
    }
    Ok(Layout {
        l3_offset: l3,
        l4_offset: ip.l4,
        payload_offset: hl,
        ip_end: ip.end,
        ipv6: ip.ipv6,
        l4,
        vlan: tags > 0,
        vlan_tags: tags,
        ethertype: et,
    })
}

/// The addresses of the IP header at `lay.l3_offset`: (src, dst), 4 or 16 bytes each.
pub(crate) fn addresses<'f>(frame: &'f [u8], lay: &Layout) -> Option<(&'f [u8], &'f [u8])> {
    let l3 = lay.l3_offset;
    if lay.ipv6 {
        Some((frame.get(l3 + 8..l3 + 24)?, frame.get(l3 + 24..l3 + 40)?))
    } else {
        Some((frame.get(l3 + 12..l3 + 16)?, frame.get(l3 + 16..l3 + 20)?))
    }
}

/// The folded pseudo-header sum of a TCP/UDP packet with this L4 length.
pub(crate) fn seed(frame: &[u8], lay: &Layout, l4_len: usize) -> Option<u16> {
    let (src, dst) = addresses(frame, lay)?;
    let proto = if lay.l4 == L4Proto::Tcp { IPPROTO_TCP } else { IPPROTO_UDP };
    Some(fold(pseudo_header_sum(src, dst, proto, u32::try_from(l4_len).ok()?)))
}

/// Validates a header against its frame for writing (offload.md §4.5 V1..V8) and returns
/// the parsed layout. A frame without `NEEDS_CSUM` or GSO only needs a plausible length
/// (V1) and a clean header (V2, V3): ARP, ICMP, padded frames are written as they are.
/// `hdr_len` is not checked ([`prepare_for_write`] sets it).
///
/// ```
/// use pltap_core::offload::{validate, Limits, VnetHdr, VnetReason, L2};
/// let arp = [0u8; 42];
/// assert!(validate(&VnetHdr::NONE, &arp, L2::Ethernet, &Limits::default()).is_ok());
/// let h = VnetHdr { flags: 1, csum_start: 34, csum_offset: 6, ..VnetHdr::NONE };
/// let e = validate(&h, &arp, L2::Ethernet, &Limits::default()).unwrap_err();
/// assert_eq!((e.reason, e.value), (VnetReason::L3, 0)); // EtherType 0 is not IP
/// ```
pub fn validate(hdr: &VnetHdr, frame: &[u8], l2: L2, limits: &Limits) -> Result<Layout, VnetError> {
    check(hdr, frame, l2, Mode::Write(limits))
}

/// The read-side parse: like [`validate`], for frames the kernel handed over, so it
/// tolerates `DATA_VALID`, trailing bytes (checksums stop at the IP end), GSO without
/// `NEEDS_CSUM`, `GSO_UDP_L4`, and has no MTU to check `gso_size` against.
///
/// ```
/// use pltap_core::offload::{parse, VnetHdr, L2, L4Proto};
/// let mut f = vec![0u8; 14 + 20 + 8];
/// f[12] = 0x08; // IPv4
/// f[14] = 0x45; f[16] = 0; f[17] = 28; f[23] = 17; // total length 28, UDP
/// f[38] = 0; f[39] = 8; // UDP length 8
/// let h = VnetHdr { flags: 3, csum_start: 34, csum_offset: 6, ..VnetHdr::NONE };
/// let lay = parse(&h, &f, L2::Ethernet).unwrap();
/// assert_eq!((lay.l4, lay.l4_offset, lay.payload_offset), (L4Proto::Udp, 34, 42));
/// ```
pub fn parse(hdr: &VnetHdr, frame: &[u8], l2: L2) -> Result<Layout, VnetError> {
    check(hdr, frame, l2, Mode::Read)
}

/// For writing: validates (as [`validate`]), then sets `hdr_len` to the exact header
/// length (0 for a frame without `NEEDS_CSUM` or GSO: the kernel needs none) and, when
/// `NEEDS_CSUM`, stores the pseudo-header seed (over this packet's L4 length) in the
/// frame's L4 checksum field, so that a header that is valid is written in a form every
/// kernel accepts, whatever the field held before (offload.md §4.3).
///
/// ```
/// use pltap_core::offload::{prepare_for_write, Limits, VnetHdr, L2};
/// let mut f = vec![0u8; 14 + 20 + 8];
/// f[12] = 0x08;
/// f[14] = 0x45; f[17] = 28; f[23] = 17; // IPv4, total length 28, UDP
/// f[26..34].copy_from_slice(&[198, 18, 0, 1, 198, 18, 0, 2]);
/// f[39] = 8; // UDP length
/// let mut h = VnetHdr { flags: 1, hdr_len: 999, csum_start: 34, csum_offset: 6, ..VnetHdr::NONE };
/// prepare_for_write(&mut h, &mut f, L2::Ethernet, &Limits::default()).unwrap();
/// assert_eq!(h.hdr_len, 42);
/// // seed = c612+0001+c612+0002+0011+0008 = 1_8c40, folded: 8c41
/// assert_eq!(u16::from_be_bytes([f[40], f[41]]), 0x8c41);
/// ```
pub fn prepare_for_write(hdr: &mut VnetHdr, frame: &mut [u8], l2: L2, limits: &Limits) -> Result<Layout, VnetError> {
    let lay = validate(hdr, frame, l2, limits)?;
    if !hdr.needs_csum() && !hdr.is_gso() {
        hdr.hdr_len = 0;
        return Ok(lay);
    }
    hdr.hdr_len = u16::try_from(lay.payload_offset).map_err(|_| len_err(lay.payload_offset))?;
    if hdr.needs_csum() {
        let s = seed(frame, &lay, lay.ip_end - lay.l4_offset).ok_or(len_err(frame.len()))?;
        put16(frame, lay.l4_offset + usize::from(hdr.csum_offset), s).ok_or(len_err(frame.len()))?;
    }
    Ok(lay)
}

/// Finishes a `NEEDS_CSUM` non-GSO frame in place and clears the flag (offload.md §2.7
/// "Complete a checksum"): the 16-bit ones'-complement sum over `[csum_start, IP end)`
/// with the checksum field as it is (the kernel's seed), complemented, stored at
/// `csum_start + csum_offset`; a UDP result of 0 is stored as 0xFFFF. As the kernel's own
/// completion, it is generic: `csum_start`/`csum_offset` only need to lie inside the
/// packet. A frame without `NEEDS_CSUM` is left alone; a GSO frame is an error (split it).
///
/// ```
/// use pltap_core::offload::{complete_checksum, fold, sum, VnetHdr, L2};
/// let mut f = vec![0u8; 14 + 20 + 8];
/// f[12] = 0x08;
/// f[14] = 0x45; f[17] = 28; f[23] = 17;
/// f[26..34].copy_from_slice(&[198, 18, 0, 1, 198, 18, 0, 2]);
/// f[39] = 8;
/// f[40..42].copy_from_slice(&0x8c41u16.to_be_bytes()); // the seed
/// let mut h = VnetHdr { flags: 1, csum_start: 34, csum_offset: 6, ..VnetHdr::NONE };
/// complete_checksum(&mut h, &mut f, L2::Ethernet).unwrap();
/// assert_eq!(h.flags, 0);
/// assert_eq!(u16::from_be_bytes([f[40], f[41]]), !(0x8c41u16 + 8)); // ~(seed + UDP length)
/// ```
pub fn complete_checksum(hdr: &mut VnetHdr, frame: &mut [u8], l2: L2) -> Result<(), VnetError> {
    if !hdr.needs_csum() {
        return Ok(());
    }
    if hdr.is_gso() {
        return Err(err(VnetReason::GsoType, u64::from(hdr.gso_type), "a GSO frame is split, not completed"));
    }
    check_length(frame, l2)?;
    let lay = plain_layout(frame, l2);
    let end = lay.ip_end;
    let start = usize::from(hdr.csum_start);
    if start >= end {
        return Err(err(VnetReason::CsumStart, u64::from(hdr.csum_start), "csum_start must lie inside the packet"));
    }
    let field = start + usize::from(hdr.csum_offset);
    if field + 2 > end {
        return Err(err(
            VnetReason::CsumOffset,
            u64::from(hdr.csum_offset),
            "the checksum field must lie inside the packet",
        ));
    }
    let mut c = !fold(sum(frame.get(start..end).unwrap_or(&[]), 0));
    if c == 0 && lay.l4 == L4Proto::Udp && start == lay.l4_offset && hdr.csum_offset == 6 {
        c = 0xffff;
    }
    put16(frame, field, c).ok_or(len_err(frame.len()))?;
    hdr.flags &= !F_NEEDS_CSUM;
    Ok(())
}
