//! [`IfName`]: an interface name the kernel will accept, checked before any syscall.

use crate::error::{Error, Result};
use crate::sys::linux::IFNAMSIZ;
use std::fmt;

/// A Linux interface name: 1 to 15 bytes, with no NUL, `/`, `:`, whitespace or control
/// characters, and not `.` or `..`. Such a name is also safe to put on a line of a vsys
/// request (no protocol injection, defect A17).
///
/// A name may be a template with one `%d` (`tap%d`), which the kernel replaces with the
/// lowest free number when the device is created.
///
/// ```
/// use pltap_core::IfName;
/// assert_eq!(IfName::new("tap754-0").unwrap().as_str(), "tap754-0");
/// assert!(IfName::new("tap754-0\nsnat=1").is_err());
/// assert!(IfName::new("a-name-that-is-too-long").is_err());
/// assert!(IfName::new("tap%d").unwrap().is_template());
/// ```
#[derive(Clone, PartialEq, Eq, Hash)]
pub struct IfName(String);

impl IfName {
    /// Validates `name`. The reasons a name is refused ([`Error::invalid_reason`]) are
    /// the ones the Node facade shows in its `TypeError`.
    pub fn new(name: &str) -> Result<IfName> {
        let bad = |why: String| Err(Error::invalid_value("interface name", name, why));
        if name.is_empty() || name.len() > IFNAMSIZ - 1 {
            return bad(format!("must be 1 to {} bytes long (it is {})", IFNAMSIZ - 1, name.len()));
        }
        if let Some(c) = name.chars().find(|c| c.is_control() || c.is_whitespace() || *c == '/' || *c == ':') {
            return bad(format!("must not contain whitespace, control characters, '/' or ':' (it contains {c:?})"));
        }
        if name == "." || name == ".." {
            return bad("is reserved".into());
        }
        if name.matches('%').count() > 1 || (name.contains('%') && !name.contains("%d")) {
            return bad("may contain only a single %d template".into());
        }
        Ok(IfName(name.to_string()))
    }

    /// Builds a name from the NUL-padded `ifr_name` bytes the kernel returned.
    pub fn from_kernel(bytes: &[u8]) -> Result<IfName> {
        let end = bytes.iter().position(|b| *b == 0).unwrap_or(bytes.len());
        let s = std::str::from_utf8(&bytes[..end])
            .map_err(|_| Error::invalid("interface name", "kernel returned a name that is not UTF-8"))?;
        IfName::new(s)
    }

    /// The name.
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// Whether the name contains a `%d` template.
    pub fn is_template(&self) -> bool {
        self.0.contains("%d")
    }

    /// The NUL-padded `ifr_name` field.
    pub fn to_ifr_name(&self) -> [u8; IFNAMSIZ] {
        let mut out = [0u8; IFNAMSIZ];
        out[..self.0.len()].copy_from_slice(self.0.as_bytes());
        out
    }
}

impl fmt::Display for IfName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl fmt::Debug for IfName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "IfName({:?})", self.0)
    }
}

impl AsRef<str> for IfName {
    fn as_ref(&self) -> &str {
        &self.0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn accepts_ordinary_names() {
        for ok in ["lo", "tap0", "tap754-0", "tun1000-12", "a", "123456789012345", "br_0.100", "tap%d"] {
            assert!(IfName::new(ok).is_ok(), "{ok}");
        }
    }

    #[test]
    fn rejects_bad_names() {
        for bad in [
            "",
            "1234567890123456",
            "tap\n0",
            "tap\0",
            "ta p",
            "tap/0",
            "tap:0",
            ".",
            "..",
            "tap\t",
            "tap\u{7f}",
            "%d%d",
            "tap%s",
            "tap\r",
            "é long name here",
            "\u{85}x",
        ] {
            let err = IfName::new(bad).unwrap_err();
            assert_eq!(err.code(), "ERR_INVALID_ARG_VALUE", "{bad:?}");
        }
    }

    #[test]
    fn round_trips_kernel_bytes() {
        let n = IfName::new("tap7-3").unwrap();
        let raw = n.to_ifr_name();
        assert_eq!(&raw[..7], b"tap7-3\0");
        assert_eq!(IfName::from_kernel(&raw).unwrap(), n);
    }
}
