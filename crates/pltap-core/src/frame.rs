//! `struct tun_pi` framing: the 4-byte prefix the tun driver puts before every frame
//! unless the device was created with `IFF_NO_PI`.
//!
//! ```text
//! 0      2      4
//! +------+------+-----------------------
//! |flags |proto | frame (Ethernet for TAP, IP for TUN)
//! +------+------+-----------------------
//!  native  big-endian
//! ```
//!
//! `flags` is host-endian (`__u16`), `proto` is big-endian (`__be16`). On receive the
//! kernel sets `TUN_PKT_STRIP` in `flags` when the frame did not fit the buffer.
//! On transmit pltap writes `flags = 0` and the frame's real EtherType (defect 8 of the
//! original wrote `{0, 0x86}` in host order).

use crate::error::{Error, Result};
use crate::sys::linux::{self, TUN_PKT_STRIP};

/// Length of `struct tun_pi`.
pub const TUN_PI_LEN: usize = 4;
/// Largest frame a tun device can carry (the kernel's 64 KiB limit).
pub const MAX_FRAME: usize = 65535;
/// Ethernet header (14) plus one VLAN tag (4): what a TAP frame adds to the MTU.
pub const ETH_OVERHEAD: usize = 18;

/// EtherType of IPv4.
pub const ETH_P_IP: u16 = 0x0800;
/// EtherType of ARP.
pub const ETH_P_ARP: u16 = 0x0806;
/// EtherType of IPv6.
pub const ETH_P_IPV6: u16 = 0x86dd;

/// Layer of the device, and so what its frames are: Ethernet (TAP) or IP (TUN).
///
/// ```
/// use pltap_core::Mode;
/// assert_eq!("tun".parse::<Mode>()?, Mode::Tun);
/// assert_eq!(Mode::Tap.as_str(), "tap");
/// assert!("tup".parse::<Mode>().is_err());
/// # Ok::<(), pltap_core::Error>(())
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Mode {
    /// `IFF_TAP`: Ethernet frames.
    Tap,
    /// `IFF_TUN`: IP packets.
    Tun,
}

impl Mode {
    /// The `IFF_TAP`/`IFF_TUN` flag of `TUNSETIFF`, also the value the vsys `fd_tuntap`
    /// protocol sends.
    pub fn tun_flag(self) -> i16 {
        match self {
            Mode::Tap => linux::IFF_TAP,
            Mode::Tun => linux::IFF_TUN,
        }
    }

    /// `"tap"` or `"tun"`.
    pub fn as_str(self) -> &'static str {
        match self {
            Mode::Tap => "tap",
            Mode::Tun => "tun",
        }
    }
}

impl std::str::FromStr for Mode {
    type Err = Error;
    /// `"tap"` or `"tun"`.
    fn from_str(s: &str) -> Result<Mode> {
        match s {
            "tap" => Ok(Mode::Tap),
            "tun" => Ok(Mode::Tun),
            _ => Err(Error::invalid_value("mode", s, "must be 'tap' or 'tun'")),
        }
    }
}

mod field {
    use std::ops::Range;
    pub const FLAGS: Range<usize> = 0..2;
    pub const PROTO: Range<usize> = 2..4;
    pub const PAYLOAD: usize = 4;
}

/// A view of a buffer that starts with a `struct tun_pi`.
///
/// ```
/// use pltap_core::frame::TunPi;
/// let bytes = [0u8, 0, 0x08, 0x06, 0xff];
/// let pi = TunPi::new_checked(&bytes[..]).unwrap();
/// assert_eq!(pi.proto(), 0x0806);
/// assert!(!pi.truncated());
/// assert_eq!(pi.payload(), &[0xff]);
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TunPi<T: AsRef<[u8]>> {
    buffer: T,
}

impl<T: AsRef<[u8]>> TunPi<T> {
    /// Wraps a buffer without checking its length; accessors panic if it is shorter than 4.
    pub const fn new_unchecked(buffer: T) -> TunPi<T> {
        TunPi { buffer }
    }

    /// Wraps a buffer that is at least [`TUN_PI_LEN`] bytes long.
    pub fn new_checked(buffer: T) -> Option<TunPi<T>> {
        let pi = TunPi::new_unchecked(buffer);
        pi.check_len().then_some(pi)
    }

