//! Errors that say which operation failed and why.
//!
//! Every OS failure is an [`Error::Os`] that names the operation (`"open /dev/net/tun"`),
//! the system call (`"ioctl"`) and the [`Errno`]. Library failures have their own
//! variants, each with a stable [`Error::code`] that the Node binding exposes as `err.code`.

use std::fmt;
use std::io;
use std::time::Duration;

/// A positive Linux `errno` value with its symbolic name.
///
/// ```
/// use pltap_core::Errno;
/// assert_eq!(Errno(1).name(), "EPERM");
/// assert_eq!(Errno(11).name(), "EAGAIN");
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct Errno(pub i32);

macro_rules! errno_names {
    ($($name:ident),* $(,)?) => {
        impl Errno {
            /// The symbolic name (`"EPERM"`), or `"EUNKNOWN"` for a value this table does
            /// not know (see [`Errno::code`]).
            pub fn name(self) -> &'static str {
                match self.0 {
                    $(libc::$name => stringify!($name),)*
                    _ => "EUNKNOWN",
                }
            }
        }
    };
}

errno_names!(
    EPERM, ENOENT, ESRCH, EINTR, EIO, ENXIO, E2BIG, EBADF, ECHILD, EAGAIN, ENOMEM, EACCES, EFAULT, EBUSY, EEXIST,
    EXDEV, ENODEV, ENOTDIR, EISDIR, EINVAL, ENFILE, EMFILE, ENOTTY, EFBIG, ENOSPC, ESPIPE, EROFS, EPIPE, ERANGE,
    ENAMETOOLONG, ENOSYS, ENOTEMPTY, ELOOP, EBADFD, ENOTSOCK, EMSGSIZE, EPROTONOSUPPORT, ENOTSUP, EAFNOSUPPORT,
    EADDRINUSE, EADDRNOTAVAIL, ENETDOWN, ENETUNREACH, ECONNABORTED, ECONNRESET, ENOBUFS, EISCONN, ENOTCONN, ETIMEDOUT,
    ECONNREFUSED, EHOSTUNREACH, EALREADY, EINPROGRESS, ECANCELED,
);

impl Errno {
    /// The `errno` of the last failed call on this thread.
    pub fn last() -> Errno {
        Errno::from_io(&io::Error::last_os_error())
    }

    /// The errno inside an `io::Error`, or `EIO` if it carries none.
    pub fn from_io(e: &io::Error) -> Errno {
        Errno(e.raw_os_error().unwrap_or(libc::EIO))
    }

    /// The code Node would show: the name, or `UNKNOWN_ERRNO_<n>` for unknown values.
    pub fn code(self) -> String {
        match self.name() {
            "EUNKNOWN" => format!("UNKNOWN_ERRNO_{}", self.0),
            n => n.to_string(),
        }
    }

    /// The C library's message for this errno (`strerror`), via `std::io::Error`.
    pub fn message(self) -> String {
        let s = io::Error::from_raw_os_error(self.0).to_string();
        // std appends " (os error N)"; keep only the message.
        match s.rfind(" (os error") {
            Some(i) => s[..i].to_string(),
            None => s,
        }
    }
}

impl fmt::Display for Errno {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.code(), self.message())
    }
}

