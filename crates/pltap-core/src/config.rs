//! A port's configuration: `local_ip` and `local_netmask`, as the original `pltap`
//! netdev took them, and the rules their values follow.
//!
//! The rules live here once: the reconciler trusts a [`Config`], the Node binding builds
//! one with [`Config::parse`], and the facade's argument checks ask [`parse_local_ip`] and
//! [`local_netmask`] (through the binding's `checkIpv4` / `checkLocalNetmask`).

use crate::error::{Error, Result};
use crate::iface::{Ipv4Net, Prefix, parse_ipv4};
use std::net::Ipv4Addr;

/// Parses `local_ip`: a dotted quad, by `std`'s strict parser ([`parse_ipv4`]).
///
/// ```
/// use pltap_core::config::parse_local_ip;
/// assert_eq!(parse_local_ip("198.18.0.1").unwrap().to_string(), "198.18.0.1");
/// assert!(parse_local_ip("198.18.1").is_err());
/// assert!(parse_local_ip("198.018.0.1").is_err());
/// ```
pub fn parse_local_ip(s: &str) -> Result<Ipv4Addr> {
    parse_ipv4("local_ip", s)
}

/// Validates `local_netmask`: a prefix length from 1 to 32 (a `/0` netmask names no
/// network), reported back as the same integer (defect 4). The upper bound is
/// [`Prefix`]'s.
///
/// ```
/// use pltap_core::config::local_netmask;
/// assert_eq!(local_netmask(24)?.get(), 24);
/// assert!(local_netmask(0).is_err());
/// assert!(local_netmask(33).is_err());
/// # Ok::<(), pltap_core::Error>(())
/// ```
pub fn local_netmask(len: impl Into<i64>) -> Result<Prefix> {
    let len = len.into();
    match Prefix::new(len) {
        Ok(p) if p.get() >= 1 => Ok(p),
        _ => Err(Error::invalid_value(
            "local_netmask",
            len.to_string(),
            format!("must be an integer >= 1 and <= {}", Prefix::MAX),
        )),
    }
}

/// The port's configuration (`local_ip` and `local_netmask` in the original).
///
/// ```
/// use pltap_core::config::Config;
/// let c = Config::parse(Some("198.18.0.1"), Some(24))?;
/// assert_eq!(c.net().unwrap().to_string(), "198.18.0.1/24");
/// assert!(Config::parse(None, Some(24))?.net().is_none(), "not complete yet");
/// # Ok::<(), pltap_core::Error>(())
/// ```
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Config {
    /// The address to put on the interface.
    pub local_ip: Option<Ipv4Addr>,
    /// Its prefix length (1 to 32 when it comes from [`local_netmask`]).
    pub local_netmask: Option<Prefix>,
}

impl Config {
    /// A configuration from its textual address and numeric netmask, each checked by its
    /// rule ([`parse_local_ip`], [`local_netmask`]).
    pub fn parse(local_ip: Option<&str>, local_netmask: Option<i64>) -> Result<Config> {
        Ok(Config {
            local_ip: local_ip.map(parse_local_ip).transpose()?,
            local_netmask: local_netmask.map(self::local_netmask).transpose()?,
        })
    }

    /// The address and prefix, once both are set ("finalized" in the original).
    pub fn net(&self) -> Option<Ipv4Net> {
        Some(Ipv4Net::with_prefix(self.local_ip?, self.local_netmask?))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn netmask_range() {
        for ok in [1, 8, 24, 32] {
            assert_eq!(i64::from(local_netmask(ok).unwrap().get()), ok);
        }
        for bad in [0, 33, 99, -1, 255, 256, i64::MAX] {
            let err = local_netmask(bad).unwrap_err();
            assert_eq!(err.invalid_reason(), Some("must be an integer >= 1 and <= 32"), "{bad}");
        }
    }

    #[test]
    fn parse_checks_both_fields() {
        let c = Config::parse(Some("198.18.0.1"), Some(24)).unwrap();
        assert_eq!((c.local_ip, c.local_netmask.map(Prefix::get)), (Some(Ipv4Addr::new(198, 18, 0, 1)), Some(24)));
        assert_eq!(Config::parse(None, None).unwrap(), Config::default());
        assert!(Config::parse(Some("198.18.0.01"), None).is_err());
        assert!(Config::parse(None, Some(0)).is_err());
    }
}
