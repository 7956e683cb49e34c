//! FIFO entries (`S.in` / `S.out`), served the way vsys's `directfifowatcher.ml` does,
//! one thread per entry:
//!
//! 1. keep `S.in` open `O_RDONLY|O_NONBLOCK`, so a client can open it
//!    `O_WRONLY|O_NONBLOCK` without `ENXIO`;
//! 2. when a client writes (`POLLIN`/`POLLHUP`), read the request to EOF (bounded in
//!    size and time);
//! 3. open `S.out` `O_WRONLY|O_NONBLOCK` (the client opened it for reading before
//!    `S.in`; `ENXIO` is retried briefly, then the request is dropped);
//! 4. run the built-in script and write its whole reply, then close `S.out`: that EOF
//!    ends the reply (no exit status is sent, as with vsys);
//! 5. close and reopen `S.in` (vsys's `reopenentry`).

use crate::Shared;
use crate::scripts::{self, MAX_REQUEST};
use std::fs::{File, OpenOptions};
use std::io::{self, Read, Write};
use std::os::fd::AsFd;
use std::os::unix::fs::OpenOptionsExt;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, Instant};

/// How long a client has to finish writing its request.
const REQUEST_TIME: Duration = Duration::from_secs(5);
/// How long to retry `ENXIO` when opening `S.out` (vsys: one retry after 1 s).
const OUT_OPEN_TIME: Duration = Duration::from_secs(1);
/// How long a client has to read the reply.
const REPLY_TIME: Duration = Duration::from_secs(5);

/// Why a wait ended early.
enum Abort {
    Stop,
    Timeout,
    Io(io::Error),
}

/// One FIFO entry.
pub(crate) struct Entry {
    pub(crate) script: &'static str,
    pub(crate) input: PathBuf,
    pub(crate) output: PathBuf,
}

impl Entry {
    pub(crate) fn new(dir: &Path, script: &'static str) -> Entry {
        Entry { script, input: dir.join(format!("{script}.in")), output: dir.join(format!("{script}.out")) }
    }
}

fn open_fifo(path: &Path, write: bool) -> io::Result<File> {
    OpenOptions::new().read(!write).write(write).custom_flags(libc::O_NONBLOCK | libc::O_CLOEXEC).open(path)
}

/// Polls `file` for `events` together with the stop eventfd, for at most `ms`
/// milliseconds. Returns the revents of `file` (0 on timeout).
fn wait(shared: &Shared, file: &File, events: i16, ms: i32) -> Result<i16, Abort> {
    if shared.stopping() {
        return Err(Abort::Stop);
    }
    let mut rev = [0i16; 2];
    pltap_core::sys::poll(&[(file.as_fd(), events), (shared.wake.as_fd(), pltap_core::sys::POLLIN)], &mut rev, ms)
        .map_err(Abort::Io)?;
    if rev[1] != 0 || shared.stopping() {
        return Err(Abort::Stop);
    }
    Ok(rev[0])
}

fn ms_until(deadline: Instant) -> Result<i32, Abort> {
    let left = deadline.checked_duration_since(Instant::now()).ok_or(Abort::Timeout)?;
    Ok(left.as_millis().clamp(1, 1000) as i32)
}

/// The entry's thread: serve requests until the server stops.
pub(crate) fn serve(shared: Arc<Shared>, entry: Entry) {
    while !shared.stopping() {
        let reader = match open_fifo(&entry.input, false) {
            Ok(f) => f,
            Err(e) => {
                shared.log(format_args!("{}: cannot open {}: {e}", entry.script, entry.input.display()));
                if shared.sleep(Duration::from_millis(500)) {
                    return;
                }
                continue;
            }
        };
        match serve_one(&shared, &entry, reader) {
            Ok(()) => {}
            Err(Abort::Stop) => return,
            Err(Abort::Timeout) => {}
            Err(Abort::Io(e)) => {
                shared.log(format_args!("{}: {e}", entry.script));
                if shared.sleep(Duration::from_millis(100)) {
                    return;
                }
            }
        }
        // `reader` was dropped by serve_one: reopen the entry (vsys's reopenentry).
    }
}

