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

/// The message that carries `e` across the boundary: [`MARKER`] then one JSON object with
/// `code` and `message` always, `errno` (negated), `op`, `description` and `syscall` for OS
/// errors, `script` and `reply` for `ERR_VSYS_SCRIPT`, `timeoutMs` for `ERR_VSYS_TIMEOUT`,
/// and `device`, `reason` (and `renamedTo`) for `ERR_PLTAP_DEVICE_GONE`.
///
/// The exact strings are pinned by `__test__/fixtures/native-errors.json`, which the unit
/// tests below compare against and `__test__/errors-decode.spec.ts` feeds to the facade's
/// `fromNative`: change both sides together.
pub fn encode(e: &CoreError) -> String {
    let mut fields =
        vec![format!("\"code\":{}", json_string(&e.code())), format!("\"message\":{}", json_string(&e.to_string()))];
    if let CoreError::Os { op, errno, .. } = e {
        fields.push(format!("\"errno\":{}", -errno.raw()));
        fields.push(format!("\"op\":{}", json_string(op)));
        fields.push(format!("\"description\":{}", json_string(&errno.message())));
    }
    if let Some(syscall) = e.syscall() {
        fields.push(format!("\"syscall\":{}", json_string(syscall)));
    }
    match e {
        CoreError::Script { script, reply, .. } => {
            fields.push(format!("\"script\":{}", json_string(script)));
            fields.push(format!("\"reply\":{}", json_string(reply)));
        }
        CoreError::HelperTimeout { after, .. } => fields.push(format!("\"timeoutMs\":{}", after.as_millis())),
        CoreError::DeviceGone { name, reason } => {
            fields.push(format!("\"device\":{}", json_string(name)));
            fields.push(format!("\"reason\":{}", json_string(reason.as_str())));
            if let GoneReason::Renamed(to) = reason {
                fields.push(format!("\"renamedTo\":{}", json_string(to)));
            }
        }
        CoreError::VnetHdr { frame, error } => {
            fields.push(format!("\"frame\":{frame}"));
            fields.push(format!("\"reason\":{}", json_string(error.reason.as_str())));
            fields.push(format!("\"value\":{}", error.value));
        }
        CoreError::OffloadUnsupported { reason, missing, .. } => {
            fields.push(format!("\"reason\":{}", json_string(reason.as_str())));
            let list: Vec<String> = missing.iter().map(|m| json_string(m)).collect();
            fields.push(format!("\"missing\":[{}]", list.join(",")));
        }
        _ => {}
    }
    format!("{MARKER}{{{}}}", fields.join(","))
}

