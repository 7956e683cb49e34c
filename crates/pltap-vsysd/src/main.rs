//! `pltap-vsysd`: serve a vsys frontend directory until SIGTERM/SIGINT.

use pltap_vsysd::cli::{self, Command};
use std::io::Write;
use std::process::ExitCode;

fn main() -> ExitCode {
    let config = match cli::parse_args(std::env::args().skip(1)) {
        Ok(Command::Help) => {
            println!("{}", cli::USAGE);
            return ExitCode::SUCCESS;
        }
        Ok(Command::Run(config)) => config,
        Err(e) => {
            eprintln!("pltap-vsysd: {e}\n{}", cli::USAGE);
            return ExitCode::from(2);
        }
    };
    // Before any thread starts, so that every thread inherits the blocked mask and the
    // signals wait for sigwait below.
    if let Err(e) = pltap_core::sys::block_termination_signals() {
        eprintln!("pltap-vsysd: cannot block SIGTERM/SIGINT: {e}");
        return ExitCode::FAILURE;
    }
    let server = match pltap_vsysd::Server::start(config) {
        Ok(s) => s,
        Err(e) => {
            eprintln!("pltap-vsysd: {e}");
            return ExitCode::FAILURE;
        }
    };
    let mut out = std::io::stdout().lock();
    let _ = writeln!(out, "pltap-vsysd: serving {}", server.dir().display());
    let _ = out.flush();
    drop(out);
    let sig = pltap_core::sys::wait_termination_signal();
    eprintln!(
        "pltap-vsysd: stopping ({})",
        match sig {
            Ok(libc::SIGTERM) => "SIGTERM".to_string(),
            Ok(libc::SIGINT) => "SIGINT".to_string(),
            Ok(libc::SIGHUP) => "SIGHUP".to_string(),
            Ok(n) => format!("signal {n}"),
            Err(e) => format!("sigwait failed: {e}"),
        }
    );
    server.stop();
    ExitCode::SUCCESS
}
