//! The `fd_tuntap` client: ask the helper for a device, receive its descriptor.
//!
//! Fixes T1-T5 of the original `tunalloc.c`: it never exits the process, has a
//! deadline, checks the control message (level, type, length, `MSG_CTRUNC`), takes the
//! descriptor close-on-exec, closes any surplus descriptor, reads the name across as
//! many reads as it takes, and confirms it with `TUNGETIFF`.
//!
//! ## Replies
//!
//! The reply to the 4-byte request is one of ([`decode_reply`] tells them apart):
//!
//! * **a device**: the name with its NUL (`tap1000-0\0`, at most 16 bytes) plus exactly
//!   one `SCM_RIGHTS` descriptor, as PlanetLab's `fd_tuntap` sends it;
//! * **a refusal** (an extension of `pltap-vsysd`, backward compatible): one or more
//!   lines of UTF-8 text **without** a descriptor, no NUL, ending in `\n`, then EOF, e.g.
//!   `refused: uid 1001 may not allocate devices for slice 1000\n`. It becomes
//!   [`Error::HelperRefused`] with the text (without the final newline) as its detail;
//! * **nothing**: EOF with no byte and no descriptor (what vsys's `fd_tuntap` does on
//!   every failure), also [`Error::HelperRefused`].
//!
//! Anything else is [`Error::HelperProtocol`].

use crate::error::{Error, Result};
use crate::ifname::IfName;
use crate::sys::{self, linux::IFNAMSIZ};
use crate::tap::{Mode, Tap};
use std::io::{self, Write};
use std::os::fd::{AsFd, OwnedFd};
use std::os::unix::net::UnixStream;
use std::path::Path;
use std::time::{Duration, Instant};

/// The name of the helper's socket inside a vsys root.
pub const CONTROL_SOCKET: &str = "fd_tuntap.control";

/// Connects to `<root>/fd_tuntap.control`, asks for a `mode` device and adopts the
/// descriptor the helper sends. vsys devices always carry `tun_pi` framing.
///
/// ```no_run
/// use pltap_core::{Mode, vsys::allocate};
/// use std::time::Duration;
/// let tap = allocate("/vsys".as_ref(), Mode::Tap, Duration::from_secs(5))?;
/// println!("the helper gave us {}", tap.name());
/// # Ok::<(), pltap_core::Error>(())
/// ```
pub fn allocate(root: &Path, mode: Mode, timeout: Duration) -> Result<Tap> {
    allocate_request(root, mode, i32::from(mode.tun_flag()), timeout)
}

/// The vsys roots whose helper refused the flags extension and then served a plain
/// request: asked plainly from then on (in this process), with no failed round trip.
static WITHOUT_EXTENSION: std::sync::Mutex<Vec<std::path::PathBuf>> = std::sync::Mutex::new(Vec::new());

/// Whether this process learnt that `root`'s helper lacks the `fd_tuntap` flags extension.
pub fn helper_lacks_vnet(root: &Path) -> bool {
    WITHOUT_EXTENSION.lock().unwrap_or_else(|p| p.into_inner()).iter().any(|r| r == root)
}

/// Like [`allocate`], for a device with virtio-net headers: the **`fd_tuntap` flags
/// extension** (offload.md §1.9). The request is the same single `int`, now
/// `IFF_TAP | IFF_VNET_HDR` (`0x4002`, or `0x4001` for TUN); a helper that knows it passes
/// the bits to `TUNSETIFF`, and the client confirms with `TUNGETIFF` and sets the header
/// size itself (no privilege needed). The device keeps `tun_pi` framing, like every vsys
/// device.
///
/// A helper that only knows 1 and 2 refuses (PlanetLab's `fd_tuntap` exits: EOF; an older
/// `pltap-vsysd` sends a refusal line). The client then reconnects with the plain request;
/// if that succeeds, the helper lacks the extension: remembered for `root` (in this
/// process), and the plain device is returned when `fallback_plain`, or dropped and
/// [`Error::OffloadUnsupported`] (`reason: helper`) returned. If the plain request fails
/// too, its error is returned (the refusal was about something else, such as the ACL).
///
/// ```no_run
/// use pltap_core::{Mode, vsys::allocate_vnet};
/// use std::time::Duration;
/// let tap = allocate_vnet("/vsys".as_ref(), Mode::Tap, Duration::from_secs(5), true)?;
/// println!("vnet header size {}", tap.vnet_header_size()); // 0 if the helper is old
/// # Ok::<(), pltap_core::Error>(())
/// ```
pub fn allocate_vnet(root: &Path, mode: Mode, timeout: Duration, fallback_plain: bool) -> Result<Tap> {
    let unsupported = || Error::OffloadUnsupported {
        reason: crate::error::OffloadMissing::Helper,
        missing: vec!["IFF_VNET_HDR".into()],
        detail: format!(
            "the vsys helper at {} does not serve the fd_tuntap flags extension (IFF_VNET_HDR)",
            root.join(CONTROL_SOCKET).display()
        ),
    };
    if helper_lacks_vnet(root) {
        return if fallback_plain { allocate(root, mode, timeout) } else { Err(unsupported()) };
    }
    let request = i32::from(mode.tun_flag()) | i32::from(crate::sys::vnet::IFF_VNET_HDR);
    match allocate_request(root, mode, request, timeout) {
        Err(Error::HelperRefused { .. }) => {
            let plain = allocate(root, mode, timeout)?;
            let mut known = WITHOUT_EXTENSION.lock().unwrap_or_else(|p| p.into_inner());
            if !known.iter().any(|r| r == root) {
                known.push(root.to_path_buf());
            }
            drop(known);
            if fallback_plain { Ok(plain) } else { Err(unsupported()) }
        }
        other => other,
    }
}

