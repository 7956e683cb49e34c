//! The PlanetLab vsys client: device allocation over `fd_tuntap.control` and the
//! `vif_up`, `vif_down` and `promisc` scripts over FIFO pairs.
//!
//! vsys passes no exit status, and a script that failed to run looks exactly like one
//! that succeeded silently (S5). Worse, a reply is not tied to its request: a helper
//! may hand one client's reply to the next. So [`Vsys`] never judges by the reply: after
//! each script it reads the interface back from the kernel, for up to a settle time,
//! and that read-back alone decides (address present and UP; not UP; PROMISC as asked).
//! A script that printed an error while the kernel shows what was asked succeeded (the
//! text is returned as a warning); a script that printed nothing while the kernel never
//! shows it failed ([`Error::Script`]).

mod fifo;
mod proto;
mod tuntap;

pub use fifo::{Reply, TransactOptions, transact};
pub use proto::{VifOption, check_script_name, is_benign_output, promisc_request, vif_down_request, vif_up_request};
pub use tuntap::{CONTROL_SOCKET, MAX_REPLY, ReplyKind, allocate, allocate_vnet, decode_reply, helper_lacks_vnet};

use crate::error::{Error, Result};
use crate::iface::{IfFlags, Iface, Ipv4Net};
use crate::tap::{Mode, Tap};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

/// The outcome of a successful script: any text it printed that is worth showing.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ScriptOutcome {
    /// Non-benign output of a script whose post-condition held.
    pub warning: Option<String>,
}

/// A client for one vsys root (`/vsys` inside a PlanetLab sliver).
///
/// ```no_run
/// use pltap_core::{Mode, vsys::Vsys};
/// let vsys = Vsys::new("/vsys");
/// let tap = vsys.allocate(Mode::Tap)?;
/// vsys.vif_up(&tap.iface(), "198.18.0.1/24".parse()?, &[])?;
/// vsys.promisc(&tap.iface(), true)?;
/// # Ok::<(), pltap_core::Error>(())
/// ```
#[derive(Clone, Debug)]
pub struct Vsys {
    root: PathBuf,
    opts: TransactOptions,
    /// How long to wait for the kernel to show a script's effect.
    settle: Duration,
}

impl Vsys {
    /// A client for `root` with default limits.
    pub fn new(root: impl Into<PathBuf>) -> Vsys {
        Vsys { root: root.into(), opts: TransactOptions::default(), settle: Duration::from_millis(500) }
    }

    /// Replaces the transaction limits.
    pub fn with_options(mut self, opts: TransactOptions) -> Vsys {
        self.opts = opts;
        self
    }

    /// Replaces how long a script's effect may take to show in the kernel after its
    /// reply (default 500 ms): the post-condition is polled that long before a script is
    /// reported as failed.
    ///
    /// ```
    /// use pltap_core::vsys::Vsys;
    /// use std::time::Duration;
    /// let vsys = Vsys::new("/vsys").with_settle(Duration::from_secs(2));
    /// assert_eq!(vsys.settle(), Duration::from_secs(2));
    /// ```
    pub fn with_settle(mut self, settle: Duration) -> Vsys {
        self.settle = settle;
        self
    }

    /// How long a script's effect may take to show (see [`Vsys::with_settle`]).
    pub fn settle(&self) -> Duration {
        self.settle
    }

    /// The vsys root.
    pub fn root(&self) -> &Path {
        &self.root
    }

    /// The transaction limits.
    pub fn options(&self) -> &TransactOptions {
        &self.opts
    }

    /// Allocates a device through `fd_tuntap` (see [`allocate`]).
    pub fn allocate(&self, mode: Mode) -> Result<Tap> {
        allocate(&self.root, mode, self.opts.deadline)
    }

    /// Allocates a device with virtio-net headers through the `fd_tuntap` flags extension,
    /// falling back as [`allocate_vnet`] says.
    pub fn allocate_vnet(&self, mode: Mode, fallback_plain: bool) -> Result<Tap> {
        allocate_vnet(&self.root, mode, self.opts.deadline, fallback_plain)
    }