    /// Whether the buffer holds a whole header.
    pub fn check_len(&self) -> bool {
        self.buffer.as_ref().len() >= TUN_PI_LEN
    }

    /// Unwraps the buffer.
    pub fn into_inner(self) -> T {
        self.buffer
    }

    /// `tun_pi.flags` (host-endian).
    pub fn flags(&self) -> u16 {
        let b = &self.buffer.as_ref()[field::FLAGS];
        u16::from_ne_bytes([b[0], b[1]])
    }

    /// `tun_pi.proto` (big-endian on the wire).
    pub fn proto(&self) -> u16 {
        let b = &self.buffer.as_ref()[field::PROTO];
        u16::from_be_bytes([b[0], b[1]])
    }

    /// Whether the kernel marked the frame as cut short (`TUN_PKT_STRIP`).
    pub fn truncated(&self) -> bool {
        self.flags() & TUN_PKT_STRIP != 0
    }

    /// The frame after the header.
    pub fn payload(&self) -> &[u8] {
        &self.buffer.as_ref()[field::PAYLOAD..]
    }
}

impl<T: AsRef<[u8]> + AsMut<[u8]>> TunPi<T> {
    /// Sets `tun_pi.flags`.
    pub fn set_flags(&mut self, flags: u16) {
        self.buffer.as_mut()[field::FLAGS].copy_from_slice(&flags.to_ne_bytes());
    }

    /// Sets `tun_pi.proto`.
    pub fn set_proto(&mut self, proto: u16) {
        self.buffer.as_mut()[field::PROTO].copy_from_slice(&proto.to_be_bytes());
    }
}

/// The `proto` to write in front of an outgoing frame.
///
/// For a TAP device it is the frame's EtherType (bytes 12..14), or 0 for a runt frame;
/// for a TUN device it is derived from the IP version nibble.
///
/// ```
/// use pltap_core::frame::{tx_proto, Mode};
/// let mut arp = [0u8; 42];
/// arp[12] = 0x08; arp[13] = 0x06;
/// assert_eq!(tx_proto(&arp, Mode::Tap), 0x0806);
/// assert_eq!(tx_proto(&[0x60, 0, 0, 0], Mode::Tun), 0x86dd);
/// ```
pub fn tx_proto(frame: &[u8], mode: Mode) -> u16 {
    if mode == Mode::Tap {
        match frame.get(12..14) {
            Some(b) => u16::from_be_bytes([b[0], b[1]]),
            None => 0,
        }
    } else {
        match frame.first().map(|b| b >> 4) {
            Some(4) => ETH_P_IP,
            Some(6) => ETH_P_IPV6,
            _ => 0,
        }
    }
}

/// The 4-byte header to write in front of `frame`.
pub fn tx_header(frame: &[u8], mode: Mode) -> [u8; TUN_PI_LEN] {
    let mut hdr = [0u8; TUN_PI_LEN];
    let mut pi = TunPi::new_unchecked(&mut hdr[..]);
    pi.set_flags(0);
    pi.set_proto(tx_proto(frame, mode));
    hdr
}

/// Size of a receive buffer for a device with this MTU: the MTU plus the Ethernet and
/// VLAN headers for TAP, capped at [`MAX_FRAME`] (defect A16 used a fixed 1518).
pub fn rx_capacity(mtu: u32, mode: Mode) -> usize {
    let overhead = if mode == Mode::Tap { ETH_OVERHEAD } else { 0 };
    (mtu as usize + overhead).clamp(64, MAX_FRAME)
}

