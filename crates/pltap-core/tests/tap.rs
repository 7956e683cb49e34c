//! Tier (c): real TAP/TUN devices. Every test runs in a network namespace of its own
//! (`common::in_netns`) and uses only 198.18.0.0/15.

mod common;

use common::*;
use pltap_core::frame::TunPi;
use pltap_core::{Error, IfName, Iface, Ipv4Net, MacAddr, Mode, Tap, TapOptions};
use std::io::Read;
use std::net::{Ipv4Addr, UdpSocket};
use std::process::Command;
use std::time::{Duration, Instant};

const TAP_IP: Ipv4Addr = Ipv4Addr::new(198, 18, 0, 1);
const PEER_IP: Ipv4Addr = Ipv4Addr::new(198, 18, 0, 2);
const PEER_MAC: [u8; 6] = [0x02, 0, 0, 0, 0, 0x02];
const WAIT: Duration = Duration::from_secs(5);

fn open(mode: Mode, name: Option<&str>, packet_info: bool) -> Tap {
    let opts = TapOptions { mode, name: name.map(|n| IfName::new(n).unwrap()), packet_info, vnet_hdr: false };
    Tap::open(&opts).unwrap_or_else(|e| panic!("Tap::open({opts:?}): {e}"))
}

/// Gives the device 198.18.0.1/24 (or `addr`) and brings it up.
fn configure(tap: &Tap, addr: Ipv4Addr) -> Iface {
    let iface = tap.iface();
    iface.set_ipv4(Ipv4Net::new(addr, 24).unwrap()).expect("set_ipv4");
    let flags = iface.set_up(true).expect("set UP");
    assert!(flags.up && flags.running, "{flags:?}");
    iface
}

/// Lets the kernel send IPv4 to 198.18.0.2 without asking ARP first.
fn static_peer(tap: &Tap) {
    let mac = MacAddr(PEER_MAC).to_string();
    run(
        "ip",
        &["neigh", "replace", &PEER_IP.to_string(), "lladdr", &mac, "nud", "permanent", "dev", tap.name().as_str()],
    );
}

fn in_proc_net_dev(name: &str) -> bool {
    let table = std::fs::read_to_string("/proc/thread-self/net/dev").unwrap();
    table.lines().skip(2).any(|l| l.split_once(':').is_some_and(|(n, _)| n.trim() == name))
}

/// Waits until `name` is gone. Not immediate: a concurrent test may be spawning a child
/// process, and between its fork and exec the child holds a copy of every descriptor
/// (close-on-exec only closes them at exec), which keeps the device alive a moment.
fn assert_gone(name: &str) {
    let ghost = Iface::new(IfName::new(name).unwrap()).unwrap();
    let gone = poll_until(WAIT, || ghost.flags().err().filter(|e| e.is_errno(libc::ENODEV)));
    assert!(gone.is_some(), "{name} still exists");
    assert!(!in_proc_net_dev(name));
}

/// Checks everything a freshly opened device must satisfy.
fn check_fresh(tap: &Tap, mode: Mode, packet_info: bool) {
    assert_eq!(tap.mode(), mode);
    assert_eq!(tap.packet_info(), packet_info);
    assert_eq!(tap.tun_get_iff().unwrap(), (tap.name().clone(), mode), "TUNGETIFF disagrees");
    assert!(pltap_core::sys::is_nonblocking(tap.fd()).unwrap(), "descriptor is not O_NONBLOCK");
    let flags = fdinfo_flags(tap.fd());
    assert_ne!(flags & FDINFO_CLOEXEC, 0, "descriptor is not close-on-exec (flags {flags:o})");
    assert_ne!(flags & libc::O_NONBLOCK as u32, 0, "fdinfo flags {flags:o} lack O_NONBLOCK");
    assert!(in_proc_net_dev(tap.name().as_str()), "{} not in /proc/net/dev", tap.name());
    assert!(tap.iface().ifindex().unwrap() > 1);
    // A fresh device is down and has no address.
    let f = tap.iface().flags().unwrap();
    assert!(!f.up && !f.running && !f.promisc, "{f:?}");
    assert_eq!(tap.iface().ipv4().unwrap(), None);
}

