//! `pltap_core::Error` → a JS error the facade can rebuild into Node's SystemError shape.
//!
//! napi-rs errors carry a status and a message, nothing more, and async rejections are
//! created by napi-rs itself. So the binding serialises the fields the facade needs
//! (`code`, `errno`, `syscall`, `reply`, `device`, ...) as JSON after a marker in the message; the
//! facade (`ts/errors.ts`) parses it and throws a proper `PltapError`.

use napi::{Error, Status};
use pltap_core::Error as CoreError;
use pltap_core::error::GoneReason;

/// Prefix of every message the facade decodes.
pub const MARKER: &str = "\u{1}pltap:";

fn json_string(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + 2);
    out.push('"');
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            c if (c as u32) < 0x20 => out.push_str(&format!("\\u{:04x}", c as u32)),
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

/// Converts a core error.
pub fn to_napi(e: CoreError) -> Error {
    let mut fields = vec![format!("\"code\":{}", json_string(&e.code())), format!("\"message\":{}", json_string(&e.to_string()))];
    if let CoreError::Os { op, errno, .. } = &e {
        fields.push(format!("\"errno\":{}", -errno.0));
        fields.push(format!("\"op\":{}", json_string(op)));
        fields.push(format!("\"description\":{}", json_string(&errno.message())));
    }
    if let Some(syscall) = e.syscall() {
        fields.push(format!("\"syscall\":{}", json_string(syscall)));
    }
    match &e {
        CoreError::Script { script, reply, .. } => {
            fields.push(format!("\"script\":{}", json_string(script)));
            fields.push(format!("\"reply\":{}", json_string(reply)));
        }
        CoreError::Timeout { after, .. } => fields.push(format!("\"timeoutMs\":{}", after.as_millis())),
        CoreError::DeviceGone { name, reason } => {
            fields.push(format!("\"device\":{}", json_string(name)));
            fields.push(format!("\"reason\":{}", json_string(reason.as_str())));
            if let GoneReason::Renamed(to) = reason {
                fields.push(format!("\"renamedTo\":{}", json_string(to)));
            }
        }
        _ => {}
    }
    Error::new(Status::GenericFailure, format!("{MARKER}{{{}}}", fields.join(",")))
}

/// `.into_napi()` on core results.
pub trait IntoNapi<T> {
    /// Converts the error side.
    fn into_napi(self) -> napi::Result<T>;
}

impl<T> IntoNapi<T> for pltap_core::Result<T> {
    fn into_napi(self) -> napi::Result<T> {
        self.map_err(to_napi)
    }
}
