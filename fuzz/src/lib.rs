//! Shared pieces of the pltap fuzz targets: how a fuzz input becomes a slice and a
//! request, and independent re-statements of the invariants the parsers promise.
//!
//! The checks here are written from the documentation (the vsys protocol and the doc
//! comments of `pltap_vsysd::scripts`), not from the parsers' code, so a parser that
//! drifts from its documentation fails a target.

use pltap_core::vsys::{MAX_REPLY, ReplyKind};
use pltap_core::{IfName, Ipv4Net};
use pltap_vsysd::Slice;
use std::net::Ipv4Addr;

pub mod vnet;

/// Length of the slice header in front of a `vsysd_*` target's request.
pub const SLICE_HEADER: usize = 9;

/// Splits a `vsysd_*` input into the slice it is checked against and the request
/// bytes:
///
/// ```text
/// 0        4           8        9
/// +--------+-----------+--------+------------------
/// | uid    | vnet addr | prefix | request (the bytes written to S.in)
/// +--------+-----------+--------+------------------
///  u32 LE   4 octets     % 33
/// ```
///
/// `None` when the input is shorter than the header.
pub fn split_slice(data: &[u8]) -> Option<(Slice, &[u8])> {
    if data.len() < SLICE_HEADER {
        return None;
    }
    let uid = u32::from_le_bytes([data[0], data[1], data[2], data[3]]);
    let addr = Ipv4Addr::new(data[4], data[5], data[6], data[7]);
    let vnet = Ipv4Net::new(addr, data[8] % 33).expect("a prefix of at most 32 is valid");
    Some((Slice { uid, vnet }, &data[SLICE_HEADER..]))
}

/// The inverse of [`split_slice`], used to write seeds.
pub fn join_slice(slice: &Slice, request: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(SLICE_HEADER + request.len());
    out.extend_from_slice(&slice.uid.to_le_bytes());
    out.extend_from_slice(&slice.vnet.addr().octets());
    out.push(slice.vnet.prefix());
    out.extend_from_slice(request);
    out
}

/// `^(tun|tap)<uid>-\d+$` (ASCII digits) and at most 15 bytes: the only names a slice
/// may touch.
pub fn is_slice_name(name: &str, uid: u32) -> bool {
    let Some(rest) = name.strip_prefix("tun").or_else(|| name.strip_prefix("tap")) else {
        return false;
    };
    let Some((id, number)) = rest.split_once('-') else {
        return false;
    };
    name.len() <= 15
        && id == uid.to_string()
        && !number.is_empty()
        && number.bytes().all(|b| b.is_ascii_digit())
}

/// The request's lines as the scripts see them: split after each `\n`, each trimmed of
/// ASCII whitespace (Python's `map(string.strip, sys.stdin.readlines())`). `None` if the
/// request is not UTF-8.
pub fn script_lines(request: &[u8]) -> Option<Vec<&str>> {
    let text = std::str::from_utf8(request).ok()?;
    Some(text.split_inclusive('\n').map(|l| l.trim_matches(|c: char| c.is_ascii_whitespace())).collect())
}

/// Whether the request could pass the helper's first gate: at most
/// `pltap_vsysd::scripts::MAX_REQUEST` bytes, UTF-8, and no control character other
/// than the `\n` line separators.
pub fn passes_gate(request: &[u8]) -> bool {
    request.len() <= pltap_vsysd::scripts::MAX_REQUEST
        && std::str::from_utf8(request).is_ok_and(|t| t.chars().all(|c| c == '\n' || !c.is_control()))
}

/// A refusal is what the helper writes back to the slice: one or more non-empty lines,
/// each ending with `\n` and free of control characters (so it cannot forge a reply
/// line or a terminal escape). It echoes at most one field of the request, so it is
/// never much longer than the request.
pub fn check_refusal(refusal: &str, request: &[u8]) {
    assert!(refusal.ends_with('\n'), "refusal {refusal:?} does not end with a newline");
    let body = &refusal[..refusal.len() - 1];
    for line in body.split('\n') {
        assert!(!line.is_empty(), "refusal {refusal:?} has an empty line");
        assert!(!line.chars().any(char::is_control), "refusal {refusal:?} has a control character");
    }
    assert!(
        refusal.len() <= request.len() + 256,
        "refusal of {} bytes for a request of {} bytes",
        refusal.len(),
        request.len()
    );
}

/// The IPv4 address the `vsysd_promisc` target pretends the device has: none when the
/// request ends with a newline (the device had no `vif_up`), otherwise its last 4 bytes.
pub fn promisc_device_address(request: &[u8]) -> Option<Ipv4Addr> {
    match request {
        [.., b'\n'] => None,
        [.., a, b, c, d] => Some(Ipv4Addr::new(*a, *b, *c, *d)),
        _ => None,
    }
}