/// Everything that can go wrong in `pltap-core`.
#[derive(Debug)]
#[non_exhaustive]
pub enum Error {
    /// A system call failed.
    Os {
        /// What the library was doing, e.g. `"TUNSETIFF tap%d"` or `"open vif_up.in"`.
        op: String,
        /// The system call, as Node names it in `err.syscall` (`"ioctl"`, `"open"`, ...).
        syscall: &'static str,
        /// Why.
        errno: Errno,
    },
    /// An argument was rejected before any system call (`ERR_INVALID_ARG_VALUE`).
    InvalidArgument {
        /// Which argument.
        what: &'static str,
        /// Why it was rejected.
        reason: String,
    },
    /// The vsys helper closed the connection without handing over a device
    /// (`ERR_VSYS_REFUSED`): typically a missing ACL entry or `vsys_vnet`.
    HelperRefused {
        /// What was asked of the helper.
        op: String,
        /// What was observed.
        detail: String,
    },
    /// The helper broke the protocol (`ERR_VSYS_PROTOCOL`): no name, two descriptors,
    /// a name the kernel does not confirm, ...
    HelperProtocol {
        /// What was asked of the helper.
        op: String,
        /// What went wrong.
        detail: String,
    },
    /// An operation's deadline passed (`ERR_VSYS_TIMEOUT`).
    Timeout {
        /// What was being waited for.
        op: String,
        /// The deadline that passed.
        after: Duration,
    },
    /// A vsys script ran but the kernel does not show what it was asked to do
    /// (`ERR_VSYS_SCRIPT`). `reply` is everything the script wrote.
    Script {
        /// The script name (`vif_up`, `vif_down`, `promisc`).
        script: String,
        /// The script's combined stdout and stderr.
        reply: String,
        /// The post-condition that failed.
        detail: String,
    },
    /// An operation needs configuration that is not set (`ERR_PLTAP_NOT_CONFIGURED`).
    NotConfigured {
        /// What is missing.
        detail: String,
    },
    /// A received frame did not fit the buffer and was cut by the kernel
    /// (`ERR_PLTAP_TRUNCATED`).
    Truncated {
        /// The full length the kernel reported.
        len: usize,
        /// The buffer's capacity.
        capacity: usize,
    },
    /// The device or handle was closed (`ERR_PLTAP_CLOSED`).
    Closed,
    /// The device a port opened is no longer the one its name reaches
    /// (`ERR_PLTAP_DEVICE_GONE`): it was deleted, renamed or moved to another network
    /// namespace, so a link operation by name would act on some other interface.
    DeviceGone {
        /// The name the device had when the port opened it.
        name: String,
        /// What happened to it.
        reason: GoneReason,
    },
    /// A bug: a panic inside the library, caught before it could abort the process
    /// (`ERR_PLTAP_INTERNAL`).
    Internal {
        /// Where, and the panic's message.
        detail: String,
    },
}

/// What happened to a port's device ([`Error::DeviceGone`]).
///
/// ```
/// use pltap_core::error::{Error, GoneReason};
/// let e = Error::DeviceGone { name: "tap0".into(), reason: GoneReason::Renamed("tap9".into()) };
/// assert_eq!(e.code(), "ERR_PLTAP_DEVICE_GONE");
/// assert_eq!(e.to_string(), "device tap0 is gone: it was renamed to tap9");
/// assert_eq!(GoneReason::Deleted.as_str(), "deleted");
/// ```
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum GoneReason {
    /// Deleted: `TUNGETIFF` on the port's descriptor fails with `EBADFD`.
    Deleted,
    /// Renamed: `TUNGETIFF` reports this name now.
    Renamed(String),
    /// Moved out of the port's network namespace: the name there is missing, or another
    /// interface's (another ifindex).
    Moved,
}

impl GoneReason {
    /// `"deleted"`, `"renamed"` or `"moved"`.
    pub fn as_str(&self) -> &'static str {
        match self {
            GoneReason::Deleted => "deleted",
            GoneReason::Renamed(_) => "renamed",
            GoneReason::Moved => "moved",
        }
    }
}

/// `Result` with [`Error`].
pub type Result<T> = std::result::Result<T, Error>;

impl Error {
    /// An [`Error::Os`] from an `io::Error`.
    pub fn os(op: impl Into<String>, syscall: &'static str, e: io::Error) -> Error {
        Error::Os { op: op.into(), syscall, errno: Errno::from_io(&e) }
    }

    /// An [`Error::InvalidArgument`].
    pub fn invalid(what: &'static str, reason: impl Into<String>) -> Error {
        Error::InvalidArgument { what, reason: reason.into() }
    }

    /// The stable code: an errno name for [`Error::Os`], `ERR_*` otherwise.
    ///
    /// ```
    /// use pltap_core::Error;
    /// assert_eq!(Error::Closed.code(), "ERR_PLTAP_CLOSED");
    /// ```
    pub fn code(&self) -> String {
        match self {
            Error::Os { errno, .. } => errno.code(),
            Error::InvalidArgument { .. } => "ERR_INVALID_ARG_VALUE".into(),
            Error::HelperRefused { .. } => "ERR_VSYS_REFUSED".into(),
            Error::HelperProtocol { .. } => "ERR_VSYS_PROTOCOL".into(),
            Error::Timeout { .. } => "ERR_VSYS_TIMEOUT".into(),
            Error::Script { .. } => "ERR_VSYS_SCRIPT".into(),
            Error::NotConfigured { .. } => "ERR_PLTAP_NOT_CONFIGURED".into(),
            Error::Truncated { .. } => "ERR_PLTAP_TRUNCATED".into(),
            Error::Closed => "ERR_PLTAP_CLOSED".into(),
            Error::DeviceGone { .. } => "ERR_PLTAP_DEVICE_GONE".into(),
            Error::Internal { .. } => "ERR_PLTAP_INTERNAL".into(),
        }
    }

