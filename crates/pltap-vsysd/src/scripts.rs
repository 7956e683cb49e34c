//! The built-in `vif_up`, `vif_down` and `promisc` scripts: request parsing and
//! PlanetLab's validation as pure functions (no I/O), plus [`run`], which applies a
//! validated request to the kernel with `pltap-core` ioctls and returns the reply text.
//!
//! Every failure message is the one the PlanetLab Python script prints (vsys-scripts
//! `root-context/exec/{vif_up,vif_down,promisc}`), followed by a newline. The known
//! script bugs are fixed:
//!
//! * **S2**: the interface name must match `^(tun|tap)<uid>-\d+$` anchored at both ends
//!   and be at most 15 bytes (the original accepted any suffix and 16 bytes).
//! * **S4**: `promisc` checks the name prefix too, not only the address; a missing
//!   address gives a message instead of a Python traceback.
//! * Values the scripts passed to `int()` (prefix, `txqueuelen`, `mtu`, `snat`,
//!   `dropkern`) are strict decimal integers and give a message instead of a traceback.
//! * IP addresses are strict dotted quads (`inet_aton` also took `10.1` or `0x0a000001`).
//! * `vif_down`'s invalid `delete=` value says `delete value invalid` (the original said
//!   `rp_filter value invalid`, a copy-paste slip), and a GRE request without `remote=`
//!   says `GRE tunnels need a remote address` (the original repeated the pointopoint message).
//! * A request that is not UTF-8, or has a control character other than the line
//!   separators, is refused before any field is looked at (no injection, defect A17).

use pltap_core::{IfName, Ipv4Net, Prefix};
use std::fmt::Write as _;
use std::net::Ipv4Addr;

/// The largest request the helper reads; longer requests are refused.
pub const MAX_REQUEST: usize = 64 * 1024;

/// The FIFO scripts the helper serves, in the order their entries are created.
pub const SCRIPTS: [&str; 3] = ["vif_up", "vif_down", "promisc"];

/// What the slice is allowed: its uid (the `<uid>` of `tap<uid>-N`) and its netblock
/// (`vsys_vnet`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Slice {
    /// The slice's uid (`pwd.getpwnam(slice).pw_uid` on PlanetLab).
    pub uid: u32,
    /// The slice's netblock, `a.b.c.d/len`.
    pub vnet: Ipv4Net,
}

/// A validated `vif_up` request.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct VifUp {
    /// The interface.
    pub name: IfName,
    /// Address and prefix to set.
    pub net: Ipv4Net,
    /// `rp_filter=0|1`.
    pub rp_filter: Option<bool>,
    /// `txqueuelen=1..10000`.
    pub txqueuelen: Option<u32>,
    /// `mtu=N`.
    pub mtu: Option<u32>,
    /// Note lines for options that were accepted but are not acted on.
    pub notes: Vec<String>,
}

/// A validated `vif_down` request.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct VifDown {
    /// The interface.
    pub name: IfName,
    /// `delete=1` was asked (validated, then ignored: a non-persistent tap cannot be
    /// deleted while its owner holds it; it is only brought down).
    pub delete: bool,
}

/// A validated `promisc` request (the address check needs the kernel: see
/// [`check_promisc_address`]).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Promisc {
    /// The interface.
    pub name: IfName,
    /// `true` to turn PROMISC on; `<name>\n-\n` (exactly two lines) turns it off.
    pub on: bool,
}

/// A validation failure: the reply text, one or more lines, each ending with `\n`.
pub type Refusal = String;

fn refuse(msg: impl Into<String>) -> Refusal {
    let mut m = msg.into();
    m.push('\n');
    m
}

/// Splits a request into stripped lines the way the scripts did
/// (`map(string.strip, sys.stdin.readlines())`), after refusing oversized, non-UTF-8
/// and control-character requests.
pub fn request_lines(request: &[u8]) -> Result<Vec<&str>, Refusal> {
    if request.len() > MAX_REQUEST {
        return Err(refuse(format!("Request too long: {} bytes (the limit is {MAX_REQUEST})", request.len())));
    }
    let text = std::str::from_utf8(request).map_err(|_| refuse("Request is not valid UTF-8"))?;
    let lines: Vec<&str> = text.split_inclusive('\n').collect();
    for (i, line) in lines.iter().enumerate() {
        let body = line.strip_suffix('\n').unwrap_or(line);
        if let Some(c) = body.chars().find(|c| c.is_control()) {
            return Err(refuse(format!("Control character {} on request line {}", c.escape_unicode(), i + 1)));
        }
    }
    Ok(lines.iter().map(|l| l.trim_matches(|c: char| c.is_ascii_whitespace())).collect())
}

