//! Parsing a frame's headers and validating a virtio-net header against it
//! (offload.md §2.7 "Parse" and §4.5 V1..V8).

use super::{L2, Layout, Limits, VnetHdr};
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

/// Validates a header against its frame for writing (offload.md §4.5 V1..V8) and returns
/// the parsed layout. `hdr_len` is not checked ([`prepare_for_write`] sets it).
pub fn validate(hdr: &VnetHdr, frame: &[u8], l2: L2, limits: &Limits) -> Result<Layout, VnetError> {
    let _ = (hdr, frame, l2, limits);
    todo!()
}

/// The read-side parse: like [`validate`] but for frames the kernel handed over, so it
/// tolerates `DATA_VALID`, trailing bytes, any MTU and USO.
pub fn parse(hdr: &VnetHdr, frame: &[u8], l2: L2) -> Result<Layout, VnetError> {
    let _ = (hdr, frame, l2);
    todo!()
}

/// For writing: validates, then sets `hdr_len` to the exact header length and refreshes
/// the pseudo-header seed in the frame's L4 checksum field (when `NEEDS_CSUM`).
pub fn prepare_for_write(hdr: &mut VnetHdr, frame: &mut [u8], l2: L2, limits: &Limits) -> Result<Layout, VnetError> {
    let _ = (hdr, frame, l2, limits);
    todo!()
}

/// Finishes a `NEEDS_CSUM` non-GSO frame in place and clears the flag.
pub fn complete_checksum(hdr: &mut VnetHdr, frame: &mut [u8], l2: L2) -> Result<(), VnetError> {
    let _ = (hdr, frame, l2);
    todo!()
}