#[test]
fn allocation_names_modes_and_descriptor_flags() {
    privileged(|| {
        for pi in [false, true] {
            let exact = open(Mode::Tap, Some("pltest0"), pi);
            assert_eq!(exact.name().as_str(), "pltest0");
            check_fresh(&exact, Mode::Tap, pi);

            let t0 = open(Mode::Tap, Some("plt%d"), pi);
            let t1 = open(Mode::Tap, Some("plt%d"), pi);
            assert_eq!((t0.name().as_str(), t1.name().as_str()), ("plt0", "plt1"));
            check_fresh(&t1, Mode::Tap, pi);

            let default_tap = open(Mode::Tap, None, pi);
            assert_eq!(default_tap.name().as_str(), "tap0", "the default template is tap%d");
            check_fresh(&default_tap, Mode::Tap, pi);

            let default_tun = open(Mode::Tun, None, pi);
            assert_eq!(default_tun.name().as_str(), "tun0", "the default template is tun%d");
            check_fresh(&default_tun, Mode::Tun, pi);

            let tun = open(Mode::Tun, Some("pltun%d"), pi);
            assert_eq!(tun.name().as_str(), "pltun0");
            check_fresh(&tun, Mode::Tun, pi);

            // TAP devices have an Ethernet address, TUN devices none.
            assert!(exact.hwaddr().unwrap().is_unicast());
            assert_ne!(exact.hwaddr().unwrap(), MacAddr([0; 6]));

            // Non-persistent: each device vanishes with its only descriptor.
            let names: Vec<String> =
                [&exact, &t0, &t1, &default_tap, &default_tun, &tun].iter().map(|t| t.name().to_string()).collect();
            drop((exact, t0, t1, default_tap, default_tun, tun));
            for n in &names {
                assert_gone(n);
            }
        }
    });
}

#[test]
fn allocation_errors() {
    privileged(|| {
        // lo exists and is not a tun device.
        let err = Tap::open(&TapOptions {
            mode: Mode::Tap,
            name: Some(IfName::new("lo").unwrap()),
            packet_info: false,
            vnet_hdr: false,
        })
        .unwrap_err();
        assert_eq!((err.syscall(), &*err.code()), (Some("ioctl"), "EINVAL"), "{err}");
        // A non-multiqueue device that is already attached is busy.
        let tap = open(Mode::Tap, Some("plbusy0"), false);
        let err = Tap::open(&TapOptions {
            mode: Mode::Tap,
            name: Some(tap.name().clone()),
            packet_info: false,
            vnet_hdr: false,
        })
        .unwrap_err();
        assert_eq!((err.syscall(), &*err.code()), (Some("ioctl"), "EBUSY"), "{err}");
        // The same name with the other mode is refused.
        let err = Tap::open(&TapOptions {
            mode: Mode::Tun,
            name: Some(tap.name().clone()),
            packet_info: false,
            vnet_hdr: false,
        })
        .unwrap_err();
        assert_eq!((err.syscall(), &*err.code()), (Some("ioctl"), "EINVAL"), "{err}");
        // The first device is intact.
        assert_eq!(tap.tun_get_iff().unwrap(), (IfName::new("plbusy0").unwrap(), Mode::Tap));
        // MAC addresses are for TAP devices only.
        let tun = open(Mode::Tun, None, false);
        assert_eq!(tun.set_hwaddr(MacAddr([2, 0, 0, 0, 0, 1])).unwrap_err().code(), "ENOTSUP");
    });
}