/// The interface-name checks of `vif_up` and `vif_down` (S2 fixed): at most 15 bytes,
/// and `^(tun|tap)<uid>-\d+$`.
pub fn check_name(name: &str, uid: u32) -> Result<IfName, Refusal> {
    if name.len() > 15 {
        return Err(refuse(format!("Interface name {name} invalid")));
    }
    let mismatch = || refuse(format!("Interface name {name} does not match slice id {uid}."));
    let rest = name.strip_prefix("tun").or_else(|| name.strip_prefix("tap")).ok_or_else(mismatch)?;
    let number = rest.strip_prefix(&format!("{uid}-")).ok_or_else(mismatch)?;
    if number.is_empty() || !number.bytes().all(|b| b.is_ascii_digit()) {
        return Err(mismatch());
    }
    IfName::new(name).map_err(|_| refuse(format!("Interface name {name} invalid")))
}

/// A strict dotted quad: the core's IPv4 grammar (`std`'s parser: four decimal octets,
/// no leading zeros).
fn parse_ip(s: &str) -> Option<Ipv4Addr> {
    pltap_core::iface::parse_ipv4("IP", s).ok()
}

/// A strict decimal integer (what the scripts passed to `int()`), at most 9 digits.
fn parse_int(s: &str) -> Option<u32> {
    (!s.is_empty() && s.len() <= 9 && s.bytes().all(|b| b.is_ascii_digit())).then(|| s.parse().ok()).flatten()
}

/// Splits an option line like Python's `opt, val = line.split('=')`: exactly one `=`.
fn split_option(line: &str) -> Result<(&str, &str), Refusal> {
    match line.split_once('=') {
        Some((opt, val)) if !val.contains('=') => Ok((opt, val)),
        _ => Err(refuse(format!("Bad option line: \"{line}\""))),
    }
}

/// Validates a `vif_up` request, in the order of PlanetLab's script: argument count,
/// name length, name prefix, IP syntax, IP in the netblock, netmask range, netmask
/// against the allocation, then the option lines.
pub fn parse_vif_up(request: &[u8], slice: &Slice) -> Result<VifUp, Refusal> {
    let lines = request_lines(request)?;
    if lines.len() < 3 {
        return Err(refuse("Insufficient argument lines."));
    }
    let (vif, vip, vmask) = (lines[0], lines[1], lines[2]);
    let name = check_name(vif, slice.uid)?;
    let addr = parse_ip(vip).ok_or_else(|| refuse(format!("Invalid IP: {vip}")))?;
    if !slice.vnet.contains(addr) {
        return Err(refuse(format!("Requested IP {vip} not in netblock {}", slice.vnet)));
    }
    // The bound 32 is the core's (`Prefix`); at least /8 is PlanetLab's policy.
    let prefix = match parse_int(vmask) {
        Some(p) => match Prefix::new(p) {
            Ok(prefix) if prefix.get() >= 8 => prefix,
            _ => return Err(refuse(format!("Requested netmask /{p} is invalid"))),
        },
        None => return Err(refuse(format!("Requested netmask /{vmask} is invalid"))),
    };
    if prefix < slice.vnet.prefix_len() {
        return Err(refuse(format!("Requested netmask /{prefix} larger than allocation /{}", slice.vnet.prefix())));
    }
    let mut up = VifUp {
        name,
        net: Ipv4Net::with_prefix(addr, prefix),
        rp_filter: None,
        txqueuelen: None,
        mtu: None,
        notes: Vec::new(),
    };
    let (mut gre, mut pointopoint, mut remote) = (false, false, false);
    for line in lines[3..].iter().filter(|l| !l.is_empty()) {
        let (opt, val) = split_option(line)?;
        match opt {
            "rp_filter" => match val {
                "0" => up.rp_filter = Some(false),
                "1" => up.rp_filter = Some(true),
                _ => return Err(refuse(format!("rp_filter value invalid: \"{val}\""))),
            },
            "txqueuelen" => match parse_int(val) {
                Some(n) if (1..=10000).contains(&n) => up.txqueuelen = Some(n),
                _ => return Err(refuse(format!("txqueuelen value {val} out of range 1-10000"))),
            },
            "mtu" => match parse_int(val) {
                Some(n) if (1..=65535).contains(&n) => up.mtu = Some(n),
                _ => return Err(refuse(format!("MTU value {val} out of range"))),
            },
            "snat" | "dropkern" => {
                if parse_int(val).is_none() {
                    return Err(refuse(format!("{opt} value invalid: \"{val}\"")));
                }
                up.notes.push(format!("Note: option {opt}={val} ignored (pltap-vsysd does not manage iptables)"));
            }
            "vswitch" => {
                up.notes.push(format!(
                    "Note: option vswitch={val} ignored (pltap-vsysd does not manage Open vSwitch datapaths)"
                ));
            }
            "remote" => {
                if parse_ip(val).is_none() {
                    return Err(refuse("could not parse remote: illegal IP address string passed to inet_aton"));
                }
                remote = true;
            }
            "pointopoint" => {
                if parse_ip(val).is_none() {
                    return Err(refuse("could not parse pointopoint: illegal IP address string passed to inet_aton"));
                }
                pointopoint = true;
            }
            "gre" => gre = true,
            _ => return Err(refuse(format!("Unknown option: \"{opt}\""))),
        }
    }
    if gre {
        if !pointopoint {
            return Err(refuse("GRE tunnels need a pointopoint address"));
        }
        if !remote {
            return Err(refuse("GRE tunnels need a remote address"));
        }
        return Err(refuse("Option gre is not supported by pltap-vsysd (GRE tunnels are not implemented)"));
    }
    if pointopoint {
        return Err(refuse(
            "Option pointopoint is not supported by pltap-vsysd (point-to-point addresses are not implemented)",
        ));
    }
    if remote {
        up.notes.push("Note: option remote ignored (it only matters with gre)".to_string());
    }
    Ok(up)
}

