//! Fault injection for the vsys client, with test doubles of the helper and the
//! scripts in a temporary vsys root. Doubles are used only because the real `fd_tuntap`
//! and vsys daemon cannot produce these faults on demand.
//!
//! Tests that need a real device run in a network namespace of their own.

mod common;

use common::*;
use pltap_core::sys::{self, POLLIN};
use pltap_core::vsys::{self, CONTROL_SOCKET, Reply, TransactOptions, Vsys};
use pltap_core::{Error, IfName, Mode, Tap, TapOptions};
use std::fs::{File, OpenOptions};
use std::io::{Read, Write};
use std::os::fd::{AsFd, OwnedFd};
use std::os::unix::fs::OpenOptionsExt;
use std::os::unix::net::{UnixListener, UnixStream};
use std::path::{Path, PathBuf};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

/// How long a double waits for the client before giving up (only reached if a test is
/// broken; keeps a failing test from hanging).
const DOUBLE_PATIENCE: Duration = Duration::from_secs(20);

// ---------------------------------------------------------------------------------
// A fake `fd_tuntap` helper.

/// Binds `<dir>/fd_tuntap.control` now (so the client cannot connect too early) and
/// serves `connections` connections on a thread: each gets the 4-byte request read and
/// checked, then `answer` decides what to send.
fn fake_helper<F>(dir: &Path, connections: usize, answer: F) -> JoinHandle<Vec<[u8; 4]>>
where
    F: Fn(UnixStream) + Send + 'static,
{
    let listener = UnixListener::bind(dir.join(CONTROL_SOCKET)).expect("bind the fake control socket");
    listener.set_nonblocking(true).unwrap();
    std::thread::spawn(move || {
        let mut requests = Vec::new();
        for _ in 0..connections {
            let end = Instant::now() + DOUBLE_PATIENCE;
            let stream = loop {
                match listener.accept() {
                    Ok((s, _)) => break s,
                    Err(e) if e.kind() == std::io::ErrorKind::WouldBlock && Instant::now() < end => {
                        let mut rev = [0];
                        sys::poll(&[(listener.as_fd(), POLLIN)], &mut rev, 100).unwrap();
                    }
                    Err(e) => panic!("fake helper: accept: {e}"),
                }
            };
            stream.set_nonblocking(false).unwrap();
            stream.set_read_timeout(Some(DOUBLE_PATIENCE)).unwrap();
            let mut req = [0u8; 4];
            (&stream).read_exact(&mut req).expect("fake helper: read the 4-byte request");
            requests.push(req);
            answer(stream);
        }
        requests
    })
}

fn tap_request() -> [u8; 4] {
    2i32.to_ne_bytes() // IFF_TAP, native-endian int
}

fn allocate(dir: &Path, timeout: Duration) -> pltap_core::Result<Tap> {
    vsys::allocate(dir, Mode::Tap, timeout)
}

fn open_tap(name: &str, packet_info: bool) -> Tap {
    Tap::open(&TapOptions { mode: Mode::Tap, name: Some(IfName::new(name).unwrap()), packet_info, vnet_hdr: false })
        .expect("Tap::open")
}

fn device_exists(name: &str) -> bool {
    pltap_core::Iface::new(IfName::new(name).unwrap()).unwrap().flags().is_ok()
}

/// Waits until `name` is gone (a concurrent test's fork may hold a descriptor copy for
/// a moment before its exec closes it).
fn wait_gone(name: &str) -> bool {
    poll_until(Duration::from_secs(5), || (!device_exists(name)).then_some(())).is_some()
}

#[test]
fn helper_socket_absent_is_enoent_from_connect() {
    let _g = shared();
    let dir = TempDir::new("nosock");
    let err = allocate(dir.path(), Duration::from_secs(2)).unwrap_err();
    match &err {
        Error::Os { syscall, errno, op } => {
            assert_eq!((*syscall, errno.raw()), ("connect", libc::ENOENT), "{err}");
            assert!(op.contains(CONTROL_SOCKET), "{op}");
        }
        other => panic!("expected Error::Os, got {other:?}"),
    }
}

#[test]
fn helper_socket_without_listener_is_econnrefused() {
    let _g = shared();
    let dir = TempDir::new("refused");
    // A bound but closed socket leaves the path behind with no one listening, as when
    // the vsys daemon is down.
    drop(UnixListener::bind(dir.path().join(CONTROL_SOCKET)).unwrap());
    let err = allocate(dir.path(), Duration::from_secs(2)).unwrap_err();
    assert_eq!((err.syscall(), &*err.code()), (Some("connect"), "ECONNREFUSED"), "{err}");
}

