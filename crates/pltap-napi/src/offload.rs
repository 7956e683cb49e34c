//! The offload options and state of a device (`pltap_core::vnet`), as JS objects.

use napi_derive::napi;
use pltap_core::vnet::{
    ChecksumMode, Coalesce, Deliver, Fallback, OffloadCounters, OffloadOptions, OffloadState, RxOffload,
};

/// `NetdevOptions.offload` as the facade passes it (every field already checked).
#[napi(object)]
pub struct NativeOffloadOptions {
    /// `"csum"`, `"tso"` or `"tso+uso"`.
    pub rx: Option<String>,
    /// `"split"` or `"super"`.
    pub deliver: Option<String>,
    /// `"complete"` or `"partial"`.
    pub checksum: Option<String>,
    /// `"off"`, `"tcp"` or `"tcp+udp"`.
    pub coalesce: Option<String>,
    /// `"error"` or `"plain"`.
    pub fallback: Option<String>,
}

fn bad(what: &'static str, v: &str) -> pltap_core::Error {
    pltap_core::Error::invalid_value(what, v, "is not one of the documented values")
}

/// The core's options from the facade's.
pub fn parse_offload(o: NativeOffloadOptions) -> pltap_core::Result<OffloadOptions> {
    let mut out = OffloadOptions::default();
    if let Some(v) = o.rx {
        out.rx = match v.as_str() {
            "csum" => RxOffload::Csum,
            "tso" => RxOffload::Tso,
            "tso+uso" => RxOffload::TsoUso,
            _ => return Err(bad("offload.rx", &v)),
        };
    }
    if let Some(v) = o.deliver {
        out.deliver = match v.as_str() {
            "split" => Deliver::Split,
            "super" => Deliver::Super,
            _ => return Err(bad("offload.deliver", &v)),
        };
    }
    if let Some(v) = o.checksum {
        out.checksum = match v.as_str() {
            "complete" => ChecksumMode::Complete,
            "partial" => ChecksumMode::Partial,
            _ => return Err(bad("offload.checksum", &v)),
        };
    }
    if let Some(v) = o.coalesce {
        out.coalesce = match v.as_str() {
            "off" => Coalesce::Off,
            "tcp" => Coalesce::Tcp,
            "tcp+udp" => Coalesce::TcpUdp,
            _ => return Err(bad("offload.coalesce", &v)),
        };
    }
    if let Some(v) = o.fallback {
        out.fallback = match v.as_str() {
            "error" => Fallback::Error,
            "plain" => Fallback::Plain,
            _ => return Err(bad("offload.fallback", &v)),
        };
    }
    Ok(out)
}

/// What `TUNSETOFFLOAD` granted.
#[napi(object)]
pub struct NativeOffloadRx {
    pub csum: bool,
    pub tso4: bool,
    pub tso6: bool,
    pub tso_ecn: bool,
    pub uso: bool,
}

/// `dev.offload`.
#[napi(object)]
pub struct NativeOffloadState {
    pub header_size: u32,
    pub rx: NativeOffloadRx,
    pub deliver: String,
    pub checksum: String,
    pub coalesce: String,
}

impl From<OffloadState> for NativeOffloadState {
    fn from(s: OffloadState) -> Self {
        let g = s.granted;
        NativeOffloadState {
            header_size: s.header_size as u32,
            rx: NativeOffloadRx { csum: g.csum(), tso4: g.tso4(), tso6: g.tso6(), tso_ecn: g.tso_ecn(), uso: g.uso() },
            deliver: match s.deliver {
                Deliver::Split => "split",
                Deliver::Super => "super",
            }
            .into(),
            checksum: match s.checksum {
                ChecksumMode::Complete => "complete",
                ChecksumMode::Partial => "partial",
            }
            .into(),
            coalesce: match s.coalesce {
                Coalesce::Off => "off",
                Coalesce::Tcp => "tcp",
                Coalesce::TcpUdp => "tcp+udp",
            }
            .into(),
        }
    }
}

/// The offload counters (JS numbers).
#[napi(object)]
pub struct NativeOffloadStats {
    pub super_frames: f64,
    pub segments: f64,
    pub malformed: f64,
    pub gso_fallbacks: f64,
    pub coalesced: f64,
    pub coalesced_segments: f64,
}

impl From<OffloadCounters> for NativeOffloadStats {
    fn from(c: OffloadCounters) -> Self {
        NativeOffloadStats {
            super_frames: c.super_frames as f64,
            segments: c.segments as f64,
            malformed: c.malformed as f64,
            gso_fallbacks: c.gso_fallbacks as f64,
            coalesced: c.coalesced as f64,
            coalesced_segments: c.coalesced_segments as f64,
        }
    }
}
