//! Multi-queue devices (`IFF_MULTI_QUEUE`, [`pltap_core::queue`]): opening N queues,
//! attaching one more, disabling and enabling a queue (`TUNSETQUEUE`), adopting a queue's
//! descriptor, and the refusals. Each test runs in a network namespace of its own with
//! 198.18.0.0/15 only; the kernel sends UDP datagrams of several flows to a static
//! neighbour through the device, and the test reads them from the queues.

mod common;

use common::*;
use pltap_core::config::Config;
use pltap_core::error::GoneReason;
use pltap_core::netdev::{Allocator, Netdev, NetdevOptions};
use pltap_core::queue::{MAX_QUEUES, QueueIdentity, check_queue_count};
use pltap_core::vsys::TransactOptions;
use pltap_core::{Error, IfName, MacAddr, Mode};
use std::net::{Ipv4Addr, UdpSocket};
use std::os::fd::AsRawFd;
use std::time::{Duration, Instant};

const TAP_IP: Ipv4Addr = Ipv4Addr::new(198, 18, 7, 1);
const PEER_IP: Ipv4Addr = Ipv4Addr::new(198, 18, 7, 2);
const WAIT: Duration = Duration::from_secs(10);
/// Flows per round: with 2 queues, all on one queue by chance has probability 2^-31.
const FLOWS: u16 = 32;
const BASE_PORT: u16 = 40000;

fn spec(name: &str) -> NetdevOptions {
    NetdevOptions {
        allocator: Allocator::Direct { ifname: Some(IfName::new(name).unwrap()) },
        mode: Mode::Tap,
        packet_info: None,
        offload: None,
    }
}

/// `n` queues of a direct TAP `name` with 198.18.7.1/24, up, and a static neighbour 198.18.7.2.
fn queues(name: &str, n: usize) -> Vec<Netdev> {
    let qs = Netdev::open_queues(spec(name), n).unwrap();
    qs[0].set_config(Config::parse(Some(&TAP_IP.to_string()), Some(24)).unwrap());
    qs[0].reconcile().unwrap();
    let mac = MacAddr([2, 0, 0, 0, 7, 2]).to_string();
    run("ip", &["neigh", "replace", &PEER_IP.to_string(), "lladdr", &mac, "nud", "permanent", "dev", name]);
    qs
}

/// One datagram to each of `FLOWS` ports from one socket: `FLOWS` flows.
fn send_flows(tag: u8) {
    let sock = UdpSocket::bind((TAP_IP, 0)).unwrap();
    for i in 0..FLOWS {
        sock.send_to(&[tag; 16], (PEER_IP, BASE_PORT + i)).unwrap();
    }
}

/// The UDP destination port of an Ethernet/IPv4/UDP frame to the peer with payload byte `tag`.
fn flow_port(frame: &[u8], tag: u8) -> Option<u16> {
    let ok = frame.len() >= 14 + 20 + 8 + 16
        && ethertype(frame) == ETH_P_IP
        && frame[14 + 9] == 17
        && frame[14 + 16..14 + 20] == PEER_IP.octets()
        && frame[14 + 28] == tag;
    ok.then(|| u16::from_be_bytes([frame[14 + 22], frame[14 + 23]]))
}

/// Reads every queue until `FLOWS` datagrams tagged `tag` came in (or [`WAIT`] passed);
/// returns the ports each queue received.
fn collect(qs: &[&Netdev], tag: u8) -> Vec<Vec<u16>> {
    let mut got: Vec<Vec<u16>> = vec![Vec::new(); qs.len()];
    let end = Instant::now() + WAIT;
    while got.iter().map(Vec::len).sum::<usize>() < usize::from(FLOWS) && Instant::now() < end {
        let mut any = false;
        for (i, q) in qs.iter().enumerate() {
            while let Some(frame) = q.recv().unwrap() {
                any = true;
                if let Some(port) = flow_port(&frame, tag) {
                    got[i].push(port);
                }
            }
        }
        if !any {
            let fds: Vec<_> = qs.iter().map(|q| q.live_tap().unwrap()).collect();
            let pairs: Vec<_> = fds.iter().map(|t| (t.fd(), pltap_core::sys::POLLIN)).collect();
            let mut rev = vec![0i16; pairs.len()];
            pltap_core::sys::poll(&pairs, &mut rev, 200).unwrap();
        }
    }
    got
}

