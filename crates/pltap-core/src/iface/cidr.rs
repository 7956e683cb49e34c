//! [`IpCidr`]: an IPv4 or IPv6 address with its prefix length, as `ip` writes it
//! (`198.18.0.1/24`, `2001:db8::1/64`), validated where it is built.

use crate::error::{Error, Result};
use std::fmt;
use std::net::IpAddr;
use std::str::FromStr;

/// An interface address or a route destination: an IP address and a prefix length
/// (0..=32 for IPv4, 0..=128 for IPv6), checked when it is built.
///
/// ```
/// use pltap_core::iface::IpCidr;
/// let a: IpCidr = "198.18.0.1/24".parse()?;
/// assert_eq!((a.to_string(), a.prefix(), a.is_ipv6()), ("198.18.0.1/24".into(), 24, false));
/// let b: IpCidr = "2001:db8::1/64".parse()?;
/// assert_eq!(b.network().to_string(), "2001:db8::/64");
/// for bad in ["198.18.0.1", "198.18.0.1/33", "2001:db8::1/129", "198.18.0.1/024", "x/1", "198.18.0.1/ 8"] {
///     assert!(bad.parse::<IpCidr>().is_err(), "{bad}");
/// }
/// # Ok::<(), pltap_core::Error>(())
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct IpCidr {
    addr: IpAddr,
    prefix: u8,
}

impl IpCidr {
    /// `addr/prefix`; [`Error::InvalidArgument`] for a prefix longer than the address.
    pub fn new(addr: IpAddr, prefix: u8) -> Result<IpCidr> {
        let max = if addr.is_ipv4() { 32 } else { 128 };
        if prefix > max {
            return Err(Error::invalid_value(
                "prefix length",
                prefix.to_string(),
                format!("must be an integer >= 0 and <= {max}"),
            ));
        }
        Ok(IpCidr { addr, prefix })
    }

    /// The host prefix of `addr` (`/32` or `/128`): a route to one host.
    pub fn host(addr: IpAddr) -> IpCidr {
        IpCidr { addr, prefix: if addr.is_ipv4() { 32 } else { 128 } }
    }

    /// The address.
    pub fn addr(&self) -> IpAddr {
        self.addr
    }

    /// The prefix length.
    pub fn prefix(&self) -> u8 {
        self.prefix
    }

    /// Whether this is an IPv6 address.
    pub fn is_ipv6(&self) -> bool {
        self.addr.is_ipv6()
    }

    /// The network: host bits cleared (`198.18.0.9/24` → `198.18.0.0/24`).
    pub fn network(&self) -> IpCidr {
        let addr = match self.addr {
            IpAddr::V4(a) => {
                let mask = if self.prefix == 0 { 0 } else { u32::MAX << (32 - u32::from(self.prefix)) };
                IpAddr::V4((u32::from(a) & mask).into())
            }
            IpAddr::V6(a) => {
                let mask = if self.prefix == 0 { 0 } else { u128::MAX << (128 - u32::from(self.prefix)) };
                IpAddr::V6((u128::from(a) & mask).into())
            }
        };
        IpCidr { addr, prefix: self.prefix }
    }
}

impl fmt::Display for IpCidr {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}", self.addr, self.prefix)
    }
}

impl FromStr for IpCidr {
    type Err = Error;
    /// `address/len`: `std`'s IPv4 (dotted quad) or IPv6 grammar, and a decimal prefix
    /// length without sign or leading zeros, at most the address's bit count.
    fn from_str(s: &str) -> Result<IpCidr> {
        let bad = || {
            Error::invalid_value(
                "CIDR address",
                s,
                "must be an IPv4 or IPv6 address and a prefix length, such as \"198.18.0.1/24\" or \"2001:db8::1/64\"",
            )
        };
        let (addr, len) = s.split_once('/').ok_or_else(bad)?;
        let addr: IpAddr = addr.parse().map_err(|_| bad())?;
        if len.is_empty()
            || len.len() > 3
            || !len.bytes().all(|b| b.is_ascii_digit())
            || (len.len() > 1 && len.starts_with('0'))
        {
            return Err(bad());
        }
        let len: u8 = len.parse().map_err(|_| bad())?;
        IpCidr::new(addr, len).map_err(|_| {
            let max = if addr.is_ipv4() { 32 } else { 128 };
            Error::invalid_value("CIDR address", s, format!("must have a prefix length of at most {max}"))
        })
    }
}

/// Parses a gateway: an IPv4 or IPv6 address without a prefix.
///
/// ```
/// use pltap_core::iface::cidr::parse_ip;
/// assert!(parse_ip("gateway", "198.18.0.254").is_ok());
/// assert!(parse_ip("gateway", "198.18.0.254/24").is_err());
/// ```
pub fn parse_ip(what: &'static str, s: &str) -> Result<IpAddr> {
    s.parse().map_err(|_| Error::invalid_value(what, s, "must be an IPv4 or IPv6 address"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parse_and_format() {
        for ok in ["198.18.0.1/24", "0.0.0.0/0", "2001:db8::1/64", "::/0", "fe80::1/128", "198.19.255.255/32"] {
            assert_eq!(ok.parse::<IpCidr>().unwrap().to_string(), ok);
        }
        for bad in [
            "",
            "/24",
            "198.18.0.1/",
            "198.18.0.1/33",
            "::1/129",
            "198.18.0.1/+1",
            "198.18.0.1/1000",
            "198.18.1/24",
            "198.18.0.1 /24",
            "2001:db8::g/64",
            "198.18.0.1/24/1",
        ] {
            assert!(bad.parse::<IpCidr>().is_err(), "{bad:?}");
        }
        assert_eq!("198.18.7.9/16".parse::<IpCidr>().unwrap().network().to_string(), "198.18.0.0/16");
        assert_eq!("2001:db8::1/0".parse::<IpCidr>().unwrap().network().to_string(), "::/0");
    }
}
