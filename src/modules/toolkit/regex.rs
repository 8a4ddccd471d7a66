//! Python-compatible regular expressions for the modules (`lineinfile`, `replace`, ...), on the
//! shared translation in `util::pyregex`.

use crate::error::{Error, Result};
use crate::util::pyregex;
use regex::Regex;

pub use crate::util::pyregex::expand as py_expand;

/// Compiles a Python `re` pattern with Rust's regex crate (`\Z` is translated; lookaround and
/// backreferences are not available and give a clear error). `flags` are inline flags (`m`,
/// `s`, ...).
pub fn py_regex(pattern: &str, flags: &str) -> Result<Regex> {
    let p = pyregex::translate(pattern);
    let full = if flags.is_empty() {
        p.into_owned()
    } else {
        format!("(?{flags}){p}")
    };
    Regex::new(&full).map_err(|e| {
        Error::failed(format!("invalid regular expression '{pattern}': {e}")).hint(
            "prov uses Rust regex syntax, which is Python's without lookaround and backreferences",
        )
    })
}
