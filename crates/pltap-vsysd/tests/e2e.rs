//! End-to-end tests: the real `pltap-vsysd` binary as a child process, driven with the
//! vsys client of `pltap-core`, each test inside its own network namespace.

mod common;

use common::{Helper, TempDir, client, privileged, run};
use pltap_core::vsys::{TransactOptions, VifOption, transact};
use pltap_core::{Error, IfName, Iface, Ipv4Net, Mode, Tap, TapOptions};
use std::io::Write;
use std::net::Ipv4Addr;
use std::os::fd::AsFd;
use std::os::unix::fs::{FileTypeExt, PermissionsExt};
use std::os::unix::net::UnixStream;
use std::path::Path;
use std::time::{Duration, Instant};

const IP: Ipv4Addr = Ipv4Addr::new(198, 18, 0, 1);

/// A temp dir with the frontend directory `<tmp>/vsys` (created by the helper).
fn setup(tag: &str) -> (TempDir, String) {
    let tmp = TempDir::new(tag);
    let dir = tmp.path().join("vsys").to_str().unwrap().to_string();
    (tmp, dir)
}

fn script_reply(r: pltap_core::Result<pltap_core::vsys::ScriptOutcome>) -> String {
    match r {
        Err(Error::Script { reply, .. }) => reply,
        other => panic!("expected Error::Script, got {other:?}"),
    }
}

#[test]
fn allocation_over_fd_tuntap() {
    privileged(|| {
        let (tmp, dir) = setup("alloc");
        let helper = Helper::start(&["--dir", &dir, "--slice-uid", "754"]);
        assert_eq!(helper.ready_line.trim_end(), format!("pltap-vsysd: serving {dir}"));
        let vsys = client(dir.as_ref(), tmp.path());

        let tap = vsys.allocate(Mode::Tap).expect("allocate TAP");
        assert_eq!(tap.name().as_str(), "tap754-0");
        assert_eq!(tap.mode(), Mode::Tap);
        assert!(tap.packet_info(), "vsys devices carry tun_pi");
        let (name, mode) = tap.tun_get_iff().expect("TUNGETIFF on the received fd");
        assert_eq!((name.as_str(), mode), ("tap754-0", Mode::Tap));
        tap.hwaddr().expect("SIOCGIFHWADDR on the fd");
        assert!(!tap.iface().flags().unwrap().up, "a fresh device is down");

        // The kernel picks the next free number while the first is held.
        let tap2 = vsys.allocate(Mode::Tap).expect("allocate a second TAP");
        assert_eq!(tap2.name().as_str(), "tap754-1");

        let tun = vsys.allocate(Mode::Tun).expect("allocate TUN");
        assert!(tun.name().as_str().starts_with("tun754-"), "{}", tun.name());
        assert_eq!(tun.tun_get_iff().unwrap().1, Mode::Tun);
        assert!(tun.packet_info());

        // Non-persistent: the device goes away with the last descriptor.
        drop(tap);
        let gone = Instant::now() + Duration::from_secs(5);
        while Iface::new(IfName::new("tap754-0").unwrap()).unwrap().flags().is_ok() {
            assert!(Instant::now() < gone, "tap754-0 outlived its descriptor");
            std::thread::sleep(Duration::from_millis(10));
        }
        assert!(helper.wait_log("sent tap754-0", Duration::from_secs(2)), "log: {}", helper.stderr());
        assert!(helper.wait_log("sent tun754-0", Duration::from_secs(2)), "log: {}", helper.stderr());
    });
}

