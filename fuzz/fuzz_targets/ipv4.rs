//! IPv4 addresses and prefixes: `pltap_core::state::parse_local_ip` and
//! `parse_local_netmask` (the port's `local_ip` / `local_netmask`) and
//! `pltap_vsysd::cli::parse_vnet` (`--vnet a.b.c.d/len`).
//!
//! Invariants: never a panic; an accepted value's canonical string re-parses to the
//! same value; `parse_local_ip` agrees with std's strict `Ipv4Addr` parser and only
//! accepts canonical dotted quads; `parse_local_netmask` accepts exactly "1".."32";
//! `parse_vnet` accepts exactly `<std dotted quad>/<1 or 2 digits, at most 32>`.
#![no_main]

use libfuzzer_sys::fuzz_target;
use pltap_core::state::{parse_local_ip, parse_local_netmask};
use pltap_vsysd::cli::parse_vnet;
use std::net::Ipv4Addr;

fuzz_target!(|data: &[u8]| {
    let Ok(s) = std::str::from_utf8(data) else { return };

    let std_ip = s.parse::<Ipv4Addr>().ok();
    match parse_local_ip(s) {
        Ok(ip) => {
            assert_eq!(ip.to_string(), s, "accepted a non-canonical address");
            assert_eq!(parse_local_ip(&ip.to_string()).ok(), Some(ip));
            assert_eq!(std_ip, Some(ip), "std disagrees on {s:?}");
        }
        Err(e) => {
            assert_eq!(std_ip, None, "refused {s:?}, which std parses: {e}");
            assert_eq!(e.code(), "ERR_INVALID_ARG_VALUE");
        }
    }

    let canonical_prefix = (1u8..=32).find(|p| p.to_string() == s);
    match parse_local_netmask(s) {
        Ok(p) => {
            assert_eq!(Some(p), canonical_prefix, "accepted {s:?} as /{p}");
            assert_eq!(parse_local_netmask(&p.to_string()).ok(), Some(p));
        }
        Err(e) => {
            assert_eq!(canonical_prefix, None, "refused {s:?}: {e}");
            assert_eq!(e.code(), "ERR_INVALID_ARG_VALUE");
        }
    }

    let expected = s.split_once('/').and_then(|(a, p)| {
        let addr = a.parse::<Ipv4Addr>().ok()?;
        let ok = (1..=2).contains(&p.len()) && p.bytes().all(|b| b.is_ascii_digit());
        let prefix: u8 = if ok { p.parse().ok()? } else { return None };
        (prefix <= 32).then_some((addr, prefix))
    });
    match parse_vnet(s) {
        Ok(net) => {
            assert!(net.prefix <= 32);
            assert_eq!(Some((net.addr, net.prefix)), expected, "accepted {s:?}");
            assert_eq!(parse_vnet(&net.to_string()), Ok(net), "{net} does not re-parse");
        }
        Err(msg) => {
            assert_eq!(expected, None, "refused {s:?}: {msg}");
            assert!(msg.starts_with("invalid --vnet "));
        }
    }
});
