//! The bytes of the `vif_up`, `vif_down` and `promisc` requests (pure, no I/O).
//!
//! Requests are `\n`-separated lines read to EOF by the script. Every field is checked
//! for control characters first, so nothing a caller passes can add a line (defect A17).

use crate::error::{Error, Result};
use crate::iface::Ipv4Net;
use crate::ifname::IfName;

/// One `name=value` option line of a `vif_up` request (`txqueuelen=1000`, `snat=1`, ...),
/// valid by construction (the fields are private, so no line can be forged past
/// [`VifOption::new`]).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct VifOption {
    name: String,
    value: String,
}

impl VifOption {
    /// Validates an option.
    ///
    /// ```
    /// use pltap_core::vsys::VifOption;
    /// assert!(VifOption::new("txqueuelen", "1000").is_ok());
    /// assert!(VifOption::new("snat", "1\nrp_filter=0").is_err());
    /// ```
    pub fn new(name: &str, value: &str) -> Result<VifOption> {
        if name.is_empty() || !name.bytes().all(|b| b.is_ascii_lowercase() || b == b'_') {
            return Err(Error::invalid("vif_up option", format!("name {name:?} must match [a-z_]+")));
        }
        if value.is_empty() || value.len() > 255 || !value.bytes().all(|b| b.is_ascii_graphic() && b != b'=') {
            return Err(Error::invalid(
                "vif_up option",
                format!("value {value:?} of {name} must be 1-255 printable characters without spaces or '='"),
            ));
        }
        Ok(VifOption { name: name.to_string(), value: value.to_string() })
    }

    /// The option name: `[a-z_]+`.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// The option value: 1 to 255 printable characters, no whitespace, no `=`.
    pub fn value(&self) -> &str {
        &self.value
    }
}

/// `vif_up`: `<name>\n<a.b.c.d>\n<prefix>\n` then one `name=value\n` per option.
///
/// ```
/// use pltap_core::{IfName, vsys::vif_up_request};
/// let req = vif_up_request(&IfName::new("tap754-0")?, "198.18.0.1/24".parse()?, &[])?;
/// assert_eq!(req, b"tap754-0\n198.18.0.1\n24\n");
/// # Ok::<(), pltap_core::Error>(())
/// ```
pub fn vif_up_request(name: &IfName, net: Ipv4Net, options: &[VifOption]) -> Result<Vec<u8>> {
    check_vsys_name(name)?;
    let mut out = format!("{name}\n{}\n{}\n", net.addr(), net.prefix());
    for opt in options {
        out.push_str(&format!("{}={}\n", opt.name, opt.value));
    }
    Ok(out.into_bytes())
}

/// `vif_down`: `<name>\n`.
pub fn vif_down_request(name: &IfName) -> Result<Vec<u8>> {
    check_vsys_name(name)?;
    Ok(format!("{name}\n").into_bytes())
}

/// `promisc`: `<name>\n` to turn it on, `<name>\n-\n` to turn it off.
///
/// ```
/// use pltap_core::{IfName, vsys::promisc_request};
/// let n = IfName::new("tap754-0")?;
/// assert_eq!(promisc_request(&n, true)?, b"tap754-0\n");
/// assert_eq!(promisc_request(&n, false)?, b"tap754-0\n-\n");
/// # Ok::<(), pltap_core::Error>(())
/// ```
pub fn promisc_request(name: &IfName, on: bool) -> Result<Vec<u8>> {
    check_vsys_name(name)?;
    Ok(if on { format!("{name}\n") } else { format!("{name}\n-\n") }.into_bytes())
}

/// A name sent to vsys must be a concrete name, not a `%d` template.
fn check_vsys_name(name: &IfName) -> Result<()> {
    if name.is_template() {
        return Err(Error::invalid("interface name", format!("{name} is a template, not a device")));
    }
    Ok(())
}

/// Checks a vsys script name as the vsys daemon does: `^[a-zA-Z][a-zA-Z0-9_.-]*$`.
pub fn check_script_name(script: &str) -> Result<()> {
    let mut bytes = script.bytes();
    let ok = bytes.next().is_some_and(|b| b.is_ascii_alphabetic())
        && bytes.all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'.' || b == b'-')
        && script.len() <= 64;
    if ok {
        Ok(())
    } else {
        Err(Error::invalid("vsys script name", format!("{script:?} is not a legal vsys entry name")))
    }
}

/// Output a successful script may print that is not worth a warning (e.g. `sysctl`'s
/// echo of the value it set, vif_up step 8).
pub fn is_benign_output(output: &str) -> bool {
    output.lines().map(str::trim).filter(|l| !l.is_empty()).all(|l| l.starts_with("net.ipv4.conf."))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn n(s: &str) -> IfName {
        IfName::new(s).unwrap()
    }

    fn net24() -> Ipv4Net {
        "198.18.0.1/24".parse().unwrap()
    }

    #[test]
    fn golden_requests() {
        let opts = [VifOption::new("txqueuelen", "500").unwrap(), VifOption::new("rp_filter", "0").unwrap()];
        assert_eq!(
            vif_up_request(&n("tap754-0"), net24(), &opts).unwrap(),
            b"tap754-0\n198.18.0.1\n24\ntxqueuelen=500\nrp_filter=0\n"
        );
        assert_eq!(vif_down_request(&n("tun754-3")).unwrap(), b"tun754-3\n");
        assert_eq!(promisc_request(&n("tap1-0"), false).unwrap(), b"tap1-0\n-\n");
    }

    #[test]
    fn rejects_injection_and_bad_fields() {
        for (k, v) in [
            ("snat", "1\n"),
            ("snat", "1\rx"),
            ("snat", ""),
            ("Snat", "1"),
            ("", "1"),
            ("a=b", "1"),
            ("mtu", "1 2"),
            ("gre", "a=b"),
            ("mtu", "\u{0}"),
        ] {
            assert_eq!(VifOption::new(k, v).unwrap_err().code(), "ERR_INVALID_ARG_VALUE", "{k:?}={v:?}");
        }
        assert!(vif_up_request(&n("tap%d"), net24(), &[]).is_err());
        assert!(promisc_request(&n("tap%d"), true).is_err());
    }

    #[test]
    fn script_names() {
        for ok in ["vif_up", "promisc", "fd_tuntap", "a.b-c"] {
            assert!(check_script_name(ok).is_ok());
        }
        for bad in ["", "_x", "../vif_up", "vif up", "vif_up\n", "1abc"] {
            assert!(check_script_name(bad).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn benign_output() {
        assert!(is_benign_output(""));
        assert!(is_benign_output("net.ipv4.conf.tap1-0.rp_filter = 0\n"));
        assert!(!is_benign_output("SIOCSIFADDR: No such device\n"));
    }
}
