//! The privilege boundary, end to end: the real `pltap-vsysd` binary as root, and the
//! slice's side as a real unprivileged process (`setpriv --reuid N --regid N
//! --clear-groups --inh-caps=-all`, running this very test binary as a client, see
//! [`slice_client_child`]). Every test runs in its own network namespace; addresses
//! come from 198.18.0.0/15.
//!
//! One test per helper-side attack of issue 6: each asserts that the attack fails and
//! that nothing outside the slice changed (a root-only file, another slice's device)
//! and that the helper still serves afterwards.

mod common;

use common::{Helper, TempDir, client, privileged, run_helper_to_exit};
use pltap_core::vsys::{TransactOptions, transact};
use pltap_core::{Error, IfName, Iface, Ipv4Net, Mode, Tap, TapOptions};
use std::collections::HashMap;
use std::io::{Read, Write};
use std::net::Ipv4Addr;
use std::os::fd::AsFd;
use std::os::unix::fs::{MetadataExt, OpenOptionsExt, PermissionsExt};
use std::os::unix::net::UnixStream;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

const SLICE: u32 = 1000;
const OTHER: u32 = 1001;
const LOCK: &str = ".pltap-vsysd.lock";
const ENTRIES: [&str; 7] =
    ["vif_up.in", "vif_up.out", "vif_down.in", "vif_down.out", "promisc.in", "promisc.out", "fd_tuntap.control"];

/// [`privileged`] for the tests that run clients as the slice: they need `setpriv`
/// (util-linux) too, and skip (saying why) without it.
fn privileged_with_setpriv<T: Send>(f: impl FnOnce() -> T + Send) -> Option<T> {
    let ok = Command::new("setpriv").arg("--version").output().map(|o| o.status.success()).unwrap_or(false);
    if !ok {
        eprintln!("SKIPPED: setpriv (util-linux) is not installed");
        return None;
    }
    privileged(f)
}

// ---------------------------------------------------------------------------------------
// The slice's side: this test binary, re-run under setpriv.
// ---------------------------------------------------------------------------------------

/// Not a test of its own: the entry point of the unprivileged client. It does nothing
/// unless `PLTAP_CHILD_STEPS` is set, which only [`as_uid`] does. It runs the steps in
/// order, printing `STEP <name> OK <detail>` or `STEP <name> ERR <code> <message>`.
#[test]
fn slice_client_child() {
    let Ok(steps) = std::env::var("PLTAP_CHILD_STEPS") else { return };
    let dir = PathBuf::from(std::env::var("PLTAP_CHILD_DIR").expect("PLTAP_CHILD_DIR"));
    let locks = PathBuf::from(std::env::var("PLTAP_CHILD_LOCKS").expect("PLTAP_CHILD_LOCKS"));
    let vsys = client(&dir, &locks);
    let mut tap: Option<Tap> = None;
    let core = |e: Error| format!("{} {e}", e.code());
    let io = |e: std::io::Error| format!("{} {e}", pltap_core::Errno::from_io(&e).code());
    for step in steps.split(';').filter(|s| !s.is_empty()) {
        let (name, arg) = step.split_once(' ').unwrap_or((step, ""));
        let arg = arg.replace("\\n", "\n");
        let iface = || tap.as_ref().map(|t| t.iface()).ok_or_else(|| "NOTAP no device".to_string());
        let r: Result<String, String> = match name {
            "whoami" => {
                let status = std::fs::read_to_string("/proc/self/status").unwrap();
                let field = |k: &str| {
                    status
                        .lines()
                        .find_map(|l| l.strip_prefix(k))
                        .map(|v| v.split_whitespace().collect::<Vec<_>>().join(","))
                };
                Ok(format!(
                    "uid={} gid={} groups={} capeff={} capprm={} capamb={}",
                    field("Uid:").unwrap(),
                    field("Gid:").unwrap(),
                    field("Groups:").unwrap_or_default(),
                    field("CapEff:").unwrap(),
                    field("CapPrm:").unwrap(),
                    field("CapAmb:").unwrap(),
                ))
            }
            "alloc" => vsys.allocate(Mode::Tap).map_err(core).map(|t| {
                let n = t.name().to_string();
                tap = Some(t);
                n
            }),
            "vif_up" => {
                let (addr, prefix) = arg.split_once('/').unwrap();
                iface().and_then(|i| {
                    vsys.vif_up(&i, Ipv4Net::new(addr.parse().unwrap(), prefix.parse().unwrap()).unwrap(), &[])
                        .map(|o| format!("{o:?}"))
                        .map_err(core)
                })
            }
            "promisc" => iface().and_then(|i| vsys.promisc(&i, arg == "on").map(|o| format!("{o:?}")).map_err(core)),
            "vif_down" => iface().and_then(|i| vsys.vif_down(&i).map(|o| format!("{o:?}")).map_err(core)),
            "arp" => arp_both_ways(tap.as_ref().unwrap(), &arg),
            "raw" => {
                let (script, req) = arg.split_once('|').unwrap();
                let opts = TransactOptions { deadline: Duration::from_secs(10), ..common::transact_options(&locks) };
                transact(&dir, script, req.as_bytes(), &opts).map(|r| format!("{:?}", r.output)).map_err(core)
            }
            "open_close" => std::fs::OpenOptions::new()
                .write(true)
                .custom_flags(libc::O_NONBLOCK)
                .open(dir.join(&arg))
                .map(|_| "opened and closed".into())
                .map_err(io),
            "send" => {
                let (fifo, req) = arg.split_once('|').unwrap();
                std::fs::OpenOptions::new()
                    .write(true)
                    .custom_flags(libc::O_NONBLOCK)
                    .open(dir.join(fifo))
                    .and_then(|mut f| f.write_all(req.as_bytes()))
                    .map(|_| "sent".into())
                    .map_err(io)
            }
            "connect" => UnixStream::connect(dir.join(&arg)).map(|_| "connected".into()).map_err(io),
            "symlink" => {
                let (target, link) = arg.split_once('|').unwrap();
                std::os::unix::fs::symlink(target, dir.join(link)).map(|_| "linked".into()).map_err(io)
            }
            "rename" => {
                let (from, to) = arg.split_once('|').unwrap();
                std::fs::rename(dir.join(from), dir.join(to)).map(|_| "renamed".into()).map_err(io)
            }
            "unlink" => std::fs::remove_file(dir.join(&arg)).map(|_| "unlinked".into()).map_err(io),
            "create" => std::fs::write(dir.join(&arg), "slice was here").map(|_| "created".into()).map_err(io),
            "read" => std::fs::read_to_string(&arg).map(|s| format!("{s:?}")).map_err(io),
            other => Err(format!("BADSTEP {other}")),
        };
        match r {
            Ok(detail) => println!("STEP {name} OK {detail}"),
            Err(e) => println!("STEP {name} ERR {e}"),
        }
    }
    let _ = std::io::stdout().flush();
    std::process::exit(0);
}