#[test]
fn mac_via_fd_and_via_iface() {
    privileged(|| {
        let tap = open(Mode::Tap, Some("plmac0"), false);
        let iface = tap.iface();
        assert_eq!(tap.hwaddr().unwrap(), iface.hwaddr().unwrap(), "fd and name disagree");

        let a = MacAddr([0x02, 0x00, 0x5e, 0x10, 0x00, 0x01]);
        tap.set_hwaddr(a).unwrap();
        assert_eq!(tap.hwaddr().unwrap(), a);
        assert_eq!(iface.hwaddr().unwrap(), a);

        let b: MacAddr = "0a:bc:de:f0:12:34".parse().unwrap();
        iface.set_hwaddr(b).unwrap();
        assert_eq!(tap.hwaddr().unwrap(), b);
        assert_eq!(iface.hwaddr().unwrap(), b);
        assert!(run("ip", &["-o", "link", "show", "dev", "plmac0"]).contains("link/ether 0a:bc:de:f0:12:34 "));

        // A multicast address is rejected before any syscall, and nothing changes.
        let multicast = MacAddr([0x01, 0x00, 0x5e, 0, 0, 1]);
        assert_eq!(tap.set_hwaddr(multicast).unwrap_err().code(), "ERR_INVALID_ARG_VALUE");
        assert_eq!(iface.set_hwaddr(multicast).unwrap_err().code(), "ERR_INVALID_ARG_VALUE");
        assert_eq!(tap.hwaddr().unwrap(), b);
    });
}

#[test]
fn mtu_flags_ifindex_txqlen_agree_with_ip() {
    privileged(|| {
        let tap = open(Mode::Tap, Some("plcfg0"), false);
        let iface = tap.iface();
        let show = || run("ip", &["-o", "link", "show", "dev", "plcfg0"]);

        // ifindex: `ip -o link` lines start with "<index>: <name>:".
        let line = show();
        let (index, rest) = line.split_once(": ").unwrap();
        assert!(rest.starts_with("plcfg0:"), "{line}");
        assert_eq!(iface.ifindex().unwrap(), index.parse::<u32>().unwrap());

        assert_eq!(iface.mtu().unwrap(), 1500);
        assert_eq!(tap.rx_capacity().unwrap(), 1518);
        iface.set_mtu(1400).unwrap();
        assert_eq!(iface.mtu().unwrap(), 1400);
        assert_eq!(tap.rx_capacity().unwrap(), 1418);
        assert!(show().contains(" mtu 1400 "), "{}", show());
        let err = iface.set_mtu(10).unwrap_err();
        assert_eq!((err.syscall(), &*err.code()), (Some("ioctl"), "EINVAL"), "{err}");
        assert_eq!(iface.mtu().unwrap(), 1400);

        assert_eq!(iface.txqlen().unwrap(), 1000);
        iface.set_txqlen(321).unwrap();
        assert_eq!(iface.txqlen().unwrap(), 321);
        assert!(show().contains(" qlen 321"), "{}", show());

        let f = iface.set_up(true).unwrap();
        assert!(f.up && f.running && !f.promisc, "{f:?}");
        assert!(show().contains(",UP,"), "{}", show());
        let f = iface.set_promisc(true).unwrap();
        assert!(f.up && f.promisc, "{f:?}");
        assert!(show().contains("PROMISC"), "{}", show());
        assert_eq!(iface.flags().unwrap(), f);
        iface.set_up(false).unwrap();
        let f = iface.set_promisc(false).unwrap();
        assert!(!f.up && !f.running && !f.promisc, "{f:?}");
        assert!(!show().contains("PROMISC") && !show().contains(",UP"), "{}", show());
    });
}

#[test]
fn ipv4_address_is_set_and_seen_by_ip() {
    privileged(|| {
        let tap = open(Mode::Tap, Some("pladdr0"), false);
        let iface = tap.iface();
        assert_eq!(iface.ipv4().unwrap(), None);
        let net = Ipv4Net::new(Ipv4Addr::new(198, 18, 7, 9), 16).unwrap();
        iface.set_ipv4(net).unwrap();
        assert_eq!(iface.ipv4().unwrap(), Some(net));
        // `ip` runs as a child of this thread, so in the same namespace.
        let out = run("ip", &["-4", "-o", "addr", "show", "dev", "pladdr0"]);
        assert!(out.contains("inet 198.18.7.9/16 "), "{out}");

        let net2 = Ipv4Net::new(TAP_IP, 24).unwrap();
        iface.set_ipv4(net2).unwrap();
        assert_eq!(iface.ipv4().unwrap(), Some(net2));
        let out = run("ip", &["-4", "-o", "addr", "show", "dev", "pladdr0"]);
        assert!(out.contains("inet 198.18.0.1/24 ") && !out.contains("198.18.7.9"), "{out}");
        // A prefix above 32 cannot reach the ioctl: there is no such Ipv4Net.
        assert_eq!(Ipv4Net::new(TAP_IP, 33).unwrap_err().code(), "ERR_INVALID_ARG_VALUE");
    });
}

