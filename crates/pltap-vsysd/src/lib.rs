//! # pltap-vsysd
//!
//! A vsys-compatible privileged helper: it serves a PlanetLab vsys *frontend directory*
//! with the four entries a `pltap` client needs, implemented in-process instead of by
//! Python scripts and `ifconfig`/`iptables` child processes:
//!
//! | entry | kind | what it does |
//! |---|---|---|
//! | `fd_tuntap.control` | UNIX stream socket | reads a native-endian `i32` (`IFF_TUN`=1 or `IFF_TAP`=2 exactly), creates `tun<uid>-%d` / `tap<uid>-%d` **with** `tun_pi` framing, sends the name with its NUL and the descriptor (`SCM_RIGHTS`) |
//! | `vif_up.in` / `vif_up.out` | FIFO pair | sets the address and prefix, then UP (net-tools `ifconfig` semantics), then `txqueuelen`, `mtu`, `rp_filter` |
//! | `vif_down.in` / `vif_down.out` | FIFO pair | clears UP |
//! | `promisc.in` / `promisc.out` | FIFO pair | `<name>\n` sets PROMISC, exactly `<name>\n-\n` clears it |
//!
//! The FIFO protocol is vsys's (§1.2 of the vsys protocol reference): the client opens
//! `S.out` for reading, then `S.in` for writing, writes its request and closes `S.in`;
//! the helper answers with the script's whole output and closes `S.out`. No exit status
//! is sent: an empty reply means success. Validation is PlanetLab's, with the exact
//! messages and the known bugs fixed (see [`scripts`]).
//!
//! ## Options of `vif_up`
//!
//! | option | handling |
//! |---|---|
//! | `rp_filter=0\|1` | applied: writes `/proc/sys/net/ipv4/conf/<if>/rp_filter` and replies `net.ipv4.conf.<if>.rp_filter = V`, as `sysctl` did |
//! | `txqueuelen=1..10000` | applied (`SIOCSIFTXQLEN`) |
//! | `mtu=1..65535` | applied (`SIOCSIFMTU`) |
//! | `snat=<int>`, `dropkern=<int>` | validated, then **accepted and ignored** with a `Note: ...` reply line (no iptables) |
//! | `vswitch=<dp>` | **accepted and ignored** with a note (no Open vSwitch) |
//! | `remote=<ip>` | validated, then **accepted and ignored** with a note (only meaningful with `gre`) |
//! | `pointopoint=<ip>` | validated, then **rejected**: `Option pointopoint is not supported by pltap-vsysd ...` |
//! | `gre=<...>` | PlanetLab's checks (`GRE tunnels need a pointopoint address`), then **rejected**: `Option gre is not supported by pltap-vsysd ...` |
//! | anything else | `Unknown option: "x"` |
//!
//! `vif_down` accepts `delete=0|1` (anything else: `delete value invalid: "x"`) and
//! ignores it: a non-persistent tap cannot be deleted while its owner holds it, so it
//! is only brought down.
//!
//! ## Threads and signals
//!
//! One thread per FIFO entry, one acceptor thread for `fd_tuntap.control` and one short
//! thread per connection. All of them wait in `poll` together with an `eventfd`, so
//! [`Server::stop`] (or dropping the [`Server`]) ends them promptly. Writing a reply to a
//! client that went away would raise `SIGPIPE`; Rust programs ignore it by default, and
//! a host program embedding the library must do the same.
//!
//! ```no_run
//! use pltap_vsysd::{Config, Server};
//! let server = Server::start(Config {
//!     dir: "/run/vsys".into(),
//!     slice_uid: 1000,
//!     slice_name: "pl_slice".into(),
//!     vnet: pltap_core::Ipv4Net { addr: "198.18.0.0".parse().unwrap(), prefix: 16 },
//! })?;
//! println!("serving {}", server.dir().display());
//! server.stop();
//! # Ok::<(), pltap_core::Error>(())
//! ```
#![deny(missing_docs, missing_debug_implementations)]