#[test]
fn helper_closing_without_a_device_is_refused() {
    let _g = shared();
    let dir = TempDir::new("close");
    let helper = fake_helper(dir.path(), 2, drop);
    let err = allocate(dir.path(), Duration::from_secs(5)).unwrap_err();
    assert!(matches!(err, Error::HelperRefused { .. }), "{err:?}");
    assert_eq!(err.code(), "ERR_VSYS_REFUSED");
    assert!(err.to_string().contains("vsys ACL"), "{err}");
    // TUN asks with IFF_TUN = 1.
    let err = vsys::allocate(dir.path(), Mode::Tun, Duration::from_secs(5)).unwrap_err();
    assert_eq!(err.code(), "ERR_VSYS_REFUSED");
    assert_eq!(helper.join().unwrap(), vec![tap_request(), 1i32.to_ne_bytes()], "the request is a native-endian int");
}

#[test]
fn helper_sending_a_name_but_no_descriptor_is_a_protocol_error() {
    let _g = shared();
    let dir = TempDir::new("noname");
    let helper = fake_helper(dir.path(), 1, |s| {
        (&s).write_all(b"tap754-0\0").unwrap();
    });
    let err = allocate(dir.path(), Duration::from_secs(5)).unwrap_err();
    assert!(matches!(err, Error::HelperProtocol { .. }), "{err:?}");
    assert_eq!(err.code(), "ERR_VSYS_PROTOCOL");
    assert!(err.to_string().contains("no descriptor"), "{err}");
    // A name without its NUL, then EOF: also a protocol error, not a hang.
    helper.join().unwrap();
    let dir = TempDir::new("nonul");
    let helper = fake_helper(dir.path(), 1, |s| {
        (&s).write_all(b"tap754-0").unwrap();
    });
    let err = allocate(dir.path(), Duration::from_secs(5)).unwrap_err();
    assert_eq!(err.code(), "ERR_VSYS_PROTOCOL", "{err:?}");
    helper.join().unwrap();
}

#[test]
fn helper_that_never_answers_times_out() {
    let _g = shared();
    let dir = TempDir::new("silent");
    let (release, wait) = std::sync::mpsc::channel::<()>();
    let wait = std::sync::Mutex::new(wait);
    // Accepts, reads the request, and keeps the connection open until released.
    let helper = fake_helper(dir.path(), 1, move |s| {
        let _ = wait.lock().unwrap().recv_timeout(DOUBLE_PATIENCE);
        drop(s);
    });
    let timeout = Duration::from_millis(300);
    let start = Instant::now();
    let err = allocate(dir.path(), timeout).unwrap_err();
    let took = start.elapsed();
    release.send(()).unwrap();
    match &err {
        Error::HelperTimeout { after, .. } => assert_eq!(*after, timeout),
        other => panic!("expected HelperTimeout, got {other:?}"),
    }
    assert_eq!(err.code(), "ERR_VSYS_TIMEOUT");
    assert!(took >= timeout, "gave up after {took:?}, before the {timeout:?} deadline");
    assert!(took < Duration::from_secs(2), "took {took:?}");
    assert_eq!(helper.join().unwrap(), vec![tap_request()]);
}

#[test]
fn helper_sending_two_descriptors_is_a_protocol_error_and_both_are_closed() {
    privileged_exclusive(|| {
        let dir = TempDir::new("twofds");
        let before = fd_count();
        let tap = open_tap("tap754-0", true);
        let dup: OwnedFd = tap.fd().try_clone_to_owned().unwrap();
        let helper = fake_helper(dir.path(), 1, move |s| {
            let sent = sys::send_with_fds(s.as_fd(), b"tap754-0\0", &[tap.fd(), dup.as_fd()]).unwrap();
            assert_eq!(sent, 9);
            // The helper's copies close here, as when the real one exits.
        });
        let err = allocate(dir.path(), Duration::from_secs(5)).unwrap_err();
        assert!(matches!(err, Error::HelperProtocol { .. }), "{err:?}");
        assert!(err.to_string().contains("2 descriptors"), "{err}");
        helper.join().unwrap();
        drop(dir);
        // Had the client kept either received descriptor, the device would live on.
        assert!(wait_gone("tap754-0"), "a received descriptor was leaked: the device still exists");
        assert_eq!(fd_count(), before, "descriptor count changed");
    });
}

#[test]
fn helper_sending_a_real_tap_is_adopted() {
    privileged(|| {
        let dir = TempDir::new("real");
        let tap = open_tap("tap754-0", true);
        // The name in two writes, with the descriptor on the second (a stream may split
        // it anywhere); the client must put it together.
        let helper = fake_helper(dir.path(), 1, move |s| {
            (&s).write_all(b"tap7").unwrap();
            std::thread::sleep(Duration::from_millis(20));
            sys::send_with_fds(s.as_fd(), b"54-0\0", &[tap.fd()]).unwrap();
            // Stay connected briefly: the client must not need the EOF.
            std::thread::sleep(Duration::from_millis(100));
        });
        let start = Instant::now();
        let got = allocate(dir.path(), Duration::from_secs(5)).expect("allocate from the fake helper");
        assert!(start.elapsed() < Duration::from_secs(2));
        assert_eq!(helper.join().unwrap(), vec![tap_request()]);
        assert_eq!(got.name().as_str(), "tap754-0");
        assert_eq!(got.mode(), Mode::Tap);
        assert!(got.packet_info(), "vsys devices carry tun_pi");
        assert_eq!(got.tun_get_iff().unwrap(), (IfName::new("tap754-0").unwrap(), Mode::Tap), "TUNGETIFF agrees");
        assert!(sys::is_nonblocking(got.fd()).unwrap());
        assert_ne!(fdinfo_flags(got.fd()) & FDINFO_CLOEXEC, 0, "received descriptor is not close-on-exec");
        // The helper's copy is gone; ours keeps the device alive, and it works.
        assert!(device_exists("tap754-0"));
        let iface = got.iface();
        iface.set_up(true).unwrap();
        assert!(
            got.send(&arp_request_frame(
                [2, 0, 0, 0, 0, 9],
                "198.18.0.9".parse().unwrap(),
                "198.18.0.1".parse().unwrap()
            ))
            .unwrap()
        );
        assert_eq!(iface.kernel_counters().unwrap().rx_packets, 1);
        drop(got);
        assert!(wait_gone("tap754-0"), "the adopted device outlived its descriptor");
    });
}