/// Whether `name` may be an interface name, restated from `IfName`'s documentation:
/// 1 to 15 bytes, no NUL, `/`, `:`, whitespace or control character, not `.` or `..`,
/// and at most one `%`, which must start a `%d` template.
pub fn is_valid_ifname(name: &str) -> bool {
    let percents = name.matches('%').count();
    (1..=15).contains(&name.len())
        && name != "."
        && name != ".."
        && !name.chars().any(|c| c == '\0' || c == '/' || c == ':' || c.is_whitespace() || c.is_control())
        && (percents == 0 || (percents == 1 && name.contains("%d")))
}

/// Splits a `vsys_fd_tuntap_reply` input into the reply `decode_reply` is given:
///
/// ```text
/// 0         1
/// +---------+-----------------
/// | outcome | payload (the bytes received until EOF)
/// +---------+-----------------
/// ```
///
/// `outcome` bit 7 is `control_truncated`; bits 0..7, `n`, give the descriptor count:
/// `n & 1` (0 or 1) below 64, `n - 62` (2 to 65) from 64 up. `None` for an empty input.
pub fn split_reply(data: &[u8]) -> Option<(&[u8], usize, bool)> {
    let (&outcome, payload) = data.split_first()?;
    let n = outcome & 0x7f;
    let fds = if n < 64 { usize::from(n & 1) } else { usize::from(n) - 62 };
    Some((payload, fds, outcome & 0x80 != 0))
}

/// The inverse of [`split_reply`] for 0 to 65 descriptors, used to write seeds.
pub fn join_reply(payload: &[u8], fds: usize, control_truncated: bool) -> Vec<u8> {
    assert!(fds <= 65);
    let n = if fds < 2 { fds as u8 } else { fds as u8 + 62 };
    let mut out = vec![n | if control_truncated { 0x80 } else { 0 }];
    out.extend_from_slice(payload);
    out
}

/// What `pltap_core::vsys::decode_reply` should make of a reply, restated from its
/// documentation: `None` for an error.
///
/// * a device: no truncation, exactly one descriptor, and a payload of 1..=15 name
///   bytes and one final NUL (no other NUL) that are a valid interface name
///   ([`is_valid_ifname`]) and not a `%d` template;
/// * a refusal: no truncation, no descriptor, and either no payload (no reason) or a
///   text of at most `MAX_REPLY` bytes: UTF-8, no NUL, no control character other than
///   `\n` and `\t`, ending in `\n`; the reason is the text without its final newlines.
pub fn expected_reply(payload: &[u8], fds: usize, control_truncated: bool) -> Option<ReplyKind> {
    if control_truncated {
        return None;
    }
    match fds {
        1 => {
            let (&last, name) = payload.split_last()?;
            let name = std::str::from_utf8(name).ok()?;
            (last == 0 && !name.contains('\0') && is_valid_ifname(name) && !name.contains("%d"))
                .then(|| ReplyKind::Device { name: IfName::new(name).expect("a valid name") })
        }
        0 if payload.is_empty() => Some(ReplyKind::Refused { reason: None }),
        0 => {
            let text = std::str::from_utf8(payload).ok()?;
            let printable = !text.chars().any(|c| c.is_control() && c != '\n' && c != '\t');
            (payload.len() <= MAX_REPLY && printable && text.ends_with('\n'))
                .then(|| ReplyKind::Refused { reason: Some(text.trim_end_matches('\n').to_string()) })
        }
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn header_round_trips() {
        let s = Slice { uid: 1000, vnet: Ipv4Net::new(Ipv4Addr::new(198, 18, 0, 0), 16).unwrap() };
        let data = join_slice(&s, b"tap1000-0\n");
        assert_eq!(split_slice(&data), Some((s, &b"tap1000-0\n"[..])));
        assert_eq!(split_slice(&data[..8]), None);
    }

    #[test]
    fn names() {
        assert!(is_slice_name("tap1000-0", 1000));
        assert!(is_slice_name("tun0-123", 0));
        assert!(!is_slice_name("tap1000-", 1000));
        assert!(!is_slice_name("tap1000-0-1", 1000));
        assert!(!is_slice_name("tap01000-0", 1000));
        assert!(!is_slice_name("tap1000-01234567", 1000));
        assert!(is_valid_ifname("tap%d") && !is_valid_ifname("%d%d") && !is_valid_ifname("a b"));
    }

    #[test]
    fn reply_header_round_trips() {
        for fds in 0..=65 {
            for truncated in [false, true] {
                let data = join_reply(b"tap1000-0\0", fds, truncated);
                assert_eq!(split_reply(&data), Some((&b"tap1000-0\0"[..], fds, truncated)));
            }
        }
        for outcome in 0..=255u8 {
            let (_, fds, truncated) = split_reply(&[outcome]).unwrap();
            assert_eq!(join_reply(b"", fds, truncated)[0] & 0x80, outcome & 0x80);
            assert_eq!(truncated, outcome & 0x80 != 0);
        }
        assert_eq!(split_reply(b""), None);
    }
}
