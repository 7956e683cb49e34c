//! rtnetlink configuration of a `Netdev` and the link monitor, against the kernel (each
//! test in a new network namespace, read back with `ip -j`): addresses, routes, a move to
//! another namespace with the counters still read, lifetime ioctls, carrier, and the
//! announcements of changes made by others.

mod common;

use common::{open_direct, poll_until, privileged, run};
use pltap_core::iface::monitor::{Event, Monitor};
use pltap_core::iface::{IpCidr, RouteSpec, netns};
use pltap_core::{IfName, Iface};
use std::os::fd::{AsFd, OwnedFd};
use std::sync::{Arc, mpsc};
use std::time::Duration;

const DEADLINE: Duration = Duration::from_secs(20);

fn cidr(s: &str) -> IpCidr {
    s.parse().unwrap()
}

/// A new, empty network namespace, kept alive by the returned descriptor.
fn new_netns() -> OwnedFd {
    pltap_core::run_in_new_network_namespace(|| netns::open("/proc/thread-self/ns/net".as_ref()).unwrap()).unwrap()
}

#[test]
fn ipv4_and_ipv6_addresses_are_added_listed_and_removed() {
    privileged(|| {
        let dev = open_direct("nl0");
        // The sandbox may start with IPv6 off on new devices (EACCES for an IPv6 address).
        std::fs::write("/proc/sys/net/ipv6/conf/nl0/disable_ipv6", "0").unwrap();
        dev.add_address(cidr("198.18.40.1/24")).unwrap();
        dev.add_address(cidr("198.18.41.1/24")).unwrap();
        dev.add_address(cidr("2001:db8:40::1/64")).unwrap();
        let shown = run("ip", &["-j", "addr", "show", "dev", "nl0"]);
        for a in ["198.18.40.1", "198.18.41.1", "2001:db8:40::1"] {
            assert!(shown.contains(&format!("\"local\":\"{a}\"")), "{a} in {shown}");
        }
        let listed: Vec<String> = dev.addresses().unwrap().iter().map(ToString::to_string).collect();
        assert_eq!(&listed[..3], ["198.18.40.1/24", "198.18.41.1/24", "2001:db8:40::1/64"]);
        let dup = dev.add_address(cidr("198.18.41.1/24")).unwrap_err();
        assert_eq!((dup.code().as_ref(), dup.syscall()), ("EEXIST", Some("rtnetlink(RTM_NEWADDR)")), "{dup}");
        dev.remove_address(cidr("2001:db8:40::1/64")).unwrap();
        dev.remove_address(cidr("198.18.41.1/24")).unwrap();
        let shown = run("ip", &["-j", "addr", "show", "dev", "nl0"]);
        assert!(!shown.contains("198.18.41.1") && !shown.contains("2001:db8:40::1"), "{shown}");
        let gone = dev.remove_address(cidr("198.18.41.1/24")).unwrap_err();
        assert_eq!(gone.code(), "EADDRNOTAVAIL", "{gone}");
    });
}

#[test]
fn routes_via_the_device_are_added_and_removed() {
    privileged(|| {
        let dev = open_direct("nl1");
        dev.add_address(cidr("198.18.42.1/24")).unwrap();
        Iface::new(IfName::new("nl1").unwrap()).unwrap().set_up(true).unwrap();
        let via = RouteSpec::new(cidr("198.18.43.0/24"), Some("198.18.42.254".parse().unwrap()), Some(7)).unwrap();
        dev.add_route(&via).unwrap();
        let shown = run("ip", &["-j", "route", "show", "dev", "nl1"]);
        assert!(shown.contains("\"dst\":\"198.18.43.0/24\",\"gateway\":\"198.18.42.254\""), "{shown}");
        assert!(shown.contains("\"metric\":7"), "{shown}");
        let unreachable = RouteSpec::new(cidr("198.18.44.0/24"), Some("198.19.1.1".parse().unwrap()), None).unwrap();
        assert_eq!(dev.add_route(&unreachable).unwrap_err().code(), "ENETUNREACH");
        dev.remove_route(&via).unwrap();
        assert!(!run("ip", &["-j", "route", "show", "dev", "nl1"]).contains("198.18.43.0"));
        assert_eq!(dev.remove_route(&via).unwrap_err().code(), "ESRCH");
    });
}

