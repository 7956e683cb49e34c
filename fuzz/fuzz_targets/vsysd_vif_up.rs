//! `vif_up` request parsing and validation in the helper
//! (`pltap_vsysd::scripts::parse_vif_up`), against a slice taken from the input.
//!
//! Invariants: never a panic; a refusal is one or more printable lines; an accepted
//! request names one of the slice's devices (`^(tun|tap)<uid>-\d+$`, at most 15
//! bytes), sets an address inside the slice's netblock with a prefix in 8..=32 no
//! shorter than the netblock's, carries options only within their documented ranges,
//! and says the same thing once rebuilt by the client's `vif_up_request`.
#![no_main]

use libfuzzer_sys::fuzz_target;
use pltap_core::vsys::{VifOption, vif_up_request};
use pltap_fuzz::{check_refusal, is_slice_name, is_valid_ifname, passes_gate, script_lines, split_slice};
use pltap_vsysd::scripts::parse_vif_up;
use std::net::Ipv4Addr;

fn inside(addr: Ipv4Addr, net: Ipv4Addr, prefix: u8) -> bool {
    let mask = if prefix == 0 { 0 } else { !0u32 << (32 - u32::from(prefix)) };
    (u32::from(addr) ^ u32::from(net)) & mask == 0
}

fuzz_target!(|data: &[u8]| {
    let Some((slice, request)) = split_slice(data) else { return };
    let result = parse_vif_up(request, &slice);
    assert_eq!(result, parse_vif_up(request, &slice), "not deterministic");
    let up = match result {
        Ok(up) => up,
        Err(refusal) => return check_refusal(&refusal, request),
    };
    assert!(passes_gate(request), "accepted a request with a control character: {request:?}");
    let lines = script_lines(request).expect("accepted a request that is not UTF-8");
    assert!(lines.len() >= 3);

    let name = up.name.as_str();
    assert_eq!(name, lines[0]);
    assert!(is_slice_name(name, slice.uid), "{name:?} is not a device of slice {}", slice.uid);
    assert!(is_valid_ifname(name) && !up.name.is_template());

    assert_eq!(up.net.addr().to_string(), lines[1], "the address is not the dotted quad sent");
    assert_eq!(lines[1].parse::<Ipv4Addr>().ok(), Some(up.net.addr()));
    assert!(inside(up.net.addr(), slice.vnet.addr(), slice.vnet.prefix()), "{} outside {}", up.net.addr(), slice.vnet);
    let prefix = up.net.prefix();
    assert!((8..=32).contains(&prefix) && prefix >= slice.vnet.prefix(), "prefix /{prefix} for {}", slice.vnet);
    assert!(lines[2].bytes().all(|b| b.is_ascii_digit()) && lines[2].parse::<u32>() == Ok(u32::from(prefix)));

    assert!(up.txqueuelen.is_none_or(|n| (1..=10000).contains(&n)));
    assert!(up.mtu.is_none_or(|n| (1..=65535).contains(&n)));
    for note in &up.notes {
        assert!(note.starts_with("Note: ") && !note.contains('\n') && !note.chars().any(char::is_control));
    }
    // Each option line is `name=value` with exactly one `=`; the last of a kind wins.
    let (mut rp, mut txq, mut mtu) = (None, None, None);
    for line in lines[3..].iter().filter(|l| !l.is_empty()) {
        let (opt, val) = line.split_once('=').expect("accepted an option line without '='");
        assert!(!val.contains('='));
        match opt {
            "rp_filter" => rp = Some(val == "1"),
            "txqueuelen" => txq = val.parse().ok(),
            "mtu" => mtu = val.parse().ok(),
            "snat" | "dropkern" | "vswitch" | "remote" => {}
            other => panic!("accepted option {other:?}"),
        }
    }
    assert_eq!((up.rp_filter, up.txqueuelen, up.mtu), (rp, txq, mtu));

    // The client's encoding of the same request parses back to the same request.
    let mut opts = Vec::new();
    if let Some(on) = up.rp_filter {
        opts.push(VifOption::new("rp_filter", if on { "1" } else { "0" }).unwrap());
    }
    if let Some(n) = up.txqueuelen {
        opts.push(VifOption::new("txqueuelen", &n.to_string()).unwrap());
    }
    if let Some(n) = up.mtu {
        opts.push(VifOption::new("mtu", &n.to_string()).unwrap());
    }
    let again = vif_up_request(&up.name, up.net, &opts).expect("client refused a valid request");
    let back = parse_vif_up(&again, &slice).expect("helper refused the client's encoding");
    assert_eq!((back.name, back.net, back.rp_filter, back.txqueuelen, back.mtu), (up.name, up.net, up.rp_filter, up.txqueuelen, up.mtu));
    assert!(back.notes.is_empty());
});