fn all_ports(got: &[Vec<u16>]) -> Vec<u16> {
    let mut all: Vec<u16> = got.concat();
    all.sort_unstable();
    all
}

fn expected_ports() -> Vec<u16> {
    (0..FLOWS).map(|i| BASE_PORT + i).collect()
}

#[test]
fn n_queues_share_the_device_and_the_kernel_spreads_flows_across_them() {
    privileged(|| {
        let qs = queues("mq0", 4);
        assert_eq!(qs.len(), 4);
        let ifindex = qs[0].ifindex().unwrap();
        let mut raw = Vec::new();
        for q in &qs {
            assert_eq!(q.name().as_str(), "mq0");
            assert_eq!(q.ifindex().unwrap(), ifindex);
            assert!(q.is_multi_queue().unwrap());
            let tap = q.live_tap().unwrap();
            assert_eq!(tap.mode(), Mode::Tap);
            assert!(!tap.packet_info());
            assert_eq!(fdinfo_flags(tap.fd()) & FDINFO_CLOEXEC, FDINFO_CLOEXEC, "close-on-exec");
            assert!(pltap_core::sys::is_nonblocking(tap.fd()).unwrap());
            raw.push(tap.fd().as_raw_fd());
        }
        raw.sort_unstable();
        raw.dedup();
        assert_eq!(raw.len(), 4, "each queue is its own descriptor");

        send_flows(1);
        let refs: Vec<&Netdev> = qs.iter().collect();
        let got = collect(&refs, 1);
        assert_eq!(all_ports(&got), expected_ports(), "every datagram arrives exactly once");
        let used = got.iter().filter(|g| !g.is_empty()).count();
        assert!(used >= 2, "32 flows over 4 queues all landed on one: {got:?}");
        // Each queue counts what it read.
        for (q, g) in qs.iter().zip(&got) {
            assert!(q.stats().unwrap().port.rx_packets >= g.len() as u64);
        }

        // Frames written on any queue reach the kernel.
        let before = qs[0].stats().unwrap().kernel.unwrap().tx_packets;
        let frame = arp_request_frame([2, 0, 0, 0, 7, 9], Ipv4Addr::new(198, 18, 7, 9), TAP_IP);
        for q in &qs {
            assert!(q.send(&frame).unwrap());
        }
        let seen = poll_until(WAIT, || {
            let now = qs[0].stats().unwrap().kernel.unwrap().tx_packets;
            (now >= before + 4).then_some(now)
        });
        assert!(seen.is_some(), "the kernel did not count the 4 frames written on the 4 queues");
    });
}

#[test]
fn attach_detach_and_reattach_a_queue() {
    privileged(|| {
        let qs = queues("mq1", 1);
        assert!(qs[0].is_multi_queue().unwrap(), "even one queue is opened multi-queue");
        let q1 = qs[0].open_queue().unwrap();
        assert_eq!(q1.name().as_str(), "mq1");
        assert_eq!(q1.ifindex().unwrap(), qs[0].ifindex().unwrap());

        // Disabled: the kernel sends it nothing, all flows go to queue 0.
        assert!(q1.is_queue_enabled().unwrap());
        q1.set_queue_enabled(false).unwrap();
        assert!(!q1.is_queue_enabled().unwrap());
        assert!(qs[0].is_queue_enabled().unwrap(), "per descriptor");
        let again = q1.set_queue_enabled(false).unwrap_err();
        assert!(again.is_errno(libc::EINVAL), "disabling twice: {again}");
        assert!(again.to_string().contains("TUNSETQUEUE IFF_DETACH_QUEUE on mq1"), "{again}");
        send_flows(2);
        let got = collect(&[&qs[0], &q1], 2);
        assert_eq!(all_ports(&got), expected_ports());
        assert!(got[1].is_empty(), "a disabled queue received {:?}", got[1]);
        assert_eq!(q1.recv().unwrap(), None);

        // Enabled again: it takes its share.
        q1.set_queue_enabled(true).unwrap();
        assert!(q1.is_queue_enabled().unwrap());
        send_flows(3);
        let got = collect(&[&qs[0], &q1], 3);
        assert_eq!(all_ports(&got), expected_ports());
        assert!(!got[0].is_empty() && !got[1].is_empty(), "32 flows over 2 queues all landed on one: {got:?}");

        // Closing a queue leaves the others working.
        assert!(q1.close());
        send_flows(4);
        let got = collect(&[&qs[0]], 4);
        assert_eq!(all_ports(&got), expected_ports());
    });
}