/// Writes an ARP request for the tap's own address; the kernel must count exactly that
/// frame and answer with a 42-byte ARP reply.
fn arp_roundtrip(packet_info: bool) {
    let tap = open(Mode::Tap, Some("plarp0"), packet_info);
    let iface = configure(&tap, TAP_IP);
    let my_mac = tap.hwaddr().unwrap();
    let request = arp_request_frame(PEER_MAC, PEER_IP, TAP_IP);
    assert_eq!(request.len(), 42);

    let before = iface.kernel_counters().unwrap();
    assert!(tap.send(&request).unwrap(), "the kernel did not take the frame");
    let after = iface.kernel_counters().unwrap();
    assert_eq!(after.rx_packets - before.rx_packets, 1, "rx_packets");
    assert_eq!(after.rx_bytes - before.rx_bytes, 42, "rx_bytes counts the whole Ethernet frame");
    assert_eq!(after.rx_dropped, before.rx_dropped);

    let mut buf = vec![0u8; tap.rx_capacity().unwrap()];
    let len = recv_matching(&tap, &mut buf, WAIT, |f| f.len() >= 42 && ethertype(f) == ETH_P_ARP && f[21] == 2)
        .expect("no ARP reply from the kernel");
    assert_eq!(len, 42, "ARP reply length");
    let expected = ethernet(PEER_MAC, my_mac.0, ETH_P_ARP, &arp(2, my_mac.0, TAP_IP, PEER_MAC, PEER_IP));
    assert_eq!(&buf[..len], &expected[..], "ARP reply bytes");
    // Reading it is what moves the kernel's tx counters (tun_put_user).
    let read = iface.kernel_counters().unwrap();
    assert_eq!(read.tx_packets - after.tx_packets, 1);
    assert_eq!(read.tx_bytes - after.tx_bytes, 42);
    assert_eq!(tap.recv(&mut buf).unwrap(), None);
}

#[test]
fn written_arp_request_is_counted_and_answered_no_pi() {
    privileged(|| arp_roundtrip(false));
}

#[test]
fn written_arp_request_is_counted_and_answered_with_pi() {
    privileged(|| arp_roundtrip(true));
}

/// An ICMP echo request to the tap's own address comes back as an echo reply of the
/// same length (the peer's MAC is static, so no ARP is needed first).
fn icmp_roundtrip(packet_info: bool) {
    let tap = open(Mode::Tap, Some("plicmp0"), packet_info);
    let iface = configure(&tap, TAP_IP);
    static_peer(&tap);
    let my_mac = tap.hwaddr().unwrap();
    let data: Vec<u8> = (0..56u8).collect();
    let request = ethernet(my_mac.0, PEER_MAC, ETH_P_IP, &ipv4(1, PEER_IP, TAP_IP, &icmp_echo(8, 0x4242, 7, &data)));
    assert_eq!(request.len(), 14 + 20 + 8 + 56);

    let before = iface.kernel_counters().unwrap();
    assert!(tap.send(&request).unwrap());
    let after = iface.kernel_counters().unwrap();
    assert_eq!((after.rx_packets - before.rx_packets, after.rx_bytes - before.rx_bytes), (1, 98));

    let mut buf = vec![0u8; 2048];
    let len = recv_matching(&tap, &mut buf, WAIT, |f| f.len() >= 34 && ethertype(f) == ETH_P_IP && f[23] == 1)
        .expect("no ICMP reply from the kernel");
    assert_eq!(len, 98, "echo reply length");
    let reply = &buf[..len];
    assert_eq!(&reply[..6], &PEER_MAC, "dst MAC");
    assert_eq!(&reply[6..12], &my_mac.0, "src MAC");
    assert_eq!(&reply[26..30], &TAP_IP.octets(), "src IP");
    assert_eq!(&reply[30..34], &PEER_IP.octets(), "dst IP");
    assert_eq!(checksum(&reply[14..34]), 0, "IPv4 header checksum");
    let icmp = &reply[34..];
    assert_eq!((icmp[0], icmp[1]), (0, 0), "echo reply");
    assert_eq!(&icmp[4..8], &[0x42, 0x42, 0, 7], "id and sequence");
    assert_eq!(&icmp[8..], &data[..], "payload");
    assert_eq!(checksum(icmp), 0, "ICMP checksum");
}

