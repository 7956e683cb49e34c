//! Tier (c): the receive engine ([`Reader`]) on a real TAP device, each test in a network
//! namespace of its own, with 198.18.0.0/15 only. The kernel transmits UDP datagrams
//! to a static neighbour through the device; the reader reads them.

mod common;

use common::*;
use pltap_core::config::Config;
use pltap_core::netdev::Netdev;
use pltap_core::reader::{Burst, Reader, ReaderOptions, Sink};
use pltap_core::{Error, MacAddr};
use std::net::{Ipv4Addr, UdpSocket};
use std::ops::ControlFlow;
use std::sync::Arc;
use std::sync::mpsc::{Receiver, Sender, channel};
use std::time::{Duration, Instant};

const TAP_IP: Ipv4Addr = Ipv4Addr::new(198, 18, 0, 1);
const PEER_IP: Ipv4Addr = Ipv4Addr::new(198, 18, 0, 2);
const WAIT: Duration = Duration::from_secs(10);
/// Ethernet + IPv4 + UDP headers.
const HEADERS: usize = 14 + 20 + 8;

#[derive(Debug)]
enum Ev {
    Started,
    Burst(Vec<u8>, Vec<u32>),
    Truncated(usize, usize),
    Failed(Error),
}

struct ChanSink {
    tx: Sender<Ev>,
    panic_on_start: bool,
}

impl Sink for ChanSink {
    fn started(&mut self) {
        assert!(!self.panic_on_start, "a sink panic on start");
        let _ = self.tx.send(Ev::Started);
    }
    fn burst(&mut self, burst: Burst<'_>) -> ControlFlow<()> {
        assert_eq!(burst.lengths.iter().map(|l| *l as usize).sum::<usize>(), burst.data.len());
        let _ = self.tx.send(Ev::Burst(burst.data.to_vec(), burst.lengths.to_vec()));
        ControlFlow::Continue(())
    }
    fn truncated(&mut self, len: usize, capacity: usize) {
        let _ = self.tx.send(Ev::Truncated(len, capacity));
    }
    fn failed(&mut self, error: Error) {
        let _ = self.tx.send(Ev::Failed(error));
    }
}

/// A direct port `name`, 198.18.0.1/24 and up, with a static neighbour 198.18.0.2.
fn port(name: &str) -> Arc<Netdev> {
    let dev = open_direct(name);
    dev.set_config(Config::parse(Some(&TAP_IP.to_string()), Some(24)).unwrap());
    dev.reconcile().unwrap();
    let mac = MacAddr([2, 0, 0, 0, 0, 2]).to_string();
    run("ip", &["neigh", "replace", &PEER_IP.to_string(), "lladdr", &mac, "nud", "permanent", "dev", name]);
    Arc::new(dev)
}

fn start(dev: &Arc<Netdev>, opts: ReaderOptions) -> (Reader, Receiver<Ev>) {
    let (tx, rx) = channel();
    let reader = Reader::new(dev.clone(), opts).unwrap();
    reader.start(ChanSink { tx, panic_on_start: false }).unwrap();
    assert!(matches!(rx.recv_timeout(WAIT), Ok(Ev::Started)), "the reader did not start");
    (reader, rx)
}

/// Sends `n` datagrams of `payload` bytes through the device.
fn send(n: usize, payload: usize) {
    let sock = UdpSocket::bind((TAP_IP, 0)).unwrap();
    for _ in 0..n {
        sock.send_to(&vec![0x5a; payload], (PEER_IP, 9)).unwrap();
    }
}

/// Collects delivered frames of exactly `len` bytes until there are `n` (others are
/// skipped); `None` if they do not all come within [`WAIT`]. Truncations are collected too.
fn collect(rx: &Receiver<Ev>, n: usize, len: usize, truncated: &mut Vec<(usize, usize)>) -> Option<usize> {
    let end = Instant::now() + WAIT;
    let mut got = 0;
    while got < n {
        match rx.recv_timeout(end.checked_duration_since(Instant::now())?) {
            Ok(Ev::Burst(data, lens)) => {
                let mut at = 0;
                for l in lens {
                    let frame = &data[at..at + l as usize];
                    at += l as usize;
                    if frame.len() == len && ethertype(frame) == ETH_P_IP {
                        got += 1;
                    }
                }
            }
            Ok(Ev::Truncated(l, c)) => truncated.push((l, c)),
            Ok(Ev::Started) => {}
            Ok(Ev::Failed(e)) => panic!("the reader failed: {e}"),
            Err(_) => return None,
        }
    }
    Some(got)
}

