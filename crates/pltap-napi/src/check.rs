//! The core's value rules, as pure synchronous functions for the facade.
//!
//! The facade (`ts/validate.ts`) checks JavaScript types and option shapes itself and asks
//! these for the value rules, so that a bad value throws a `TypeError` / `RangeError`
//! before any I/O, worded with the core's reason, and the rule itself is written once, in
//! the core. Each returns `null` when the core accepts the value, else the core's reason
//! ([`pltap_core::Error::invalid_reason`]): a predicate without the value, such as
//! `"must be an integer >= 1 and <= 32"`. They touch no descriptor and no kernel state.

use crate::error::guard;
use napi::bindgen_prelude::*;
use napi_derive::napi;
use pltap_core::{IfName, MacAddr, config};

/// The reason the core rejects `result`'s input, or `None`.
fn reason<T>(result: pltap_core::Result<T>) -> Option<String> {
    result.err().map(|e| e.invalid_reason().map_or_else(|| e.to_string(), str::to_string))
}

/// `pltap_core::IfName::new`: an interface name or `%d` template.
#[napi(catch_unwind)]
pub fn check_ifname(value: String) -> Result<Option<String>> {
    guard("checkIfname", || Ok(reason(IfName::new(&value))))
}

/// `pltap_core::config::parse_local_ip`: a dotted-quad IPv4 address.
#[napi(catch_unwind)]
pub fn check_ipv4(value: String) -> Result<Option<String>> {
    guard("checkIpv4", || Ok(reason(config::parse_local_ip(&value))))
}

/// `pltap_core::config::local_netmask`: a prefix length for `localNetmask` (the facade
/// passes integers only; JavaScript integers beyond `i64` arrive saturated, and so
/// rejected).
#[napi(catch_unwind)]
pub fn check_local_netmask(value: i64) -> Result<Option<String>> {
    guard("checkLocalNetmask", || Ok(reason(config::local_netmask(value))))
}

/// `pltap_core::MacAddr::parse_unicast`: a unicast MAC address for a device.
#[napi(catch_unwind)]
pub fn check_mac(value: String) -> Result<Option<String>> {
    guard("checkMac", || Ok(reason(MacAddr::parse_unicast(&value))))
}

/// The largest frame a tun device carries (`pltap_core::frame::MAX_FRAME`), for the
/// facade's frame-length checks.
#[napi]
pub const MAX_FRAME: u32 = pltap_core::frame::MAX_FRAME as u32;