/// The service's view of frames both ways: a datagram to a neighbour makes the kernel
/// send an ARP request out of the tap, which we read; our ARP reply is learned by the
/// kernel (it shows up in `/proc/net/arp`).
fn arp_both_ways(tap: &Tap, arg: &str) -> Result<String, String> {
    let (local, peer) = arg.split_once('>').unwrap();
    let local: Ipv4Addr = local.parse().unwrap();
    let peer: Ipv4Addr = peer.parse().unwrap();
    let sock = std::net::UdpSocket::bind((local, 0)).map_err(|e| format!("EBIND {e}"))?;
    let until = Instant::now() + Duration::from_secs(10);
    let mut buf = vec![0u8; 2048];
    let request = loop {
        if Instant::now() > until {
            return Err("TIMEOUT no ARP request for the peer".into());
        }
        let _ = sock.send_to(b"hello", (peer, 9));
        if !tap.wait_readable(200).map_err(|e| format!("{} {e}", e.code()))? {
            continue;
        }
        let Some(n) = tap.recv(&mut buf).map_err(|e| format!("{} {e}", e.code()))? else { continue };
        let f = &buf[..n];
        if n >= 42 && f[12..14] == [0x08, 0x06] && f[20..22] == [0, 1] && f[38..42] == peer.octets() {
            break f.to_vec();
        }
    };
    let their_mac: [u8; 6] = request[6..12].try_into().unwrap();
    let mine = [0x02, 0x00, 0x00, 0x00, 0x10, 0x02];
    let mut reply = Vec::new();
    reply.extend_from_slice(&their_mac);
    reply.extend_from_slice(&mine);
    reply.extend_from_slice(&[0x08, 0x06, 0, 1, 0x08, 0, 6, 4, 0, 2]);
    reply.extend_from_slice(&mine);
    reply.extend_from_slice(&peer.octets());
    reply.extend_from_slice(&their_mac);
    reply.extend_from_slice(&local.octets());
    tap.send(&reply).map_err(|e| format!("{} {e}", e.code()))?;
    let want = format!("{peer} ");
    loop {
        let table = std::fs::read_to_string("/proc/thread-self/net/arp").unwrap();
        if let Some(line) = table.lines().find(|l| l.starts_with(&want) && l.contains("02:00:00:00:10:02")) {
            return Ok(line.split_whitespace().collect::<Vec<_>>().join(" "));
        }
        if Instant::now() > until {
            return Err(format!("TIMEOUT the kernel did not learn our reply: {table}"));
        }
        std::thread::sleep(Duration::from_millis(10));
    }
}

/// One step's outcome, as the child printed it.
#[derive(Debug)]
struct Step {
    ok: bool,
    /// `OK` detail, or `ERR <code> <message>` without `ERR `.
    text: String,
}

impl Step {
    fn code(&self) -> &str {
        self.text.split_whitespace().next().unwrap_or("")
    }
}

/// Runs the steps as `uid` (gid = uid) with no capabilities, and with only the
/// supplementary groups `groups` (none: `--clear-groups`). Returns the steps' outcomes
/// in order.
fn as_uid(uid: u32, groups: &[u32], dir: &Path, locks: &Path, steps: &[&str]) -> Vec<Step> {
    let exe = std::env::current_exe().unwrap();
    let mut cmd = Command::new("setpriv");
    cmd.args(["--reuid", &uid.to_string(), "--regid", &uid.to_string()]);
    if groups.is_empty() {
        cmd.arg("--clear-groups");
    } else {
        cmd.args(["--groups", &groups.iter().map(u32::to_string).collect::<Vec<_>>().join(",")]);
    }
    cmd.args(["--inh-caps=-all", "--"]).arg(exe).args([
        "slice_client_child",
        "--exact",
        "--nocapture",
        "--test-threads=1",
    ]);
    cmd.env("PLTAP_CHILD_STEPS", steps.join(";"))
        .env("PLTAP_CHILD_DIR", dir)
        .env("PLTAP_CHILD_LOCKS", locks)
        .stdin(Stdio::null());
    let out = cmd.output().expect("run the child under setpriv");
    let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
    let got: Vec<Step> = stdout
        .lines()
        // The first step shares its line with libtest's "test slice_client_child ... ".
        .filter_map(|l| l.find("STEP ").map(|i| &l[i + 5..]))
        .map(|l| {
            let (_, rest) = l.split_once(' ').unwrap();
            match rest.split_once(' ').unwrap_or((rest, "")) {
                ("OK", t) => Step { ok: true, text: t.to_string() },
                (_, t) => Step { ok: false, text: t.to_string() },
            }
        })
        .collect();
    assert_eq!(
        got.len(),
        steps.len(),
        "the child ran {} of {} steps; stdout: {stdout}; stderr: {}",
        got.len(),
        steps.len(),
        String::from_utf8_lossy(&out.stderr)
    );
    got
}

