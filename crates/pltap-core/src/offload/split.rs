//! Segmentation of GSO super-frames (offload.md §2.7 "Split").

use super::{L2, VnetError, VnetHdr};

/// Splits a GSO super-frame into complete frames with full checksums, appending each to
/// `out` (a packed slab) and its length to `lens`; returns the segment count. A non-GSO
/// frame is copied (with its checksum completed if `NEEDS_CSUM`). Nothing is appended on
/// error.
pub fn split(hdr: &VnetHdr, frame: &[u8], l2: L2, out: &mut Vec<u8>, lens: &mut Vec<u32>) -> Result<usize, VnetError> {
    let _ = (hdr, frame, l2, out, lens);
    todo!()
}
