//! Errors that say which operation failed and why.
//!
//! Every OS failure is an [`Error::Os`] that names the operation (`"open /dev/net/tun"`),
//! the system call (`"ioctl"`) and the [`Errno`]. Library failures have their own
//! variants, each with a stable [`Error::code`] that the Node binding exposes as `err.code`.

use std::borrow::Cow;
use std::fmt;
use std::io;
use std::time::Duration;

/// A positive Linux `errno` value with its symbolic name.
///
/// The value is private (as in rustix): build one with [`Errno::from_raw`] or
/// [`Errno::from_io`], read it with [`Errno::raw`].
///
/// ```
/// use pltap_core::Errno;
/// assert_eq!(Errno::from_raw(1).name(), Some("EPERM"));
/// assert_eq!(Errno::from_raw(11).code(), "EAGAIN");
/// assert_eq!(Errno::from_raw(4095).name(), None);
/// assert_eq!(Errno::from_raw(4095).code(), "UNKNOWN_ERRNO_4095");
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct Errno(i32);

macro_rules! errno_names {
    ($($name:ident),* $(,)?) => {
        impl Errno {
            /// The symbolic name (`"EPERM"`), or `None` for a value this table does not
            /// know (see [`Errno::code`]).
            pub fn name(self) -> Option<&'static str> {
                match self.0 {
                    $(libc::$name => Some(stringify!($name)),)*
                    _ => None,
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
    /// The errno with this (positive) value, e.g. `Errno::from_raw(libc::EPERM)`.
    pub const fn from_raw(errno: i32) -> Errno {
        Errno(errno)
    }

    /// The (positive) value.
    pub const fn raw(self) -> i32 {
        self.0
    }

    /// The errno inside an `io::Error`, or `EIO` if it carries none.
    pub fn from_io(e: &io::Error) -> Errno {
        Errno(e.raw_os_error().unwrap_or(libc::EIO))
    }

    /// The code Node would show: the name, or `UNKNOWN_ERRNO_<n>` for unknown values.
    pub fn code(self) -> Cow<'static, str> {
        self.name().map_or_else(|| format!("UNKNOWN_ERRNO_{}", self.0).into(), Cow::Borrowed)
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
///
/// Errors are plain data (`Clone`, `Eq`), so a failure can be both returned and kept, as
/// the reconciler keeps the last one ([`crate::reconcile::Reconciler::last_error`]).
#[derive(Clone, Debug, PartialEq, Eq)]
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
        /// The rejected value, when it is worth showing.
        value: Option<String>,
        /// Why it was rejected: a predicate such as `"must be an integer >= 0 and <= 32"`,
        /// without the value, so that the Node facade can put it in its own message.
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
    /// The vsys helper (a script or `fd_tuntap`) did not answer before the deadline
    /// (`ERR_VSYS_TIMEOUT`).
    HelperTimeout {
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
    /// A direct (ioctl) link change did not settle (`ERR_PLTAP_LINK_UNSTABLE`): after
    /// every pending action ran, the kernel still shows something else, because another
    /// process keeps changing the interface meanwhile.
    LinkUnstable {
        /// The action still pending (`"Up(None)"`, `"Promisc(true)"`, ...).
        action: String,
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
    /// A frame's virtio-net header does not fit the frame (`ERR_PLTAP_VNET_HDR`, offload.md
    /// §4.5): checked before anything of the burst is written.
    VnetHdr {
        /// The frame's index in its burst (0 for a single frame).
        frame: usize,
        /// The rule that failed, its offending value and what was expected.
        error: crate::offload::VnetError,
    },
    /// Offload was asked for but cannot be had (`ERR_PLTAP_OFFLOAD_UNSUPPORTED`).
    OffloadUnsupported {
        /// Who lacks it.
        reason: OffloadMissing,
        /// What is missing (`IFF_VNET_HDR`, `csum`, `tso4`, ...).
        missing: Vec<String>,
        /// What happened.
        detail: String,
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

/// Who cannot do offload ([`Error::OffloadUnsupported`]).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum OffloadMissing {
    /// The kernel refused `IFF_VNET_HDR` or the offload set.
    Kernel,
    /// The vsys helper does not know the `fd_tuntap` flags extension (or refuses it).
    Helper,
    /// The adopted descriptor was opened without `IFF_VNET_HDR`.
    Fd,
}

impl OffloadMissing {
    /// `"kernel"`, `"helper"` or `"fd"`.
    pub fn as_str(self) -> &'static str {
        match self {
            OffloadMissing::Kernel => "kernel",
            OffloadMissing::Helper => "helper",
            OffloadMissing::Fd => "fd",
        }
    }
}

/// `Result` with [`Error`].
pub type Result<T> = std::result::Result<T, Error>;

impl Error {
    /// An [`Error::Internal`] for a panic caught in `entry`, with the panic's message.
    /// The payload is leaked rather than dropped: a payload whose `Drop` panics again
    /// must not unwind from here.
    ///
    /// ```
    /// use pltap_core::Error;
    /// let payload = std::panic::catch_unwind(|| panic!("boom")).unwrap_err();
    /// let e = Error::from_panic("the reader", payload);
    /// assert_eq!(e.code(), "ERR_PLTAP_INTERNAL");
    /// assert!(e.to_string().contains("the reader panicked: boom"));
    /// ```
    pub fn from_panic(entry: &str, payload: Box<dyn std::any::Any + Send>) -> Error {
        let message = if let Some(s) = payload.downcast_ref::<&str>() {
            (*s).to_string()
        } else if let Some(s) = payload.downcast_ref::<String>() {
            s.clone()
        } else {
            "a panic without a message".to_string()
        };
        std::mem::forget(payload);
        Error::Internal { detail: format!("{entry} panicked: {message}") }
    }

    /// An [`Error::Os`] from an `io::Error`.
    pub fn os(op: impl Into<String>, syscall: &'static str, e: io::Error) -> Error {
        Error::errno(op, syscall, Errno::from_io(&e))
    }

    /// An [`Error::Os`] with a given errno, for failures the library detects itself
    /// (a partial write is `EMSGSIZE`, a missing `/proc/net/dev` line `ENODEV`).
    ///
    /// ```
    /// use pltap_core::{Errno, Error};
    /// let e = Error::errno("write tap0: partial write", "write", Errno::from_raw(libc::EMSGSIZE));
    /// assert_eq!((e.code(), e.syscall()), ("EMSGSIZE".into(), Some("write")));
    /// ```
    pub fn errno(op: impl Into<String>, syscall: &'static str, errno: Errno) -> Error {
        Error::Os { op: op.into(), syscall, errno }
    }

    /// An [`Error::InvalidArgument`] whose reason says it all (no value shown).
    pub fn invalid(what: &'static str, reason: impl Into<String>) -> Error {
        Error::InvalidArgument { what, value: None, reason: reason.into() }
    }

    /// An [`Error::InvalidArgument`] for a rejected `value`; `reason` is a predicate
    /// without the value (`"must be six hex octets separated by \":\""`).
    ///
    /// ```
    /// use pltap_core::Error;
    /// let e = Error::invalid_value("MAC address", "02:00", "must be six hex octets separated by \":\"");
    /// assert_eq!(e.to_string(), "invalid MAC address \"02:00\": must be six hex octets separated by \":\"");
    /// assert_eq!(e.invalid_reason(), Some("must be six hex octets separated by \":\""));
    /// ```
    pub fn invalid_value(what: &'static str, value: impl Into<String>, reason: impl Into<String>) -> Error {
        Error::InvalidArgument { what, value: Some(value.into()), reason: reason.into() }
    }

    /// The reason of an [`Error::InvalidArgument`] (what the Node facade words its
    /// `TypeError`s and `RangeError`s with).
    pub fn invalid_reason(&self) -> Option<&str> {
        match self {
            Error::InvalidArgument { reason, .. } => Some(reason),
            _ => None,
        }
    }

    /// The stable code: an errno name for [`Error::Os`], `ERR_*` otherwise.
    ///
    /// ```
    /// use pltap_core::Error;
    /// assert_eq!(Error::Closed.code(), "ERR_PLTAP_CLOSED");
    /// ```
    pub fn code(&self) -> Cow<'static, str> {
        Cow::Borrowed(match self {
            Error::Os { errno, .. } => return errno.code(),
            Error::InvalidArgument { .. } => "ERR_INVALID_ARG_VALUE",
            Error::HelperRefused { .. } => "ERR_VSYS_REFUSED",
            Error::HelperProtocol { .. } => "ERR_VSYS_PROTOCOL",
            Error::HelperTimeout { .. } => "ERR_VSYS_TIMEOUT",
            Error::Script { .. } => "ERR_VSYS_SCRIPT",
            Error::LinkUnstable { .. } => "ERR_PLTAP_LINK_UNSTABLE",
            Error::NotConfigured { .. } => "ERR_PLTAP_NOT_CONFIGURED",
            Error::Truncated { .. } => "ERR_PLTAP_TRUNCATED",
            Error::Closed => "ERR_PLTAP_CLOSED",
            Error::DeviceGone { .. } => "ERR_PLTAP_DEVICE_GONE",
            Error::VnetHdr { .. } => "ERR_PLTAP_VNET_HDR",
            Error::OffloadUnsupported { .. } => "ERR_PLTAP_OFFLOAD_UNSUPPORTED",
            Error::Internal { .. } => "ERR_PLTAP_INTERNAL",
        })
    }

    /// An [`Error::VnetHdr`] for frame `frame` of a burst.
    ///
    /// ```
    /// use pltap_core::Error;
    /// use pltap_core::offload::{VnetError, VnetReason};
    /// let e = Error::vnet_hdr(3, VnetError::new(VnetReason::Flags, 2, "only NEEDS_CSUM may be set"));
    /// assert_eq!(e.code(), "ERR_PLTAP_VNET_HDR");
    /// assert_eq!(e.vnet_hdr_info(), Some((3, "flags", 2)));
    /// ```
    pub fn vnet_hdr(frame: usize, error: crate::offload::VnetError) -> Error {
        Error::VnetHdr { frame, error }
    }

    /// For [`Error::VnetHdr`]: the frame index, the reason's JS name and the value (the
    /// `frame`, `reason` and `value` properties of the JS error).
    pub fn vnet_hdr_info(&self) -> Option<(usize, &'static str, u64)> {
        match self {
            Error::VnetHdr { frame, error } => Some((*frame, error.reason.as_str(), error.value)),
            _ => None,
        }
    }

    /// The errno, for [`Error::Os`].
    pub fn os_errno(&self) -> Option<Errno> {
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
        self.os_errno() == Some(Errno(errno))
    }
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Error::Os { op, errno, .. } => write!(f, "{op}: {errno}"),
            Error::InvalidArgument { what, value: Some(value), reason } => {
                write!(f, "invalid {what} {value:?}: {reason}")
            }
            Error::InvalidArgument { what, value: None, reason } => write!(f, "invalid {what}: {reason}"),
            Error::HelperRefused { op, detail } => {
                write!(f, "{op}: the vsys helper refused ({detail}); check the slice's vsys ACL and vsys_vnet")
            }
            Error::HelperProtocol { op, detail } => write!(f, "{op}: vsys protocol error: {detail}"),
            Error::HelperTimeout { op, after } => write!(f, "{op}: no answer within {} ms", after.as_millis()),
            Error::Script { script, reply, detail } => {
                write!(f, "vsys script {script} failed: {detail}")?;
                if !reply.trim().is_empty() {
                    write!(f, "; it said: {}", reply.trim())?;
                }
                Ok(())
            }
            Error::LinkUnstable { action } => {
                write!(f, "the link state keeps changing: {action} is still pending after every action ran")
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
            Error::VnetHdr { frame, error } => write!(f, "frame {frame}: {error}"),
            Error::OffloadUnsupported { reason, missing, detail } => {
                write!(f, "offload is not available ({}): {detail}", reason.as_str())?;
                if !missing.is_empty() {
                    write!(f, "; missing {}", missing.join(", "))?;
                }
                Ok(())
            }
            Error::Internal { detail } => write!(f, "internal error (a bug in pltap, please report it): {detail}"),
        }
    }
}

impl std::error::Error for Error {}

/// A [`crate::offload::VnetError`] of a single frame (frame index 0).
impl From<crate::offload::VnetError> for Error {
    fn from(error: crate::offload::VnetError) -> Error {
        Error::VnetHdr { frame: 0, error }
    }
}

impl From<Error> for io::Error {
    fn from(e: Error) -> io::Error {
        match e {
            Error::Os { errno, .. } => io::Error::from_raw_os_error(errno.0),
            Error::HelperTimeout { .. } => io::Error::new(io::ErrorKind::TimedOut, e),
            Error::InvalidArgument { .. } | Error::VnetHdr { .. } => io::Error::new(io::ErrorKind::InvalidInput, e),
            other => io::Error::other(other),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn errno_names_and_codes() {
        assert_eq!(Errno(libc::EPERM).name(), Some("EPERM"));
        assert_eq!(Errno(libc::EBADFD).name(), Some("EBADFD"));
        assert_eq!(Errno(4095).name(), None);
        assert_eq!(Errno(libc::ENXIO).code(), "ENXIO");
        assert_eq!(Errno(4095).code(), "UNKNOWN_ERRNO_4095");
        assert_eq!(Errno(libc::ENOENT).message(), "No such file or directory");
        // message() trims std's " (os error N)" suffix: pinned on a second errno.
        assert_eq!(Errno(libc::EMSGSIZE).message(), "Message too long");
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
        assert_eq!(Error::HelperTimeout { op: "x".into(), after: Duration::from_millis(5) }.code(), "ERR_VSYS_TIMEOUT");
        assert_eq!(Error::LinkUnstable { action: "Up(None)".into() }.code(), "ERR_PLTAP_LINK_UNSTABLE");
        assert_eq!(Error::HelperRefused { op: "x".into(), detail: "EOF".into() }.code(), "ERR_VSYS_REFUSED");
    }
}
