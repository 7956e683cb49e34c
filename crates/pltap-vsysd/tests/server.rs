//! The library API in-process: `Server::start`, `stop`, `Drop`, and the raw FIFO
//! protocol, each test inside its own network namespace.

mod common;

use common::{TempDir, client, privileged};
use pltap_core::{Error, Ipv4Net, Mode};
use pltap_vsysd::{Config, Server};
use std::fs::OpenOptions;
use std::io::{Read, Write};
use std::net::Ipv4Addr;
use std::os::unix::fs::{FileTypeExt, OpenOptionsExt};
use std::os::unix::net::UnixStream;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

fn config(dir: PathBuf) -> Config {
    Config {
        slice_name: "pl_test".into(),
        vnet: Ipv4Net::new(Ipv4Addr::new(198, 18, 0, 0), 16).unwrap(),
        ..Config::new(dir, 4242)
    }
}

const ENTRIES: [&str; 7] =
    ["vif_up.in", "vif_up.out", "vif_down.in", "vif_down.out", "promisc.in", "promisc.out", "fd_tuntap.control"];

#[test]
fn start_serve_and_stop_promptly() {
    privileged(|| {
        let tmp = TempDir::new("lib");
        let dir = tmp.path().join("vsys");
        let server = Server::start(config(dir.clone())).expect("start");
        assert_eq!(server.dir(), dir);
        assert_eq!(server.slice().uid, 4242);
        for e in ENTRIES {
            assert!(dir.join(e).exists(), "{e}");
        }
        let vsys = client(&dir, tmp.path());
        let tap = vsys.allocate(Mode::Tun).expect("allocate");
        assert_eq!(tap.name().as_str(), "tun4242-0");
        vsys.vif_up(&tap.iface(), Ipv4Net::new(Ipv4Addr::new(198, 18, 1, 1), 30).unwrap(), &[]).expect("vif_up");

        // Clients mid-way must not delay stop: one connected to fd_tuntap without
        // sending, one holding vif_up.in open without closing it.
        let _idle = UnixStream::connect(dir.join("fd_tuntap.control")).unwrap();
        let _out = OpenOptions::new().read(true).custom_flags(libc::O_NONBLOCK).open(dir.join("vif_up.out")).unwrap();
        let mut half = open_writer(&dir.join("vif_up.in"));
        half.write_all(b"tun4242-0\n").unwrap();
        std::thread::sleep(Duration::from_millis(100));

        let t0 = Instant::now();
        server.stop();
        assert!(t0.elapsed() < Duration::from_secs(2), "stop took {:?}", t0.elapsed());
        assert!(!dir.exists(), "the directory it created is gone");
        assert!(tap.iface().flags().unwrap().up, "stopping the helper leaves devices alone");
    });
}

#[test]
fn drop_cleans_up_and_keeps_a_preexisting_directory() {
    privileged(|| {
        let tmp = TempDir::new("drop");
        let dir = tmp.path().to_path_buf();
        // A stale FIFO and a stale socket (a helper that died) are replaced.
        pltap_core::sys::mkfifo(&dir.join("vif_up.in"), 0o600).unwrap();
        drop(std::os::unix::net::UnixListener::bind(dir.join("fd_tuntap.control")).unwrap());
        std::fs::write(dir.join("other"), "mine").unwrap();
        {
            let server = Server::start(config(dir.clone())).expect("start");
            assert!(std::fs::symlink_metadata(dir.join("fd_tuntap.control")).unwrap().file_type().is_socket());
            assert!(std::fs::symlink_metadata(dir.join("vif_up.in")).unwrap().file_type().is_fifo());
            assert!(dir.join(pltap_vsysd::LOCK_FILE).exists());
            let _ = format!("{server:?}");
        } // dropped
        let left: Vec<_> =
            std::fs::read_dir(&dir).unwrap().map(|e| e.unwrap().file_name().into_string().unwrap()).collect();
        assert_eq!(left, vec!["other".to_string()]);
        assert_eq!(std::fs::read_to_string(dir.join("other")).unwrap(), "mine");
    });
}