#[test]
fn helper_naming_the_device_wrongly_is_a_protocol_error() {
    privileged(|| {
        let dir = TempDir::new("wrongname");
        let tap = open_tap("tap754-0", true);
        let calls = std::sync::atomic::AtomicUsize::new(0);
        let helper = fake_helper(dir.path(), 2, move |s| {
            // First a wrong name, then the right one (for the mode check below).
            let name: &[u8] = if calls.fetch_add(1, std::sync::atomic::Ordering::Relaxed) == 0 {
                b"tap754-1\0"
            } else {
                b"tap754-0\0"
            };
            sys::send_with_fds(s.as_fd(), name, &[tap.fd()]).unwrap();
        });
        let err = allocate(dir.path(), Duration::from_secs(5)).unwrap_err();
        assert!(matches!(err, Error::HelperProtocol { .. }), "{err:?}");
        assert!(err.to_string().contains("tap754-1") && err.to_string().contains("tap754-0"), "{err}");
        // Right name, wrong mode: the client asked for TUN.
        let err = vsys::allocate(dir.path(), Mode::Tun, Duration::from_secs(5)).unwrap_err();
        assert!(matches!(err, Error::HelperProtocol { .. }), "{err:?}");
        assert!(err.to_string().contains("(tun), but TUNGETIFF says tap754-0 (tap)"), "{err}");
        assert_eq!(helper.join().unwrap(), vec![tap_request(), 1i32.to_ne_bytes()]);
        assert!(wait_gone("tap754-0"), "the rejected descriptor was not closed");
    });
}

#[test]
fn helper_allocations_leak_no_descriptors() {
    privileged_exclusive(|| {
        let dir = TempDir::new("allocleak");
        // Hold the namespace's shared ioctl socket, so that it does not close with the
        // last device and the count below moves by the tap descriptor alone.
        let _ctl = pltap_core::iface::control_socket().unwrap();
        let tap = open_tap("tap754-0", true);
        let before_helper = fd_count();
        let cycles = 200;
        let helper = fake_helper(dir.path(), cycles, move |s| {
            sys::send_with_fds(s.as_fd(), b"tap754-0\0", &[tap.fd()]).unwrap();
        });
        let with_helper = fd_count();
        assert_eq!(with_helper, before_helper + 1, "the listener");
        for i in 0..cycles {
            let got = allocate(dir.path(), Duration::from_secs(5)).unwrap_or_else(|e| panic!("cycle {i}: {e}"));
            assert_eq!(got.name().as_str(), "tap754-0");
            drop(got);
            if i + 1 == cycles {
                break; // the helper's thread ends now, closing the listener and its tap
            }
            // The helper closes its end of the connection a moment after sending (the
            // client does not wait for that), so allow it that moment.
            let settled = poll_until(Duration::from_secs(5), || (fd_count() == with_helper).then_some(()));
            assert!(settled.is_some(), "cycle {i} leaked a descriptor: {} open, {with_helper} expected", fd_count());
        }
        helper.join().unwrap();
        assert!(wait_gone("tap754-0"));
        assert_eq!(fd_count(), before_helper - 1, "only the helper's tap descriptor is gone");
    });
}

// ---------------------------------------------------------------------------------
// FIFO transactions against a fake script.

const SCRIPT: &str = "fake_script";

fn fifos(dir: &Path) -> (PathBuf, PathBuf) {
    fifos_named(dir, SCRIPT)
}

fn fifos_named(dir: &Path, script: &str) -> (PathBuf, PathBuf) {
    let i = dir.join(format!("{script}.in"));
    let o = dir.join(format!("{script}.out"));
    sys::mkfifo(&i, 0o600).unwrap();
    sys::mkfifo(&o, 0o600).unwrap();
    (i, o)
}

fn opts() -> TransactOptions {
    TransactOptions { deadline: Duration::from_secs(10), ..TransactOptions::default() }
}

/// What vsys does before a client comes: hold `S.in` open for reading (nonblocking, so
/// the open does not wait for a writer).
fn open_reader(path: &Path) -> File {
    OpenOptions::new()
        .read(true)
        .custom_flags(libc::O_NONBLOCK | libc::O_CLOEXEC)
        .open(path)
        .expect("open S.in for reading")
}

