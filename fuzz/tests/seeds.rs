//! The seed corpus says what it holds: every `ok-*` seed of a labelled target is
//! accepted and every `bad-*` seed refused, so the fuzzer starts from both sides of
//! each check. `cargo +nightly test --manifest-path fuzz/Cargo.toml`.

use pltap_core::vsys::decode_reply;
use pltap_fuzz::{expected_reply, split_reply, split_slice};
use pltap_vsysd::scripts::{parse_promisc, parse_vif_down, parse_vif_up};
use pltap_vsysd::tuntap::parse_request;
use std::path::Path;

/// Checks every labelled seed of `target` with `parse` (`Ok` = accepted) and returns
/// how many there were.
fn check_inputs(target: &str, parse: impl Fn(&[u8]) -> Result<(), String>) -> usize {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("corpus").join(target);
    let mut seen = 0;
    for entry in std::fs::read_dir(&dir).unwrap() {
        let path = entry.unwrap().path();
        let name = path.file_name().unwrap().to_str().unwrap().to_string();
        let data = std::fs::read(&path).unwrap();
        let got = parse(&data);
        if name.starts_with("ok-") {
            assert!(got.is_ok(), "{target}/{name} refused: {got:?}");
            seen += 1;
        } else if name.starts_with("bad-") {
            assert!(got.is_err(), "{target}/{name} accepted");
            seen += 1;
        }
    }
    assert!(seen > 5, "{target}: only {seen} labelled seeds");
    seen
}

fn check(target: &str, parse: impl Fn(&[u8], &pltap_vsysd::Slice) -> Result<(), String>) {
    check_inputs(target, |data| {
        let (slice, request) = split_slice(data).unwrap();
        parse(request, &slice)
    });
}

#[test]
fn vsysd_seeds_are_labelled_right() {
    check("vsysd_vif_up", |r, s| parse_vif_up(r, s).map(drop));
    check("vsysd_vif_down", |r, s| parse_vif_down(r, s).map(drop));
    check("vsysd_promisc", |r, s| parse_promisc(r, s).map(drop));
}

#[test]
fn fd_tuntap_request_seeds_are_labelled_right() {
    let n = check_inputs("vsysd_fd_tuntap_request", |data| parse_request(data).map(drop));
    assert!(n >= 10, "{n} seeds");
}

#[test]
fn fd_tuntap_reply_seeds_are_labelled_right() {
    let n = check_inputs("vsys_fd_tuntap_reply", |data| {
        let (payload, fds, truncated) = split_reply(data).unwrap();
        let got = decode_reply(payload, fds, truncated);
        // The target's model agrees on every seed, too.
        assert_eq!(got.as_ref().ok(), expected_reply(payload, fds, truncated).as_ref(), "{data:?}");
        got.map(drop)
    });
    assert!(n >= 20, "{n} seeds");
}

#[test]
fn vnet_seeds_are_labelled_right() {
    use pltap_core::offload::{VnetHdr, split, validate};
    use pltap_fuzz::vnet::{check_finished, split_input};
    let n = check_inputs("vnet", |data| {
        let input = split_input(data).ok_or("shorter than the prefix")?;
        let hdr = VnetHdr::decode(&input.hdr_bytes).map_err(|e| e.to_string())?;
        validate(&hdr, input.frame, input.l2, &input.limits).map_err(|e| e.to_string())?;
        // Accepted seeds split into checksum-valid frames (the target's starting point).
        let (mut out, mut lens) = (Vec::new(), Vec::new());
        split(&hdr, input.frame, input.l2, &mut out, &mut lens).map_err(|e| e.to_string())?;
        let mut off = 0;
        for &l in &lens {
            let f = &out[off..off + l as usize];
            off += l as usize;
            if hdr.is_gso() || hdr.needs_csum() {
                check_finished(f, input.l2)?; // the seeds' IPv4 header checksums are right too
            }
        }
        Ok(())
    });
    assert!(n >= 20, "{n} seeds");
}
