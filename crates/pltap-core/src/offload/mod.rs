//! virtio-net header offload, as pure byte work: the 10-byte header codec, its validation
//! against a frame, checksum completion, segmentation of super-frames and write-side
//! coalescing (GRO) of TCP/UDP trains. No I/O and no unchecked code here: the device code
//! (`sys`, `tap`) reads and writes, this module decides what the bytes must be.
//!
//! Every offset follows the kernel's TAP convention: counted from the first byte of the
//! frame as read or written (the Ethernet header for [`L2::Ethernet`], the IP header for
//! [`L2::Ip`]), never from the IP header. The rules are those of the offload reference
//! (`offload.md` §2.7 and §4.5); the validation rules are named V1..V8 in [`VnetReason`].
//!
//! ```
//! use pltap_core::offload::{VnetHdr, VNET_HDR_LEN};
//! let hdr = VnetHdr { flags: 1, gso_type: 1, hdr_len: 66, gso_size: 1448, csum_start: 34, csum_offset: 16 };
//! let mut b = [0u8; VNET_HDR_LEN];
//! hdr.encode(&mut b);
//! assert_eq!(VnetHdr::decode(&b), Ok(hdr));
//! ```

mod coalesce;
mod csum;
mod split;
mod validate;

pub use coalesce::Coalescer;
pub use csum::{checksum, fold, pseudo_header_sum, sum};
pub use split::split;
pub use validate::{VnetError, VnetReason, complete_checksum, parse, prepare_for_write, validate};

/// Size of the legacy `struct virtio_net_hdr` (the header size pltap sets and parses).
pub const VNET_HDR_LEN: usize = 10;

/// `VIRTIO_NET_HDR_F_NEEDS_CSUM`: the L4 checksum is partial (holds the pseudo-header seed).
pub const F_NEEDS_CSUM: u8 = 1;
/// `VIRTIO_NET_HDR_F_DATA_VALID`: the checksum was verified (read side only; ignored on write).
pub const F_DATA_VALID: u8 = 2;

/// `VIRTIO_NET_HDR_GSO_NONE`.
pub const GSO_NONE: u8 = 0;
/// `VIRTIO_NET_HDR_GSO_TCPV4`.
pub const GSO_TCPV4: u8 = 1;
/// `VIRTIO_NET_HDR_GSO_UDP` (UFO, legacy: always refused).
pub const GSO_UDP: u8 = 3;
/// `VIRTIO_NET_HDR_GSO_TCPV6`.
pub const GSO_TCPV6: u8 = 4;
/// `VIRTIO_NET_HDR_GSO_UDP_L4` (USO, Linux 6.2+).
pub const GSO_UDP_L4: u8 = 5;
/// `VIRTIO_NET_HDR_GSO_ECN`: OR-ed into a TCP GSO type when the stream sent CWR.
pub const GSO_ECN: u8 = 0x80;

/// The largest frame (super-frame) accepted: 65 535 bytes of IP plus an Ethernet header
/// with two VLAN tags and slack (offload.md Appendix A).
pub const MAX_FRAME: usize = 65_600;
/// `UDP_MAX_SEGMENTS`: the most datagrams one USO super-frame may stand for.
pub const UDP_MAX_SEGMENTS: usize = 128;
/// The most segments the [`Coalescer`] puts in one super-frame.
pub const MAX_COALESCE_SEGMENTS: usize = 64;

/// What a frame starts with: TAP frames with an Ethernet header, TUN frames with IP.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum L2 {
    /// A TAP frame: Ethernet header (with up to two 802.1Q/802.1ad tags) at byte 0.
    Ethernet,
    /// A TUN packet: the IPv4 or IPv6 header at byte 0.
    Ip,
}