/// Reads a request to EOF, i.e. until the client has written and closed `S.in`. A FIFO
/// reader that never saw a writer polls as not ready, so this waits for the client.
fn read_request(reader: &mut File) -> Vec<u8> {
    let end = Instant::now() + DOUBLE_PATIENCE;
    let mut req = Vec::new();
    let mut chunk = [0u8; 8192];
    loop {
        let mut rev = [0];
        if sys::poll(&[(reader.as_fd(), POLLIN)], &mut rev, 100).unwrap() == 0 {
            assert!(Instant::now() < end, "fake script: no request");
            continue;
        }
        loop {
            match reader.read(&mut chunk) {
                // Readiness was reported, so a writer came: 0 is its close.
                Ok(0) => return req,
                Ok(n) => req.extend_from_slice(&chunk[..n]),
                Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => break,
                Err(e) => panic!("fake script: read: {e}"),
            }
        }
    }
}

/// What vsys does once a client opened `S.in`: open `S.out` for writing (the client
/// already holds it for reading) and hand it to the script as a blocking stdout.
fn open_writer(path: &Path) -> File {
    let f = OpenOptions::new()
        .write(true)
        .custom_flags(libc::O_NONBLOCK | libc::O_CLOEXEC)
        .open(path)
        .expect("open S.out for writing");
    sys::set_nonblocking(f.as_fd(), false).unwrap();
    f
}

/// A fake script serving `n` transactions: it reads each request to EOF, reopens `S.in`
/// (as vsys does after each script), then writes `reply(request)` and closes `S.out`.
fn fake_script(dir: &Path, n: usize, reply: impl Fn(&[u8]) -> Vec<u8> + Send + 'static) -> JoinHandle<Vec<Vec<u8>>> {
    fake_script_named(dir, SCRIPT, n, reply)
}

/// [`fake_script`] on the entry `<dir>/<script>.{in,out}`.
fn fake_script_named(
    dir: &Path,
    script: &str,
    n: usize,
    reply: impl Fn(&[u8]) -> Vec<u8> + Send + 'static,
) -> JoinHandle<Vec<Vec<u8>>> {
    let (in_path, out_path) = (dir.join(format!("{script}.in")), dir.join(format!("{script}.out")));
    let mut reader = open_reader(&in_path);
    std::thread::spawn(move || {
        let mut seen = Vec::new();
        for _ in 0..n {
            let req = read_request(&mut reader);
            reader = open_reader(&in_path);
            let mut out = open_writer(&out_path);
            let answer = reply(&req);
            // A client that gave up closes its end: EPIPE then, which the test reports.
            let _ = out.write_all(&answer);
            drop(out);
            seen.push(req);
        }
        seen
    })
}

fn pattern(len: usize) -> Vec<u8> {
    (0..len).map(|i| b'a' + (i % 26) as u8).collect()
}

#[test]
fn script_that_never_answers_times_out() {
    let _g = shared();
    let dir = TempDir::new("noanswer");
    let (in_path, _) = fifos(dir.path());
    // The "daemon" holds S.in open for reading but never opens S.out for writing (its
    // stdout fallback, §1.2 step 3): the client must not hang.
    let mut reader = open_reader(&in_path);
    let deadline = Duration::from_millis(300);
    let start = Instant::now();
    let err = vsys::transact(dir.path(), SCRIPT, b"tap754-0\n", &TransactOptions { deadline, ..opts() }).unwrap_err();
    let took = start.elapsed();
    match &err {
        Error::HelperTimeout { after, op } => {
            assert_eq!(*after, deadline);
            assert!(op.contains(SCRIPT), "{op}");
        }
        other => panic!("expected HelperTimeout, got {other:?}"),
    }
    assert!(took >= deadline, "gave up after {took:?}");
    assert!(took < Duration::from_secs(2), "took {took:?}");
    // The request was written and S.in closed all the same.
    assert_eq!(read_request(&mut reader), b"tap754-0\n");
}

#[test]
fn oversized_reply_is_capped_without_off_by_one() {
    let _g = shared();
    let dir = TempDir::new("bigreply");
    fifos(dir.path());
    let cap = 1024;
    let cases = [(200 * 1024, true), (cap, false), (cap + 1, true), (cap - 1, false), (0, false)];
    for (len, truncated) in cases {
        let script = fake_script(dir.path(), 1, move |_| pattern(len));
        let reply = vsys::transact(dir.path(), SCRIPT, b"x\n", &TransactOptions { reply_cap: cap, ..opts() })
            .unwrap_or_else(|e| panic!("reply of {len}: {e}"));
        assert_eq!(reply.truncated, truncated, "reply of {len} bytes");
        assert_eq!(reply.output.len(), len.min(cap), "reply of {len} bytes");
        assert_eq!(reply.output.as_bytes(), &pattern(len.min(cap))[..], "reply of {len} bytes: content");
        assert_eq!(script.join().unwrap(), vec![b"x\n".to_vec()]);
    }
}

