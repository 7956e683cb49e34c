//! `pltap vsysd`: the vsys-compatible helper of `pltap-vsysd`, run inside the Node
//! process so the npm package needs no second binary.

use crate::error::{IntoNapi, guard};
use napi::bindgen_prelude::*;
use napi_derive::napi;
use pltap_vsysd::Server;
use pltap_vsysd::cli::{Command, USAGE, parse_args};
use std::sync::Mutex;

/// A running helper (`NativeVsysd` in JS).
#[napi(js_name = "NativeVsysd")]
pub struct JsVsysd {
    server: Mutex<Option<Server>>,
    dir: String,
}

/// The helper's `--help` text.
#[napi(catch_unwind)]
pub fn vsysd_usage() -> Result<String> {
    guard("vsysdUsage", || Ok(USAGE.to_string()))
}

/// Parses `pltap-vsysd` flags and starts serving. Bad flags throw an `InvalidArg`
/// error (the CLI prints the usage text); `--help` is the caller's business (see
/// `vsysdUsage`). A directory the helper refuses to serve (unsafe ownership or mode,
/// another helper holding its lock) throws the core's OS error, whose message names
/// the path and the fix; nothing is left behind then.
#[napi(catch_unwind)]
pub fn vsysd_start(args: Vec<String>) -> Result<JsVsysd> {
    guard("vsysdStart", || {
        let config = match parse_args(args) {
            Ok(Command::Run(config)) => config,
            Ok(Command::Help) => {
                return Err(Error::new(Status::InvalidArg, "--help is handled by the CLI".to_string()));
            }
            Err(e) => return Err(Error::new(Status::InvalidArg, e)),
        };
        let server = Server::start(config).into_napi()?;
        let dir = server.dir().display().to_string();
        Ok(JsVsysd { server: Mutex::new(Some(server)), dir })
    })
}

#[napi]
impl JsVsysd {
    /// The frontend directory being served.
    #[napi(getter, catch_unwind)]
    pub fn dir(&self) -> Result<String> {
        guard("Vsysd.dir", || Ok(self.dir.clone()))
    }

    /// Stops every thread and removes what the helper created (idempotent).
    #[napi(catch_unwind)]
    pub fn stop(&self) -> Result<()> {
        guard("Vsysd.stop", || {
            if let Some(server) = self.server.lock().unwrap_or_else(|p| p.into_inner()).take() {
                server.stop();
            }
            Ok(())
        })
    }
}
