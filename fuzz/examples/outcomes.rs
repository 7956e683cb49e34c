//! Which outcomes a corpus reaches: every refusal message (by template) and every kind
//! of accepted request of the vsysd targets, and every kind of `fd_tuntap` reply the
//! client decodes (by error template), with counts. A reading aid for coverage
//! ("is every documented refusal reached?"), complementing libFuzzer's edge counts.
//!
//! ```sh
//! cargo +nightly run --manifest-path fuzz/Cargo.toml --example outcomes -- vsysd_vif_up fuzz/corpus/vsysd_vif_up [more dirs]
//! ```

use pltap_core::vsys::{ReplyKind, decode_reply};
use pltap_fuzz::{split_reply, split_slice};
use pltap_vsysd::scripts::{check_promisc_address, parse_promisc, parse_vif_down, parse_vif_up};
use std::collections::BTreeMap;

/// The refusal templates of `pltap_vsysd::scripts`, by a fixed part of their text.
const TEMPLATES: &[(&str, &str)] = &[
    ("Request too long", "Request too long: N bytes"),
    ("Request is not valid UTF-8", "Request is not valid UTF-8"),
    ("Control character", "Control character C on request line N"),
    ("Insufficient argument lines.", "Insufficient argument lines."),
    ("does not match slice id", "Interface name X does not match slice id N."),
    ("Interface name ", "Interface name X invalid"),
    ("Invalid IP: ", "Invalid IP: X"),
    ("Requested IP ", "Requested IP X not in netblock V"),
    ("larger than allocation", "Requested netmask /N larger than allocation /M"),
    ("Requested netmask /", "Requested netmask /X is invalid"),
    ("Bad option line", "Bad option line: \"X\""),
    ("rp_filter value invalid", "rp_filter value invalid: \"X\""),
    ("txqueuelen value", "txqueuelen value X out of range 1-10000"),
    ("MTU value", "MTU value X out of range"),
    ("snat value invalid", "snat value invalid: \"X\""),
    ("dropkern value invalid", "dropkern value invalid: \"X\""),
    ("could not parse remote", "could not parse remote: ..."),
    ("could not parse pointopoint", "could not parse pointopoint: ..."),
    ("Unknown option", "Unknown option: \"X\""),
    ("GRE tunnels need a pointopoint", "GRE tunnels need a pointopoint address"),
    ("GRE tunnels need a remote", "GRE tunnels need a remote address"),
    ("Option gre is not supported", "Option gre is not supported ..."),
    ("Option pointopoint is not supported", "Option pointopoint is not supported ..."),
    ("delete value invalid", "delete value invalid: \"X\""),
    ("has no IPv4 address", "Interface X has no IPv4 address (run vif_up first)"),
];

fn template(refusal: &str) -> String {
    // The first matching needle in the order above (specific before general).
    for (needle, name) in TEMPLATES {
        let hit = if *needle == "Interface name " || *needle == "Requested IP " || *needle == "Requested netmask /" {
            refusal.starts_with(needle)
        } else {
            refusal.contains(needle)
        };
        if hit {
            return format!("refused: {name}");
        }
    }
    format!("refused, UNKNOWN TEMPLATE: {refusal:?}")
}

/// The error templates of `pltap_core::vsys::decode_reply` and the refusals of
/// `pltap_vsysd::tuntap::parse_request`, by a fixed part of their text.
const FD_TUNTAP_TEMPLATES: &[&str] = &[
    "the control message was truncated",
    "descriptors; exactly one was expected",
    "the reply is longer than",
    "a descriptor but no device name",
    "the device name is longer than",
    "is not a single NUL-terminated string",
    "is a template, not a device",
    "invalid interface name",
    "but no descriptor",
    "which is not a refusal: not UTF-8",
    "which is not a refusal: it does not end with a newline",
    "which is not a refusal: it has control characters",
    "the request must be a 4-byte interface type",
    "is not a valid interface type",
];

