//! Shared helpers of the privileged integration tests.
//!
//! Network safety: every test that creates a device does so inside [`in_netns`], a
//! thread that has moved itself into a fresh, empty network namespace. Devices die with
//! their descriptors, the namespace dies with the thread (and any child process it
//! started), so nothing ever touches the host's network. Addresses come only from the
//! benchmarking range 198.18.0.0/15 (RFC 2544).
#![allow(dead_code)]

use pltap_core::Tap;
use std::net::Ipv4Addr;
use std::os::fd::{AsRawFd, BorrowedFd};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::{RwLock, RwLockReadGuard, RwLockWriteGuard};
use std::time::{Duration, Instant};

/// Runs `f` on a new thread that lives in a new network namespace of its own, with `lo`
/// up and IPv6 disabled (so the kernel sends no router solicitations, MLD reports or DAD
/// probes that would disturb exact frame and counter checks). A panic inside `f` is
/// resumed on the caller's thread.
pub fn in_netns<T: Send>(f: impl FnOnce() -> T + Send) -> T {
    pltap_core::run_in_new_network_namespace(move || {
        // Both writes go to the namespace of the calling thread (/proc/sys/net is
        // resolved per task). IPv6 may be compiled out: then there is nothing to quiet.
        for knob in ["all", "default"] {
            let path = format!("/proc/sys/net/ipv6/conf/{knob}/disable_ipv6");
            if Path::new(&path).exists() {
                std::fs::write(&path, "1").unwrap_or_else(|e| panic!("write {path}: {e}"));
            }
        }
        f()
    })
    .expect("a new network namespace with lo up")
}

/// Whether privileged tests can run here; prints why not to stderr.
pub fn require_root() -> bool {
    if pltap_core::sys::effective_uid() != 0 {
        eprintln!(
            "SKIPPED: this test needs root (CAP_NET_ADMIN, CAP_SYS_ADMIN for unshare); euid is {}",
            pltap_core::sys::effective_uid()
        );
        return false;
    }
    if !Path::new("/dev/net/tun").exists() {
        eprintln!("SKIPPED: /dev/net/tun does not exist (load the tun module)");
        return false;
    }
    true
}

static SERIAL: RwLock<()> = RwLock::new(());

/// Taken by every test of a binary that has a descriptor-counting test, so that the
/// counting test ([`exclusive`]) sees no descriptor opened by a concurrent test.
pub fn shared() -> RwLockReadGuard<'static, ()> {
    SERIAL.read().unwrap_or_else(|p| p.into_inner())
}

/// Taken by descriptor-counting tests: no other test of the binary runs meanwhile.
pub fn exclusive() -> RwLockWriteGuard<'static, ()> {
    SERIAL.write().unwrap_or_else(|p| p.into_inner())
}

/// The number of open descriptors of the process.
pub fn fd_count() -> usize {
    std::fs::read_dir("/proc/self/fd").expect("read /proc/self/fd").count()
}

/// The `flags:` field of `/proc/self/fdinfo/<fd>` (printed in octal by the kernel).
pub fn fdinfo_flags(fd: BorrowedFd<'_>) -> u32 {
    let path = format!("/proc/self/fdinfo/{}", fd.as_raw_fd());
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("read {path}: {e}"));
    let line = text.lines().find(|l| l.starts_with("flags:")).unwrap_or_else(|| panic!("no flags in {path}: {text}"));
    u32::from_str_radix(line["flags:".len()..].trim(), 8).unwrap_or_else(|e| panic!("bad flags line {line:?}: {e}"))
}

/// `O_CLOEXEC` as `/proc/self/fdinfo` shows it (octal 02000000 on x86 and arm).
pub const FDINFO_CLOEXEC: u32 = 0o2000000;

/// A temporary directory, removed with everything in it on drop.
#[derive(Debug)]
pub struct TempDir(PathBuf);

impl TempDir {
    pub fn new(tag: &str) -> TempDir {
        static N: AtomicU32 = AtomicU32::new(0);
        let path = std::env::temp_dir().join(format!(
            "pltap-test-{tag}-{}-{}",
            std::process::id(),
            N.fetch_add(1, Ordering::Relaxed)
        ));
        let _ = std::fs::remove_dir_all(&path);
        std::fs::create_dir(&path).unwrap_or_else(|e| panic!("mkdir {}: {e}", path.display()));
        TempDir(path)
    }

