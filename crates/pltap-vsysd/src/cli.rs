//! Command-line parsing for the `pltap-vsysd` binary (pure, so it is unit-tested).

use crate::Config;
use pltap_core::Ipv4Net;
use std::path::PathBuf;

/// The `--help` text.
pub const USAGE: &str = "\
usage: pltap-vsysd --dir <path> [--slice-uid <n>] [options]

Serves a vsys frontend directory: fd_tuntap.control, vif_up, vif_down and promisc.
Run it as root; `--dir D --slice-uid N` alone lets uid N (no capabilities, no extra
groups) allocate, configure and use its devices.

  --dir <path>            frontend directory (created if missing; see below)
  --slice-uid <n>         slice uid: devices are tap<n>-N / tun<n>-N (default 1000)
  --slice-name <s>        slice name, for the logs (default pl_slice)
  --vnet <a.b.c.d/len>    the slice's netblock, vsys_vnet (default 198.18.0.0/16)
  --group <gid>           group of the directory and entries (default: the slice uid's
                          primary gid from passwd, or gid <n> if it has no entry)
  --owner <uid>           owner of the FIFOs and the socket (default 0, root)
  --mode <octal>          mode of the FIFOs and the socket, rw bits only (default 0660)
  --allow-uid <n>         another uid fd_tuntap serves (repeatable; the slice uid and
                          root are always served)
  --max-devices <n>       most tap<n>-*/tun<n>-* devices at once (default 16)
  --max-connections <n>   most fd_tuntap connections served at once (default 16)
  --vnet-hdr <allow|refuse>  serve fd_tuntap requests for devices with virtio-net
                          headers (IFF_VNET_HDR, for offload; default allow)
  --help                  this text

Ownership: the directory is owned by root, group <gid>, mode derived from --mode
(rwx for root; r-x for the group if --mode gives it access or --owner is not root;
r-x for others if --mode gives them access: 0660 -> 0750, 0666 -> 0755, 0600 -> 0700).
The FIFOs and fd_tuntap.control are <owner>:<gid> with --mode, set with fchown/fchmod
(the umask does not matter). The helper refuses a --dir that is a symlink, not a
directory, not owned by root, or writable by group or others, and one under a parent
that is not owned by root or is writable by others without the sticky bit.

One helper per directory: it holds an flock on <dir>/.pltap-vsysd.lock (root, 0600)
and a second helper refuses to start. It removes only the entries it created: on stop,
the entries first, then the lock file, then the directory if it created it.

Requests: a FIFO request is complete at EOF, or when it ends with a newline and no
byte came for 200 ms; an empty one gets no reply; a reply nobody reads is discarded.
fd_tuntap serves the slice uid, root and --allow-uid; a refusal is one text line
(\"refused: ...\\n\") sent without a descriptor.

Prints \"pltap-vsysd: serving <dir>\" when ready; stops on SIGTERM, SIGINT or SIGHUP.";

/// What the command line asks for.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Command {
    /// Print [`USAGE`] and exit 0.
    Help,
    /// Serve with this configuration.
    Run(Config),
}

/// Parses `--vnet`'s `a.b.c.d/len` with the core's grammar ([`Ipv4Net`]'s `FromStr`:
/// a dotted quad and a decimal prefix 0..=32).
///
/// ```
/// use pltap_vsysd::cli::parse_vnet;
/// assert_eq!(parse_vnet("198.18.0.0/16").unwrap().to_string(), "198.18.0.0/16");
/// assert!(parse_vnet("198.18.0.0/33").is_err());
/// ```
pub fn parse_vnet(s: &str) -> Result<Ipv4Net, String> {
    s.parse().map_err(|_| format!("invalid --vnet {s:?}: expected a.b.c.d/len"))
}

