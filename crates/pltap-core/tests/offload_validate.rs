//! The validation table of offload.md §4.5 (V1..V8): malformed headers and frames, each
//! with the typed reason and value it must give; valid headers the kernel accepts; and
//! `prepare_for_write`.

mod offload_util;

use offload_util::*;
use pltap_core::Error;
use pltap_core::offload::{L2, L4Proto, Limits, VnetError, VnetHdr, VnetReason, prepare_for_write, validate};

/// A valid IPv4/TCP super-frame (3000 bytes in 1000-byte segments) and its header.
fn base() -> (VnetHdr, Vec<u8>) {
    let s = Spec { csum: Csum::Seed, ..Spec::tcp4(payload(3000, 1)) };
    (VnetHdr { flags: 1, gso_type: 1, hdr_len: 54, gso_size: 1000, csum_start: 34, csum_offset: 16 }, s.build())
}

fn udp_base() -> (VnetHdr, Vec<u8>) {
    let s = Spec { csum: Csum::Seed, ..Spec::udp4(payload(3000, 1)) };
    (VnetHdr { flags: 1, gso_type: 5, hdr_len: 42, gso_size: 1000, csum_start: 34, csum_offset: 6 }, s.build())
}

fn set_ip_total(f: &mut [u8], l3: usize) {
    let total = (f.len() - l3) as u16;
    f[l3 + 2..l3 + 4].copy_from_slice(&total.to_be_bytes());
}

struct Case {
    name: &'static str,
    make: fn() -> (VnetHdr, Vec<u8>, L2, Limits),
    reason: VnetReason,
    value: u64,
}

fn tap(h: VnetHdr, f: Vec<u8>) -> (VnetHdr, Vec<u8>, L2, Limits) {
    (h, f, L2::Ethernet, Limits::default())
}

const USO: Limits = Limits { mtu: 1500, allow_uso: true };

