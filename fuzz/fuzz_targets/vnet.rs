//! virtio-net header offload: `pltap_core::offload::{VnetHdr::decode, validate, parse,
//! prepare_for_write, complete_checksum, split, Coalescer}`.
//!
//! Input (`pltap_fuzz::vnet::split_input`): mode byte (TUN bit, USO bit, mutation seed),
//! MTU, the 10-byte header, the frame. Invariants: never a panic; decode/encode round
//! trip; `validate` ok ⇒ the layout's offsets are ordered inside the frame, `parse` (the
//! looser read side) agrees, `prepare_for_write` succeeds with `hdr_len` exact and the
//! seed a split does not depend on; refused ⇒ `prepare_for_write` refuses the same way
//! and changes nothing. A validated GSO frame splits into ceil(payload / gso_size)
//! segments, each ≤ MTU + L2 header, with valid IPv4 header and L4 checksums (checked
//! independently), whose payloads concatenate to the super-frame's; a validated
//! NEEDS_CSUM frame completes to a valid checksum; `split` never emits a frame on error.
//! The coalescer, fed those segments (some mutated by the seed) and, separately, the raw
//! frame bytes cut into frames: every write it emits passes `validate`, and splitting
//! the writes again gives back exactly the frames it was fed (IPv4 ID and header
//! checksum aside for DF frames: fixed-ID trains), each flow in its order (frames that
//! are not TCP/UDP over IP: as a multiset).
#![no_main]

use libfuzzer_sys::fuzz_target;
use pltap_core::offload::{
    Coalescer, L2, L4Proto, Limits, VnetHdr, complete_checksum, parse, prepare_for_write, split, validate,
};
use pltap_fuzz::vnet::{check_finished, check_l4, inspect, split_input, without_fixed_id};
use std::borrow::Cow;

fn unpack(data: &[u8], lens: &[u32]) -> Vec<Vec<u8>> {
    let mut out = Vec::new();
    let mut off = 0;
    for &l in lens {
        out.push(data[off..off + l as usize].to_vec());
        off += l as usize;
    }
    assert_eq!(off, data.len(), "lens do not cover the slab");
    out
}

/// A frame's flow (None: not TCP/UDP over IP) and its bytes, without the IPv4 ID and
/// header checksum unless every IPv4 frame had its own ID.
fn keyed(f: &[u8], l2: L2, distinct_ids: bool) -> (Option<Vec<u8>>, Cow<'_, [u8]>) {
    let flow = inspect(f, l2).map(|s| s.flow);
    (flow, if distinct_ids { Cow::Borrowed(f) } else { Cow::Owned(without_fixed_id(f, l2)) })
}

/// Coalesces `frames`, checks every write, re-splits them and compares with `frames`.
fn coalesce_check(frames: &[Vec<u8>], l2: L2, limits: Limits) {
    let mut data = Vec::new();
    let mut lens = Vec::new();
    for f in frames {
        data.extend_from_slice(f);
        lens.push(f.len() as u32);
    }
    let mut back = (Vec::new(), Vec::new());
    let mut writes = 0usize;
    Coalescer::new(l2, limits)
        .coalesce(&data, &lens, |h, f| {
            writes += 1;
            if *h != VnetHdr::NONE {
                let lay =
                    validate(h, f, l2, &limits).unwrap_or_else(|e| panic!("coalescer wrote a header it refuses: {e}"));
                assert!(h.is_gso() && h.needs_csum() && usize::from(h.hdr_len) == lay.payload_offset);
                assert!(lay.payload_len() > usize::from(h.gso_size), "a super-frame of one segment");
            }
            let n = split(h, f, l2, &mut back.0, &mut back.1).expect("a coalesced write must split");
            assert!(n >= 1);
            Ok(())
        })
        .expect("emit never fails here");
    assert!(writes <= frames.len());
    let back = unpack(&back.0, &back.1);
    assert_eq!(back.len(), frames.len(), "frames lost or added");
    let distinct_ids = {
        let mut ids: Vec<(Vec<u8>, [u8; 2])> = frames
            .iter()
            .filter_map(|f| inspect(f, l2).filter(|s| !s.v6).map(|s| (s.flow, [f[s.l3 + 4], f[s.l3 + 5]])))
            .collect();
        let n = ids.len();
        ids.sort_unstable();
        ids.dedup();
        ids.len() == n
    };
    let mut a: Vec<_> = frames.iter().map(|f| keyed(f, l2, distinct_ids)).collect();
    let mut b: Vec<_> = back.iter().map(|f| keyed(f, l2, distinct_ids)).collect();
    // Each flow in its order: a stable sort by flow keeps the order within each flow.
    a.sort_by(|x, y| x.0.cmp(&y.0));
    b.sort_by(|x, y| x.0.cmp(&y.0));
    // Unparsed frames (flow None) only as a multiset.
    let split_at = |v: &mut Vec<(Option<Vec<u8>>, Cow<'_, [u8]>)>| {
        let k = v.iter().position(|x| x.0.is_some()).unwrap_or(v.len());
        v[..k].sort_by(|x, y| x.1.cmp(&y.1));
    };
    split_at(&mut a);
    split_at(&mut b);
    assert!(a == b, "split(coalesce(frames)) is not the frames, flow by flow");
}

/// A tiny deterministic generator for the mutations.
fn next(state: &mut u64) -> u64 {
    *state ^= *state << 13;
    *state ^= *state >> 7;
    *state ^= *state << 17;
    *state
}