pub mod cli;
mod fifo;
pub mod scripts;
mod tuntap;

use pltap_core::{Error, Ipv4Net, Result};
use std::fs::File;
use std::io::Write;
use std::os::fd::{AsFd, OwnedFd};
use std::os::unix::fs::DirBuilderExt;
use std::os::unix::net::UnixListener;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::thread::JoinHandle;
use std::time::Duration;

pub use scripts::Slice;

/// The name of the allocation socket inside the frontend directory.
pub const CONTROL_SOCKET: &str = pltap_core::vsys::CONTROL_SOCKET;

/// What to serve, and for which slice.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Config {
    /// The frontend directory (`/vsys` inside a sliver). Created with mode 0700 if it
    /// does not exist (its parent must), and then removed again by [`Server::stop`].
    pub dir: PathBuf,
    /// The slice's uid: devices are named `tap<uid>-N` / `tun<uid>-N`, and the scripts
    /// accept only such names.
    pub slice_uid: u32,
    /// The slice's name (vsys passes it to scripts as `argv[1]`); used in log lines.
    pub slice_name: String,
    /// The slice's netblock (`vsys_vnet`): every address must lie inside it.
    pub vnet: Ipv4Net,
}

/// State shared by the server's threads.
pub(crate) struct Shared {
    pub(crate) slice: Slice,
    slice_name: String,
    /// Readable once the server stops; every thread polls it.
    pub(crate) wake: OwnedFd,
    stop: AtomicBool,
}

impl Shared {
    pub(crate) fn stopping(&self) -> bool {
        self.stop.load(Ordering::SeqCst)
    }

    /// Sleeps up to `d`; returns `true` if the server is stopping.
    pub(crate) fn sleep(&self, d: Duration) -> bool {
        let mut rev = [0i16];
        let ms = d.as_millis().clamp(1, i32::MAX as u128) as i32;
        let _ = pltap_core::sys::poll(&[(self.wake.as_fd(), pltap_core::sys::POLLIN)], &mut rev, ms);
        self.stopping()
    }

    /// One log line on stderr.
    pub(crate) fn log(&self, args: std::fmt::Arguments<'_>) {
        eprintln!("pltap-vsysd[{}]: {args}", self.slice_name);
    }
}

/// A running helper. Stopping it (explicitly, or by dropping it) ends every thread and
/// removes every FIFO and socket it created, and the directory if it created it.
pub struct Server {
    dir: PathBuf,
    created_dir: bool,
    created: Vec<PathBuf>,
    shared: Arc<Shared>,
    threads: Vec<JoinHandle<()>>,
    stopped: bool,
}

impl std::fmt::Debug for Server {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Server")
            .field("dir", &self.dir)
            .field("slice", &self.shared.slice)
            .field("threads", &self.threads.len())
            .field("stopped", &self.stopped)
            .finish()
    }
}

fn os(op: String, syscall: &'static str) -> impl FnOnce(std::io::Error) -> Error {
    move |e| Error::os(op, syscall, e)
}

impl Server {
    /// Creates the frontend directory (if missing) and its entries, replacing stale
    /// ones like vsys does, and starts serving them.
    pub fn start(config: Config) -> Result<Server> {
        if config.vnet.prefix > 32 {
            return Err(Error::invalid("vnet", format!("prefix /{} is not in 0..=32", config.vnet.prefix)));
        }
        if config.slice_name.is_empty() || config.slice_name.chars().any(|c| c.is_control() || c.is_whitespace()) {
            return Err(Error::invalid(
                "slice name",
                format!("{:?} must be non-empty, without spaces or control characters", config.slice_name),
            ));
        }
        let wake = pltap_core::sys::eventfd().map_err(os("create the stop eventfd".into(), "eventfd"))?;
        let shared = Arc::new(Shared {
            slice: Slice { uid: config.slice_uid, vnet: config.vnet },
            slice_name: config.slice_name.clone(),
            wake,
            stop: AtomicBool::new(false),
        });
        let dir = config.dir;
        let mut server = Server {
            dir: dir.clone(),
            created_dir: false,
            created: Vec::new(),
            shared,
            threads: Vec::new(),
            stopped: false,
        };

        match std::fs::symlink_metadata(&dir) {
            Ok(m) if m.is_dir() => {}
            Ok(_) => {
                return Err(Error::Os {
                    op: format!("use {} as the frontend directory", dir.display()),
                    syscall: "stat",
                    errno: pltap_core::Errno(libc::ENOTDIR),
                });
            }
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                std::fs::DirBuilder::new()
                    .mode(0o700)
                    .create(&dir)
                    .map_err(os(format!("mkdir {}", dir.display()), "mkdir"))?;
                server.created_dir = true;
            }
            Err(e) => return Err(Error::os(format!("stat {}", dir.display()), "stat", e)),
        }

