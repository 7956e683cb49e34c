//! `promisc` request parsing and validation in the helper
//! (`pltap_vsysd::scripts::parse_promisc` and `check_promisc_address`), against a slice
//! taken from the input.
//!
//! Invariants: never a panic; a refusal is one or more printable lines; an accepted
//! request names one of the slice's devices; "off" exactly when the request has two
//! lines and the second is `-`; the address check accepts exactly the addresses
//! inside the netblock (the device's address is taken from the request's last bytes:
//! see `pltap_fuzz::promisc_device_address`).
#![no_main]

use libfuzzer_sys::fuzz_target;
use pltap_core::vsys::promisc_request;
use pltap_fuzz::{check_refusal, is_slice_name, is_valid_ifname, passes_gate, script_lines, split_slice};
use pltap_vsysd::scripts::{check_promisc_address, parse_promisc};

fuzz_target!(|data: &[u8]| {
    let Some((slice, request)) = split_slice(data) else { return };
    let result = parse_promisc(request, &slice);
    assert_eq!(result, parse_promisc(request, &slice), "not deterministic");
    let p = match result {
        Ok(p) => p,
        Err(refusal) => return check_refusal(&refusal, request),
    };
    assert!(passes_gate(request), "accepted a request with a control character: {request:?}");
    let lines = script_lines(request).expect("accepted a request that is not UTF-8");
    let name = p.name.as_str();
    assert_eq!(name, lines[0]);
    assert!(is_slice_name(name, slice.uid), "{name:?} is not a device of slice {}", slice.uid);
    assert!(is_valid_ifname(name) && !p.name.is_template());
    assert_eq!(p.on, !(lines.len() == 2 && lines[1] == "-"));

    // The client's encoding parses back to the same request.
    let again = promisc_request(&p.name, p.on).expect("client refused a valid name");
    assert_eq!(parse_promisc(&again, &slice).as_ref(), Ok(&p));

    // The kernel-side check, with the address the device would have.
    let addr = pltap_fuzz::promisc_device_address(request);
    let mask = if slice.vnet.prefix() == 0 { 0 } else { !0u32 << (32 - u32::from(slice.vnet.prefix())) };
    let inside = addr.is_some_and(|a| (u32::from(a) ^ u32::from(slice.vnet.addr())) & mask == 0);
    match check_promisc_address(&p.name, addr, &slice) {
        Ok(()) => assert!(inside, "{addr:?} accepted outside {}", slice.vnet),
        Err(refusal) => {
            assert!(!inside, "{addr:?} refused inside {}", slice.vnet);
            check_refusal(&refusal, request);
        }
    }
});