fuzz_target!(|data: &[u8]| {
    let Some(input) = split_input(data) else { return };
    let (l2, limits, frame) = (input.l2, input.limits, input.frame);
    let hdr = VnetHdr::decode(&input.hdr_bytes).expect("10 bytes decode");
    assert_eq!(hdr.to_bytes(), input.hdr_bytes);

    // split never panics and appends nothing on error, whatever the header.
    let (mut out, mut lens) = (vec![0xa5], Vec::new());
    let read_side = match split(&hdr, frame, l2, &mut out, &mut lens) {
        Ok(n) => {
            assert_eq!(n, lens.len());
            let segs = unpack(&out[1..], &lens);
            if hdr.is_gso() {
                for s in &segs {
                    check_finished(s, l2).unwrap_or_else(|e| panic!("split (read side): {e}"));
                }
            }
            Some(segs)
        }
        Err(e) => {
            assert_eq!((out.len(), lens.len()), (1, 0), "split appended on error {e}");
            None
        }
    };

    let layout = match validate(&hdr, frame, l2, &limits) {
        Ok(lay) => lay,
        Err(e) => {
            assert!(!e.to_string().is_empty() && !e.detail.is_empty());
            let (mut h, mut f) = (hdr, frame.to_vec());
            assert_eq!(prepare_for_write(&mut h, &mut f, l2, &limits), Err(e));
            assert!(h == hdr && f == frame, "prepare_for_write changed a refused frame");
            // The raw bytes as a burst of frames (lengths from the header bytes).
            let mut frames = Vec::new();
            let mut rest = frame;
            for &b in input.hdr_bytes.iter().cycle().take(16) {
                if rest.is_empty() {
                    break;
                }
                let n = (usize::from(b) * 7 + 14).min(rest.len());
                frames.push(rest[..n].to_vec());
                rest = &rest[n..];
            }
            coalesce_check(&frames, l2, limits);
            return;
        }
    };
    assert!(layout.l3_offset <= frame.len() && layout.ip_end <= frame.len());
    let offload = hdr.needs_csum() || hdr.is_gso();
    if offload {
        assert!(layout.l3_offset < layout.l4_offset && layout.l4_offset < layout.payload_offset);
        assert!(layout.payload_offset <= layout.ip_end && layout.ip_end == frame.len());
        assert!(matches!(layout.l4, L4Proto::Tcp | L4Proto::Udp));
        assert_eq!(usize::from(hdr.csum_start), layout.l4_offset);
    }
    assert_eq!(parse(&hdr, frame, l2), Ok(layout), "the read side refuses what the write side accepts");

    let mut prepared = frame.to_vec();
    let mut ph = hdr;
    assert_eq!(prepare_for_write(&mut ph, &mut prepared, l2, &limits), Ok(layout));
    assert_eq!(usize::from(ph.hdr_len), if offload { layout.payload_offset } else { 0 });
    assert_eq!(validate(&ph, &prepared, l2, &limits), Ok(layout), "prepared frame refused");

    if hdr.needs_csum() && !hdr.is_gso() {
        let mut h = hdr;
        let mut f = frame.to_vec();
        complete_checksum(&mut h, &mut f, l2).expect("a validated NEEDS_CSUM frame completes");
        // With the seed refreshed first, the result is a valid checksum.
        let mut h2 = ph;
        let mut f2 = prepared.clone();
        complete_checksum(&mut h2, &mut f2, l2).unwrap();
        assert!(!h2.needs_csum());
        check_l4(&f2, l2).unwrap_or_else(|e| panic!("completed: {e}"));
    }

    if !hdr.is_gso() {
        return;
    }
    // A validated super-frame splits into MTU-sized, checksum-valid segments.
    // (The read-side split above is the same function on the same input.)
    let segs = read_side.expect("a validated super-frame splits");
    let n = segs.len();
    let g = usize::from(hdr.gso_size);
    assert_eq!(n, layout.payload_len().div_ceil(g));
    let mut payload = Vec::new();
    for (i, s) in segs.iter().enumerate() {
        assert!(s.len() <= layout.l3_offset + limits.mtu as usize, "segment above the MTU");
        let seen = check_finished(s, l2).unwrap_or_else(|e| panic!("segment {i}: {e}"));
        assert_eq!(&s[..seen.l3], &frame[..layout.l3_offset], "L2 header (VLAN tags) copied");
        payload.extend_from_slice(&s[layout.payload_offset..]);
        if layout.l4 == L4Proto::Tcp {
            let fl = s[layout.l4_offset + 13];
            if i + 1 < n {
                assert_eq!(fl & 0x09, 0, "FIN/PSH before the last segment");
            }
            if i > 0 {
                assert_eq!(fl & 0x80, 0, "CWR after the first segment");
            }
        }
    }
    assert_eq!(payload, &frame[layout.payload_offset..layout.ip_end]);

    // The coalescer on the segments (the first 80: a train holds at most 64), some of
    // them mutated.
    let mut segs = segs;
    segs.truncate(80);
    let mut state = 0x9e37_79b9_7f4a_7c15 ^ (data.len() as u64) ^ (u64::from(input.mutations) << 32);
    for _ in 0..(input.mutations & 7) {
        let i = (next(&mut state) % segs.len() as u64) as usize;
        let s = &mut segs[i];
        match next(&mut state) % 4 {
            0 => {
                let at = (next(&mut state) % s.len() as u64) as usize;
                s[at] ^= 1 << (next(&mut state) % 8);
            }
            1 => {
                let dup = s.clone();
                segs.insert(i, dup);
            }
            2 if segs.len() > 1 => {
                segs.remove(i);
            }
            _ => {
                let j = (next(&mut state) % segs.len() as u64) as usize;
                segs.swap(i, j);
            }
        }
    }
    coalesce_check(&segs, l2, limits);
});