/// A lock directory the unprivileged client may use (the client's cross-process lock
/// files must not be shared with root's).
fn slice_locks(tmp: &TempDir, uid: u32) -> PathBuf {
    let p = tmp.path().join(format!("locks-{uid}"));
    std::fs::create_dir(&p).unwrap();
    std::os::unix::fs::chown(&p, Some(uid), Some(uid)).unwrap();
    p
}

// ---------------------------------------------------------------------------------------
// What must stay untouched.
// ---------------------------------------------------------------------------------------

/// A root-only file and another slice's device, checked after every attack.
struct Sentinel {
    file: PathBuf,
    content: String,
    other: Tap,
    other_flags: pltap_core::IfFlags,
}

impl Sentinel {
    fn new(tmp: &TempDir) -> Sentinel {
        let file = tmp.path().join("root-secret");
        let content = "root only: not for the slice\n".to_string();
        std::fs::write(&file, &content).unwrap();
        std::fs::set_permissions(&file, std::fs::Permissions::from_mode(0o600)).unwrap();
        let other = Tap::open(&TapOptions {
            mode: Mode::Tap,
            name: Some(IfName::new(&format!("tap{OTHER}-0")).unwrap()),
            packet_info: true,
            vnet_hdr: false,
        })
        .unwrap();
        let i = other.iface();
        i.set_ipv4(Ipv4Net::new(Ipv4Addr::new(198, 19, 200, 1), 24).unwrap()).unwrap();
        i.set_up(true).unwrap();
        let other_flags = i.flags().unwrap();
        Sentinel { file, content, other, other_flags }
    }

    fn check(&self) {
        let m = std::fs::symlink_metadata(&self.file).unwrap();
        assert!(m.file_type().is_file(), "the root-only file is still a regular file");
        assert_eq!((m.uid(), m.mode() & 0o7777), (0, 0o600));
        assert_eq!(std::fs::read_to_string(&self.file).unwrap(), self.content, "the root-only file is untouched");
        let i = self.other.iface();
        assert_eq!(i.flags().unwrap(), self.other_flags, "the other slice's device is unchanged");
        assert_eq!(i.ipv4().unwrap(), Some(Ipv4Net::new(Ipv4Addr::new(198, 19, 200, 1), 24).unwrap()));
    }
}

/// The helper still serves: a device, and a vif_up/vif_down on it, as root.
fn still_serving(dir: &Path, tmp: &TempDir) {
    let vsys = client(dir, tmp.path());
    let tap = vsys.allocate(Mode::Tap).expect("the helper still allocates");
    vsys.vif_up(&tap.iface(), Ipv4Net::new(Ipv4Addr::new(198, 18, 99, 1), 24).unwrap(), &[])
        .expect("the helper still runs vif_up");
    vsys.vif_down(&tap.iface()).expect("the helper still runs vif_down");
}

fn stat(p: &Path) -> std::fs::Metadata {
    std::fs::symlink_metadata(p).unwrap_or_else(|e| panic!("stat {}: {e}", p.display()))
}

/// (uid, gid, mode & 07777) of a path.
fn owner_mode(p: &Path) -> (u32, u32, u32) {
    let m = stat(p);
    (m.uid(), m.gid(), m.mode() & 0o7777)
}

/// Name → (dev, ino) of everything in `dir`.
fn inodes(dir: &Path) -> HashMap<String, (u64, u64)> {
    std::fs::read_dir(dir)
        .unwrap()
        .map(|e| {
            let e = e.unwrap();
            let m = std::fs::symlink_metadata(e.path()).unwrap();
            (e.file_name().into_string().unwrap(), (m.dev(), m.ino()))
        })
        .collect()
}

/// The helper's CPU time (user + system) in clock ticks.
fn cpu_ticks(pid: u32) -> u64 {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap();
    let after = &stat[stat.rfind(')').unwrap() + 2..];
    let f: Vec<&str> = after.split_whitespace().collect();
    f[11].parse::<u64>().unwrap() + f[12].parse::<u64>().unwrap()
}

// ---------------------------------------------------------------------------------------
// The tests.
// ---------------------------------------------------------------------------------------