/// Validates a `vif_down` request in the order of PlanetLab's script: argument count,
/// option lines (`delete=0|1` only), name length, name prefix.
pub fn parse_vif_down(request: &[u8], slice: &Slice) -> Result<VifDown, Refusal> {
    let lines = request_lines(request)?;
    if lines.is_empty() {
        return Err(refuse("Insufficient argument lines."));
    }
    let mut delete = false;
    for line in lines[1..].iter().filter(|l| !l.is_empty()) {
        let (opt, val) = split_option(line)?;
        match (opt, val) {
            ("delete", "0") => delete = false,
            ("delete", "1") => delete = true,
            ("delete", _) => return Err(refuse(format!("delete value invalid: \"{val}\""))),
            _ => return Err(refuse(format!("Unknown option: \"{opt}\""))),
        }
    }
    let name = check_name(lines[0], slice.uid)?;
    Ok(VifDown { name, delete })
}

/// Validates a `promisc` request: argument count, name length and (S4 fixed) name
/// prefix. "Off" is exactly two lines, the second `-`; anything else means "on".
pub fn parse_promisc(request: &[u8], slice: &Slice) -> Result<Promisc, Refusal> {
    let lines = request_lines(request)?;
    if lines.is_empty() {
        return Err(refuse("Insufficient argument lines."));
    }
    let on = !(lines.len() == 2 && lines[1] == "-");
    let name = check_name(lines[0], slice.uid)?;
    Ok(Promisc { name, on })
}

/// `promisc`'s ownership check: the interface must have an IPv4 address inside the
/// slice's netblock (`None`: it has none, which the original reported as a traceback).
pub fn check_promisc_address(name: &IfName, addr: Option<Ipv4Addr>, slice: &Slice) -> Result<(), Refusal> {
    let Some(addr) = addr else {
        return Err(refuse(format!("Interface {name} has no IPv4 address (run vif_up first)")));
    };
    if !slice.vnet.contains(addr) {
        return Err(refuse(format!("Requested IP {addr} not in netblock {}", slice.vnet)));
    }
    Ok(())
}

/// Runs script `script` on `request` and returns its whole reply (empty on plain
/// success). Validation failures give the PlanetLab message; kernel failures give one
/// line per failed step (the remaining steps are skipped).
pub fn run(script: &str, request: &[u8], slice: &Slice) -> String {
    let result = match script {
        "vif_up" => parse_vif_up(request, slice).map(|r| apply_vif_up(&r)),
        "vif_down" => parse_vif_down(request, slice).map(|r| apply_vif_down(&r)),
        "promisc" => parse_promisc(request, slice).and_then(|r| apply_promisc(&r, slice)),
        other => Err(refuse(format!("Unknown script: {other}"))),
    };
    result.unwrap_or_else(|refusal| refusal)
}

