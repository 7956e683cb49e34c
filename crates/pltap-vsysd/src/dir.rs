//! The frontend directory: opening and checking it without following a path anyone but
//! root could redirect, the helper-instance lock, creating the entries with exact
//! owners and modes, and removing exactly what this helper created.
//!
//! Every operation after the initial walk is relative to the directory's descriptor
//! (`*at()` calls), and every entry is identified by device and inode.

use pltap_core::sys::{self, FileStat};
use pltap_core::{Errno, Error, Result};
use std::ffi::{OsStr, OsString};
use std::fs::File;
use std::io::{Read, Seek, Write};
use std::os::fd::{AsFd, BorrowedFd, OwnedFd};
use std::os::unix::ffi::OsStrExt;
use std::path::{Component, Path, PathBuf};

/// The helper-instance lock file inside the frontend directory (root-only, 0600).
pub const LOCK_FILE: &str = ".pltap-vsysd.lock";

/// How many symlinks the walk resolves before giving up (like the kernel's 40).
const MAX_SYMLINKS: usize = 40;

fn refuse(op: String, syscall: &'static str, errno: i32) -> Error {
    Error::errno(op, syscall, Errno::from_raw(errno))
}

fn os(op: String, syscall: &'static str) -> impl FnOnce(std::io::Error) -> Error {
    move |e| Error::os(op, syscall, e)
}

/// Who may do what with the entries: owner, group and mode of every FIFO and of the
/// socket, and the directory's derived mode.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Access {
    pub(crate) owner: u32,
    pub(crate) group: u32,
    pub(crate) mode: u32,
}

impl Access {
    /// The directory's mode: rwx for root; r-x for the group if the entries give the
    /// group any access or their owner is not root (it reaches them through the group);
    /// r-x for others if the entries give others any access. Never writable.
    pub(crate) fn dir_mode(&self) -> u32 {
        let mut m = 0o700;
        if self.mode & 0o070 != 0 || self.owner != 0 {
            m |= 0o050;
        }
        if self.mode & 0o007 != 0 {
            m |= 0o005;
        }
        m
    }
}

/// An entry this helper created: its name and identity.
#[derive(Debug)]
pub(crate) struct Created {
    pub(crate) name: &'static str,
    pub(crate) id: FileStat,
}

/// The opened, checked and locked frontend directory.
#[derive(Debug)]
pub(crate) struct Frontend {
    /// The path as the operator gave it (made absolute), for messages and clients.
    pub(crate) path: PathBuf,
    /// `O_RDONLY | O_DIRECTORY` descriptor of the directory itself.
    pub(crate) fd: OwnedFd,
    pub(crate) id: FileStat,
    /// Its parent and name, to remove it again if this helper created it.
    parent: OwnedFd,
    name: OsString,
    pub(crate) created_dir: bool,
    /// The lock file (held with `flock` until this descriptor closes).
    lock: Option<(File, FileStat)>,
    /// What this helper created, in creation order.
    pub(crate) created: Vec<Created>,
}

/// Whether a directory on the way to D is safe: owned by root, and writable by nobody
/// else unless the sticky bit keeps them from replacing what they do not own.
fn check_ancestor(shown: &Path, st: &FileStat) -> Result<()> {
    if st.uid != 0 {
        return Err(refuse(
            format!(
                "refusing to serve under {}: it is owned by uid {}, not root, so that user could replace \
                 what lies below it; use a frontend directory whose every parent is owned by root",
                shown.display(),
                st.uid
            ),
            "fstat",
            libc::EPERM,
        ));
    }
    if st.mode & 0o022 != 0 && st.mode & libc::S_ISVTX == 0 {
        return Err(refuse(
            format!(
                "refusing to serve under {}: it is writable by {} (mode {:04o}) without the sticky bit, so \
                 others could replace what lies below it; run `chmod go-w {0}` (or `chmod +t {0}`) or choose \
                 another --dir",
                shown.display(),
                writers(st),
                st.permissions()
            ),
            "fstat",
            libc::EPERM,
        ));
    }
    Ok(())
}

