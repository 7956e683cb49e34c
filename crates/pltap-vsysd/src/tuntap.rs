//! The `fd_tuntap.control` socket, served like vsys's `unixsocketwatcher.ml` plus
//! PlanetLab's `fd_tuntap.c`: every connection gets its own thread, which reads exactly
//! one native-endian `i32` (`IFF_TUN` = 1 or `IFF_TAP` = 2, nothing else), creates
//! `tun<uid>-%d` / `tap<uid>-%d` **with** `tun_pi` framing, and sends the name with its
//! NUL byte plus exactly one descriptor. On any failure the connection is just closed,
//! so the client sees EOF ("helper refused"); a closed descriptor is never sent (F1).

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
const REQUEST_TIME: Duration = Duration::from_secs(5);

/// The acceptor thread.
pub(crate) fn serve(shared: Arc<Shared>, listener: UnixListener) {
    let mut workers: Vec<JoinHandle<()>> = Vec::new();
    while !shared.stopping() {
        let mut rev = [0i16; 2];
        let polled = sys::poll(&[(listener.as_fd(), sys::POLLIN), (shared.wake.as_fd(), sys::POLLIN)], &mut rev, 1000);
        if let Err(e) = polled {
            shared.log(format_args!("fd_tuntap: poll: {e}"));
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
        match listener.accept() {
            Ok((stream, _)) => {
                let worker = shared.clone();
                let spawned =
                    std::thread::Builder::new().name("vsysd-fd_tuntap".into()).spawn(move || handle(&worker, stream));
                match spawned {
                    Ok(w) => workers.push(w),
                    Err(e) => shared.log(format_args!("fd_tuntap: refused a connection: cannot start a thread: {e}")),
                }
            }
            Err(e) if e.kind() == io::ErrorKind::WouldBlock || e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => {
                shared.log(format_args!("fd_tuntap: accept: {e}"));
                if shared.sleep(Duration::from_millis(100)) {
                    break;
                }
            }
        }
    }
    for w in workers {
        let _ = w.join();
    }
}

/// One connection: log its outcome; dropping `stream` closes it.
fn handle(shared: &Shared, stream: UnixStream) {
    let started = Instant::now();
    match allocate(shared, &stream) {
        Ok(Some((name, mode))) => shared.log(format_args!(
            "fd_tuntap [{}] sent {name} ({} ms)",
            mode.as_str().to_uppercase(),
            started.elapsed().as_millis()
        )),
        Ok(None) => {}
        Err(why) => shared.log(format_args!("fd_tuntap refused: {why}")),
    }
}

/// `Ok(None)`: the server is stopping.
fn allocate(shared: &Shared, stream: &UnixStream) -> Result<Option<(IfName, Mode)>, String> {
    stream.set_nonblocking(true).map_err(|e| format!("fcntl: {e}"))?;
    let Some(word) = read_word(shared, stream)? else { return Ok(None) };
    let if_type = i32::from_ne_bytes(word);
    let mode = match if_type {
        t if t == i32::from(linux::IFF_TUN) => Mode::Tun,
        t if t == i32::from(linux::IFF_TAP) => Mode::Tap,
        t => return Err(format!("if_type {t:#x} is not a valid interface type (only IFF_TUN=1 or IFF_TAP=2)")),
    };
    let template = format!("{}{}-%d", mode.as_str(), shared.slice.uid);
    let name = IfName::new(&template).map_err(|e| format!("name template: {e}"))?;
    let tap = Tap::open(&TapOptions { mode, name: Some(name), packet_info: true }).map_err(|e| e.to_string())?;
    let mut payload = tap.name().as_str().as_bytes().to_vec();
    payload.push(0);
    let sent = sys::send_with_fds(stream.as_fd(), &payload, &[tap.fd()])
        .map_err(|e| format!("sendmsg {}: {e}", tap.name()))?;
    if sent != payload.len() {
        return Err(format!("sendmsg {}: sent {sent} of {} bytes", tap.name(), payload.len()));
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
                let ms = left.as_millis().clamp(1, 1000) as i32;
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
