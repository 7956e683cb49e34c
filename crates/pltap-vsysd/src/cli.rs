//! Command-line parsing for the `pltap-vsysd` binary (pure, so it is unit-tested).

use crate::Config;
use pltap_core::Ipv4Net;
use std::path::PathBuf;

/// The `--help` text.
pub const USAGE: &str = "\
usage: pltap-vsysd --dir <path> [--slice-uid <n>] [--slice-name <s>] [--vnet <a.b.c.d/len>]

Serves a vsys frontend directory: fd_tuntap.control, vif_up, vif_down and promisc.

  --dir <path>          frontend directory (created with mode 0700 if missing)
  --slice-uid <n>       slice uid: devices are tap<n>-N / tun<n>-N (default 1000)
  --slice-name <s>      slice name, for the logs (default pl_slice)
  --vnet <a.b.c.d/len>  the slice's netblock, vsys_vnet (default 198.18.0.0/16)
  --help                this text

Prints \"pltap-vsysd: serving <dir>\" when ready; stops on SIGTERM or SIGINT.";

/// What the command line asks for.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Command {
    /// Print [`USAGE`] and exit 0.
    Help,
    /// Serve with this configuration.
    Run(Config),
}

/// Parses `a.b.c.d/len` strictly (dotted quad, decimal prefix 0..=32).
pub fn parse_vnet(s: &str) -> Result<Ipv4Net, String> {
    let bad = || format!("invalid --vnet {s:?}: expected a.b.c.d/len");
    let (addr, prefix) = s.split_once('/').ok_or_else(bad)?;
    let addr = addr.parse().map_err(|_| bad())?;
    if prefix.is_empty() || prefix.len() > 2 || !prefix.bytes().all(|b| b.is_ascii_digit()) {
        return Err(bad());
    }
    let prefix: u8 = prefix.parse().map_err(|_| bad())?;
    if prefix > 32 {
        return Err(bad());
    }
    Ok(Ipv4Net { addr, prefix })
}

/// Parses the arguments after the program name. Accepts `--flag value` and
/// `--flag=value`.
pub fn parse_args<I: IntoIterator<Item = String>>(args: I) -> Result<Command, String> {
    let mut dir: Option<PathBuf> = None;
    let mut slice_uid = 1000u32;
    let mut slice_name = "pl_slice".to_string();
    let mut vnet = Ipv4Net { addr: std::net::Ipv4Addr::new(198, 18, 0, 0), prefix: 16 };
    let mut args = args.into_iter();
    while let Some(arg) = args.next() {
        let (flag, inline) = match arg.split_once('=') {
            Some((f, v)) if f.starts_with("--") => (f.to_string(), Some(v.to_string())),
            _ => (arg.clone(), None),
        };
        if flag == "--help" || flag == "-h" {
            return Ok(Command::Help);
        }
        if !matches!(flag.as_str(), "--dir" | "--slice-uid" | "--slice-name" | "--vnet") {
            return Err(format!("unknown argument {arg:?}"));
        }
        let value = match inline {
            Some(v) => v,
            None => args.next().ok_or_else(|| format!("{flag} needs a value"))?,
        };
        match flag.as_str() {
            "--dir" if value.is_empty() => return Err("--dir needs a non-empty path".into()),
            "--dir" => dir = Some(PathBuf::from(value)),
            "--slice-uid" => {
                slice_uid = value
                    .parse()
                    .ok()
                    .filter(|_| value.bytes().all(|b| b.is_ascii_digit()))
                    .ok_or_else(|| format!("invalid --slice-uid {value:?}: expected a decimal uid"))?
            }
            "--slice-name" if value.is_empty() || value.chars().any(|c| c.is_control() || c.is_whitespace()) => {
                return Err(format!("invalid --slice-name {value:?}"));
            }
            "--slice-name" => slice_name = value,
            _ => vnet = parse_vnet(&value)?,
        }
    }
    let dir = dir.ok_or("--dir is required")?;
    Ok(Command::Run(Config { dir, slice_uid, slice_name, vnet }))
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
        ] {
            assert!(args(bad).is_err(), "{bad:?}");
        }
    }
}