/// `pltap vsysd --dir D --slice-uid 1000` alone: uid 1000 with no capabilities and no
/// supplementary groups allocates, configures and uses its device; uid 1001 is refused.
#[test]
fn an_unprivileged_slice_uses_its_device_and_others_are_refused() {
    privileged_with_setpriv(|| {
        let tmp = TempDir::new("slice");
        let dir = tmp.path().join("vsys");
        let d = dir.to_str().unwrap();
        let helper = Helper::start(&["--dir", d, "--slice-uid", "1000", "--vnet", "198.18.0.0/16"]);

        // The ownership model.
        assert_eq!(owner_mode(&dir), (0, SLICE, 0o750), "D");
        for e in ENTRIES {
            assert_eq!(owner_mode(&dir.join(e)), (0, SLICE, 0o660), "{e}");
        }
        assert_eq!(owner_mode(&dir.join(LOCK)), (0, 0, 0o600), "the lock file");
        let lock_pid = std::fs::read_to_string(dir.join(LOCK)).unwrap();
        assert_eq!(lock_pid.trim(), helper.pid().to_string());

        let locks = slice_locks(&tmp, SLICE);
        let steps = as_uid(
            SLICE,
            &[],
            &dir,
            &locks,
            &[
                "whoami",
                "alloc",
                "vif_up 198.18.0.1/24",
                "arp 198.18.0.1>198.18.0.2",
                "promisc on",
                "promisc off",
                "vif_down",
            ],
        );
        let who = &steps[0].text;
        assert!(who.contains("uid=1000,1000,1000,1000") && who.contains("gid=1000,1000,1000,1000"), "{who}");
        assert!(who.contains("groups= ") || who.contains("groups= capeff"), "no supplementary groups: {who}");
        for cap in ["capeff=0000000000000000", "capprm=0000000000000000", "capamb=0000000000000000"] {
            assert!(who.contains(cap), "no capabilities: {who}");
        }
        assert!(steps[1].ok && steps[1].text == "tap1000-0", "alloc: {:?}", steps[1]);
        for (i, what) in [(2, "vif_up"), (3, "arp"), (4, "promisc on"), (5, "promisc off"), (6, "vif_down")] {
            assert!(steps[i].ok, "{what}: {:?}; log: {}", steps[i], helper.stderr());
        }
        assert!(steps[3].text.contains("02:00:00:00:10:02"), "{:?}", steps[3]);
        assert!(helper.wait_log("fd_tuntap [TAP] sent tap1000-0", Duration::from_secs(5)), "{}", helper.stderr());
        assert!(helper.wait_log("vif_down [tap1000-0] replied", Duration::from_secs(5)), "{}", helper.stderr());

        // uid 1001 without the group: the modes keep it out.
        let locks_other = slice_locks(&tmp, OTHER);
        let steps =
            as_uid(OTHER, &[], &dir, &locks_other, &["alloc", "connect fd_tuntap.control", "open_close vif_up.in"]);
        assert!(!steps[0].ok && steps[0].code() == "EACCES", "{:?}", steps[0]);
        assert!(!steps[1].ok && steps[1].code() == "EACCES", "{:?}", steps[1]);
        assert!(!steps[2].ok && steps[2].code() == "EACCES", "{:?}", steps[2]);

        // uid 1001 *with* the group (an operator gave it access to the socket): the
        // helper checks SO_PEERCRED and sends a refusal the client reports as such.
        let steps = as_uid(OTHER, &[SLICE], &dir, &locks_other, &["alloc"]);
        assert!(!steps[0].ok, "{:?}", steps[0]);
        assert_eq!(steps[0].code(), "ERR_VSYS_REFUSED", "{:?}", steps[0]);
        assert!(steps[0].text.contains("refused: uid 1001 may not allocate devices for slice 1000"), "{:?}", steps[0]);
        assert!(helper.wait_log("fd_tuntap refused uid 1001", Duration::from_secs(5)), "{}", helper.stderr());
        assert!(Iface::new(IfName::new("tap1000-0").unwrap()).unwrap().flags().is_err(), "no device was made for 1001");

        still_serving(&dir, &tmp);
        helper.stop();
        assert!(!dir.exists(), "the directory the helper created is removed");
    });
}

/// `--allow-uid` extends fd_tuntap to another uid (which still needs access to the
/// socket, here through the group); the devices stay the slice's.
#[test]
fn allow_uid_lets_another_uid_allocate_for_the_slice() {
    privileged_with_setpriv(|| {
        let tmp = TempDir::new("allow");
        let dir = tmp.path().join("vsys");
        let helper = Helper::start(&["--dir", dir.to_str().unwrap(), "--allow-uid", "1001"]);
        let locks = slice_locks(&tmp, OTHER);
        let steps = as_uid(OTHER, &[SLICE], &dir, &locks, &["alloc", "vif_up 198.18.5.1/24"]);
        assert!(steps[0].ok && steps[0].text == "tap1000-0", "{:?}; {}", steps[0], helper.stderr());
        assert!(steps[1].ok, "{:?}", steps[1]);
        helper.stop();
    });
}