    pub fn path(&self) -> &Path {
        &self.0
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// A child process that is killed and reaped when the guard is dropped.
#[derive(Debug)]
pub struct ChildGuard(Child);

impl ChildGuard {
    pub fn spawn(cmd: &mut Command) -> ChildGuard {
        ChildGuard(cmd.stdin(Stdio::null()).stdout(Stdio::null()).stderr(Stdio::null()).spawn().expect("spawn child"))
    }

    /// The child's process id.
    pub fn id(&self) -> u32 {
        self.0.id()
    }
}

impl Drop for ChildGuard {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// Runs a command to completion (from the calling thread, so in its namespace) and
/// returns its stdout; panics with stderr if it fails.
pub fn run(program: &str, args: &[&str]) -> String {
    let out =
        Command::new(program).args(args).stdin(Stdio::null()).output().unwrap_or_else(|e| panic!("run {program}: {e}"));
    assert!(
        out.status.success(),
        "{program} {args:?} failed with {}: {}",
        out.status,
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).expect("utf-8 output")
}

/// Polls `cond` every 10 ms until it returns `Some` or `timeout` passes.
pub fn poll_until<T>(timeout: Duration, mut cond: impl FnMut() -> Option<T>) -> Option<T> {
    let end = Instant::now() + timeout;
    loop {
        if let Some(v) = cond() {
            return Some(v);
        }
        if Instant::now() >= end {
            return None;
        }
        std::thread::sleep(Duration::from_millis(10));
    }
}

/// Waits up to `timeout` for a frame that `want` accepts, skipping others; returns its
/// length (the frame is in `buf[..len]`).
pub fn recv_matching(tap: &Tap, buf: &mut [u8], timeout: Duration, want: impl Fn(&[u8]) -> bool) -> Option<usize> {
    let end = Instant::now() + timeout;
    loop {
        while let Some(len) = tap.recv(buf).expect("recv") {
            if want(&buf[..len]) {
                return Some(len);
            }
            eprintln!("skipping an unrelated frame of {len} bytes: {:02x?}", &buf[..len.min(64)]);
        }
        let left = end.checked_duration_since(Instant::now())?;
        tap.wait_readable(left.as_millis().clamp(1, 1000) as i32).expect("poll");
    }
}

// ---------------------------------------------------------------------------------
// Frame builders.

pub const BROADCAST: [u8; 6] = [0xff; 6];
pub const ETH_P_IP: u16 = 0x0800;
pub const ETH_P_ARP: u16 = 0x0806;

/// The Internet checksum (RFC 1071).
pub fn checksum(data: &[u8]) -> u16 {
    let mut sum = 0u32;
    for chunk in data.chunks(2) {
        let word =
            if chunk.len() == 2 { u16::from_be_bytes([chunk[0], chunk[1]]) } else { u16::from_be_bytes([chunk[0], 0]) };
        sum += u32::from(word);
    }
    while sum > 0xffff {
        sum = (sum & 0xffff) + (sum >> 16);
    }
    !(sum as u16)
}

pub fn ethernet(dst: [u8; 6], src: [u8; 6], ethertype: u16, payload: &[u8]) -> Vec<u8> {
    let mut f = Vec::with_capacity(14 + payload.len());
    f.extend_from_slice(&dst);
    f.extend_from_slice(&src);
    f.extend_from_slice(&ethertype.to_be_bytes());
    f.extend_from_slice(payload);
    f
}

/// An ARP packet (without Ethernet header): 28 bytes.
pub fn arp(op: u16, sha: [u8; 6], spa: Ipv4Addr, tha: [u8; 6], tpa: Ipv4Addr) -> Vec<u8> {
    let mut p = Vec::with_capacity(28);
    p.extend_from_slice(&1u16.to_be_bytes()); // htype Ethernet
    p.extend_from_slice(&ETH_P_IP.to_be_bytes()); // ptype IPv4
    p.extend_from_slice(&[6, 4]);
    p.extend_from_slice(&op.to_be_bytes());
    p.extend_from_slice(&sha);
    p.extend_from_slice(&spa.octets());
    p.extend_from_slice(&tha);
    p.extend_from_slice(&tpa.octets());
    p
}

/// A broadcast Ethernet ARP request "who has `tpa`? tell `spa`": 42 bytes.
pub fn arp_request_frame(sha: [u8; 6], spa: Ipv4Addr, tpa: Ipv4Addr) -> Vec<u8> {
    ethernet(BROADCAST, sha, ETH_P_ARP, &arp(1, sha, spa, [0; 6], tpa))
}

/// An IPv4 header (20 bytes, checksummed) followed by `payload`.
pub fn ipv4(proto: u8, src: Ipv4Addr, dst: Ipv4Addr, payload: &[u8]) -> Vec<u8> {
    let total = (20 + payload.len()) as u16;
    let mut h = vec![0x45, 0];
    h.extend_from_slice(&total.to_be_bytes());
    h.extend_from_slice(&[0x12, 0x34, 0x40, 0x00, 64, proto, 0, 0]); // id, DF, ttl, proto, csum
    h.extend_from_slice(&src.octets());
    h.extend_from_slice(&dst.octets());
    let c = checksum(&h);
    h[10..12].copy_from_slice(&c.to_be_bytes());
    h.extend_from_slice(payload);
    h
}

/// An ICMP echo request (type 8) or reply (type 0) with a checksum.
pub fn icmp_echo(kind: u8, id: u16, seq: u16, data: &[u8]) -> Vec<u8> {
    let mut m = vec![kind, 0, 0, 0];
    m.extend_from_slice(&id.to_be_bytes());
    m.extend_from_slice(&seq.to_be_bytes());
    m.extend_from_slice(data);
    let c = checksum(&m);
    m[2..4].copy_from_slice(&c.to_be_bytes());
    m
}

/// The EtherType of an Ethernet frame.
pub fn ethertype(frame: &[u8]) -> u16 {
    u16::from_be_bytes([frame[12], frame[13]])
}
