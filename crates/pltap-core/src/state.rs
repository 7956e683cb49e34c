//! Device state as plain logic: configuration parsing, desired vs observed flags, and
//! the reconciliation that decides which actions to run (no I/O here).
//!
//! It fixes the original's `sync_flags` machinery: a changed address is re-applied
//! while UP (A6), failures are retried with exponential backoff and the last error is
//! kept (A7), `vif_up` runs once per change (A8), and the change counter moves exactly
//! when the observed state changes and is never 0 (A9).

use crate::error::{Error, Result};
use crate::iface::{IfFlags, Ipv4Net};
use std::net::Ipv4Addr;
use std::time::{Duration, Instant};

/// Parses `local_ip`: a strict dotted quad (four decimal octets, no leading zeros, no
/// spaces, no shorthand such as `10.1`).
///
/// ```
/// use pltap_core::state::parse_local_ip;
/// assert_eq!(parse_local_ip("198.18.0.1").unwrap().to_string(), "198.18.0.1");
/// assert!(parse_local_ip("198.18.1").is_err());
/// assert!(parse_local_ip("198.018.0.1").is_err());
/// ```
pub fn parse_local_ip(s: &str) -> Result<Ipv4Addr> {
    let bad = || Error::invalid("local_ip", format!("{s:?} is not a dotted-quad IPv4 address"));
    let parts: Vec<&str> = s.split('.').collect();
    if parts.len() != 4 {
        return Err(bad());
    }
    let mut octets = [0u8; 4];
    for (o, p) in octets.iter_mut().zip(&parts) {
        if p.is_empty() || p.len() > 3 || !p.bytes().all(|b| b.is_ascii_digit()) || (p.len() > 1 && p.starts_with('0'))
        {
            return Err(bad());
        }
        *o = p.parse().map_err(|_| bad())?;
    }
    Ok(Ipv4Addr::from(octets))
}

/// Parses `local_netmask`: a strict decimal prefix length, 1 to 32 (no sign, no
/// leading zeros, no dotted mask). The original used `atoi` (defect 5).
///
/// ```
/// use pltap_core::state::parse_local_netmask;
/// assert_eq!(parse_local_netmask("24").unwrap(), 24);
/// assert!(parse_local_netmask("24x").is_err());
/// assert!(parse_local_netmask("255.255.255.0").is_err());
/// ```
pub fn parse_local_netmask(s: &str) -> Result<u8> {
    let bad = |why: &str| Error::invalid("local_netmask", format!("{s:?} {why}"));
    if s.is_empty() || s.len() > 2 || !s.bytes().all(|b| b.is_ascii_digit()) || (s.len() > 1 && s.starts_with('0')) {
        return Err(bad("is not a prefix length (an integer from 1 to 32)"));
    }
    let v: u8 = s.parse().map_err(|_| bad("is not an integer"))?;
    if !(1..=32).contains(&v) {
        return Err(bad("is out of range 1..=32"));
    }
    Ok(v)
}

/// The port's configuration (`local_ip` and `local_netmask` in the original).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Config {
    /// The address to put on the interface.
    pub local_ip: Option<Ipv4Addr>,
    /// Its prefix length, reported back as the same integer (defect 4).
    pub local_netmask: Option<u8>,
}

impl Config {
    /// The address and prefix, once both are set ("finalized" in the original).
    pub fn net(&self) -> Option<Ipv4Net> {
        Some(Ipv4Net { addr: self.local_ip?, prefix: self.local_netmask? })
    }
}

/// What the kernel last showed.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Observed {
    /// Flags.
    pub flags: IfFlags,
    /// Primary IPv4 address.
    pub addr: Option<Ipv4Net>,
}

/// What the kernel last showed, its change counter and the last failure, taken
/// together (see [`Reconciler::snapshot`]): a reader never sees the flags of one moment
/// with the error of another.
///
/// ```
/// use pltap_core::state::Reconciler;
/// let s = Reconciler::default().snapshot();
/// assert_eq!((s.change_seq, s.last_error), (1, None));
/// ```
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Snapshot {
    /// The last observed state.
    pub observed: Observed,
    /// Its change counter (never 0).
    pub change_seq: u64,
    /// The last failure, if the desired state is not reached since.
    pub last_error: Option<String>,
}

/// One step towards the desired state.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Action {
    /// Bring the interface up with this address (vsys: `vif_up`; direct: set address, UP).
    Up(Option<Ipv4Net>),
    /// Bring it down (vsys: `vif_down`; direct: clear UP).
    Down,
    /// Set promiscuous mode (vsys: `promisc`; direct: `IFF_PROMISC`).
    Promisc(bool),
}