const CASES: &[Case] = &[
    Case {
        name: "V1 TAP frame shorter than an Ethernet header",
        make: || tap(VnetHdr::NONE, vec![0; 13]),
        reason: VnetReason::Length,
        value: 13,
    },
    Case {
        name: "V1 TUN packet shorter than an IPv4 header",
        make: || (VnetHdr::NONE, vec![0x45; 19], L2::Ip, Limits::default()),
        reason: VnetReason::Length,
        value: 19,
    },
    Case {
        name: "V1 frame longer than 65600",
        make: || tap(VnetHdr::NONE, vec![0; 65_601]),
        reason: VnetReason::Length,
        value: 65_601,
    },
    Case {
        name: "V2 DATA_VALID on write",
        make: || {
            let (h, f) = base();
            tap(VnetHdr { flags: 1 | 2, ..h }, f)
        },
        reason: VnetReason::Flags,
        value: 3,
    },
    Case {
        name: "V2 undefined flag 0x10",
        make: || tap(VnetHdr { flags: 0x10, ..VnetHdr::NONE }, Spec::tcp4(vec![]).build()),
        reason: VnetReason::Flags,
        value: 0x10,
    },
    Case {
        name: "V3 UFO",
        make: || {
            let (h, f) = udp_base();
            tap(VnetHdr { gso_type: 3, ..h }, f)
        },
        reason: VnetReason::GsoType,
        value: 3,
    },
    Case {
        name: "V3 tunnel bit",
        make: || {
            let (h, f) = base();
            tap(VnetHdr { gso_type: 0x21, ..h }, f)
        },
        reason: VnetReason::GsoType,
        value: 0x21,
    },
    Case {
        name: "V3 USO when not enabled",
        make: || {
            let (h, f) = udp_base();
            tap(h, f)
        },
        reason: VnetReason::GsoType,
        value: 5,
    },
    Case {
        name: "V3 USO with the ECN bit",
        make: || {
            let (h, f) = udp_base();
            (VnetHdr { gso_type: 0x85, ..h }, f, L2::Ethernet, USO)
        },
        reason: VnetReason::GsoType,
        value: 0x85,
    },
    Case {
        name: "V3 ECN bit alone",
        make: || tap(VnetHdr { gso_type: 0x80, ..VnetHdr::NONE }, Spec::tcp4(vec![]).build()),
        reason: VnetReason::GsoType,
        value: 0x80,
    },
    Case {
        name: "V4 GSO without NEEDS_CSUM",
        make: || {
            let (h, f) = base();
            tap(VnetHdr { flags: 0, ..h }, f)
        },
        reason: VnetReason::GsoSize,
        value: 0,
    },
    Case {
        name: "V4 gso_size 0",
        make: || {
            let (h, f) = base();
            tap(VnetHdr { gso_size: 0, ..h }, f)
        },
        reason: VnetReason::GsoSize,
        value: 0,
    },
    Case {
        name: "V4 gso_size 0xffff (GSO_BY_FRAGS)",
        make: || {
            let (h, f) = base();
            tap(VnetHdr { gso_size: 0xffff, ..h }, f)
        },
        reason: VnetReason::GsoSize,
        value: 0xffff,
    },
    Case {
        name: "V4 segments above the MTU",
        make: || {
            let (h, f) = base();
            tap(VnetHdr { gso_size: 1461, ..h }, f)
        },
        reason: VnetReason::GsoSize,
        value: 1461,
    },
    Case {
        name: "V4 segments above a smaller MTU",
        make: || {
            let (h, f) = base();
            (h, f, L2::Ethernet, Limits { mtu: 1000, allow_uso: false })
        },
        reason: VnetReason::GsoSize,
        value: 1000,
    },
    Case {
        name: "V5 NEEDS_CSUM on ARP (kernel case Z)",
        make: || {
            let mut f = vec![0u8; 42];
            f[12..14].copy_from_slice(&[0x08, 0x06]);
            tap(VnetHdr { flags: 1, csum_start: 20, csum_offset: 2, ..VnetHdr::NONE }, f)
        },
        reason: VnetReason::L3,
        value: 0x0806,
    },
    Case {
        name: "V5 GSO on TUN with IP version 5",
        make: || {
            let (h, mut f) = base();
            f.drain(..14);
            f[0] = 0x55;
            (VnetHdr { csum_start: 20, ..h }, f, L2::Ip, Limits::default())
        },
        reason: VnetReason::L3,
        value: 0,
    },
    Case {
        name: "V5 IPv4 EtherType with version 6",
        make: || {
            let (h, mut f) = base();
            f[14] = 0x65;
            tap(h, f)
        },
        reason: VnetReason::L3,
        value: 6,
    },
    Case {
        name: "V5 IPv4 IHL 4",
        make: || {
            let (h, mut f) = base();
            f[14] = 0x44;
            tap(h, f)
        },
        reason: VnetReason::L3,
        value: 16,
    },
    Case {
        name: "V5 IPv4 total length past the frame",
        make: || {
            let (h, mut f) = base();
            f.truncate(f.len() - 1);
            tap(h, f)
        },
        reason: VnetReason::L3,
        value: 3040,
    },
    Case {
        name: "V5 IPv4 fragment (MF)",
        make: || {
            let (h, mut f) = base();
            f[20] |= 0x20;
            tap(h, f)
        },
        reason: VnetReason::L3,
        value: 0x2000,
    },
    Case {
        name: "V5 trailing bytes after the IP packet",
        make: || {
            let (h, mut f) = base();
            f.extend_from_slice(&[0; 6]);
            tap(h, f)
        },
        reason: VnetReason::L3,
        value: 6,
    },
    Case {
        name: "V5 IPv6 fragment header",
        make: || {
            let s = Spec { ext: vec![44], csum: Csum::Seed, ..Spec::tcp6(payload(100, 1)) };
            tap(VnetHdr { flags: 1, csum_start: 62, csum_offset: 16, ..VnetHdr::NONE }, s.build())
        },
        reason: VnetReason::L3,
        value: 44,
    },
    Case {
        name: "V5 IPv6 routing header with segments left",
        make: || {
            let s = Spec { ext: vec![43], csum: Csum::Seed, ..Spec::tcp6(payload(100, 1)) };
            tap(VnetHdr { flags: 1, csum_start: 62, csum_offset: 16, ..VnetHdr::NONE }, s.build())
        },
        reason: VnetReason::L3,
        value: 43,
    },
    Case {
        name: "V6 TCPV6 on an IPv4 frame (kernel case P2 accepts it)",
        make: || {
            let (h, f) = base();
            tap(VnetHdr { gso_type: 4, ..h }, f)
        },
        reason: VnetReason::GsoType,
        value: 4,
    },
    Case {
        name: "V6 TCPV4 on an IPv6 frame",
        make: || {
            let s = Spec { csum: Csum::Seed, ..Spec::tcp6(payload(3000, 1)) };
            tap(
                VnetHdr { flags: 1, gso_type: 1, hdr_len: 74, gso_size: 1000, csum_start: 54, csum_offset: 16 },
                s.build(),
            )
        },
        reason: VnetReason::GsoType,
        value: 1,
    },
    Case {
        name: "V6 TCPV4 on a UDP packet",
        make: || {
            let (h, f) = udp_base();
            tap(VnetHdr { gso_type: 1, ..h }, f)
        },
        reason: VnetReason::GsoType,
        value: 1,
    },
    Case {
        name: "V6 USO for more than 128 datagrams",
        make: || {
            let s = Spec { csum: Csum::Seed, ..Spec::udp4(payload(129 * 4, 1)) };
            (
                VnetHdr { flags: 1, gso_type: 5, hdr_len: 42, gso_size: 4, csum_start: 34, csum_offset: 6 },
                s.build(),
                L2::Ethernet,
                USO,
            )
        },
        reason: VnetReason::GsoType,
        value: 129,
    },
    Case {
        name: "V6 GSO without payload",
        make: || {
            let s = Spec { csum: Csum::Seed, ..Spec::tcp4(vec![]) };
            tap(
                VnetHdr { flags: 1, gso_type: 1, hdr_len: 54, gso_size: 1000, csum_start: 34, csum_offset: 16 },
                s.build(),
            )
        },
        reason: VnetReason::GsoType,
        value: 0,
    },
    Case {
        name: "V7 csum_start inside the IPv4 header (kernel case D accepts it)",
        make: || {
            let (h, f) = base();
            tap(VnetHdr { csum_start: 24, ..h }, f)
        },
        reason: VnetReason::CsumStart,
        value: 24,
    },
    Case {
        name: "V7 csum_start counted from the IP header (a TUN habit on a TAP)",
        make: || {
            let (h, f) = base();
            tap(VnetHdr { csum_start: 20, ..h }, f)
        },
        reason: VnetReason::CsumStart,
        value: 20,
    },
    Case {
        name: "V7 TCP with csum_offset 6 (kernel case I)",
        make: || {
            let (h, f) = base();
            tap(VnetHdr { csum_offset: 6, ..h }, f)
        },
        reason: VnetReason::CsumOffset,
        value: 6,
    },
    Case {
        name: "V7 UDP with csum_offset 16 (kernel case V accepts it)",
        make: || {
            let s = Spec { csum: Csum::Seed, ..Spec::udp4(payload(100, 1)) };
            tap(VnetHdr { flags: 1, csum_start: 34, csum_offset: 16, ..VnetHdr::NONE }, s.build())
        },
        reason: VnetReason::CsumOffset,
        value: 16,
    },
    Case {
        name: "V8 TCP data offset 4",
        make: || {
            let (h, mut f) = base();
            f[34 + 12] = 0x40;
            tap(h, f)
        },
        reason: VnetReason::L4,
        value: 4,
    },
    Case {
        name: "V8 TCP data offset past the packet",
        make: || {
            let s = Spec { csum: Csum::Seed, ..Spec::tcp4(payload(10, 1)) };
            let mut f = s.build();
            f[34 + 12] = 0xf0;
            tap(VnetHdr { flags: 1, csum_start: 34, csum_offset: 16, ..VnetHdr::NONE }, f)
        },
        reason: VnetReason::L4,
        value: 15,
    },
    Case {
        name: "V8 GSO with SYN",
        make: || {
            let (h, mut f) = base();
            f[34 + 13] = 0x12;
            tap(h, f)
        },
        reason: VnetReason::L4,
        value: 0x12,
    },
    Case {
        name: "V8 GSO with RST",
        make: || {
            let (h, mut f) = base();
            f[34 + 13] = 0x14;
            tap(h, f)
        },
        reason: VnetReason::L4,
        value: 0x14,
    },
    Case {
        name: "V8 NEEDS_CSUM on ICMP",
        make: || {
            let (_, mut f) = base();
            f[14 + 9] = 1;
            tap(VnetHdr { flags: 1, csum_start: 34, csum_offset: 2, ..VnetHdr::NONE }, f)
        },
        reason: VnetReason::L4,
        value: 1,
    },
    Case {
        name: "V8 UDP length does not match the IP length",
        make: || {
            let (h, mut f) = udp_base();
            f[38..40].copy_from_slice(&100u16.to_be_bytes());
            (h, f, L2::Ethernet, USO)
        },
        reason: VnetReason::L4,
        value: 100,
    },
    Case {
        name: "V8 IPv4 packet too short for a TCP header",
        make: || {
            let (h, mut f) = base();
            f.truncate(34 + 10);
            set_ip_total(&mut f, 14);
            tap(VnetHdr { gso_type: 0, ..h }, f)
        },
        reason: VnetReason::L4,
        value: 10,
    },
];