fn iface(name: &IfName) -> Result<pltap_core::Iface, String> {
    pltap_core::Iface::new(name.clone()).map_err(|e| format!("{e}\n"))
}

/// `ifconfig <vif> <ip>/<prefix> [txqueuelen N] [mtu M]` (which also brings it UP),
/// then `rp_filter`, with ioctls.
fn apply_vif_up(req: &VifUp) -> String {
    let mut out = String::new();
    for note in &req.notes {
        let _ = writeln!(out, "{note}");
    }
    let steps = || -> Result<String, String> {
        let dev = iface(&req.name)?;
        let err = |e: pltap_core::Error| format!("{e}\n");
        dev.set_ipv4(req.net).map_err(err)?;
        dev.set_up(true).map_err(err)?;
        if let Some(n) = req.txqueuelen {
            dev.set_txqlen(n).map_err(err)?;
        }
        if let Some(n) = req.mtu {
            dev.set_mtu(n).map_err(err)?;
        }
        let mut said = String::new();
        if let Some(on) = req.rp_filter {
            let v = u8::from(on);
            let path = format!("/proc/sys/net/ipv4/conf/{}/rp_filter", req.name);
            std::fs::write(&path, format!("{v}\n")).map_err(|e| format!("write {path}: {e}\n"))?;
            // What `sysctl net.ipv4.conf.<vif>.rp_filter=V` prints on success.
            let _ = writeln!(said, "net.ipv4.conf.{}.rp_filter = {v}", req.name);
        }
        Ok(said)
    };
    match steps() {
        Ok(s) | Err(s) => out.push_str(&s),
    }
    out
}

/// `ifconfig <vif> down`.
fn apply_vif_down(req: &VifDown) -> String {
    match iface(&req.name).and_then(|dev| dev.set_up(false).map_err(|e| format!("{e}\n"))) {
        Ok(_) => String::new(),
        Err(s) => s,
    }
}