/// Who besides the owner may write a file of this mode: `"everyone"` or `"its group"`.
fn writers(st: &FileStat) -> &'static str {
    if st.mode & 0o002 != 0 { "everyone" } else { "its group" }
}

/// Whether D itself is safe: a directory owned by the helper's user (root) that nobody
/// else can write (the sticky bit does not help: the slice must not create entries).
fn check_frontend(shown: &Path, st: &FileStat) -> Result<()> {
    let me = sys::effective_uid();
    if st.uid != me {
        return Err(refuse(
            format!(
                "refusing to serve {}: it is owned by uid {}, not root (uid {me}), so that user could replace \
                 the entries; remove it (the helper creates it) or run `chown root {0}`",
                shown.display(),
                st.uid
            ),
            "fstat",
            libc::EPERM,
        ));
    }
    if st.mode & 0o022 != 0 {
        return Err(refuse(
            format!(
                "refusing to serve {}: it is writable by {} (mode {:04o}), so the slice could replace the \
                 entries; run `chmod go-w {0}` (the helper then sets the group and mode it needs)",
                shown.display(),
                writers(st),
                st.permissions()
            ),
            "fstat",
            libc::EPERM,
        ));
    }
    Ok(())
}

impl Frontend {
    /// Walks to `path` from `/` with `O_PATH | O_NOFOLLOW`, checking every directory on
    /// the way ([`check_ancestor`]) and resolving symlinks itself (each must be owned by
    /// root), then opens (or creates) D with `O_DIRECTORY | O_NOFOLLOW` and checks it.
    pub(crate) fn open(path: &Path) -> Result<Frontend> {
        let abs = if path.is_absolute() {
            path.to_path_buf()
        } else {
            std::env::current_dir().map_err(os("find the current directory".into(), "getcwd"))?.join(path)
        };
        let mut comps: Vec<OsString> = Vec::new();
        for c in abs.components() {
            match c {
                Component::RootDir | Component::CurDir => {}
                Component::Normal(n) => comps.push(n.to_os_string()),
                Component::ParentDir => comps.push("..".into()),
                Component::Prefix(_) => unreachable!("no prefixes on Unix"),
            }
        }
        let name = match comps.pop() {
            Some(n) if n != ".." => n,
            _ => {
                return Err(Error::invalid(
                    "frontend directory",
                    format!("{} must end in a directory name (not / or ..)", path.display()),
                ));
            }
        };

        let root = sys::open_path(Path::new("/"), libc::O_PATH | libc::O_DIRECTORY)
            .map_err(os("open / to walk to the frontend directory".into(), "open"))?;
        let st = sys::fstat(root.as_fd()).map_err(os("fstat /".into(), "fstat"))?;
        check_ancestor(Path::new("/"), &st)?;
        // The directories walked so far, with the path they were reached by.
        let mut stack: Vec<(OwnedFd, PathBuf)> = vec![(root, PathBuf::from("/"))];
        let mut pending: std::collections::VecDeque<OsString> = comps.into();
        let mut links = 0usize;
        while let Some(comp) = pending.pop_front() {
            if comp == ".." {
                if stack.len() > 1 {
                    stack.pop();
                }
                continue;
            }
            let (top, top_path) = stack.last().expect("the root stays");
            let shown = top_path.join(&comp);
            let fd = sys::openat(top.as_fd(), &comp, libc::O_PATH | libc::O_NOFOLLOW, 0)
                .map_err(os(format!("open {} (on the way to {})", shown.display(), abs.display()), "openat"))?;
            let st = sys::fstat(fd.as_fd()).map_err(os(format!("fstat {}", shown.display()), "fstat"))?;
            if st.is_symlink() {
                if st.uid != 0 {
                    return Err(refuse(
                        format!(
                            "refusing to serve {}: {} is a symlink owned by uid {}, who could point it elsewhere; \
                             give the real path",
                            abs.display(),
                            shown.display(),
                            st.uid
                        ),
                        "fstat",
                        libc::EPERM,
                    ));
                }
                links += 1;
                if links > MAX_SYMLINKS {
                    return Err(refuse(format!("resolve {}", abs.display()), "readlinkat", libc::ELOOP));
                }
                let target = sys::readlinkat(fd.as_fd(), OsStr::new(""))
                    .map_err(os(format!("read the symlink {}", shown.display()), "readlinkat"))?;
                if target.is_absolute() {
                    stack.truncate(1);
                }
                let mut spliced: Vec<OsString> = Vec::new();
                for c in target.components() {
                    match c {
                        Component::Normal(n) => spliced.push(n.to_os_string()),
                        Component::ParentDir => spliced.push("..".into()),
                        _ => {}
                    }
                }
                for c in spliced.into_iter().rev() {
                    pending.push_front(c);
                }
                continue;
            }
            if !st.is_dir() {
                return Err(refuse(
                    format!("walk to {}: {} is not a directory", abs.display(), shown.display()),
                    "openat",
                    libc::ENOTDIR,
                ));
            }
            check_ancestor(&shown, &st)?;
            stack.push((fd, shown));
        }
        let (parent_path, parent) = {
            let (fd, p) = stack.pop().expect("the root stays");
            (p, fd)
        };
        // The checked parent, as a real directory descriptor ("." of the O_PATH one).
        let parent = sys::openat(parent.as_fd(), OsStr::new("."), libc::O_RDONLY | libc::O_DIRECTORY, 0)
            .map_err(os(format!("open {}", parent_path.display()), "openat"))?;

        let shown = abs.clone();
        let flags = libc::O_RDONLY | libc::O_DIRECTORY | libc::O_NOFOLLOW;
        let mut created_dir = false;
        let fd = match sys::openat(parent.as_fd(), &name, flags, 0) {
            Ok(fd) => fd,
            Err(e) if e.raw_os_error() == Some(libc::ENOENT) => {
                sys::mkdirat(parent.as_fd(), &name, 0o700)
                    .map_err(os(format!("mkdir {}", shown.display()), "mkdirat"))?;
                created_dir = true;
                sys::openat(parent.as_fd(), &name, flags, 0)
                    .map_err(os(format!("open {}", shown.display()), "openat"))?
            }
            Err(e) if matches!(e.raw_os_error(), Some(libc::ELOOP) | Some(libc::ENOTDIR)) => {
                let what = match sys::fstatat_nofollow(parent.as_fd(), &name) {
                    Ok(st) if st.is_symlink() => "a symlink",
                    _ => "not a directory",
                };
                let errno = if what == "a symlink" { libc::ELOOP } else { libc::ENOTDIR };
                return Err(refuse(
                    format!(
                        "refusing to serve {}: it is {what}; remove it (the helper creates the directory) or \
                         give the real directory",
                        shown.display()
                    ),
                    "openat",
                    errno,
                ));
            }
            Err(e) => return Err(Error::os(format!("open {}", shown.display()), "openat", e)),
        };
        let id = sys::fstat(fd.as_fd()).map_err(os(format!("fstat {}", shown.display()), "fstat"))?;
        let frontend = Frontend { path: abs, fd, id, parent, name, created_dir, lock: None, created: Vec::new() };
        check_frontend(&shown, &id)?;
        Ok(frontend)
    }