#[test]
fn script_entry_without_reader_is_enxio_after_the_retry_window() {
    let _g = shared();
    let dir = TempDir::new("noreader");
    fifos(dir.path());
    let open_retry = Duration::from_millis(300);
    let deadline = Duration::from_secs(5);
    let start = Instant::now();
    let err =
        vsys::transact(dir.path(), SCRIPT, b"x\n", &TransactOptions { open_retry, deadline, ..opts() }).unwrap_err();
    let took = start.elapsed();
    match &err {
        Error::Os { syscall, errno, op } => {
            assert_eq!((*syscall, errno.raw()), ("open", libc::ENXIO), "{err}");
            assert!(op.contains(&format!("{SCRIPT}.in")), "{op}");
        }
        other => panic!("expected Error::Os, got {other:?}"),
    }
    assert!(took >= open_retry, "gave up after {took:?}, before the {open_retry:?} retry window");
    assert!(took < deadline, "took {took:?}");
}

#[test]
fn a_reader_appearing_within_the_retry_window_is_used() {
    let _g = shared();
    let dir = TempDir::new("latereader");
    let (in_path, out_path) = fifos(dir.path());
    // vsys's reopen window: no reader for 150 ms, then the script runs.
    let script = std::thread::spawn(move || {
        std::thread::sleep(Duration::from_millis(150));
        let mut reader = open_reader(&in_path);
        let req = read_request(&mut reader);
        open_writer(&out_path).write_all(b"done\n").unwrap();
        req
    });
    let reply = vsys::transact(dir.path(), SCRIPT, b"late\n", &opts()).unwrap();
    assert_eq!(reply, Reply { output: "done\n".into(), truncated: false });
    assert_eq!(script.join().unwrap(), b"late\n");
}

#[test]
fn request_bytes_arrive_exactly_and_end_with_eof() {
    let _g = shared();
    let dir = TempDir::new("request");
    fifos(dir.path());
    // A small request, and one larger than a pipe buffer (64 KiB) so the client must
    // wait for the script to read while writing.
    let big: Vec<u8> = (0..200_000u32).map(|i| (i % 251) as u8).collect();
    for request in [b"tap754-0\n198.18.0.1\n24\ntxqueuelen=500\n".to_vec(), big] {
        let script = fake_script(dir.path(), 1, |req| format!("got {} bytes\n", req.len()).into_bytes());
        let reply = vsys::transact(dir.path(), SCRIPT, &request, &opts()).unwrap();
        // The script only answers after EOF on S.in: the reply proves S.in was closed.
        assert_eq!(reply.output, format!("got {} bytes\n", request.len()));
        assert!(!reply.truncated);
        let seen = script.join().unwrap();
        assert_eq!(seen.len(), 1);
        assert!(
            seen[0] == request,
            "the request arrived altered ({} bytes instead of {})",
            seen[0].len(),
            request.len()
        );
    }
}

#[test]
fn concurrent_transactions_are_serialized() {
    let _g = shared();
    let dir = TempDir::new("concurrent");
    fifos(dir.path());
    // The script takes its time after reading; were the clients not serialized, the
    // second would write into S.in or read S.out meanwhile and the requests or replies
    // would mix.
    let script = fake_script(dir.path(), 2, |req| {
        std::thread::sleep(Duration::from_millis(200));
        [b"reply to ".as_slice(), req].concat()
    });
    let root = dir.path().to_path_buf();
    let clients: Vec<_> = ["first\nrequest\n", "second\nrequest\n"]
        .into_iter()
        .map(|req| {
            let root = root.clone();
            std::thread::spawn(move || (req, vsys::transact(&root, SCRIPT, req.as_bytes(), &opts()).unwrap()))
        })
        .collect();
    for c in clients {
        let (req, reply) = c.join().unwrap();
        assert_eq!(reply.output, format!("reply to {req}"));
    }
    let mut seen = script.join().unwrap();
    seen.sort();
    assert_eq!(seen, vec![b"first\nrequest\n".to_vec(), b"second\nrequest\n".to_vec()], "two separate, whole requests");
    // The lock is on the directory itself: nothing was created.
    assert_eq!(entries(dir.path()), [format!("{SCRIPT}.in"), format!("{SCRIPT}.out")]);
}

/// The names in `dir`, sorted.
fn entries(dir: &Path) -> Vec<String> {
    let mut names: Vec<_> =
        std::fs::read_dir(dir).unwrap().map(|e| e.unwrap().file_name().into_string().unwrap()).collect();
    names.sort();
    names
}

#[test]
fn missing_out_fifo_is_enoent() {
    let _g = shared();
    let dir = TempDir::new("noout");
    let in_path = dir.path().join(format!("{SCRIPT}.in"));
    sys::mkfifo(&in_path, 0o600).unwrap();
    let _reader = open_reader(&in_path);
    let err = vsys::transact(dir.path(), SCRIPT, b"x\n", &opts()).unwrap_err();
    match &err {
        Error::Os { syscall, errno, op } => {
            assert_eq!((*syscall, errno.raw()), ("open", libc::ENOENT), "{err}");
            assert!(op.contains(&format!("{SCRIPT}.out")), "{op}");
        }
        other => panic!("expected Error::Os, got {other:?}"),
    }
    // A bad script name is refused before any I/O.
    assert_eq!(vsys::transact(dir.path(), "../x", b"", &opts()).unwrap_err().code(), "ERR_INVALID_ARG_VALUE");
}