#[test]
fn bursts_arrive_packed_and_are_counted_on_the_port() {
    privileged(|| {
        let dev = port("rd0");
        let (reader, rx) = start(&dev, ReaderOptions::default());
        send(20, 100);
        assert_eq!(collect(&rx, 20, HEADERS + 100, &mut Vec::new()), Some(20));
        let port = dev.stats().unwrap().port;
        assert!(port.rx_packets >= 20 && port.rx_bytes >= 20 * (HEADERS as u64 + 100), "{port:?}");
        assert_eq!((port.rx_dropped, port.rx_errors), (0, 0));
        assert_eq!(reader.handle().truncated(), 0);
        reader.stop();
    });
}

#[test]
fn a_frame_too_large_for_the_slab_is_counted_with_its_true_length() {
    privileged(|| {
        let dev = port("rd1");
        let (reader, rx) = start(&dev, ReaderOptions::default());
        // The slab was sized for MTU 1500 (1518-byte frames); the MTU grows under it.
        dev.set_mtu(4000).unwrap();
        send(1, 3000);
        let mut truncated = Vec::new();
        let end = Instant::now() + WAIT;
        while truncated.is_empty() {
            match rx.recv_timeout(end.checked_duration_since(Instant::now()).expect("no truncation reported")) {
                Ok(Ev::Truncated(l, c)) => truncated.push((l, c)),
                Ok(Ev::Failed(e)) => panic!("{e}"),
                Ok(Ev::Burst(..) | Ev::Started) => {}
                Err(e) => panic!("no truncation reported: {e}"),
            }
        }
        assert_eq!(truncated, [(HEADERS + 3000, 1518)]);
        assert_eq!(reader.handle().truncated(), 1);
        assert_eq!(dev.stats().unwrap().port.rx_dropped, 1, "one counter model: the port counts it too");
        // The slab was sized again for the new MTU: the next one fits.
        send(1, 3000);
        assert_eq!(collect(&rx, 1, HEADERS + 3000, &mut truncated), Some(1));
        assert_eq!(truncated.len(), 1);
        reader.stop();
    });
}

#[test]
fn pause_stops_reading_and_resume_continues() {
    privileged(|| {
        let dev = port("rd2");
        let (reader, rx) = start(&dev, ReaderOptions::default());
        let handle = reader.handle();
        handle.pause();
        send(5, 200);
        // The frames are queued in the kernel and the paused reader leaves them there.
        assert!(dev.live_tap().unwrap().wait_readable(10_000).unwrap(), "the frames never got queued");
        assert!(rx.recv_timeout(Duration::from_millis(300)).is_err(), "a paused reader delivered a burst");
        assert!(dev.live_tap().unwrap().wait_readable(0).unwrap(), "the frames left the queue");
        handle.resume();
        assert_eq!(collect(&rx, 5, HEADERS + 200, &mut Vec::new()), Some(5));
        reader.stop();
    });
}

