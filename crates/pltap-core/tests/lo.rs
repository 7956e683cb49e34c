//! Tier (b): read-only interface ioctls on the host's `lo`. Unprivileged, and safe in
//! the host namespace because nothing is changed.

use pltap_core::{Error, IfName, Iface, Ipv4Net, MacAddr};
use std::net::Ipv4Addr;

fn lo() -> Iface {
    Iface::new(IfName::new("lo").unwrap()).expect("Iface::new(lo)")
}

fn sys(attr: &str) -> String {
    let path = format!("/sys/class/net/lo/{attr}");
    std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("read {path}: {e}")).trim().to_string()
}

fn sys_u64(attr: &str) -> u64 {
    let s = sys(attr);
    match s.strip_prefix("0x") {
        Some(hex) => u64::from_str_radix(hex, 16),
        None => s.parse(),
    }
    .unwrap_or_else(|e| panic!("/sys/class/net/lo/{attr} = {s:?}: {e}"))
}

/// `/sys/class/net` shows the namespace sysfs was mounted in; the ioctls use the
/// thread's. The cross-checks only make sense when both are the host's `lo`.
fn sysfs_is_ours() -> bool {
    let ours = lo().ifindex().expect("ifindex");
    let theirs = sys_u64("ifindex");
    if u64::from(ours) != theirs {
        eprintln!("SKIPPED: /sys/class/net belongs to another network namespace (ifindex {theirs} vs {ours})");
    }
    u64::from(ours) == theirs
}

#[test]
fn flags_match_sysfs() {
    let flags = lo().flags().expect("SIOCGIFFLAGS lo");
    let raw = sys_u64("flags");
    // /sys shows dev->flags, without the computed IFF_RUNNING.
    assert_eq!(flags.up, raw & 0x1 != 0, "UP vs /sys flags {raw:#x}");
    assert_eq!(flags.promisc, raw & 0x100 != 0, "PROMISC vs /sys flags {raw:#x}");
    assert!(flags.up, "lo is expected to be up on the host");
    // RUNNING = UP and operationally up; lo has no carrier to lose.
    assert_eq!(flags.running, sys("carrier") == "1", "RUNNING vs /sys carrier");
    assert!(flags.running);
}

#[test]
fn mtu_ifindex_txqlen_match_sysfs() {
    if !sysfs_is_ours() {
        return;
    }
    let lo = lo();
    assert_eq!(u64::from(lo.mtu().unwrap()), sys_u64("mtu"));
    assert_eq!(u64::from(lo.ifindex().unwrap()), sys_u64("ifindex"));
    assert_eq!(u64::from(lo.txqlen().unwrap()), sys_u64("tx_queue_len"));
    assert!(lo.mtu().unwrap() >= 1280);
}

#[test]
fn ipv4_is_loopback_slash_8() {
    assert_eq!(lo().ipv4().unwrap(), Some(Ipv4Net::new(Ipv4Addr::LOCALHOST, 8).unwrap()));
}

#[test]
fn hwaddr_is_all_zero() {
    assert_eq!(lo().hwaddr().unwrap(), MacAddr([0; 6]));
    assert_eq!(lo().hwaddr().unwrap().to_string(), "00:00:00:00:00:00");
}

#[test]
fn kernel_counters_are_present_and_consistent_with_sysfs() {
    let lo = lo();
    let read_sys =
        || (sys_u64("statistics/rx_packets"), sys_u64("statistics/tx_packets"), sys_u64("statistics/rx_bytes"));
    let check = sysfs_is_ours();
    let before = read_sys();
    let c = lo.kernel_counters().expect("lo in /proc/thread-self/net/dev");
    let after = read_sys();
    if check {
        // Counters only grow: the ioctl-side reading lies between two sysfs readings.
        for (name, lo, v, hi) in [
            ("rx_packets", before.0, c.rx_packets, after.0),
            ("tx_packets", before.1, c.tx_packets, after.1),
            ("rx_bytes", before.2, c.rx_bytes, after.2),
        ] {
            assert!(lo <= v && v <= hi, "{name} {v} not in {before:?}..{after:?}");
        }
    }
    // The port view swaps directions.
    assert_eq!(c.swapped().rx_packets, c.tx_packets);
    assert_eq!(c.swapped().tx_bytes, c.rx_bytes);
}

#[test]
fn missing_interface_is_enodev_from_ioctl() {
    let ghost = Iface::new(IfName::new("pltapnosuch0").unwrap()).unwrap();
    for err in [
        ghost.flags().unwrap_err(),
        ghost.mtu().unwrap_err(),
        ghost.ifindex().unwrap_err(),
        ghost.hwaddr().unwrap_err(),
    ] {
        match &err {
            Error::Os { syscall, errno, op } => {
                assert_eq!(*syscall, "ioctl", "{err}");
                assert_eq!(errno.raw(), libc::ENODEV, "{err}");
                assert!(op.contains("pltapnosuch0"), "op {op:?} names the interface");
            }
            other => panic!("expected Error::Os, got {other:?}"),
        }
        assert_eq!(err.code(), "ENODEV");
    }
    // Counters come from /proc, and say ENODEV as well.
    assert_eq!(ghost.kernel_counters().unwrap_err().code(), "ENODEV");
}
