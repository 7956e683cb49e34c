//! FIFO entries (`S.in` / `S.out`), served the way vsys's `directfifowatcher.ml` does,
//! one thread per entry, but without ever opening a path the slice could redirect:
//!
//! 1. the helper always holds a reader of `S.in` (`O_RDONLY | O_NONBLOCK`), so a client
//!    can open it `O_WRONLY | O_NONBLOCK` without `ENXIO`. To clear the FIFO's
//!    hang-up state after a request it opens a new reader of **the same inode**
//!    (through `/proc/self/fd` of its `O_PATH` descriptor) before closing the old one,
//!    so there is never a moment without a reader;
//! 2. a request is complete at EOF (every writer closed `S.in`), or when it ends with
//!    `\n` and no byte arrived for [`REQUEST_IDLE_GAP`] (a writer that holds `S.in`
//!    open cannot block the next client longer than that); it must be complete within
//!    [`REQUEST_TIME`] of its first byte. An empty request (open and close without
//!    writing) gets **no** reply;
//! 3. after a request the helper opens `S.out` `O_WRONLY | O_NONBLOCK` **once**, again
//!    through its own inode: with no reader (`ENXIO`) the reply is discarded, never
//!    left for the next client;
//! 4. it runs the built-in script and writes the whole reply, then closes `S.out`: that
//!    EOF ends the reply (no exit status is sent, as with vsys).
//!
//! Before each wait the entry checks that `S.in` and `S.out` still name the FIFOs it
//! created (device and inode). If not (someone with write access to the directory
//! replaced them), it logs that once and pauses the entry, checking again every
//! second, until they are restored: no busy loop, no log flood.

use crate::Shared;
use crate::dir::reopen_checked;
use crate::scripts::{self, MAX_REQUEST};
use pltap_core::sys::{self, FileStat};
use std::ffi::OsStr;
use std::fs::File;
use std::io::{self, Read, Write};
use std::os::fd::{AsFd, OwnedFd};
use std::sync::Arc;
use std::time::{Duration, Instant};

/// How long a request may take from its first byte to its end.
pub const REQUEST_TIME: Duration = Duration::from_secs(5);
/// A request that ends with `\n` is complete once no byte arrived for this long, even
/// if its writer keeps `S.in` open. pltap's client writes each request with a single
/// `write()` shorter than `PIPE_BUF`, so it always arrives whole.
pub const REQUEST_IDLE_GAP: Duration = Duration::from_millis(200);
/// How long a client has to read the reply.
const REPLY_TIME: Duration = Duration::from_secs(5);
/// The pause after anything unexpected.
const BACKOFF: Duration = Duration::from_secs(1);

/// Why a wait ended early.
enum Abort {
    Stop,
    Io(io::Error),
}

/// One FIFO of an entry: its name, an `O_PATH` descriptor and its identity.
pub(crate) struct Fifo {
    pub(crate) name: String,
    pub(crate) path_fd: OwnedFd,
    pub(crate) id: FileStat,
}

/// One FIFO entry, with everything its thread needs.
pub(crate) struct Entry {
    pub(crate) script: &'static str,
    /// A descriptor of the frontend directory.
    pub(crate) dir: OwnedFd,
    pub(crate) input: Fifo,
    pub(crate) output: Fifo,
    /// The current reader of `S.in`.
    pub(crate) reader: File,
    /// The owner the FIFOs must have.
    pub(crate) owner: u32,
}

impl Entry {
    /// What is wrong with the entry's names, if anything.
    fn problem(&self) -> Option<String> {
        for f in [&self.input, &self.output] {
            match sys::fstatat_nofollow(self.dir.as_fd(), OsStr::new(&f.name)) {
                Ok(st) if st.same_file(&f.id) && st.uid == self.owner => {}
                Ok(st) if st.same_file(&f.id) => {
                    return Some(format!("{} is now owned by uid {}, not {}", f.name, st.uid, self.owner));
                }
                Ok(st) => return Some(format!("{} was replaced by {}", f.name, crate::dir::kind(&st))),
                Err(e) => return Some(format!("{} is gone ({e})", f.name)),
            }
        }
        None
    }

    /// A new reader of the same `S.in` inode, opened before the old one closes.
    fn reopen_reader(&mut self) -> io::Result<()> {
        let fd = reopen_checked(
            self.dir.as_fd(),
            &self.input.path_fd,
            &self.input.name,
            &self.input.id,
            libc::O_RDONLY | libc::O_NONBLOCK,
        )?;
        self.reader = File::from(fd);
        Ok(())
    }
}