#[test]
fn the_byte_budget_blocks_until_release() {
    privileged(|| {
        let dev = port("rd3");
        let max_bytes = pltap_core::frame::MAX_FRAME; // the smallest budget
        let (reader, rx) = start(&dev, ReaderOptions { max_batch: 64, max_bytes, max_pending: usize::MAX });
        let handle = reader.handle();
        let (n, len) = (100, HEADERS + 1000);
        send(n, 1000);
        // Without releases the reader reads until less than one slab stride (1518) is left.
        let blocked = poll_until(WAIT, || {
            (handle.waiting_for_release() && handle.outstanding() + 1518 > max_bytes).then_some(())
        });
        assert!(blocked.is_some(), "the reader never waited for a release ({} outstanding)", handle.outstanding());
        assert!(handle.outstanding() <= max_bytes);
        let mut got = 0;
        while let Ok(ev) = rx.try_recv() {
            // Every burst was handed over before the reader began to wait.
            if let Ev::Burst(_, lens) = ev {
                got += lens.iter().filter(|l| **l as usize == len).count();
            }
        }
        assert!(got > 0 && got < n, "{got} of {n} frames within a budget of {max_bytes}");
        // Releasing lets the rest through.
        while got < n {
            handle.release(handle.outstanding());
            match rx.recv_timeout(WAIT) {
                Ok(Ev::Burst(_, lens)) => got += lens.iter().filter(|l| **l as usize == len).count(),
                Ok(Ev::Started) => {}
                Ok(ev) => panic!("{ev:?}"),
                Err(e) => panic!("{got} of {n} frames, then nothing: {e}"),
            }
        }
        reader.stop();
    });
}

fn reader_threads(name: &str) -> usize {
    let want = format!("pltap-rx-{name}");
    std::fs::read_dir("/proc/self/task")
        .unwrap()
        .filter_map(|t| std::fs::read_to_string(t.ok()?.path().join("comm")).ok())
        .filter(|comm| comm.trim_end() == want)
        .count()
}

#[test]
fn stop_is_prompt_joins_the_thread_and_leaks_no_descriptor() {
    privileged_exclusive(|| {
        let dev = port("rd4");
        let before = fd_count();
        // Never started: the eventfd goes with it.
        drop(Reader::new(dev.clone(), ReaderOptions::default()).unwrap());
        assert_eq!(fd_count(), before);

        let (reader, rx) = start(&dev, ReaderOptions::default());
        send(3, 100);
        assert_eq!(collect(&rx, 3, HEADERS + 100, &mut Vec::new()), Some(3));
        assert_eq!(reader_threads("rd4"), 1);
        assert_eq!(fd_count(), before + 1, "the reader holds one eventfd");
        let t = Instant::now();
        reader.stop();
        assert!(t.elapsed() < Duration::from_secs(2), "stop took {:?}", t.elapsed());
        assert_eq!(reader_threads("rd4"), 0, "the thread was joined");
        assert_eq!(fd_count(), before, "the eventfd is closed on stop");
        assert_eq!(Arc::strong_count(&dev), 1, "a stopped reader holds no reference to the port");
        reader.stop(); // idempotent
        assert!(matches!(
            reader.start(ChanSink { tx: channel().0, panic_on_start: false }),
            Err(Error::InvalidArgument { .. })
        ));
        drop(reader);
        assert_eq!(fd_count(), before);
    });
}

#[test]
fn a_panic_on_the_reader_thread_is_its_failure() {
    privileged(|| {
        let dev = port("rd5");
        let (tx, rx) = channel();
        let reader = Reader::new(dev, ReaderOptions::default()).unwrap();
        reader.start(ChanSink { tx, panic_on_start: true }).unwrap();
        match rx.recv_timeout(WAIT) {
            Ok(Ev::Failed(e)) => {
                assert_eq!(e.code(), "ERR_PLTAP_INTERNAL");
                assert!(e.to_string().contains("panicked: a sink panic on start"), "{e}");
            }
            other => panic!("{other:?}"),
        }
        reader.stop();
    });
}

// ---------------------------------------------------------------------------------
// The burst read on its own (what an event-loop consumer calls; the thread above calls
// the same function).

use pltap_core::reader::BurstReader;
use std::time::SystemTime;

/// Waits until the device is readable, then reads one burst; the frames of exactly `len`
/// bytes it held, its size and timestamp.
fn read_one(
    reader: &mut BurstReader,
    len: usize,
    truncated: &mut Vec<(usize, usize)>,
) -> Option<(usize, usize, SystemTime)> {
    let end = Instant::now() + WAIT;
    loop {
        let left = end.checked_duration_since(Instant::now())?;
        if !reader.tap().wait_readable(pltap_core::sys::poll_timeout_ms(left)).unwrap() {
            continue;
        }
        if let Some(b) = reader.read_burst(|l, c| truncated.push((l, c))).unwrap() {
            assert_eq!(b.lengths.iter().map(|l| *l as usize).sum::<usize>(), b.data.len());
            let mut at = 0;
            let mut got = 0;
            for l in b.lengths {
                let frame = &b.data[at..at + *l as usize];
                at += *l as usize;
                if frame.len() == len && ethertype(frame) == ETH_P_IP {
                    got += 1;
                }
            }
            return Some((got, b.data.len(), b.timestamp));
        }
        if !truncated.is_empty() {
            return Some((0, 0, SystemTime::UNIX_EPOCH));
        }
    }
}