#[test]
fn malformed_headers_give_their_typed_reason() {
    assert!(CASES.len() >= 15);
    for c in CASES {
        let (h, f, l2, limits) = (c.make)();
        match validate(&h, &f, l2, &limits) {
            Ok(lay) => panic!("{}: accepted ({lay:?})", c.name),
            Err(e) => {
                assert_eq!((e.reason, e.value), (c.reason, c.value), "{}: {e}", c.name);
                let text = e.to_string();
                assert!(text.contains(e.reason.rule()) && text.contains(e.reason.as_str()), "{}: {text}", c.name);
                // prepare_for_write refuses the same way and leaves the frame alone.
                let (mut h2, mut f2) = (h, f.clone());
                assert_eq!(prepare_for_write(&mut h2, &mut f2, l2, &limits), Err(e), "{}", c.name);
                assert_eq!((h2, &f2), (h, &f), "{}: changed on refusal", c.name);
            }
        }
    }
}

#[test]
fn every_reason_is_covered_and_named() {
    use VnetReason::*;
    let names: Vec<&str> =
        [Length, Flags, GsoType, GsoSize, L3, CsumStart, CsumOffset, L4].iter().map(|r| r.as_str()).collect();
    assert_eq!(names, ["length", "flags", "gsoType", "gsoSize", "l3", "csumStart", "csumOffset", "l4"]);
    for r in [Length, Flags, GsoType, GsoSize, L3, CsumStart, CsumOffset, L4] {
        assert!(CASES.iter().any(|c| c.reason == r), "no case for {r}");
    }
}

