//! # pltap-core
//!
//! Linux TAP/TUN devices for user-space switches, tunnels and emulators: a Rust
//! re-implementation of the `pltap` netdev of sliver-openvswitch (PlanetLab), with the
//! original's defects fixed. It has no Node.js dependency; `pltap-napi` wraps it.
//!
//! The layers, bottom up:
//!
//! | module | what it does |
//! |---|---|
//! | [`error`] | [`Error`] (operation + [`Errno`], or a library code) for every layer |
//! | [`sys`] | every raw system call, each behind one safe wrapper (the workspace's syscall layer: the helper's too) |
//! | [`ifname`], [`frame`] | pure types: interface names; `tun_pi` framing and [`Mode`] |
//! | [`iface`] | address value types ([`Ipv4Net`], [`Prefix`], [`MacAddr`], [`iface::IpCidr`]), [`Counters`], interface ioctls by name, rtnetlink requests ([`iface::netlink::Rtnl`]), the per-namespace link monitor ([`iface::monitor`]) and namespace descriptors ([`iface::netns`]) |
//! | [`tap`] | an open device: allocation, adoption, nonblocking frame I/O |
//! | [`vsys`] | the PlanetLab vsys client: `fd_tuntap` allocation and FIFO scripts |
//! | [`config`], [`reconcile`] | a port's configuration and its rules; desired vs observed link state, as plain logic |
//! | [`netdev`] | [`netdev::Netdev`]: a port (device + link backend + reconciler + counters), what the Node binding wraps |
//! | [`queue`] | multi-queue devices: open N queues, attach, adopt a queue handed over, enable/disable (`TUNSETQUEUE`) |
//! | [`vnet`] | offload on a device: `TUNSETOFFLOAD` negotiation, vnet header I/O, the receive split and the send checks |
//! | [`reader`] | [`reader::Reader`]: a port's receive engine (readiness wait, burst reads, truncation and drop accounting, pause, byte budget, stop) delivering bursts to a [`reader::Sink`] |
//!
//! Each validation rule has one owner here, a validated type or parser (`IfName::new`,
//! `Prefix::new`, `Ipv4Net::new`, `iface::parse_ipv4`, `MacAddr::parse_unicast`,
//! `config::local_netmask`); the binding and the helper call them rather than check again.
//!
//! ```no_run
//! use pltap_core::{Tap, TapOptions, Mode, IfName};
//! let tap = Tap::open(&TapOptions { mode: Mode::Tap, name: Some(IfName::new("tap%d")?), packet_info: false, vnet_hdr: false })?;
//! let iface = tap.iface();
//! iface.set_up(true)?;
//! println!("{} is up with MAC {}", tap.name(), tap.hwaddr()?);
//! # Ok::<(), pltap_core::Error>(())
//! ```
#![deny(missing_docs, missing_debug_implementations)]

pub mod config;
pub mod error;
pub mod forward;
pub mod frame;
pub mod iface;
pub mod ifname;
pub mod netdev;
pub mod offload;
pub mod queue;
pub mod reader;
pub mod reconcile;
pub mod sys;
pub mod tap;
pub mod vnet;
pub mod vsys;

pub use error::{Errno, Error, Result};
pub use frame::Mode;
pub use iface::{Counters, IfFlags, Iface, Ipv4Net, MacAddr, Prefix};
pub use ifname::IfName;
pub use tap::{BurstCount, Tap, TapOptions};

/// Moves the calling thread into a new, empty network namespace (with `lo` down).
/// Threads and processes it starts afterwards inherit the namespace; it disappears
/// when the last of them is gone. Meant for tests, demos and benchmarks that must not
/// touch the host's network; see [`run_in_new_network_namespace`] for the usual form.
pub fn enter_new_network_namespace() -> Result<()> {
    sys::unshare_network_namespace().map_err(|e| Error::os("unshare(CLONE_NEWNET)", "unshare", e))
}

/// Runs `f` on a new thread that lives in a new network namespace of its own, with `lo`
/// up, and returns what it returns. Devices `f` creates, and processes it starts, live in
/// that namespace; the namespace goes away with them. A panic in `f` is resumed on the
/// caller's thread.
///
/// ```no_run
/// use pltap_core::{run_in_new_network_namespace, Tap, TapOptions};
/// let name = run_in_new_network_namespace(|| Tap::open(&TapOptions::default()).map(|t| t.name().to_string()))??;
/// assert_eq!(name, "tap0"); // the namespace is new, so the first number is free
/// # Ok::<(), pltap_core::Error>(())
/// ```
pub fn run_in_new_network_namespace<T: Send>(f: impl FnOnce() -> T + Send) -> Result<T> {
    std::thread::scope(|s| {
        let handle = s.spawn(move || -> Result<T> {
            enter_new_network_namespace()?;
            Iface::new(IfName::new("lo")?)?.set_up(true)?;
            Ok(f())
        });
        match handle.join() {
            Ok(v) => v,
            Err(panic) => std::panic::resume_unwind(panic),
        }
    })
}
