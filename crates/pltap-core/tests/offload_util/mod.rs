//! Frame builders and checkers for the offload tests, written independently of
//! `pltap_core::offload`: their own RFC 1071 checksum (a plain word loop), their own
//! header layouts, no code shared with the module under test.
#![allow(dead_code)]

/// RFC 1071, the straightforward way: 16-bit big-endian words, odd byte padded, u32 sum,
/// fold, complement.
pub fn rfc1071(parts: &[&[u8]]) -> u16 {
    let mut bytes = Vec::new();
    for p in parts {
        bytes.extend_from_slice(p);
    }
    let mut s: u32 = 0;
    let mut i = 0;
    while i < bytes.len() {
        let hi = bytes[i] as u32;
        let lo = if i + 1 < bytes.len() { bytes[i + 1] as u32 } else { 0 };
        s += (hi << 8) | lo;
        i += 2;
    }
    while s > 0xffff {
        s = (s & 0xffff) + (s >> 16);
    }
    !(s as u16)
}

pub const SRC4: [u8; 4] = [198, 18, 0, 1];
pub const DST4: [u8; 4] = [198, 18, 0, 2];
pub const SRC6: [u8; 16] = [0xfe, 0x80, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1];
pub const DST6: [u8; 16] = [0xfe, 0x80, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 2];
pub const MAC_DST: [u8; 6] = [0x02, 0, 0, 0, 0, 0x02];
pub const MAC_SRC: [u8; 6] = [0x02, 0, 0, 0, 0, 0x01];

#[derive(Clone, Copy, Debug, PartialEq)]
pub enum L4 {
    Tcp,
    Udp,
}

/// Everything a test frame is made of.
#[derive(Clone, Debug)]
pub struct Spec {
    /// None: a TUN packet (IP at byte 0). Some(tags): an Ethernet frame with these
    /// (TPID, TCI) VLAN tags.
    pub eth: Option<Vec<(u16, u16)>>,
    pub v6: bool,
    /// IPv6 extension headers (next-header values 0/43/60), each 8 bytes.
    pub ext: Vec<u8>,
    pub tos: u8,
    pub ttl: u8,
    pub id: u16,
    pub df: bool,
    pub flow: u32,
    pub l4: L4,
    pub sport: u16,
    pub dport: u16,
    pub seq: u32,
    pub ack: u32,
    pub flags: u8,
    pub win: u16,
    pub opts: Vec<u8>,
    pub payload: Vec<u8>,
    /// Checksum field: Full (correct), Seed(L4 length of the pseudo-header), or Raw(value).
    pub csum: Csum,
}

#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Csum {
    Full,
    Seed,
    Raw(u16),
}

impl Default for Spec {
    fn default() -> Self {
        Spec {
            eth: Some(vec![]),
            v6: false,
            ext: vec![],
            tos: 0,
            ttl: 64,
            id: 0x1234,
            df: true,
            flow: 0,
            l4: L4::Tcp,
            sport: 40000,
            dport: 5201,
            seq: 1000,
            ack: 77,
            flags: 0x10,
            win: 502,
            opts: vec![],
            payload: vec![],
            csum: Csum::Full,
        }
    }
}

pub fn payload(n: usize, salt: u8) -> Vec<u8> {
    (0..n).map(|i| (i as u8).wrapping_mul(31).wrapping_add(salt)).collect()
}

impl Spec {
    pub fn tcp4(payload: Vec<u8>) -> Spec {
        Spec { payload, ..Spec::default() }
    }
    pub fn tcp6(payload: Vec<u8>) -> Spec {
        Spec { v6: true, payload, ..Spec::default() }
    }
    pub fn udp4(payload: Vec<u8>) -> Spec {
        Spec { l4: L4::Udp, payload, ..Spec::default() }
    }
    pub fn udp6(payload: Vec<u8>) -> Spec {
        Spec { l4: L4::Udp, v6: true, payload, ..Spec::default() }
    }
    pub fn tun(mut self) -> Spec {
        self.eth = None;
        self
    }

