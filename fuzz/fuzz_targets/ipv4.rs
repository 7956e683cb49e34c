//! IPv4 addresses and prefixes: `pltap_core::config::{parse_local_ip, local_netmask}`
//! (the port's `local_ip` / `local_netmask`), `Prefix::new`, `Ipv4Net::new` and
//! `pltap_vsysd::cli::parse_vnet` (`--vnet a.b.c.d/len`, `Ipv4Net`'s `FromStr`).
//!
//! Invariants: never a panic; an accepted value's canonical string re-parses to the
//! same value; `parse_local_ip` agrees with std's strict `Ipv4Addr` parser and only
//! accepts canonical dotted quads; `local_netmask` accepts exactly the integers 1..=32
//! and `Prefix::new` exactly 0..=32, each giving the same integer back (tried on the
//! input as decimal text and on its first 8 bytes as an `i64`); `Ipv4Net::new` accepts
//! exactly prefixes up to 32 and keeps both parts; `parse_vnet` accepts exactly
//! `<std dotted quad>/<1 or 2 digits, no leading zero, at most 32>`.
#![no_main]

use libfuzzer_sys::fuzz_target;
use pltap_core::config::{local_netmask, parse_local_ip};
use pltap_core::{Ipv4Net, Prefix};
use pltap_vsysd::cli::parse_vnet;
use std::net::Ipv4Addr;

/// `local_netmask` and `Prefix::new` on one integer.
fn check_prefix(n: i64) {
    match local_netmask(n) {
        Ok(p) => {
            assert!((1..=32).contains(&n), "local_netmask accepted {n}");
            assert_eq!(i64::from(p.get()), n);
        }
        Err(e) => {
            assert!(!(1..=32).contains(&n), "local_netmask refused {n}: {e}");
            assert_eq!(e.code(), "ERR_INVALID_ARG_VALUE");
        }
    }
    match Prefix::new(n) {
        Ok(p) => {
            assert!((0..=32).contains(&n), "Prefix::new accepted {n}");
            assert_eq!(i64::from(p.get()), n);
            assert_eq!(u32::from(p.netmask()).leading_ones(), u32::from(p.get()));
            assert_eq!(u32::from(p.netmask()).count_ones(), u32::from(p.get()), "netmask not contiguous");
        }
        Err(e) => {
            assert!(!(0..=32).contains(&n), "Prefix::new refused {n}: {e}");
            assert_eq!(e.code(), "ERR_INVALID_ARG_VALUE");
        }
    }
}

fuzz_target!(|data: &[u8]| {
    if data.len() >= 8 {
        check_prefix(i64::from_le_bytes(data[..8].try_into().unwrap()));
    }
    if data.len() >= 5 {
        let addr = Ipv4Addr::new(data[0], data[1], data[2], data[3]);
        match Ipv4Net::new(addr, data[4]) {
            Ok(net) => {
                assert!(data[4] <= 32);
                assert_eq!((net.addr(), net.prefix()), (addr, data[4]));
                assert_eq!(net.to_string().parse::<Ipv4Net>().ok(), Some(net));
                assert!(net.contains(addr) && net.contains(net.network()));
            }
            Err(e) => {
                assert!(data[4] > 32, "Ipv4Net::new refused /{}: {e}", data[4]);
                assert_eq!(e.code(), "ERR_INVALID_ARG_VALUE");
            }
        }
    }

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

    if let Ok(n) = s.parse::<i64>() {
        check_prefix(n);
    }

    let expected = s.split_once('/').and_then(|(a, p)| {
        let addr = a.parse::<Ipv4Addr>().ok()?;
        let ok = (1..=2).contains(&p.len())
            && p.bytes().all(|b| b.is_ascii_digit())
            && (p.len() == 1 || !p.starts_with('0'));
        let prefix: u8 = if ok { p.parse().ok()? } else { return None };
        (prefix <= 32).then_some((addr, prefix))
    });
    match parse_vnet(s) {
        Ok(net) => {
            assert!(net.prefix() <= 32);
            assert_eq!(Some((net.addr(), net.prefix())), expected, "accepted {s:?}");
            assert_eq!(net.to_string(), s, "accepted a non-canonical netblock");
            assert_eq!(parse_vnet(&net.to_string()), Ok(net), "{net} does not re-parse");
        }
        Err(msg) => {
            assert_eq!(expected, None, "refused {s:?}: {msg}");
            assert!(msg.starts_with("invalid --vnet "));
        }
    }
});
