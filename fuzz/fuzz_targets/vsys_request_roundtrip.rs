//! Round trip between the client and the helper: the requests built by
//! `pltap_core::vsys::{vif_up_request, vif_down_request, promisc_request}` from
//! arbitrary valid values parse back, with `pltap_vsysd::scripts`, to the same values.
//!
//! The values are drawn from the input: a slice (uid and netblock), one of its
//! device names, an address inside the netblock, a prefix the helper allows, and any
//! subset of the options, in any order, with in-range values.
#![no_main]

use libfuzzer_sys::arbitrary::{Result, Unstructured};
use libfuzzer_sys::fuzz_target;
use pltap_core::vsys::{VifOption, promisc_request, vif_down_request, vif_up_request};
use pltap_core::{IfName, Ipv4Net};
use pltap_vsysd::Slice;
use pltap_vsysd::scripts::{parse_promisc, parse_vif_down, parse_vif_up};
use std::net::Ipv4Addr;

/// What the helper should report for the options, and the notes it should add.
#[derive(Default)]
struct Want {
    rp_filter: Option<bool>,
    txqueuelen: Option<u32>,
    mtu: Option<u32>,
    notes: Vec<String>,
}

fn run(u: &mut Unstructured) -> Result<()> {
    let uid: u32 = u.arbitrary()?;
    let vnet = Ipv4Net::new(Ipv4Addr::from(u.arbitrary::<u32>()?), u.int_in_range(0..=32)?).expect("a prefix of at most 32 is valid");
    let slice = Slice { uid, vnet };

    // tap<uid>-<n> / tun<uid>-<n>, shortened to fit 15 bytes.
    let kind = if u.arbitrary()? { "tap" } else { "tun" };
    let mut number = u.arbitrary::<u64>()?.to_string();
    let room = 15usize.saturating_sub(kind.len() + uid.to_string().len() + 1);
    if room == 0 {
        return Ok(());
    }
    number.truncate(room);
    let name = IfName::new(&format!("{kind}{uid}-{number}")).expect("a slice name is a valid name");

    // An address inside the netblock and a prefix in max(8, vnet)..=32.
    let mask = if vnet.prefix() == 0 { 0 } else { !0u32 << (32 - u32::from(vnet.prefix())) };
    let addr = Ipv4Addr::from((u32::from(vnet.addr()) & mask) | (u.arbitrary::<u32>()? & !mask));
    let prefix: u8 = u.int_in_range(vnet.prefix().max(8)..=32)?;

    let mut want = Want::default();
    let mut opts = Vec::new();
    let mut remote = false;
    for _ in 0..u.int_in_range(0..=6)? {
        let (k, v) = match u.int_in_range(0..=6)? {
            0 => {
                let on: bool = u.arbitrary()?;
                want.rp_filter = Some(on);
                ("rp_filter", u8::from(on).to_string())
            }
            1 => {
                let n = u.int_in_range(1..=10000)?;
                want.txqueuelen = Some(n);
                ("txqueuelen", n.to_string())
            }
            2 => {
                let n = u.int_in_range(1..=65535)?;
                want.mtu = Some(n);
                ("mtu", n.to_string())
            }
            3 | 4 => {
                let k = if u.arbitrary()? { "snat" } else { "dropkern" };
                let v = u.int_in_range(0u32..=999_999_999)?.to_string();
                want.notes.push(format!("Note: option {k}={v} ignored (pltap-vsysd does not manage iptables)"));
                (k, v)
            }
            5 => {
                // Any printable value without '=' (what VifOption allows), 1..=32 bytes.
                let len = u.int_in_range(1..=32)?;
                let mut v = String::new();
                for _ in 0..len {
                    v.push(char::from(u.int_in_range(b'!'..=b'~')?));
                }
                let v = v.replace('=', "-");
                want.notes.push(format!(
                    "Note: option vswitch={v} ignored (pltap-vsysd does not manage Open vSwitch datapaths)"
                ));
                ("vswitch", v)
            }
            _ => {
                remote = true;
                ("remote", Ipv4Addr::from(u.arbitrary::<u32>()?).to_string())
            }
        };
        opts.push(VifOption::new(k, &v).expect("a valid option"));
    }
    if remote {
        want.notes.push("Note: option remote ignored (it only matters with gre)".to_string());
    }

    let net = Ipv4Net::new(addr, prefix).expect("a prefix of at most 32 is valid");
    assert_eq!((net.addr(), net.prefix()), (addr, prefix));
    let req = vif_up_request(&name, net, &opts).expect("client refused valid values");
    let up = parse_vif_up(&req, &slice).unwrap_or_else(|r| panic!("helper refused {req:?}: {r}"));
    assert_eq!(up.name, name);
    assert_eq!(up.net, net);
    assert_eq!((up.net.addr(), up.net.prefix()), (addr, prefix));
    assert_eq!((up.rp_filter, up.txqueuelen, up.mtu), (want.rp_filter, want.txqueuelen, want.mtu));
    assert_eq!(up.notes, want.notes);

    let req = vif_down_request(&name).expect("client refused a valid name");
    let down = parse_vif_down(&req, &slice).unwrap_or_else(|r| panic!("helper refused {req:?}: {r}"));
    assert_eq!((down.name, down.delete), (name.clone(), false));

    let on: bool = u.arbitrary()?;
    let req = promisc_request(&name, on).expect("client refused a valid name");
    let p = parse_promisc(&req, &slice).unwrap_or_else(|r| panic!("helper refused {req:?}: {r}"));
    assert_eq!((p.name, p.on), (name, on));
    Ok(())
}

fuzz_target!(|data: &[u8]| {
    let _ = run(&mut Unstructured::new(data));
});