#[test]
fn transactions_leak_no_descriptors() {
    let _g = exclusive();
    let dir = TempDir::new("fifoleak");
    fifos(dir.path());
    let cycles = 200;
    let before = fd_count();
    let script = fake_script(dir.path(), cycles, |req| req.to_vec());
    for i in 0..cycles {
        let req = format!("request {i}\n");
        let reply = vsys::transact(dir.path(), SCRIPT, req.as_bytes(), &opts()).unwrap();
        assert_eq!(reply.output, req);
    }
    assert_eq!(script.join().unwrap().len(), cycles);
    // The fake's S.in reader is closed with its thread.
    assert_eq!(fd_count(), before, "descriptors leaked over {cycles} transactions");
    // A failing transaction leaks nothing either.
    std::fs::remove_file(dir.path().join(format!("{SCRIPT}.in"))).unwrap();
    for _ in 0..cycles {
        assert!(vsys::transact(dir.path(), SCRIPT, b"x\n", &opts()).unwrap_err().is_errno(libc::ENOENT));
    }
    assert_eq!(fd_count(), before);
}

// ---------------------------------------------------------------------------------
// The kernel, not the reply, decides a script's outcome (a reply may be another
// request's, handed over by the helper).

#[test]
fn an_error_reply_while_the_kernel_shows_the_state_is_success_with_a_warning() {
    privileged(|| {
        let dir = TempDir::new("decisive-ok");
        fifos_named(dir.path(), "promisc");
        let tap = open_tap("tap754-0", true);
        let iface = tap.iface();
        // The script does what was asked, but says something else (as when the helper
        // hands this client the reply meant for another one).
        // Generous settle time: the effect below shows up a moment after the reply.
        let vsys = Vsys::new(dir.path()).with_settle(Duration::from_secs(20));
        const OTHER: &[u8] = b"Interface tap754-9 has no IPv4 address (run vif_up first)\n";
        for (on, late) in [(true, false), (false, true)] {
            let applier = iface.clone();
            let script = fake_script_named(dir.path(), "promisc", 1, move |_| {
                if late {
                    // The effect shows only after the (wrong) reply was read.
                    let applier = applier.clone();
                    std::thread::spawn(move || {
                        std::thread::sleep(Duration::from_millis(50));
                        applier.set_promisc(on).unwrap();
                    });
                } else {
                    applier.set_promisc(on).unwrap();
                }
                OTHER.to_vec()
            });
            let outcome = vsys
                .promisc(&iface, on)
                .unwrap_or_else(|e| panic!("promisc {on} (late: {late}): the kernel shows it, yet {e}"));
            assert_eq!(outcome.warning.as_deref(), Some("Interface tap754-9 has no IPv4 address (run vif_up first)"));
            let want: &[u8] = if on { b"tap754-0\n" } else { b"tap754-0\n-\n" };
            assert_eq!(script.join().unwrap(), vec![want.to_vec()]);
            assert_eq!(iface.flags().unwrap().promisc, on);
        }
    });
}

#[test]
fn a_benign_reply_while_the_kernel_never_shows_the_state_fails_after_settling() {
    privileged(|| {
        let dir = TempDir::new("decisive-fail");
        fifos_named(dir.path(), "promisc");
        let tap = open_tap("tap754-0", true);
        let iface = tap.iface();
        let settle = Duration::from_millis(300);
        let vsys = Vsys::new(dir.path()).with_settle(settle);
        for (reply, want_reply) in
            [(&b""[..], ""), (&b"net.ipv4.conf.tap754-0.rp_filter = 0\n"[..], "net.ipv4.conf.tap754-0.rp_filter = 0\n")]
        {
            // The script says nothing wrong, and does nothing.
            let script = fake_script_named(dir.path(), "promisc", 1, move |_| reply.to_vec());
            let start = Instant::now();
            let err = vsys.promisc(&iface, true).unwrap_err();
            let took = start.elapsed();
            match &err {
                Error::Script { script, reply, detail } => {
                    assert_eq!((script.as_str(), reply.as_str()), ("promisc", want_reply));
                    assert_eq!(detail, "the kernel shows tap754-0 with PROMISC off");
                }
                other => panic!("expected Error::Script, got {other:?}"),
            }
            assert_eq!(err.code(), "ERR_VSYS_SCRIPT");
            assert!(took >= settle, "failed after {took:?}, before the kernel had its settle time");
            script.join().unwrap();
        }
        // An error reply with the kernel unchanged is a failure too, carrying the reply.
        let script =
            fake_script_named(dir.path(), "promisc", 1, |_| b"SIOCSIFFLAGS: Operation not permitted\n".to_vec());
        let err = vsys.promisc(&iface, true).unwrap_err();
        assert!(
            matches!(&err, Error::Script { reply, .. } if reply == "SIOCSIFFLAGS: Operation not permitted\n"),
            "{err:?}"
        );
        assert!(
            err.to_string().contains("PROMISC off") && err.to_string().contains("Operation not permitted"),
            "{err}"
        );
        script.join().unwrap();
        assert!(!iface.flags().unwrap().promisc);
    });
}

