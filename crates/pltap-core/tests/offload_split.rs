//! Golden-byte tests of `offload::split` and `offload::complete_checksum`: every expected
//! segment is built independently (tests/offload_util) with the per-segment fields the
//! kernel's GSO gives (offload.md §2.1, §2.7), then compared byte for byte; every output
//! is also checked with an independent RFC 1071 routine.

mod offload_util;

use offload_util::*;
use pltap_core::offload::{L2, VnetHdr, VnetReason, complete_checksum, split};

const NEEDS_CSUM: u8 = 1;

/// The super-frame of `s` (seed in the L4 checksum field) and its kernel-style header.
fn super_frame(s: &Spec, gso_type: u8, gso_size: u16) -> (VnetHdr, Vec<u8>) {
    let mut s = s.clone();
    s.csum = Csum::Seed;
    let hdr = VnetHdr {
        flags: NEEDS_CSUM,
        gso_type,
        hdr_len: s.hdr_len() as u16,
        gso_size,
        csum_start: s.l4_offset() as u16,
        csum_offset: if s.l4 == L4::Tcp { 16 } else { 6 },
    };
    (hdr, s.build())
}

/// The segments the kernel makes of `s` with this gso_size, built independently.
fn expected_segments(s: &Spec, gso_size: usize) -> Vec<Vec<u8>> {
    let chunks: Vec<&[u8]> = s.payload.chunks(gso_size).collect();
    let n = chunks.len();
    chunks
        .iter()
        .enumerate()
        .map(|(i, c)| {
            let mut t = s.clone();
            t.csum = Csum::Full;
            t.payload = c.to_vec();
            t.id = s.id.wrapping_add(i as u16);
            t.seq = s.seq.wrapping_add((i * gso_size) as u32);
            if i + 1 < n {
                t.flags &= !(0x01 | 0x08); // FIN, PSH only on the last
            }
            if i > 0 {
                t.flags &= !0x80; // CWR only on the first
            }
            t.build()
        })
        .collect()
}

fn run_split(hdr: &VnetHdr, frame: &[u8], l2: L2) -> Vec<Vec<u8>> {
    let (mut out, mut lens) = (vec![0xee], vec![]); // split appends: keep what was there
    let n = split(hdr, frame, l2, &mut out, &mut lens).unwrap();
    assert_eq!(n, lens.len());
    assert_eq!(out[0], 0xee);
    unpack(&out[1..], &lens).into_iter().map(|s| s.to_vec()).collect()
}

fn check(s: &Spec, gso_type: u8, gso_size: u16) -> Vec<Vec<u8>> {
    let (hdr, frame) = super_frame(s, gso_type, gso_size);
    let l2 = if s.eth.is_some() { L2::Ethernet } else { L2::Ip };
    let got = run_split(&hdr, &frame, l2);
    let want = expected_segments(s, gso_size as usize);
    assert_eq!(got.len(), want.len(), "segment count");
    for (i, (g, w)) in got.iter().zip(&want).enumerate() {
        assert_eq!(hex(g), hex(w), "segment {i}");
        verify(g, s.l2_len(), s.l4_offset(), s.v6);
        assert!(g.len() <= s.l2_len() + s.l3_len() + s.l4_hdr_len() + gso_size as usize);
    }
    got
}