    /// Takes the helper-instance lock: `flock(LOCK_EX | LOCK_NB)` on [`LOCK_FILE`] in D,
    /// created root-only. It dies with the process; [`Frontend::remove_all`] unlinks it
    /// last.
    pub(crate) fn lock(&mut self) -> Result<()> {
        let shown = self.path.join(LOCK_FILE);
        for _attempt in 0..5 {
            let fd = sys::openat(
                self.fd.as_fd(),
                OsStr::new(LOCK_FILE),
                libc::O_RDWR | libc::O_CREAT | libc::O_NOFOLLOW | libc::O_NONBLOCK,
                0o600,
            )
            .map_err(os(format!("open {}", shown.display()), "openat"))?;
            let st = sys::fstat(fd.as_fd()).map_err(os(format!("fstat {}", shown.display()), "fstat"))?;
            if !st.is_regular() || st.uid != sys::effective_uid() || st.nlink != 1 {
                return Err(refuse(
                    format!(
                        "refusing to use {}: it is not a root-owned regular file with one link; remove it",
                        shown.display()
                    ),
                    "fstat",
                    libc::EPERM,
                ));
            }
            if !sys::try_lock_exclusive(fd.as_fd()).map_err(os(format!("lock {}", shown.display()), "flock"))? {
                let mut holder = String::new();
                let _ = File::from(fd).read_to_string(&mut holder);
                let pid = holder.trim();
                let who = if !pid.is_empty() && pid.bytes().all(|b| b.is_ascii_digit()) {
                    format!("another pltap-vsysd (pid {pid})")
                } else {
                    "another pltap-vsysd".to_string()
                };
                return Err(refuse(
                    format!(
                        "refusing to serve {}: {who} already serves it (it holds {}); stop that helper first",
                        self.path.display(),
                        shown.display()
                    ),
                    "flock",
                    libc::EBUSY,
                ));
            }
            // A helper that was stopping may have unlinked the file between our open and
            // our flock: then the lock is on an orphan, and we try again.
            match sys::fstatat_nofollow(self.fd.as_fd(), OsStr::new(LOCK_FILE)) {
                Ok(now) if now.same_file(&st) => {}
                _ => continue,
            }
            sys::fchmod(fd.as_fd(), 0o600).map_err(os(format!("chmod {}", shown.display()), "fchmod"))?;
            let mut file = File::from(fd);
            let _ = file.set_len(0);
            let _ = file.rewind();
            let _ = writeln!(file, "{}", std::process::id());
            self.lock = Some((file, st));
            return Ok(());
        }
        Err(refuse(format!("lock {}: it keeps being replaced", shown.display()), "flock", libc::EBUSY))
    }