/// Parses an entry mode: 1 to 4 octal digits (an optional leading `0` or `0o`), read
/// and write bits only (at most `0666`).
///
/// ```
/// use pltap_vsysd::cli::parse_mode;
/// assert_eq!(parse_mode("0660"), Ok(0o660));
/// assert_eq!(parse_mode("600"), Ok(0o600));
/// assert!(parse_mode("0770").is_err(), "no execute bits");
/// ```
pub fn parse_mode(s: &str) -> Result<u32, String> {
    let digits = s.strip_prefix("0o").unwrap_or(s);
    if digits.is_empty() || digits.len() > 4 || !digits.bytes().all(|b| (b'0'..=b'7').contains(&b)) {
        return Err(format!("invalid --mode {s:?}: expected octal digits, e.g. 0660"));
    }
    let mode = u32::from_str_radix(digits, 8).map_err(|_| format!("invalid --mode {s:?}"))?;
    if mode & !0o666 != 0 {
        return Err(format!("invalid --mode {s:?}: only read and write bits (at most 0666)"));
    }
    Ok(mode)
}

/// A strict decimal `u32` (no sign, no spaces).
fn parse_u32(flag: &str, value: &str, what: &str) -> Result<u32, String> {
    value
        .parse()
        .ok()
        .filter(|_| !value.is_empty() && value.bytes().all(|b| b.is_ascii_digit()))
        .ok_or_else(|| format!("invalid {flag} {value:?}: expected a decimal {what}"))
}

const FLAGS: [&str; 11] = [
    "--dir",
    "--slice-uid",
    "--slice-name",
    "--vnet",
    "--group",
    "--owner",
    "--mode",
    "--allow-uid",
    "--max-devices",
    "--max-connections",
    "--vnet-hdr",
];

