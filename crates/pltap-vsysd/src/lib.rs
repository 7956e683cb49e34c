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
//! ## Ownership model
//!
//! `pltap-vsysd --dir D --slice-uid N` alone lets uid N, with no capabilities and no
//! supplementary groups, allocate, configure and use its devices. The helper runs as
//! root and sets, with `fchown`/`fchmod` after creating each file (the umask does not
//! matter):
//!
//! | what | owner | group | mode |
//! |---|---|---|---|
//! | D | root | G | derived from M: `0750` by default |
//! | `S.in`, `S.out`, `fd_tuntap.control` | [`Config::owner`] (root) | G | M ([`Config::mode`], `0660`) |
//! | [`LOCK_FILE`] | root | root | `0600` |
//!
//! G is [`Config::group`], by default the primary gid of uid N's passwd entry, or gid
//! N if it has none. D's mode is derived from M: `rwx` for root; `r-x` for the group if
//! M gives the group any access or the owner is not root (it reaches its entries
//! through the group); `r-x` for others if M gives others any access: `0660` → `0750`,
//! `0666` → `0755`, `0600` → `0700`. D is never writable by anyone but root, so the
//! slice cannot replace an entry. The parents of D must let the slice traverse them.
//!
//! ## Checks on the directory
//!
//! The helper walks to D from `/` with `O_PATH | O_NOFOLLOW`, resolving symlinks itself,
//! and refuses (an [`Error::Os`] naming the path and the fix) to serve D if:
//!
//! * D is a symlink, or not a directory;
//! * D is not owned by root, or is writable by its group or others (a pre-existing
//!   root-owned `0700` D is fine: the helper then sets its group and mode);
//! * a directory on the way is not owned by root, or is writable by its group or others
//!   without the sticky bit (so `/tmp/x` is fine, a `0777` parent is not), or a symlink
//!   on the way is not owned by root.
//!
//! D is opened `O_DIRECTORY | O_NOFOLLOW` and checked with `fstat` on that descriptor;
//! every later operation is relative to it (`mkfifoat`, `openat`, `fstatat`,
//! `unlinkat`, and `bind` through `/proc/self/fd/<D>`).
//!
//! ## One helper per directory
//!
//! The helper takes `flock(LOCK_EX | LOCK_NB)` on [`LOCK_FILE`] in D (created
//! `O_NOFOLLOW`, root-only `0600`); the lock dies with the process. A second helper on
//! the same D refuses to start (`EBUSY`, naming the holder's pid) and touches nothing.
//! Holding the lock, the helper replaces a FIFO or socket left by a helper that died at
//! an entry's name, and refuses anything else there (`EEXIST`). It removes only what it
//! created and is still the same file (device and inode): on stop its entries first,
//! the lock file last, then D if it created it and it is empty.
//!
//! ## FIFO requests and replies
//!
//! The FIFOs are never opened by a path the slice could redirect: the helper keeps an
//! `O_PATH` descriptor of each and reopens that inode through `/proc/self/fd`. A
//! request is complete at EOF, or when it ends with `\n` and no byte arrived for
//! [`REQUEST_IDLE_GAP`] (200 ms), so a writer that holds `S.in` open cannot block the
//! next client for longer; it must be complete within [`REQUEST_TIME`] (5 s) of its
//! first byte. An empty request gets no reply. `S.out` is opened for writing once per
//! request: a reply nobody is reading is discarded, never handed to the next client.
//! If an entry's name stops pointing to the helper's FIFO, the helper logs it once and
//! pauses that entry (no busy loop, no log flood). Details in `fifo.rs`.
//!
//! ## `fd_tuntap`: identity and limits
//!
//! `fd_tuntap.control` serves only peers (`SO_PEERCRED`) whose uid is the slice's,
//! root, or in [`Config::allow_uids`]; at most [`Config::max_connections`] connections
//! at once (16); and at most [`Config::max_devices`] (16) `tap<N>-*` / `tun<N>-*`
//! devices in the helper's network namespace (counted and created under one mutex).
//! Any refusal is sent to the client as UTF-8 text **without** a descriptor, no NUL,
//! ending in `\n`, e.g. `refused: uid 1001 may not allocate devices for slice 1000\n`,
//! then the connection closes ([`tuntap::refusal`]); `pltap_core::vsys::decode_reply`
//! turns it into `Error::HelperRefused` (`ERR_VSYS_REFUSED`) with that text. A client
//! that does not know the extension sees a reply without a descriptor and fails as
//! before. Refusals are logged, at most 10 lines per 10 s per kind.
//!
//! ## Threads and signals
//!
//! One thread per FIFO entry, one acceptor thread for `fd_tuntap.control` and one short
//! thread per connection. All of them wait in `poll` together with an `eventfd`, so
//! [`Server::stop`] (or dropping the [`Server`]) ends them promptly. Writing a reply to a
//! client that went away would raise `SIGPIPE`; Rust programs ignore it by default, and
//! a host program embedding the library must do the same. The binary stops on
//! SIGTERM, SIGINT and SIGHUP, also when one arrives while it starts.
//!
//! ```no_run
//! use pltap_vsysd::{Config, Server};
//! let server = Server::start(Config {
//!     slice_name: "pl_slice".into(),
//!     vnet: "198.18.0.0/16".parse()?,
//!     ..Config::new("/run/vsys", 1000)
//! })?;
//! println!("serving {}", server.dir().display());
//! server.stop();
//! # Ok::<(), pltap_core::Error>(())
//! ```
#![deny(missing_docs, missing_debug_implementations)]

