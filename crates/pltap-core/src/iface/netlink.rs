//! [`Rtnl`]: a synchronous rtnetlink (`NETLINK_ROUTE`) request socket, and the link and
//! address requests pltap makes through it.
//!
//! Messages are encoded and decoded by the `netlink-packet-route` crate and carried by
//! `netlink-sys`'s plain blocking socket: no async runtime. (Why these: both are the
//! maintained rust-netlink crates, MIT, with no dependency on an executor; `rtnetlink`, built
//! on them, needs a tokio or smol runtime, which a binding that already runs blocking work on
//! Node's thread pool has no use for; a hand-rolled codec would be a second, unfuzzed parser of
//! the kernel's attribute formats.) Each request waits for its own
//! acknowledgement (or, for a dump, its `NLMSG_DONE`), so a call returns only once the
//! kernel has done it, or with the kernel's errno as an [`Error::Os`] whose `syscall` names
//! the message (`"rtnetlink(RTM_NEWADDR)"`).
//!
//! A socket belongs to the network namespace it was created in, for good: [`Rtnl::new`]
//! is the calling thread's, [`Rtnl::in_netns`] another's (created on a short-lived thread
//! that enters it), so requests keep reaching a device's namespace whatever thread sends
//! them.

use super::cidr::IpCidr;
use super::counters::Counters;
use crate::error::{Errno, Error, Result};
use netlink_packet_core::{
    NLM_F_ACK, NLM_F_CREATE, NLM_F_DUMP, NLM_F_EXCL, NLM_F_REQUEST, NetlinkHeader, NetlinkMessage, NetlinkPayload,
};
use netlink_packet_route::AddressFamily;
use netlink_packet_route::RouteNetlinkMessage;
use netlink_packet_route::address::{AddressAttribute, AddressMessage, AddressScope};
use netlink_packet_route::link::{LinkAttribute, LinkFlags, LinkMessage, State};
use netlink_sys::{Socket, SocketAddr, protocols::NETLINK_ROUTE};
use std::os::fd::BorrowedFd;
use std::sync::Mutex;
use std::sync::atomic::{AtomicU32, Ordering::Relaxed};

/// Size of the receive buffer: larger than any single rtnetlink message the kernel sends
/// (dump parts are at most a few pages).
const RECV_BUF: usize = 1 << 16;

/// What the kernel reports about a link (`RTM_GETLINK`).
///
/// ```no_run
/// use pltap_core::iface::netlink::Rtnl;
/// let lo = Rtnl::new()?.link(1)?;
/// println!("{}: mtu {} qlen {} {} carrier={}", lo.name, lo.mtu, lo.txqlen, lo.operstate, lo.carrier);
/// # Ok::<(), pltap_core::Error>(())
/// ```
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct LinkInfo {
    /// The ifindex.
    pub index: u32,
    /// The name.
    pub name: String,
    /// `IFF_UP`.
    pub up: bool,
    /// `IFF_PROMISC`.
    pub promisc: bool,
    /// `IFF_RUNNING`.
    pub running: bool,
    /// `IFF_LOWER_UP` / `IFLA_CARRIER`: whether the device has carrier.
    pub carrier: bool,
    /// `IFLA_OPERSTATE` as `ip` shows it (`"UP"`, `"DOWN"`, `"UNKNOWN"`, ...).
    pub operstate: &'static str,
    /// `IFLA_MTU`.
    pub mtu: u32,
    /// `IFLA_TXQLEN`.
    pub txqlen: u32,
    /// `IFLA_STATS64`, as the kernel counts them (not swapped).
    pub stats: Counters,
}

