//! The rtnetlink side of `NativeNetdev` (`pltap_core::netdev::Netdev`'s `net` methods):
//! addresses, routes, namespace moves, lifetime, carrier, link options, and the kernel's
//! announcements delivered to JS. Conversions only, like the rest of the binding.

use crate::JsNetdev;
use crate::error::{IntoNapi, blocking, guard};
use napi::bindgen_prelude::*;
use napi::threadsafe_function::{ThreadsafeFunction, ThreadsafeFunctionCallMode};
use napi_derive::napi;
use pltap_core::iface::cidr::parse_ip;
use pltap_core::iface::monitor::Event;
use pltap_core::iface::{IpCidr, RouteSpec, netns};
use std::sync::Arc;

/// The reason the core rejects `result`'s input, or `None` (as `check.rs`).
fn reason<T>(result: pltap_core::Result<T>) -> Option<String> {
    result.err().map(|e| e.invalid_reason().map_or_else(|| e.to_string(), str::to_string))
}

/// `pltap_core::iface::IpCidr`: an IPv4 or IPv6 address with a prefix length.
#[napi(catch_unwind)]
pub fn check_cidr(value: String) -> Result<Option<String>> {
    guard("checkCidr", || Ok(reason(value.parse::<IpCidr>())))
}

/// A route's destination and gateway (`pltap_core::iface::RouteSpec::new`).
#[napi(catch_unwind)]
pub fn check_route(to: String, via: Option<String>) -> Result<Option<String>> {
    guard("checkRoute", || Ok(reason(route(&to, via.as_deref(), None))))
}

fn route(to: &str, via: Option<&str>, metric: Option<u32>) -> pltap_core::Result<RouteSpec> {
    let to: IpCidr = to.parse()?;
    let via = via.map(|v| parse_ip("route gateway", v)).transpose()?;
    RouteSpec::new(to, via, metric)
}

/// What `RTM_GETLINK` reports about the device now.
#[napi(object)]
pub struct NativeLinkInfo {
    /// `IFLA_MTU`.
    pub mtu: u32,
    /// `IFLA_TXQLEN`.
    pub txqlen: u32,
    /// Carrier (`IFF_LOWER_UP`).
    pub carrier: bool,
    /// `IFLA_OPERSTATE`, as `ip` shows it.
    pub operstate: String,
}

/// The addresses and MTU as of the last refresh (the snapshot's).
#[napi(object)]
pub struct NativeObservedLink {
    /// Every address as `addr/len`, IPv4 first.
    pub addresses: Vec<String>,
    /// The MTU.
    pub mtu: u32,
}

type WatchTsfn = ThreadsafeFunction<&'static str, (), &'static str, Status, false, true>;

#[napi]
impl JsNetdev {
    /// Subscribes to the kernel's announcements about the device: `callback` gets
    /// `'changed'`, `'removed'` or `'resync'` on the JS thread. The callback does not
    /// keep the event loop alive.
    #[napi(catch_unwind, ts_args_type = "callback: (event: 'changed' | 'removed' | 'resync') => void")]
    pub fn watch(&self, callback: Function<'_, &'static str, ()>) -> Result<()> {
        guard("watch", || {
            let tsfn: WatchTsfn = callback
                .build_threadsafe_function::<&'static str>()
                .callee_handled::<false>()
                .weak::<true>()
                .build()?;
            let tsfn = Arc::new(tsfn);
            let cb = Arc::new(move |e: Event| {
                let what = match e {
                    Event::Changed => "changed",
                    Event::Removed => "removed",
                    Event::Resync => "resync",
                };
                tsfn.call(what, ThreadsafeFunctionCallMode::NonBlocking);
            });
            self.inner.subscribe(cb).into_napi()
        })
    }

    /// Ends the subscription of `watch`.
    #[napi(catch_unwind)]
    pub fn unwatch(&self) -> Result<()> {
        guard("unwatch", || {
            self.inner.unsubscribe();
            Ok(())
        })
    }

    /// Every address of the device now, as `addr/len`, IPv4 first.
    #[napi(catch_unwind)]
    pub fn addresses(&self) -> Result<Vec<String>> {
        guard("addresses", || Ok(self.inner.addresses().into_napi()?.iter().map(ToString::to_string).collect()))
    }

    /// The addresses and MTU as of the last refresh.
    #[napi(catch_unwind)]
    pub fn observed_link(&self) -> Result<NativeObservedLink> {
        guard("observedLink", || {
            let (addresses, mtu) = self.inner.observed_addresses();
            Ok(NativeObservedLink { addresses: addresses.iter().map(ToString::to_string).collect(), mtu })
        })
    }