#[test]
fn a_moved_device_is_followed_and_its_counters_still_read() {
    privileged(|| {
        let dev = open_direct("nl2");
        let target = new_netns();
        dev.move_to_netns(target.try_clone().unwrap()).unwrap();
        assert_eq!(dev.netns_moves(), 1);
        assert!(Iface::new(IfName::new("nl2").unwrap()).unwrap().ifindex().is_err(), "gone from here");
        let there =
            netns::run_in(target.as_fd(), || Iface::new(IfName::new("nl2").unwrap()).unwrap().ifindex()).unwrap();
        assert_eq!(there.unwrap(), dev.ifindex().unwrap(), "the Netdev reaches it in the target");
        assert!(dev.stats().unwrap().kernel.is_some(), "kernel counters after the move");
        dev.add_address(cidr("198.18.45.1/24")).unwrap();
        assert_eq!(dev.addresses().unwrap()[0].to_string(), "198.18.45.1/24");
        dev.check_device().unwrap();
        // A namespace that does not exist as a path: ENOENT from open.
        let e = netns::open("/run/netns/pltap-no-such".as_ref()).unwrap_err();
        assert_eq!((e.code().as_ref(), e.syscall()), ("ENOENT", Some("open")));
    });
}

#[test]
fn the_monitor_reports_changes_and_removal_made_by_others() {
    privileged(|| {
        let dev = open_direct("nl3");
        let (tx, rx) = mpsc::channel();
        let tx = std::sync::Mutex::new(tx);
        let _watch = Monitor::watch(
            None,
            dev.ifindex().unwrap(),
            Arc::new(move |e: Event| {
                let _ = tx.lock().unwrap().send(e);
            }),
        )
        .unwrap();
        run("ip", &["link", "set", "nl3", "up"]);
        assert_eq!(rx.recv_timeout(DEADLINE), Ok(Event::Changed));
        run("ip", &["addr", "add", "198.18.46.1/24", "dev", "nl3"]);
        assert!(poll_until(DEADLINE, || rx.recv_timeout(DEADLINE).ok().filter(|e| *e == Event::Changed)).is_some());
        while rx.try_recv().is_ok() {}
        run("ip", &["link", "delete", "nl3"]);
        let removed = poll_until(DEADLINE, || rx.recv_timeout(DEADLINE).ok().filter(|e| *e == Event::Removed));
        assert_eq!(removed, Some(Event::Removed));
        let err = dev.refresh().unwrap_err();
        assert_eq!(err.to_string(), "device nl3 is gone: it was deleted");
        assert!(!dev.observed().flags.up, "the observed state is emptied once gone");
    });
}

#[test]
fn persist_owner_group_and_carrier() {
    privileged(|| {
        let dev = open_direct("nl4");
        dev.set_lifetime(Some(true), Some(1000), Some(1000)).unwrap();
        dev.set_carrier(false).unwrap();
        assert!(!dev.link_info().unwrap().carrier);
        dev.set_carrier(true).unwrap();
        assert!(dev.link_info().unwrap().carrier);
        dev.set_link_options(Some(1400), Some(321)).unwrap();
        let info = dev.link_info().unwrap();
        assert_eq!((info.mtu, info.txqlen), (1400, 321));
        dev.close();
        drop(dev);
        let shown = run("ip", &["-j", "-d", "link", "show", "dev", "nl4"]);
        assert!(shown.contains("\"persist\":true"), "{shown}");
        assert!(shown.contains("\"user\":\"cloudsdk\"") || shown.contains("\"user\":1000"), "{shown}");
        run("ip", &["link", "delete", "nl4"]);
    });
}

#[test]
fn an_overrun_monitor_tells_every_watcher_to_resync() {
    privileged(|| {
        let dev = open_direct("nl5");
        let (tx, rx) = mpsc::channel();
        let tx = std::sync::Mutex::new(tx);
        let first = std::sync::atomic::AtomicBool::new(true);
        // A watcher that stalls the monitor thread on its first event, while thousands of
        // announcements arrive: the socket overruns (ENOBUFS) and the monitor resyncs.
        let _watch = Monitor::watch(
            None,
            dev.ifindex().unwrap(),
            Arc::new(move |e: Event| {
                if first.swap(false, std::sync::atomic::Ordering::Relaxed) {
                    std::thread::sleep(Duration::from_secs(2));
                }
                let _ = tx.lock().unwrap().send(e);
            }),
        )
        .unwrap();
        let batch: String =
            (0..4000).map(|i| format!("addr add 198.18.{}.{}/32 dev nl5\n", 100 + i / 250, 1 + i % 250)).collect();
        let path = std::env::temp_dir().join(format!("pltap-nl5-{}.batch", std::process::id()));
        std::fs::write(&path, batch).unwrap();
        run("ip", &["link", "set", "nl5", "up"]);
        run("ip", &["-batch", path.to_str().unwrap()]);
        let _ = std::fs::remove_file(&path);
        let resync = poll_until(DEADLINE, || rx.recv_timeout(DEADLINE).ok().filter(|e| *e == Event::Resync));
        assert_eq!(resync, Some(Event::Resync), "an overrun is reported as a resync");
        // And the full re-read sees every address.
        assert!(dev.addresses().unwrap().len() >= 4000);
    });
}