#[test]
fn written_icmp_echo_is_answered_no_pi() {
    privileged(|| icmp_roundtrip(false));
}

#[test]
fn written_icmp_echo_is_answered_with_pi() {
    privileged(|| icmp_roundtrip(true));
}

/// The same through a TUN device: bare IPv4 packets, no Ethernet header.
fn tun_icmp_roundtrip(packet_info: bool) {
    let tun = open(Mode::Tun, Some("pltun0"), packet_info);
    let iface = configure(&tun, Ipv4Addr::new(198, 19, 0, 1));
    let request = ipv4(1, Ipv4Addr::new(198, 19, 0, 2), Ipv4Addr::new(198, 19, 0, 1), &icmp_echo(8, 9, 1, b"pltap"));
    let before = iface.kernel_counters().unwrap();
    assert!(tun.send(&request).unwrap());
    let after = iface.kernel_counters().unwrap();
    assert_eq!((after.rx_packets - before.rx_packets, after.rx_bytes - before.rx_bytes), (1, request.len() as u64));
    let mut buf = vec![0u8; tun.rx_capacity().unwrap()];
    let len = recv_matching(&tun, &mut buf, WAIT, |p| p.len() >= 20 && p[0] >> 4 == 4 && p[9] == 1).expect("no reply");
    assert_eq!(len, request.len());
    assert_eq!(&buf[12..20], &[198, 19, 0, 1, 198, 19, 0, 2]);
    assert_eq!(&buf[20..22], &[0, 0], "echo reply");
    assert_eq!(&buf[28..len], b"pltap");
}

#[test]
fn tun_device_carries_ip_packets_no_pi() {
    privileged(|| tun_icmp_roundtrip(false));
}

#[test]
fn tun_device_carries_ip_packets_with_pi() {
    privileged(|| tun_icmp_roundtrip(true));
}

/// Reads the raw bytes of the next frame straight from the descriptor (a duplicate,
/// sharing the file description), header and all.
fn raw_read(tap: &Tap, buf: &mut [u8]) -> usize {
    let mut file = std::fs::File::from(tap.fd().try_clone_to_owned().unwrap());
    let end = Instant::now() + WAIT;
    loop {
        match file.read(buf) {
            Ok(n) => return n,
            Err(e) if e.kind() == std::io::ErrorKind::WouldBlock && Instant::now() < end => {
                tap.wait_readable(100).unwrap();
            }
            Err(e) => panic!("raw read: {e}"),
        }
    }
}

#[test]
fn tun_pi_header_golden_bytes_on_receive() {
    privileged(|| {
        // TAP: proto is the EtherType of the frame.
        let tap = open(Mode::Tap, Some("plpi0"), true);
        configure(&tap, TAP_IP);
        assert!(tap.send(&arp_request_frame(PEER_MAC, PEER_IP, TAP_IP)).unwrap());
        let mut buf = [0u8; 256];
        let n = raw_read(&tap, &mut buf);
        assert_eq!(n, 4 + 42);
        assert_eq!(&buf[..4], &[0x00, 0x00, 0x08, 0x06], "tun_pi of an ARP frame");
        let pi = TunPi::new_checked(&buf[..n]).unwrap();
        assert_eq!((pi.flags(), pi.proto(), pi.truncated()), (0, 0x0806, false));
        assert_eq!(ethertype(pi.payload()), ETH_P_ARP);

        // An IPv4 frame: proto 0x0800.
        static_peer(&tap);
        let sock = UdpSocket::bind((TAP_IP, 0)).unwrap();
        sock.send_to(b"x", (PEER_IP, 9)).unwrap();
        let n = raw_read(&tap, &mut buf);
        assert_eq!(n, 4 + 14 + 20 + 8 + 1);
        assert_eq!(&buf[..4], &[0x00, 0x00, 0x08, 0x00], "tun_pi of an IPv4 frame");

        // A cut frame: flags = TUN_PKT_STRIP (host order), and the read returns only
        // what fit (min(frame, buffer)), not the frame's length.
        sock.send_to(&[7u8; 100], (PEER_IP, 9)).unwrap();
        let n = raw_read(&tap, &mut buf[..64]);
        assert_eq!(n, 64);
        assert_eq!(&buf[..4], &[&1u16.to_ne_bytes()[..], &[0x08, 0x00]].concat()[..]);
        assert!(TunPi::new_checked(&buf[..n]).unwrap().truncated());

        // TUN: proto follows the IP version.
        let tun = open(Mode::Tun, Some("plpitun0"), true);
        configure(&tun, Ipv4Addr::new(198, 19, 0, 1));
        let req = ipv4(1, Ipv4Addr::new(198, 19, 0, 2), Ipv4Addr::new(198, 19, 0, 1), &icmp_echo(8, 1, 1, b""));
        assert!(tun.send(&req).unwrap());
        let n = raw_read(&tun, &mut buf);
        assert_eq!(n, 4 + 28);
        assert_eq!(&buf[..4], &[0x00, 0x00, 0x08, 0x00], "tun_pi of a TUN IPv4 packet");
    });
}