/// Polls `file` for `events` together with the stop eventfd, for at most `ms`
/// milliseconds. Returns the revents of `file` (0 on timeout).
fn wait(shared: &Shared, file: &File, events: i16, ms: i32) -> Result<i16, Abort> {
    if shared.stopping() {
        return Err(Abort::Stop);
    }
    let mut rev = [0i16; 2];
    sys::poll(&[(file.as_fd(), events), (shared.wake.as_fd(), sys::POLLIN)], &mut rev, ms).map_err(Abort::Io)?;
    if rev[1] != 0 || shared.stopping() {
        return Err(Abort::Stop);
    }
    Ok(rev[0])
}

/// Milliseconds until `deadline`, at least 1 and at most 1000 (so the stop flag is
/// looked at every second).
fn ms_until(deadline: Instant) -> i32 {
    sys::poll_timeout_ms(deadline.saturating_duration_since(Instant::now()).min(Duration::from_secs(1)))
}

/// The entry's thread: serve requests until the server stops.
pub(crate) fn serve(shared: Arc<Shared>, mut entry: Entry) {
    let script = entry.script;
    let mut paused: Option<String> = None;
    while !shared.stopping() {
        if let Some(problem) = entry.problem() {
            if paused.as_deref() != Some(problem.as_str()) {
                shared.log(format_args!(
                    "{script}: {problem}; not serving {script} until the helper's FIFOs are back (restart the helper)"
                ));
                paused = Some(problem);
            }
            if shared.sleep(BACKOFF) {
                return;
            }
            continue;
        } else if paused.take().is_some() {
            shared.log(format_args!("{script}: the FIFOs are back; serving again"));
        }

        let rev = match wait(&shared, &entry.reader, sys::POLLIN, 1000) {
            Ok(rev) => rev,
            Err(Abort::Stop) => return,
            Err(Abort::Io(e)) => {
                shared.log_limited(script, "poll", format_args!("{script}: poll: {e}"));
                if shared.sleep(BACKOFF) {
                    return;
                }
                continue;
            }
        };
        if rev == 0 {
            continue;
        }
        if rev & (sys::POLLERR | sys::POLLNVAL) != 0 {
            shared.log_limited(
                script,
                "poll",
                format_args!("{script}: unexpected poll events {rev:#x} on {script}.in"),
            );
            if shared.sleep(BACKOFF) {
                return;
            }
            let _ = entry.reopen_reader();
            continue;
        }
        let started = Instant::now();
        let request = match read_request(&shared, &entry.reader) {
            Ok(r) => r,
            Err(Abort::Stop) => return,
            Err(Abort::Io(e)) => {
                shared.log_limited(script, "read", format_args!("{script}: read {script}.in: {e}"));
                if shared.sleep(BACKOFF) {
                    return;
                }
                let _ = entry.reopen_reader();
                continue;
            }
        };
        // Clear the hang-up state for the next client (the pipe's buffer is shared by
        // both readers, so nothing written meanwhile is lost).
        if let Err(e) = entry.reopen_reader() {
            shared.log_limited(script, "reopen", format_args!("{script}: reopen {script}.in: {e}"));
            if shared.sleep(BACKOFF) {
                return;
            }
        }
        let (reply, summary) = match request {
            Request::Empty => {
                shared.log_limited(
                    script,
                    "empty",
                    format_args!("{script}: {script}.in was opened and closed without a request: no reply"),
                );
                continue;
            }
            Request::Unterminated(kept) => (
                format!(
                    "Request not terminated within {} s: end it with a newline or close {script}.in\n",
                    REQUEST_TIME.as_secs()
                ),
                summarize(&kept),
            ),
            Request::TooLong(total) => {
                (format!("Request too long: {total} bytes (the limit is {MAX_REQUEST})\n"), format!("{total} bytes"))
            }
            Request::Complete(bytes) => (scripts::run(script, &bytes, &shared.slice), summarize(&bytes)),
        };
        let outcome = match deliver(&shared, &entry, reply.as_bytes()) {
            Ok(outcome) => outcome,
            Err(Abort::Stop) => return,
            Err(Abort::Io(e)) => format!("reply lost: {e}"),
        };
        let said = reply.lines().next().unwrap_or("ok");
        shared.log_limited(
            script,
            "request",
            format_args!("{script} [{summary}] {outcome} ({} ms): {said}", started.elapsed().as_millis()),
        );
    }
}