#[test]
fn ipv4_tcp_three_segments_psh_fin_on_last_frozen_bytes() {
    // 10 bytes in 4-byte segments: 4 + 4 + 2, PSH|FIN|ACK on the super-frame.
    let s = Spec { flags: 0x19, id: 0xfffe, seq: 0xffff_fffa, ..Spec::tcp4(payload(10, 1)) };
    let got = check(&s, 1, 4);
    // Frozen (segment 0's checksums checked by hand: IPv4 ~0x515a = 0xaea5, TCP
    // ~(0x3435b + pseudo 0x18c45 folded) = 0x305b). IDs fffe, ffff, 0000 (wrap); sequence
    // fffffffa, fffffffe, 00000002 (wrap); flags 10, 10, 19; IPv4 total length 44, 44, 42.
    let want = [
        "02000000000202000000000108004500002cfffe40004006aea5c6120001c6120002\
         9c401451fffffffa0000004d501001f6305b000001203f5e",
        "02000000000202000000000108004500002cffff40004006aea4c6120001c6120002\
         9c401451fffffffe0000004d501001f6375e00007d9cbbda",
        "02000000000202000000000108004500002a000040004006aea6c6120001c6120002\
         9c401451000000020000004d501901f677b20000f918",
    ];
    for (i, w) in want.iter().enumerate() {
        assert_eq!(hex(&got[i]), hex(&unhex(w)), "frozen segment {i}");
    }
}

#[test]
fn ipv4_tcp_mss_sized_with_timestamps() {
    let ts = vec![1, 1, 8, 10, 0, 0, 0x12, 0x34, 0, 0, 0x56, 0x78];
    let s = Spec { opts: ts, flags: 0x18, ..Spec::tcp4(payload(3 * 1448 + 100, 7)) };
    let segs = check(&s, 1, 1448);
    assert_eq!(segs.iter().map(|s| s.len()).collect::<Vec<_>>(), [1514, 1514, 1514, 166]);
}

#[test]
fn ipv6_tcp_with_hop_by_hop_and_destination_options() {
    let s = Spec { ext: vec![0, 60], ..Spec::tcp6(payload(3000, 3)) };
    check(&s, 4, 1400);
}

#[test]
fn ipv6_tcp_plain() {
    check(&Spec { flags: 0x18, ..Spec::tcp6(payload(1428 * 2 + 1, 9)) }, 4, 1428);
}

#[test]
fn vlan_8021q_and_qinq() {
    let q = Spec { eth: Some(vec![(0x8100, 0x0064)]), ..Spec::tcp4(payload(2000, 5)) };
    check(&q, 1, 1000);
    let qinq = Spec { eth: Some(vec![(0x88a8, 0x0010), (0x8100, 0x0064)]), ..Spec::tcp6(payload(2500, 6)) };
    let segs = check(&qinq, 4, 1000);
    assert_eq!(&segs[2][12..22], &[0x88, 0xa8, 0, 0x10, 0x81, 0, 0, 0x64, 0x86, 0xdd]);
}

#[test]
fn ecn_cwr_on_first_segment_only_ece_kept() {
    let s = Spec { flags: 0x10 | 0x80 | 0x40, ..Spec::tcp4(payload(3000, 2)) };
    let segs = check(&s, 0x81, 1000);
    let flags: Vec<u8> = segs.iter().map(|f| f[14 + 20 + 13]).collect();
    assert_eq!(flags, [0xd0, 0x50, 0x50]);
}

#[test]
fn cwr_cleared_after_first_even_without_the_ecn_gso_bit() {
    let s = Spec { flags: 0x90, ..Spec::tcp4(payload(2000, 2)) };
    let segs = check(&s, 1, 1000);
    assert_eq!(segs[1][14 + 20 + 13], 0x10);
}

#[test]
fn tun_ipv4_tcp_and_ipv6_udp() {
    check(&Spec::tcp4(payload(5000, 4)).tun(), 1, 1460);
    check(&Spec::udp6(payload(3000, 4)).tun(), 5, 1200);
}

#[test]
fn udp_uso_ipv4_lengths_and_ids() {
    let segs = check(&Spec::udp4(payload(4500, 8)), 5, 1000);
    assert_eq!(segs.len(), 5);
    assert_eq!(u16::from_be_bytes([segs[4][38], segs[4][39]]), 8 + 500);
}