/// Attack: swap `S.out` / `S.in` for symlinks (the root helper wrote the slice's text
/// into a root-only file, or read one and echoed it). The slice cannot write D; an
/// operator who makes D group-writable gets a helper that refuses to start; and even
/// if D becomes writable while the helper runs, it never follows the new names.
#[test]
fn the_slice_cannot_redirect_the_fifos() {
    privileged_with_setpriv(|| {
        let tmp = TempDir::new("swap");
        let sentinel = Sentinel::new(&tmp);
        let secret = sentinel.file.to_str().unwrap().to_string();
        let dir = tmp.path().join("vsys");
        let d = dir.to_str().unwrap().to_string();
        let helper = Helper::start(&["--dir", &d]);
        let before = inodes(&dir);
        let locks = slice_locks(&tmp, SLICE);

        // 1. The slice cannot change D at all.
        let steps = as_uid(
            SLICE,
            &[],
            &dir,
            &locks,
            &[
                &format!("symlink {secret}|evil"),
                "rename vif_up.out|vif_up.out.orig",
                "unlink vif_up.in",
                "create vif_up.out.new",
                &format!("read {secret}"),
            ],
        );
        for s in &steps {
            assert!(!s.ok && s.code() == "EACCES", "{s:?}");
        }
        assert_eq!(inodes(&dir), before, "D is unchanged");
        sentinel.check();

        // 2. If D is made group-writable while the helper runs, the slice can swap the
        // names, but the helper keeps using its own inodes: the root-only file is never
        // written or read, and the entry pauses with one log line, not a spin.
        std::fs::set_permissions(&dir, std::fs::Permissions::from_mode(0o770)).unwrap();
        let steps = as_uid(
            SLICE,
            &[],
            &dir,
            &locks,
            &[
                "rename vif_up.out|vif_up.out.orig",
                &format!("symlink {secret}|vif_up.out"),
                "send vif_up.in|tap1000-0\\n198.18.0.1\\n24\\n",
                "rename vif_up.in|vif_up.in.orig",
                &format!("symlink {secret}|vif_up.in"),
                "send vif_up.in.orig|tap1000-0\\n198.18.0.1\\n24\\n",
            ],
        );
        for (i, s) in steps.iter().enumerate() {
            assert!(s.ok, "step {i}: {s:?}");
        }
        assert!(
            helper.wait_log("vif_up: vif_up.in was replaced by a symlink", Duration::from_secs(10))
                || helper.wait_log("vif_up: vif_up.out was replaced by a symlink", Duration::from_secs(1)),
            "{}",
            helper.stderr()
        );
        // Quiet and idle while paused.
        let t0 = cpu_ticks(helper.pid());
        let lines0 = helper.stderr().lines().count();
        let window = Instant::now();
        while window.elapsed() < Duration::from_millis(1500) {
            std::thread::sleep(Duration::from_millis(50));
        }
        let used = cpu_ticks(helper.pid()) - t0;
        assert!(used <= 30, "the helper used {used} ticks in 1.5 s while paused");
        let added = helper.stderr().lines().count() - lines0;
        assert!(added <= 2, "{added} log lines while paused: {}", helper.stderr());
        sentinel.check();
        // The other entries are unaffected.
        let steps = as_uid(SLICE, &[], &dir, &locks, &["raw vif_down|tap1000-77x\\n"]);
        assert_eq!(steps[0].text, "\"Interface name tap1000-77x does not match slice id 1000.\\n\"", "{:?}", steps[0]);

        // Restoring the names resumes the entry.
        for name in ["vif_up.in", "vif_up.out"] {
            std::fs::remove_file(dir.join(name)).unwrap();
            std::fs::rename(dir.join(format!("{name}.orig")), dir.join(name)).unwrap();
        }
        std::fs::set_permissions(&dir, std::fs::Permissions::from_mode(0o750)).unwrap();
        assert!(
            helper.wait_log("vif_up: the FIFOs are back; serving again", Duration::from_secs(10)),
            "{}",
            helper.stderr()
        );
        still_serving(&dir, &tmp);
        sentinel.check();
        helper.stop();

        // 3. A helper asked to serve a group-writable D refuses, naming D and the fix.
        std::fs::create_dir(&dir).unwrap();
        std::fs::set_permissions(&dir, std::fs::Permissions::from_mode(0o770)).unwrap();
        std::os::unix::fs::chown(&dir, Some(0), Some(SLICE)).unwrap();
        let r = run_helper_to_exit(&["--dir", &d]);
        assert_eq!(r.status.and_then(|s| s.code()), Some(1), "{}", r.stderr);
        assert!(
            r.stderr.contains(&format!("refusing to serve {d}: it is writable by its group (mode 0770)")),
            "{}",
            r.stderr
        );
        assert!(r.stderr.contains(&format!("chmod go-w {d}")), "{}", r.stderr);
        assert!(r.stdout.is_empty());
        assert_eq!(std::fs::read_dir(&dir).unwrap().count(), 0, "a refused helper creates nothing");
        sentinel.check();
    });
}

/// Attack: a pre-existing D that is world-writable, another user's, a symlink, or under
/// a parent others can write. Each is refused with a message naming the path and the
/// fix, and left as it was; the safe variants are served.
#[test]
fn unsafe_directories_are_refused_and_safe_ones_served() {
    privileged(|| {
        let tmp = TempDir::new("dirs");
        let sentinel = Sentinel::new(&tmp);
        let base = tmp.path();
        let mk = |rel: &str, mode: u32, uid: u32| -> PathBuf {
            let p = base.join(rel);
            std::fs::create_dir_all(&p).unwrap();
            std::fs::set_permissions(&p, std::fs::Permissions::from_mode(mode)).unwrap();
            std::os::unix::fs::chown(&p, Some(uid), Some(uid)).unwrap();
            p
        };
        let refused = |d: &Path, want: &[&str]| {
            let listing = |p: &Path| -> Vec<String> {
                match std::fs::read_dir(p) {
                    Ok(r) => {
                        let mut v: Vec<String> = r.map(|e| e.unwrap().file_name().into_string().unwrap()).collect();
                        v.sort();
                        v
                    }
                    Err(_) => vec![],
                }
            };
            let before = (std::fs::symlink_metadata(d).ok().map(|m| (m.uid(), m.mode())), listing(d));
            let r = run_helper_to_exit(&["--dir", d.to_str().unwrap()]);
            assert_eq!(r.status.and_then(|s| s.code()), Some(1), "{}: {}", d.display(), r.stderr);
            for w in want {
                assert!(r.stderr.contains(w), "{}: want {w:?} in {}", d.display(), r.stderr);
            }
            let after = (std::fs::symlink_metadata(d).ok().map(|m| (m.uid(), m.mode())), listing(d));
            assert_eq!(before, after, "{}: a refused helper changes nothing", d.display());
            r.stderr
        };

        // D itself.
        let d = mk("world/vsys", 0o777, 0);
        refused(
            &d,
            &[&format!("refusing to serve {}: it is writable by everyone (mode 0777)", d.display()), "chmod go-w"],
        );
        let d = mk("sticky/vsys", 0o1777, 0);
        refused(&d, &["writable by everyone (mode 1777)"]);
        let d = mk("theirs/vsys", 0o755, SLICE);
        refused(&d, &[&format!("refusing to serve {}: it is owned by uid 1000, not root", d.display()), "chown root"]);
        let real = mk("real/vsys", 0o755, 0);
        let link = base.join("real/link");
        std::os::unix::fs::symlink(&real, &link).unwrap();
        refused(&link, &[&format!("refusing to serve {}: it is a symlink", link.display())]);
        let file = base.join("real/file");
        std::fs::write(&file, "x").unwrap();
        refused(&file, &["it is not a directory"]);

        // Its parents.
        let p = mk("open", 0o777, 0);
        let d = p.join("vsys");
        refused(
            &d,
            &[
                &format!(
                    "refusing to serve under {}: it is writable by everyone (mode 0777) without the sticky bit",
                    p.display()
                ),
                "chmod go-w",
            ],
        );
        assert!(!d.exists(), "nothing was created under the unsafe parent");
        let p = mk("grp", 0o775, 0);
        refused(&p.join("vsys"), &["writable by its group (mode 0775) without the sticky bit"]);
        let p = mk("user", 0o755, SLICE);
        refused(
            &p.join("sub/vsys"),
            &[&format!("refusing to serve under {}: it is owned by uid 1000, not root", p.display())],
        );
        // A symlink on the way that the slice owns (it could repoint it).
        let target = mk("target", 0o755, 0);
        let hop = base.join("hop");
        std::os::unix::fs::symlink(&target, &hop).unwrap();
        std::os::unix::fs::lchown(&hop, Some(SLICE), Some(SLICE)).unwrap();
        refused(&hop.join("vsys"), &[&format!("{} is a symlink owned by uid 1000", hop.display())]);

        // Safe variants are served: a sticky world-writable parent (like /tmp), a
        // root-owned symlink on the way, a pre-existing root-owned 0700 D (the helper
        // sets its group and mode).
        let sticky = mk("tmpish", 0o1777, 0);
        let h = Helper::start(&["--dir", sticky.join("vsys").to_str().unwrap()]);
        h.stop();
        let rootlink = base.join("rootlink");
        std::os::unix::fs::symlink(&target, &rootlink).unwrap();
        let via = rootlink.join("vsys");
        let h = Helper::start(&["--dir", via.to_str().unwrap()]);
        assert!(target.join("vsys/fd_tuntap.control").exists(), "served in the symlink's target");
        still_serving(&via, &tmp);
        h.stop();
        let pre = mk("pre/vsys", 0o700, 0);
        std::fs::write(pre.join("keep"), "operator's").unwrap();
        let h = Helper::start(&["--dir", pre.to_str().unwrap()]);
        assert_eq!(owner_mode(&pre), (0, SLICE, 0o750));
        h.stop();
        let left: Vec<_> = std::fs::read_dir(&pre).unwrap().map(|e| e.unwrap().file_name()).collect();
        assert_eq!(left, vec![std::ffi::OsString::from("keep")], "only the helper's entries are removed");
        sentinel.check();
    });
}

