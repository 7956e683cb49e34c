//! [`Monitor`]: the kernel's link and address announcements for one network namespace,
//! shared by every watcher in it.
//!
//! One rtnetlink socket per namespace joins the `RTMGRP_LINK`, `RTMGRP_IPV4_IFADDR` and
//! `RTMGRP_IPV6_IFADDR` groups, and one thread blocks in `poll` on it: no timer, no CPU
//! while nothing changes. Each announcement about an ifindex calls that ifindex's
//! watchers with an [`Event`]; if the socket overran (`ENOBUFS`: the kernel dropped
//! announcements), every watcher is told to [`Event::Resync`], that is to read its
//! device's state again in full.
//!
//! The thread and its socket live while a [`Watch`] of the namespace does: dropping the
//! last one wakes the thread through an eventfd and it exits, so a monitor never pins a
//! namespace that is otherwise gone. The thread is a plain OS thread: it does not keep a
//! Node.js event loop alive.

use super::netns;
use crate::error::{Error, Result};
use crate::sys;
use netlink_packet_core::{NetlinkMessage, NetlinkPayload};
use netlink_packet_route::RouteNetlinkMessage;
use netlink_sys::{Socket, SocketAddr, protocols::NETLINK_ROUTE};
use std::collections::HashMap;
use std::fs::File;
use std::io::Write;
use std::os::fd::{AsFd, BorrowedFd, OwnedFd};
use std::sync::atomic::{AtomicU64, Ordering::Relaxed};
use std::sync::{Arc, Mutex, OnceLock, Weak};

/// What a watcher is told about its ifindex.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Event {
    /// `RTM_NEWLINK`, `RTM_NEWADDR` or `RTM_DELADDR`: flags, MTU, name or addresses changed.
    Changed,
    /// `RTM_DELLINK`: the link left the namespace (deleted, or moved to another one).
    Removed,
    /// Announcements were lost (`ENOBUFS`): read everything again.
    Resync,
}

/// A watcher's callback. It runs on the monitor's thread and must not block.
pub type Callback = Arc<dyn Fn(Event) + Send + Sync>;

struct Shared {
    watchers: Mutex<HashMap<u64, (u32, Callback)>>,
    /// Written once when the last [`Watch`] is gone: the thread's signal to exit.
    stop: File,
}

impl Drop for Shared {
    fn drop(&mut self) {
        let _ = (&self.stop).write_all(&1u64.to_ne_bytes());
    }
}

/// One namespace's subscription; get a [`Watch`] of it with [`Monitor::watch`].
#[derive(Debug)]
pub struct Monitor;

/// A registered watcher: it is called until this is dropped.
///
/// ```no_run
/// use pltap_core::iface::monitor::{Monitor, Event};
/// use std::sync::Arc;
/// let watch = Monitor::watch(None, 1, Arc::new(|e: Event| println!("lo: {e:?}")))?;
/// drop(watch); // no more calls; the monitor thread exits if it was the last watcher
/// # Ok::<(), pltap_core::Error>(())
/// ```
pub struct Watch {
    shared: Arc<Shared>,
    id: u64,
}

impl std::fmt::Debug for Watch {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Watch").field("id", &self.id).finish()
    }
}

impl Drop for Watch {
    fn drop(&mut self) {
        self.shared.watchers.lock().unwrap_or_else(|p| p.into_inner()).remove(&self.id);
    }
}

fn monitors() -> &'static Mutex<HashMap<u64, Weak<Shared>>> {
    static MONITORS: OnceLock<Mutex<HashMap<u64, Weak<Shared>>>> = OnceLock::new();
    MONITORS.get_or_init(Default::default)
}

impl Monitor {
    /// Calls `callback` for every announcement about link `ifindex` in the namespace
    /// `netns` (`None`: the calling thread's), until the returned [`Watch`] is dropped.
    pub fn watch(netns: Option<BorrowedFd<'_>>, ifindex: u32, callback: Callback) -> Result<Watch> {
        static NEXT_ID: AtomicU64 = AtomicU64::new(1);
        let ns_id = match netns {
            Some(fd) => netns::id_of(fd)?,
            None => netns::current_id(),
        };
        let mut map = monitors().lock().unwrap_or_else(|p| p.into_inner());
        let shared = match map.get(&ns_id).and_then(Weak::upgrade) {
            Some(s) => s,
            None => {
                let shared = match netns {
                    Some(fd) if ns_id != netns::current_id() => netns::run_in(fd, start)??,
                    _ => start()?,
                };
                map.retain(|_, w| w.strong_count() > 0);
                map.insert(ns_id, Arc::downgrade(&shared));
                shared
            }
        };
        let id = NEXT_ID.fetch_add(1, Relaxed);
        shared.watchers.lock().unwrap_or_else(|p| p.into_inner()).insert(id, (ifindex, callback));
        Ok(Watch { shared, id })
    }
}