pub mod cli;
mod dir;
mod fifo;
pub mod scripts;
pub mod tuntap;

use pltap_core::{Error, Ipv4Net, Result};
use std::collections::HashMap;
use std::fs::File;
use std::io::Write;
use std::os::fd::{AsFd, OwnedFd};
use std::os::unix::net::UnixListener;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

pub use dir::LOCK_FILE;
pub use fifo::{REQUEST_IDLE_GAP, REQUEST_TIME};
pub use scripts::Slice;

/// The name of the allocation socket inside the frontend directory.
pub const CONTROL_SOCKET: &str = pltap_core::vsys::CONTROL_SOCKET;

/// The default mode of the FIFOs and the socket (the directory gets 0750).
pub const DEFAULT_MODE: u32 = 0o660;
/// The default slice netblock (`vsys_vnet`), 198.18.0.0/16.
pub const DEFAULT_VNET: Ipv4Net =
    Ipv4Net::with_prefix(std::net::Ipv4Addr::new(198, 18, 0, 0), pltap_core::Prefix::checked(16).unwrap());
/// The default per-slice device limit ([`Config::max_devices`]).
pub const DEFAULT_MAX_DEVICES: u32 = 16;
/// The default bound on concurrent `fd_tuntap` connections ([`Config::max_connections`]).
pub const DEFAULT_MAX_CONNECTIONS: u32 = 16;

/// What to serve, and for which slice. [`Config::new`] fills in the defaults.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Config {
    /// The frontend directory (`/vsys` inside a sliver). Created if it does not exist
    /// (its parent must), and then removed again by [`Server::stop`]. See the crate
    /// docs for the checks it must pass and the owner and mode it gets.
    pub dir: PathBuf,
    /// The slice's uid: devices are named `tap<uid>-N` / `tun<uid>-N`, the scripts
    /// accept only such names, and `fd_tuntap` serves this uid (and root).
    pub slice_uid: u32,
    /// The slice's name (vsys passes it to scripts as `argv[1]`); used in log lines.
    pub slice_name: String,
    /// The slice's netblock (`vsys_vnet`): every address must lie inside it.
    pub vnet: Ipv4Net,
    /// The owner of the FIFOs and the socket (default root). The directory itself is
    /// always owned by root.
    pub owner: u32,
    /// The group of the directory and the entries. `None`: the primary gid of the
    /// slice uid's passwd entry, or gid = `slice_uid` if it has none.
    pub group: Option<u32>,
    /// The mode of the FIFOs and the socket: read/write bits only (`0o666` at most).
    /// Default [`DEFAULT_MODE`]. The directory's mode is derived from it (see the crate
    /// docs).
    pub mode: u32,
    /// More uids that `fd_tuntap` serves, besides the slice's and root.
    pub allow_uids: Vec<u32>,
    /// The most `tap<uid>-N` / `tun<uid>-N` devices that may exist at once (counted in
    /// the helper's network namespace, whoever made them). Default [`DEFAULT_MAX_DEVICES`].
    pub max_devices: u32,
    /// The most `fd_tuntap` connections served at once (one thread each); more are
    /// refused. Default [`DEFAULT_MAX_CONNECTIONS`].
    pub max_connections: u32,
    /// Serve the `fd_tuntap` flags extension: devices with virtio-net headers on request
    /// (`IFF_VNET_HDR`, offload.md §1.9). Default `true`; `false` refuses such requests
    /// (the kernel's header parser is then not exposed to the slice), and clients fall back
    /// to a plain device or fail, as they chose.
    pub vnet_hdr: bool,
}

