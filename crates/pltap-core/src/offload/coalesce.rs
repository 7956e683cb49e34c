//! Write-side GRO: merging consecutive TCP (and, opt-in, UDP) segments of one flow into
//! GSO super-frames (offload.md §2.7 "Coalesce").

use super::{L2, Limits, VnetHdr};

/// Write-side GRO: push plain frames; pop (VnetHdr, super-frame) writes.
#[derive(Debug)]
pub struct Coalescer {
    l2: L2,
    limits: Limits,
}

impl Coalescer {
    /// A coalescer for frames of this kind and a device with these limits.
    pub fn new(l2: L2, limits: Limits) -> Self {
        Coalescer { l2, limits }
    }

    /// Feeds a packed burst; calls `emit(hdr, frame)` for each write to make, in order.
    pub fn coalesce(
        &mut self,
        data: &[u8],
        lens: &[u32],
        emit: impl FnMut(&VnetHdr, &[u8]) -> std::io::Result<()>,
    ) -> std::io::Result<()> {
        let _ = (data, lens, emit, self.l2, self.limits);
        todo!()
    }
}