fn allocate_request(root: &Path, mode: Mode, request: i32, timeout: Duration) -> Result<Tap> {
    let path = root.join(CONTROL_SOCKET);
    let op = format!("fd_tuntap via {}", path.display());
    let deadline = Instant::now() + timeout;
    let mut stream =
        UnixStream::connect(&path).map_err(|e| Error::os(format!("connect {}", path.display()), "connect", e))?;
    stream.set_write_timeout(Some(timeout)).map_err(|e| Error::os(&op, "setsockopt", e))?;
    // A helper that refuses at once (peer credentials, limits) may have sent its
    // refusal and closed before our request went out: then the send fails with EPIPE
    // or ECONNRESET, and the refusal is still waiting to be read.
    let sent = stream.write_all(&request.to_ne_bytes());
    let send_error = match sent {
        Ok(()) => None,
        Err(e) if matches!(e.raw_os_error(), Some(libc::EPIPE) | Some(libc::ECONNRESET)) => Some(e),
        Err(e) => {
            return Err(match e.kind() {
                io::ErrorKind::WouldBlock | io::ErrorKind::TimedOut => {
                    Error::HelperTimeout { op: op.clone(), after: timeout }
                }
                _ => Error::os(format!("send to {}", path.display()), "send", e),
            });
        }
    };
    stream.set_nonblocking(true).map_err(|e| Error::os(&op, "fcntl", e))?;

    let received = receive_reply(&stream, deadline, timeout, &op)?;
    drop(stream);
    if let Some(e) = send_error
        && received.payload.is_empty()
        && received.fds.is_empty()
        && !received.control_truncated
    {
        return Err(Error::os(format!("send to {}", path.display()), "send", e));
    }
    let (name, fd) = match decode_reply(&received.payload, received.fds.len(), received.control_truncated) {
        Ok(ReplyKind::Device { name }) => {
            (name, received.fds.into_iter().next().expect("decode_reply checked: one descriptor"))
        }
        Ok(ReplyKind::Refused { reason }) => {
            return Err(Error::HelperRefused {
                op,
                detail: reason.unwrap_or_else(|| "it closed the connection without sending a device".into()),
            });
        }
        // Every received descriptor closes when `received` drops.
        Err(detail) => return Err(Error::HelperProtocol { op, detail }),
    };
    let tap = Tap::adopt(fd, true)?;
    if tap.name() != &name || tap.mode() != mode {
        return Err(Error::HelperProtocol {
            op,
            detail: format!(
                "the helper named the device {name} ({}), but TUNGETIFF says {} ({})",
                mode.as_str(),
                tap.name(),
                tap.mode().as_str()
            ),
        });
    }
    Ok(tap)
}

/// The most reply bytes the client reads: a refusal line, or a name (16 bytes).
pub const MAX_REPLY: usize = 1024;

/// What a complete `fd_tuntap` reply says (see [`decode_reply`]).
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ReplyKind {
    /// The helper sent a device: its (kernel-valid) name and exactly one descriptor.
    Device {
        /// The name from the payload, without its NUL.
        name: IfName,
    },
    /// The helper refused: with its text (one or more lines, the final newline
    /// removed), or `None` when it closed without sending anything.
    Refused {
        /// The helper's explanation, if it gave one.
        reason: Option<String>,
    },
}