/// Retry policy after a failed action.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Backoff {
    /// Delay after the first failure.
    pub initial: Duration,
    /// Upper bound.
    pub max: Duration,
}

impl Default for Backoff {
    fn default() -> Backoff {
        Backoff { initial: Duration::from_millis(200), max: Duration::from_secs(30) }
    }
}

impl Backoff {
    /// The delay after `failures` consecutive failures (1 → `initial`, doubling).
    pub fn delay(&self, failures: u32) -> Duration {
        let shift = failures.saturating_sub(1).min(20);
        (self.initial * (1u32 << shift)).min(self.max)
    }
}

/// Desired vs observed state of one device, and what to do about the difference.
///
/// ```
/// use pltap_core::state::{Action, Reconciler, Config};
/// use std::time::Instant;
/// let mut r = Reconciler::default();
/// r.set_config(Config { local_ip: Some("198.18.0.1".parse().unwrap()), local_netmask: Some(24) });
/// // Once both are set, the device is wanted UP with that address (as in the original).
/// assert!(matches!(r.next_action(Instant::now()), Some(Action::Up(Some(_)))));
/// ```
#[derive(Clone, Debug)]
pub struct Reconciler {
    config: Config,
    want_up: bool,
    want_promisc: bool,
    observed: Observed,
    change_seq: u64,
    failures: u32,
    retry_at: Option<Instant>,
    last_error: Option<String>,
    backoff: Backoff,
}

impl Default for Reconciler {
    fn default() -> Reconciler {
        Reconciler {
            config: Config::default(),
            want_up: false,
            want_promisc: false,
            observed: Observed::default(),
            change_seq: 1,
            failures: 0,
            retry_at: None,
            last_error: None,
            backoff: Backoff::default(),
        }
    }
}

impl Reconciler {
    /// A reconciler that starts from what the kernel shows now, wanting it unchanged.
    pub fn new(observed: Observed) -> Reconciler {
        Reconciler {
            want_up: observed.flags.up,
            want_promisc: observed.flags.promisc,
            observed,
            ..Reconciler::default()
        }
    }

    /// Sets the retry policy.
    pub fn set_backoff(&mut self, backoff: Backoff) {
        self.backoff = backoff;
    }

    /// The configuration.
    pub fn config(&self) -> Config {
        self.config
    }

    /// Replaces the configuration. Once both fields are set the device is wanted UP.
    /// A change of address clears any pending backoff so it is applied at once.
    pub fn set_config(&mut self, config: Config) {
        if config != self.config {
            self.config = config;
            self.clear_backoff();
        }
        if config.net().is_some() {
            self.want_up = true;
        }
        self.settle();
    }

    /// Wants the interface UP or DOWN.
    pub fn set_want_up(&mut self, up: bool) {
        if up != self.want_up {
            self.clear_backoff();
        }
        self.want_up = up;
        self.settle();
    }

    /// Wants promiscuous mode on or off.
    pub fn set_want_promisc(&mut self, on: bool) {
        if on != self.want_promisc {
            self.clear_backoff();
        }
        self.want_promisc = on;
        self.settle();
    }

    /// Whether the interface is wanted UP.
    pub fn want_up(&self) -> bool {
        self.want_up
    }

    /// Whether promiscuous mode is wanted.
    pub fn want_promisc(&self) -> bool {
        self.want_promisc
    }

    fn clear_backoff(&mut self) {
        self.failures = 0;
        self.retry_at = None;
    }

    /// Once the kernel shows what is wanted, there is nothing left to retry and no
    /// failure to report, however the state was reached: by a retry, by someone else
    /// (`ip link set up`), or by a later refresh.
    fn settle(&mut self) {
        if (self.last_error.is_some() || self.retry_at.is_some()) && self.pending().is_empty() {
            self.clear_backoff();
            self.last_error = None;
        }
    }

    /// Records what the kernel shows; returns whether it changed (and then the change
    /// counter moved). If the kernel now shows the desired state, the last error and
    /// any pending retry are cleared (in the same step, so that nobody sees the wanted
    /// state together with a stale failure).
    pub fn observe(&mut self, observed: Observed) -> bool {
        let changed = observed != self.observed;
        if changed {
            self.observed = observed;
            self.change_seq = self.change_seq.wrapping_add(1).max(1);
        }
        self.settle();
        changed
    }

    /// The last observed state.
    pub fn observed(&self) -> Observed {
        self.observed
    }

    /// A counter that moves on every observed change; never 0.
    pub fn change_seq(&self) -> u64 {
        self.change_seq
    }

    /// The most recent failure, kept until a later action succeeds or the kernel is
    /// observed in the desired state (whoever brought it there).
    pub fn last_error(&self) -> Option<&str> {
        self.last_error.as_deref()
    }