    /// Runs `vif_up`, then checks that the interface is UP with `net`.
    pub fn vif_up(&self, iface: &Iface, net: Ipv4Net, options: &[VifOption]) -> Result<ScriptOutcome> {
        let req = vif_up_request(iface.name(), net, options)?;
        self.run("vif_up", &req, || {
            let flags = iface.flags()?;
            let have = iface.ipv4()?;
            Ok(match (flags.up, have) {
                (true, Some(have)) if have == net => PostCondition::Holds,
                (up, have) => PostCondition::Fails(format!(
                    "the kernel shows {} {}, not UP with {net}",
                    iface.name(),
                    describe(up, have)
                )),
            })
        })
    }

    /// Runs `vif_down`, then checks that the interface is not UP.
    pub fn vif_down(&self, iface: &Iface) -> Result<ScriptOutcome> {
        let req = vif_down_request(iface.name())?;
        self.run("vif_down", &req, || {
            Ok(match iface.flags()?.up {
                false => PostCondition::Holds,
                true => PostCondition::Fails(format!("the kernel still shows {} UP", iface.name())),
            })
        })
    }

    /// Runs `promisc`, then checks that `IFF_PROMISC` is as asked.
    pub fn promisc(&self, iface: &Iface, on: bool) -> Result<ScriptOutcome> {
        let req = promisc_request(iface.name(), on)?;
        self.run("promisc", &req, || {
            let IfFlags { promisc, .. } = iface.flags()?;
            Ok(if promisc == on {
                PostCondition::Holds
            } else {
                let shown = if promisc { "on" } else { "off" };
                PostCondition::Fails(format!("the kernel shows {} with PROMISC {shown}", iface.name()))
            })
        })
    }

    /// Transact, then poll `check` until the post-condition holds or `settle` has passed. The kernel decides: success iff the
    /// post-condition holds (whatever the reply said, which then becomes a warning unless
    /// benign); [`Error::Script`] only when it still fails after settling. A transaction
    /// that itself failed (no reader, timeout) is reported as such, unless the kernel
    /// shows the requested state all the same.
    fn run(&self, script: &str, req: &[u8], check: impl Fn() -> Result<PostCondition>) -> Result<ScriptOutcome> {
        let reply = transact(&self.root, script, req, &self.opts);
        if let Err(e @ Error::InvalidArgument { .. }) = reply {
            return Err(e); // refused before any I/O: nothing can have happened
        }
        let until = Instant::now() + self.settle;
        let failed = loop {
            let failed = match check() {
                Ok(PostCondition::Holds) => None,
                Ok(PostCondition::Fails(why)) => Some(why),
                Err(e) => Some(e.to_string()),
            };
            match failed {
                Some(_) if Instant::now() < until => std::thread::sleep(Duration::from_millis(10)),
                done => break done,
            }
        };
        match (reply, failed) {
            (Ok(reply), None) => {
                let text = reply.output.trim();
                let warning = (!is_benign_output(text)).then(|| text.to_string());
                Ok(ScriptOutcome { warning })
            }
            (Err(e), None) => {
                Ok(ScriptOutcome { warning: Some(format!("{e}; the kernel shows the requested state all the same")) })
            }
            (Ok(reply), Some(detail)) => Err(Error::Script { script: script.to_string(), reply: reply.output, detail }),
            (Err(e), Some(_)) => Err(e),
        }
    }
}

/// What the kernel shows after a script, against what the script was asked to do.
enum PostCondition {
    /// It shows what was asked.
    Holds,
    /// It shows something else, described.
    Fails(String),
}

fn describe(up: bool, net: Option<Ipv4Net>) -> String {
    let state = if up { "UP" } else { "DOWN" };
    match net {
        Some(n) => format!("{state} with {n}"),
        None => format!("{state} without an IPv4 address"),
    }
}
