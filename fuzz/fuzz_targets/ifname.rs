//! Interface names: `pltap_core::IfName::new` (names from the caller or a vsys
//! request) and `IfName::from_kernel` (the NUL-padded `ifr_name` bytes).
//!
//! Invariants: never a panic; `new` accepts exactly the documented names (1 to 15
//! bytes, no NUL, `/`, `:`, whitespace or control character, not `.` or `..`, at most
//! one `%d` template); `to_ifr_name` and `from_kernel` round trip; `from_kernel` reads
//! up to the first NUL; errors are `ERR_INVALID_ARG_VALUE`.
#![no_main]

use libfuzzer_sys::fuzz_target;
use pltap_core::IfName;
use pltap_fuzz::is_valid_ifname;

fn check_name(name: &IfName, s: &str) {
    assert_eq!(name.as_str(), s);
    assert_eq!(name.to_string(), s);
    assert!((1..=15).contains(&s.len()));
    assert!(!s.contains(['/', '\0', ':']) && !s.chars().any(|c| c.is_whitespace() || c.is_control()));
    assert!(s != "." && s != "..");
    assert_eq!(name.is_template(), s.contains("%d"));
    let ifr = name.to_ifr_name();
    assert_eq!(ifr.len(), 16);
    assert_eq!(&ifr[..s.len()], s.as_bytes());
    assert!(ifr[s.len()..].iter().all(|b| *b == 0), "ifr_name is not NUL-padded");
    assert_eq!(IfName::from_kernel(&ifr).ok().as_ref(), Some(name));
    assert_eq!(IfName::new(name.as_str()).ok().as_ref(), Some(name));
}

fuzz_target!(|data: &[u8]| {
    if let Ok(s) = std::str::from_utf8(data) {
        match IfName::new(s) {
            Ok(name) => {
                assert!(is_valid_ifname(s), "accepted {s:?}");
                check_name(&name, s);
            }
            Err(e) => {
                assert!(!is_valid_ifname(s), "refused {s:?}: {e}");
                assert_eq!(e.code(), "ERR_INVALID_ARG_VALUE");
                assert!(!e.to_string().is_empty());
            }
        }
    }
    let end = data.iter().position(|b| *b == 0).unwrap_or(data.len());
    let prefix = std::str::from_utf8(&data[..end]);
    match IfName::from_kernel(data) {
        Ok(name) => {
            let s = prefix.expect("from_kernel accepted bytes that are not UTF-8");
            assert!(is_valid_ifname(s), "from_kernel accepted {s:?}");
            check_name(&name, s);
        }
        Err(e) => {
            assert!(prefix.is_err() || prefix.is_ok_and(|s| !is_valid_ifname(s)), "from_kernel refused {data:?}: {e}");
            assert_eq!(e.code(), "ERR_INVALID_ARG_VALUE");
        }
    }
});