    /// The observed state, the change counter and the last error, as of now.
    pub fn snapshot(&self) -> Snapshot {
        Snapshot { observed: self.observed, change_seq: self.change_seq, last_error: self.last_error.clone() }
    }

    /// Consecutive failures so far.
    pub fn failures(&self) -> u32 {
        self.failures
    }

    /// When the next retry is due, if the last action failed.
    pub fn retry_at(&self) -> Option<Instant> {
        self.retry_at
    }

    /// Every action the difference between desired and observed calls for, in the
    /// order they must run (UP before PROMISC: vsys's `promisc` needs an address).
    pub fn pending(&self) -> Vec<Action> {
        let obs = self.observed;
        let mut out = Vec::new();
        let net = self.config.net();
        if self.want_up {
            let addr_ok = net.is_none_or(|n| obs.addr == Some(n));
            if !obs.flags.up || !addr_ok {
                out.push(Action::Up(net));
            }
        } else if obs.flags.up {
            out.push(Action::Down);
        }
        if self.want_promisc != obs.flags.promisc {
            out.push(Action::Promisc(self.want_promisc));
        }
        out
    }

    /// The first pending action, unless a retry is not yet due.
    pub fn next_action(&self, now: Instant) -> Option<Action> {
        if self.retry_at.is_some_and(|t| now < t) {
            return None;
        }
        self.pending().into_iter().next()
    }

