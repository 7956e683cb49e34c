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

/// The panic's message, if it carries one.
fn panic_message(payload: &(dyn std::any::Any + Send)) -> String {
    if let Some(s) = payload.downcast_ref::<&str>() {
        (*s).to_string()
    } else if let Some(s) = payload.downcast_ref::<String>() {
        s.clone()
    } else {
        "a panic without a message".to_string()
    }
}

/// `ERR_PLTAP_INTERNAL` for a panic caught in `entry`.
pub fn panic_error(entry: &str, payload: Box<dyn std::any::Any + Send>) -> CoreError {
    let detail = format!("{entry} panicked: {}", panic_message(&*payload));
    // A payload whose Drop panics again must not unwind from here.
    std::mem::forget(payload);
    CoreError::Internal { detail }
}

/// Runs the body of the entry point `entry`; a panic becomes `ERR_PLTAP_INTERNAL` instead
/// of unwinding into Node (which aborts the process). Every `#[napi]` function body runs
/// in this (the `catch_unwind` attribute also covers napi-rs's own argument conversions,
/// but with an untyped error).
pub fn guard<T>(entry: &str, f: impl FnOnce() -> napi::Result<T>) -> napi::Result<T> {
    std::panic::catch_unwind(std::panic::AssertUnwindSafe(f)).unwrap_or_else(|p| Err(to_napi(panic_error(entry, p))))
}

/// [`guard`] for code that returns a core result (closures run off the JS thread, whose
/// error must be `Send`).
pub fn guard_core<T>(entry: &str, f: impl FnOnce() -> pltap_core::Result<T>) -> pltap_core::Result<T> {
    std::panic::catch_unwind(std::panic::AssertUnwindSafe(f)).unwrap_or_else(|p| Err(panic_error(entry, p)))
}

/// Runs `f` on the blocking thread pool, guarded; resolves with its result.
pub async fn blocking<T: Send + 'static>(
    entry: &'static str,
    f: impl FnOnce() -> pltap_core::Result<T> + Send + 'static,
) -> napi::Result<T> {
    match napi::bindgen_prelude::spawn_blocking(move || guard_core(entry, f)).await {
        Ok(result) => result.map_err(to_napi),
        Err(e) => Err(to_napi(CoreError::Internal { detail: format!("{entry}: its blocking task failed: {e}") })),
    }
}

/// A test-only fault injection, never documented for users: when the environment variable
/// `PLTAP_TEST_PANIC` (read once) names `point`, this panics there. The ava suite uses it to
/// show that a panic anywhere in the addon becomes a JS error instead of an abort.
pub fn test_panic_point(point: &str) {
    static WANTED: std::sync::OnceLock<Option<String>> = std::sync::OnceLock::new();
    if WANTED.get_or_init(|| std::env::var("PLTAP_TEST_PANIC").ok()).as_deref() == Some(point) {
        panic!("PLTAP_TEST_PANIC={point}");
    }
}
