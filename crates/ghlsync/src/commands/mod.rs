//! One module per subcommand.

use std::sync::atomic::{AtomicBool, Ordering};

/// `-q`: only errors and the requested output.
static QUIET: AtomicBool = AtomicBool::new(false);

pub fn set_quiet(quiet: bool) {
    QUIET.store(quiet, Ordering::Relaxed);
}

pub fn quiet() -> bool {
    QUIET.load(Ordering::Relaxed)
}

/// A hint or a progress line on stderr (what to do next, what is happening):
/// silent with `-q`. Errors and the data a command prints are not hints.
#[macro_export]
macro_rules! hint {
    ($($arg:tt)*) => {
        if !$crate::commands::quiet() {
            eprintln!($($arg)*);
        }
    };
}

pub mod accounts;
pub mod admin;
pub mod bench;
pub mod bench_intake;
pub mod bench_locations;
pub mod bench_sandbox;
pub mod bench_sync;
pub mod bench_two_way;
pub mod call;
pub mod catalog;
pub mod connect;
pub mod exit;
pub mod flows;
pub mod queue;
pub mod sandbox;
pub mod up;
pub mod worker;

/// Resolves when the process is asked to stop (Ctrl-C or SIGTERM).
pub async fn shutdown_signal() {
    let ctrl_c = async {
        if tokio::signal::ctrl_c().await.is_err() {
            std::future::pending::<()>().await;
        }
    };
    #[cfg(unix)]
    let term = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let term = std::future::pending::<()>();
    tokio::select! {
        () = ctrl_c => {}
        () = term => {}
    }
}