#[test]
fn an_adopted_queue_descriptor_is_that_queue_and_its_identity_is_checked() {
    privileged(|| {
        let qs = queues("mq2", 2);
        let id = qs[1].queue_identity().unwrap();
        assert_eq!(
            id,
            QueueIdentity {
                name: IfName::new("mq2").unwrap(),
                ifindex: qs[0].ifindex().unwrap(),
                mode: Mode::Tap,
                packet_info: false
            }
        );
        let dup = || pltap_core::sys::duplicate_raw_fd(qs[1].live_tap().unwrap().fd().as_raw_fd()).unwrap();

        // A duplicate of queue 1's descriptor is queue 1 (not a third queue): with the
        // original closed, it still receives queue 1's share.
        let adopted = Netdev::adopt_queue(dup(), &id).unwrap();
        assert_eq!(adopted.name().as_str(), "mq2");
        let wrong_name = QueueIdentity { name: IfName::new("other0").unwrap(), ..id.clone() };
        let e = Netdev::adopt_queue(dup(), &wrong_name).unwrap_err();
        assert!(matches!(&e, Error::DeviceGone { reason: GoneReason::Renamed(now), .. } if now == "mq2"), "{e:?}");
        let wrong_index = QueueIdentity { ifindex: id.ifindex + 100, ..id.clone() };
        let e = Netdev::adopt_queue(dup(), &wrong_index).unwrap_err();
        assert!(matches!(&e, Error::DeviceGone { reason: GoneReason::Deleted, .. }), "{e:?}");
        let wrong_mode = QueueIdentity { mode: Mode::Tun, ..id.clone() };
        assert!(matches!(Netdev::adopt_queue(dup(), &wrong_mode), Err(Error::InvalidArgument { what: "mode", .. })));

        assert!(qs[1].close());
        send_flows(5);
        let got = collect(&[&qs[0], &adopted], 5);
        assert_eq!(all_ports(&got), expected_ports());
        assert!(!got[0].is_empty() && !got[1].is_empty(), "the adopted queue 1 took no share: {got:?}");

        // `{ fd }` adoption of a queue is one queue too, and can attach more.
        let fd = pltap_core::sys::duplicate_raw_fd(adopted.live_tap().unwrap().fd().as_raw_fd()).unwrap();
        let spec =
            NetdevOptions { allocator: Allocator::Fd(fd), mode: Mode::Tap, packet_info: Some(false), offload: None };
        let via_fd = Netdev::open_queues(spec, 2).unwrap();
        assert_eq!(via_fd.len(), 2);
        assert!(via_fd[1].is_multi_queue().unwrap());
        assert_eq!(via_fd[1].ifindex().unwrap(), qs[0].ifindex().unwrap());
    });
}

