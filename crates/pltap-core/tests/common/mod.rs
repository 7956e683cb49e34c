//! Helpers of pltap-core's integration tests: descriptor flags, frame I/O and frame
//! builders. The privilege gate, the network-namespace sandbox ([`in_netns`],
//! [`privileged`]), `TempDir`, child processes and polling are shared with pltap-vsysd's
//! tests through the `pltap-test-support` crate, re-exported here.
#![allow(dead_code, unused_imports)]

pub use pltap_test_support::*;

use pltap_core::netdev::{Allocator, Netdev, NetdevOptions};
use pltap_core::{IfName, Mode, Tap};
use std::net::Ipv4Addr;
use std::os::fd::{AsRawFd, BorrowedFd};
use std::time::{Duration, Instant};

/// The `flags:` field of `/proc/self/fdinfo/<fd>` (printed in octal by the kernel).
pub fn fdinfo_flags(fd: BorrowedFd<'_>) -> u32 {
    let path = format!("/proc/self/fdinfo/{}", fd.as_raw_fd());
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("read {path}: {e}"));
    let line = text.lines().find(|l| l.starts_with("flags:")).unwrap_or_else(|| panic!("no flags in {path}: {text}"));
    u32::from_str_radix(line["flags:".len()..].trim(), 8).unwrap_or_else(|e| panic!("bad flags line {line:?}: {e}"))
}

/// `O_CLOEXEC` as `/proc/self/fdinfo` shows it (octal 02000000 on x86 and arm).
pub const FDINFO_CLOEXEC: u32 = 0o2000000;

/// A direct TAP port on the interface `name` (call inside [`privileged`]).
pub fn open_direct(name: &str) -> Netdev {
    let ifname = Some(IfName::new(name).unwrap());
    Netdev::open(NetdevOptions {
        allocator: Allocator::Direct { ifname },
        mode: Mode::Tap,
        packet_info: None,
        offload: None,
    })
    .unwrap()
}

/// Waits up to `timeout` for a frame that `want` accepts, skipping others; returns its
/// length (the frame is in `buf[..len]`).
pub fn recv_matching(tap: &Tap, buf: &mut [u8], timeout: Duration, want: impl Fn(&[u8]) -> bool) -> Option<usize> {
    let end = Instant::now() + timeout;
    loop {
        while let Some(len) = tap.recv(buf).expect("recv") {
            if want(&buf[..len]) {
                return Some(len);
            }
            eprintln!("skipping an unrelated frame of {len} bytes: {:02x?}", &buf[..len.min(64)]);
        }
        let left = end.checked_duration_since(Instant::now())?;
        tap.wait_readable(pltap_core::sys::poll_timeout_ms(left.min(Duration::from_secs(1)))).expect("poll");
    }
}

// ---------------------------------------------------------------------------------
// Frame builders.

pub const BROADCAST: [u8; 6] = [0xff; 6];
pub const ETH_P_IP: u16 = 0x0800;
pub const ETH_P_ARP: u16 = 0x0806;

/// The Internet checksum (RFC 1071).
pub fn checksum(data: &[u8]) -> u16 {
    let mut sum = 0u32;
    for chunk in data.chunks(2) {
        let word =
            if chunk.len() == 2 { u16::from_be_bytes([chunk[0], chunk[1]]) } else { u16::from_be_bytes([chunk[0], 0]) };
        sum += u32::from(word);
    }
    while sum > 0xffff {
        sum = (sum & 0xffff) + (sum >> 16);
    }
    !(sum as u16)
}

pub fn ethernet(dst: [u8; 6], src: [u8; 6], ethertype: u16, payload: &[u8]) -> Vec<u8> {
    let mut f = Vec::with_capacity(14 + payload.len());
    f.extend_from_slice(&dst);
    f.extend_from_slice(&src);
    f.extend_from_slice(&ethertype.to_be_bytes());
    f.extend_from_slice(payload);
    f
}

/// An ARP packet (without Ethernet header): 28 bytes.
pub fn arp(op: u16, sha: [u8; 6], spa: Ipv4Addr, tha: [u8; 6], tpa: Ipv4Addr) -> Vec<u8> {
    let mut p = Vec::with_capacity(28);
    p.extend_from_slice(&1u16.to_be_bytes()); // htype Ethernet
    p.extend_from_slice(&ETH_P_IP.to_be_bytes()); // ptype IPv4
    p.extend_from_slice(&[6, 4]);
    p.extend_from_slice(&op.to_be_bytes());
    p.extend_from_slice(&sha);
    p.extend_from_slice(&spa.octets());
    p.extend_from_slice(&tha);
    p.extend_from_slice(&tpa.octets());
    p
}

/// A broadcast Ethernet ARP request "who has `tpa`? tell `spa`": 42 bytes.
pub fn arp_request_frame(sha: [u8; 6], spa: Ipv4Addr, tpa: Ipv4Addr) -> Vec<u8> {
    ethernet(BROADCAST, sha, ETH_P_ARP, &arp(1, sha, spa, [0; 6], tpa))
}

/// An IPv4 header (20 bytes, checksummed) followed by `payload`.
pub fn ipv4(proto: u8, src: Ipv4Addr, dst: Ipv4Addr, payload: &[u8]) -> Vec<u8> {
    let total = (20 + payload.len()) as u16;
    let mut h = vec![0x45, 0];
    h.extend_from_slice(&total.to_be_bytes());
    h.extend_from_slice(&[0x12, 0x34, 0x40, 0x00, 64, proto, 0, 0]); // id, DF, ttl, proto, csum
    h.extend_from_slice(&src.octets());
    h.extend_from_slice(&dst.octets());
    let c = checksum(&h);
    h[10..12].copy_from_slice(&c.to_be_bytes());
    h.extend_from_slice(payload);
    h
}

/// An ICMP echo request (type 8) or reply (type 0) with a checksum.
pub fn icmp_echo(kind: u8, id: u16, seq: u16, data: &[u8]) -> Vec<u8> {
    let mut m = vec![kind, 0, 0, 0];
    m.extend_from_slice(&id.to_be_bytes());
    m.extend_from_slice(&seq.to_be_bytes());
    m.extend_from_slice(data);
    let c = checksum(&m);
    m[2..4].copy_from_slice(&c.to_be_bytes());
    m
}

/// The EtherType of an Ethernet frame.
pub fn ethertype(frame: &[u8]) -> u16 {
    u16::from_be_bytes([frame[12], frame[13]])
}
