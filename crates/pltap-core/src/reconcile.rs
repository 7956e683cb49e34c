//! The reconciler: desired vs observed link state of one device, and the decision of
//! which actions to run about the difference, as plain logic (no I/O here). The
//! configuration it reconciles towards is [`crate::config::Config`].
//!
//! It fixes the original's `sync_flags` machinery: a changed address is re-applied
//! while UP (A6), failures are retried with exponential backoff and the last error is
//! kept (A7), `vif_up` runs once per change (A8), and the change counter moves exactly
//! when the observed state changes and is never 0 (A9).

use crate::config::Config;
use crate::error::Error;
use crate::iface::{IfFlags, Ipv4Net};
use std::time::{Duration, Instant};

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
/// use pltap_core::reconcile::Reconciler;
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
    pub last_error: Option<Error>,
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
/// use pltap_core::config::Config;
/// use pltap_core::reconcile::{Action, Reconciler};
/// use std::time::Instant;
/// let mut r = Reconciler::default();
/// r.set_config(Config::parse(Some("198.18.0.1"), Some(24))?);
/// // Once both are set, the device is wanted UP with that address (as in the original).
/// assert!(matches!(r.next_action(Instant::now()), Some(Action::Up(Some(_)))));
/// # Ok::<(), pltap_core::Error>(())
/// ```
#[derive(Clone, Debug)]
pub struct Reconciler {
    config: Config,
    desired_up: bool,
    desired_promisc: bool,
    observed: Observed,
    change_seq: u64,
    failures: u32,
    retry_at: Option<Instant>,
    last_error: Option<Error>,
    backoff: Backoff,
}

impl Default for Reconciler {
    fn default() -> Reconciler {
        Reconciler {
            config: Config::default(),
            desired_up: false,
            desired_promisc: false,
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
            desired_up: observed.flags.up,
            desired_promisc: observed.flags.promisc,
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
            self.desired_up = true;
        }
        self.settle();
    }

    /// Sets whether the interface is desired UP or DOWN.
    pub fn set_desired_up(&mut self, up: bool) {
        if up != self.desired_up {
            self.clear_backoff();
        }
        self.desired_up = up;
        self.settle();
    }

    /// Sets whether promiscuous mode is desired on or off.
    pub fn set_desired_promisc(&mut self, on: bool) {
        if on != self.desired_promisc {
            self.clear_backoff();
        }
        self.desired_promisc = on;
        self.settle();
    }

    /// Whether the interface is desired UP.
    pub fn desired_up(&self) -> bool {
        self.desired_up
    }

    /// Whether promiscuous mode is desired.
    pub fn desired_promisc(&self) -> bool {
        self.desired_promisc
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

    /// Moves the change counter for a change this reconciler does not track itself (the
    /// device's addresses or MTU, see [`crate::netdev::Netdev::refresh`]).
    pub fn touch(&mut self) {
        self.change_seq = self.change_seq.wrapping_add(1).max(1);
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
    pub fn last_error(&self) -> Option<&Error> {
        self.last_error.as_ref()
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
        if self.desired_up {
            let addr_ok = net.is_none_or(|n| obs.addr == Some(n));
            if !obs.flags.up || !addr_ok {
                out.push(Action::Up(net));
            }
        } else if obs.flags.up {
            out.push(Action::Down);
        }
        if self.desired_promisc != obs.flags.promisc {
            out.push(Action::Promisc(self.desired_promisc));
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
    pub fn finish(&mut self, result: std::result::Result<(), Error>, now: Instant) {
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
        Ipv4Net::new(s.parse().unwrap(), p).unwrap()
    }

    fn config(ip: &str, netmask: Option<i64>) -> Config {
        Config::parse(Some(ip), netmask).unwrap()
    }

    /// A failure as the reconciler keeps it.
    fn failure(detail: &str) -> Error {
        Error::NotConfigured { detail: detail.into() }
    }

    fn up_with(n: Option<Ipv4Net>) -> Observed {
        Observed { flags: IfFlags { up: true, promisc: false, running: true }, addr: n }
    }

    #[test]
    fn config_brings_up_once_complete() {
        let mut r = Reconciler::default();
        r.set_config(config("198.18.0.1", None));
        assert_eq!(r.pending(), vec![]);
        r.set_config(config("198.18.0.1", Some(24)));
        assert_eq!(r.pending(), vec![Action::Up(Some(net("198.18.0.1", 24)))]);
    }

    #[test]
    fn address_change_while_up_is_reapplied() {
        // A6
        let mut r = Reconciler::default();
        r.set_config(config("198.18.0.1", Some(24)));
        r.observe(up_with(Some(net("198.18.0.1", 24))));
        assert_eq!(r.pending(), vec![]);
        r.set_config(config("198.18.0.9", Some(24)));
        assert_eq!(r.pending(), vec![Action::Up(Some(net("198.18.0.9", 24)))]);
    }

    #[test]
    fn vif_up_runs_once_per_change() {
        // A8: once the kernel shows the change, nothing more is pending.
        let mut r = Reconciler::default();
        r.set_config(config("198.18.0.1", Some(24)));
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
        r.set_desired_up(true);
        let t0 = Instant::now();
        r.finish(Err(failure("vif_up: Requested netmask /0 is invalid")), t0);
        assert_eq!(r.last_error(), Some(&failure("vif_up: Requested netmask /0 is invalid")));
        assert_eq!(r.next_action(t0), None, "no retry before the backoff");
        assert_eq!(r.next_action(t0 + Duration::from_millis(200)), Some(Action::Up(None)));
        r.finish(Err(failure("again")), t0);
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
        r.set_desired_up(true);
        let t0 = Instant::now();
        r.finish(Err(failure("ENODEV")), t0);
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
        r.finish(Err(failure("vif_up: reply of another request")), t0);
        assert!(r.last_error().is_some());
        assert!(!r.observe(up_with(None)), "nothing changed");
        assert_eq!(r.last_error(), None);
        assert_eq!(r.retry_at(), None);

        // Asking for the state the kernel already shows settles too.
        let mut r = Reconciler::default();
        r.set_desired_up(true);
        r.finish(Err(failure("ENODEV")), t0);
        r.set_desired_up(false);
        assert_eq!(r.last_error(), None, "the device is down, as now wanted");

        // While the wanted state is not reached, the error stays.
        let mut r = Reconciler::default();
        r.set_desired_up(true);
        r.set_desired_promisc(true);
        r.finish(Err(failure("EPERM")), t0);
        r.observe(up_with(None));
        assert_eq!(r.last_error(), Some(&failure("EPERM")), "promisc is still pending");
        assert_eq!(r.pending(), vec![Action::Promisc(true)]);
    }

    #[test]
    fn down_and_promisc_decisions() {
        let mut r = Reconciler::new(up_with(None));
        assert_eq!(r.pending(), vec![]);
        r.set_desired_promisc(true);
        assert_eq!(r.pending(), vec![Action::Promisc(true)]);
        r.set_desired_up(false);
        assert_eq!(r.pending(), vec![Action::Down, Action::Promisc(true)]);
        let mut r = Reconciler::default();
        r.set_desired_up(true);
        r.set_desired_promisc(true);
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
