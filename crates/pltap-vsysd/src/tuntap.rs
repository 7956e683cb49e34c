//! The `fd_tuntap.control` socket, served like vsys's `unixsocketwatcher.ml` plus
//! PlanetLab's `fd_tuntap.c`, with an identity check and limits:
//!
//! 1. the acceptor reads the peer's credentials (`SO_PEERCRED`): only the slice's uid,
//!    root and the uids of [`Config::allow_uids`](crate::Config::allow_uids) are
//!    served;
//! 2. at most [`Config::max_connections`](crate::Config::max_connections) connections
//!    are served at once, each by its own short thread;
//! 3. the thread reads exactly one native-endian `i32` ([`parse_request_ext`]: `IFF_TUN` = 1
//!    or `IFF_TAP` = 2, optionally `| IFF_VNET_HDR` (0x4000, the flags extension of
//!    offload.md §1.9), nothing else) within [`REQUEST_TIME`];
//! 4. under one mutex it counts the slice's devices (`tap<uid>-N` / `tun<uid>-N` in the
//!    helper's network namespace) against
//!    [`Config::max_devices`](crate::Config::max_devices) and creates
//!    `tun<uid>-%d` / `tap<uid>-%d` **with** `tun_pi` framing;
//! 5. it sends the name with its NUL byte plus exactly one descriptor.
//!
//! Every refusal is a line of text sent **without** a descriptor, then the connection
//! closes ([`refusal`] builds it; the client's `pltap_core::vsys::decode_reply` reads
//! it as `ERR_VSYS_REFUSED`). A closed descriptor is never sent (F1).

use crate::Shared;
use pltap_core::sys::{self, linux};
use pltap_core::{IfName, Mode, Tap, TapOptions};
use std::io::{self, Read};
use std::os::fd::AsFd;
use std::os::unix::net::{UnixListener, UnixStream};
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

/// How long a client has to send its 4 bytes.
pub const REQUEST_TIME: Duration = Duration::from_secs(5);

/// Parses the 4-byte `fd_tuntap` request: a native-endian `i32` that must be exactly
/// `IFF_TUN` (1) or `IFF_TAP` (2), as PlanetLab's `fd_tuntap.c` demands (so
/// `IFF_TAP | IFF_NO_PI` is refused). Pure, for the fuzzer; the error is the text of
/// the refusal.
///
/// ```
/// use pltap_core::Mode;
/// use pltap_vsysd::tuntap::parse_request;
/// assert_eq!(parse_request(&2i32.to_ne_bytes()), Ok(Mode::Tap));
/// assert_eq!(parse_request(&1i32.to_ne_bytes()), Ok(Mode::Tun));
/// assert!(parse_request(&0x1002i32.to_ne_bytes()).is_err());
/// assert!(parse_request(&[2, 0]).is_err());
/// ```
pub fn parse_request(bytes: &[u8]) -> Result<Mode, String> {
    let word: [u8; 4] = bytes
        .try_into()
        .map_err(|_| format!("the request must be a 4-byte interface type, not {} bytes", bytes.len()))?;
    match i32::from_ne_bytes(word) {
        t if t == i32::from(linux::IFF_TUN) => Ok(Mode::Tun),
        t if t == i32::from(linux::IFF_TAP) => Ok(Mode::Tap),
        t => Err(format!("if_type {t:#x} is not a valid interface type (only IFF_TUN=1 or IFF_TAP=2)")),
    }
}

/// `IFF_VNET_HDR`: the one option bit of the `fd_tuntap` flags extension.
pub const IFF_VNET_HDR: i32 = 0x4000;

/// A request of the `fd_tuntap` flags extension (offload.md §1.9): the device type and
/// whether the device is to carry virtio-net headers.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Request {
    /// TAP or TUN.
    pub mode: Mode,
    /// `IFF_VNET_HDR` was asked for (passed to `TUNSETIFF`).
    pub vnet_hdr: bool,
}

