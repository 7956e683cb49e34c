//! A `Netdev` acts on its own device only: once the device is deleted, renamed or moved
//! to another namespace and its name passes to another device, every link operation of
//! the stale `Netdev` fails with `ERR_PLTAP_DEVICE_GONE` and the other device is left
//! exactly as it was (read back with `ip -j link`). Each test runs in its own network
//! namespace.

mod common;

use common::{ChildGuard, open_direct, poll_until, privileged, run};
use pltap_core::Error;
use pltap_core::config::Config;
use pltap_core::error::GoneReason;
use pltap_core::netdev::Netdev;
use std::time::Duration;

/// A persistent tap made by `ip tuntap add`, brought UP: what a stale link operation
/// would visibly change (MTU, UP, PROMISC, address).
fn new_owner(name: &str) {
    run("ip", &["tuntap", "add", "mode", "tap", "name", name]);
    run("ip", &["link", "set", name, "up"]);
}

/// `ip -j link show` and `ip -j addr show` of `name`: everything a link operation changes.
fn snapshot(name: &str) -> String {
    run("ip", &["-j", "link", "show", "dev", name]) + &run("ip", &["-j", "addr", "show", "dev", name])
}

fn assert_gone<T: std::fmt::Debug>(what: &str, r: pltap_core::Result<T>, name: &str, reason: &GoneReason) {
    match r {
        Err(Error::DeviceGone { name: n, reason: r }) if n == name && r == *reason => {}
        other => panic!("{what}: expected DeviceGone {{ {name}, {reason:?} }}, got {other:?}"),
    }
}

/// Every link operation of `dev`, each of which must fail with `DeviceGone` and change nothing.
fn every_link_operation_fails(dev: &Netdev, name: &str, reason: &GoneReason) {
    assert_gone("check_device", dev.check_device(), name, reason);
    assert_gone("set_mtu", dev.set_mtu(1280), name, reason);
    assert_gone("mtu", dev.mtu(), name, reason);
    assert_gone("ifindex", dev.ifindex(), name, reason);
    assert_gone("hwaddr", dev.hwaddr(), name, reason);
    assert_gone("set_hwaddr", dev.set_hwaddr("02:00:c6:12:00:99".parse().unwrap()), name, reason);
    assert_gone("stats", dev.stats(), name, reason);
    assert_gone("refresh", dev.refresh(), name, reason);
    dev.set_desired_up(false);
    assert_gone("sync (down)", dev.reconcile(), name, reason);
    dev.set_desired_up(true);
    dev.set_desired_promisc(true);
    assert_gone("sync (promisc)", dev.reconcile(), name, reason);
    dev.set_config(Config::parse(Some("198.18.6.9"), Some(24)).unwrap());
    assert_gone("sync (address)", dev.reconcile(), name, reason);
    let kept = dev.last_error().expect("the failure is kept");
    assert_eq!(kept.code(), "ERR_PLTAP_DEVICE_GONE", "{kept}");
    assert_eq!(dev.vif_down_if_up().unwrap(), None, "not a vsys device: nothing to release");
}

#[test]
fn a_deleted_device_whose_name_is_reused_is_left_alone() {
    privileged(|| {
        let dev = open_direct("id0");
        dev.set_config(Config::parse(Some("198.18.6.1"), Some(24)).unwrap());
        dev.reconcile().unwrap();
        let ifindex = dev.ifindex().unwrap();
        run("ip", &["link", "del", "id0"]);
        new_owner("id0");
        let before = snapshot("id0");
        assert!(!before.contains(&format!("\"ifindex\":{ifindex},")), "the new device has another ifindex: {before}");
        every_link_operation_fails(&dev, "id0", &GoneReason::Deleted);
        assert_eq!(snapshot("id0"), before, "the new id0 changed");
        let err = dev.set_mtu(1280).unwrap_err();
        assert_eq!(err.code(), "ERR_PLTAP_DEVICE_GONE");
        assert_eq!(err.to_string(), "device id0 is gone: it was deleted");
        // Frames go to the descriptor, never by name: the stale port cannot reach id0 either.
        assert!(dev.send(&[0u8; 60]).is_err());
    });
}

#[test]
fn a_renamed_device_and_the_new_owner_of_its_name_are_left_alone() {
    privileged(|| {
        let dev = open_direct("id1");
        dev.set_desired_up(true);
        dev.reconcile().unwrap();
        run("ip", &["link", "set", "id1", "name", "id1r"]);
        new_owner("id1");
        let (before_new, before_ours) = (snapshot("id1"), snapshot("id1r"));
        every_link_operation_fails(&dev, "id1", &GoneReason::Renamed("id1r".into()));
        assert_eq!(snapshot("id1"), before_new, "the new id1 changed");
        assert_eq!(snapshot("id1r"), before_ours, "the renamed device changed");
        assert_eq!(dev.mtu().unwrap_err().to_string(), "device id1 is gone: it was renamed to id1r");

        // Given its name back, the device is the port's own again.
        run("ip", &["link", "del", "id1"]);
        run("ip", &["link", "set", "id1r", "name", "id1"]);
        dev.check_device().unwrap();
        dev.set_mtu(1400).unwrap();
        assert_eq!(dev.mtu().unwrap(), 1400);
    });
}

#[test]
fn a_device_moved_to_another_namespace_is_gone_and_its_successor_left_alone() {
    privileged(|| {
        let dev = open_direct("id2");
        // Another namespace, held by a sleeping process.
        let holder = ChildGuard::spawn(std::process::Command::new("unshare").args(["-n", "sleep", "600"]));
        let pid = holder.id();
        let ours = std::fs::read_link("/proc/thread-self/ns/net").unwrap();
        poll_until(Duration::from_secs(10), || {
            let comm = std::fs::read_to_string(format!("/proc/{pid}/comm")).ok()?;
            let ns = std::fs::read_link(format!("/proc/{pid}/ns/net")).ok()?;
            (comm.trim() == "sleep" && ns != ours).then_some(())
        })
        .expect("the holder's namespace");
        run("ip", &["link", "set", "id2", "netns", &pid.to_string()]);
        // Not visible here any more: gone, although TUNGETIFF still says id2.
        assert_gone("check_device", dev.check_device(), "id2", &GoneReason::Moved);
        new_owner("id2");
        let before = snapshot("id2");
        every_link_operation_fails(&dev, "id2", &GoneReason::Moved);
        assert_eq!(snapshot("id2"), before, "the new id2 changed");
        // Our descriptor goes first, so the device dies with it, not with the namespace.
        drop(dev);
        drop(holder);
    });
}