    /// The errno, for [`Error::Os`].
    pub fn errno(&self) -> Option<Errno> {
        match self {
            Error::Os { errno, .. } => Some(*errno),
            _ => None,
        }
    }

    /// The system call, for [`Error::Os`].
    pub fn syscall(&self) -> Option<&'static str> {
        match self {
            Error::Os { syscall, .. } => Some(syscall),
            _ => None,
        }
    }

    /// Whether this is an OS error with the given errno.
    pub fn is_errno(&self, errno: i32) -> bool {
        self.errno() == Some(Errno(errno))
    }
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Error::Os { op, errno, .. } => write!(f, "{op}: {errno}"),
            Error::InvalidArgument { what, reason } => write!(f, "invalid {what}: {reason}"),
            Error::HelperRefused { op, detail } => {
                write!(f, "{op}: the vsys helper refused ({detail}); check the slice's vsys ACL and vsys_vnet")
            }
            Error::HelperProtocol { op, detail } => write!(f, "{op}: vsys protocol error: {detail}"),
            Error::Timeout { op, after } => write!(f, "{op}: no answer within {} ms", after.as_millis()),
            Error::Script { script, reply, detail } => {
                write!(f, "vsys script {script} failed: {detail}")?;
                if !reply.trim().is_empty() {
                    write!(f, "; it said: {}", reply.trim())?;
                }
                Ok(())
            }
            Error::NotConfigured { detail } => write!(f, "not configured: {detail}"),
            Error::Truncated { len, capacity } => {
                write!(f, "frame of {len} bytes truncated to the {capacity}-byte buffer")
            }
            Error::Closed => write!(f, "the device is closed"),
            Error::DeviceGone { name, reason } => {
                write!(f, "device {name} is gone: ")?;
                match reason {
                    GoneReason::Deleted => write!(f, "it was deleted"),
                    GoneReason::Renamed(to) => write!(f, "it was renamed to {to}"),
                    GoneReason::Moved => write!(f, "it was moved out of this network namespace"),
                }
            }
            Error::Internal { detail } => write!(f, "internal error (a bug in pltap, please report it): {detail}"),
        }
    }
}

impl std::error::Error for Error {}

impl From<Error> for io::Error {
    fn from(e: Error) -> io::Error {
        match e {
            Error::Os { errno, .. } => io::Error::from_raw_os_error(errno.0),
            Error::Timeout { .. } => io::Error::new(io::ErrorKind::TimedOut, e),
            Error::InvalidArgument { .. } => io::Error::new(io::ErrorKind::InvalidInput, e),
            other => io::Error::other(other),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn errno_names_and_codes() {
        assert_eq!(Errno(libc::EPERM).name(), "EPERM");
        assert_eq!(Errno(libc::EBADFD).name(), "EBADFD");
        assert_eq!(Errno(libc::ENXIO).code(), "ENXIO");
        assert_eq!(Errno(4095).code(), "UNKNOWN_ERRNO_4095");
        assert_eq!(Errno(libc::ENOENT).message(), "No such file or directory");
    }

    #[test]
    fn os_error_keeps_op_syscall_errno() {
        let e = Error::os("open /dev/net/tun", "open", io::Error::from_raw_os_error(libc::EACCES));
        assert_eq!(e.code(), "EACCES");
        assert_eq!(e.syscall(), Some("open"));
        assert_eq!(e.to_string(), "open /dev/net/tun: EACCES: Permission denied");
        let io: io::Error = e.into();
        assert_eq!(io.raw_os_error(), Some(libc::EACCES));
    }

    #[test]
    fn library_codes_are_stable() {
        let s = Error::Script { script: "vif_up".into(), reply: "Invalid IP: x\n".into(), detail: "not UP".into() };
        assert_eq!(s.code(), "ERR_VSYS_SCRIPT");
        assert!(s.to_string().contains("Invalid IP: x"));
        assert_eq!(Error::Timeout { op: "x".into(), after: Duration::from_millis(5) }.code(), "ERR_VSYS_TIMEOUT");
        assert_eq!(Error::HelperRefused { op: "x".into(), detail: "EOF".into() }.code(), "ERR_VSYS_REFUSED");
    }
}