/// The 10-byte `struct virtio_net_hdr`, little-endian (offload.md §1.1).
///
/// ```
/// use pltap_core::offload::VnetHdr;
/// let mut b = [0u8; 10];
/// VnetHdr::NONE.encode(&mut b);
/// assert_eq!(b, [0; 10]);
/// ```
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub struct VnetHdr {
    /// `NEEDS_CSUM` (1), `DATA_VALID` (2).
    pub flags: u8,
    /// `GSO_NONE`, `GSO_TCPV4`, `GSO_TCPV6`, `GSO_UDP_L4`, optionally `| GSO_ECN`.
    pub gso_type: u8,
    /// Header length: a hint on read (never trusted), exact on write.
    pub hdr_len: u16,
    /// Payload bytes per segment (the MSS for TCP).
    pub gso_size: u16,
    /// Where checksumming starts, from the first byte of the frame.
    pub csum_start: u16,
    /// Offset of the checksum field from `csum_start` (16 TCP, 6 UDP).
    pub csum_offset: u16,
}

impl VnetHdr {
    /// The all-zero header: a plain frame with a complete checksum.
    pub const NONE: VnetHdr = VnetHdr { flags: 0, gso_type: 0, hdr_len: 0, gso_size: 0, csum_start: 0, csum_offset: 0 };

    /// Decodes the first 10 bytes of `b`; fewer than 10 is a [`VnetReason::Length`] error
    /// whose value is the length.
    ///
    /// ```
    /// use pltap_core::offload::{VnetHdr, VnetReason};
    /// let h = VnetHdr::decode(&[1, 4, 74, 0, 0x94, 5, 54, 0, 16, 0]).unwrap();
    /// assert_eq!((h.gso_type, h.hdr_len, h.gso_size, h.csum_start), (4, 74, 1428, 54));
    /// assert_eq!(VnetHdr::decode(&[0; 9]).unwrap_err().reason, VnetReason::Length);
    /// ```
    pub fn decode(b: &[u8]) -> Result<VnetHdr, VnetError> {
        let Some(b) = b.get(..VNET_HDR_LEN) else {
            return Err(VnetError::new(VnetReason::Length, b.len() as u64, "a virtio-net header needs 10 bytes"));
        };
        let le = |i: usize| u16::from_le_bytes([b.get(i).copied().unwrap_or(0), b.get(i + 1).copied().unwrap_or(0)]);
        Ok(VnetHdr {
            flags: b.first().copied().unwrap_or(0),
            gso_type: b.get(1).copied().unwrap_or(0),
            hdr_len: le(2),
            gso_size: le(4),
            csum_start: le(6),
            csum_offset: le(8),
        })
    }

    /// Encodes the header into `out` (little-endian).
    pub fn encode(&self, out: &mut [u8; VNET_HDR_LEN]) {
        let [a, b] = self.hdr_len.to_le_bytes();
        let [c, d] = self.gso_size.to_le_bytes();
        let [e, f] = self.csum_start.to_le_bytes();
        let [g, h] = self.csum_offset.to_le_bytes();
        *out = [self.flags, self.gso_type, a, b, c, d, e, f, g, h];
    }

    /// The encoded bytes.
    ///
    /// ```
    /// use pltap_core::offload::VnetHdr;
    /// let h = VnetHdr { flags: 1, csum_start: 34, csum_offset: 6, ..VnetHdr::NONE };
    /// assert_eq!(h.to_bytes(), [1, 0, 0, 0, 0, 0, 34, 0, 6, 0]);
    /// ```
    pub fn to_bytes(&self) -> [u8; VNET_HDR_LEN] {
        let mut b = [0; VNET_HDR_LEN];
        self.encode(&mut b);
        b
    }

    /// Whether `NEEDS_CSUM` is set.
    pub fn needs_csum(&self) -> bool {
        self.flags & F_NEEDS_CSUM != 0
    }

    /// Whether the header asks for segmentation (`gso_type` without the ECN bit is not NONE).
    pub fn is_gso(&self) -> bool {
        self.gso_type & !GSO_ECN != GSO_NONE
    }
}

/// The transport protocol found by [`validate`] / [`parse`].
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum L4Proto {
    /// TCP (6).
    Tcp,
    /// UDP (17).
    Udp,
    /// Another IP protocol (its number), e.g. ICMP (1) or ICMPv6 (58).
    Other(u8),
    /// Not an IP packet, or one whose headers were not parsed (a plain frame that does not
    /// parse is still valid to write as it is).
    None,
}