#[test]
fn the_core_error_carries_frame_reason_and_value() {
    let e = VnetError::new(VnetReason::CsumStart, 24, "csum_start must be the L4 header's offset");
    let core = Error::vnet_hdr(7, e);
    assert_eq!(core.code(), "ERR_PLTAP_VNET_HDR");
    assert_eq!(core.vnet_hdr_info(), Some((7, "csumStart", 24)));
    assert_eq!(
        core.to_string(),
        "frame 7: invalid virtio-net header (V7 checksum start, csumStart = 24): csum_start must be the L4 header's offset"
    );
    let single: Error = e.into();
    assert_eq!(single.vnet_hdr_info(), Some((0, "csumStart", 24)));
    assert_eq!(std::io::Error::from(single).kind(), std::io::ErrorKind::InvalidInput);
}

#[test]
fn valid_headers_are_accepted() {
    let lim = Limits::default();
    // The base super-frame, with ECN, and with a VLAN tag (kernel case W: csum_start 38).
    let (h, f) = base();
    let lay = validate(&h, &f, L2::Ethernet, &lim).unwrap();
    assert_eq!((lay.l3_offset, lay.l4_offset, lay.payload_offset, lay.ip_end), (14, 34, 54, 3054));
    assert_eq!((lay.l4, lay.ipv6, lay.vlan), (L4Proto::Tcp, false, false));
    validate(&VnetHdr { gso_type: 0x81, ..h }, &f, L2::Ethernet, &lim).unwrap();
    let v = Spec { eth: Some(vec![(0x8100, 9)]), csum: Csum::Seed, ..Spec::tcp4(payload(3000, 1)) };
    let lay = validate(&VnetHdr { csum_start: 38, ..h }, &v.build(), L2::Ethernet, &lim).unwrap();
    assert_eq!((lay.vlan, lay.vlan_tags, lay.l4_offset), (true, 1, 38));
    // hdr_len is not checked (a hint; prepare_for_write sets it).
    validate(&VnetHdr { hdr_len: 0, ..h }, &f, L2::Ethernet, &lim).unwrap();
    // USO when enabled; TUN IPv6 TCP with a hop-by-hop header.
    let (u, uf) = udp_base();
    validate(&u, &uf, L2::Ethernet, &USO).unwrap();
    let t = Spec { ext: vec![0], csum: Csum::Seed, ..Spec::tcp6(payload(2000, 1)) }.tun();
    let th = VnetHdr { flags: 1, gso_type: 4, hdr_len: 68, gso_size: 1000, csum_start: 48, csum_offset: 16 };
    assert_eq!(validate(&th, &t.build(), L2::Ip, &lim).unwrap().payload_offset, 68);
    // Plain frames need no parse: ARP, ICMP, Ethernet padding, a bad IP header.
    for f in [vec![0u8; 42], vec![0x45; 60], { base().1[..60].to_vec() }] {
        validate(&VnetHdr::NONE, &f, L2::Ethernet, &lim).unwrap();
    }
    // NEEDS_CSUM alone on a padded-free UDP datagram and a pure ACK.
    let ack = Spec { csum: Csum::Seed, ..Spec::tcp4(vec![]) }.build();
    validate(&VnetHdr { flags: 1, csum_start: 34, csum_offset: 16, ..VnetHdr::NONE }, &ack, L2::Ethernet, &lim)
        .unwrap();
}