    pub fn l2_len(&self) -> usize {
        self.eth.as_ref().map_or(0, |t| 14 + 4 * t.len())
    }
    pub fn l3_len(&self) -> usize {
        if self.v6 { 40 + self.ext.len() * 8 } else { 20 }
    }
    pub fn l4_hdr_len(&self) -> usize {
        match self.l4 {
            L4::Tcp => 20 + self.opts.len(),
            L4::Udp => 8,
        }
    }
    pub fn l4_offset(&self) -> usize {
        self.l2_len() + self.l3_len()
    }
    pub fn hdr_len(&self) -> usize {
        self.l4_offset() + self.l4_hdr_len()
    }

    pub fn proto(&self) -> u8 {
        match self.l4 {
            L4::Tcp => 6,
            L4::Udp => 17,
        }
    }

    fn pseudo(&self, l4_len: usize) -> Vec<u8> {
        let mut p = Vec::new();
        if self.v6 {
            p.extend_from_slice(&SRC6);
            p.extend_from_slice(&DST6);
            p.extend_from_slice(&(l4_len as u32).to_be_bytes());
            p.extend_from_slice(&[0, 0, 0, self.proto()]);
        } else {
            p.extend_from_slice(&SRC4);
            p.extend_from_slice(&DST4);
            p.extend_from_slice(&[0, self.proto()]);
            p.extend_from_slice(&(l4_len as u16).to_be_bytes());
        }
        p
    }

    /// The L4 header and payload, with the checksum as `self.csum` says.
    pub fn l4_bytes(&self) -> Vec<u8> {
        assert!(self.opts.len().is_multiple_of(4));
        let mut l4 = Vec::new();
        l4.extend_from_slice(&self.sport.to_be_bytes());
        l4.extend_from_slice(&self.dport.to_be_bytes());
        let at = match self.l4 {
            L4::Tcp => {
                l4.extend_from_slice(&self.seq.to_be_bytes());
                l4.extend_from_slice(&self.ack.to_be_bytes());
                l4.push((((20 + self.opts.len()) / 4) as u8) << 4);
                l4.push(self.flags);
                l4.extend_from_slice(&self.win.to_be_bytes());
                l4.extend_from_slice(&[0, 0, 0, 0]);
                l4.extend_from_slice(&self.opts);
                16
            }
            L4::Udp => {
                l4.extend_from_slice(&((8 + self.payload.len()) as u16).to_be_bytes());
                l4.extend_from_slice(&[0, 0]);
                6
            }
        };
        l4.extend_from_slice(&self.payload);
        let c = match self.csum {
            Csum::Full => {
                let c = rfc1071(&[&self.pseudo(l4.len()), &l4]);
                if c == 0 && self.l4 == L4::Udp { 0xffff } else { c }
            }
            // The folded pseudo-header sum, not complemented.
            Csum::Seed => !rfc1071(&[&self.pseudo(l4.len())]),
            Csum::Raw(v) => v,
        };
        l4[at..at + 2].copy_from_slice(&c.to_be_bytes());
        l4
    }

    pub fn build(&self) -> Vec<u8> {
        let l4 = self.l4_bytes();
        let mut f = Vec::new();
        if let Some(tags) = &self.eth {
            f.extend_from_slice(&MAC_DST);
            f.extend_from_slice(&MAC_SRC);
            for (tpid, tci) in tags {
                f.extend_from_slice(&tpid.to_be_bytes());
                f.extend_from_slice(&tci.to_be_bytes());
            }
            f.extend_from_slice(&(if self.v6 { 0x86ddu16 } else { 0x0800 }).to_be_bytes());
        }
        if self.v6 {
            let first = (6u32 << 28) | (u32::from(self.tos) << 20) | (self.flow & 0xfffff);
            f.extend_from_slice(&first.to_be_bytes());
            f.extend_from_slice(&((self.ext.len() * 8 + l4.len()) as u16).to_be_bytes());
            f.push(*self.ext.first().unwrap_or(&self.proto()));
            f.push(self.ttl);
            f.extend_from_slice(&SRC6);
            f.extend_from_slice(&DST6);
            for (i, _) in self.ext.iter().enumerate() {
                let next = *self.ext.get(i + 1).unwrap_or(&self.proto());
                f.extend_from_slice(&[next, 0, 1, 4, 0, 0, 0, 0]); // PadN option
            }
        } else {
            let start = f.len();
            f.push(0x45);
            f.push(self.tos);
            f.extend_from_slice(&((20 + l4.len()) as u16).to_be_bytes());
            f.extend_from_slice(&self.id.to_be_bytes());
            f.extend_from_slice(&(if self.df { 0x4000u16 } else { 0 }).to_be_bytes());
            f.push(self.ttl);
            f.push(self.proto());
            f.extend_from_slice(&[0, 0]);
            f.extend_from_slice(&SRC4);
            f.extend_from_slice(&DST4);
            let c = rfc1071(&[&f[start..]]);
            f[start + 10..start + 12].copy_from_slice(&c.to_be_bytes());
        }
        f.extend_from_slice(&l4);
        f
    }
}