/// The kernel resolves 198.18.0.2: the tap must read exactly its 42-byte ARP request.
fn kernel_arp_request(packet_info: bool, use_ping: bool) {
    let tap = open(Mode::Tap, Some("plkarp0"), packet_info);
    configure(&tap, TAP_IP);
    let my_mac = tap.hwaddr().unwrap();
    // The guard kills and reaps ping (if it is still waiting) when the test ends.
    let _ping = if use_ping {
        Some(ChildGuard::spawn(Command::new("ping").args(["-n", "-c", "1", "-W", "1", "198.18.0.2"])))
    } else {
        let sock = UdpSocket::bind((TAP_IP, 0)).unwrap();
        sock.send_to(b"hello", (PEER_IP, 9)).unwrap();
        None
    };
    let mut buf = vec![0u8; tap.rx_capacity().unwrap()];
    let len =
        recv_matching(&tap, &mut buf, WAIT, |f| f.len() >= 14 && ethertype(f) == ETH_P_ARP).expect("no ARP request");
    assert_eq!(len, 42, "ARP request length");
    let f = &buf[..len];
    assert_eq!(&f[..6], &BROADCAST, "dst ff:ff:ff:ff:ff:ff");
    assert_eq!(&f[6..12], &my_mac.0, "src is the tap's MAC");
    assert_eq!(&f[14..22], &[0, 1, 8, 0, 6, 4, 0, 1], "Ethernet/IPv4 ARP request");
    assert_eq!(&f[22..28], &my_mac.0, "sender MAC");
    assert_eq!(&f[28..32], &TAP_IP.octets(), "sender IP");
    assert_eq!(&f[38..42], &PEER_IP.octets(), "target IP 198.18.0.2");
}

#[test]
fn kernel_arp_request_is_read_exactly_no_pi() {
    if !require_root() {
        return;
    }
    let _g = shared();
    let ping = Command::new("ping").arg("-V").output().is_ok_and(|o| o.status.success());
    if !ping {
        eprintln!("note: ping is not installed; the kernel's ARP request is triggered by a UDP datagram instead");
    }
    in_netns(|| kernel_arp_request(false, ping));
}

#[test]
fn kernel_arp_request_is_read_exactly_with_pi() {
    privileged(|| kernel_arp_request(true, false));
}

