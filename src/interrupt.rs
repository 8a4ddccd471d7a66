//! Stopping a run cleanly on Ctrl-C or SIGTERM.
//!
//! The first signal sets a process-wide flag ([`trigger`]): the engine starts no new task and
//! runs no handler, each running remote command is sent SIGTERM over its SSH channel (OpenSSH
//! delivers it to the command's process group; sudo relays it) and its channel is closed, local
//! commands are killed, and the run ends with the recap so far and exit status 130. A second
//! signal exits at once. Library users can call [`trigger`] to cancel a run the same way.

use std::sync::OnceLock;
use std::time::Duration;
use tokio::sync::watch;

fn channel() -> &'static watch::Sender<bool> {
    static TX: OnceLock<watch::Sender<bool>> = OnceLock::new();
    TX.get_or_init(|| watch::channel(false).0)
}

/// Asks the current run to stop (what the first Ctrl-C does).
pub fn trigger() {
    channel().send_replace(true);
}

/// True once a stop was asked for.
pub fn is_set() -> bool {
    *channel().borrow()
}

/// Completes when a stop is asked for (at once if it already was).
pub async fn wait() {
    let mut rx = channel().subscribe();
    let _ = rx.wait_for(|v| *v).await;
}

/// Completes `grace` after a stop was asked for: how long a running command gets to end on its
/// own after it was signalled, before its future is dropped.
pub async fn wait_then(grace: Duration) {
    wait().await;
    tokio::time::sleep(grace).await;
}

/// Clears the flag so that a library user can start another run after a stop.
pub fn reset() {
    channel().send_replace(false);
}

/// The error of a command or task that was stopped by an interrupt.
pub fn error() -> crate::error::Error {
    crate::error::Error::failed("interrupted (Ctrl-C or SIGTERM): the command was stopped")
}

/// The exit status of an interrupted run (128 + SIGINT, as shells report it).
pub const EXIT_CODE: i32 = 130;

/// Installs the SIGINT/SIGTERM handlers of the command-line tool (call inside the runtime):
/// the first signal [`trigger`]s a clean stop and says so on stderr, a second one exits with
/// [`EXIT_CODE`] at once.
pub fn install_handlers() {
    use tokio::signal::unix::{SignalKind, signal};
    let (Ok(mut int), Ok(mut term)) = (
        signal(SignalKind::interrupt()),
        signal(SignalKind::terminate()),
    ) else {
        return;
    };
    tokio::spawn(async move {
        let mut seen = 0;
        loop {
            tokio::select! {
                _ = int.recv() => {}
                _ = term.recv() => {}
            }
            seen += 1;
            if seen > 1 {
                eprintln!("\nprov: interrupted again: exiting now");
                std::process::exit(EXIT_CODE);
            }
            eprintln!(
                "\nprov: interrupted: stopping the running commands (press Ctrl-C again to exit at once)"
            );
            trigger();
        }
    });
}
