//! The `vnet` target's input layout and its independent checks of finished frames,
//! written from offload.md (§2.7, §4.5), not from `pltap_core::offload`'s code.

use pltap_core::offload::{L2, Limits, VNET_HDR_LEN, VnetHdr};

/// Bytes in front of the header: the mode byte and the MTU (u16 LE).
pub const PREFIX: usize = 3;

/// A decoded `vnet` input.
///
/// ```text
/// 0      1        3            13
/// +------+--------+------------+---------------
/// | mode | mtu LE | vnet hdr   | frame
/// +------+--------+------------+---------------
/// mode: bit 0 TUN (else TAP), bit 1 allow USO, bits 2..8 mutation seed for the burst
/// mtu: at least 68
/// ```
#[derive(Debug)]
pub struct Input<'a> {
    /// TAP or TUN.
    pub l2: L2,
    /// The device limits.
    pub limits: Limits,
    /// The raw header bytes.
    pub hdr_bytes: [u8; VNET_HDR_LEN],
    /// The frame.
    pub frame: &'a [u8],
    /// Seed of the segment mutations fed to the coalescer.
    pub mutations: u8,
}

/// Splits a fuzz input; `None` when it is shorter than the prefix and header.
pub fn split_input(data: &[u8]) -> Option<Input<'_>> {
    let (head, frame) = data.split_at_checked(PREFIX + VNET_HDR_LEN)?;
    let mode = head[0];
    let mtu = u32::from(u16::from_le_bytes([head[1], head[2]])).max(68);
    let mut hdr_bytes = [0u8; VNET_HDR_LEN];
    hdr_bytes.copy_from_slice(&head[PREFIX..]);
    Some(Input {
        l2: if mode & 1 == 1 { L2::Ip } else { L2::Ethernet },
        limits: Limits { mtu, allow_uso: mode & 2 == 2 },
        hdr_bytes,
        frame,
        mutations: mode >> 2,
    })
}

/// The inverse of [`split_input`], for seeds.
pub fn join_input(tun: bool, uso: bool, mtu: u16, hdr: &VnetHdr, frame: &[u8]) -> Vec<u8> {
    let mut v = vec![u8::from(tun) | (u8::from(uso) << 1)];
    v.extend_from_slice(&mtu.to_le_bytes());
    v.extend_from_slice(&hdr.to_bytes());
    v.extend_from_slice(frame);
    v
}

/// RFC 1071 the plain way: 16-bit words, u64 sum, fold, complement.
pub fn rfc1071(parts: &[&[u8]]) -> u16 {
    let mut s: u64 = 0;
    let mut odd: Option<u8> = None;
    for p in parts {
        for &b in p.iter() {
            match odd.take() {
                None => odd = Some(b),
                Some(hi) => s += (u64::from(hi) << 8) | u64::from(b),
            }
        }
    }
    if let Some(hi) = odd {
        s += u64::from(hi) << 8;
    }
    while s > 0xffff {
        s = (s & 0xffff) + (s >> 16);
    }
    !(s as u16)
}

/// What [`inspect`] found in a frame.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Seen {
    /// Offset of the IP header.
    pub l3: usize,
    /// Offset of the TCP/UDP header.
    pub l4: usize,
    /// 6 or 17.
    pub proto: u8,
    /// IPv6.
    pub v6: bool,
    /// Flow: addresses, protocol, ports.
    pub flow: Vec<u8>,
}

