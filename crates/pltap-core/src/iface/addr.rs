//! Address value types, each validated where it is built: [`MacAddr`], [`Prefix`] and
//! [`Ipv4Net`], and [`parse_ipv4`], the one IPv4 grammar of the workspace (`std`'s).
//!
//! Each rule is written once, here, and everything else calls it: the kernel-facing
//! setters, the vsys requests, the helper's policy checks and, through the Node binding's
//! `check*` functions, the TypeScript facade's argument errors.

use crate::error::{Error, Result};
use std::fmt;
use std::net::Ipv4Addr;
use std::str::FromStr;

/// Parses a dotted-quad IPv4 address with `std`'s parser: exactly four decimal octets,
/// no leading zeros, no spaces, no shorthand (`10.1`), no hex (`0x0a.0.0.1`).
///
/// ```
/// use pltap_core::iface::parse_ipv4;
/// assert_eq!(parse_ipv4("local_ip", "198.18.0.1").unwrap().to_string(), "198.18.0.1");
/// for bad in ["198.18.1", "198.018.0.1", "198.18.0.1 ", "0x1.2.3.4"] {
///     assert!(parse_ipv4("local_ip", bad).is_err(), "{bad}");
/// }
/// ```
pub fn parse_ipv4(what: &'static str, s: &str) -> Result<Ipv4Addr> {
    s.parse().map_err(|_| Error::invalid_value(what, s, "must be a dotted-quad IPv4 address such as \"198.18.0.1\""))
}

/// An Ethernet (MAC) address. Any six bytes are a MAC address; a device can only be
/// given a unicast one ([`MacAddr::require_unicast`]).
///
/// ```
/// use pltap_core::MacAddr;
/// let mac: MacAddr = "02:00:5e:10:00:01".parse().unwrap();
/// assert_eq!(mac.to_string(), "02:00:5e:10:00:01");
/// assert!(mac.is_unicast());
/// assert!("02:00:5e:10:00".parse::<MacAddr>().is_err());
/// ```
#[derive(Clone, Copy, PartialEq, Eq, Hash, Default)]
pub struct MacAddr(pub [u8; 6]);

impl MacAddr {
    /// Whether the group bit is clear (a device can only have a unicast address).
    pub fn is_unicast(&self) -> bool {
        self.0[0] & 1 == 0
    }

    /// The address itself if it is unicast, else [`Error::InvalidArgument`]: the rule
    /// for any address given to a device.
    pub fn require_unicast(self) -> Result<MacAddr> {
        if self.is_unicast() {
            Ok(self)
        } else {
            Err(Error::invalid_value(
                "MAC address",
                self.to_string(),
                "must be a unicast address (the group bit is set)",
            ))
        }
    }

    /// Parses a MAC address for a device: six hex octets separated by `:`, unicast.
    ///
    /// ```
    /// use pltap_core::MacAddr;
    /// assert!(MacAddr::parse_unicast("02:00:5e:10:00:01").is_ok());
    /// assert!(MacAddr::parse_unicast("01:00:5e:00:00:01").is_err());
    /// ```
    pub fn parse_unicast(s: &str) -> Result<MacAddr> {
        s.parse::<MacAddr>()?.require_unicast()
    }
}

impl fmt::Display for MacAddr {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let b = self.0;
        write!(f, "{:02x}:{:02x}:{:02x}:{:02x}:{:02x}:{:02x}", b[0], b[1], b[2], b[3], b[4], b[5])
    }
}

impl fmt::Debug for MacAddr {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "MacAddr({self})")
    }
}

impl FromStr for MacAddr {
    type Err = Error;
    fn from_str(s: &str) -> Result<MacAddr> {
        let bad = || Error::invalid_value("MAC address", s, "must be six hex octets separated by \":\"");
        let mut out = [0u8; 6];
        let mut parts = s.split(':');
        for byte in out.iter_mut() {
            let p = parts.next().ok_or_else(bad)?;
            if p.len() != 2 || !p.bytes().all(|b| b.is_ascii_hexdigit()) {
                return Err(bad());
            }
            *byte = u8::from_str_radix(p, 16).map_err(|_| bad())?;
        }
        if parts.next().is_some() {
            return Err(bad());
        }
        Ok(MacAddr(out))
    }
}

/// An IPv4 prefix length: 0 to 32, checked when it is built (the one place that rule is
/// written).
///
/// ```
/// use pltap_core::Prefix;
/// let p = Prefix::new(24)?;
/// assert_eq!((p.get(), p.netmask().to_string()), (24, "255.255.255.0".to_string()));
/// assert!(Prefix::new(33).is_err());
/// assert!(Prefix::new(-1).is_err());
/// # Ok::<(), pltap_core::Error>(())
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Default)]
pub struct Prefix(u8);