/// Checks one finished frame independently: IPv4 header checksum, IP length fields, UDP
/// length, and the L4 checksum with a pseudo-header built here. `l3`/`l4` are offsets.
pub fn verify(frame: &[u8], l3: usize, l4: usize, v6: bool) {
    let (proto, l4_len) = if v6 {
        let plen = u16::from_be_bytes([frame[l3 + 4], frame[l3 + 5]]) as usize;
        assert_eq!(l3 + 40 + plen, frame.len(), "IPv6 payload length");
        let (mut nh, mut off) = (frame[l3 + 6], l3 + 40);
        while off < l4 {
            nh = frame[off];
            off += (frame[off + 1] as usize + 1) * 8;
        }
        assert_eq!(off, l4, "extension headers end at the L4 header");
        (nh, frame.len() - l4)
    } else {
        let total = u16::from_be_bytes([frame[l3 + 2], frame[l3 + 3]]) as usize;
        assert_eq!(l3 + total, frame.len(), "IPv4 total length");
        assert_eq!(rfc1071(&[&frame[l3..l4]]), 0, "IPv4 header checksum");
        (frame[l3 + 9], frame.len() - l4)
    };
    let mut p = Vec::new();
    if v6 {
        p.extend_from_slice(&frame[l3 + 8..l3 + 40]);
        p.extend_from_slice(&(l4_len as u32).to_be_bytes());
        p.extend_from_slice(&[0, 0, 0, proto]);
    } else {
        p.extend_from_slice(&frame[l3 + 12..l3 + 20]);
        p.extend_from_slice(&[0, proto]);
        p.extend_from_slice(&(l4_len as u16).to_be_bytes());
    }
    if proto == 17 {
        assert_eq!(u16::from_be_bytes([frame[l4 + 4], frame[l4 + 5]]) as usize, l4_len, "UDP length");
        assert_ne!(u16::from_be_bytes([frame[l4 + 6], frame[l4 + 7]]), 0, "UDP checksum 0 must be sent as 0xffff");
    }
    assert_eq!(rfc1071(&[&p, &frame[l4..]]), 0, "L4 checksum");
}

pub fn hex(b: &[u8]) -> String {
    b.iter().map(|x| format!("{x:02x}")).collect()
}

pub fn unhex(s: &str) -> Vec<u8> {
    let s: String = s.chars().filter(|c| !c.is_whitespace()).collect();
    (0..s.len()).step_by(2).map(|i| u8::from_str_radix(&s[i..i + 2], 16).unwrap()).collect()
}

/// A small deterministic PRNG (xorshift64*), for property tests without a dependency.
pub struct Rng(pub u64);

impl Rng {
    pub fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }
    pub fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }
    pub fn bool(&mut self) -> bool {
        self.next() & 1 == 1
    }
}

/// Unpacks a packed slab.
pub fn unpack<'a>(data: &'a [u8], lens: &[u32]) -> Vec<&'a [u8]> {
    let mut out = Vec::new();
    let mut off = 0;
    for &l in lens {
        out.push(&data[off..off + l as usize]);
        off += l as usize;
    }
    assert_eq!(off, data.len());
    out
}