/// A change to make with `RTM_NEWLINK` (`ip link set`): each field that is `Some`.
///
/// ```no_run
/// use pltap_core::iface::netlink::{LinkChange, Rtnl};
/// Rtnl::new()?.set_link(7, "tap0", LinkChange { mtu: Some(9000), txqlen: Some(5000), ..Default::default() })?;
/// # Ok::<(), pltap_core::Error>(())
/// ```
#[derive(Clone, Copy, Debug, Default)]
pub struct LinkChange<'a> {
    /// `IFLA_MTU`.
    pub mtu: Option<u32>,
    /// `IFLA_TXQLEN`.
    pub txqlen: Option<u32>,
    /// `IFLA_NET_NS_FD`: move the device into this namespace.
    pub netns: Option<BorrowedFd<'a>>,
}

/// A synchronous rtnetlink request socket (see the module docs).
///
/// ```no_run
/// use pltap_core::iface::netlink::Rtnl;
/// let rtnl = Rtnl::new()?;
/// let lo = rtnl.link(1)?;
/// assert_eq!(lo.name, "lo");
/// println!("lo: {:?}", rtnl.addresses(1)?);
/// # Ok::<(), pltap_core::Error>(())
/// ```
#[derive(Debug)]
pub struct Rtnl {
    sock: Mutex<Socket>,
    seq: AtomicU32,
}

impl Rtnl {
    /// A socket in the calling thread's network namespace.
    pub fn new() -> Result<Rtnl> {
        let mut sock = Socket::new(NETLINK_ROUTE).map_err(|e| Error::os("create an rtnetlink socket", "socket", e))?;
        sock.bind_auto().map_err(|e| Error::os("bind an rtnetlink socket", "bind", e))?;
        sock.connect(&SocketAddr::new(0, 0)).map_err(|e| Error::os("connect an rtnetlink socket", "connect", e))?;
        Ok(Rtnl { sock: Mutex::new(sock), seq: AtomicU32::new(1) })
    }

    /// A socket in the network namespace `netns` refers to.
    pub fn in_netns(netns: BorrowedFd<'_>) -> Result<Rtnl> {
        super::netns::run_in(netns, Rtnl::new)?
    }

    /// Sends `msg` and collects the replies until the acknowledgement (or `NLMSG_DONE`
    /// of a dump). `syscall` names the message in errors; `op` says what was done.
    fn request(
        &self,
        msg: RouteNetlinkMessage,
        flags: u16,
        syscall: &'static str,
        op: impl Fn() -> String,
    ) -> Result<Vec<RouteNetlinkMessage>> {
        let seq = self.seq.fetch_add(1, Relaxed);
        let mut header = NetlinkHeader::default();
        header.flags = NLM_F_REQUEST | flags;
        header.sequence_number = seq;
        let mut packet = NetlinkMessage::new(header, NetlinkPayload::from(msg));
        packet.finalize();
        let mut out = vec![0u8; packet.buffer_len()];
        packet.serialize(&mut out);
        let sock = self.sock.lock().unwrap_or_else(|p| p.into_inner());
        sock.send(&out, 0).map_err(|e| Error::os(op(), "send", e))?;
        let dump = flags & NLM_F_DUMP == NLM_F_DUMP;
        let mut replies = Vec::new();
        let mut buf: Vec<u8> = Vec::with_capacity(RECV_BUF);
        loop {
            buf.clear();
            let n = sock.recv(&mut buf, 0).map_err(|e| Error::os(op(), "recv", e))?;
            let mut at = 0;
            while at < n.min(buf.len()) {
                let msg = NetlinkMessage::<RouteNetlinkMessage>::deserialize(&buf[at..]).map_err(|e| {
                    Error::errno(format!("{}: undecodable reply ({e})", op()), syscall, Errno::from_raw(libc::EIO))
                })?;
                let len = msg.header.length as usize;
                if len == 0 {
                    break;
                }
                at += (len + 3) & !3;
                if msg.header.sequence_number != seq {
                    continue; // a late reply to an earlier, abandoned request
                }
                match msg.payload {
                    NetlinkPayload::Error(e) => match e.code {
                        None => return Ok(replies), // the ACK
                        Some(code) => return Err(Error::errno(op(), syscall, Errno::from_raw(code.get().abs()))),
                    },
                    NetlinkPayload::Done(_) => return Ok(replies),
                    NetlinkPayload::InnerMessage(m) => {
                        replies.push(m);
                        if !dump && flags & NLM_F_ACK == 0 {
                            return Ok(replies);
                        }
                    }
                    _ => {}
                }
            }
        }
    }