/// Attack: a second helper on the same D (it took over silently, and removed the first
/// one's entries when it stopped). Now it refuses to start and touches nothing.
#[test]
fn a_second_helper_is_refused_and_the_first_keeps_serving() {
    privileged(|| {
        let tmp = TempDir::new("second");
        let dir = tmp.path().join("vsys");
        let d = dir.to_str().unwrap();
        let first = Helper::start(&["--dir", d]);
        let before = inodes(&dir);
        assert_eq!(before.len(), ENTRIES.len() + 1);
        for args in [&["--dir", d][..], &["--dir", d, "--slice-uid", "1001", "--mode", "0666"]] {
            let r = run_helper_to_exit(args);
            assert_eq!(r.status.and_then(|s| s.code()), Some(1), "{}", r.stderr);
            let want = format!(
                "refusing to serve {d}: another pltap-vsysd (pid {}) already serves it (it holds {d}/{LOCK}); stop that helper first",
                first.pid()
            );
            assert!(r.stderr.contains(&want), "{}", r.stderr);
        }
        assert_eq!(inodes(&dir), before, "the first helper's entries are intact");
        assert_eq!(owner_mode(&dir), (0, SLICE, 0o750), "and D's mode too");
        still_serving(&dir, &tmp);

        // When the first one stops, everything goes, lock file last; then a new one
        // starts normally.
        first.stop();
        assert!(!dir.exists());
        let again = Helper::start(&["--dir", d]);
        still_serving(&dir, &tmp);
        again.stop();
    });
}

/// Attack: open and close `S.in` without a request (the helper answered it, and the
/// next client read that answer as its own). Now there is no reply, and every real
/// client gets its own, also in a burst with such opens interleaved.
#[test]
fn an_empty_request_gets_no_reply_and_every_client_its_own() {
    privileged_with_setpriv(|| {
        let tmp = TempDir::new("empty");
        let sentinel = Sentinel::new(&tmp);
        let dir = tmp.path().join("vsys");
        let helper = Helper::start(&["--dir", dir.to_str().unwrap()]);
        let locks = slice_locks(&tmp, SLICE);
        // As the slice: empty opens, then a real request, whose reply must be its own.
        let steps = as_uid(
            SLICE,
            &[],
            &dir,
            &locks,
            &[
                "open_close vif_down.in",
                "open_close vif_down.in",
                "raw vif_down|tap1000-5x\\n",
                "open_close vif_down.in",
                "raw vif_down|tap1000-6x\\n",
            ],
        );
        assert!(steps[0].ok && steps[1].ok && steps[3].ok, "{steps:?}");
        assert_eq!(steps[2].text, "\"Interface name tap1000-5x does not match slice id 1000.\\n\"");
        assert_eq!(steps[4].text, "\"Interface name tap1000-6x does not match slice id 1000.\\n\"");
        assert!(!helper.stderr().contains("Insufficient argument lines"), "{}", helper.stderr());

        // A burst of 5 real clients, each preceded by an empty open, on devices of
        // their own: every vif_up succeeds with no foreign reply.
        let vsys = client(&dir, tmp.path());
        let taps: Vec<Tap> = (0..5).map(|_| vsys.allocate(Mode::Tap).unwrap()).collect();
        std::thread::scope(|s| {
            for (i, tap) in taps.iter().enumerate() {
                let vsys = vsys.clone();
                let dir = dir.clone();
                s.spawn(move || {
                    drop(
                        std::fs::OpenOptions::new()
                            .write(true)
                            .custom_flags(libc::O_NONBLOCK)
                            .open(dir.join("vif_up.in")),
                    );
                    let out = vsys.vif_up(
                        &tap.iface(),
                        Ipv4Net::new(Ipv4Addr::new(198, 18, 40 + i as u8, 1), 24).unwrap(),
                        &[],
                    );
                    assert_eq!(out.expect("vif_up in the burst").warning, None, "client {i} got a foreign reply");
                });
            }
        });
        for (i, tap) in taps.iter().enumerate() {
            assert_eq!(
                tap.iface().ipv4().unwrap(),
                Some(Ipv4Net::new(Ipv4Addr::new(198, 18, 40 + i as u8, 1), 24).unwrap())
            );
        }
        sentinel.check();
        helper.stop();
    });
}