#[test]
fn udp_segment_whose_checksum_folds_to_zero_is_sent_as_ffff() {
    // Two 4-byte datagrams; tune the second one's last two payload bytes so that its
    // checksum computes to 0.
    let mut p = payload(8, 1);
    let probe = Spec { payload: p[4..].to_vec(), id: 0x1235, ..Spec::udp4(vec![]) };
    let mut t = probe.clone();
    t.payload[2] = 0;
    t.payload[3] = 0;
    t.csum = Csum::Raw(0);
    // Sum over everything with the last word 0: the word that makes the total 0xffff.
    let l4 = t.l4_bytes();
    let mut pseudo = vec![];
    pseudo.extend_from_slice(&SRC4);
    pseudo.extend_from_slice(&DST4);
    pseudo.extend_from_slice(&[0, 17, 0, l4.len() as u8]);
    let partial = !rfc1071(&[&pseudo, &l4]); // folded sum, 1..=0xffff
    let w = 0xffff - partial; // partial + w = 0xffff: the checksum computes to 0
    p[6..8].copy_from_slice(&w.to_be_bytes());
    let s = Spec::udp4(p);
    let segs = check(&s, 5, 4);
    assert_eq!(&segs[1][40..42], &[0xff, 0xff], "UDP checksum 0 goes out as 0xffff");
}

#[test]
fn payload_not_above_gso_size_is_one_segment() {
    let segs = check(&Spec { flags: 0x18, ..Spec::tcp4(payload(800, 1)) }, 1, 1000);
    assert_eq!(segs.len(), 1);
    assert_eq!(segs[0][14 + 20 + 13], 0x18);
}

#[test]
fn ethernet_padding_after_the_ip_packet_is_dropped() {
    let s = Spec::tcp4(payload(10, 1));
    let (hdr, mut frame) = super_frame(&s, 1, 4);
    frame.extend_from_slice(&[0; 6]);
    let got = run_split(&hdr, &frame, L2::Ethernet);
    assert_eq!(got, expected_segments(&s, 4));
}

#[test]
fn ipv4_options_are_copied_and_covered_by_the_header_checksum() {
    // IHL 6 (one NOP NOP NOP EOL option word): built by hand from a plain frame.
    let s = Spec::tcp4(payload(30, 2));
    let (mut hdr, f) = super_frame(&s, 1, 10);
    let mut g = f[..34].to_vec();
    g.extend_from_slice(&[1, 1, 1, 0]);
    g.extend_from_slice(&f[34..]);
    g[14] = 0x46;
    let total = (g.len() - 14) as u16;
    g[16..18].copy_from_slice(&total.to_be_bytes());
    hdr.csum_start += 4;
    hdr.hdr_len += 4;
    let segs = run_split(&hdr, &g, L2::Ethernet);
    assert_eq!(segs.len(), 3);
    for seg in &segs {
        verify(seg, 14, 38, false);
        assert_eq!(&seg[34..38], &[1, 1, 1, 0]);
    }
}

#[test]
fn non_gso_frame_is_copied_and_completed() {
    // A pure ACK as the kernel hands it with TUN_F_CSUM: seed in the field.
    let s = Spec { csum: Csum::Seed, ..Spec::tcp4(vec![]) };
    let frame = s.build();
    let hdr = VnetHdr { flags: NEEDS_CSUM, csum_start: 34, csum_offset: 16, hdr_len: 54, ..VnetHdr::NONE };
    let got = run_split(&hdr, &frame, L2::Ethernet);
    assert_eq!(got, vec![Spec::tcp4(vec![]).build()]);
    // Without NEEDS_CSUM: copied untouched (even a runt or ARP).
    let arp = vec![0xff; 42];
    assert_eq!(run_split(&VnetHdr::NONE, &arp, L2::Ethernet), vec![arp]);
}