#[test]
fn a_failed_transaction_is_reported_unless_the_kernel_shows_the_state() {
    privileged(|| {
        let dir = TempDir::new("decisive-enxio");
        // Entries without a daemon behind them: opening vif_down.in gives ENXIO.
        fifos_named(dir.path(), "vif_down");
        let tap = open_tap("tap754-0", true);
        let iface = tap.iface();
        let vsys = Vsys::new(dir.path())
            .with_options(TransactOptions { open_retry: Duration::from_millis(50), ..TransactOptions::default() });
        // Already down: what was asked holds, so the failed transaction is only a warning.
        let outcome = vsys.vif_down(&iface).expect("the kernel shows the device down");
        let warning = outcome.warning.unwrap();
        assert!(warning.contains("ENXIO") && warning.contains("vif_down.in"), "{warning}");
        // UP: the transaction's own error, with its errno.
        iface.set_up(true).unwrap();
        let err = vsys.vif_down(&iface).unwrap_err();
        assert_eq!((&*err.code(), err.syscall()), ("ENXIO", Some("open")), "{err}");
        assert!(iface.flags().unwrap().up);
    });
}

// ---------------------------------------------------------------------------------
// The cross-process lock: flock on the vsys root directory itself.

#[test]
fn entries_that_are_symlinks_or_not_fifos_are_refused() {
    let _g = shared();
    let dir = TempDir::new("notfifo");
    let elsewhere = TempDir::new("notfifo-target");
    let (_, real_out) = fifos_named(elsewhere.path(), SCRIPT);
    // S.out a symlink to a FIFO elsewhere: not followed.
    std::os::unix::fs::symlink(&real_out, dir.path().join(format!("{SCRIPT}.out"))).unwrap();
    sys::mkfifo(&dir.path().join(format!("{SCRIPT}.in")), 0o600).unwrap();
    let err = vsys::transact(dir.path(), SCRIPT, b"x\n", &opts()).unwrap_err();
    assert_eq!((&*err.code(), err.syscall()), ("ELOOP", Some("open")), "{err}");
    assert!(err.to_string().contains(&format!("{SCRIPT}.out")), "{err}");
    // S.out a regular file: opened, then refused on fstat.
    std::fs::remove_file(dir.path().join(format!("{SCRIPT}.out"))).unwrap();
    std::fs::write(dir.path().join(format!("{SCRIPT}.out")), b"").unwrap();
    let err = vsys::transact(dir.path(), SCRIPT, b"x\n", &opts()).unwrap_err();
    assert!(matches!(err, Error::HelperProtocol { .. }), "{err:?}");
    assert!(err.to_string().contains("regular file, not a FIFO"), "{err}");
    // A root that is not a directory.
    let err = vsys::transact(&dir.path().join(format!("{SCRIPT}.out")), SCRIPT, b"x\n", &opts()).unwrap_err();
    assert_eq!(err.code(), "ENOTDIR", "{err}");
}

#[test]
fn another_process_holding_the_root_lock_blocks_transactions_until_it_lets_go() {
    let _g = shared();
    let dir = TempDir::new("flock");
    fifos(dir.path());
    let script = fake_script(dir.path(), 1, |req| [b"reply to ".as_slice(), req].concat());
    // flock(1), an independent implementation, takes the lock on the directory.
    let mut holder = std::process::Command::new("flock")
        .arg(dir.path())
        .args(["-c", "echo locked; read _"])
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .spawn()
        .expect("run flock(1)");
    let mut line = String::new();
    std::io::BufRead::read_line(&mut std::io::BufReader::new(holder.stdout.take().unwrap()), &mut line).unwrap();
    assert_eq!(line, "locked\n");
    let deadline = Duration::from_millis(300);
    let err = vsys::transact(dir.path(), SCRIPT, b"early\n", &TransactOptions { deadline, ..opts() }).unwrap_err();
    match &err {
        Error::HelperTimeout { op, after } => {
            assert_eq!(*after, deadline);
            assert!(op.contains("waiting for the lock on") && op.contains(dir.path().to_str().unwrap()), "{op}");
        }
        other => panic!("expected HelperTimeout, got {other:?}"),
    }
    // Let go: the next transaction goes through (and the early one never reached S.in).
    holder.stdin.take().unwrap().write_all(b"\n").unwrap();
    assert!(holder.wait().unwrap().success());
    let reply = vsys::transact(dir.path(), SCRIPT, b"late\n", &opts()).unwrap();
    assert_eq!(reply.output, "reply to late\n");
    assert_eq!(script.join().unwrap(), vec![b"late\n".to_vec()]);
    assert_eq!(entries(dir.path()), [format!("{SCRIPT}.in"), format!("{SCRIPT}.out")], "nothing was created");
}