fn truncated_read(packet_info: bool) {
    let tap = open(Mode::Tap, Some("pltrunc0"), packet_info);
    configure(&tap, TAP_IP);
    static_peer(&tap);
    let sock = UdpSocket::bind((TAP_IP, 0)).unwrap();
    let mut small = [0u8; 100];
    let mut big = vec![0u8; tap.rx_capacity().unwrap()];

    sock.send_to(&[0xa5; 1000], (PEER_IP, 9)).unwrap();
    assert!(tap.wait_readable(30_000).unwrap(), "the frames sent reached the tap within 30 s");
    match tap.recv(&mut small) {
        Err(Error::Truncated { len, capacity }) => assert_eq!((len, capacity), (14 + 20 + 8 + 1000, 100)),
        other => panic!("expected Truncated, got {other:?}"),
    }
    // What fit is the start of the frame: the static peer's MAC first.
    assert_eq!(&small[..6], &PEER_MAC);
    // The cut frame was consumed.
    assert_eq!(tap.recv(&mut big).unwrap(), None);

    // A frame that fits exactly is not truncated, and one byte more is.
    for (payload, expect_ok) in [(100 - 42, true), (100 - 42 + 1, false)] {
        sock.send_to(&vec![1u8; payload], (PEER_IP, 9)).unwrap();
        assert!(tap.wait_readable(30_000).unwrap(), "the frames sent reached the tap within 30 s");
        let got = tap.recv(&mut small);
        if expect_ok {
            assert_eq!(got.unwrap(), Some(100), "a 100-byte frame fits a 100-byte buffer");
        } else {
            match got {
                Err(e @ Error::Truncated { .. }) => {
                    assert_eq!(e.code(), "ERR_PLTAP_TRUNCATED");
                    assert!(matches!(e, Error::Truncated { len: 101, capacity: 100 }), "{e:?}");
                }
                other => panic!("expected Truncated, got {other:?}"),
            }
        }
    }

    // A full-size frame still reads whole with the right buffer.
    sock.send_to(&[3u8; 1472], (PEER_IP, 9)).unwrap();
    assert!(tap.wait_readable(30_000).unwrap(), "the frames sent reached the tap within 30 s");
    assert_eq!(tap.recv(&mut big).unwrap(), Some(1514));
}

#[test]
fn truncated_read_reports_true_length_no_pi() {
    privileged(|| truncated_read(false));
}

#[test]
fn truncated_read_reports_true_length_with_pi() {
    privileged(|| truncated_read(true));
}

#[test]
fn recv_burst_and_drain() {
    privileged(|| {
        for pi in [false, true] {
            // A name per round: the previous round's device may outlive its descriptor
            // for a moment (see `assert_gone`).
            let tap = open(Mode::Tap, Some(&format!("plburst{}", pi as u8)), pi);
            let iface = configure(&tap, TAP_IP);
            static_peer(&tap);
            let sock = UdpSocket::bind((TAP_IP, 0)).unwrap();
            let sizes = [1usize, 10, 100, 1000, 1472];
            // Sends and waits until the frames sit in the tap's queue: the kernel drops
            // nothing (tx_dropped), and once the first is readable the rest were queued
            // by the same synchronous sends.
            let send_all = || {
                for s in sizes {
                    sock.send_to(&vec![s as u8; s], (PEER_IP, 9)).unwrap();
                }
                assert!(tap.wait_readable(30_000).unwrap(), "the frames sent reached the tap within 30 s");
            };

            send_all();
            let stride = 1600;
            let mut slab = vec![0u8; stride * 8];
            let mut lens = [0usize; 8];
            let burst = tap.recv_burst(&mut slab, stride, &mut lens).unwrap();
            assert_eq!(burst.truncated, 0);
            assert_eq!(burst.frames, sizes.len(), "all queued frames in one call");
            for (i, s) in sizes.iter().enumerate() {
                assert_eq!(lens[i], 42 + s, "frame {i}");
                let frame = &slab[i * stride..i * stride + lens[i]];
                assert_eq!(ethertype(frame), ETH_P_IP);
                assert!(frame[42..].iter().all(|b| *b == *s as u8), "payload of frame {i}");
            }
            assert_eq!(tap.recv(&mut slab).unwrap(), None);

            // A burst smaller than the queue stops at its size and leaves the rest.
            send_all();
            let mut lens2 = [0usize; 2];
            let burst = tap.recv_burst(&mut slab[..2 * stride], stride, &mut lens2).unwrap();
            assert_eq!((burst.frames, lens2), (2, [43, 52]));
            // A stride too small for the big ones: they are counted as truncated.
            let burst = tap.recv_burst(&mut slab[..4 * 500], 500, &mut [0usize; 4]).unwrap();
            assert_eq!((burst.frames, burst.truncated), (1, 2));

            send_all();
            assert_eq!(tap.drain().unwrap(), sizes.len());
            assert_eq!(tap.recv(&mut slab).unwrap(), None);
            assert_eq!(tap.drain().unwrap(), 0);
            assert_eq!(iface.kernel_counters().unwrap().tx_dropped, 0);
        }
    });
}