    /// `RTM_GETLINK` of one device: flags, MTU, txqueuelen, carrier and counters.
    /// `ENODEV` when no link has this index in the socket's namespace.
    pub fn link(&self, index: u32) -> Result<LinkInfo> {
        let mut msg = LinkMessage::default();
        msg.header.index = index;
        let replies = self
            .request(RouteNetlinkMessage::GetLink(msg), 0, "rtnetlink(RTM_GETLINK)", || format!("read link {index}"))?;
        replies
            .into_iter()
            .find_map(|m| match m {
                RouteNetlinkMessage::NewLink(l) => Some(link_info(&l)),
                _ => None,
            })
            .ok_or_else(|| {
                Error::errno(format!("read link {index}"), "rtnetlink(RTM_GETLINK)", Errno::from_raw(libc::ENODEV))
            })
    }

    /// `RTM_NEWLINK` on an existing device (`ip link set`): every field of `change` that is set.
    pub fn set_link(&self, index: u32, name: &str, change: LinkChange<'_>) -> Result<()> {
        let mut msg = LinkMessage::default();
        msg.header.index = index;
        if let Some(mtu) = change.mtu {
            msg.attributes.push(LinkAttribute::Mtu(mtu));
        }
        if let Some(q) = change.txqlen {
            msg.attributes.push(LinkAttribute::TxQueueLen(q));
        }
        if let Some(ns) = change.netns {
            use std::os::fd::AsRawFd;
            msg.attributes.push(LinkAttribute::NetNsFd(ns.as_raw_fd()));
        }
        self.request(RouteNetlinkMessage::SetLink(msg), NLM_F_ACK, "rtnetlink(RTM_SETLINK)", || {
            let mut what = Vec::new();
            if let Some(mtu) = change.mtu {
                what.push(format!("mtu {mtu}"));
            }
            if let Some(q) = change.txqlen {
                what.push(format!("txqueuelen {q}"));
            }
            if change.netns.is_some() {
                what.push("netns".into());
            }
            format!("ip link set {name} {}", what.join(" "))
        })
        .map(drop)
    }

    /// `RTM_GETADDR` (a dump, filtered here): every IPv4 and IPv6 address of the device,
    /// IPv4 first, each in the kernel's order.
    pub fn addresses(&self, index: u32) -> Result<Vec<IpCidr>> {
        let replies = self.request(
            RouteNetlinkMessage::GetAddress(AddressMessage::default()),
            NLM_F_DUMP,
            "rtnetlink(RTM_GETADDR)",
            || format!("list the addresses of link {index}"),
        )?;
        let mut v4 = Vec::new();
        let mut v6 = Vec::new();
        for m in replies {
            let RouteNetlinkMessage::NewAddress(a) = m else { continue };
            if a.header.index != index {
                continue;
            }
            if let Some(cidr) = address_of(&a) {
                if cidr.is_ipv6() { v6.push(cidr) } else { v4.push(cidr) }
            }
        }
        v4.extend(v6);
        Ok(v4)
    }

    /// `RTM_NEWADDR` with `NLM_F_EXCL` (`ip addr add`): `EEXIST` if the device has it.
    pub fn add_address(&self, index: u32, name: &str, cidr: IpCidr) -> Result<()> {
        let msg = address_message(index, cidr);
        self.request(
            RouteNetlinkMessage::NewAddress(msg),
            NLM_F_ACK | NLM_F_CREATE | NLM_F_EXCL,
            "rtnetlink(RTM_NEWADDR)",
            || format!("ip addr add {cidr} dev {name}"),
        )
        .map(drop)
    }

