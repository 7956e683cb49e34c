//! Constants of the Linux tun driver and the interface ioctls (no code, no `unsafe`).
//!
//! Values from `<linux/if_tun.h>`, `<linux/sockios.h>` and `<linux/if.h>`, all defined here
//! (not taken from `libc`), so the rest of the crate has one place to look.

/// `TUNSETIFF`: `_IOW('T', 202, int)`.
pub const TUNSETIFF: u64 = 0x4004_54ca;
/// `TUNGETIFF`: `_IOR('T', 210, unsigned int)`.
pub const TUNGETIFF: u64 = 0x8004_54d2;
/// `IFF_TUN`: layer-3 device.
pub const IFF_TUN: i16 = 0x0001;
/// `IFF_TAP`: layer-2 (Ethernet) device.
pub const IFF_TAP: i16 = 0x0002;
/// `IFF_NO_PI`: no `struct tun_pi` prefix on frames. Shares its value with `IFF_NOFILTER`.
pub const IFF_NO_PI: i16 = 0x1000;
/// `TUN_PKT_STRIP`: set by the kernel in `tun_pi.flags` when a read buffer was too small.
pub const TUN_PKT_STRIP: u16 = 0x0001;

/// `SIOCGIFFLAGS`.
pub const SIOCGIFFLAGS: u64 = 0x8913;
/// `SIOCSIFFLAGS`.
pub const SIOCSIFFLAGS: u64 = 0x8914;
/// `SIOCGIFADDR`.
pub const SIOCGIFADDR: u64 = 0x8915;
/// `SIOCSIFADDR`.
pub const SIOCSIFADDR: u64 = 0x8916;
/// `SIOCGIFNETMASK`.
pub const SIOCGIFNETMASK: u64 = 0x891b;
/// `SIOCSIFNETMASK`.
pub const SIOCSIFNETMASK: u64 = 0x891c;
/// `SIOCGIFMTU`.
pub const SIOCGIFMTU: u64 = 0x8921;
/// `SIOCSIFMTU`.
pub const SIOCSIFMTU: u64 = 0x8922;
/// `SIOCSIFHWADDR`.
pub const SIOCSIFHWADDR: u64 = 0x8924;
/// `SIOCGIFHWADDR`.
pub const SIOCGIFHWADDR: u64 = 0x8927;
/// `SIOCGIFINDEX`.
pub const SIOCGIFINDEX: u64 = 0x8933;
/// `SIOCGIFTXQLEN`.
pub const SIOCGIFTXQLEN: u64 = 0x8942;
/// `SIOCSIFTXQLEN`.
pub const SIOCSIFTXQLEN: u64 = 0x8943;

/// `IFF_UP` in `ifr_flags`.
pub const IFF_UP: i16 = 0x1;
/// `IFF_RUNNING` in `ifr_flags`.
pub const IFF_RUNNING: i16 = 0x40;
/// `IFF_PROMISC` in `ifr_flags`.
pub const IFF_PROMISC: i16 = 0x100;

/// `ARPHRD_ETHER`, the hardware type of a TAP device's address.
pub const ARPHRD_ETHER: u16 = 1;
/// `IFNAMSIZ`, including the terminating NUL.
pub const IFNAMSIZ: usize = 16;
