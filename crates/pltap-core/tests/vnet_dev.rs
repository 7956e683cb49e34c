//! Offload on a device against the real kernel (offload.md §1.2-1.7, §5.1 state hazards):
//! negotiation, the device-wide offload set surviving a re-attach (and pltap clearing it),
//! `{ fd }` adoption telling a vnet descriptor from a plain one, and header I/O. Each test
//! runs in its own network namespace.

mod common;

use common::{privileged, run};
use pltap_core::error::OffloadMissing;
use pltap_core::netdev::{Allocator, Netdev, NetdevOptions};
use pltap_core::vnet::{Fallback, OffloadFlags, OffloadOptions, RxOffload};
use pltap_core::{Error, IfName, Mode, Tap, TapOptions};
use std::os::fd::{AsFd, OwnedFd};

fn open(
    allocator: Allocator,
    offload: Option<OffloadOptions>,
    packet_info: Option<bool>,
) -> pltap_core::Result<Netdev> {
    Netdev::open(NetdevOptions { allocator, mode: Mode::Tap, packet_info, offload })
}

fn direct(name: &str) -> Allocator {
    Allocator::Direct { ifname: Some(IfName::new(name).unwrap()) }
}

/// `ethtool -k` says whether TCP segmentation offload is on for `name`.
fn tso_on(name: &str) -> bool {
    run("ethtool", &["-k", name]).lines().any(|l| l.trim() == "tcp-segmentation-offload: on")
}

fn dup(fd: std::os::fd::BorrowedFd<'_>) -> OwnedFd {
    fd.try_clone_to_owned().unwrap()
}

#[test]
fn negotiation_grants_tso_and_uso_on_request() {
    privileged(|| {
        let dev = open(direct("vd0"), Some(OffloadOptions::default()), None).unwrap();
        let s = dev.offload().unwrap();
        assert_eq!(s.header_size, 10);
        assert_eq!(s.granted, OffloadFlags::TSO);
        assert!(tso_on("vd0"));
        let uso = OffloadOptions { rx: RxOffload::TsoUso, ..OffloadOptions::default() };
        let dev = open(direct("vd1"), Some(uso), None).unwrap();
        assert!(dev.offload().unwrap().granted.uso());
        let csum = OffloadOptions { rx: RxOffload::Csum, ..OffloadOptions::default() };
        let dev = open(direct("vd2"), Some(csum), None).unwrap();
        assert_eq!(dev.offload().unwrap().granted, OffloadFlags::CSUM);
        assert!(!tso_on("vd2"));
    });
}

#[test]
fn a_reattach_without_offload_clears_the_device_wide_set() {
    privileged(|| {
        // A persistent device keeps its offload set and header size across attaches
        // (offload.md §1.7): someone attaches with TSO, then pltap attaches without.
        run("ip", &["tuntap", "add", "mode", "tap", "name", "vdp0"]);
        {
            let first = open(direct("vdp0"), Some(OffloadOptions::default()), None).unwrap();
            assert!(tso_on("vdp0"));
            drop(first);
        }
        assert!(tso_on("vdp0"), "the set survives the last descriptor of a persistent device");
        let plain = open(direct("vdp0"), None, None).unwrap();
        assert!(!tso_on("vdp0"), "pltap issued TUNSETOFFLOAD 0 on attach");
        assert!(plain.offload().is_none());
        drop(plain);
        run("ip", &["tuntap", "del", "mode", "tap", "name", "vdp0"]);
    });
}

#[test]
fn adoption_reads_the_vnet_flag_and_header_size_from_the_kernel() {
    privileged(|| {
        let vnet = Tap::open(&TapOptions {
            mode: Mode::Tap,
            name: Some(IfName::new("vda0").unwrap()),
            packet_info: false,
            vnet_hdr: true,
        })
        .unwrap();
        let plain = Tap::open(&TapOptions {
            mode: Mode::Tap,
            name: Some(IfName::new("vda1").unwrap()),
            packet_info: false,
            vnet_hdr: false,
        })
        .unwrap();
        assert_eq!(vnet.vnet_header_size(), 10);
        assert_eq!(plain.vnet_header_size(), 0);

        let dev = open(Allocator::Fd(dup(vnet.fd())), Some(OffloadOptions::default()), Some(false)).unwrap();
        assert_eq!(dev.offload().unwrap().header_size, 10);
        // Without offload asked, a vnet descriptor still has its header stripped and added.
        let dev2 = open(Allocator::Fd(dup(vnet.fd())), None, Some(false)).unwrap();
        assert!(dev2.offload().is_none());
        assert!(!tso_on("vda0"), "no offload asked: TUNSETOFFLOAD 0");

        match open(Allocator::Fd(dup(plain.fd())), Some(OffloadOptions::default()), Some(false)) {
            Err(Error::OffloadUnsupported { reason: OffloadMissing::Fd, missing, .. }) => {
                assert_eq!(missing, vec!["IFF_VNET_HDR".to_string()])
            }
            other => panic!("expected OffloadUnsupported(fd), got {other:?}"),
        }
        let fallback = OffloadOptions { fallback: Fallback::Plain, ..OffloadOptions::default() };
        let dev3 = open(Allocator::Fd(dup(plain.fd())), Some(fallback), Some(false)).unwrap();
        assert!(dev3.offload().is_none());
        let _ = vnet.fd().as_fd();
    });
}

#[test]
fn a_frame_written_with_a_zero_header_arrives_plain_and_headers_come_back() {
    privileged(|| {
        // The kernel as the peer: an ARP request written with a zero header is answered
        // by the stack, and the reply is read with its header stripped.
        let dev = open(direct("vdx0"), Some(OffloadOptions::default()), None).unwrap();
        let tap = dev.live_tap().unwrap();
        tap.iface().set_ipv4("198.18.60.1/24".parse().unwrap()).unwrap();
        tap.iface().set_up(true).unwrap();
        let mac = tap.hwaddr().unwrap().0;
        let mut arp = vec![0u8; 42];
        arp[..6].copy_from_slice(&[0xff; 6]);
        arp[6..12].copy_from_slice(&[2, 0, 0x5e, 0x10, 0, 0x60]);
        arp[12..14].copy_from_slice(&[0x08, 0x06]);
        arp[14..22].copy_from_slice(&[0, 1, 8, 0, 6, 4, 0, 1]);
        arp[22..28].copy_from_slice(&[2, 0, 0x5e, 0x10, 0, 0x60]);
        arp[28..32].copy_from_slice(&[198, 18, 60, 2]);
        arp[38..42].copy_from_slice(&[198, 18, 60, 1]);
        assert!(dev.send(&arp).unwrap(), "Tap::send prepends the zero header");
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(20);
        let reply = loop {
            assert!(std::time::Instant::now() < deadline, "no ARP reply");
            tap.wait_readable(100).unwrap();
            if let Some(f) = dev.recv().unwrap()
                && f.len() >= 42
                && f[12..14] == [0x08, 0x06]
                && f[20..22] == [0, 2]
            {
                break f;
            }
        };
        assert_eq!(&reply[6..12], &mac, "the reply comes from the tap, its header stripped");
        assert_eq!(dev.offload_counters().malformed, 0);
    });
}
