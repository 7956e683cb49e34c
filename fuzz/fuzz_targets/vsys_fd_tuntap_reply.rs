//! The client's decoder of an `fd_tuntap` reply, `pltap_core::vsys::decode_reply`:
//! the payload bytes the helper sent, how many `SCM_RIGHTS` descriptors came with
//! them and whether the control data was truncated (`MSG_CTRUNC`).
//!
//! Input: byte 0 gives the outcome (bit 7: `control_truncated`; bits 0..7: below 64
//! their low bit is the descriptor count, 0 or 1, from 64 up `n - 62` descriptors, 2 to
//! 65), the rest is the payload.
//!
//! Invariants, restated from `decode_reply`'s documentation (`pltap_fuzz::expected_reply`):
//! never a panic; `Device` exactly when there is one descriptor, no truncation and the
//! payload is a valid, non-template `IfName` of 1..=15 bytes followed by its only NUL;
//! `Refused` exactly when there is no descriptor, no truncation and the payload is
//! empty (no reason) or a refusal text (UTF-8, at most `MAX_REPLY` bytes, no NUL, no
//! control character but `\n` and `\t`, ending in `\n`), the reason being the text
//! without its final newlines; everything else (two or more descriptors, a truncated
//! control message, a name without a descriptor, ...) is an error with a message.
//! Deterministic.
#![no_main]

use libfuzzer_sys::fuzz_target;
use pltap_core::vsys::{MAX_REPLY, ReplyKind, decode_reply};
use pltap_fuzz::{expected_reply, is_valid_ifname, split_reply};

fuzz_target!(|data: &[u8]| {
    let Some((payload, fds, truncated)) = split_reply(data) else { return };
    let got = decode_reply(payload, fds, truncated);
    assert_eq!(got, decode_reply(payload, fds, truncated), "not deterministic");
    let want = expected_reply(payload, fds, truncated);
    match &got {
        Ok(ReplyKind::Device { name }) => {
            assert!(fds == 1 && !truncated, "a device with {fds} descriptor(s), truncated: {truncated}");
            assert_eq!(payload.last(), Some(&0));
            assert_eq!(payload.iter().filter(|b| **b == 0).count(), 1, "a name with inner NULs: {payload:?}");
            assert_eq!(name.as_str().as_bytes(), &payload[..payload.len() - 1]);
            assert!(is_valid_ifname(name.as_str()) && !name.is_template());
        }
        Ok(ReplyKind::Refused { reason }) => {
            assert!(fds == 0 && !truncated, "a refusal with {fds} descriptor(s), truncated: {truncated}");
            match reason {
                None => assert!(payload.is_empty()),
                Some(r) => {
                    assert!(r.len() < payload.len() && payload.len() <= MAX_REPLY);
                    assert!(!r.ends_with('\n') && !r.chars().any(|c| c.is_control() && c != '\n' && c != '\t'));
                    assert!(payload.starts_with(r.as_bytes()) && payload[r.len()..].iter().all(|b| *b == b'\n'));
                }
            }
        }
        Err(detail) => assert!(!detail.is_empty()),
    }
    assert_eq!(got.as_ref().ok(), want.as_ref(), "decode_reply({payload:?}, {fds}, {truncated}) = {got:?}");
});