#[test]
fn complete_checksum_of_an_ack_tcp6_udp_and_udp_zero() {
    for s in [
        Spec::tcp4(vec![]),
        Spec { flags: 0x18, ..Spec::tcp6(payload(77, 3)) },
        Spec::udp4(payload(13, 1)).tun(),
        Spec { eth: Some(vec![(0x8100, 5)]), ..Spec::udp6(payload(100, 1)) },
    ] {
        let l2 = if s.eth.is_some() { L2::Ethernet } else { L2::Ip };
        let mut partial = Spec { csum: Csum::Seed, ..s.clone() }.build();
        let mut hdr = VnetHdr {
            flags: NEEDS_CSUM | 2,
            csum_start: s.l4_offset() as u16,
            csum_offset: if s.l4 == L4::Tcp { 16 } else { 6 },
            ..VnetHdr::NONE
        };
        complete_checksum(&mut hdr, &mut partial, l2).unwrap();
        assert_eq!(hdr.flags, 2, "NEEDS_CSUM cleared, the rest kept");
        assert_eq!(hex(&partial), hex(&s.build()));
        verify(&partial, s.l2_len(), s.l4_offset(), s.v6);
    }
}

#[test]
fn complete_checksum_maps_udp_zero_and_stops_at_the_ip_end() {
    // Find a 2-byte payload whose UDP checksum computes to 0.
    let mut s = Spec::udp4(vec![0, 0]);
    s.csum = Csum::Raw(0);
    let l4 = s.l4_bytes();
    let mut pseudo = vec![];
    pseudo.extend_from_slice(&SRC4);
    pseudo.extend_from_slice(&DST4);
    pseudo.extend_from_slice(&[0, 17, 0, l4.len() as u8]);
    let w = 0xffff - !rfc1071(&[&pseudo, &l4]);
    s.payload = w.to_be_bytes().to_vec();
    s.csum = Csum::Seed;
    let mut f = s.build();
    f.extend_from_slice(&[0xaa; 8]); // padding, not summed
    let mut hdr = VnetHdr { flags: NEEDS_CSUM, csum_start: 34, csum_offset: 6, ..VnetHdr::NONE };
    complete_checksum(&mut hdr, &mut f, L2::Ethernet).unwrap();
    assert_eq!(&f[40..42], &[0xff, 0xff]);
    assert_eq!(&f[f.len() - 8..], &[0xaa; 8]);
}

#[test]
fn complete_checksum_refuses_gso_and_out_of_packet_offsets() {
    let mut f = Spec::tcp4(payload(10, 1)).build();
    let mut gso = VnetHdr { flags: 1, gso_type: 1, gso_size: 4, csum_start: 34, csum_offset: 16, ..VnetHdr::NONE };
    assert_eq!(complete_checksum(&mut gso, &mut f, L2::Ethernet).unwrap_err().reason, VnetReason::GsoType);
    let mut far = VnetHdr { flags: 1, csum_start: 64, csum_offset: 16, ..VnetHdr::NONE };
    assert_eq!(complete_checksum(&mut far, &mut f, L2::Ethernet).unwrap_err().reason, VnetReason::CsumStart);
    let mut off = VnetHdr { flags: 1, csum_start: 34, csum_offset: 30, ..VnetHdr::NONE };
    assert_eq!(complete_checksum(&mut off, &mut f, L2::Ethernet).unwrap_err().reason, VnetReason::CsumOffset);
    let mut plain = VnetHdr::NONE;
    let before = f.clone();
    complete_checksum(&mut plain, &mut f, L2::Ethernet).unwrap();
    assert_eq!(f, before);
}

#[test]
fn a_refused_super_frame_appends_nothing() {
    let s = Spec::tcp4(payload(10, 1));
    let (mut hdr, frame) = super_frame(&s, 1, 4);
    hdr.csum_start = 30;
    let (mut out, mut lens) = (vec![1, 2, 3], vec![3]);
    let e = split(&hdr, &frame, L2::Ethernet, &mut out, &mut lens).unwrap_err();
    assert_eq!(e.reason, VnetReason::CsumStart);
    assert_eq!((out, lens), (vec![1, 2, 3], vec![3]));
}