#[test]
fn read_burst_reads_counts_and_stamps_a_burst() {
    privileged(|| {
        let dev = port("rb0");
        let mut reader =
            BurstReader::new(dev.clone(), ReaderOptions { max_batch: 64, max_bytes: 1 << 20, max_pending: 1 }).unwrap();
        let handle = reader.handle();
        assert!(reader.can_read());
        assert!(reader.read_burst(|_, _| panic!("no frame")).unwrap().is_none(), "nothing queued: no burst");
        let before = SystemTime::now();
        send(10, 100);
        // All ten are queued before the first read, so one burst takes them (other traffic aside).
        let mut got = 0;
        let mut bytes = 0;
        let mut first_stamp = None;
        while got < 10 {
            let (n, b, ts) = read_one(&mut reader, HEADERS + 100, &mut Vec::new()).expect("the datagrams never came");
            got += n;
            bytes += b;
            first_stamp.get_or_insert(ts);
        }
        let after = SystemTime::now();
        let ts = first_stamp.unwrap();
        assert!(before <= ts && ts <= after, "the timestamp {ts:?} is not within the read ({before:?}..{after:?})");
        let port = dev.stats().unwrap().port;
        assert!(port.rx_packets >= 10, "{port:?}");
        assert_eq!(handle.outstanding(), bytes, "what was read counts as outstanding until released");
        handle.release(bytes);
        assert_eq!(handle.outstanding(), 0);
    });
}

#[test]
fn read_burst_respects_pause_and_the_byte_budget() {
    privileged(|| {
        let dev = port("rb1");
        let max_bytes = pltap_core::frame::MAX_FRAME;
        let mut reader = BurstReader::new(dev, ReaderOptions { max_batch: 64, max_bytes, max_pending: 1 }).unwrap();
        let handle = reader.handle();
        handle.pause();
        assert!(!reader.can_read(), "paused");
        handle.resume();
        assert!(reader.can_read());
        send(100, 1000);
        let mut got = 0;
        // Read without releasing until the budget leaves less than a frame.
        while reader.can_read() {
            match read_one(&mut reader, HEADERS + 1000, &mut Vec::new()) {
                Some((n, _, _)) => got += n,
                None => panic!("the datagrams never came ({got})"),
            }
        }
        assert!(got > 0 && got < 100, "{got} frames within a budget of {max_bytes}");
        assert!(handle.outstanding() <= max_bytes && handle.outstanding() + 1518 > max_bytes);
        assert!(reader.read_burst(|_, _| {}).unwrap().is_none(), "no room: no read");
        handle.release(handle.outstanding());
        assert!(reader.can_read(), "released: room again");
        while got < 100 {
            let (n, b, _) = read_one(&mut reader, HEADERS + 1000, &mut Vec::new()).expect("the rest never came");
            got += n;
            handle.release(b);
        }
    });
}

#[test]
fn read_burst_counts_a_truncated_frame_then_sizes_the_slab_again() {
    privileged(|| {
        let dev = port("rb2");
        let mut reader = BurstReader::new(dev.clone(), ReaderOptions::default()).unwrap();
        dev.set_mtu(4000).unwrap();
        send(1, 3000);
        let mut truncated = Vec::new();
        while truncated.is_empty() {
            read_one(&mut reader, HEADERS + 3000, &mut truncated).expect("no truncation reported");
        }
        assert_eq!(truncated, [(HEADERS + 3000, 1518)]);
        assert_eq!(reader.handle().truncated(), 1);
        assert_eq!(dev.stats().unwrap().port.rx_dropped, 1);
        send(1, 3000);
        let (n, _, _) = read_one(&mut reader, HEADERS + 3000, &mut truncated).expect("the second frame never came");
        assert_eq!((n, truncated.len()), (1, 1), "the slab was sized again: it fits");
    });
}