/// How many frames of up to `stride` bytes a receive burst may hold when `outstanding`
/// bytes of a budget of `max_bytes` are still held by the consumer: as many as fit in what
/// is left (at most `batch`), one when nothing is outstanding (so a budget smaller than a
/// frame still moves), and none when less than a frame is left (the reader waits).
///
/// ```
/// use pltap_core::frame::burst_frames;
/// assert_eq!(burst_frames(0, 4 << 20, 1518, 256), 256); // the batch is the limit
/// assert_eq!(burst_frames(0, 4 << 20, 65535, 256), 64); // 64 KiB frames: the bytes are
/// assert_eq!(burst_frames((4 << 20) - 100, 4 << 20, 65535, 256), 0);
/// ```
pub fn burst_frames(outstanding: usize, max_bytes: usize, stride: usize, batch: usize) -> usize {
    let free = max_bytes.saturating_sub(outstanding);
    if stride > 0 && free >= stride {
        (free / stride).min(batch)
    } else if outstanding == 0 {
        1.min(batch)
    } else {
        0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bursts_fit_in_what_the_byte_budget_leaves() {
        assert_eq!(burst_frames(0, 4 << 20, 1518, 256), 256);
        assert_eq!(burst_frames(0, 4 << 20, 65535, 256), 64);
        assert_eq!(burst_frames(60 * 65535, 4 << 20, 65535, 256), 4);
        assert_eq!(burst_frames((4 << 20) - 100, 4 << 20, 65535, 256), 0);
        assert_eq!(burst_frames(5 << 20, 4 << 20, 65535, 256), 0, "over budget: wait");
        assert_eq!(burst_frames(0, 1000, 65535, 256), 1, "nothing outstanding: one frame");
        assert_eq!(burst_frames(0, 1 << 20, 64, 0), 0, "no batch, no frames");
        // A burst never takes the outstanding bytes past the budget.
        for outstanding in [0, 1, 65534, 65535, 1 << 20, (4 << 20) - 65535] {
            let n = burst_frames(outstanding, 4 << 20, 65535, 256);
            assert!(outstanding + n * 65535 <= 4 << 20, "{outstanding}");
        }
    }

    // An ARP request as a TAP device delivers it with tun_pi in front (little-endian host).
    static RX_GOLDEN: [u8; 4 + 14] = [
        0x00, 0x00, 0x08, 0x06, // tun_pi: flags 0, proto ARP
        0xff, 0xff, 0xff, 0xff, 0xff, 0xff, // dst
        0x02, 0x00, 0x00, 0x00, 0x00, 0x01, // src
        0x08, 0x06, // EtherType
    ];

    #[test]
    fn deconstruct() {
        let pi = TunPi::new_checked(&RX_GOLDEN[..]).unwrap();
        assert_eq!(pi.flags(), 0);
        assert_eq!(pi.proto(), ETH_P_ARP);
        assert!(!pi.truncated());
        assert_eq!(pi.payload(), &RX_GOLDEN[4..]);
        assert!(TunPi::new_checked(&RX_GOLDEN[..3]).is_none());
    }

    #[test]
    fn strip_flag_is_detected() {
        let mut buf = RX_GOLDEN;
        TunPi::new_unchecked(&mut buf[..]).set_flags(TUN_PKT_STRIP);
        assert!(TunPi::new_unchecked(&buf[..]).truncated());
        assert_eq!(&buf[..2], &1u16.to_ne_bytes());
    }

    #[test]
    fn construct_tap() {
        let frame = &RX_GOLDEN[4..];
        assert_eq!(tx_header(frame, Mode::Tap), [0x00, 0x00, 0x08, 0x06]);
        let mut ipv4 = [0u8; 34];
        ipv4[12] = 0x08;
        assert_eq!(tx_header(&ipv4, Mode::Tap), [0, 0, 0x08, 0x00]);
        // A runt frame has no EtherType.
        assert_eq!(tx_header(&[1, 2, 3], Mode::Tap), [0, 0, 0, 0]);
        // The original's {0, 0x86} would be [0x86, 0x00, 0, 0] here: never again.
        assert_ne!(tx_header(frame, Mode::Tap), [0x00, 0x00, 0x86, 0x00]);
    }

    #[test]
    fn construct_tun() {
        assert_eq!(tx_header(&[0x45, 0, 0, 20], Mode::Tun), [0, 0, 0x08, 0x00]);
        assert_eq!(tx_header(&[0x60, 0, 0, 0], Mode::Tun), [0, 0, 0x86, 0xdd]);
        assert_eq!(tx_header(&[0x10], Mode::Tun), [0, 0, 0, 0]);
        assert_eq!(tx_header(&[], Mode::Tun), [0, 0, 0, 0]);
    }

    #[test]
    fn capacity_follows_mtu() {
        assert_eq!(rx_capacity(1500, Mode::Tap), 1518);
        assert_eq!(rx_capacity(1500, Mode::Tun), 1500);
        assert_eq!(rx_capacity(9000, Mode::Tap), 9018);
        assert_eq!(rx_capacity(70000, Mode::Tap), MAX_FRAME);
        assert_eq!(rx_capacity(0, Mode::Tun), 64);
    }
}