/// Checks the address, then `ifconfig <vif> [-]promisc`.
fn apply_promisc(req: &Promisc, slice: &Slice) -> Result<String, Refusal> {
    let dev = iface(&req.name)?;
    let addr = dev.ipv4().map_err(|e| format!("{e}\n"))?.map(|n| n.addr());
    check_promisc_address(&req.name, addr, slice)?;
    Ok(match dev.set_promisc(req.on) {
        Ok(_) => String::new(),
        Err(e) => format!("{e}\n"),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    const SLICE: Slice = Slice { uid: 754, vnet: crate::DEFAULT_VNET };

    fn up(req: &str) -> Result<VifUp, String> {
        parse_vif_up(req.as_bytes(), &SLICE)
    }

    fn up_err(req: &str) -> String {
        up(req).expect_err(req)
    }

    #[test]
    fn vif_up_accepts_the_pltap_request() {
        let r = up("tap754-0\n198.18.0.1\n24\n").unwrap();
        assert_eq!(r.name.as_str(), "tap754-0");
        assert_eq!(r.net, Ipv4Net::new(Ipv4Addr::new(198, 18, 0, 1), 24).unwrap());
        assert_eq!((r.rp_filter, r.txqueuelen, r.mtu), (None, None, None));
        assert!(r.notes.is_empty());
        // No trailing newline, CRLF lines, surrounding blanks and blank option lines are fine.
        assert!(up("tun754-12\n198.18.255.254\n16").is_ok());
        assert!(up(" tap754-0 \n 198.18.0.1\n24 \n\n\n").is_ok());
        assert!(up("tap754-0\r\n198.18.0.1\r\n32\r\n").is_err(), "\\r is a control character");
    }

    #[test]
    fn vif_up_options() {
        let r = up("tap754-0\n198.18.0.1\n24\nrp_filter=0\ntxqueuelen=500\nmtu=1400\n").unwrap();
        assert_eq!((r.rp_filter, r.txqueuelen, r.mtu), (Some(false), Some(500), Some(1400)));
        let r = up("tap754-0\n198.18.0.1\n24\nrp_filter=1\ntxqueuelen=1\ntxqueuelen=10000\n").unwrap();
        assert_eq!((r.rp_filter, r.txqueuelen), (Some(true), Some(10000)));
        let r = up("tap754-0\n198.18.0.1\n24\nsnat=1\ndropkern=0\nvswitch=br0\nremote=192.0.2.1\n").unwrap();
        assert_eq!(r.notes.len(), 4);
        assert_eq!(r.notes[0], "Note: option snat=1 ignored (pltap-vsysd does not manage iptables)");
        assert_eq!(r.notes[1], "Note: option dropkern=0 ignored (pltap-vsysd does not manage iptables)");
        assert!(r.notes[2].starts_with("Note: option vswitch=br0 ignored"));
        assert!(r.notes[3].starts_with("Note: option remote ignored"));
    }

    #[test]
    fn vif_up_messages() {
        let cases: &[(&str, &str)] = &[
            ("", "Insufficient argument lines.\n"),
            ("tap754-0\n198.18.0.1\n", "Insufficient argument lines.\n"),
            ("tap754-0123456789\n198.18.0.1\n24\n", "Interface name tap754-0123456789 invalid\n"),
            // 16 bytes: the original let it through (S2).
            ("tap754-012345678\n198.18.0.1\n24\n", "Interface name tap754-012345678 invalid\n"),
            ("tap755-0\n198.18.0.1\n24\n", "Interface name tap755-0 does not match slice id 754.\n"),
            ("tap7540-0\n198.18.0.1\n24\n", "Interface name tap7540-0 does not match slice id 754.\n"),
            // Unanchored suffixes passed the original regex (S2).
            ("tap754-0x\n198.18.0.1\n24\n", "Interface name tap754-0x does not match slice id 754.\n"),
            ("tap754-0;\n198.18.0.1\n24\n", "Interface name tap754-0; does not match slice id 754.\n"),
            ("tap754-\n198.18.0.1\n24\n", "Interface name tap754- does not match slice id 754.\n"),
            ("eth754-0\n198.18.0.1\n24\n", "Interface name eth754-0 does not match slice id 754.\n"),
            ("xtap754-0\n198.18.0.1\n24\n", "Interface name xtap754-0 does not match slice id 754.\n"),
            ("\n198.18.0.1\n24\n", "Interface name  does not match slice id 754.\n"),
            ("tap754-0\n198.18.0\n24\n", "Invalid IP: 198.18.0\n"),
            ("tap754-0\n198.18.0.256\n24\n", "Invalid IP: 198.18.0.256\n"),
            ("tap754-0\n0xc6120001\n24\n", "Invalid IP: 0xc6120001\n"),
            ("tap754-0\n198.018.0.1\n24\n", "Invalid IP: 198.018.0.1\n"),
            ("tap754-0\n198.20.0.1\n24\n", "Requested IP 198.20.0.1 not in netblock 198.18.0.0/16\n"),
            ("tap754-0\n10.0.0.1\n24\n", "Requested IP 10.0.0.1 not in netblock 198.18.0.0/16\n"),
            ("tap754-0\n198.18.0.1\n7\n", "Requested netmask /7 is invalid\n"),
            ("tap754-0\n198.18.0.1\n33\n", "Requested netmask /33 is invalid\n"),
            ("tap754-0\n198.18.0.1\nabc\n", "Requested netmask /abc is invalid\n"),
            ("tap754-0\n198.18.0.1\n-1\n", "Requested netmask /-1 is invalid\n"),
            ("tap754-0\n198.18.0.1\n8\n", "Requested netmask /8 larger than allocation /16\n"),
            ("tap754-0\n198.18.0.1\n15\n", "Requested netmask /15 larger than allocation /16\n"),
            ("tap754-0\n198.18.0.1\n24\nfoo=1\n", "Unknown option: \"foo\"\n"),
            ("tap754-0\n198.18.0.1\n24\nsnat\n", "Bad option line: \"snat\"\n"),
            ("tap754-0\n198.18.0.1\n24\na=b=c\n", "Bad option line: \"a=b=c\"\n"),
            ("tap754-0\n198.18.0.1\n24\nrp_filter=2\n", "rp_filter value invalid: \"2\"\n"),
            ("tap754-0\n198.18.0.1\n24\ntxqueuelen=0\n", "txqueuelen value 0 out of range 1-10000\n"),
            ("tap754-0\n198.18.0.1\n24\ntxqueuelen=10001\n", "txqueuelen value 10001 out of range 1-10000\n"),
            ("tap754-0\n198.18.0.1\n24\ntxqueuelen=x\n", "txqueuelen value x out of range 1-10000\n"),
            ("tap754-0\n198.18.0.1\n24\nmtu=0\n", "MTU value 0 out of range\n"),
            ("tap754-0\n198.18.0.1\n24\nmtu=65536\n", "MTU value 65536 out of range\n"),
            ("tap754-0\n198.18.0.1\n24\nsnat=yes\n", "snat value invalid: \"yes\"\n"),
            ("tap754-0\n198.18.0.1\n24\ndropkern=\n", "dropkern value invalid: \"\"\n"),
            (
                "tap754-0\n198.18.0.1\n24\npointopoint=1.2.3\n",
                "could not parse pointopoint: illegal IP address string passed to inet_aton\n",
            ),
            (
                "tap754-0\n198.18.0.1\n24\nremote=x\n",
                "could not parse remote: illegal IP address string passed to inet_aton\n",
            ),
            ("tap754-0\n198.18.0.1\n24\ngre=yes\n", "GRE tunnels need a pointopoint address\n"),
            ("tap754-0\n198.18.0.1\n24\ngre=yes\npointopoint=198.18.0.2\n", "GRE tunnels need a remote address\n"),
        ];
        for (req, want) in cases {
            assert_eq!(up_err(req), *want, "request {req:?}");
        }
        let gre = up_err("tap754-0\n198.18.0.1\n24\ngre=yes\npointopoint=198.18.0.2\nremote=192.0.2.1\n");
        assert!(gre.starts_with("Option gre is not supported"), "{gre}");
        let p2p = up_err("tap754-0\n198.18.0.1\n24\npointopoint=198.18.0.2\n");
        assert!(p2p.starts_with("Option pointopoint is not supported"), "{p2p}");
    }

    #[test]
    fn vif_up_check_order_follows_planetlab() {
        // Name before IP before netblock before netmask before options.
        assert!(up_err("tap1-0\nbad\n99\nfoo=1\n").contains("does not match slice id"));
        assert!(up_err("tap754-0\nbad\n99\nfoo=1\n").starts_with("Invalid IP"));
        assert!(up_err("tap754-0\n10.0.0.1\n99\nfoo=1\n").starts_with("Requested IP"));
        assert!(up_err("tap754-0\n198.18.0.1\n99\nfoo=1\n").starts_with("Requested netmask /99 is invalid"));
        assert!(up_err("tap754-0\n198.18.0.1\n24\nfoo=1\nsnat=x\n").starts_with("Unknown option"));
    }

    #[test]
    fn netblock_edges() {
        let wide = Slice { uid: 0, vnet: Ipv4Net::new(Ipv4Addr::new(198, 18, 0, 0), 15).unwrap() };
        assert!(parse_vif_up(b"tap0-0\n198.19.255.254\n15\n", &wide).is_ok());
        assert!(parse_vif_up(b"tap0-0\n198.20.0.1\n15\n", &wide).is_err());
        let host = Slice { uid: 1, vnet: Ipv4Net::new(Ipv4Addr::new(198, 18, 0, 9), 32).unwrap() };
        assert!(parse_vif_up(b"tun1-3\n198.18.0.9\n32\n", &host).is_ok());
        assert_eq!(
            parse_vif_up(b"tun1-3\n198.18.0.9\n31\n", &host).unwrap_err(),
            "Requested netmask /31 larger than allocation /32\n"
        );
        assert_eq!(
            parse_vif_up(b"tun1-3\n198.18.0.8\n32\n", &host).unwrap_err(),
            "Requested IP 198.18.0.8 not in netblock 198.18.0.9/32\n"
        );
    }

    #[test]
    fn control_characters_and_encoding_are_refused() {
        for req in [
            "tap754-0\n198.18.0.1\n24\nsnat=1\r\n",
            "tap754-0\t\n198.18.0.1\n24\n",
            "tap754-0\0\n198.18.0.1\n24\n",
            "tap754-0\n198.18.0.1\x1b[2J\n24\n",
            "tap754-0\n198.18.0.1\n24\u{7f}\n",
            "tap754-0\n198.18.0.1\n24\n\u{85}\n",
        ] {
            let e = up_err(req);
            assert!(e.starts_with("Control character \\u{"), "{req:?} gave {e:?}");
            assert!(e.ends_with('\n') && e.matches('\n').count() == 1);
        }
        assert_eq!(up_err("tap754-0\n198.18.0.1\n24\nsnat=1\r\n"), "Control character \\u{d} on request line 4\n");
        assert_eq!(parse_vif_up(b"tap754-0\n\xff\n24\n", &SLICE).unwrap_err(), "Request is not valid UTF-8\n");
        assert_eq!(
            parse_promisc(b"tap754-0\x07\n", &SLICE).unwrap_err(),
            "Control character \\u{7} on request line 1\n"
        );
        assert_eq!(
            parse_vif_down(b"tap754-0\n\x01\n", &SLICE).unwrap_err(),
            "Control character \\u{1} on request line 2\n"
        );
        let big = vec![b'a'; MAX_REQUEST + 1];
        assert!(parse_vif_down(&big, &SLICE).unwrap_err().starts_with("Request too long"));
    }

    #[test]
    fn vif_down_messages() {
        let down = |r: &str| parse_vif_down(r.as_bytes(), &SLICE);
        assert_eq!(down("tap754-0\n").unwrap(), VifDown { name: IfName::new("tap754-0").unwrap(), delete: false });
        assert!(down("tun754-7\ndelete=1\n").unwrap().delete);
        assert!(!down("tun754-7\ndelete=0\n\n").unwrap().delete);
        assert_eq!(down("").unwrap_err(), "Insufficient argument lines.\n");
        assert_eq!(down("tap754-0\ndelete=2\n").unwrap_err(), "delete value invalid: \"2\"\n");
        assert_eq!(down("tap754-0\nfoo=1\n").unwrap_err(), "Unknown option: \"foo\"\n");
        assert_eq!(down("tap754-0\nfoo\n").unwrap_err(), "Bad option line: \"foo\"\n");
        assert_eq!(down("tap754-0123456789\n").unwrap_err(), "Interface name tap754-0123456789 invalid\n");
        assert_eq!(down("tap1-0\n").unwrap_err(), "Interface name tap1-0 does not match slice id 754.\n");
        assert_eq!(down("tap754-0-1\n").unwrap_err(), "Interface name tap754-0-1 does not match slice id 754.\n");
        // Options are checked before the name, as in the original.
        assert_eq!(down("tap1-0\nfoo=1\n").unwrap_err(), "Unknown option: \"foo\"\n");
    }

    #[test]
    fn promisc_requests_and_messages() {
        let p = |r: &str| parse_promisc(r.as_bytes(), &SLICE);
        let name = IfName::new("tap754-0").unwrap();
        assert_eq!(p("tap754-0\n").unwrap(), Promisc { name: name.clone(), on: true });
        assert_eq!(p("tap754-0\n-\n").unwrap(), Promisc { name: name.clone(), on: false });
        assert_eq!(p("tap754-0\n-").unwrap(), Promisc { name: name.clone(), on: false });
        // Only exactly two lines with "-" mean off.
        assert!(p("tap754-0\n-\n\n").unwrap().on);
        assert!(p("tap754-0\n+\n").unwrap().on);
        assert_eq!(p("").unwrap_err(), "Insufficient argument lines.\n");
        assert_eq!(p("tap754-0123456789\n").unwrap_err(), "Interface name tap754-0123456789 invalid\n");
        // S4: the original did not check the name prefix.
        assert_eq!(p("eth0\n").unwrap_err(), "Interface name eth0 does not match slice id 754.\n");
        assert_eq!(
            check_promisc_address(&name, None, &SLICE).unwrap_err(),
            "Interface tap754-0 has no IPv4 address (run vif_up first)\n"
        );
        assert_eq!(
            check_promisc_address(&name, Some(Ipv4Addr::new(10, 0, 0, 1)), &SLICE).unwrap_err(),
            "Requested IP 10.0.0.1 not in netblock 198.18.0.0/16\n"
        );
        assert!(check_promisc_address(&name, Some(Ipv4Addr::new(198, 18, 3, 4)), &SLICE).is_ok());
    }

    #[test]
    fn run_refuses_before_touching_the_kernel() {
        assert_eq!(
            run("vif_up", b"tap1-0\n198.18.0.1\n24\n", &SLICE),
            "Interface name tap1-0 does not match slice id 754.\n"
        );
        assert_eq!(run("vif_down", b"", &SLICE), "Insufficient argument lines.\n");
        assert_eq!(run("promisc", b"lo\n", &SLICE), "Interface name lo does not match slice id 754.\n");
        assert_eq!(run("reboot", b"", &SLICE), "Unknown script: reboot\n");
    }
}