/// Decodes a complete `fd_tuntap` reply: every payload byte received until EOF (or
/// until a NUL-terminated name and a descriptor came), how many `SCM_RIGHTS`
/// descriptors came with it, and whether the kernel truncated the control data
/// (`MSG_CTRUNC`). Pure: no I/O, so it can be fuzzed.
///
/// * `Ok(ReplyKind::Device)`: the payload is a name of 1..=15 bytes plus one final NUL
///   (and no other NUL) that [`IfName`] accepts and that is not a `%d` template, with
///   exactly one descriptor;
/// * `Ok(ReplyKind::Refused)`: no descriptor, and either no payload at all or
///   a refusal text: valid UTF-8 of at most [`MAX_REPLY`] bytes, no NUL, no control
///   character other than `\n` and `\t`, ending in `\n`;
/// * `Err(detail)`: anything else (a protocol error; the caller closes every descriptor).
///
/// ```
/// use pltap_core::vsys::{ReplyKind, decode_reply};
/// let device = decode_reply(b"tap1000-0\0", 1, false).unwrap();
/// assert!(matches!(device, ReplyKind::Device { name } if name.as_str() == "tap1000-0"));
/// let refused = decode_reply(b"refused: uid 1001 may not allocate devices for slice 1000\n", 0, false);
/// assert_eq!(
///     refused,
///     Ok(ReplyKind::Refused { reason: Some("refused: uid 1001 may not allocate devices for slice 1000".into()) })
/// );
/// assert_eq!(decode_reply(b"", 0, false), Ok(ReplyKind::Refused { reason: None }));
/// assert!(decode_reply(b"tap1000-0\0", 0, false).is_err(), "a name without its descriptor");
/// assert!(decode_reply(b"tap1000-0\0", 2, false).is_err(), "two descriptors");
/// ```
pub fn decode_reply(payload: &[u8], fds: usize, control_truncated: bool) -> std::result::Result<ReplyKind, String> {
    if control_truncated {
        return Err("the control message was truncated (MSG_CTRUNC): more than one descriptor sent".into());
    }
    if fds > 1 {
        return Err(format!("the helper sent {fds} descriptors; exactly one was expected (all closed)"));
    }
    if payload.len() > MAX_REPLY {
        return Err(format!("the reply is longer than {MAX_REPLY} bytes"));
    }
    let shown = || String::from_utf8_lossy(payload).escape_debug().to_string();
    if fds == 1 {
        if payload.is_empty() {
            return Err("the helper sent a descriptor but no device name".into());
        }
        if payload.len() > IFNAMSIZ {
            return Err(format!("the device name is longer than {} bytes", IFNAMSIZ - 1));
        }
        match payload.iter().position(|b| *b == 0) {
            Some(end) if end + 1 == payload.len() && end > 0 => {}
            _ => return Err(format!("the device name \"{}\" is not a single NUL-terminated string", shown())),
        }
        let name = IfName::from_kernel(payload).map_err(|e| e.to_string())?;
        if name.is_template() {
            return Err(format!("the device name \"{}\" is a template, not a device", shown()));
        }
        return Ok(ReplyKind::Device { name });
    }
    if payload.is_empty() {
        return Ok(ReplyKind::Refused { reason: None });
    }
    if payload.contains(&0) {
        return Err(format!("the helper sent the name \"{}\" but no descriptor", shown()));
    }
    let not_refusal =
        |why: &str| format!("the helper sent \"{}\" without a descriptor, which is not a refusal: {why}", shown());
    let text = std::str::from_utf8(payload).map_err(|_| not_refusal("not UTF-8"))?;
    if !text.ends_with('\n') {
        return Err(not_refusal("it does not end with a newline"));
    }
    if text.chars().any(|c| c.is_control() && c != '\n' && c != '\t') {
        return Err(not_refusal("it has control characters"));
    }
    Ok(ReplyKind::Refused { reason: Some(text.trim_end_matches('\n').to_string()) })
}

/// Everything one reply brought.
struct Received {
    payload: Vec<u8>,
    fds: Vec<OwnedFd>,
    control_truncated: bool,
}

