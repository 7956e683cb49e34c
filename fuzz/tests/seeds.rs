//! The seed corpus says what it holds: every `ok-*` seed of a vsysd target is
//! accepted and every `bad-*` seed refused, so the fuzzer starts from both sides of
//! each check. `cargo +nightly test --manifest-path fuzz/Cargo.toml`.

use pltap_fuzz::split_slice;
use pltap_vsysd::scripts::{parse_promisc, parse_vif_down, parse_vif_up};
use std::path::Path;

fn check(target: &str, parse: impl Fn(&[u8], &pltap_vsysd::Slice) -> Result<(), String>) {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("corpus").join(target);
    let mut seen = 0;
    for entry in std::fs::read_dir(&dir).unwrap() {
        let path = entry.unwrap().path();
        let name = path.file_name().unwrap().to_str().unwrap().to_string();
        let data = std::fs::read(&path).unwrap();
        let (slice, request) = split_slice(&data).unwrap();
        let got = parse(request, &slice);
        if name.starts_with("ok-") {
            assert!(got.is_ok(), "{target}/{name} refused: {got:?}");
            seen += 1;
        } else if name.starts_with("bad-") {
            assert!(got.is_err(), "{target}/{name} accepted");
            seen += 1;
        }
    }
    assert!(seen > 5, "{target}: only {seen} labelled seeds");
}

#[test]
fn vsysd_seeds_are_labelled_right() {
    check("vsysd_vif_up", |r, s| parse_vif_up(r, s).map(drop));
    check("vsysd_vif_down", |r, s| parse_vif_down(r, s).map(drop));
    check("vsysd_promisc", |r, s| parse_promisc(r, s).map(drop));
}
