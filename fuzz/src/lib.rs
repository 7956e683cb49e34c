//! Shared pieces of the pltap fuzz targets: how a fuzz input becomes a slice and a
//! request, and independent re-statements of the invariants the parsers promise.
//!
//! The checks here are written from the documentation (the vsys protocol and the doc
//! comments of `pltap_vsysd::scripts`), not from the parsers' code, so a parser that
//! drifts from its documentation fails a target.

use pltap_core::Ipv4Net;
use pltap_vsysd::Slice;
use std::net::Ipv4Addr;

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
    let prefix = data[8] % 33;
    Some((Slice { uid, vnet: Ipv4Net { addr, prefix } }, &data[SLICE_HEADER..]))
}

/// The inverse of [`split_slice`], used to write seeds.
pub fn join_slice(slice: &Slice, request: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(SLICE_HEADER + request.len());
    out.extend_from_slice(&slice.uid.to_le_bytes());
    out.extend_from_slice(&slice.vnet.addr.octets());
    out.push(slice.vnet.prefix);
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn header_round_trips() {
        let s = Slice { uid: 1000, vnet: Ipv4Net { addr: Ipv4Addr::new(198, 18, 0, 0), prefix: 16 } };
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
}
