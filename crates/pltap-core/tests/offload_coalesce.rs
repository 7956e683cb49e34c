//! The write-side coalescer: golden super-frames for TCP/UDP trains over IPv4, IPv6, VLAN
//! and TUN; every rule that must keep frames apart; ordering; and the round-trip
//! properties `split(coalesce(t)) == t` and `coalesce(split(s)) == s`.

mod offload_util;

use offload_util::*;
use pltap_core::offload::{Coalescer, L2, Limits, VnetHdr, split, validate};

fn l2_of(s: &Spec) -> L2 {
    if s.eth.is_some() { L2::Ethernet } else { L2::Ip }
}

/// A train of `n` full-size segments (and a `tail`-byte last one if tail > 0).
fn train(s: &Spec, n: usize, mss: usize, tail: usize) -> Vec<Vec<u8>> {
    let mut out = Vec::new();
    let mut seq = s.seq;
    for i in 0..n + usize::from(tail > 0) {
        let len = if i < n { mss } else { tail };
        let t = Spec { payload: payload(len, i as u8), seq, id: s.id.wrapping_add(i as u16), ..s.clone() };
        seq = seq.wrapping_add(len as u32);
        out.push(t.build());
    }
    out
}

/// Frame lists equal, reporting the first difference briefly.
fn same_frames(got: &[Vec<u8>], want: &[Vec<u8>], what: &str) {
    assert_eq!(got.len(), want.len(), "{what}: frame count");
    for (i, (g, w)) in got.iter().zip(want).enumerate() {
        if g != w {
            let at = g.iter().zip(w.iter()).position(|(a, b)| a != b).unwrap_or(g.len().min(w.len()));
            panic!(
                "{what}: frame {i} differs at byte {at} (len {} vs {}): {} vs {}",
                g.len(),
                w.len(),
                hex(&g[at.saturating_sub(4)..(at + 8).min(g.len())]),
                hex(&w[at.saturating_sub(4)..(at + 8).min(w.len())])
            );
        }
    }
}

fn pack(frames: &[Vec<u8>]) -> (Vec<u8>, Vec<u32>) {
    let mut data = Vec::new();
    let mut lens = Vec::new();
    for f in frames {
        data.extend_from_slice(f);
        lens.push(f.len() as u32);
    }
    (data, lens)
}

fn run(l2: L2, limits: Limits, frames: &[Vec<u8>]) -> Vec<(VnetHdr, Vec<u8>)> {
    let (data, lens) = pack(frames);
    let mut c = Coalescer::new(l2, limits);
    let mut out = Vec::new();
    c.coalesce(&data, &lens, |h, f| {
        out.push((*h, f.to_vec()));
        Ok(())
    })
    .unwrap();
    // Every write is valid for the device, and splits back into whole frames.
    for (h, f) in &out {
        validate(h, f, l2, &limits).unwrap_or_else(|e| panic!("coalescer output refused: {e}"));
    }
    out
}

/// What the peer sees: each write split again.
fn resplit(l2: L2, writes: &[(VnetHdr, Vec<u8>)]) -> Vec<Vec<u8>> {
    let (mut data, mut lens) = (Vec::new(), Vec::new());
    for (h, f) in writes {
        split(h, f, l2, &mut data, &mut lens).unwrap();
    }
    unpack(&data, &lens).into_iter().map(|f| f.to_vec()).collect()
}

fn roundtrip(s: &Spec, frames: &[Vec<u8>], limits: Limits, writes: usize) -> Vec<(VnetHdr, Vec<u8>)> {
    let out = run(l2_of(s), limits, frames);
    assert_eq!(out.len(), writes, "writes");
    same_frames(&resplit(l2_of(s), &out), frames, "split(coalesce(t)) == t");
    out
}

