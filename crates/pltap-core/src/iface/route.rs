//! [`RouteSpec`]: a route through a device (`ip route add TO [via GW] [metric N] dev IF`)
//! and the `RTM_NEWROUTE` / `RTM_DELROUTE` requests that add and remove it.

use super::cidr::IpCidr;
use super::netlink::Rtnl;
use crate::error::{Error, Result};
use netlink_packet_core::{NLM_F_ACK, NLM_F_CREATE, NLM_F_EXCL};
use netlink_packet_route::route::{
    RouteAddress, RouteAttribute, RouteHeader, RouteMessage, RouteProtocol, RouteScope, RouteType,
};
use netlink_packet_route::{AddressFamily, RouteNetlinkMessage};
use std::fmt;
use std::net::IpAddr;

/// A route in the main table through one device: to a network, optionally via a
/// gateway, optionally with a metric. The gateway's family must be the destination's.
///
/// ```
/// use pltap_core::iface::RouteSpec;
/// let r = RouteSpec::new("198.18.8.0/24".parse()?, Some("198.18.0.254".parse().unwrap()), Some(10))?;
/// assert_eq!(r.to_string(), "198.18.8.0/24 via 198.18.0.254 metric 10");
/// assert!(RouteSpec::new("2001:db8::/64".parse()?, Some("198.18.0.254".parse().unwrap()), None).is_err());
/// # Ok::<(), pltap_core::Error>(())
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct RouteSpec {
    to: IpCidr,
    via: Option<IpAddr>,
    metric: Option<u32>,
}

impl RouteSpec {
    /// Checks that `via`, if given, is of `to`'s family.
    pub fn new(to: IpCidr, via: Option<IpAddr>, metric: Option<u32>) -> Result<RouteSpec> {
        if let Some(gw) = via
            && gw.is_ipv6() != to.is_ipv6()
        {
            return Err(Error::invalid_value(
                "route gateway",
                gw.to_string(),
                format!(
                    "must be an {} address, as the destination {to} is",
                    if to.is_ipv6() { "IPv6" } else { "IPv4" }
                ),
            ));
        }
        Ok(RouteSpec { to, via, metric })
    }

    /// The destination.
    pub fn to(&self) -> IpCidr {
        self.to
    }

    /// The gateway, if any.
    pub fn via(&self) -> Option<IpAddr> {
        self.via
    }

    /// The metric (`RTA_PRIORITY`), if any.
    pub fn metric(&self) -> Option<u32> {
        self.metric
    }

    fn message(&self, index: u32, add: bool) -> RouteMessage {
        let mut msg = RouteMessage::default();
        let v6 = self.to.is_ipv6();
        msg.header.address_family = if v6 { AddressFamily::Inet6 } else { AddressFamily::Inet };
        msg.header.destination_prefix_length = self.to.prefix();
        msg.header.table = RouteHeader::RT_TABLE_MAIN;
        if add {
            // As `ip route add` does.
            msg.header.protocol = RouteProtocol::Boot;
            msg.header.scope = if self.via.is_some() { RouteScope::Universe } else { RouteScope::Link };
            msg.header.kind = RouteType::Unicast;
        } else {
            // As `ip route del` does: match any scope.
            msg.header.scope = RouteScope::Other(255);
        }
        let addr = |ip: IpAddr| match ip {
            IpAddr::V4(a) => RouteAddress::Inet(a),
            IpAddr::V6(a) => RouteAddress::Inet6(a),
        };
        msg.attributes.push(RouteAttribute::Destination(addr(self.to.addr())));
        msg.attributes.push(RouteAttribute::Oif(index));
        if let Some(gw) = self.via {
            msg.attributes.push(RouteAttribute::Gateway(addr(gw)));
        }
        if let Some(m) = self.metric {
            msg.attributes.push(RouteAttribute::Priority(m));
        }
        msg
    }
}

impl fmt::Display for RouteSpec {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.to)?;
        if let Some(gw) = self.via {
            write!(f, " via {gw}")?;
        }
        if let Some(m) = self.metric {
            write!(f, " metric {m}")?;
        }
        Ok(())
    }
}

impl Rtnl {
    /// `RTM_NEWROUTE` with `NLM_F_EXCL` (`ip route add ROUTE dev NAME`): `EEXIST` if it is
    /// there, `ENETUNREACH` for a gateway the device cannot reach, `EINVAL` for a
    /// destination with host bits set.
    pub fn add_route(&self, index: u32, name: &str, route: &RouteSpec) -> Result<()> {
        self.send_route(
            RouteNetlinkMessage::NewRoute(route.message(index, true)),
            NLM_F_ACK | NLM_F_CREATE | NLM_F_EXCL,
            "rtnetlink(RTM_NEWROUTE)",
            || format!("ip route add {route} dev {name}"),
        )
    }

    /// `RTM_DELROUTE` (`ip route del ROUTE dev NAME`): `ESRCH` if there is no such route.
    pub fn remove_route(&self, index: u32, name: &str, route: &RouteSpec) -> Result<()> {
        self.send_route(
            RouteNetlinkMessage::DelRoute(route.message(index, false)),
            NLM_F_ACK,
            "rtnetlink(RTM_DELROUTE)",
            || format!("ip route del {route} dev {name}"),
        )
    }
}