#[test]
fn start_errors() {
    privileged(|| {
        let tmp = TempDir::new("errors");
        let file = tmp.path().join("file");
        std::fs::write(&file, "").unwrap();
        assert!(Server::start(config(file)).unwrap_err().is_errno(libc::ENOTDIR));
        let missing_parent = tmp.path().join("a/b");
        assert!(Server::start(config(missing_parent.clone())).unwrap_err().is_errno(libc::ENOENT));
        assert!(!missing_parent.exists());
        let mut bad = config(tmp.path().join("v"));
        bad.slice_name = "a\nb".into();
        assert!(matches!(Server::start(bad), Err(Error::InvalidArgument { .. })));
        // Something that is not a FIFO or socket in the way of an entry (a directory,
        // a regular file): refused and left alone, and nothing else is left behind.
        for (what, make) in [
            ("a directory", &(|p: &Path| std::fs::create_dir(p).unwrap()) as &dyn Fn(&Path)),
            ("a regular file", &|p: &Path| std::fs::write(p, "keep").unwrap()),
        ] {
            let dir = tmp.path().join(format!("v-{}", what.len()));
            std::fs::create_dir(&dir).unwrap();
            make(&dir.join("promisc.out"));
            let err = Server::start(config(dir.clone())).unwrap_err();
            assert!(err.is_errno(libc::EEXIST), "{err}");
            assert!(
                err.to_string().contains(&format!("promisc.out: it is {what} that pltap-vsysd did not create")),
                "{err}"
            );
            let left: Vec<_> = std::fs::read_dir(&dir).unwrap().map(|e| e.unwrap().file_name()).collect();
            assert_eq!(left, vec![std::ffi::OsString::from("promisc.out")]);
        }
    });
}

/// The FIFO protocol by hand, including the orders and timings vsys clients use.
#[test]
fn raw_fifo_protocol() {
    privileged(|| {
        let tmp = TempDir::new("raw");
        let dir = tmp.path().join("vsys");
        let _server = Server::start(config(dir.clone())).expect("start");
        let transact = |req: &[u8]| -> String { raw_transact(&dir, "vif_down", req) };
        assert_eq!(transact(b"tap1-0\n"), "Interface name tap1-0 does not match slice id 4242.\n");
        // An empty request (open and close S.in) gets no reply: the next client gets
        // the answer to its own request.
        for _ in 0..3 {
            drop(open_writer(&dir.join("vif_down.in")));
        }
        assert_eq!(transact(b"tap1-1\n"), "Interface name tap1-1 does not match slice id 4242.\n");
        // Repeated transactions: the entry is reopened each time.
        for _ in 0..5 {
            assert_eq!(transact(b"tap4242-0\nx=1\n"), "Unknown option: \"x\"\n");
        }
        // A too-long request is refused, not run.
        let big = vec![b'a'; 70 * 1024];
        assert!(transact(&big).starts_with("Request too long"));
        // An existing name that is not a device: the kernel error is the reply.
        let r = transact(b"tap4242-9\n");
        assert!(r.contains("ENODEV"), "{r}");
        // NEPI's order: S.in first (a blocking open works: the helper always reads
        // it), then S.out, then write and close S.in. (A client that writes first must
        // open S.out within the 200 ms idle gap, or the reply is discarded.)
        let mut input = OpenOptions::new().write(true).open(dir.join("promisc.in")).unwrap();
        let out = OpenOptions::new().read(true).custom_flags(libc::O_NONBLOCK).open(dir.join("promisc.out")).unwrap();
        input.write_all(b"eth0\n").unwrap();
        drop(input);
        assert_eq!(read_reply(out, "promisc"), "Interface name eth0 does not match slice id 4242.\n");
    });
}

