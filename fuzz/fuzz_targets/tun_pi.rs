//! `struct tun_pi` framing: `pltap_core::frame::{TunPi, tx_header, tx_proto,
//! rx_capacity}` on arbitrary buffers, frames and MTUs.
//!
//! Invariants: never a panic (no out-of-bounds slicing); `new_checked` succeeds exactly
//! when `check_len` holds (at least 4 bytes); flags are host-endian, proto big-endian,
//! the payload is the rest of the buffer and `truncated` is `TUN_PKT_STRIP`; setters
//! round trip through the getters and touch only the header; `tx_header` is flags 0
//! and `tx_proto` (the EtherType of a TAP frame, from the IP version of a TUN frame);
//! `rx_capacity` is within 64..=65535 and fits the MTU plus the Ethernet overhead.
#![no_main]

use libfuzzer_sys::fuzz_target;
use pltap_core::Mode;
use pltap_core::frame::{ETH_OVERHEAD, ETH_P_IP, ETH_P_IPV6, MAX_FRAME, TUN_PI_LEN, TunPi, rx_capacity, tx_header, tx_proto};
use pltap_core::sys::linux::TUN_PKT_STRIP;

fuzz_target!(|data: &[u8]| {
    // Receive side: any buffer the kernel could hand back.
    let pi = TunPi::new_unchecked(data);
    let whole = pi.check_len();
    assert_eq!(whole, data.len() >= TUN_PI_LEN);
    assert_eq!(TunPi::new_checked(data).is_some(), whole);
    if let Some(pi) = TunPi::new_checked(data) {
        let flags = u16::from_ne_bytes([data[0], data[1]]);
        assert_eq!(pi.flags(), flags);
        assert_eq!(pi.proto(), u16::from_be_bytes([data[2], data[3]]));
        assert_eq!(pi.truncated(), flags & TUN_PKT_STRIP != 0);
        assert_eq!(pi.payload(), &data[TUN_PI_LEN..]);
        assert_eq!(pi.payload().len() + TUN_PI_LEN, data.len());
        assert_eq!(pi.into_inner(), data);

        // Setters write only the header and read back.
        let mut copy = data.to_vec();
        let mut w = TunPi::new_checked(&mut copy[..]).unwrap();
        let (f, p) = (u16::from_be_bytes([data[1], data[0]]), u16::from_le_bytes([data[3], data[2]]));
        w.set_flags(f);
        w.set_proto(p);
        assert_eq!((w.flags(), w.proto()), (f, p));
        assert_eq!(&copy[TUN_PI_LEN..], &data[TUN_PI_LEN..]);
    }

    // Transmit side: the header pltap writes in front of `data` as a frame.
    for mode in [Mode::Tap, Mode::Tun] {
        let tap = mode == Mode::Tap;
        let hdr = tx_header(data, mode);
        let pi = TunPi::new_checked(&hdr[..]).expect("tx_header is a whole header");
        assert_eq!(pi.flags(), 0);
        assert!(!pi.truncated());
        let proto = tx_proto(data, mode);
        assert_eq!(pi.proto(), proto);
        assert!(pi.payload().is_empty());
        let want = if tap {
            if data.len() >= 14 { u16::from_be_bytes([data[12], data[13]]) } else { 0 }
        } else {
            match data.first().map(|b| b >> 4) {
                Some(4) => ETH_P_IP,
                Some(6) => ETH_P_IPV6,
                _ => 0,
            }
        };
        assert_eq!(proto, want);
    }

    // Receive buffer size for an MTU taken from the first 4 bytes.
    if data.len() >= 4 {
        let mtu = u32::from_le_bytes([data[0], data[1], data[2], data[3]]);
        for mode in [Mode::Tap, Mode::Tun] {
            let tap = mode == Mode::Tap;
            let cap = rx_capacity(mtu, mode);
            assert!((64..=MAX_FRAME).contains(&cap), "rx_capacity({mtu}, {mode:?}) = {cap}");
            let need = u64::from(mtu) + if tap { ETH_OVERHEAD as u64 } else { 0 };
            assert!(cap as u64 >= need.min(MAX_FRAME as u64), "rx_capacity({mtu}, {mode:?}) = {cap} < {need}");
            assert!(cap as u64 == need.clamp(64, MAX_FRAME as u64));
            assert!(mtu == u32::MAX || rx_capacity(mtu + 1, mode) >= cap, "not monotonic at {mtu}");
        }
    }
});