impl Config {
    /// A configuration for `slice_uid` on `dir` with every default: slice name
    /// `pl_slice`, netblock 198.18.0.0/16, entries `root:<slice gid>` mode 0660, no extra
    /// uids, 16 devices, 16 connections.
    ///
    /// ```
    /// let c = pltap_vsysd::Config::new("/run/vsys", 1000);
    /// assert_eq!((c.mode, c.max_devices, c.group), (0o660, 16, None));
    /// ```
    pub fn new(dir: impl Into<PathBuf>, slice_uid: u32) -> Config {
        Config {
            dir: dir.into(),
            slice_uid,
            slice_name: "pl_slice".into(),
            vnet: DEFAULT_VNET,
            owner: 0,
            group: None,
            mode: DEFAULT_MODE,
            allow_uids: Vec::new(),
            max_devices: DEFAULT_MAX_DEVICES,
            max_connections: DEFAULT_MAX_CONNECTIONS,
            vnet_hdr: true,
        }
    }
}

/// Log lines per (entry, kind) in one [`LOG_WINDOW`] before the rest are counted only.
const LOG_WINDOW: Duration = Duration::from_secs(10);

struct Budget {
    since: Instant,
    used: u32,
    dropped: u32,
}

/// State shared by the server's threads.
pub(crate) struct Shared {
    pub(crate) slice: Slice,
    slice_name: String,
    pub(crate) allow_uids: Vec<u32>,
    pub(crate) max_devices: usize,
    pub(crate) max_connections: usize,
    /// Whether `IFF_VNET_HDR` requests are served ([`Config::vnet_hdr`]).
    pub(crate) vnet_hdr: bool,
    /// Held across "count the slice's devices" and "create one".
    pub(crate) devices: Mutex<()>,
    /// Readable once the server stops; every thread polls it.
    pub(crate) wake: OwnedFd,
    stop: AtomicBool,
    budgets: Mutex<HashMap<(&'static str, &'static str), Budget>>,
}

impl Shared {
    pub(crate) fn stopping(&self) -> bool {
        self.stop.load(Ordering::SeqCst)
    }

    /// Sleeps up to `d`; returns `true` if the server is stopping.
    pub(crate) fn sleep(&self, d: Duration) -> bool {
        let mut rev = [0i16];
        let _ = pltap_core::sys::poll(
            &[(self.wake.as_fd(), pltap_core::sys::POLLIN)],
            &mut rev,
            pltap_core::sys::poll_timeout_ms(d),
        );
        self.stopping()
    }

    /// One log line on stderr.
    pub(crate) fn log(&self, args: std::fmt::Arguments<'_>) {
        eprintln!("pltap-vsysd[{}]: {args}", self.slice_name);
    }

    /// A log line, unless `scope`/`kind` already logged its budget in this window
    /// (200 lines for requests and allocations, 10 for anything else); the number
    /// left out is logged with the next line after the window.
    pub(crate) fn log_limited(&self, scope: &'static str, kind: &'static str, args: std::fmt::Arguments<'_>) {
        let budget = if matches!(kind, "request" | "sent") { 200 } else { 10 };
        let dropped = {
            let mut budgets = self.budgets.lock().unwrap_or_else(|p| p.into_inner());
            let now = Instant::now();
            let b = budgets.entry((scope, kind)).or_insert(Budget { since: now, used: 0, dropped: 0 });
            if now.duration_since(b.since) >= LOG_WINDOW {
                let dropped = b.dropped;
                *b = Budget { since: now, used: 0, dropped: 0 };
                Some(dropped)
            } else if b.used >= budget {
                b.dropped += 1;
                None
            } else {
                Some(0)
            }
            .inspect(|_| b.used += 1)
        };
        match dropped {
            None => {}
            Some(0) => self.log(args),
            Some(n) => {
                self.log(format_args!("({n} similar {scope} messages were left out)"));
                self.log(args);
            }
        }
    }
}