#[test]
fn ipv4_tcp_four_segment_train_golden() {
    // 3 × 8 bytes + a 5-byte tail with PSH, MTU 48 so that 8-byte segments are "full".
    let s = Spec { flags: 0x10, ..Spec::tcp4(vec![]) };
    let mut frames = train(&s, 3, 8, 5);
    // PSH on the last one: rebuild it.
    let mut last = Spec { payload: payload(5, 3), seq: s.seq + 24, id: s.id + 3, flags: 0x18, ..s.clone() };
    frames[3] = last.build();
    let out = roundtrip(&s, &frames, Limits { mtu: 48, allow_uso: false }, 1);
    let (h, f) = &out[0];
    assert_eq!(*h, VnetHdr { flags: 1, gso_type: 1, hdr_len: 54, gso_size: 8, csum_start: 34, csum_offset: 16 });
    // Expected super-frame, built independently: the first frame's headers, PSH from the
    // last, total length over all 29 bytes, the seed over the super L4 length.
    let mut p = Vec::new();
    for (i, n) in [8, 8, 8, 5].iter().enumerate() {
        p.extend(payload(*n, i as u8));
    }
    last = Spec { payload: p, seq: s.seq, id: s.id, flags: 0x18, csum: Csum::Seed, ..s.clone() };
    assert_eq!(hex(f), hex(&last.build()));
    // Frozen bytes of the same (checked by hand: IPv4 ~0x63a8 = 0x9c57; the TCP seed is
    // c612+0001+c612+0002+0006+0031 folded = 0x8c5f).
    assert_eq!(
        hex(f),
        "0200000000020200000000010800450000451234400040069c57c6120001c6120002\
         9c401451000003e80000004d501801f68c5f0000\
         001f3e5d7c9bbad901203f5e7d9cbbda0221405f7e9dbcdb032241607f"
    );
}

#[test]
fn ipv6_vlan_and_tun_trains() {
    let lim = Limits::default();
    let v6 = Spec { flow: 0x12345, tos: 0x20, ..Spec::tcp6(vec![]) };
    let out = roundtrip(&v6, &train(&v6, 5, 1428, 0), lim, 1);
    assert_eq!((out[0].0.gso_type, out[0].0.gso_size, out[0].0.csum_start), (4, 1428, 54));
    let q = Spec { eth: Some(vec![(0x88a8, 1), (0x8100, 2)]), ..Spec::tcp4(vec![]) };
    let out = roundtrip(&q, &train(&q, 4, 1460, 100), lim, 1);
    assert_eq!((out[0].0.hdr_len, out[0].0.csum_start), (62, 42));
    let t = Spec::tcp4(vec![]).tun();
    let out = roundtrip(&t, &train(&t, 3, 1460, 0), lim, 1);
    assert_eq!((out[0].0.hdr_len, out[0].0.csum_start, out[0].1.len()), (40, 20, 40 + 3 * 1460));
    let ts = Spec { opts: vec![1, 1, 8, 10, 0, 0, 0, 1, 0, 0, 0, 2], ..Spec::tcp6(vec![]) }.tun();
    roundtrip(&ts, &train(&ts, 3, 1428, 7), lim, 1);
}

#[test]
fn udp_trains_only_when_enabled() {
    let s = Spec::udp4(vec![]);
    let frames: Vec<Vec<u8>> =
        (0..4).map(|i| Spec { payload: payload(1000, i), id: s.id + i as u16, ..s.clone() }.build()).collect();
    let off = roundtrip(&s, &frames, Limits::default(), 4);
    assert!(off.iter().all(|(h, _)| *h == VnetHdr::NONE));
    let on = roundtrip(&s, &frames, Limits { mtu: 1500, allow_uso: true }, 1);
    assert_eq!(on[0].0, VnetHdr { flags: 1, gso_type: 5, hdr_len: 42, gso_size: 1000, csum_start: 34, csum_offset: 6 });
    let v6 = Spec::udp6(vec![]);
    let f6: Vec<Vec<u8>> = (0..3).map(|i| Spec { payload: payload(500 - i, i as u8), ..v6.clone() }.build()).collect();
    // 500, 499 (shorter: ends the train), 498.
    roundtrip(&v6, &f6, Limits { mtu: 1500, allow_uso: true }, 2);
    // A checksum-0 datagram (IPv4 "no checksum") is never merged.
    let mut z = frames.clone();
    z[1] = Spec { csum: Csum::Raw(0), ..Spec { payload: payload(1000, 1), id: s.id + 1, ..s.clone() } }.build();
    roundtrip(&s, &z, Limits { mtu: 1500, allow_uso: true }, 3);
}