const CHILD_ROOT: &str = "PLTAP_TEST_CHILD_VSYS_ROOT";
const CHILD_REQUEST: &str = "PLTAP_TEST_CHILD_REQUEST";

/// Not a test of its own: the body of the child processes of
/// [`root_then_the_slice_transact_and_processes_serialize`] (a no-op otherwise).
#[test]
fn child_transact() {
    let (Some(root), Some(request)) = (std::env::var_os(CHILD_ROOT), std::env::var(CHILD_REQUEST).ok()) else { return };
    let reply = vsys::transact(Path::new(&root), SCRIPT, request.as_bytes(), &opts())
        .unwrap_or_else(|e| panic!("child (uid {}): {e} [{}]", sys::effective_uid(), e.code()));
    // On a line of its own (the harness prints "test child_transact ... " first).
    println!("\nCHILD-REPLY:{}", reply.output.escape_debug());
}

/// Runs [`child_transact`] in a new process of this test binary, as `uid` (`None`: as
/// root), with `TMPDIR` pointing at `tmp`.
fn spawn_child(uid: Option<u32>, root: &Path, request: &str, tmp: &Path) -> std::process::Child {
    let mut cmd = std::process::Command::new("setpriv");
    cmd.args(["--pdeathsig", "SIGKILL"]);
    if let Some(uid) = uid {
        let (u, g) = (format!("{uid}"), format!("{uid}"));
        cmd.args(["--reuid", &u, "--regid", &g, "--clear-groups", "--inh-caps=-all"]);
    }
    cmd.arg(std::env::current_exe().unwrap())
        .args(["--exact", "child_transact", "--nocapture", "--test-threads=1"])
        .env(CHILD_ROOT, root)
        .env(CHILD_REQUEST, request)
        .env("TMPDIR", tmp)
        .stdin(std::process::Stdio::null())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped());
    cmd.spawn().expect("spawn a child transaction")
}

/// Waits for a child and returns the reply it printed; panics with its output if it failed.
fn child_reply(child: std::process::Child) -> String {
    let out = child.wait_with_output().unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "child failed ({}): {stdout}\n{}", out.status, String::from_utf8_lossy(&out.stderr));
    let line = stdout
        .lines()
        .find_map(|l| l.split_once("CHILD-REPLY:").map(|(_, r)| r))
        .unwrap_or_else(|| panic!("no reply in {stdout}"));
    line.replace("\\n", "\n")
}

#[test]
fn root_then_the_slice_transact_and_processes_serialize() {
    if !require_root() {
        return;
    }
    let _g = shared();
    let dir = TempDir::new("slice");
    // The frontend as the helper makes it: root:<slice gid> 0750, entries 0660.
    let (i, o) = fifos(dir.path());
    for path in [dir.path(), &i, &o] {
        std::os::unix::fs::chown(path, Some(0), Some(1000)).unwrap();
    }
    std::fs::set_permissions(dir.path(), std::os::unix::fs::PermissionsExt::from_mode(0o750)).unwrap();
    for path in [&i, &o] {
        std::fs::set_permissions(path, std::os::unix::fs::PermissionsExt::from_mode(0o660)).unwrap();
    }
    // The children's temp directory, writable by both: the old lock files went there.
    let tmp = TempDir::new("slice-tmpdir");
    std::fs::set_permissions(tmp.path(), std::os::unix::fs::PermissionsExt::from_mode(0o1777)).unwrap();
    // Each reply names its request; the script takes its time, so unserialized clients
    // would mix requests or take each other's replies.
    let script = fake_script(dir.path(), 4, |req| {
        std::thread::sleep(Duration::from_millis(100));
        [b"reply to ".as_slice(), req].concat()
    });
    // Root first, then the slice on the same root (the old lock file made this EACCES).
    assert_eq!(child_reply(spawn_child(None, dir.path(), "root\n", tmp.path())), "reply to root\n");
    assert_eq!(child_reply(spawn_child(Some(1000), dir.path(), "slice\n", tmp.path())), "reply to slice\n");
    // Two processes at once, one of each.
    let a = spawn_child(None, dir.path(), "root again\n", tmp.path());
    let b = spawn_child(Some(1000), dir.path(), "slice again\n", tmp.path());
    assert_eq!(child_reply(a), "reply to root again\n");
    assert_eq!(child_reply(b), "reply to slice again\n");
    let mut seen = script.join().unwrap();
    seen.sort();
    assert_eq!(
        seen,
        [&b"root\n"[..], b"root again\n", b"slice\n", b"slice again\n"].map(<[u8]>::to_vec),
        "four whole requests"
    );
    // Nothing left behind, in the temp directory or in the root.
    assert_eq!(entries(tmp.path()), Vec::<String>::new());
    assert_eq!(entries(dir.path()), [format!("{SCRIPT}.in"), format!("{SCRIPT}.out")]);
}