#[test]
fn refusals_say_why() {
    assert!(check_queue_count(0).is_err());
    assert!(check_queue_count(MAX_QUEUES + 1).is_err());
    // vsys cannot hand over more than one queue: refused before any I/O (the root does not exist).
    let vsys = NetdevOptions {
        allocator: Allocator::Vsys { root: "/nonexistent/vsys".into(), options: TransactOptions::default() },
        mode: Mode::Tap,
        packet_info: None,
        offload: None,
    };
    let e = Netdev::open_queues(vsys, 2).unwrap_err();
    assert!(matches!(&e, Error::InvalidArgument { what: "queues", .. }), "{e:?}");
    assert!(e.to_string().contains("fd_tuntap"), "{e}");
    let e = Netdev::open_queues(spec("mqx0"), 0).unwrap_err();
    assert!(matches!(&e, Error::InvalidArgument { what: "queues", .. }), "{e:?}");
    let e = Netdev::open_queues(spec("mqx0"), 257).unwrap_err();
    assert!(e.to_string().contains("<= 256"), "{e}");

    privileged(|| {
        // A plain device of that name exists: the kernel refuses a multi-queue open.
        let plain = open_direct("mq3");
        let e = Netdev::open_queues(spec("mq3"), 2).unwrap_err();
        assert!(e.is_errno(libc::EINVAL), "{e}");
        assert!(matches!(&e, Error::Os { syscall: "ioctl", .. }), "{e:?}");
        assert!(e.to_string().contains("TUNSETIFF mq3 with IFF_MULTI_QUEUE: a device of that name exists but was not created with IFF_MULTI_QUEUE"), "{e}");
        // Nor can it take another queue.
        let e = plain.open_queue().unwrap_err();
        assert!(e.is_errno(libc::EINVAL), "{e}");
        assert!(!plain.is_multi_queue().unwrap());
        assert!(plain.is_queue_enabled().unwrap());
        assert!(plain.set_queue_enabled(false).unwrap_err().is_errno(libc::EINVAL));

        // A closed port has no queues to attach to.
        let qs = queues("mq4", 1);
        qs[0].close();
        assert!(matches!(qs[0].open_queue(), Err(Error::Closed)));

        // The kernel's limit is 256 queues.
        let mut many = Netdev::open_queues(spec("mq5"), MAX_QUEUES).unwrap();
        assert_eq!(many.len(), MAX_QUEUES);
        let e = many[0].open_queue().unwrap_err();
        assert!(e.to_string().contains("IFF_MULTI_QUEUE"), "{e}");
        many.clear();
        // A deleted device is never re-created by attaching: the name is free, TUNSETIFF
        // would make a new device, and the check says what happened instead.
        let qs = queues("mq6", 1);
        run("ip", &["link", "del", "mq6"]);
        let e = qs[0].open_queue().unwrap_err();
        assert!(matches!(&e, Error::DeviceGone { .. }), "{e:?}");
        assert!(ip_link_absent("mq6"), "attaching re-created mq6");
    });
}

fn ip_link_absent(name: &str) -> bool {
    std::process::Command::new("ip")
        .args(["link", "show", "dev", name])
        .output()
        .map(|o| !o.status.success())
        .unwrap_or(true)
}

#[test]
fn queue_descriptors_are_released() {
    if !require_root() {
        return;
    }
    let _g = exclusive();
    in_netns(|| {
        let before = fd_count();
        let qs = Netdev::open_queues(spec("mq7"), 3).unwrap();
        let extra = qs[0].open_queue().unwrap();
        assert!(fd_count() > before);
        drop(extra);
        drop(qs);
        assert_eq!(fd_count(), before, "every queue's descriptors closed");
    });
}

#[test]
fn a_transferred_number_is_taken_back_once() {
    use std::os::fd::IntoRawFd;
    let _g = exclusive();
    let before = fd_count();
    let raw = std::os::fd::OwnedFd::from(std::fs::File::open("/dev/null").unwrap()).into_raw_fd();
    assert_eq!(fd_count(), before + 1, "given up, not closed");
    let owned = pltap_core::sys::queue::take_raw_fd(raw).unwrap();
    assert_eq!(owned.as_raw_fd(), raw);
    drop(owned);
    assert_eq!(fd_count(), before, "closed with its owner");
    let e = pltap_core::sys::queue::take_raw_fd(raw).unwrap_err();
    assert_eq!(e.raw_os_error(), Some(libc::EBADF), "a closed number is refused");
}

#[test]
fn tun_queues_take_the_device_framing() {
    privileged(|| {
        let spec = NetdevOptions {
            allocator: Allocator::Direct { ifname: Some(IfName::new("mqt0").unwrap()) },
            mode: Mode::Tun,
            packet_info: Some(true),
            offload: None,
        };
        let qs = Netdev::open_queues(spec, 2).unwrap();
        let third = qs[0].open_queue().unwrap();
        for q in qs.iter().chain([&third]) {
            let tap = q.live_tap().unwrap();
            assert_eq!(
                (tap.mode(), tap.packet_info()),
                (Mode::Tun, true),
                "every queue has the device's mode and framing"
            );
            assert!(q.is_multi_queue().unwrap());
        }
        // A TAP queue cannot join a TUN device.
        let as_tap = NetdevOptions {
            allocator: Allocator::Direct { ifname: Some(IfName::new("mqt0").unwrap()) },
            mode: Mode::Tap,
            packet_info: Some(true),
            offload: None,
        };
        let e = Netdev::open_queues(as_tap, 1).unwrap_err();
        assert!(e.is_errno(libc::EINVAL), "{e}");
    });
}
