//! [`Counters`]: the packet, byte, error and drop counters of an interface, and the
//! `/proc/net/dev` parser that reads the kernel's.

/// Packet, byte, error and drop counters of an interface in both directions: the
/// kernel's (as `/sys/class/net/<if>/statistics` and `/proc/net/dev` report them) or a
/// port's own (see [`crate::netdev::Stats`]).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub struct Counters {
    /// `rx_packets`.
    pub rx_packets: u64,
    /// `rx_bytes`.
    pub rx_bytes: u64,
    /// `rx_errors`.
    pub rx_errors: u64,
    /// `rx_dropped`.
    pub rx_dropped: u64,
    /// `tx_packets`.
    pub tx_packets: u64,
    /// `tx_bytes`.
    pub tx_bytes: u64,
    /// `tx_errors`.
    pub tx_errors: u64,
    /// `tx_dropped`.
    pub tx_dropped: u64,
}

impl Counters {
    /// The same counters from the port's side, as Open vSwitch's `netdev_tap_get_stats`
    /// reports them: what the kernel transmitted is what the port received.
    pub fn swapped(self) -> Counters {
        Counters {
            rx_packets: self.tx_packets,
            rx_bytes: self.tx_bytes,
            rx_errors: self.tx_errors,
            rx_dropped: self.tx_dropped,
            tx_packets: self.rx_packets,
            tx_bytes: self.rx_bytes,
            tx_errors: self.rx_errors,
            tx_dropped: self.rx_dropped,
        }
    }

    /// Parses `name`'s line of a `/proc/net/dev` table.
    pub fn parse_proc_net_dev(table: &str, name: &str) -> Option<Counters> {
        table.lines().skip(2).find_map(|line| {
            let (ifname, rest) = line.split_once(':')?;
            if ifname.trim() != name {
                return None;
            }
            let v: Vec<u64> = rest.split_whitespace().filter_map(|x| x.parse().ok()).collect();
            (v.len() >= 16).then(|| Counters {
                rx_bytes: v[0],
                rx_packets: v[1],
                rx_errors: v[2],
                rx_dropped: v[3],
                tx_bytes: v[8],
                tx_packets: v[9],
                tx_errors: v[10],
                tx_dropped: v[11],
            })
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn proc_net_dev_parsing_and_swap() {
        let table = "Inter-|   Receive                                                |  Transmit\n \
 face |bytes    packets errs drop fifo frame compressed multicast|bytes    packets errs drop fifo colls carrier compressed\n    \
lo:     100       2    0    0    0     0          0         0      300       4    0    1    0     0       0          0\n \
tap0: 42 1 0 0 0 0 0 0 84 2 0 0 0 0 0 0\n";
        let lo = Counters::parse_proc_net_dev(table, "lo").unwrap();
        assert_eq!((lo.rx_bytes, lo.rx_packets, lo.tx_bytes, lo.tx_packets, lo.tx_dropped), (100, 2, 300, 4, 1));
        let port = lo.swapped();
        assert_eq!((port.rx_packets, port.tx_packets, port.rx_dropped), (4, 2, 1));
        assert_eq!(Counters::parse_proc_net_dev(table, "tap0").unwrap().tx_bytes, 84);
        assert!(Counters::parse_proc_net_dev(table, "eth0").is_none());
    }
}
