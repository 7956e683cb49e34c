//! The `Netdev` port over a direct device: configuration, reconciliation against the
//! kernel, counters and close. Each test runs in its own network namespace.

mod common;

use common::{open_direct, privileged, run};
use pltap_core::Error;
use pltap_core::config::Config;

#[test]
fn config_brings_the_port_up_and_a_new_address_is_reapplied() {
    privileged(|| {
        let dev = open_direct("nd0");
        assert!(!dev.observed().flags.up);
        let seq0 = dev.change_seq();
        dev.set_config(Config::parse(Some("198.18.5.1"), Some(24)).unwrap());
        assert_eq!(dev.reconcile().unwrap(), Vec::<String>::new());
        let obs = dev.observed();
        assert!(obs.flags.up);
        assert_eq!(obs.addr.unwrap().to_string(), "198.18.5.1/24");
        assert!(run("ip", &["-4", "-o", "addr", "show", "dev", "nd0"]).contains("198.18.5.1/24"));
        assert!(dev.change_seq() > seq0);

        // A6: a changed address while UP is applied again.
        dev.set_config(Config::parse(Some("198.18.5.9"), Some(24)).unwrap());
        dev.reconcile().unwrap();
        assert_eq!(dev.observed().addr.unwrap().to_string(), "198.18.5.9/24");

        dev.set_desired_promisc(true);
        dev.reconcile().unwrap();
        assert!(dev.observed().flags.promisc);
        dev.set_desired_up(false);
        dev.reconcile().unwrap();
        assert!(!dev.observed().flags.up);
        assert_eq!(dev.last_error(), None);
    });
}

#[test]
fn failures_are_kept_as_last_error_and_close_is_final() {
    privileged(|| {
        let dev = open_direct("nd1");
        dev.set_desired_up(true);
        // The interface vanishes under the port: the sync fails and the error is kept.
        run("ip", &["link", "set", "nd1", "name", "nd1gone"]);
        let err = dev.reconcile().unwrap_err();
        assert_eq!(err.code(), "ERR_PLTAP_DEVICE_GONE", "{err}");
        assert_eq!(dev.last_error(), Some(err), "the error returned is the one kept");
        assert!(dev.last_error().unwrap().to_string().contains("renamed to nd1gone"));
        assert!(dev.retry_at().is_some());

        assert!(dev.close());
        assert!(!dev.close(), "close is idempotent");
        assert!(matches!(dev.live_tap(), Err(Error::Closed)));
        assert!(matches!(dev.send(&[0u8; 60]), Err(Error::Closed)));
    });
}

#[test]
fn counters_follow_sends() {
    privileged(|| {
        let dev = open_direct("nd2");
        dev.set_desired_up(true);
        dev.reconcile().unwrap();
        let mut frame = vec![0u8; 60];
        frame[..6].copy_from_slice(&[2, 0, 0, 0, 0, 0x99]);
        frame[12..14].copy_from_slice(&0x88b5u16.to_be_bytes());
        for _ in 0..3 {
            assert!(dev.send(&frame).unwrap());
        }
        assert!(dev.send(&[]).is_err(), "an empty frame is refused");
        let stats = dev.stats().unwrap();
        assert_eq!((stats.port.tx_packets, stats.port.tx_bytes, stats.port.tx_errors), (3, 180, 0));
        // The kernel received them: from the port's side that is its tx.
        assert_eq!(stats.kernel.unwrap().tx_packets, 3);
    });
}