/// An independent parse of a TCP/UDP-over-IP frame (Ethernet with up to two VLAN tags,
/// or IP at byte 0; IPv6 extension headers 0/43/60), `None` for anything else.
pub fn inspect(f: &[u8], l2: L2) -> Option<Seen> {
    let mut l3 = 0;
    let mut v6 = match l2 {
        L2::Ip => *f.first()? >> 4 == 6,
        L2::Ethernet => false,
    };
    if l2 == L2::Ethernet {
        let mut at = 12;
        let mut tags = 0;
        loop {
            let et = u16::from_be_bytes([*f.get(at)?, *f.get(at + 1)?]);
            if (et == 0x8100 || et == 0x88a8) && tags < 2 {
                tags += 1;
                at += 4;
                continue;
            }
            v6 = match et {
                0x0800 => false,
                0x86dd => true,
                _ => return None,
            };
            l3 = at + 2;
            break;
        }
    }
    let ip = f.get(l3..)?;
    let (l4, proto, end) = if v6 {
        if ip.first()? >> 4 != 6 || ip.len() < 40 {
            return None;
        }
        let end = l3 + 40 + usize::from(u16::from_be_bytes([ip[4], ip[5]]));
        let mut nh = ip[6];
        let mut off = l3 + 40;
        while matches!(nh, 0 | 43 | 60) {
            nh = *f.get(off)?;
            off += (usize::from(*f.get(off + 1)?) + 1) * 8;
        }
        (off, nh, end)
    } else {
        if ip.first()? >> 4 != 4 || ip.len() < 20 {
            return None;
        }
        let ihl = usize::from(ip[0] & 15) * 4;
        if ihl < 20 {
            return None;
        }
        (l3 + ihl, ip[9], l3 + usize::from(u16::from_be_bytes([ip[2], ip[3]])))
    };
    if end != f.len() || l4 + 8 > end || (proto != 6 && proto != 17) {
        return None;
    }
    let mut flow = if v6 { f.get(l3 + 8..l3 + 40)?.to_vec() } else { f.get(l3 + 12..l3 + 20)?.to_vec() };
    flow.push(proto);
    flow.extend_from_slice(f.get(l4..l4 + 4)?);
    Some(Seen { l3, l4, proto, v6, flow })
}

/// Checks a finished (split) frame: IP length fields, IPv4 header checksum, UDP length,
/// the L4 checksum over a pseudo-header built here, UDP checksum never 0.
pub fn check_finished(f: &[u8], l2: L2) -> Result<Seen, String> {
    check_frame(f, l2, true)
}

/// [`check_finished`] without the IPv4 header checksum (a completed checksum covers the
/// L4 bytes only; the IP header is the sender's).
pub fn check_l4(f: &[u8], l2: L2) -> Result<Seen, String> {
    check_frame(f, l2, false)
}

fn check_frame(f: &[u8], l2: L2, ip_csum: bool) -> Result<Seen, String> {
    let s = inspect(f, l2).ok_or("a segment does not parse as TCP/UDP over IP")?;
    let l4_len = f.len() - s.l4;
    let mut pseudo = Vec::new();
    if s.v6 {
        pseudo.extend_from_slice(&f[s.l3 + 8..s.l3 + 40]);
        pseudo.extend_from_slice(&(l4_len as u32).to_be_bytes());
        pseudo.extend_from_slice(&[0, 0, 0, s.proto]);
    } else {
        if ip_csum && rfc1071(&[&f[s.l3..s.l4]]) != 0 {
            return Err("bad IPv4 header checksum".into());
        }
        pseudo.extend_from_slice(&f[s.l3 + 12..s.l3 + 20]);
        pseudo.extend_from_slice(&[0, s.proto]);
        pseudo.extend_from_slice(&(l4_len as u16).to_be_bytes());
    }
    if s.proto == 17 {
        if usize::from(u16::from_be_bytes([f[s.l4 + 4], f[s.l4 + 5]])) != l4_len {
            return Err("bad UDP length".into());
        }
        if f[s.l4 + 6..s.l4 + 8] == [0, 0] {
            return Err("UDP checksum 0 (must be 0xffff)".into());
        }
    }
    if rfc1071(&[&pseudo, &f[s.l4..]]) != 0 {
        return Err("bad L4 checksum".into());
    }
    Ok(s)
}

/// A frame with its IPv4 ID and header checksum zeroed when it is IPv4 with DF (the
/// fields a fixed-ID train may change: a virtio header cannot ask the kernel to keep
/// IDs fixed); other frames unchanged.
pub fn without_fixed_id(f: &[u8], l2: L2) -> Vec<u8> {
    let mut v = f.to_vec();
    if let Some(s) = inspect(f, l2)
        && !s.v6
        && f[s.l3 + 6] & 0x40 != 0
    {
        v[s.l3 + 4..s.l3 + 6].fill(0);
        v[s.l3 + 10..s.l3 + 12].fill(0);
    }
    v
}
