//! The `fd_tuntap` client: ask the helper for a device, receive its descriptor.
//!
//! Fixes T1-T5 of the original `tunalloc.c`: it never exits the process, has a
//! deadline, checks the control message (level, type, length, `MSG_CTRUNC`), takes the
//! descriptor close-on-exec, closes any surplus descriptor, reads the name across as
//! many reads as it takes, and confirms it with `TUNGETIFF`.

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
    let path = root.join(CONTROL_SOCKET);
    let op = format!("fd_tuntap via {}", path.display());
    let deadline = Instant::now() + timeout;
    let mut stream = UnixStream::connect(&path).map_err(|e| Error::os(format!("connect {}", path.display()), "connect", e))?;
    stream.set_write_timeout(Some(timeout)).map_err(|e| Error::os(&op, "setsockopt", e))?;
    stream.write_all(&i32::from(mode.iff()).to_ne_bytes()).map_err(|e| match e.kind() {
        io::ErrorKind::WouldBlock | io::ErrorKind::TimedOut => Error::Timeout { op: op.clone(), after: timeout },
        _ => Error::os(format!("send to {}", path.display()), "send", e),
    })?;
    stream.set_nonblocking(true).map_err(|e| Error::os(&op, "fcntl", e))?;

    let (name, fd) = receive_name_and_fd(&stream, deadline, timeout, &op)?;
    drop(stream);
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

/// Reads the NUL-terminated name and exactly one descriptor (until both came, or EOF).
fn receive_name_and_fd(stream: &UnixStream, deadline: Instant, timeout: Duration, op: &str) -> Result<(IfName, OwnedFd)> {
    let mut name = Vec::with_capacity(IFNAMSIZ);
    let mut fds: Vec<OwnedFd> = Vec::new();
    let mut buf = [0u8; 64];
    let protocol = |detail: String| Error::HelperProtocol { op: op.to_string(), detail };
    loop {
        let left = deadline.checked_duration_since(Instant::now()).ok_or(Error::Timeout { op: op.to_string(), after: timeout })?;
        let mut rev = [0i16];
        let ms = left.as_millis().clamp(1, i32::MAX as u128) as i32;
        if sys::poll(&[(stream.as_fd(), sys::POLLIN)], &mut rev, ms).map_err(|e| Error::os(op, "poll", e))? == 0 {
            continue;
        }
        let got = match sys::recv_with_fds(stream.as_fd(), &mut buf, 2) {
            Ok(got) => got,
            Err(e) if e.kind() == io::ErrorKind::WouldBlock || e.kind() == io::ErrorKind::Interrupted => continue,
            Err(e) => return Err(Error::os(op, "recvmsg", e)),
        };
        if got.control_truncated {
            return Err(protocol("the control message was truncated (MSG_CTRUNC): more than one descriptor sent".into()));
        }
        fds.extend(got.fds);
        if fds.len() > 1 {
            return Err(protocol(format!("the helper sent {} descriptors; exactly one was expected (all closed)", fds.len())));
        }
        if got.len == 0 {
            break; // EOF
        }
        name.extend_from_slice(&buf[..got.len]);
        if name.len() > IFNAMSIZ {
            return Err(protocol(format!("the device name is longer than {} bytes", IFNAMSIZ - 1)));
        }
        if name.contains(&0) && fds.len() == 1 {
            break; // complete: no need to wait for the helper to exit
        }
    }
    if fds.is_empty() && name.is_empty() {
        return Err(Error::HelperRefused { op: op.to_string(), detail: "it closed the connection without sending a device".into() });
    }
    let Some(fd) = fds.pop() else {
        return Err(protocol(format!("the helper sent the name {:?} but no descriptor", String::from_utf8_lossy(&name))));
    };
    match name.iter().position(|b| *b == 0) {
        Some(end) if end + 1 == name.len() => {}
        _ => return Err(protocol(format!("the device name {:?} is not a single NUL-terminated string", String::from_utf8_lossy(&name)))),
    }
    let name = IfName::from_kernel(&name).map_err(|e| protocol(e.to_string()))?;
    Ok((name, fd))
}