/// Parses the 4-byte request with the **flags extension**: the same native-endian `i32`,
/// now `type | options` where `type` is `IFF_TUN` (1) or `IFF_TAP` (2) and the only option
/// accepted is `IFF_VNET_HDR` (0x4000). Every other bit (including `IFF_NO_PI`: vsys
/// devices keep `tun_pi`) is refused, in [`parse_request`]'s words. An old client sends
/// exactly 1 or 2 and gets what it always got. Pure, for the fuzzer.
///
/// ```
/// use pltap_core::Mode;
/// use pltap_vsysd::tuntap::{parse_request_ext, Request};
/// assert_eq!(parse_request_ext(&0x4002i32.to_ne_bytes()), Ok(Request { mode: Mode::Tap, vnet_hdr: true }));
/// assert_eq!(parse_request_ext(&2i32.to_ne_bytes()), Ok(Request { mode: Mode::Tap, vnet_hdr: false }));
/// assert!(parse_request_ext(&0x5002i32.to_ne_bytes()).is_err());
/// assert!(parse_request_ext(&0x4000i32.to_ne_bytes()).is_err());
/// ```
pub fn parse_request_ext(bytes: &[u8]) -> Result<Request, String> {
    if let Ok(word) = <[u8; 4]>::try_from(bytes) {
        let v = i32::from_ne_bytes(word);
        if v & IFF_VNET_HDR != 0 {
            let plain = v & !IFF_VNET_HDR;
            return match parse_request(&plain.to_ne_bytes()) {
                Ok(mode) => Ok(Request { mode, vnet_hdr: true }),
                Err(_) => Err(format!(
                    "if_type {v:#x} is not a valid interface type (only IFF_TUN=1 or IFF_TAP=2, optionally | IFF_VNET_HDR=0x4000)"
                )),
            };
        }
    }
    parse_request(bytes).map(|mode| Request { mode, vnet_hdr: false })
}

/// The bytes of a refusal: `refused: <why>\n`, with any control character in `why`
/// replaced by a space and the whole at most 1024 bytes (what the client reads).
///
/// ```
/// assert_eq!(pltap_vsysd::tuntap::refusal("no"), b"refused: no\n");
/// ```
pub fn refusal(why: &str) -> Vec<u8> {
    let mut text: String = why.chars().map(|c| if c.is_control() { ' ' } else { c }).collect();
    let limit = pltap_core::vsys::MAX_REPLY - "refused: \n".len();
    if text.len() > limit {
        let mut cut = limit;
        while !text.is_char_boundary(cut) {
            cut -= 1;
        }
        text.truncate(cut);
    }
    format!("refused: {text}\n").into_bytes()
}

/// Sends a refusal on a nonblocking stream, reads whatever request bytes are already
/// there (so closing does not reset the connection before the client read the text),
/// and closes it.
fn refuse(stream: UnixStream, why: &str) {
    let _ = stream.set_nonblocking(true);
    let _ = sys::send_with_fds(stream.as_fd(), &refusal(why), &[]);
    let _ = stream.shutdown(std::net::Shutdown::Write);
    let mut sink = [0u8; 64];
    for _ in 0..4 {
        match (&stream).read(&mut sink) {
            Ok(n) if n > 0 => {}
            _ => break,
        }
    }
}

/// The acceptor thread.
pub(crate) fn serve(shared: Arc<Shared>, listener: UnixListener) {
    let mut workers: Vec<JoinHandle<()>> = Vec::new();
    while !shared.stopping() {
        let mut rev = [0i16; 2];
        let polled = sys::poll(&[(listener.as_fd(), sys::POLLIN), (shared.wake.as_fd(), sys::POLLIN)], &mut rev, 1000);
        if let Err(e) = polled {
            shared.log_limited("fd_tuntap", "poll", format_args!("fd_tuntap: poll: {e}"));
            if shared.sleep(Duration::from_millis(100)) {
                break;
            }
            continue;
        }
        if rev[1] != 0 || shared.stopping() {
            break;
        }
        workers.retain(|w| !w.is_finished());
        if rev[0] == 0 {
            continue;
        }
        let stream = match listener.accept() {
            Ok((stream, _)) => stream,
            Err(e) if e.kind() == io::ErrorKind::WouldBlock || e.kind() == io::ErrorKind::Interrupted => continue,
            Err(e) => {
                shared.log_limited("fd_tuntap", "accept", format_args!("fd_tuntap: accept: {e}"));
                if shared.sleep(Duration::from_millis(100)) {
                    break;
                }
                continue;
            }
        };
        let cred = match sys::peer_credentials(stream.as_fd()) {
            Ok(c) => c,
            Err(e) => {
                shared.log_limited("fd_tuntap", "refused", format_args!("fd_tuntap refused a peer: SO_PEERCRED: {e}"));
                refuse(stream, &format!("the helper cannot identify the peer ({e})"));
                continue;
            }
        };
        let slice = shared.slice.uid;
        if cred.uid != slice && cred.uid != 0 && !shared.allow_uids.contains(&cred.uid) {
            shared.log_limited(
                "fd_tuntap",
                "refused",
                format_args!(
                    "fd_tuntap refused uid {} (pid {}): not the slice's uid {slice}, root or --allow-uid",
                    cred.uid, cred.pid
                ),
            );
            refuse(stream, &format!("uid {} may not allocate devices for slice {slice}", cred.uid));
            continue;
        }
        if workers.len() >= shared.max_connections {
            shared.log_limited(
                "fd_tuntap",
                "busy",
                format_args!(
                    "fd_tuntap refused uid {} (pid {}): {} connections in progress",
                    cred.uid,
                    cred.pid,
                    workers.len()
                ),
            );
            refuse(
                stream,
                &format!("too many connections in progress (--max-connections {}); try again", shared.max_connections),
            );
            continue;
        }
        let worker = shared.clone();
        let spawned = std::thread::Builder::new().name("vsysd-fd_tuntap".into()).spawn(move || handle(&worker, stream));
        match spawned {
            Ok(w) => workers.push(w),
            Err(e) => shared.log_limited("fd_tuntap", "spawn", format_args!("fd_tuntap: cannot start a thread: {e}")),
        }
    }
    for w in workers {
        let _ = w.join();
    }
}