    /// Sets D's group and derived mode (the owner stays root).
    pub(crate) fn set_access(&self, access: &Access) -> Result<()> {
        let shown = self.path.display();
        sys::fchown(self.fd.as_fd(), sys::effective_uid(), access.group)
            .map_err(os(format!("chown {shown} to group {}", access.group), "fchown"))?;
        sys::fchmod(self.fd.as_fd(), access.dir_mode())
            .map_err(os(format!("chmod {shown} to {:04o}", access.dir_mode()), "fchmod"))
    }

    /// Makes room for entry `name`: a FIFO or socket left by a helper that died is
    /// removed (nobody serves D: we hold the lock); anything else is refused and left.
    pub(crate) fn clear_stale(&self, name: &'static str, log: &dyn Fn(std::fmt::Arguments<'_>)) -> Result<()> {
        let shown = self.path.join(name);
        match sys::fstatat_nofollow(self.fd.as_fd(), OsStr::new(name)) {
            Err(e) if e.raw_os_error() == Some(libc::ENOENT) => Ok(()),
            Err(e) => Err(Error::os(format!("stat {}", shown.display()), "fstatat", e)),
            Ok(st) if st.is_fifo() || st.is_socket() => {
                log(format_args!(
                    "replacing the stale {} (left by a helper that did not stop cleanly)",
                    shown.display()
                ));
                sys::unlinkat(self.fd.as_fd(), OsStr::new(name))
                    .map_err(os(format!("unlink {}", shown.display()), "unlinkat"))
            }
            Ok(st) => Err(refuse(
                format!(
                    "refusing to replace {}: it is {} that pltap-vsysd did not create; move it away",
                    shown.display(),
                    kind(&st)
                ),
                "fstatat",
                libc::EEXIST,
            )),
        }
    }

    /// Creates the FIFO `name` with exactly `access`. Returns an `O_PATH` descriptor of
    /// it, and an `O_RDONLY | O_NONBLOCK` one (the reader of an `S.in`, or just dropped).
    pub(crate) fn make_fifo(&mut self, name: &'static str, access: &Access) -> Result<(OwnedFd, OwnedFd, FileStat)> {
        let shown = self.path.join(name);
        sys::mkfifoat(self.fd.as_fd(), OsStr::new(name), 0o600)
            .map_err(os(format!("mkfifo {}", shown.display()), "mkfifoat"))?;
        let path_fd = sys::openat(self.fd.as_fd(), OsStr::new(name), libc::O_PATH | libc::O_NOFOLLOW, 0)
            .map_err(os(format!("open {}", shown.display()), "openat"))?;
        let st = sys::fstat(path_fd.as_fd()).map_err(os(format!("fstat {}", shown.display()), "fstat"))?;
        if !st.is_fifo() {
            return Err(refuse(
                format!("create {}: it is not a FIFO after mkfifo", shown.display()),
                "fstat",
                libc::EEXIST,
            ));
        }
        self.created.push(Created { name, id: st });
        let reader = reopen_checked(self.fd.as_fd(), &path_fd, name, &st, libc::O_RDONLY | libc::O_NONBLOCK)
            .map_err(os(format!("open {}", shown.display()), "open"))?;
        sys::fchown(reader.as_fd(), access.owner, access.group)
            .map_err(os(format!("chown {} to {}:{}", shown.display(), access.owner, access.group), "fchown"))?;
        sys::fchmod(reader.as_fd(), access.mode)
            .map_err(os(format!("chmod {} to {:04o}", shown.display(), access.mode), "fchmod"))?;
        let st = sys::fstat(reader.as_fd()).map_err(os(format!("fstat {}", shown.display()), "fstat"))?;
        Ok((path_fd, reader, st))
    }

    /// Creates the listening socket `name` with exactly `access`: bind (through the
    /// directory descriptor), set owner and mode, and only then listen.
    pub(crate) fn make_socket(&mut self, name: &'static str, access: &Access) -> Result<(OwnedFd, FileStat)> {
        let shown = self.path.join(name);
        let sock = sys::unix_stream_socket().map_err(os(format!("create the socket {}", shown.display()), "socket"))?;
        let via_proc = PathBuf::from(format!("/proc/self/fd/{}", std::os::fd::AsRawFd::as_raw_fd(&self.fd))).join(name);
        let bound = match sys::bind_unix(sock.as_fd(), &via_proc) {
            Err(e) if matches!(e.raw_os_error(), Some(libc::ENOENT) | Some(libc::ENAMETOOLONG)) => {
                // No /proc: D is root-only and checked, so its path is stable too.
                sys::bind_unix(sock.as_fd(), &shown)
            }
            other => other,
        };
        bound.map_err(os(format!("bind {}", shown.display()), "bind"))?;
        let st = sys::fstatat_nofollow(self.fd.as_fd(), OsStr::new(name))
            .map_err(os(format!("stat {}", shown.display()), "fstatat"))?;
        if !st.is_socket() {
            return Err(refuse(
                format!("bind {}: it is not a socket after bind", shown.display()),
                "fstatat",
                libc::EEXIST,
            ));
        }
        self.created.push(Created { name, id: st });
        sys::fchownat_nofollow(self.fd.as_fd(), OsStr::new(name), access.owner, access.group)
            .map_err(os(format!("chown {} to {}:{}", shown.display(), access.owner, access.group), "fchownat"))?;
        // fchmodat follows a symlink, but nobody else can write D, so `name` is our socket.
        sys::fchmodat(self.fd.as_fd(), OsStr::new(name), access.mode)
            .map_err(os(format!("chmod {} to {:04o}", shown.display(), access.mode), "fchmodat"))?;
        sys::listen(sock.as_fd(), 128).map_err(os(format!("listen on {}", shown.display()), "listen"))?;
        let st = sys::fstatat_nofollow(self.fd.as_fd(), OsStr::new(name))
            .map_err(os(format!("stat {}", shown.display()), "fstatat"))?;
        Ok((sock, st))
    }

    /// Removes what this helper created, if it is still there and still the same file,
    /// then the lock file, then D if this helper created it and it is empty. Never
    /// touches anything else.
    pub(crate) fn remove_all(&mut self) {
        for c in self.created.drain(..).rev() {
            if still_there(self.fd.as_fd(), OsStr::new(c.name), &c.id) {
                let _ = sys::unlinkat(self.fd.as_fd(), OsStr::new(c.name));
            }
        }
        if let Some((file, st)) = self.lock.take() {
            if still_there(self.fd.as_fd(), OsStr::new(LOCK_FILE), &st) {
                let _ = sys::unlinkat(self.fd.as_fd(), OsStr::new(LOCK_FILE));
            }
            // Unlinked first, unlocked second: a helper starting now finds no lock file
            // (and creates its own) or one it cannot lock; never our half-removed state.
            drop(file);
        }
        if self.created_dir {
            self.created_dir = false;
            if still_there(self.parent.as_fd(), &self.name, &self.id) {
                let _ = sys::rmdirat(self.parent.as_fd(), &self.name);
            }
        }
    }
}