/// Where the headers of a frame are, as parsed by [`validate`] / [`parse`]. Every offset
/// counts from the first byte of the frame.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct Layout {
    /// The L3 header's offset: after the Ethernet header and its VLAN tags (TAP), 0 (TUN).
    pub l3_offset: usize,
    /// The L4 header's offset (after IPv6 extension headers); 0 when `l4` is `None`.
    pub l4_offset: usize,
    /// The exact header length `hl`: end of the TCP header (with options) or of the UDP
    /// header; what `hdr_len` is set to on write. 0 when `l4` is `None`.
    pub payload_offset: usize,
    /// End of the IP packet (`l3_offset` + IP length); bytes after it are trailing
    /// (Ethernet padding). The frame length for non-IP frames.
    pub ip_end: usize,
    /// IPv6 (else IPv4 when `l4` is not `None`).
    pub ipv6: bool,
    /// The transport protocol.
    pub l4: L4Proto,
    /// At least one VLAN tag (802.1Q 0x8100 or 802.1ad 0x88a8).
    pub vlan: bool,
    /// The number of VLAN tags (0..=2).
    pub vlan_tags: u8,
    /// The EtherType after the tags (TAP); 0x0800/0x86dd from the version nibble (TUN).
    pub ethertype: u16,
}

impl Layout {
    /// The IP header's length: IHL·4 for IPv4, 40 plus extension headers for IPv6.
    pub fn l3_len(&self) -> usize {
        self.l4_offset.saturating_sub(self.l3_offset)
    }

    /// The L4 header's length (TCP data offset·4, or 8 for UDP).
    pub fn l4_len(&self) -> usize {
        self.payload_offset.saturating_sub(self.l4_offset)
    }

    /// The payload bytes (`ip_end - payload_offset`).
    pub fn payload_len(&self) -> usize {
        self.ip_end.saturating_sub(self.payload_offset)
    }
}

/// What the device allows: its MTU (the IP MTU, 1500 by default) and whether UDP
/// segmentation (`GSO_UDP_L4`) may be written and formed by the [`Coalescer`].
///
/// ```
/// use pltap_core::offload::Limits;
/// assert_eq!(Limits::default(), Limits { mtu: 1500, allow_uso: false });
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct Limits {
    /// The device MTU (IP bytes per segment): `L3 header + L4 header + gso_size` must fit.
    pub mtu: u32,
    /// Accept `GSO_UDP_L4` on write, and coalesce UDP trains.
    pub allow_uso: bool,
}

impl Default for Limits {
    fn default() -> Self {
        Limits { mtu: 1500, allow_uso: false }
    }
}

/// The big-endian `u16` at `at`, if the bytes are there.
pub(crate) fn be16(b: &[u8], at: usize) -> Option<u16> {
    let s = b.get(at..at.checked_add(2)?)?;
    Some(u16::from_be_bytes([*s.first()?, *s.get(1)?]))
}

/// The big-endian `u32` at `at`, if the bytes are there.
pub(crate) fn be32(b: &[u8], at: usize) -> Option<u32> {
    let s = b.get(at..at.checked_add(4)?)?;
    let mut w = [0u8; 4];
    w.copy_from_slice(s);
    Some(u32::from_be_bytes(w))
}

/// Stores `v` big-endian at `at`, if the bytes are there.
pub(crate) fn put16(b: &mut [u8], at: usize, v: u16) -> Option<()> {
    b.get_mut(at..at.checked_add(2)?)?.copy_from_slice(&v.to_be_bytes());
    Some(())
}

/// Stores `v` big-endian at `at`, if the bytes are there.
pub(crate) fn put32(b: &mut [u8], at: usize, v: u32) -> Option<()> {
    b.get_mut(at..at.checked_add(4)?)?.copy_from_slice(&v.to_be_bytes());
    Some(())
}