    /// `RTM_DELADDR` (`ip addr del`): `EADDRNOTAVAIL` if the device does not have it.
    pub fn remove_address(&self, index: u32, name: &str, cidr: IpCidr) -> Result<()> {
        let msg = address_message(index, cidr);
        self.request(RouteNetlinkMessage::DelAddress(msg), NLM_F_ACK, "rtnetlink(RTM_DELADDR)", || {
            format!("ip addr del {cidr} dev {name}")
        })
        .map(drop)
    }

    pub(super) fn send_route(
        &self,
        msg: RouteNetlinkMessage,
        flags: u16,
        syscall: &'static str,
        op: impl Fn() -> String,
    ) -> Result<()> {
        self.request(msg, flags, syscall, op).map(drop)
    }
}

fn address_message(index: u32, cidr: IpCidr) -> AddressMessage {
    let mut msg = AddressMessage::default();
    msg.header.family = if cidr.is_ipv6() { AddressFamily::Inet6 } else { AddressFamily::Inet };
    msg.header.prefix_len = cidr.prefix();
    msg.header.index = index;
    msg.header.scope = AddressScope::Universe;
    msg.attributes.push(AddressAttribute::Local(cidr.addr()));
    msg.attributes.push(AddressAttribute::Address(cidr.addr()));
    msg
}

/// The address of an `RTM_NEWADDR`: `IFA_LOCAL` (the interface's own address on IPv4
/// point-to-point links) or else `IFA_ADDRESS`.
pub(crate) fn address_of(a: &AddressMessage) -> Option<IpCidr> {
    let mut local = None;
    let mut address = None;
    for attr in &a.attributes {
        match attr {
            AddressAttribute::Local(ip) => local = Some(*ip),
            AddressAttribute::Address(ip) => address = Some(*ip),
            _ => {}
        }
    }
    IpCidr::new(local.or(address)?, a.header.prefix_len).ok()
}

fn link_info(l: &LinkMessage) -> LinkInfo {
    let flags = l.header.flags;
    let mut info = LinkInfo {
        index: l.header.index,
        up: flags.contains(LinkFlags::Up),
        promisc: flags.contains(LinkFlags::Promisc),
        running: flags.contains(LinkFlags::Running),
        carrier: flags.contains(LinkFlags::LowerUp),
        operstate: "UNKNOWN",
        ..LinkInfo::default()
    };
    for attr in &l.attributes {
        match attr {
            LinkAttribute::IfName(n) => info.name = n.clone(),
            LinkAttribute::Mtu(m) => info.mtu = *m,
            LinkAttribute::TxQueueLen(q) => info.txqlen = *q,
            LinkAttribute::Carrier(c) => info.carrier = *c != 0,
            LinkAttribute::OperState(s) => info.operstate = operstate_name(s),
            LinkAttribute::Stats64(s) => {
                info.stats = Counters {
                    rx_packets: s.rx_packets,
                    rx_bytes: s.rx_bytes,
                    rx_errors: s.rx_errors,
                    rx_dropped: s.rx_dropped,
                    tx_packets: s.tx_packets,
                    tx_bytes: s.tx_bytes,
                    tx_errors: s.tx_errors,
                    tx_dropped: s.tx_dropped,
                }
            }
            _ => {}
        }
    }
    info
}

fn operstate_name(s: &State) -> &'static str {
    match s {
        State::Unknown => "UNKNOWN",
        State::NotPresent => "NOTPRESENT",
        State::Down => "DOWN",
        State::LowerLayerDown => "LOWERLAYERDOWN",
        State::Testing => "TESTING",
        State::Dormant => "DORMANT",
        State::Up => "UP",
        _ => "UNKNOWN",
    }
}