/// Converts a core error: a napi `GenericFailure` whose message is [`encode`]'s.
pub fn to_napi(e: CoreError) -> Error {
    Error::new(Status::GenericFailure, encode(&e))
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

/// `ERR_PLTAP_INTERNAL` for a panic caught in `entry`.
pub fn panic_error(entry: &str, payload: Box<dyn std::any::Any + Send>) -> CoreError {
    CoreError::from_panic(entry, payload)
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

#[cfg(test)]
mod tests {
    //! Golden tests of the boundary: the exact wire string of every core error variant,
    //! and the facade's list of errno names against the core's table.

    use super::*;
    use pltap_core::Errno;
    use std::io;
    use std::path::PathBuf;
    use std::time::Duration;

    fn os(op: &str, syscall: &'static str, errno: i32) -> CoreError {
        CoreError::os(op, syscall, io::Error::from_raw_os_error(errno))
    }

    /// One error per variant (and per `GoneReason`), with fields that exercise the escaping.
    fn cases() -> Vec<(&'static str, CoreError)> {
        vec![
            ("os", os("TUNSETIFF tap%d", "ioctl", libc::EPERM)),
            ("os-unknown-errno", os("open vif_up.in", "open", 4095)),
            ("invalid-argument", CoreError::invalid("mtu", "must be 68 to 65535")),
            (
                "invalid-argument-value",
                CoreError::invalid_value(
                    "interface name",
                    "tap\n0",
                    "must not contain whitespace, control characters, '/' or ':' (it contains '\\n')",
                ),
            ),
            (
                "helper-refused",
                CoreError::HelperRefused { op: "fd_tuntap TAP".into(), detail: "EOF before a descriptor".into() },
            ),
            (
                "helper-protocol",
                CoreError::HelperProtocol { op: "fd_tuntap TAP".into(), detail: "two descriptors".into() },
            ),
            (
                "timeout",
                CoreError::HelperTimeout { op: "vif_up tap1000-0".into(), after: Duration::from_millis(10_000) },
            ),
            (
                "script",
                CoreError::Script {
                    script: "vif_up".into(),
                    reply: "Invalid IP: \"198.18.0.300\"\\\n\tdone \u{e9}\n".into(),
                    detail: "tap1000-0 has no address 198.18.0.300/24".into(),
                },
            ),
            ("link-unstable", CoreError::LinkUnstable { action: "Promisc(true)".into() }),
            ("not-configured", CoreError::NotConfigured { detail: "localIp and localNetmask are not set".into() }),
            ("truncated", CoreError::Truncated { len: 9000, capacity: 1518 }),
            ("closed", CoreError::Closed),
            ("device-gone-deleted", CoreError::DeviceGone { name: "tap0".into(), reason: GoneReason::Deleted }),
            (
                "device-gone-renamed",
                CoreError::DeviceGone { name: "tap0".into(), reason: GoneReason::Renamed("tap9".into()) },
            ),
            ("device-gone-moved", CoreError::DeviceGone { name: "tap0".into(), reason: GoneReason::Moved }),
            ("internal", CoreError::Internal { detail: "NativeRx.recv panicked: boom".into() }),
        ]
    }

    fn repo_file(rel: &str) -> PathBuf {
        PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../..").join(rel)
    }

    /// The fixture as this side writes it: a JSON array of `{ "case", "wire" }`.
    fn fixture() -> String {
        let rows: Vec<String> = cases()
            .iter()
            .map(|(case, e)| format!("  {{ \"case\": {}, \"wire\": {} }}", json_string(case), json_string(&encode(e))))
            .collect();
        format!("[\n{}\n]\n", rows.join(",\n"))
    }

    #[test]
    fn wire_strings_match_the_shared_fixture() {
        let path = repo_file("__test__/fixtures/native-errors.json");
        let want = fixture();
        if std::env::var_os("PLTAP_BLESS").is_some() {
            std::fs::write(&path, &want).unwrap();
        }
        let have = std::fs::read_to_string(&path).unwrap_or_default();
        assert!(
            have == want,
            "{} differs from what encode() produces (rerun with PLTAP_BLESS=1 to rewrite it, then update \
             __test__/errors-decode.spec.ts):\n{want}",
            path.display()
        );
    }

    #[test]
    fn wire_strings_spelled_out() {
        // The fixture is generated; these two are written by hand so that a change in the
        // encoding itself (not only in a message) shows up as a readable diff here.
        assert_eq!(
            encode(&os("TUNSETIFF tap%d", "ioctl", libc::EPERM)),
            "\u{1}pltap:{\"code\":\"EPERM\",\"message\":\"TUNSETIFF tap%d: EPERM: Operation not permitted\",\
             \"errno\":-1,\"op\":\"TUNSETIFF tap%d\",\"description\":\"Operation not permitted\",\"syscall\":\"ioctl\"}"
        );
        assert_eq!(
            encode(&CoreError::Script { script: "promisc".into(), reply: "a\"b\\c\n\u{1}".into(), detail: "d".into() }),
            "\u{1}pltap:{\"code\":\"ERR_VSYS_SCRIPT\",\"message\":\"vsys script promisc failed: d; it said: a\\\"b\\\\c\\u000a\\u0001\",\
             \"script\":\"promisc\",\"reply\":\"a\\\"b\\\\c\\u000a\\u0001\"}"
        );
        assert_eq!(
            encode(&CoreError::Closed),
            "\u{1}pltap:{\"code\":\"ERR_PLTAP_CLOSED\",\"message\":\"the device is closed\"}"
        );
    }

    #[test]
    fn napi_error_carries_the_encoding() {
        let e = to_napi(CoreError::Closed);
        assert_eq!(e.status, Status::GenericFailure);
        assert_eq!(e.reason, encode(&CoreError::Closed));
    }

    /// The errno names listed in `SystemErrorCode` of `ts/errors.ts`, in order.
    fn facade_errno_names() -> Vec<String> {
        let ts = std::fs::read_to_string(repo_file("ts/errors.ts")).unwrap();
        let start = ts.find("export type SystemErrorCode =").expect("ts/errors.ts defines SystemErrorCode");
        let body = &ts[start..];
        let body = &body[..body.find("`UNKNOWN_ERRNO_").expect("SystemErrorCode ends with `UNKNOWN_ERRNO_${number}`")];
        body.split('\'').skip(1).step_by(2).map(str::to_string).collect()
    }

    #[test]
    fn facade_system_error_codes_are_the_core_errno_table() {
        // Every errno the core can name (the others become UNKNOWN_ERRNO_<n>).
        let mut core: Vec<String> = (1..4096)
            .map(|n| Errno::from_raw(n).code().into_owned())
            .filter(|c| !c.starts_with("UNKNOWN_ERRNO_"))
            .collect();
        core.sort();
        core.dedup();
        let mut facade = facade_errno_names();
        let listed = facade.len();
        facade.sort();
        facade.dedup();
        assert_eq!(facade.len(), listed, "SystemErrorCode lists a name twice");
        assert_eq!(
            facade, core,
            "SystemErrorCode in ts/errors.ts must list exactly the names of error.rs's errno table"
        );
    }
}