#[test]
fn prepare_for_write_sets_hdr_len_and_refreshes_the_seed() {
    let lim = Limits::default();
    let (h, good) = base();
    // A NAT changed the addresses (here: the seed is garbage) and the hint is wrong.
    let mut f = good.clone();
    f[34 + 16..34 + 18].copy_from_slice(&[0xde, 0xad]);
    let mut h2 = VnetHdr { hdr_len: 1, ..h };
    let lay = prepare_for_write(&mut h2, &mut f, L2::Ethernet, &lim).unwrap();
    assert_eq!(h2, h);
    assert_eq!(lay.payload_offset, 54);
    assert_eq!(hex(&f), hex(&good));
    // Plain frames get hdr_len 0 and are not touched.
    let mut p = Spec::tcp4(payload(5, 1)).build();
    let before = p.clone();
    let mut ph = VnetHdr { hdr_len: 9999, ..VnetHdr::NONE };
    prepare_for_write(&mut ph, &mut p, L2::Ethernet, &lim).unwrap();
    assert_eq!((ph, p), (VnetHdr::NONE, before));
    // IPv6 UDP non-GSO NEEDS_CSUM: the seed is the pseudo-header over this length.
    let u = Spec { csum: Csum::Raw(0), ..Spec::udp6(payload(33, 1)) };
    let mut uf = u.build();
    let mut uh = VnetHdr { flags: 1, csum_start: 54, csum_offset: 6, ..VnetHdr::NONE };
    prepare_for_write(&mut uh, &mut uf, L2::Ethernet, &lim).unwrap();
    assert_eq!(uh.hdr_len, 62);
    assert_eq!(hex(&uf), hex(&Spec { csum: Csum::Seed, ..u }.build()));
}

#[test]
fn decode_and_encode() {
    let b = [1, 0x84, 74, 0, 0x94, 5, 54, 0, 16, 0, 0xaa, 0xbb];
    let h = VnetHdr::decode(&b).unwrap();
    assert_eq!(h, VnetHdr { flags: 1, gso_type: 0x84, hdr_len: 74, gso_size: 1428, csum_start: 54, csum_offset: 16 });
    assert!(h.is_gso() && h.needs_csum());
    assert_eq!(&h.to_bytes()[..], &b[..10]);
    let e = VnetHdr::decode(&b[..9]).unwrap_err();
    assert_eq!((e.reason, e.value), (VnetReason::Length, 9));
    assert!(!VnetHdr { gso_type: 0x80, ..VnetHdr::NONE }.is_gso());
}