    /// Records the result of an action. A success clears the backoff and the last
    /// error; a failure keeps the error and schedules a retry.
    pub fn finish(&mut self, result: std::result::Result<(), String>, now: Instant) {
        match result {
            Ok(()) => {
                self.clear_backoff();
                self.last_error = None;
            }
            Err(e) => {
                self.failures += 1;
                self.retry_at = Some(now + self.backoff.delay(self.failures));
                self.last_error = Some(e);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn net(s: &str, p: u8) -> Ipv4Net {
        Ipv4Net { addr: s.parse().unwrap(), prefix: p }
    }

    fn up_with(n: Option<Ipv4Net>) -> Observed {
        Observed { flags: IfFlags { up: true, promisc: false, running: true }, addr: n }
    }

    #[test]
    fn strict_ip() {
        for ok in ["198.18.0.1", "0.0.0.0", "255.255.255.255", "198.19.255.254"] {
            assert!(parse_local_ip(ok).is_ok(), "{ok}");
        }
        for bad in [
            "", "1", "1.2.3", "1.2.3.4.5", "256.0.0.1", "01.2.3.4", "1.2.3.-4", "1.2.3.4 ", " 1.2.3.4", "1..3.4",
            "0x1.2.3.4", "1.2.3.4/24", "a.b.c.d", "1.2.3.4\n", "1.2.3.1000", "+1.2.3.4", "1.2.3.", "١.2.3.4",
        ] {
            assert_eq!(parse_local_ip(bad).unwrap_err().code(), "ERR_INVALID_ARG_VALUE", "{bad:?}");
        }
    }

    #[test]
    fn strict_netmask() {
        for (s, v) in [("1", 1), ("8", 8), ("24", 24), ("32", 32)] {
            assert_eq!(parse_local_netmask(s).unwrap(), v);
        }
        for bad in
            ["", "0", "33", "99", "-1", "+24", "024", "24x", "x", "2 4", " 24", "255.255.255.0", "100", "24\n", "1e1"]
        {
            assert!(parse_local_netmask(bad).is_err(), "{bad:?}");
        }
        // Defect 4: reported back as the same integer.
        let c = Config { local_ip: None, local_netmask: Some(parse_local_netmask("24").unwrap()) };
        assert_eq!(c.local_netmask, Some(24));
    }

    #[test]
    fn config_brings_up_once_complete() {
        let mut r = Reconciler::default();
        r.set_config(Config { local_ip: Some("198.18.0.1".parse().unwrap()), local_netmask: None });
        assert_eq!(r.pending(), vec![]);
        r.set_config(Config { local_ip: Some("198.18.0.1".parse().unwrap()), local_netmask: Some(24) });
        assert_eq!(r.pending(), vec![Action::Up(Some(net("198.18.0.1", 24)))]);
    }

    #[test]
    fn address_change_while_up_is_reapplied() {
        // A6
        let mut r = Reconciler::default();
        r.set_config(Config { local_ip: Some("198.18.0.1".parse().unwrap()), local_netmask: Some(24) });
        r.observe(up_with(Some(net("198.18.0.1", 24))));
        assert_eq!(r.pending(), vec![]);
        r.set_config(Config { local_ip: Some("198.18.0.9".parse().unwrap()), local_netmask: Some(24) });
        assert_eq!(r.pending(), vec![Action::Up(Some(net("198.18.0.9", 24)))]);
    }

    #[test]
    fn vif_up_runs_once_per_change() {
        // A8: once the kernel shows the change, nothing more is pending.
        let mut r = Reconciler::default();
        r.set_config(Config { local_ip: Some("198.18.0.1".parse().unwrap()), local_netmask: Some(24) });
        let now = Instant::now();
        assert_eq!(r.next_action(now), Some(Action::Up(Some(net("198.18.0.1", 24)))));
        r.finish(Ok(()), now);
        r.observe(up_with(Some(net("198.18.0.1", 24))));
        assert_eq!(r.next_action(now), None);
        // Re-setting the same config changes nothing.
        r.set_config(r.config());
        assert_eq!(r.next_action(now), None);
    }

    #[test]
    fn failures_back_off_and_keep_the_error() {
        // A7
        let mut r = Reconciler::default();
        r.set_want_up(true);
        let t0 = Instant::now();
        r.finish(Err("vif_up: Requested netmask /0 is invalid".into()), t0);
        assert_eq!(r.last_error(), Some("vif_up: Requested netmask /0 is invalid"));
        assert_eq!(r.next_action(t0), None, "no retry before the backoff");
        assert_eq!(r.next_action(t0 + Duration::from_millis(200)), Some(Action::Up(None)));
        r.finish(Err("again".into()), t0);
        assert_eq!(r.retry_at(), Some(t0 + Duration::from_millis(400)));
        r.finish(Ok(()), t0);
        assert_eq!(r.last_error(), None);
        assert_eq!(r.failures(), 0);
        let b = Backoff::default();
        assert_eq!(b.delay(1), Duration::from_millis(200));
        assert_eq!(b.delay(3), Duration::from_millis(800));
        assert_eq!(b.delay(40), Duration::from_secs(30));
    }

    #[test]
    fn reaching_the_wanted_state_without_the_retry_clears_the_error() {
        // Someone else brings the device up while our up() is backing off.
        let mut r = Reconciler::default();
        r.set_want_up(true);
        let t0 = Instant::now();
        r.finish(Err("ENODEV".into()), t0);
        assert!(r.last_error().is_some());
        assert!(r.retry_at().is_some());
        assert!(r.observe(up_with(None)));
        assert_eq!(r.last_error(), None, "the kernel shows what was wanted");
        assert_eq!(r.retry_at(), None, "nothing left to retry");
        assert_eq!(r.failures(), 0);
        assert_eq!(r.next_action(t0), None);

        // A later refresh that shows no change still settles (the state was reached
        // before the failure was recorded, e.g. the action failed after taking effect).
        let mut r = Reconciler::new(up_with(None));
        r.finish(Err("vif_up: reply of another request".into()), t0);
        assert!(r.last_error().is_some());
        assert!(!r.observe(up_with(None)), "nothing changed");
        assert_eq!(r.last_error(), None);
        assert_eq!(r.retry_at(), None);

        // Asking for the state the kernel already shows settles too.
        let mut r = Reconciler::default();
        r.set_want_up(true);
        r.finish(Err("ENODEV".into()), t0);
        r.set_want_up(false);
        assert_eq!(r.last_error(), None, "the device is down, as now wanted");

        // While the wanted state is not reached, the error stays.
        let mut r = Reconciler::default();
        r.set_want_up(true);
        r.set_want_promisc(true);
        r.finish(Err("EPERM".into()), t0);
        r.observe(up_with(None));
        assert_eq!(r.last_error(), Some("EPERM"), "promisc is still pending");
        assert_eq!(r.pending(), vec![Action::Promisc(true)]);
    }

    #[test]
    fn down_and_promisc_decisions() {
        let mut r = Reconciler::new(up_with(None));
        assert_eq!(r.pending(), vec![]);
        r.set_want_promisc(true);
        assert_eq!(r.pending(), vec![Action::Promisc(true)]);
        r.set_want_up(false);
        assert_eq!(r.pending(), vec![Action::Down, Action::Promisc(true)]);
        let mut r = Reconciler::default();
        r.set_want_up(true);
        r.set_want_promisc(true);
        assert_eq!(r.pending(), vec![Action::Up(None), Action::Promisc(true)], "UP first");
    }

    #[test]
    fn change_seq_moves_only_on_change_and_is_never_zero() {
        // A9
        let mut r = Reconciler::default();
        assert_eq!(r.change_seq(), 1);
        assert!(!r.observe(Observed::default()));
        assert_eq!(r.change_seq(), 1);
        assert!(r.observe(up_with(None)));
        assert_eq!(r.change_seq(), 2);
        r.change_seq = u64::MAX;
        assert!(r.observe(Observed::default()));
        assert_eq!(r.change_seq(), 1, "wraps past 0");
    }
}