/// Opens the subscribed socket in the calling thread's namespace and starts its thread.
fn start() -> Result<Arc<Shared>> {
    let groups = (libc::RTMGRP_LINK | libc::RTMGRP_IPV4_IFADDR | libc::RTMGRP_IPV6_IFADDR) as u32;
    let mut sock = Socket::new(NETLINK_ROUTE).map_err(|e| Error::os("create an rtnetlink socket", "socket", e))?;
    sock.bind(&SocketAddr::new(0, groups))
        .map_err(|e| Error::os("subscribe to rtnetlink link and address groups", "bind", e))?;
    // Room for bursts (an `ip addr flush` of many addresses); an overrun still resyncs.
    let _ = sock.set_rx_buf_sz(1usize << 20);
    let wake = sys::eventfd().map_err(|e| Error::os("create the monitor's eventfd", "eventfd", e))?;
    let stop = File::from(wake.try_clone().map_err(|e| Error::os("duplicate an eventfd", "fcntl", e))?);
    let shared = Arc::new(Shared { watchers: Mutex::new(HashMap::new()), stop });
    let weak = Arc::downgrade(&shared);
    std::thread::Builder::new()
        .name("pltap-rtnl-monitor".into())
        .spawn(move || run(sock, wake, weak))
        .map_err(|e| Error::os("start the rtnetlink monitor thread", "clone", e))?;
    Ok(shared)
}

fn run(sock: Socket, wake: OwnedFd, shared: Weak<Shared>) {
    let mut buf: Vec<u8> = Vec::with_capacity(1 << 16);
    let mut revents = [0i16; 2];
    loop {
        match sys::poll(&[(sock.as_fd(), sys::POLLIN), (wake.as_fd(), sys::POLLIN)], &mut revents, -1) {
            Ok(_) => {}
            Err(_) => return,
        }
        if revents[1] != 0 {
            return; // the last Watch is gone
        }
        loop {
            buf.clear();
            match sock.recv(&mut buf, libc::MSG_DONTWAIT) {
                Ok(n) => {
                    let Some(shared) = shared.upgrade() else { return };
                    dispatch(&shared, &buf[..n.min(buf.len())]);
                }
                Err(e) if e.raw_os_error() == Some(libc::ENOBUFS) => {
                    let Some(shared) = shared.upgrade() else { return };
                    notify_all(&shared, Event::Resync);
                }
                Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => break,
                Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
                Err(_) => return,
            }
        }
    }
}

fn notify(shared: &Shared, ifindex: u32, event: Event) {
    let callbacks: Vec<Callback> = shared
        .watchers
        .lock()
        .unwrap_or_else(|p| p.into_inner())
        .values()
        .filter(|(i, _)| *i == ifindex)
        .map(|(_, cb)| cb.clone())
        .collect();
    for cb in callbacks {
        cb(event);
    }
}

fn notify_all(shared: &Shared, event: Event) {
    let callbacks: Vec<Callback> =
        shared.watchers.lock().unwrap_or_else(|p| p.into_inner()).values().map(|(_, cb)| cb.clone()).collect();
    for cb in callbacks {
        cb(event);
    }
}

/// Calls the watchers of every link that a datagram of announcements is about.
fn dispatch(shared: &Shared, mut data: &[u8]) {
    while !data.is_empty() {
        let Ok(msg) = NetlinkMessage::<RouteNetlinkMessage>::deserialize(data) else {
            // A message this crate cannot decode: be safe and have everyone re-read.
            notify_all(shared, Event::Resync);
            return;
        };
        let len = (msg.header.length as usize + 3) & !3;
        if len == 0 || len > data.len() {
            data = &[];
        } else {
            data = &data[len..];
        }
        let NetlinkPayload::InnerMessage(m) = msg.payload else { continue };
        match m {
            RouteNetlinkMessage::NewLink(l) => notify(shared, l.header.index, Event::Changed),
            RouteNetlinkMessage::DelLink(l) => notify(shared, l.header.index, Event::Removed),
            RouteNetlinkMessage::NewAddress(a) | RouteNetlinkMessage::DelAddress(a) => {
                notify(shared, a.header.index, Event::Changed)
            }
            _ => {}
        }
    }
}
