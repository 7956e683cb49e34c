//! `vif_down` request parsing and validation in the helper
//! (`pltap_vsysd::scripts::parse_vif_down`), against a slice taken from the input.
//!
//! Invariants: never a panic; a refusal is one or more printable lines; an accepted
//! request names one of the slice's devices and `delete` is what the last
//! `delete=0|1` line said (no other option is accepted).
#![no_main]

use libfuzzer_sys::fuzz_target;
use pltap_core::vsys::vif_down_request;
use pltap_fuzz::{check_refusal, is_slice_name, is_valid_ifname, passes_gate, script_lines, split_slice};
use pltap_vsysd::scripts::parse_vif_down;

fuzz_target!(|data: &[u8]| {
    let Some((slice, request)) = split_slice(data) else { return };
    let result = parse_vif_down(request, &slice);
    assert_eq!(result, parse_vif_down(request, &slice), "not deterministic");
    let down = match result {
        Ok(down) => down,
        Err(refusal) => return check_refusal(&refusal, request),
    };
    assert!(passes_gate(request), "accepted a request with a control character: {request:?}");
    let lines = script_lines(request).expect("accepted a request that is not UTF-8");
    let name = down.name.as_str();
    assert_eq!(name, lines[0]);
    assert!(is_slice_name(name, slice.uid), "{name:?} is not a device of slice {}", slice.uid);
    assert!(is_valid_ifname(name) && !down.name.is_template());
    let mut delete = false;
    for line in lines[1..].iter().filter(|l| !l.is_empty()) {
        delete = match *line {
            "delete=0" => false,
            "delete=1" => true,
            other => panic!("accepted option line {other:?}"),
        };
    }
    assert_eq!(down.delete, delete);
    // The client's encoding parses back to the same device.
    let again = vif_down_request(&down.name).expect("client refused a valid name");
    let back = parse_vif_down(&again, &slice).expect("helper refused the client's encoding");
    assert_eq!((back.name, back.delete), (down.name, false));
});