/// Attack: hold `S.in` open without writing (every client blocked until the helper's
/// 5 s request deadline, then got an error). Now the next client's request is served
/// after the 200 ms idle gap.
#[test]
fn an_idle_writer_does_not_block_the_next_client() {
    privileged(|| {
        let tmp = TempDir::new("idle");
        let dir = tmp.path().join("vsys");
        let helper = Helper::start(&["--dir", dir.to_str().unwrap()]);
        let vsys = client(&dir, tmp.path());
        let tap = vsys.allocate(Mode::Tap).unwrap();
        let _idle =
            std::fs::OpenOptions::new().write(true).custom_flags(libc::O_NONBLOCK).open(dir.join("vif_up.in")).unwrap();
        let _idle2 = std::fs::OpenOptions::new()
            .write(true)
            .custom_flags(libc::O_NONBLOCK)
            .open(dir.join("promisc.in"))
            .unwrap();
        for i in 0..3u8 {
            let t0 = Instant::now();
            let out = vsys
                .vif_up(&tap.iface(), Ipv4Net::new(Ipv4Addr::new(198, 18, 50, 1 + i), 24).unwrap(), &[])
                .expect("vif_up next to an idle writer");
            assert_eq!(out.warning, None);
            assert!(t0.elapsed() < Duration::from_secs(3), "vif_up took {:?} next to an idle writer", t0.elapsed());
            let t0 = Instant::now();
            vsys.promisc(&tap.iface(), i % 2 == 0).expect("promisc next to an idle writer");
            assert!(t0.elapsed() < Duration::from_secs(3), "promisc took {:?}", t0.elapsed());
        }
        assert!(!helper.stderr().contains("not terminated"), "{}", helper.stderr());
        helper.stop();
    });
}

/// Attack: unlimited devices and one thread per connection (300 devices in 0.1 s).
/// Now `--max-devices` and `--max-connections` refuse clearly, and the devices that
/// exist are untouched.
#[test]
fn device_limit_and_connection_bound_refuse_clearly() {
    privileged(|| {
        let tmp = TempDir::new("limits");
        let sentinel = Sentinel::new(&tmp);
        let dir = tmp.path().join("vsys");
        let helper = Helper::start(&["--dir", dir.to_str().unwrap(), "--max-devices", "2"]);
        let vsys = client(&dir, tmp.path());
        // A slice device made by someone else counts too.
        let direct = Tap::open(&TapOptions {
            mode: Mode::Tun,
            name: Some(IfName::new("tun1000-7").unwrap()),
            packet_info: true,
            vnet_hdr: false,
        })
        .unwrap();
        let first = vsys.allocate(Mode::Tap).expect("the second device is within the limit");
        let err = vsys.allocate(Mode::Tap).unwrap_err();
        assert_eq!(err.code(), "ERR_VSYS_REFUSED", "{err}");
        assert!(err.to_string().contains("refused: slice 1000 already has 2 devices"), "{err}");
        assert!(err.to_string().contains("--max-devices 2"), "{err}");
        let err = vsys.allocate(Mode::Tun).unwrap_err();
        assert_eq!(err.code(), "ERR_VSYS_REFUSED", "{err}");
        // Concurrent requests cannot overshoot.
        drop(direct);
        let got: Vec<_> = std::thread::scope(|s| {
            let hs: Vec<_> = (0..6)
                .map(|_| {
                    let vsys = vsys.clone();
                    s.spawn(move || vsys.allocate(Mode::Tap))
                })
                .collect();
            hs.into_iter().map(|h| h.join().unwrap()).collect()
        });
        assert_eq!(got.iter().filter(|r| r.is_ok()).count(), 1, "exactly one more fits: {got:?}");
        assert!(first.iface().flags().is_ok(), "the existing device is untouched");
        drop(got);
        helper.stop();

        // Two connections that send nothing occupy both slots of a helper with
        // --max-connections 2; the third is refused at once, with the reason.
        let helper = Helper::start(&["--dir", dir.to_str().unwrap(), "--max-connections", "2"]);
        let idle: Vec<UnixStream> =
            (0..2).map(|_| UnixStream::connect(dir.join("fd_tuntap.control")).unwrap()).collect();
        let t0 = Instant::now();
        let err = vsys.allocate(Mode::Tap).unwrap_err();
        assert_eq!(err.code(), "ERR_VSYS_REFUSED", "{err}");
        assert!(err.to_string().contains("too many connections in progress (--max-connections 2)"), "{err}");
        assert!(t0.elapsed() < Duration::from_secs(2), "refused after {:?}", t0.elapsed());
        assert!(helper.wait_log("connections in progress", Duration::from_secs(5)), "{}", helper.stderr());
        // Their slots free up when they go.
        for s in &idle {
            let mut buf = [0u8; 128];
            s.shutdown(std::net::Shutdown::Write).unwrap();
            s.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
            let n = (&*s).read(&mut buf).unwrap();
            assert!(String::from_utf8_lossy(&buf[..n]).starts_with("refused: short request: 0 of 4 bytes"));
        }
        drop(idle);
        drop(first);
        let until = Instant::now() + Duration::from_secs(10);
        let tap = loop {
            match vsys.allocate(Mode::Tap) {
                Ok(t) => break t,
                Err(e) if Instant::now() < until && e.code() == "ERR_VSYS_REFUSED" => {
                    std::thread::sleep(Duration::from_millis(20))
                }
                Err(e) => panic!("allocate after the idle connections left: {e}"),
            }
        };
        assert!(tap.name().as_str().starts_with("tap1000-"));
        sentinel.check();
        helper.stop();
    });
}