/// Parses the arguments after the program name. Accepts `--flag value` and
/// `--flag=value`.
pub fn parse_args<I: IntoIterator<Item = String>>(args: I) -> Result<Command, String> {
    let mut dir: Option<PathBuf> = None;
    let mut config = Config::new("", 1000);
    let mut args = args.into_iter();
    while let Some(arg) = args.next() {
        let (flag, inline) = match arg.split_once('=') {
            Some((f, v)) if f.starts_with("--") => (f.to_string(), Some(v.to_string())),
            _ => (arg.clone(), None),
        };
        if flag == "--help" || flag == "-h" {
            return Ok(Command::Help);
        }
        if !FLAGS.contains(&flag.as_str()) {
            return Err(format!("unknown argument {arg:?}"));
        }
        let value = match inline {
            Some(v) => v,
            None => args.next().ok_or_else(|| format!("{flag} needs a value"))?,
        };
        match flag.as_str() {
            "--dir" if value.is_empty() => return Err("--dir needs a non-empty path".into()),
            "--dir" => dir = Some(PathBuf::from(value)),
            "--slice-uid" => config.slice_uid = parse_u32(&flag, &value, "uid")?,
            "--slice-name" if value.is_empty() || value.chars().any(|c| c.is_control() || c.is_whitespace()) => {
                return Err(format!("invalid --slice-name {value:?}"));
            }
            "--slice-name" => config.slice_name = value,
            "--vnet" => config.vnet = parse_vnet(&value)?,
            "--group" => config.group = Some(parse_u32(&flag, &value, "gid")?),
            "--owner" => config.owner = parse_u32(&flag, &value, "uid")?,
            "--mode" => config.mode = parse_mode(&value)?,
            "--allow-uid" => config.allow_uids.push(parse_u32(&flag, &value, "uid")?),
            "--max-devices" => {
                config.max_devices = parse_u32(&flag, &value, "count")?;
                if config.max_devices == 0 {
                    return Err("--max-devices must be at least 1".into());
                }
            }
            "--vnet-hdr" => {
                config.vnet_hdr = match value.as_str() {
                    "allow" => true,
                    "refuse" => false,
                    _ => return Err(format!("--vnet-hdr {value:?} is not allow or refuse")),
                }
            }
            _ => {
                config.max_connections = parse_u32(&flag, &value, "count")?;
                if !(1..=1024).contains(&config.max_connections) {
                    return Err(format!("--max-connections {value} is not in 1..=1024"));
                }
            }
        }
    }
    config.dir = dir.ok_or("--dir is required")?;
    Ok(Command::Run(config))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn args(a: &[&str]) -> Result<Command, String> {
        parse_args(a.iter().map(|s| s.to_string()))
    }

    #[test]
    fn defaults_and_overrides() {
        let Command::Run(c) = args(&["--dir", "/tmp/v"]).unwrap() else { panic!() };
        assert_eq!(c.dir, PathBuf::from("/tmp/v"));
        assert_eq!(
            (c.slice_uid, c.slice_name.as_str(), c.vnet.to_string()),
            (1000, "pl_slice", "198.18.0.0/16".into())
        );
        let Command::Run(c) =
            args(&["--dir=/x", "--slice-uid", "754", "--slice-name=s1", "--vnet", "198.19.0.0/24"]).unwrap()
        else {
            panic!()
        };
        assert_eq!((c.slice_uid, c.slice_name.as_str(), c.vnet.to_string()), (754, "s1", "198.19.0.0/24".into()));
        assert_eq!(args(&["--help"]).unwrap(), Command::Help);
        assert_eq!(args(&["--dir", "/x", "-h"]).unwrap(), Command::Help);
    }

    #[test]
    fn ownership_and_limit_flags() {
        let Command::Run(c) = args(&["--dir", "/v"]).unwrap() else { panic!() };
        assert_eq!((c.owner, c.group, c.mode), (0, None, 0o660));
        assert_eq!((c.allow_uids.len(), c.max_devices, c.max_connections), (0, 16, 16));
        assert!(c.vnet_hdr);
        let Command::Run(c) = args(&["--dir", "/v", "--vnet-hdr", "refuse"]).unwrap() else { panic!() };
        assert!(!c.vnet_hdr);
        assert!(args(&["--dir", "/v", "--vnet-hdr=maybe"]).unwrap_err().contains("allow or refuse"));
        let Command::Run(c) = args(&[
            "--dir=/v",
            "--group",
            "2000",
            "--owner=1000",
            "--mode",
            "0600",
            "--allow-uid",
            "1001",
            "--allow-uid=1002",
            "--max-devices",
            "3",
            "--max-connections=4",
        ])
        .unwrap() else {
            panic!()
        };
        assert_eq!((c.owner, c.group, c.mode), (1000, Some(2000), 0o600));
        assert_eq!((c.allow_uids, c.max_devices, c.max_connections), (vec![1001, 1002], 3, 4));
        for (m, want) in [("660", 0o660), ("0o640", 0o640), ("0", 0), ("0666", 0o666)] {
            assert_eq!(parse_mode(m), Ok(want), "{m}");
        }
        for m in ["", "0o", "8", "0770", "1660", "4660", "0x1b6", "-660", "06600", " 660"] {
            assert!(parse_mode(m).is_err(), "{m:?}");
        }
    }

    #[test]
    fn bad_flags() {
        for bad in [
            &[][..],
            &["--dir"],
            &["--dir", ""],
            &["--dir", "/x", "--bogus"],
            &["/x"],
            &["--dir", "/x", "--slice-uid", "-1"],
            &["--dir", "/x", "--slice-uid", "abc"],
            &["--dir", "/x", "--slice-uid", "+5"],
            &["--dir", "/x", "--vnet", "198.18.0.0"],
            &["--dir", "/x", "--vnet", "198.18.0.0/33"],
            &["--dir", "/x", "--vnet", "198.18.0/16"],
            &["--dir", "/x", "--vnet", "198.18.0.0/+1"],
            &["--dir", "/x", "--slice-name", "a b"],
            &["--dir", "/x", "--group", "-1"],
            &["--dir", "/x", "--owner", ""],
            &["--dir", "/x", "--mode", "0777"],
            &["--dir", "/x", "--allow-uid", "x"],
            &["--dir", "/x", "--max-devices", "0"],
            &["--dir", "/x", "--max-connections", "0"],
            &["--dir", "/x", "--max-connections", "5000"],
            &["--dir", "/x", "--max-devices"],
        ] {
            assert!(args(bad).is_err(), "{bad:?}");
        }
    }
}
