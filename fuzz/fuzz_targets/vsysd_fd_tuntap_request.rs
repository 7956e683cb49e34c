//! The helper's parser of the 4-byte `fd_tuntap` request,
//! `pltap_vsysd::tuntap::parse_request` (bytes the slice sends), and its refusal text,
//! `pltap_vsysd::tuntap::refusal`, as the client decodes it.
//!
//! Invariants: never a panic; accepted exactly for 4 bytes that are the native-endian
//! `i32` `IFF_TUN` (1, `Mode::Tun`) or `IFF_TAP` (2, `Mode::Tap`), as PlanetLab's
//! `fd_tuntap.c` (so `IFF_TAP | IFF_NO_PI` is refused); the accepted mode's
//! `tun_flag()` is the value sent and encodes back to the same request; a refusal has a
//! message. `refusal(why)`, for the parser's message and for the input as text, is at
//! most `MAX_REPLY` bytes, and `pltap_core::vsys::decode_reply` reads it (no
//! descriptor) as `Refused` with reason `refused: <why>`, control characters turned
//! into spaces, cut at a character boundary to fit.
//!
//! The flags extension, `parse_request_ext` (what the helper really serves): accepted
//! exactly for a 4-byte word whose bits other than `IFF_VNET_HDR` are `IFF_TUN` or
//! `IFF_TAP`, with `vnet_hdr` saying whether that bit was set; an old client's request
//! (1 or 2) means what `parse_request` says, with no vnet header; a refusal has a message
//! that round-trips like the old parser's.
#![no_main]

use libfuzzer_sys::fuzz_target;
use pltap_core::Mode;
use pltap_core::vsys::{MAX_REPLY, ReplyKind, decode_reply};
use pltap_vsysd::tuntap::{IFF_VNET_HDR, Request, parse_request, parse_request_ext, refusal};

/// `refusal(why)` decodes back to the documented reason.
fn check_refusal_round_trip(why: &str) {
    let bytes = refusal(why);
    assert!(bytes.len() <= MAX_REPLY, "a refusal of {} bytes", bytes.len());
    assert!(bytes.ends_with(b"\n") && bytes.starts_with(b"refused: "));
    let mut text: String = why.chars().map(|c| if c.is_control() { ' ' } else { c }).collect();
    let room = MAX_REPLY - "refused: \n".len();
    while text.len() > room {
        text.pop();
    }
    let want = format!("refused: {text}");
    assert_eq!(
        decode_reply(&bytes, 0, false),
        Ok(ReplyKind::Refused { reason: Some(want) }),
        "refusal({why:?}) does not decode back"
    );
    if text == why {
        assert_eq!(bytes, format!("refused: {why}\n").into_bytes(), "a printable reason that fits was changed");
    }
}

fuzz_target!(|data: &[u8]| {
    let word = <[u8; 4]>::try_from(data).ok().map(i32::from_ne_bytes);
    match parse_request(data) {
        Ok(mode) => {
            let want = match word {
                Some(1) => Mode::Tun,
                Some(2) => Mode::Tap,
                _ => panic!("accepted {data:?}"),
            };
            assert_eq!(mode, want);
            assert_eq!(word, Some(i32::from(mode.tun_flag())));
            assert_eq!(parse_request(&i32::from(mode.tun_flag()).to_ne_bytes()), Ok(mode));
        }
        Err(msg) => {
            assert!(!matches!(word, Some(1 | 2)), "refused {data:?}: {msg}");
            assert!(!msg.is_empty());
            check_refusal_round_trip(&msg);
        }
    }
    for mode in [Mode::Tun, Mode::Tap] {
        assert_eq!(parse_request(&i32::from(mode.tun_flag()).to_ne_bytes()), Ok(mode));
    }
    match parse_request_ext(data) {
        Ok(Request { mode, vnet_hdr }) => {
            let v = word.unwrap_or_else(|| panic!("the extension accepted {data:?}"));
            assert_eq!(vnet_hdr, v & IFF_VNET_HDR != 0, "vnet_hdr of {v:#x}");
            let want = match v & !IFF_VNET_HDR {
                1 => Mode::Tun,
                2 => Mode::Tap,
                other => panic!("the extension accepted {v:#x} (type {other:#x})"),
            };
            assert_eq!(mode, want);
            if !vnet_hdr {
                assert_eq!(parse_request(data), Ok(mode), "an old client's request means what it always did");
            }
        }
        Err(msg) => {
            assert!(!matches!(word.map(|v| v & !IFF_VNET_HDR), Some(1 | 2)), "the extension refused {data:?}: {msg}");
            assert!(parse_request(data).is_err(), "the extension refused what the old parser takes: {data:?}");
            assert!(!msg.is_empty());
            check_refusal_round_trip(&msg);
        }
    }
    check_refusal_round_trip(&String::from_utf8_lossy(data));
});
