//! Facts in one round trip: a POSIX sh script run on the host and a parser on the controller.
//!
//! STUB: the API below is the contract; the implementation is being written.

use crate::error::Result;
use crate::value::Vars;

/// The script that prints every fact (no Python on the target).
pub fn script() -> &'static str {
    "true"
}

/// Parses the script's stdout into facts (keys without the `ansible_` prefix: `hostname`,
/// `distribution`, `default_ipv4`, ...).
pub fn parse(stdout: &str) -> Result<Vars> {
    let _ = stdout;
    Ok(Vars::new())
}
