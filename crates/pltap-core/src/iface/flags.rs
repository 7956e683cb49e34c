//! [`IfFlags`]: the interface flags pltap tracks.

use crate::sys::linux;

/// The interface flags pltap tracks.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub struct IfFlags {
    /// `IFF_UP`: administratively up.
    pub up: bool,
    /// `IFF_PROMISC`.
    pub promisc: bool,
    /// `IFF_RUNNING`: operationally up (for a tap: a process has it open and it is UP).
    pub running: bool,
}

impl IfFlags {
    pub(crate) fn from_raw(raw: i16) -> IfFlags {
        IfFlags {
            up: raw & linux::IFF_UP != 0,
            promisc: raw & linux::IFF_PROMISC != 0,
            running: raw & linux::IFF_RUNNING != 0,
        }
    }
}