/// The packets the kernel received on interface `name` (what was written to its tap).
fn kernel_rx_packets(name: &str) -> u64 {
    pltap_core::Iface::new(pltap_core::IfName::new(name).unwrap()).unwrap().kernel_counters().unwrap().rx_packets
}

/// Routes every burst through `forward` (forwarding it if a target is set), and reports
/// each route.
struct ForwardSink {
    forward: Arc<pltap_core::forward::Forward>,
    tx: Sender<pltap_core::forward::Route>,
    handle: pltap_core::reader::ReaderHandle,
}

impl Sink for ForwardSink {
    fn burst(&mut self, burst: Burst<'_>) -> ControlFlow<()> {
        let route = self.forward.route(&burst, &self.handle);
        if route != pltap_core::forward::Route::Done {
            self.handle.release(burst.data.len()); // delivered: this sink is done with it at once
        }
        self.handle.consumed();
        let _ = self.tx.send(route);
        ControlFlow::Continue(())
    }
    fn failed(&mut self, error: Error) {
        panic!("the reader failed: {error}");
    }
}

#[test]
fn a_forward_writes_every_burst_to_its_target_and_counts_what_the_target_refuses() {
    use pltap_core::forward::{Forward, ForwardCounters, Route};
    privileged(|| {
        let a = port("rf0");
        let b = Arc::new(open_direct("rf1"));
        let rf1 = pltap_core::Iface::new(pltap_core::IfName::new("rf1").unwrap()).unwrap();
        rf1.set_up(true).unwrap();
        let forward = Arc::new(Forward::new());
        let (tx, routes) = channel();
        let reader = Reader::new(a.clone(), ReaderOptions::default()).unwrap();
        let handle = reader.handle();
        reader.start(ForwardSink { forward: forward.clone(), tx, handle }).unwrap();
        let next = || routes.recv_timeout(WAIT).expect("no burst");
        // No target yet: the bursts are delivered as usual.
        send(1, 100);
        assert_eq!(next(), Route::Deliver { forwarded: false });
        assert_eq!(forward.counters(), ForwardCounters::default());

        // A target, and nobody to see forwarded bursts: forwarded and done.
        forward.set_route(Some(b.clone()), false);
        assert!(forward.is_set());
        let before = kernel_rx_packets("rf1");
        send(10, 100);
        while forward.counters().frames < 10 {
            assert_eq!(next(), Route::Done);
        }
        let c = forward.counters();
        assert_eq!((c.frames, c.bytes, c.dropped, c.errors), (10, 10 * (HEADERS as u64 + 100), 0, 0), "{c:?}");
        assert!(c.bursts >= 1 && c.bursts <= 10, "{c:?}");
        assert_eq!(kernel_rx_packets("rf1") - before, 10, "the kernel received them on rf1");
        assert_eq!(b.stats().unwrap().port.tx_packets, 10, "and rf1's port counted them");

        // Forwarded bursts still delivered when someone wants to see them.
        forward.set_route(Some(b.clone()), true);
        send(1, 100);
        assert_eq!(next(), Route::Deliver { forwarded: true });
        assert_eq!(forward.counters().frames, 11);

        // A target that is down refuses with EIO: dropped, not an error.
        forward.set_route(Some(b.clone()), false);
        rf1.set_up(false).unwrap();
        send(3, 100);
        // However the kernel bursts them, none is written.
        while forward.counters().dropped < 3 {
            assert_eq!(next(), Route::Done);
        }
        let c = forward.counters();
        assert_eq!((c.frames, c.dropped, c.errors), (11, 3, 0), "{c:?}");

        // A closed target: dropped and counted as an error.
        assert!(b.close());
        send(1, 100);
        assert_eq!(next(), Route::Done);
        let c = forward.counters();
        assert_eq!((c.frames, c.dropped, c.errors), (11, 4, 1), "{c:?}");

        forward.set(None);
        send(1, 100);
        assert_eq!(next(), Route::Deliver { forwarded: false });
        reader.stop();
    });
}