/// The helper's log under a flood of refused connections stays bounded.
#[test]
fn refusals_are_logged_without_flooding() {
    privileged(|| {
        let tmp = TempDir::new("flood");
        let dir = tmp.path().join("vsys");
        let helper = Helper::start(&["--dir", dir.to_str().unwrap(), "--slice-uid", "1000"]);
        let sock = dir.join("fd_tuntap.control");
        let t0 = Instant::now();
        for _ in 0..300 {
            let mut s = UnixStream::connect(&sock).unwrap();
            let _ = s.write_all(&0x1002i32.to_ne_bytes());
            let mut buf = [0u8; 256];
            s.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
            let n = pltap_core::sys::recv_with_fds(s.as_fd(), &mut buf, 1).unwrap().len;
            assert!(buf[..n].starts_with(b"refused: if_type 0x1002"));
        }
        // At most 10 lines per 10 s window (plus one "left out" line per window).
        let windows = t0.elapsed().as_secs() as usize / 10 + 1;
        let log = helper.stderr();
        let lines = log.lines().filter(|l| l.contains("fd_tuntap refused")).count();
        assert!((1..=10 * windows).contains(&lines), "{lines} refusal lines for 300 refusals in {windows} windows");
        still_serving(&dir, &tmp);
        helper.stop();
    });
}

/// SIGHUP stops the binary like SIGTERM, and a SIGTERM that arrives while it is still
/// creating its entries (before "serving") also leaves nothing behind.
#[test]
fn sighup_and_an_early_sigterm_remove_the_entries() {
    privileged(|| {
        let tmp = TempDir::new("signals");
        let dir = tmp.path().join("vsys");
        let d = dir.to_str().unwrap();
        let mut h = Helper::start(&["--dir", d]);
        h.signal("HUP");
        let st = h.wait_exit(Duration::from_secs(10)).expect("exit on SIGHUP");
        assert!(st.success(), "{st:?}: {}", h.stderr());
        assert!(h.stderr().contains("stopping (SIGHUP)"), "{}", h.stderr());
        assert!(!dir.exists(), "SIGHUP removed everything");

        for round in 0..5 {
            let mut child = Command::new(common::BIN)
                .args(["--dir", d])
                .stdin(Stdio::null())
                .stdout(Stdio::piped())
                .stderr(Stdio::piped())
                .spawn()
                .unwrap();
            // As soon as anything exists in D, the helper is past its signal setup.
            let until = Instant::now() + Duration::from_secs(10);
            while !dir.join(LOCK).exists() {
                assert!(Instant::now() < until, "the helper never took its lock");
                std::thread::yield_now();
            }
            let st = Command::new("kill").args(["-TERM", &child.id().to_string()]).status().unwrap();
            assert!(st.success());
            let until = Instant::now() + Duration::from_secs(10);
            let st = loop {
                if let Some(st) = child.try_wait().unwrap() {
                    break st;
                }
                assert!(Instant::now() < until, "no exit after an early SIGTERM");
                std::thread::sleep(Duration::from_millis(5));
            };
            let mut err = String::new();
            child.stderr.take().unwrap().read_to_string(&mut err).unwrap();
            assert!(st.success(), "round {round}: {st:?}: {err}");
            assert!(
                !dir.exists(),
                "round {round}: an early SIGTERM left {:?}",
                std::fs::read_dir(&dir).map(|r| r.count())
            );
        }
    });
}

/// `--owner`, `--group` and `--mode` set the entries exactly, whatever the umask, and
/// the directory's mode follows from them.
#[test]
fn ownership_options_set_exact_owners_and_modes() {
    privileged_with_setpriv(|| {
        let tmp = TempDir::new("modes");
        let dir = tmp.path().join("vsys");
        let d = dir.to_str().unwrap();
        // The slice owns its entries, mode 0600; D is root:1000 0750 (the owner reaches
        // them through the group). The helper runs with umask 0 and with umask 0777.
        for umask in ["0", "0777"] {
            let h = Helper::start_with_umask(umask, &["--dir", d, "--owner", "1000", "--mode", "600"]);
            assert_eq!(owner_mode(&dir), (0, SLICE, 0o750), "umask {umask}");
            for e in ENTRIES {
                assert_eq!(owner_mode(&dir.join(e)), (SLICE, SLICE, 0o600), "{e} with umask {umask}");
            }
            assert_eq!(owner_mode(&dir.join(LOCK)), (0, 0, 0o600));
            let locks = slice_locks(&tmp, SLICE);
            let steps = as_uid(SLICE, &[], &dir, &locks, &["alloc", "vif_up 198.18.6.1/24"]);
            assert!(steps[0].ok && steps[1].ok, "{steps:?}");
            h.stop();
            std::fs::remove_dir_all(&locks).unwrap();
        }
        // Another group, and world access: D 0755, entries root:2000 0666. Anyone can
        // reach the socket now, but fd_tuntap still serves only the slice and root.
        let h = Helper::start(&["--dir", d, "--group", "2000", "--mode", "0666"]);
        assert_eq!(owner_mode(&dir), (0, 2000, 0o755));
        for e in ENTRIES {
            assert_eq!(owner_mode(&dir.join(e)), (0, 2000, 0o666), "{e}");
        }
        let locks = slice_locks(&tmp, OTHER);
        let steps = as_uid(OTHER, &[], &dir, &locks, &["alloc"]);
        assert_eq!(steps[0].code(), "ERR_VSYS_REFUSED", "{steps:?}");
        h.stop();
        // A mode with execute or special bits is a usage error.
        for bad in ["0770", "4660", "0661"] {
            let r = run_helper_to_exit(&["--dir", d, "--mode", bad]);
            assert_eq!(r.status.and_then(|s| s.code()), Some(2), "--mode {bad}: {}", r.stderr);
        }
        assert!(!dir.exists());
    });
}