/// Reads until EOF, or until a NUL-terminated name and a descriptor came (the helper
/// need not exit first), or until the reply is clearly malformed (too long, two
/// descriptors, truncated control data). `ECONNRESET` counts as EOF: a helper that
/// closes with our request unread resets the connection after its reply.
fn receive_reply(stream: &UnixStream, deadline: Instant, timeout: Duration, op: &str) -> Result<Received> {
    let mut r = Received { payload: Vec::with_capacity(IFNAMSIZ), fds: Vec::new(), control_truncated: false };
    let mut buf = [0u8; 256];
    loop {
        let left = deadline
            .checked_duration_since(Instant::now())
            .ok_or(Error::HelperTimeout { op: op.to_string(), after: timeout })?;
        let mut rev = [0i16];
        if sys::poll(&[(stream.as_fd(), sys::POLLIN)], &mut rev, sys::poll_timeout_ms(left))
            .map_err(|e| Error::os(op, "poll", e))?
            == 0
        {
            continue;
        }
        let got = match sys::recv_with_fds(stream.as_fd(), &mut buf, 2) {
            Ok(got) => got,
            Err(e) if e.kind() == io::ErrorKind::WouldBlock || e.kind() == io::ErrorKind::Interrupted => continue,
            Err(e) if e.raw_os_error() == Some(libc::ECONNRESET) => return Ok(r),
            Err(e) => return Err(Error::os(op, "recvmsg", e)),
        };
        r.control_truncated |= got.control_truncated;
        r.fds.extend(got.fds);
        if got.len == 0 {
            return Ok(r); // EOF
        }
        let room = (MAX_REPLY + 1).saturating_sub(r.payload.len());
        r.payload.extend_from_slice(&buf[..got.len.min(room)]);
        let complete = r.payload.contains(&0) && r.fds.len() == 1;
        if complete || r.control_truncated || r.fds.len() > 1 || r.payload.len() > MAX_REPLY {
            return Ok(r);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Read;
    use std::os::unix::net::UnixListener;

    #[test]
    fn decode_devices() {
        let dev = |p: &[u8]| decode_reply(p, 1, false);
        assert_eq!(dev(b"tap1000-0\0"), Ok(ReplyKind::Device { name: IfName::new("tap1000-0").unwrap() }));
        assert_eq!(dev(b"tun7-12345678\0"), Ok(ReplyKind::Device { name: IfName::new("tun7-12345678").unwrap() }));
        assert_eq!(dev(b"abcdefghijklmno\0").map(|_| ()), Ok(()), "15 bytes plus NUL");
        for bad in [
            &b""[..],
            b"\0",
            b"tap1000-0",
            b"tap1000-0\0\0",
            b"tap\x001000-0\0",
            b"abcdefghijklmnop\0",
            b"tap%d\0",
            b"ta p\0",
            b"tap/0\0",
            b"\xff\xfe\0",
            b"refused: no\n",
        ] {
            assert!(dev(bad).is_err(), "{bad:?}");
        }
        assert!(decode_reply(b"tap1000-0\0", 2, false).unwrap_err().contains("2 descriptors"));
        assert!(decode_reply(b"tap1000-0\0", 1, true).unwrap_err().contains("MSG_CTRUNC"));
    }

    #[test]
    fn decode_refusals() {
        let no_fd = |p: &[u8]| decode_reply(p, 0, false);
        assert_eq!(no_fd(b""), Ok(ReplyKind::Refused { reason: None }));
        assert_eq!(no_fd(b"refused: busy\n"), Ok(ReplyKind::Refused { reason: Some("refused: busy".into()) }));
        assert_eq!(
            no_fd("two\nlines\té\n".as_bytes()),
            Ok(ReplyKind::Refused { reason: Some("two\nlines\té".into()) })
        );
        assert!(no_fd(b"tap754-0\0").unwrap_err().contains("no descriptor"));
        assert!(no_fd(b"tap754-0").unwrap_err().contains("does not end with a newline"));
        assert!(no_fd(b"refused\x1b[31m\n").unwrap_err().contains("control characters"));
        assert!(no_fd(b"\xff\n").unwrap_err().contains("not UTF-8"));
        assert!(no_fd(&[b'x'; MAX_REPLY + 1]).unwrap_err().contains("longer than"));
        let mut long = vec![b'x'; MAX_REPLY - 1];
        long.push(b'\n');
        assert!(matches!(no_fd(&long), Ok(ReplyKind::Refused { reason: Some(_) })));
        assert!(decode_reply(b"refused: no\n", 0, true).is_err());
    }

    fn temp_dir(tag: &str) -> std::path::PathBuf {
        let d = std::env::temp_dir().join(format!("pltap-core-tuntap-{tag}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&d);
        std::fs::create_dir(&d).unwrap();
        d
    }

    /// A helper that refuses with a text line: after reading the request, or at once
    /// (before the client's request arrives, as on a peer-credential refusal).
    #[test]
    fn a_refusal_line_is_helper_refused_with_the_text() {
        for read_first in [true, false] {
            let dir = temp_dir(if read_first { "after" } else { "before" });
            let listener = UnixListener::bind(dir.join(CONTROL_SOCKET)).unwrap();
            let helper = std::thread::spawn(move || {
                let (mut s, _) = listener.accept().unwrap();
                if read_first {
                    let mut req = [0u8; 4];
                    s.read_exact(&mut req).unwrap();
                }
                s.write_all(b"refused: uid 1001 may not allocate devices for slice 1000\n").unwrap();
            });
            let err = allocate(&dir, Mode::Tap, Duration::from_secs(5)).unwrap_err();
            helper.join().unwrap();
            match &err {
                Error::HelperRefused { detail, .. } => {
                    assert_eq!(
                        detail, "refused: uid 1001 may not allocate devices for slice 1000",
                        "read_first={read_first}"
                    )
                }
                other => panic!("read_first={read_first}: expected HelperRefused, got {other:?}"),
            }
            assert_eq!(err.code(), "ERR_VSYS_REFUSED");
            std::fs::remove_dir_all(&dir).unwrap();
        }
    }
}