/// Opens a FIFO `O_WRONLY|O_NONBLOCK`, retrying `ENXIO`: between two requests the
/// helper closes and reopens its reader (vsys's reopenentry).
fn open_writer(path: &Path) -> std::fs::File {
    let until = Instant::now() + Duration::from_secs(5);
    loop {
        match OpenOptions::new().write(true).custom_flags(libc::O_NONBLOCK).open(path) {
            Ok(f) => return f,
            Err(e) if e.raw_os_error() == Some(libc::ENXIO) && Instant::now() < until => {
                std::thread::sleep(Duration::from_millis(1))
            }
            Err(e) => panic!("open {}: {e}", path.display()),
        }
    }
}

/// vsys's order: open S.out (read, nonblocking), then S.in (write), write, close S.in,
/// read S.out to EOF.
fn raw_transact(dir: &Path, script: &str, req: &[u8]) -> String {
    let out =
        OpenOptions::new().read(true).custom_flags(libc::O_NONBLOCK).open(dir.join(format!("{script}.out"))).unwrap();
    let until = Instant::now() + Duration::from_secs(5);
    let mut input = open_writer(&dir.join(format!("{script}.in")));
    let mut rest = req;
    while !rest.is_empty() {
        match input.write(rest) {
            Ok(n) => rest = &rest[n..],
            Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => std::thread::sleep(Duration::from_millis(1)),
            Err(e) => panic!("write: {e}"),
        }
        assert!(Instant::now() < until, "write timed out");
    }
    drop(input);
    read_reply(out, script)
}

/// Reads a FIFO opened `O_RDONLY|O_NONBLOCK` to the EOF that follows the helper's reply.
fn read_reply(mut out: std::fs::File, script: &str) -> String {
    use std::os::fd::AsFd;
    let until = Instant::now() + Duration::from_secs(5);
    let mut reply = Vec::new();
    let mut buf = [0u8; 4096];
    loop {
        assert!(Instant::now() < until, "no EOF on {script}.out; got {:?}", String::from_utf8_lossy(&reply));
        // Only read after poll reports data or a hang-up: a FIFO reader that has not
        // seen a writer yet reads EOF.
        let mut rev = [0i16];
        pltap_core::sys::poll(&[(out.as_fd(), pltap_core::sys::POLLIN)], &mut rev, 100).unwrap();
        if rev[0] == 0 {
            continue;
        }
        match out.read(&mut buf) {
            Ok(0) => break,
            Ok(n) => reply.extend_from_slice(&buf[..n]),
            Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => {}
            Err(e) => panic!("read: {e}"),
        }
    }
    String::from_utf8(reply).unwrap()
}

#[test]
fn concurrent_allocations_and_scripts() {
    privileged(|| {
        let tmp = TempDir::new("concurrent");
        let dir = tmp.path().join("vsys");
        let _server = Server::start(config(dir.clone())).expect("start");
        let vsys = client(&dir, tmp.path());
        // Threads started here inherit the namespace.
        let taps: Vec<_> = std::thread::scope(|s| {
            let handles: Vec<_> = (0..8u8)
                .map(|i| {
                    let vsys = vsys.clone();
                    s.spawn(move || {
                        let tap = vsys.allocate(Mode::Tap).expect("allocate");
                        let addr = Ipv4Addr::new(198, 18, 10, i + 1);
                        vsys.vif_up(&tap.iface(), Ipv4Net::new(addr, 24).unwrap(), &[]).expect("vif_up");
                        tap
                    })
                })
                .collect();
            handles.into_iter().map(|h| h.join().unwrap()).collect()
        });
        let mut names: Vec<String> = taps.iter().map(|t| t.name().to_string()).collect();
        names.sort();
        names.dedup();
        assert_eq!(names.len(), 8, "{names:?}");
        for tap in &taps {
            assert!(tap.iface().flags().unwrap().up);
        }
    });
}