impl Prefix {
    /// The longest prefix.
    pub const MAX: Prefix = Prefix(32);

    /// Validates a prefix length given as any integer (`u8` to `i64`).
    pub fn new(len: impl Into<i64>) -> Result<Prefix> {
        let len = len.into();
        u8::try_from(len).ok().and_then(Prefix::checked).ok_or_else(|| {
            Error::invalid_value(
                "prefix length",
                len.to_string(),
                format!("must be an integer >= 0 and <= {}", Prefix::MAX),
            )
        })
    }

    /// The prefix `len`, or `None` above 32; usable in constants
    /// (`const P: Prefix = Prefix::checked(16).unwrap();`).
    pub const fn checked(len: u8) -> Option<Prefix> {
        if len <= Prefix::MAX.0 { Some(Prefix(len)) } else { None }
    }

    /// The prefix of a netmask: its leading one bits (a non-contiguous mask counts up to
    /// its first zero bit, as the kernel's `inet_mask_len` does).
    pub fn from_netmask(mask: Ipv4Addr) -> Prefix {
        Prefix(u32::from(mask).leading_ones() as u8)
    }

    /// The length, 0 to 32.
    pub fn get(self) -> u8 {
        self.0
    }

    /// The netmask (`24` → `255.255.255.0`).
    pub fn netmask(self) -> Ipv4Addr {
        Ipv4Addr::from(self.mask())
    }

    fn mask(self) -> u32 {
        if self.0 == 0 { 0 } else { u32::MAX << (32 - u32::from(self.0)) }
    }
}

impl fmt::Display for Prefix {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.0)
    }
}

/// An IPv4 address with its prefix length (`198.18.0.1/24`). The prefix is always
/// valid: it is a [`Prefix`].
///
/// ```
/// use pltap_core::Ipv4Net;
/// let net = Ipv4Net::new("198.18.7.9".parse().unwrap(), 16)?;
/// assert_eq!(net.to_string(), "198.18.7.9/16");
/// assert_eq!(net.network().to_string(), "198.18.0.0");
/// assert!(net.contains("198.18.255.1".parse().unwrap()));
/// assert_eq!("198.18.0.0/15".parse::<Ipv4Net>()?.prefix(), 15);
/// assert!(Ipv4Net::new("198.18.0.1".parse().unwrap(), 33).is_err());
/// # Ok::<(), pltap_core::Error>(())
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct Ipv4Net {
    addr: Ipv4Addr,
    prefix: Prefix,
}

impl Ipv4Net {
    /// `addr/prefix`; [`Error::InvalidArgument`] for a prefix above 32.
    pub fn new(addr: Ipv4Addr, prefix: u8) -> Result<Ipv4Net> {
        Ok(Ipv4Net { addr, prefix: Prefix::new(prefix)? })
    }

    /// `addr/prefix` from an already valid prefix.
    pub const fn with_prefix(addr: Ipv4Addr, prefix: Prefix) -> Ipv4Net {
        Ipv4Net { addr, prefix }
    }

    /// The address.
    pub fn addr(&self) -> Ipv4Addr {
        self.addr
    }

    /// The prefix length, 0 to 32.
    pub fn prefix(&self) -> u8 {
        self.prefix.get()
    }

    /// The prefix as a [`Prefix`].
    pub fn prefix_len(&self) -> Prefix {
        self.prefix
    }

    /// The netmask.
    pub fn netmask(&self) -> Ipv4Addr {
        self.prefix.netmask()
    }

    /// The network address (host bits cleared).
    pub fn network(&self) -> Ipv4Addr {
        Ipv4Addr::from(u32::from(self.addr) & self.prefix.mask())
    }

    /// Whether `addr` lies inside this network.
    pub fn contains(&self, addr: Ipv4Addr) -> bool {
        u32::from(addr) & self.prefix.mask() == u32::from(self.network())
    }
}

impl fmt::Display for Ipv4Net {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}", self.addr, self.prefix)
    }
}