/// Frames 0..4 of a train with frame 2 changed by `f`: how many writes result.
fn with_change(change: impl Fn(&mut Spec)) -> usize {
    with_change_order(change, &[0, 1, 2, 3])
}

/// As `with_change`, with the order the frames reach the peer in.
fn with_change_order(change: impl Fn(&mut Spec), order: &[usize]) -> usize {
    let s = Spec::tcp4(vec![]);
    let mut frames = train(&s, 4, 1000, 0);
    let mut t = Spec { payload: payload(1000, 2), seq: s.seq + 2000, id: s.id + 2, ..s.clone() };
    change(&mut t);
    frames[2] = t.build();
    let out = run(L2::Ethernet, Limits::default(), &frames);
    let want: Vec<Vec<u8>> = order.iter().map(|&i| frames[i].clone()).collect();
    same_frames(&resplit(L2::Ethernet, &out), &want, "nothing lost, no flow reordered");
    out.len()
}

#[test]
fn what_keeps_frames_apart() {
    assert_eq!(with_change(|_| {}), 1);
    // Frame 2 cannot join: the train [0,1] ends. Then either frame 2 ends a train of its
    // own that frame 3 can extend (2 writes... when 2 is shorter or carries PSH/FIN, it
    // joins and ends the train: 2 writes), or frame 3 cannot follow it either (3 writes).
    type Change = (&'static str, fn(&mut Spec), usize);
    let cases: [Change; 19] = [
        ("TTL", |t| t.ttl = 63, 3),
        ("TOS", |t| t.tos = 4, 3),
        ("DF", |t| t.df = false, 3),
        ("IPv4 ID not consecutive", |t| t.id += 5, 3),
        ("window", |t| t.win += 1, 3),
        ("ACK number", |t| t.ack += 1, 3),
        ("options", |t| t.opts = vec![1, 1, 1, 1], 3),
        ("sequence gap", |t| t.seq += 1, 3),
        ("longer than the first", |t| t.payload.push(0), 3),
        ("shorter: ends the train", |t| t.payload.truncate(999), 2),
        ("PSH: ends the train", |t| t.flags = 0x18, 2),
        ("FIN: ends the train", |t| t.flags = 0x11, 2),
        ("SYN", |t| t.flags = 0x12, 3),
        ("RST", |t| t.flags = 0x14, 3),
        ("URG", |t| t.flags = 0x30, 3),
        ("ECE", |t| t.flags = 0x50, 3),
        ("CWR", |t| t.flags = 0x90, 3),
        ("no ACK", |t| t.flags = 0x00, 3),
        ("bad checksum", |t| t.csum = Csum::Raw(1), 3),
    ];
    // Another flow in the middle (which also breaks IPv4 ID continuity): 3 writes.
    assert_eq!(with_change_order(|t| t.sport += 1, &[0, 1, 2, 3]), 3);
    for (name, change, writes) in cases {
        assert_eq!(with_change(change), writes, "{name}");
    }
}

#[test]
fn fixed_ipv4_ids_merge_only_with_df() {
    let s = Spec { id: 0, ..Spec::tcp4(vec![]) };
    let fixed: Vec<Vec<u8>> = train(&s, 3, 1000, 0)
        .iter()
        .enumerate()
        .map(|(i, _)| {
            Spec { payload: payload(1000, i as u8), seq: s.seq + 1000 * i as u32, id: 0, ..s.clone() }.build()
        })
        .collect();
    let out = run(L2::Ethernet, Limits::default(), &fixed);
    assert_eq!(out.len(), 1);
    // The kernel re-segments with incrementing IDs (a virtio header cannot say FIXEDID):
    // everything but the ID field and the header checksum comes back.
    let back = resplit(L2::Ethernet, &out);
    for (i, (b, f)) in back.iter().zip(&fixed).enumerate() {
        assert_eq!(u16::from_be_bytes([b[18], b[19]]), i as u16);
        assert_eq!((&b[..18], &b[20..24], &b[26..]), (&f[..18], &f[20..24], &f[26..]));
    }
    let nodf: Vec<Vec<u8>> = (0..3)
        .map(|i| {
            Spec { df: false, payload: payload(1000, i), seq: s.seq + 1000 * i as u32, id: 0, ..s.clone() }.build()
        })
        .collect();
    assert_eq!(run(L2::Ethernet, Limits::default(), &nodf).len(), 3);
}

#[test]
fn interleaved_flows_each_coalesce_and_keep_their_order() {
    let a = Spec::tcp4(vec![]);
    let b = Spec { sport: 40001, seq: 9_000_000, ..Spec::tcp4(vec![]) };
    let (ta, tb) = (train(&a, 4, 1000, 0), train(&b, 4, 1000, 0));
    let mut frames = Vec::new();
    for i in 0..4 {
        frames.push(ta[i].clone());
        frames.push(tb[i].clone());
    }
    let out = run(L2::Ethernet, Limits::default(), &frames);
    assert_eq!(out.len(), 2);
    same_frames(&resplit(L2::Ethernet, &out[..1]), &ta, "flow a");
    same_frames(&resplit(L2::Ethernet, &out[1..]), &tb, "flow b");
}

#[test]
fn non_tcp_frames_are_barriers_in_order() {
    let s = Spec::tcp4(vec![]);
    let t = train(&s, 4, 1000, 0);
    let mut arp = vec![0u8; 42];
    arp[12..14].copy_from_slice(&[0x08, 0x06]);
    let frames = vec![t[0].clone(), t[1].clone(), arp.clone(), t[2].clone(), t[3].clone()];
    let out = run(L2::Ethernet, Limits::default(), &frames);
    assert_eq!(out.len(), 3);
    assert_eq!(out[1], (VnetHdr::NONE, arp));
    same_frames(&resplit(L2::Ethernet, &out), &frames, "barrier");
}

#[test]
fn limits_sixty_four_segments_and_64_kib() {
    let s = Spec::tcp4(vec![]);
    let lim = Limits { mtu: 9000, allow_uso: false };
    // 70 small segments: 64 + 6.
    let t = train(&s, 70, 100, 0);
    let out = run(L2::Ethernet, lim, &t);
    assert_eq!(out.len(), 2);
    same_frames(&resplit(L2::Ethernet, &out), &t, "64 segments");
    // 8 × 8960 bytes: at most 65 535 bytes of IP per super-frame (7 segments = 62 760 B).
    let big = train(&s, 8, 8960, 0);
    let out = run(L2::Ethernet, lim, &big);
    assert_eq!(out.len(), 2);
    assert!(out.iter().all(|(_, f)| f.len() - 14 <= 65_535));
    same_frames(&resplit(L2::Ethernet, &out), &big, "64 KiB");
    // Frames above the MTU are not candidates.
    let jumbo = train(&s, 3, 1461, 0);
    assert_eq!(run(L2::Ethernet, Limits::default(), &jumbo).len(), 3);
}

#[test]
fn trains_of_one_and_pure_acks_pass_through_unchanged() {
    let ack = Spec::tcp4(vec![]).build();
    let one = Spec::tcp4(payload(100, 1)).build();
    let out = run(L2::Ethernet, Limits::default(), &[ack.clone(), one.clone(), ack.clone()]);
    assert_eq!(out, vec![(VnetHdr::NONE, ack.clone()), (VnetHdr::NONE, one), (VnetHdr::NONE, ack)]);
}

#[test]
fn bad_lengths_emit_nothing_and_emit_errors_stop() {
    let mut c = Coalescer::new(L2::Ethernet, Limits::default());
    let mut n = 0;
    let e = c.coalesce(&[0u8; 100], &[60, 41], |_, _| {
        n += 1;
        Ok(())
    });
    assert_eq!(e.unwrap_err().kind(), std::io::ErrorKind::InvalidInput);
    assert_eq!(n, 0);
    let (data, lens) = pack(&[vec![0u8; 60], vec![0u8; 60]]);
    let e = c.coalesce(&data, &lens, |_, _| {
        n += 1;
        Err(std::io::Error::from_raw_os_error(22))
    });
    assert_eq!((e.unwrap_err().raw_os_error(), n), (Some(22), 1));
}

#[test]
fn property_split_then_coalesce_gives_the_super_frame_back() {
    let mut rng = Rng(0x05ee_d0ff_10ad);
    for round in 0..400 {
        let v6 = rng.bool();
        let udp = rng.below(4) == 0;
        let tags: Vec<(u16, u16)> = (0..rng.below(3))
            .map(|i| (if i == 0 && rng.bool() { 0x88a8 } else { 0x8100 }, rng.below(4096) as u16))
            .collect();
        let eth = if rng.below(4) == 0 { None } else { Some(tags) };
        let mss = if udp { 1 } else { 8 } + rng.below(1400) as usize;
        let n = 2 + rng.below(20) as usize;
        let len = (mss * (n - 1) + 1 + rng.below(mss as u64) as usize).min(60_000);
        let mut s = Spec {
            eth,
            v6,
            l4: if udp { L4::Udp } else { L4::Tcp },
            id: rng.next() as u16,
            seq: rng.next() as u32,
            ack: rng.next() as u32,
            win: rng.next() as u16,
            ttl: 1 + rng.below(255) as u8,
            tos: (rng.below(64) as u8) << 2,
            flags: [0x10, 0x18, 0x11, 0x19][rng.below(4) as usize],
            opts: if rng.bool() { vec![1, 1, 8, 10, 1, 2, 3, 4, 5, 6, 7, 8] } else { vec![] },
            payload: payload(len, round as u8),
            csum: Csum::Seed,
            ..Spec::default()
        };
        if udp {
            s.opts.clear();
        }
        let segs_n = len.div_ceil(mss);
        if !(2..=64).contains(&segs_n) {
            continue;
        }
        let hdr = VnetHdr {
            flags: 1,
            gso_type: match (udp, v6) {
                (true, _) => 5,
                (false, false) => 1,
                (false, true) => 4,
            },
            hdr_len: s.hdr_len() as u16,
            gso_size: mss as u16,
            csum_start: s.l4_offset() as u16,
            csum_offset: if udp { 6 } else { 16 },
        };
        let sup = s.build();
        let l2 = l2_of(&s);
        let lim = Limits { mtu: 1500, allow_uso: true };
        validate(&hdr, &sup, l2, &lim).unwrap();
        let (mut data, mut lens) = (Vec::new(), Vec::new());
        split(&hdr, &sup, l2, &mut data, &mut lens).unwrap();
        let segs = unpack(&data, &lens);
        for seg in &segs {
            verify(seg, s.l2_len(), s.l4_offset(), v6);
            assert!(seg.len() <= s.l2_len() + 1500);
        }
        let mut out = Vec::new();
        Coalescer::new(l2, lim)
            .coalesce(&data, &lens, |h, f| {
                out.push((*h, f.to_vec()));
                Ok(())
            })
            .unwrap();
        assert_eq!(out.len(), 1, "round {round}: {s:?}");
        assert_eq!(out[0].0, hdr, "round {round}");
        assert_eq!(hex(&out[0].1), hex(&sup), "round {round}");
    }
}

#[test]
fn property_random_bursts_lose_and_reorder_nothing_within_a_flow() {
    let mut rng = Rng(0xc0a1_e5ce);
    let lim = Limits { mtu: 1500, allow_uso: true };
    for round in 0..300 {
        let flows: Vec<Spec> = (0..1 + rng.below(3))
            .map(|f| {
                let base = if rng.below(3) == 0 {
                    Spec::udp4(vec![])
                } else if rng.bool() {
                    Spec::tcp4(vec![])
                } else {
                    Spec::tcp6(vec![])
                };
                Spec { sport: 1000 + f as u16, seq: rng.next() as u32, id: rng.next() as u16, ..base }
            })
            .collect();
        let mut next: Vec<(u32, u16)> = flows.iter().map(|s| (s.seq, s.id)).collect();
        let mut frames = Vec::new();
        let mut owner = Vec::new();
        for i in 0..rng.below(40) {
            if rng.below(12) == 0 {
                frames.push(vec![0xff; 60]); // a barrier (broadcast, EtherType 0xffff)
                owner.push(usize::MAX);
                continue;
            }
            let f = rng.below(flows.len() as u64) as usize;
            let len = if rng.below(5) == 0 { rng.below(1000) as usize } else { 1000 };
            let (seq, id) = next[f];
            let mut t = Spec { payload: payload(len, i as u8), seq, id, ..flows[f].clone() };
            match rng.below(16) {
                0 => t.flags = 0x18,
                1 => t.flags = 0x11,
                2 => t.seq = t.seq.wrapping_add(7),
                3 => t.csum = Csum::Raw(0x1234),
                4 => t.ttl = 9,
                5 => t.flags = 0x90,
                _ => {}
            }
            next[f] = (seq.wrapping_add(len as u32), id.wrapping_add(1));
            frames.push(t.build());
            owner.push(f);
        }
        let out = run(L2::Ethernet, lim, &frames);
        let back = resplit(L2::Ethernet, &out);
        // Per flow (and for the barriers), the frames come back in their order.
        let mut sorted_in: Vec<&Vec<u8>> = frames.iter().collect();
        let mut sorted_out: Vec<&Vec<u8>> = back.iter().collect();
        sorted_in.sort();
        sorted_out.sort();
        assert_eq!(sorted_in, sorted_out, "round {round}: same multiset");
        for f in 0..flows.len() {
            let want: Vec<Vec<u8>> =
                frames.iter().zip(&owner).filter(|(_, o)| **o == f).map(|(x, _)| x.clone()).collect();
            let port = (1000 + f as u16).to_be_bytes();
            let got: Vec<Vec<u8>> = back
                .iter()
                .filter(|x| x.len() > 60 || x[..] != [0xff; 60][..])
                .filter(|x| {
                    let l4 = if x[12] == 0x86 { 54 } else { 34 };
                    x.len() >= l4 + 2 && x[l4..l4 + 2] == port
                })
                .cloned()
                .collect();
            same_frames(&got, &want, &format!("round {round} flow {f}"));
        }
        // Barriers keep their place relative to everything.
        let pos_in: Vec<usize> = owner.iter().enumerate().filter(|(_, o)| **o == usize::MAX).map(|(i, _)| i).collect();
        let pos_out: Vec<usize> =
            back.iter().enumerate().filter(|(_, x)| x[..] == [0xff; 60][..]).map(|(i, _)| i).collect();
        assert_eq!(pos_in, pos_out, "round {round}: barriers");
    }
}

#[test]
fn tcp_segments_below_the_kernel_minimum_gso_size_are_not_merged() {
    let s = Spec::tcp4(vec![]);
    assert_eq!(run(L2::Ethernet, Limits::default(), &train(&s, 4, 7, 0)).len(), 4);
    assert_eq!(run(L2::Ethernet, Limits::default(), &train(&s, 4, 8, 0)).len(), 1);
}