/// One connection: log its outcome; refusals are sent to the client too.
fn handle(shared: &Shared, stream: UnixStream) {
    let started = Instant::now();
    match allocate(shared, &stream) {
        Ok(Some((name, mode))) => shared.log_limited(
            "fd_tuntap",
            "sent",
            format_args!(
                "fd_tuntap [{}] sent {name} ({} ms)",
                mode.as_str().to_uppercase(),
                started.elapsed().as_millis()
            ),
        ),
        Ok(None) => {}
        Err(why) => {
            shared.log_limited("fd_tuntap", "refused", format_args!("fd_tuntap refused: {why}"));
            refuse(stream, &why);
        }
    }
}

/// How many of the slice's devices exist in this thread's network namespace.
fn count_devices(uid: u32) -> Result<usize, String> {
    let path = "/proc/thread-self/net/dev";
    let table =
        std::fs::read_to_string(path).map_err(|e| format!("cannot count the slice's devices: read {path}: {e}"))?;
    Ok(table
        .lines()
        .skip(2)
        .filter_map(|l| l.split_once(':').map(|(name, _)| name.trim()))
        .filter(|name| crate::scripts::check_name(name, uid).is_ok())
        .count())
}

/// `Ok(None)`: the server is stopping.
fn allocate(shared: &Shared, stream: &UnixStream) -> Result<Option<(IfName, Mode)>, String> {
    stream.set_nonblocking(true).map_err(|e| format!("fcntl: {e}"))?;
    let Some(word) = read_word(shared, stream)? else { return Ok(None) };
    let Request { mode, vnet_hdr } = parse_request_ext(&word)?;
    if vnet_hdr && !shared.vnet_hdr {
        return Err(format!(
            "if_type {:#x}: IFF_VNET_HDR devices are not served by this helper (--vnet-hdr refuse)",
            i32::from(mode.tun_flag()) | IFF_VNET_HDR
        ));
    }
    let uid = shared.slice.uid;
    let template = format!("{}{uid}-%d", mode.as_str());
    let name = IfName::new(&template).map_err(|e| format!("name template: {e}"))?;
    let tap = {
        // Held across count and create, so concurrent requests cannot overshoot.
        let _guard = shared.devices.lock().unwrap_or_else(|p| p.into_inner());
        let have = count_devices(uid)?;
        if have >= shared.max_devices {
            return Err(format!(
                "slice {uid} already has {have} devices (tap{uid}-N/tun{uid}-N; --max-devices {})",
                shared.max_devices
            ));
        }
        // With IFF_VNET_HDR the bit goes to TUNSETIFF as asked; the client sets the header
        // size and offloads itself (plain file ioctls, no privilege needed).
        Tap::open(&TapOptions { mode, name: Some(name), packet_info: true, vnet_hdr })
            .map_err(|e| format!("cannot create {template}: {e}"))?
    };
    let mut payload = tap.name().as_str().as_bytes().to_vec();
    payload.push(0);
    let sent = sys::send_with_fds(stream.as_fd(), &payload, &[tap.fd()]);
    match sent {
        Ok(n) if n == payload.len() => {}
        // The client is gone or misbehaves: nothing more to tell it.
        Ok(n) => shared.log_limited(
            "fd_tuntap",
            "send",
            format_args!("fd_tuntap: sent {n} of {} bytes for {}", payload.len(), tap.name()),
        ),
        Err(e) => shared.log_limited("fd_tuntap", "send", format_args!("fd_tuntap: sendmsg {}: {e}", tap.name())),
    }
    // Our descriptor closes here; the client's copy keeps the device alive.
    Ok(Some((tap.name().clone(), mode)))
}