fn fd_tuntap_template(detail: &str) -> String {
    match FD_TUNTAP_TEMPLATES.iter().find(|t| detail.contains(*t)) {
        Some(t) => format!("error: ...{t}..."),
        None => format!("error, UNKNOWN TEMPLATE: {detail:?}"),
    }
}

/// The outcome of one input of the two `fd_tuntap` targets; `None` for another target.
fn fd_tuntap_outcome(target: &str, data: &[u8]) -> Option<String> {
    Some(match target {
        "vsys_fd_tuntap_reply" => match split_reply(data).map(|(p, fds, t)| decode_reply(p, fds, t)) {
            None => "empty input".into(),
            Some(Ok(ReplyKind::Device { name })) => {
                let kind = ["tap", "tun"].into_iter().find(|k| name.as_str().starts_with(k)).unwrap_or("other name");
                format!("device: {kind}")
            }
            Some(Ok(ReplyKind::Refused { reason: None })) => "refused: closed without a reason".into(),
            Some(Ok(ReplyKind::Refused { reason: Some(r) })) => {
                format!("refused: a reason of {} line(s)", if r.contains('\n') { "several" } else { "one" })
            }
            Some(Err(e)) => fd_tuntap_template(&e),
        },
        "vsysd_fd_tuntap_request" => match pltap_vsysd::tuntap::parse_request(data) {
            Ok(mode) => format!("accepted: {}", mode.as_str()),
            Err(e) => fd_tuntap_template(&e),
        },
        _ => return None,
    })
}

fn main() {
    let mut args = std::env::args().skip(1);
    let target = args.next().expect("usage: outcomes <target> <corpus dir>...");
    let mut seen: BTreeMap<String, usize> = BTreeMap::new();
    let mut files = 0;
    for dir in args {
        for entry in std::fs::read_dir(&dir).unwrap_or_else(|e| panic!("{dir}: {e}")) {
            let data = std::fs::read(entry.unwrap().path()).unwrap();
            files += 1;
            if let Some(o) = fd_tuntap_outcome(&target, &data) {
                *seen.entry(o).or_default() += 1;
                continue;
            }
            let Some((slice, request)) = split_slice(&data) else {
                *seen.entry("too short for the slice header".into()).or_default() += 1;
                continue;
            };
            let mut outcomes = Vec::new();
            match target.as_str() {
                "vsysd_vif_up" => match parse_vif_up(request, &slice) {
                    Ok(up) => {
                        outcomes.push(format!("accepted: {}", &up.name.as_str()[..3]));
                        up.rp_filter.inspect(|v| outcomes.push(format!("accepted: rp_filter={}", u8::from(*v))));
                        up.txqueuelen.inspect(|_| outcomes.push("accepted: txqueuelen".into()));
                        up.mtu.inspect(|_| outcomes.push("accepted: mtu".into()));
                        for note in &up.notes {
                            let option = note.trim_start_matches("Note: option ").split(['=', ' ']).next().unwrap_or("");
                            outcomes.push(format!("accepted: note for {option}"));
                        }
                    }
                    Err(r) => outcomes.push(template(&r)),
                },
                "vsysd_vif_down" => match parse_vif_down(request, &slice) {
                    Ok(d) => outcomes.push(format!("accepted: {} delete={}", &d.name.as_str()[..3], d.delete)),
                    Err(r) => outcomes.push(template(&r)),
                },
                "vsysd_promisc" => match parse_promisc(request, &slice) {
                    Ok(p) => {
                        outcomes.push(format!("accepted: {} on={}", &p.name.as_str()[..3], p.on));
                        let addr = pltap_fuzz::promisc_device_address(request);
                        outcomes.push(match check_promisc_address(&p.name, addr, &slice) {
                            Ok(()) => "address check: inside the netblock".into(),
                            Err(r) => format!("address check {}", template(&r)),
                        });
                    }
                    Err(r) => outcomes.push(template(&r)),
                },
                other => panic!("no outcome table for target {other}"),
            }
            for o in outcomes {
                *seen.entry(o).or_default() += 1;
            }
        }
    }
    println!("{target}: {files} inputs");
    for (outcome, n) in &seen {
        println!("{n:8}  {outcome}");
    }
}