#[test]
fn fd_tuntap_refuses_bad_requests_with_a_text_line() {
    privileged(|| {
        let (tmp, dir) = setup("refuse");
        let helper = Helper::start(&["--dir", &dir]);
        let sock = Path::new(&dir).join("fd_tuntap.control");
        let expect_refusal = |payload: &[u8], want: &str| {
            let mut s = UnixStream::connect(&sock).expect("connect");
            s.write_all(payload).unwrap();
            s.shutdown(std::net::Shutdown::Write).unwrap();
            s.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
            let mut text = Vec::new();
            loop {
                let mut buf = [0u8; 256];
                let got = pltap_core::sys::recv_with_fds(s.as_fd(), &mut buf, 2).expect("recvmsg");
                assert!(got.fds.is_empty(), "payload {payload:02x?}: a refusal carries no descriptor");
                if got.len == 0 {
                    break;
                }
                text.extend_from_slice(&buf[..got.len]);
            }
            let text = String::from_utf8(text).unwrap();
            assert!(text.starts_with("refused: ") && text.ends_with('\n'), "{payload:02x?}: {text:?}");
            assert!(text.contains(want), "{payload:02x?}: {text:?}");
            assert_eq!(text.matches('\n').count(), 1, "{text:?}");
        };
        // IFF_TAP|IFF_NO_PI, 0, 3, a short request, an empty one.
        expect_refusal(&0x1002i32.to_ne_bytes(), "if_type 0x1002 is not a valid interface type");
        expect_refusal(&0i32.to_ne_bytes(), "not a valid interface type");
        expect_refusal(&3i32.to_ne_bytes(), "not a valid interface type");
        expect_refusal(&2i32.to_ne_bytes()[..2], "short request: 2 of 4 bytes");
        expect_refusal(b"", "short request: 0 of 4 bytes");
        assert!(helper.wait_log("not a valid interface type", Duration::from_secs(2)), "{}", helper.stderr());
        assert!(helper.wait_log("short request", Duration::from_secs(2)), "{}", helper.stderr());
        // The helper still serves.
        let tap = client(dir.as_ref(), tmp.path()).allocate(Mode::Tap).expect("allocate after refusals");
        assert_eq!(tap.name().as_str(), "tap1000-0");
    });
}

#[test]
fn vif_up_promisc_vif_down() {
    privileged(|| {
        let (tmp, dir) = setup("up");
        let helper = Helper::start(&["--dir", &dir]);
        let vsys = client(dir.as_ref(), tmp.path());
        let tap = vsys.allocate(Mode::Tap).expect("allocate");
        assert_eq!(tap.name().as_str(), "tap1000-0");
        let iface = tap.iface();

        let outcome = vsys.vif_up(&iface, Ipv4Net::new(IP, 24).unwrap(), &[]).expect("vif_up");
        assert_eq!(outcome.warning, None);
        let flags = iface.flags().unwrap();
        assert!(flags.up, "UP after vif_up");
        assert_eq!(iface.ipv4().unwrap(), Some(Ipv4Net::new(IP, 24).unwrap()));
        let shown = run("ip", &["-4", "addr", "show", "dev", "tap1000-0"]);
        assert!(shown.contains("inet 198.18.0.1/24"), "ip addr shows: {shown}");
        let first = shown.lines().next().unwrap();
        assert!(
            first.contains("<") && first.split(['<', '>']).nth(1).unwrap().split(',').any(|f| f == "UP"),
            "{shown}"
        );

        vsys.promisc(&iface, true).expect("promisc on");
        assert!(iface.flags().unwrap().promisc);
        assert!(run("ip", &["link", "show", "dev", "tap1000-0"]).contains("PROMISC"));
        vsys.promisc(&iface, false).expect("promisc off");
        assert!(!iface.flags().unwrap().promisc);

        vsys.vif_down(&iface).expect("vif_down");
        assert!(!iface.flags().unwrap().up, "not UP after vif_down");

        // vif_up again, with the options that are applied, and one that is only noted.
        let opts = [
            VifOption::new("txqueuelen", "500").unwrap(),
            VifOption::new("mtu", "1400").unwrap(),
            VifOption::new("rp_filter", "0").unwrap(),
        ];
        let outcome = vsys
            .vif_up(&iface, Ipv4Net::new(Ipv4Addr::new(198, 18, 7, 9), 16).unwrap(), &opts)
            .expect("vif_up with options");
        assert_eq!(outcome.warning, None, "the sysctl-style rp_filter echo is benign");
        assert_eq!((iface.txqlen().unwrap(), iface.mtu().unwrap()), (500, 1400));
        assert_eq!(iface.ipv4().unwrap(), Some(Ipv4Net::new(Ipv4Addr::new(198, 18, 7, 9), 16).unwrap()));
        // /proc/sys/net is resolved in the reading thread's namespace.
        let rp = std::fs::read_to_string("/proc/sys/net/ipv4/conf/tap1000-0/rp_filter").unwrap();
        assert_eq!(rp.trim(), "0");
        let noted = vsys
            .vif_up(&iface, Ipv4Net::new(IP, 24).unwrap(), &[VifOption::new("snat", "1").unwrap()])
            .expect("vif_up with snat=1");
        assert!(noted.warning.as_deref().unwrap_or("").contains("Note: option snat=1 ignored"), "{noted:?}");

        // The reply of a raw transaction is exactly the helper's output.
        let opts = TransactOptions::default();
        let reply = transact(dir.as_ref(), "vif_up", b"tap1000-0\n198.18.0.1\n24\nrp_filter=1\n", &opts).unwrap();
        assert_eq!(reply.output, "net.ipv4.conf.tap1000-0.rp_filter = 1\n");
        let reply = transact(dir.as_ref(), "vif_down", b"tap1000-0\ndelete=1\n", &opts).unwrap();
        assert_eq!(reply.output, "");
        assert!(!iface.flags().unwrap().up);
        assert!(
            helper.wait_log("vif_down [tap1000-0|delete=1] replied", Duration::from_secs(2)),
            "{}",
            helper.stderr()
        );
    });
}