/// Reads exactly 4 bytes. `Ok(None)` when the server is stopping.
fn read_word(shared: &Shared, mut stream: &UnixStream) -> Result<Option<[u8; 4]>, String> {
    let deadline = Instant::now() + REQUEST_TIME;
    let mut word = [0u8; 4];
    let mut got = 0;
    while got < 4 {
        match stream.read(&mut word[got..]) {
            Ok(0) => return Err(format!("short request: {got} of 4 bytes, then EOF")),
            Ok(n) => got += n,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) if e.kind() == io::ErrorKind::WouldBlock => {
                let left = deadline.checked_duration_since(Instant::now()).ok_or_else(|| {
                    format!("no 4-byte request within {} s ({got} bytes came)", REQUEST_TIME.as_secs())
                })?;
                let mut rev = [0i16; 2];
                let ms = sys::poll_timeout_ms(left.min(Duration::from_secs(1)));
                sys::poll(&[(stream.as_fd(), sys::POLLIN), (shared.wake.as_fd(), sys::POLLIN)], &mut rev, ms)
                    .map_err(|e| format!("poll: {e}"))?;
                if rev[1] != 0 || shared.stopping() {
                    return Ok(None);
                }
            }
            Err(e) => return Err(format!("recv: {e}")),
        }
    }
    Ok(Some(word))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn requests() {
        assert_eq!(parse_request(&2i32.to_ne_bytes()), Ok(Mode::Tap));
        assert_eq!(parse_request(&1i32.to_ne_bytes()), Ok(Mode::Tun));
        for bad in [0i32, 3, 0x1002, 0x1001, -1, i32::MIN, 0x0200_0000] {
            let e = parse_request(&bad.to_ne_bytes()).unwrap_err();
            assert!(e.contains("not a valid interface type"), "{e}");
        }
        for len in [0usize, 1, 3, 5, 8] {
            assert!(parse_request(&vec![2u8; len]).unwrap_err().contains(&format!("{len} bytes")));
        }
    }

    #[test]
    fn extension_requests() {
        assert_eq!(parse_request_ext(&0x4001i32.to_ne_bytes()), Ok(Request { mode: Mode::Tun, vnet_hdr: true }));
        assert_eq!(parse_request_ext(&0x4002i32.to_ne_bytes()), Ok(Request { mode: Mode::Tap, vnet_hdr: true }));
        assert_eq!(parse_request_ext(&1i32.to_ne_bytes()), Ok(Request { mode: Mode::Tun, vnet_hdr: false }));
        for bad in [0x4000i32, 0x4003, 0x5002, 0x4102, 0x6002, -1, i32::MIN | 0x4002, 0x1002, 0] {
            let e = parse_request_ext(&bad.to_ne_bytes()).unwrap_err();
            assert!(e.contains("not a valid interface type"), "{bad:#x}: {e}");
        }
        assert!(parse_request_ext(&[2, 0x40, 0]).unwrap_err().contains("3 bytes"));
    }

    #[test]
    fn refusals_are_one_decodable_line() {
        use pltap_core::vsys::{ReplyKind, decode_reply};
        for why in ["uid 1001 may not allocate devices for slice 1000", "a\nb\u{1b}c\0", &"é".repeat(2000)] {
            let bytes = refusal(why);
            assert!(bytes.len() <= pltap_core::vsys::MAX_REPLY);
            match decode_reply(&bytes, 0, false) {
                Ok(ReplyKind::Refused { reason: Some(r) }) => {
                    assert!(r.starts_with("refused: ") && !r.contains('\n'), "{r}")
                }
                other => panic!("{why:?} -> {other:?}"),
            }
        }
    }
}