/// What came in on `S.in`.
enum Request {
    /// EOF before any byte: a client opened and closed `S.in`.
    Empty,
    /// A whole request.
    Complete(Vec<u8>),
    /// More than [`MAX_REQUEST`] bytes (the total).
    TooLong(usize),
    /// Bytes that did not end within [`REQUEST_TIME`].
    Unterminated(Vec<u8>),
}

/// Reads one request (see the module docs for when it is complete).
fn read_request(shared: &Shared, mut reader: &File) -> Result<Request, Abort> {
    let mut kept = Vec::new();
    let mut total = 0usize;
    let mut first: Option<Instant> = None;
    let mut last = Instant::now();
    let mut ends_line = false;
    let mut chunk = [0u8; 4096];
    let finish = |kept: Vec<u8>, total: usize| {
        if total > MAX_REQUEST { Request::TooLong(total) } else { Request::Complete(kept) }
    };
    loop {
        match reader.read(&mut chunk) {
            Ok(0) if total == 0 => return Ok(Request::Empty),
            Ok(0) => return Ok(finish(kept, total)),
            Ok(n) => {
                let now = Instant::now();
                first.get_or_insert(now);
                last = now;
                total = total.saturating_add(n);
                ends_line = chunk[n - 1] == b'\n';
                let room = (MAX_REQUEST + 1).saturating_sub(kept.len());
                kept.extend_from_slice(&chunk[..n.min(room)]);
            }
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) if e.kind() == io::ErrorKind::WouldBlock => {
                let Some(start) = first else {
                    // Woken, but nothing to read and a writer still there: not a request.
                    if shared.sleep(Duration::from_millis(10)) {
                        return Err(Abort::Stop);
                    }
                    return Ok(Request::Empty);
                };
                let now = Instant::now();
                let give_up = start + REQUEST_TIME;
                if ends_line && now >= last + REQUEST_IDLE_GAP {
                    return Ok(finish(kept, total));
                }
                if now >= give_up {
                    return Ok(if total > MAX_REQUEST { Request::TooLong(total) } else { Request::Unterminated(kept) });
                }
                let until = if ends_line { (last + REQUEST_IDLE_GAP).min(give_up) } else { give_up };
                wait(shared, reader, sys::POLLIN, ms_until(until))?;
            }
            Err(e) => return Err(Abort::Io(e)),
        }
    }
}

/// Opens `S.out` once, through the helper's own inode, and writes the whole reply; the
/// close that follows is the client's EOF. With no reader the reply is discarded.
fn deliver(shared: &Shared, entry: &Entry, reply: &[u8]) -> Result<String, Abort> {
    let out = &entry.output;
    let fd =
        match reopen_checked(entry.dir.as_fd(), &out.path_fd, &out.name, &out.id, libc::O_WRONLY | libc::O_NONBLOCK) {
            Ok(fd) => fd,
            Err(e) if e.raw_os_error() == Some(libc::ENXIO) => {
                return Ok(format!("reply discarded: nobody reads {}", out.name));
            }
            Err(e) => return Ok(format!("reply discarded: cannot open {}: {e}", out.name)),
        };
    let file = File::from(fd);
    match write_reply(shared, &file, reply, Instant::now() + REPLY_TIME) {
        Ok(true) => Ok("replied".into()),
        Ok(false) => Ok(format!("reply cut short: {} was not read within {} s", out.name, REPLY_TIME.as_secs())),
        Err(e) => Err(e),
    }
}

/// Writes the whole reply; `Ok(false)` if the deadline passed first.
fn write_reply(shared: &Shared, mut out: &File, mut buf: &[u8], deadline: Instant) -> Result<bool, Abort> {
    while !buf.is_empty() {
        match out.write(buf) {
            Ok(n) => buf = &buf[n..],
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) if e.kind() == io::ErrorKind::WouldBlock => {
                if Instant::now() >= deadline {
                    return Ok(false);
                }
                wait(shared, out, sys::POLLOUT, ms_until(deadline))?;
            }
            Err(e) => return Err(Abort::Io(e)),
        }
    }
    Ok(true)
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