    /// MTU, txqueuelen, carrier and operstate now.
    #[napi(catch_unwind)]
    pub fn link_info(&self) -> Result<NativeLinkInfo> {
        guard("linkInfo", || {
            let l = self.inner.link_info().into_napi()?;
            Ok(NativeLinkInfo { mtu: l.mtu, txqlen: l.txqlen, carrier: l.carrier, operstate: l.operstate.into() })
        })
    }

    /// Adds an address (`addr/len`), off the JS thread.
    #[napi(catch_unwind)]
    pub async fn add_address(&self, cidr: String) -> Result<()> {
        let cidr: IpCidr = guard("addAddress", || cidr.parse().into_napi())?;
        let dev = self.inner.clone();
        blocking("addAddress", move || dev.add_address(cidr)).await
    }

    /// Removes an address (`addr/len`), off the JS thread.
    #[napi(catch_unwind)]
    pub async fn remove_address(&self, cidr: String) -> Result<()> {
        let cidr: IpCidr = guard("removeAddress", || cidr.parse().into_napi())?;
        let dev = self.inner.clone();
        blocking("removeAddress", move || dev.remove_address(cidr)).await
    }

    /// Adds a route through the device, off the JS thread.
    #[napi(catch_unwind)]
    pub async fn add_route(&self, to: String, via: Option<String>, metric: Option<u32>) -> Result<()> {
        let spec = guard("addRoute", || route(&to, via.as_deref(), metric).into_napi())?;
        let dev = self.inner.clone();
        blocking("addRoute", move || dev.add_route(&spec)).await
    }

    /// Removes a route through the device, off the JS thread.
    #[napi(catch_unwind)]
    pub async fn remove_route(&self, to: String, via: Option<String>, metric: Option<u32>) -> Result<()> {
        let spec = guard("removeRoute", || route(&to, via.as_deref(), metric).into_napi())?;
        let dev = self.inner.clone();
        blocking("removeRoute", move || dev.remove_route(&spec)).await
    }

    /// Moves the device to the namespace at `path`, or of descriptor `fd` (duplicated;
    /// the caller keeps its own), off the JS thread.
    #[napi(catch_unwind)]
    pub async fn move_to_netns(&self, path: Option<String>, fd: Option<i32>) -> Result<()> {
        let dup = guard("moveToNetns", || {
            fd.map(|raw| {
                pltap_core::sys::duplicate_raw_fd(raw)
                    .map_err(|e| pltap_core::Error::os(format!("duplicate fd {raw}"), "fcntl", e))
            })
            .transpose()
            .into_napi()
        })?;
        let dev = self.inner.clone();
        blocking("moveToNetns", move || {
            let target = match (dup, path) {
                (Some(fd), _) => fd,
                (None, Some(p)) => netns::open(p.as_ref())?,
                (None, None) => return Err(pltap_core::Error::invalid("netns", "missing")),
            };
            dev.move_to_netns(target)
        })
        .await
    }

    /// How many times the device moved namespace through `moveToNetns`.
    #[napi(catch_unwind)]
    pub fn netns_moves(&self) -> Result<u32> {
        guard("netnsMoves", || Ok(self.inner.netns_moves()))
    }

    /// `TUNSETOWNER`, `TUNSETGROUP`, `TUNSETPERSIST` (right after open).
    #[napi(catch_unwind)]
    pub fn set_lifetime(&self, persist: Option<bool>, owner: Option<u32>, group: Option<u32>) -> Result<()> {
        guard("setLifetime", || self.inner.set_lifetime(persist, owner, group).into_napi())
    }

    /// `TUNSETCARRIER`, off the JS thread.
    #[napi(catch_unwind)]
    pub async fn set_carrier(&self, on: bool) -> Result<()> {
        let dev = self.inner.clone();
        blocking("setCarrier", move || dev.set_carrier(on)).await
    }

    /// Sets MTU and/or txqueuelen (`RTM_SETLINK`, or `vif_up` options under vsys), off the
    /// JS thread; resolves with the script's warning, if any.
    #[napi(catch_unwind)]
    pub async fn set_link_options(&self, mtu: Option<u32>, txqlen: Option<u32>) -> Result<Option<String>> {
        let dev = self.inner.clone();
        blocking("setLinkOptions", move || dev.set_link_options(mtu, txqlen)).await
    }
}