#[test]
fn validation_failures_come_back_as_script_errors() {
    privileged(|| {
        let (tmp, dir) = setup("refusals");
        let _helper = Helper::start(&["--dir", &dir, "--slice-uid", "754", "--vnet", "198.18.0.0/16"]);
        let vsys = client(dir.as_ref(), tmp.path());
        let tap = vsys.allocate(Mode::Tap).expect("allocate");
        let iface = tap.iface();
        assert_eq!(iface.name().as_str(), "tap754-0");

        // A device of another slice (created directly, as root in this namespace).
        let other = Tap::open(&TapOptions {
            mode: Mode::Tap,
            name: Some(IfName::new("tap755-0").unwrap()),
            packet_info: true,
            vnet_hdr: false,
        })
        .unwrap();
        let reply = script_reply(vsys.vif_up(&other.iface(), Ipv4Net::new(IP, 24).unwrap(), &[]));
        assert_eq!(reply, "Interface name tap755-0 does not match slice id 754.\n");
        assert!(!other.iface().flags().unwrap().up);
        let reply = script_reply(vsys.vif_down(&Iface::new(IfName::new("tap754-0x").unwrap()).unwrap()));
        assert_eq!(reply, "Interface name tap754-0x does not match slice id 754.\n");

        let cases: Vec<(Ipv4Addr, u8, Vec<VifOption>, &str)> = vec![
            (Ipv4Addr::new(198, 19, 0, 1), 24, vec![], "Requested IP 198.19.0.1 not in netblock 198.18.0.0/16\n"),
            (IP, 7, vec![], "Requested netmask /7 is invalid\n"),
            (IP, 32, vec![VifOption::new("foo", "1").unwrap()], "Unknown option: \"foo\"\n"),
            (IP, 12, vec![], "Requested netmask /12 larger than allocation /16\n"),
            (IP, 24, vec![VifOption::new("txqueuelen", "0").unwrap()], "txqueuelen value 0 out of range 1-10000\n"),
            (IP, 24, vec![VifOption::new("gre", "yes").unwrap()], "GRE tunnels need a pointopoint address\n"),
        ];
        for (addr, prefix, opts, want) in cases {
            let reply = script_reply(vsys.vif_up(&iface, Ipv4Net::new(addr, prefix).unwrap(), &opts));
            assert_eq!(reply, want, "vif_up {addr}/{prefix} {opts:?}");
        }
        let f = iface.flags().unwrap();
        assert!(!f.up && iface.ipv4().unwrap().is_none(), "refused requests changed nothing");

        let reply = script_reply(vsys.promisc(&iface, true));
        assert_eq!(reply, "Interface tap754-0 has no IPv4 address (run vif_up first)\n");
        assert!(!iface.flags().unwrap().promisc);

        // promisc with an address outside the netblock (set directly) is refused too.
        iface.set_ipv4(Ipv4Net::new(Ipv4Addr::new(198, 19, 1, 1), 24).unwrap()).unwrap();
        let reply = script_reply(vsys.promisc(&iface, true));
        assert_eq!(reply, "Requested IP 198.19.1.1 not in netblock 198.18.0.0/16\n");

        // Raw requests the client library would never send: control characters, junk.
        let opts = TransactOptions::default();
        let reply = transact(dir.as_ref(), "vif_up", b"tap754-0\n198.18.0.1\n24\nsnat=1\x1b\n", &opts).unwrap();
        assert_eq!(reply.output, "Control character \\u{1b} on request line 4\n");
        let reply = transact(dir.as_ref(), "vif_up", b"tap754-0\n198.18.0.1\n", &opts).unwrap();
        assert_eq!(reply.output, "Insufficient argument lines.\n");
    });
}