#[test]
fn write_to_down_interface_is_eio() {
    privileged(|| {
        for pi in [false, true] {
            let tap = open(Mode::Tap, Some(&format!("pldown{}", pi as u8)), pi);
            let frame = arp_request_frame(PEER_MAC, PEER_IP, TAP_IP);
            let before = tap.iface().kernel_counters().unwrap();
            let err = tap.send(&frame).unwrap_err();
            assert_eq!((err.syscall(), &*err.code()), (Some("write"), "EIO"), "{err}");
            let after = tap.iface().kernel_counters().unwrap();
            assert_eq!(after.rx_packets, before.rx_packets);
            // The kernel counts the refused frame as dropped.
            assert_eq!(after.rx_dropped, before.rx_dropped + 1);
            // Up, the same frame goes through; down again, EIO again.
            configure(&tap, TAP_IP);
            assert!(tap.send(&frame).unwrap());
            tap.iface().set_up(false).unwrap();
            assert!(tap.send(&frame).unwrap_err().is_errno(libc::EIO));
            // Empty and oversized frames are refused before the kernel sees them.
            assert_eq!(tap.send(&[]).unwrap_err().code(), "ERR_INVALID_ARG_VALUE");
            assert_eq!(tap.send(&vec![0u8; 65536]).unwrap_err().code(), "ERR_INVALID_ARG_VALUE");
        }
    });
}

#[test]
fn deleted_device_gives_ebadfd() {
    privileged(|| {
        for pi in [false, true] {
            let name = format!("plgone{}", pi as u8);
            let tap = open(Mode::Tap, Some(&name), pi);
            configure(&tap, TAP_IP);
            // `ip link delete` unregisters the device while our descriptor is open; the
            // driver detaches the file (tfile->tun = NULL), so every later call on the
            // descriptor gets EBADFD.
            run("ip", &["link", "delete", "dev", &name]);
            assert_gone(&name);
            let mut buf = [0u8; 2048];
            let err = tap.recv(&mut buf).unwrap_err();
            assert_eq!((err.syscall(), &*err.code()), (Some("read"), "EBADFD"), "{err}");
            let err = tap.send(&arp_request_frame(PEER_MAC, PEER_IP, TAP_IP)).unwrap_err();
            assert_eq!((err.syscall(), &*err.code()), (Some("write"), "EBADFD"), "{err}");
            assert_eq!(tap.tun_get_iff().unwrap_err().code(), "EBADFD");
            assert_eq!(tap.hwaddr().unwrap_err().code(), "EBADFD");
            // poll reports the error condition, so a reader wakes up instead of hanging.
            assert!(tap.wait_readable(1000).unwrap());
            // drain and recv_burst pass the error on.
            assert_eq!(tap.drain().unwrap_err().code(), "EBADFD");
            assert_eq!(tap.recv_burst(&mut buf, 1024, &mut [0; 2]).unwrap_err().code(), "EBADFD");
        }
    });
}

#[test]
fn no_descriptor_leak_over_open_close_cycles() {
    privileged_exclusive(|| {
        // Warm up whatever the first call creates lazily, then count.
        drop(open(Mode::Tap, Some("plleak%d"), false));
        let before = fd_count();
        for i in 0..200 {
            let tap = open(if i % 2 == 0 { Mode::Tap } else { Mode::Tun }, Some("plleak%d"), i % 3 == 0);
            assert_eq!(tap.name().as_str(), "plleak0", "the previous device was not released");
            drop(tap);
            let err = Tap::open(&TapOptions {
                mode: Mode::Tap,
                name: Some(IfName::new("lo").unwrap()),
                packet_info: false,
                vnet_hdr: false,
            })
            .unwrap_err();
            assert!(err.is_errno(libc::EINVAL), "{err}");
        }
        assert_eq!(fd_count(), before, "descriptors leaked over 200 open/close cycles");
    });
}