fn still_there(dir: BorrowedFd<'_>, name: &OsStr, id: &FileStat) -> bool {
    matches!(sys::fstatat_nofollow(dir, name), Ok(now) if now.same_file(id))
}

/// Opens the file behind `path_fd` (an `O_PATH` descriptor of entry `name` in `dir`)
/// with `flags` through `/proc/self/fd` (the same inode, whatever the name points to
/// now), or, without `/proc`, by name relative to `dir` with `O_NOFOLLOW`. Either way
/// the result must be the file `id` (same device and inode), a FIFO, still owned by
/// `id.uid`, or it is closed and `ESTALE` returned.
pub(crate) fn reopen_checked(
    dir: BorrowedFd<'_>,
    path_fd: &OwnedFd,
    name: &str,
    id: &FileStat,
    flags: i32,
) -> std::io::Result<OwnedFd> {
    let fd = match sys::reopen(path_fd.as_fd(), flags) {
        Err(e) if e.raw_os_error() == Some(libc::ENOENT) => {
            sys::openat(dir, OsStr::from_bytes(name.as_bytes()), flags | libc::O_NOFOLLOW, 0)?
        }
        other => other?,
    };
    let st = sys::fstat(fd.as_fd())?;
    if !st.same_file(id) || !st.is_fifo() || st.uid != id.uid {
        return Err(std::io::Error::from_raw_os_error(libc::ESTALE));
    }
    Ok(fd)
}

/// "a regular file", "a symlink", ... for messages.
pub(crate) fn kind(st: &FileStat) -> &'static str {
    if st.is_regular() {
        "a regular file"
    } else if st.is_symlink() {
        "a symlink"
    } else if st.is_dir() {
        "a directory"
    } else if st.is_fifo() {
        "a FIFO"
    } else if st.is_socket() {
        "a socket"
    } else {
        "a device node"
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dir_mode_is_derived_from_the_entries_mode() {
        let a = |owner, mode| Access { owner, group: 1000, mode }.dir_mode();
        assert_eq!(a(0, 0o660), 0o750);
        assert_eq!(a(0, 0o600), 0o700);
        assert_eq!(a(0, 0o666), 0o755);
        assert_eq!(a(0, 0o640), 0o750);
        assert_eq!(a(0, 0o604), 0o705);
        assert_eq!(a(1000, 0o600), 0o750, "a non-root owner reaches its entries through the group");
    }
}
