//! RFC 1071 ones'-complement sums and the TCP/UDP pseudo-headers.
//!
//! Sums are kept unfolded in a `u64` with end-around carry, so pieces can be added in
//! any order and folded once; every piece but the last must have an even length (as the
//! L4 header pieces pltap adds always have).

/// Adds `bytes`, as 16-bit big-endian words (an odd last byte padded with a zero byte),
/// to the ones'-complement sum `acc`.
///
/// ```
/// use pltap_core::offload::{fold, sum};
/// // RFC 1071 §3's example: 0001 f203 f4f5 f6f7 sums to ddf2.
/// assert_eq!(fold(sum(&[0x00, 0x01, 0xf2, 0x03, 0xf4, 0xf5, 0xf6, 0xf7], 0)), 0xddf2);
/// assert_eq!(fold(sum(&[0xab], 0)), 0xab00);
/// ```
pub fn sum(bytes: &[u8], acc: u64) -> u64 {
    let mut acc = acc;
    let mut chunks = bytes.chunks_exact(8);
    for c in &mut chunks {
        let mut w = [0u8; 8];
        w.copy_from_slice(c);
        acc = add(acc, u64::from_be_bytes(w));
    }
    let rest = chunks.remainder();
    let mut pairs = rest.chunks_exact(2);
    for p in &mut pairs {
        let mut w = [0u8; 2];
        w.copy_from_slice(p);
        acc = add(acc, u64::from(u16::from_be_bytes(w)));
    }
    if let Some(&last) = pairs.remainder().first() {
        acc = add(acc, u64::from(last) << 8);
    }
    acc
}

/// Ones'-complement addition of two 64-bit sums (end-around carry).
pub(crate) fn add(a: u64, b: u64) -> u64 {
    let (s, carry) = a.overflowing_add(b);
    // s <= 2^64 - 2 when the addition carried, so adding the carry cannot overflow.
    s.saturating_add(u64::from(carry))
}

/// Folds a sum to 16 bits, not complemented.
///
/// ```
/// use pltap_core::offload::fold;
/// assert_eq!(fold(0x1_fffe), 0xffff);
/// assert_eq!(fold(0xffff_ffff_ffff_ffff), 0xffff);
/// ```
pub fn fold(acc: u64) -> u16 {
    let mut a = (acc & 0xffff_ffff) + (acc >> 32);
    while a > 0xffff {
        a = (a & 0xffff) + (a >> 16);
    }
    // a <= 0xffff here.
    u16::try_from(a).unwrap_or(0xffff)
}

/// The Internet checksum of `bytes`: the complement of the folded sum.
///
/// ```
/// use pltap_core::offload::checksum;
/// // An IPv4 header whose checksum field holds the right value sums to 0xffff: checksum 0.
/// let h = [0x45, 0, 0, 0x73, 0, 0, 0x40, 0, 0x40, 0x11, 0xb8, 0x61, 0xc0, 0xa8, 0, 1, 0xc0, 0xa8, 0, 0xc7];
/// assert_eq!(checksum(&h), 0);
/// ```
pub fn checksum(bytes: &[u8]) -> u16 {
    !fold(sum(bytes, 0))
}

/// The unfolded TCP/UDP pseudo-header sum for `src`/`dst` (4 bytes each for IPv4, 16 for
/// IPv6), the protocol number and the L4 length (header and payload). IPv4's 16-bit and
/// IPv6's 32-bit length fields give the same ones'-complement sum for lengths below 2^16.
///
/// ```
/// use pltap_core::offload::{fold, pseudo_header_sum};
/// let s = pseudo_header_sum(&[198, 18, 0, 1], &[198, 18, 0, 2], 6, 20);
/// // c612 + 0001 + c612 + 0002 + 0006 + 0014 = 1_8c41, folded: 8c42.
/// assert_eq!(fold(s), 0x8c42);
/// ```
pub fn pseudo_header_sum(src: &[u8], dst: &[u8], proto: u8, l4_len: u32) -> u64 {
    let acc = sum(dst, sum(src, 0));
    add(add(acc, u64::from(proto)), u64::from(l4_len))
}