        let mut entries = Vec::new();
        for script in scripts::SCRIPTS {
            let entry = fifo::Entry::new(&dir, script);
            for path in [&entry.input, &entry.output] {
                remove_stale(path)?;
                pltap_core::sys::mkfifo(path, 0o666).map_err(os(format!("mkfifo {}", path.display()), "mkfifo"))?;
                server.created.push(path.clone());
            }
            entries.push(entry);
        }
        let sock_path = dir.join(CONTROL_SOCKET);
        remove_stale(&sock_path)?;
        let listener = UnixListener::bind(&sock_path).map_err(os(format!("bind {}", sock_path.display()), "bind"))?;
        server.created.push(sock_path.clone());
        listener.set_nonblocking(true).map_err(os(format!("set O_NONBLOCK on {}", sock_path.display()), "fcntl"))?;

        for entry in entries {
            let shared = server.shared.clone();
            let name = format!("vsysd-{}", entry.script);
            let t = std::thread::Builder::new()
                .name(name)
                .spawn(move || fifo::serve(shared, entry))
                .map_err(os("start a FIFO thread".into(), "clone"))?;
            server.threads.push(t);
        }
        let shared = server.shared.clone();
        let t = std::thread::Builder::new()
            .name("vsysd-fd_tuntap-accept".into())
            .spawn(move || tuntap::serve(shared, listener))
            .map_err(os("start the fd_tuntap thread".into(), "clone"))?;
        server.threads.push(t);
        Ok(server)
    }

    /// The frontend directory.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// The slice being served.
    pub fn slice(&self) -> Slice {
        self.shared.slice
    }

    /// Stops every thread and removes what [`Server::start`] created. Dropping the
    /// server does the same.
    pub fn stop(mut self) {
        self.shutdown();
    }

    fn shutdown(&mut self) {
        if self.stopped {
            return;
        }
        self.stopped = true;
        self.shared.stop.store(true, Ordering::SeqCst);
        if let Ok(fd) = self.shared.wake.try_clone() {
            let _ = File::from(fd).write_all(&1u64.to_ne_bytes());
        }
        for t in self.threads.drain(..) {
            let _ = t.join();
        }
        for path in self.created.drain(..) {
            let _ = std::fs::remove_file(&path);
        }
        if self.created_dir {
            let _ = std::fs::remove_dir(&self.dir);
        }
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        self.shutdown();
    }
}

/// Unlinks whatever is at `path` (vsys's `mkentry` does the same), unless it is a
/// directory.
fn remove_stale(path: &Path) -> Result<()> {
    match std::fs::symlink_metadata(path) {
        Ok(m) if m.is_dir() => Err(Error::Os {
            op: format!("replace {}: it is a directory", path.display()),
            syscall: "unlink",
            errno: pltap_core::Errno(libc::EISDIR),
        }),
        Ok(_) => std::fs::remove_file(path).map_err(os(format!("unlink {}", path.display()), "unlink")),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(()),
        Err(e) => Err(Error::os(format!("stat {}", path.display()), "stat", e)),
    }
}
