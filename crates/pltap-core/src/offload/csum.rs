//! RFC 1071 ones'-complement sums and the TCP/UDP pseudo-headers.

/// Adds the 16-bit big-endian words of `bytes` (an odd last byte padded with zero) to `acc`.
pub fn sum(bytes: &[u8], acc: u64) -> u64 {
    let _ = (bytes, acc);
    todo!()
}

/// Folds a sum to 16 bits (not complemented).
pub fn fold(acc: u64) -> u16 {
    let _ = acc;
    todo!()
}

/// The Internet checksum of `bytes`: the complement of the folded sum.
pub fn checksum(bytes: &[u8]) -> u16 {
    !fold(sum(bytes, 0))
}

/// The unfolded pseudo-header sum for `src`/`dst` (4 or 16 bytes each), the protocol and
/// the L4 length.
pub fn pseudo_header_sum(src: &[u8], dst: &[u8], proto: u8, l4_len: u32) -> u64 {
    let _ = (src, dst, proto, l4_len);
    todo!()
}