#[test]
fn sigterm_exits_zero_and_removes_entries() {
    privileged(|| {
        let (tmp, dir) = setup("term");
        let mut helper = Helper::start(&["--dir", &dir]);
        let d = Path::new(&dir);
        assert_eq!(std::fs::metadata(d).unwrap().permissions().mode() & 0o7777, 0o750);
        for s in ["vif_up", "vif_down", "promisc"] {
            for ext in ["in", "out"] {
                let m = std::fs::symlink_metadata(d.join(format!("{s}.{ext}"))).unwrap();
                assert!(m.file_type().is_fifo(), "{s}.{ext} is a FIFO");
            }
        }
        assert!(std::fs::symlink_metadata(d.join("fd_tuntap.control")).unwrap().file_type().is_socket());
        // A client that connected and never sent anything must not delay the exit.
        let _idle = UnixStream::connect(d.join("fd_tuntap.control")).unwrap();
        std::thread::sleep(Duration::from_millis(50));

        let t0 = Instant::now();
        helper.signal("TERM");
        let status = helper.wait_exit(Duration::from_secs(5)).expect("pltap-vsysd did not exit on SIGTERM");
        assert!(status.success(), "exit status {status:?}; log: {}", helper.stderr());
        assert!(t0.elapsed() < Duration::from_secs(3), "took {:?}", t0.elapsed());
        assert!(!d.exists(), "the frontend directory it created is removed");

        // With a directory that already existed, only the entries go.
        std::fs::create_dir(d).unwrap();
        std::fs::set_permissions(d, std::fs::Permissions::from_mode(0o755)).unwrap();
        std::fs::write(d.join("keep.txt"), "x").unwrap();
        let mut helper = Helper::start(&["--dir", &dir]);
        assert!(d.join("vif_up.in").exists());
        helper.signal("INT");
        assert!(helper.wait_exit(Duration::from_secs(5)).expect("exit on SIGINT").success());
        let left: Vec<_> = std::fs::read_dir(d).unwrap().map(|e| e.unwrap().file_name()).collect();
        assert_eq!(left, vec![std::ffi::OsString::from("keep.txt")]);
        drop(tmp);
    });
}

#[test]
fn bad_flags_exit_2_and_help_exits_0() {
    privileged(|| {
        for args in [
            &["--bogus"][..],
            &[],
            &["--dir"],
            &["--dir", "/nonexistent-x", "--vnet", "1.2.3.4/40"],
            &["--dir", "/x", "--slice-uid", "x"],
        ] {
            let out = std::process::Command::new(common::BIN).args(args).output().unwrap();
            assert_eq!(out.status.code(), Some(2), "{args:?}");
            assert!(!out.stderr.is_empty(), "a message on stderr for {args:?}");
            assert!(out.stdout.is_empty());
        }
        let out = std::process::Command::new(common::BIN).arg("--help").output().unwrap();
        assert_eq!(out.status.code(), Some(0));
        assert!(String::from_utf8_lossy(&out.stdout).contains("--slice-uid"));
    });
}