/// A running helper. Stopping it (explicitly, or by dropping it) ends every thread and
/// removes every FIFO and socket it created, then its lock file, then the directory if
/// it created it.
pub struct Server {
    dir: PathBuf,
    frontend: dir::Frontend,
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

/// Checks what [`Server::start`] can check before any I/O.
fn validate(config: &Config) -> Result<()> {
    if config.slice_name.is_empty() || config.slice_name.chars().any(|c| c.is_control() || c.is_whitespace()) {
        return Err(Error::invalid(
            "slice name",
            format!("{:?} must be non-empty, without spaces or control characters", config.slice_name),
        ));
    }
    if config.mode & !0o666 != 0 {
        return Err(Error::invalid(
            "mode",
            format!("{:04o} has bits besides read and write (at most 0666, e.g. 0660)", config.mode),
        ));
    }
    if config.max_devices == 0 {
        return Err(Error::invalid("max devices", "must be at least 1".to_string()));
    }
    if !(1..=1024).contains(&config.max_connections) {
        return Err(Error::invalid("max connections", format!("{} is not in 1..=1024", config.max_connections)));
    }
    Ok(())
}

impl Server {
    /// Checks the frontend directory (see the crate docs), takes its lock, sets its
    /// group and mode, creates the entries with exact owners and modes (replacing
    /// FIFOs and sockets left by a helper that died, refusing anything else) and
    /// starts serving them. On failure, whatever it created is removed again.
    pub fn start(config: Config) -> Result<Server> {
        validate(&config)?;
        let group = match config.group {
            Some(g) => g,
            None => pltap_core::sys::passwd_primary_gid(config.slice_uid)
                .map_err(os(format!("look up uid {}'s passwd entry", config.slice_uid), "getpwuid_r"))?
                .unwrap_or(config.slice_uid),
        };
        let access = dir::Access { owner: config.owner, group, mode: config.mode };
        let wake = pltap_core::sys::eventfd().map_err(os("create the stop eventfd".into(), "eventfd"))?;
        let shared = Arc::new(Shared {
            slice: Slice { uid: config.slice_uid, vnet: config.vnet },
            slice_name: config.slice_name.clone(),
            allow_uids: config.allow_uids.clone(),
            max_devices: config.max_devices as usize,
            max_connections: config.max_connections as usize,
            vnet_hdr: config.vnet_hdr,
            devices: Mutex::new(()),
            wake,
            stop: AtomicBool::new(false),
            budgets: Mutex::new(HashMap::new()),
        });
        let frontend = dir::Frontend::open(&config.dir)?;
        // From here on, dropping `server` removes whatever was created.
        let mut server = Server { dir: config.dir, frontend, shared, threads: Vec::new(), stopped: false };
        server.frontend.lock()?;
        server.frontend.set_access(&access)?;

        let log = |args: std::fmt::Arguments<'_>| server.shared.log(args);
        let mut entries = Vec::new();
        for script in scripts::SCRIPTS {
            let (in_name, out_name) = entry_names(script);
            server.frontend.clear_stale(in_name, &log)?;
            server.frontend.clear_stale(out_name, &log)?;
        }
        server.frontend.clear_stale(CONTROL_SOCKET, &log)?;
        for script in scripts::SCRIPTS {
            let (in_name, out_name) = entry_names(script);
            let (in_path, reader, in_id) = server.frontend.make_fifo(in_name, &access)?;
            let (out_path, out_reader, out_id) = server.frontend.make_fifo(out_name, &access)?;
            drop(out_reader);
            let dir_fd =
                server.frontend.fd.try_clone().map_err(os("duplicate the directory descriptor".into(), "fcntl"))?;
            entries.push(fifo::Entry {
                script,
                dir: dir_fd,
                input: fifo::Fifo { name: in_name.to_string(), path_fd: in_path, id: in_id },
                output: fifo::Fifo { name: out_name.to_string(), path_fd: out_path, id: out_id },
                reader: File::from(reader),
                owner: access.owner,
            });
        }
        let (sock, _) = server.frontend.make_socket(CONTROL_SOCKET, &access)?;
        let listener = UnixListener::from(sock);
        listener.set_nonblocking(true).map_err(os(format!("set O_NONBLOCK on {CONTROL_SOCKET}"), "fcntl"))?;

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

    /// The frontend directory, as given in [`Config::dir`].
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
        self.frontend.remove_all();
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        self.shutdown();
    }
}

/// `("vif_up.in", "vif_up.out")` for the known scripts.
fn entry_names(script: &'static str) -> (&'static str, &'static str) {
    match script {
        "vif_up" => ("vif_up.in", "vif_up.out"),
        "vif_down" => ("vif_down.in", "vif_down.out"),
        "promisc" => ("promisc.in", "promisc.out"),
        other => unreachable!("unknown script {other}"),
    }
}