impl FromStr for Ipv4Net {
    type Err = Error;
    /// `a.b.c.d/len`: a dotted quad ([`parse_ipv4`]) and a decimal prefix length without
    /// sign or leading zeros ([`Prefix::new`]).
    fn from_str(s: &str) -> Result<Ipv4Net> {
        let bad = || Error::invalid_value("IPv4 network", s, "must be an address and a prefix length, a.b.c.d/len");
        let (addr, len) = s.split_once('/').ok_or_else(bad)?;
        let addr = parse_ipv4("IPv4 network", addr).map_err(|_| bad())?;
        if len.is_empty()
            || len.len() > 2
            || !len.bytes().all(|b| b.is_ascii_digit())
            || (len.len() > 1 && len.starts_with('0'))
        {
            return Err(bad());
        }
        let len: u8 = len.parse().map_err(|_| bad())?;
        Ok(Ipv4Net { addr, prefix: Prefix::new(len).map_err(|_| bad())? })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn mac_parse_and_format() {
        let m: MacAddr = "0A:bc:00:11:22:33".parse().unwrap();
        assert_eq!(m.to_string(), "0a:bc:00:11:22:33");
        for bad in [
            "",
            "0a:bc:00:11:22",
            "0a:bc:00:11:22:33:44",
            "0a-bc-00-11-22-33",
            "0g:00:00:00:00:00",
            "a:b:c:d:e:f",
            "+a:00:00:00:00:00",
            "0a:bc:00:11:22:33:",
        ] {
            assert!(bad.parse::<MacAddr>().is_err(), "{bad}");
        }
        assert!(!"01:00:5e:00:00:01".parse::<MacAddr>().unwrap().is_unicast());
        let err = MacAddr::parse_unicast("ff:ff:ff:ff:ff:ff").unwrap_err();
        assert_eq!(err.invalid_reason(), Some("must be a unicast address (the group bit is set)"));
        assert_eq!(
            err.to_string(),
            "invalid MAC address \"ff:ff:ff:ff:ff:ff\": must be a unicast address (the group bit is set)"
        );
    }

    #[test]
    fn ipv4_is_std_strict() {
        // std's parser already is the strict grammar (no leading zeros, no shorthand):
        // this table pins that, as the hand-written parser it replaced was tested.
        for ok in ["198.18.0.1", "0.0.0.0", "255.255.255.255", "198.19.255.254"] {
            assert!(parse_ipv4("ip", ok).is_ok(), "{ok}");
        }
        for bad in [
            "", "1", "1.2.3", "1.2.3.4.5", "256.0.0.1", "01.2.3.4", "198.018.0.1", "1.2.3.-4", "1.2.3.4 ", " 1.2.3.4",
            "1..3.4", "0x1.2.3.4", "1.2.3.4/24", "a.b.c.d", "1.2.3.4\n", "1.2.3.1000", "+1.2.3.4", "1.2.3.", "١.2.3.4",
        ] {
            assert_eq!(parse_ipv4("ip", bad).unwrap_err().code(), "ERR_INVALID_ARG_VALUE", "{bad:?}");
        }
    }

    #[test]
    fn prefix_bounds_and_math() {
        for ok in [0i64, 1, 8, 24, 32] {
            assert_eq!(i64::from(Prefix::new(ok).unwrap().get()), ok);
        }
        for bad in [-1i64, 33, 255, 256, i64::MAX, i64::MIN] {
            let err = Prefix::new(bad).unwrap_err();
            assert_eq!(err.invalid_reason(), Some("must be an integer >= 0 and <= 32"), "{bad}");
        }
        assert_eq!(Prefix::new(24).unwrap().netmask(), Ipv4Addr::new(255, 255, 255, 0));
        assert_eq!(Prefix::new(0).unwrap().netmask(), Ipv4Addr::UNSPECIFIED);
        assert_eq!(Prefix::MAX.netmask(), Ipv4Addr::BROADCAST);
        assert_eq!(Prefix::from_netmask(Ipv4Addr::new(255, 255, 240, 0)).get(), 20);
        assert_eq!(Prefix::from_netmask(Ipv4Addr::BROADCAST), Prefix::MAX);
        let net = Ipv4Net::new(Ipv4Addr::new(198, 18, 7, 9), 16).unwrap();
        assert_eq!(net.network(), Ipv4Addr::new(198, 18, 0, 0));
        assert!(net.contains(Ipv4Addr::new(198, 18, 255, 1)));
        assert!(!net.contains(Ipv4Addr::new(198, 19, 0, 1)));
        assert!(Ipv4Net::new(Ipv4Addr::LOCALHOST, 33).is_err());
    }

    #[test]
    fn network_parse() {
        assert_eq!(
            "198.18.0.0/16".parse::<Ipv4Net>().unwrap(),
            Ipv4Net::new(Ipv4Addr::new(198, 18, 0, 0), 16).unwrap()
        );
        assert_eq!("0.0.0.0/0".parse::<Ipv4Net>().unwrap().prefix(), 0);
        for bad in [
            "198.18.0.0", "198.18.0.0/33", "198.18.0/16", "198.18.0.0/+1", "198.18.0.0/", "198.18.0.0/016", "/16",
            "x/1",
        ] {
            assert!(bad.parse::<Ipv4Net>().is_err(), "{bad}");
        }
    }
}