/// Waits for one request on `reader` and answers it. Returns when the entry must be
/// reopened.
fn serve_one(shared: &Shared, entry: &Entry, mut reader: File) -> Result<(), Abort> {
    // Wait for a client (no timeout: a FIFO that never had a writer reports nothing).
    loop {
        let rev = wait(shared, &reader, pltap_core::sys::POLLIN, 1000)?;
        if rev & pltap_core::sys::POLLNVAL != 0 {
            return Err(Abort::Io(io::Error::from_raw_os_error(libc::EBADF)));
        }
        if rev != 0 {
            break;
        }
    }
    let started = Instant::now();
    let (request, complete) = read_request(shared, &mut reader, started + REQUEST_TIME)?;
    drop(reader);

    let reply = if !complete {
        format!(
            "Request not terminated within {} s: the client must close {}.in\n",
            REQUEST_TIME.as_secs(),
            entry.script
        )
    } else if request.len() > MAX_REQUEST {
        format!("Request too long: more than {MAX_REQUEST} bytes\n")
    } else {
        scripts::run(entry.script, &request, &shared.slice)
    };

    let summary = summarize(&request);
    let outcome = match open_output(shared, entry) {
        Ok(out) => match write_reply(shared, out, reply.as_bytes(), Instant::now() + REPLY_TIME) {
            Ok(()) => "replied".to_string(),
            Err(Abort::Stop) => return Err(Abort::Stop),
            Err(Abort::Timeout) => "reply not read in time".to_string(),
            Err(Abort::Io(e)) => format!("reply lost: {e}"),
        },
        Err(Abort::Stop) => return Err(Abort::Stop),
        Err(Abort::Timeout) => format!("dropped: nobody reads {}", entry.output.display()),
        Err(Abort::Io(e)) => format!("dropped: cannot open {}: {e}", entry.output.display()),
    };
    let said = reply.lines().next().unwrap_or("ok");
    shared.log(format_args!("{} [{summary}] {outcome} ({} ms): {said}", entry.script, started.elapsed().as_millis()));
    Ok(())
}

/// Reads until every writer has closed `S.in`. Returns the bytes kept (at most
/// `MAX_REQUEST + 1`, so an oversized request is recognizable) and whether EOF came
/// before the deadline.
fn read_request(shared: &Shared, reader: &mut File, deadline: Instant) -> Result<(Vec<u8>, bool), Abort> {
    let mut kept = Vec::new();
    let mut chunk = [0u8; 4096];
    loop {
        match reader.read(&mut chunk) {
            Ok(0) => return Ok((kept, true)),
            Ok(n) => {
                let room = (MAX_REQUEST + 1).saturating_sub(kept.len());
                kept.extend_from_slice(&chunk[..n.min(room)]);
            }
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) if e.kind() == io::ErrorKind::WouldBlock => match ms_until(deadline) {
                Ok(ms) => {
                    wait(shared, reader, pltap_core::sys::POLLIN, ms)?;
                }
                Err(_) => return Ok((kept, false)),
            },
            Err(e) => return Err(Abort::Io(e)),
        }
    }
}

/// Opens `S.out` for writing, retrying `ENXIO` (no reader yet) for a short while.
fn open_output(shared: &Shared, entry: &Entry) -> Result<File, Abort> {
    let give_up = Instant::now() + OUT_OPEN_TIME;
    loop {
        match open_fifo(&entry.output, true) {
            Ok(f) => return Ok(f),
            Err(e) if e.raw_os_error() == Some(libc::ENXIO) => {
                if Instant::now() >= give_up {
                    return Err(Abort::Timeout);
                }
                if shared.sleep(Duration::from_millis(10)) {
                    return Err(Abort::Stop);
                }
            }
            Err(e) => return Err(Abort::Io(e)),
        }
    }
}

/// Writes the whole reply, then closes `S.out` (the client's EOF).
fn write_reply(shared: &Shared, mut out: File, mut buf: &[u8], deadline: Instant) -> Result<(), Abort> {
    while !buf.is_empty() {
        match out.write(buf) {
            Ok(n) => buf = &buf[n..],
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) if e.kind() == io::ErrorKind::WouldBlock => {
                let ms = ms_until(deadline)?;
                wait(shared, &out, pltap_core::sys::POLLOUT, ms)?;
            }
            Err(e) => return Err(Abort::Io(e)),
        }
    }
    Ok(())
}

/// The request as one printable log field: lines joined by `|`, control characters
/// escaped, at most 120 characters.
fn summarize(request: &[u8]) -> String {
    let text = String::from_utf8_lossy(request);
    let mut s: String = text.trim_end_matches('\n').split('\n').collect::<Vec<_>>().join("|").escape_debug().collect();
    if s.chars().count() > 120 {
        s = s.chars().take(117).collect::<String>() + "...";
    }
    s
}

#[cfg(test)]
mod tests {
    #[test]
    fn summaries_are_one_printable_line() {
        assert_eq!(super::summarize(b"tap1-0\n198.18.0.1\n24\n"), "tap1-0|198.18.0.1|24");
        assert_eq!(super::summarize(b"tap1-0\x1b\n\r"), "tap1-0\\u{1b}|\\r");
        assert_eq!(super::summarize(&[b'x'; 500]).chars().count(), 120);
    }
}
