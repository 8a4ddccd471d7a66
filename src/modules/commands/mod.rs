//! Command and utility modules: command, shell, raw, script, ping, debug, assert, fail,
//! wait_for, pause.

use super::Registry;

/// Registers the command and utility modules.
pub fn register(r: &mut Registry) {
    let _ = r;
}
