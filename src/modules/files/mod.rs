//! File modules: copy, template, file, lineinfile, blockinfile, replace, stat, slurp, fetch.

use super::Registry;

/// Registers the file modules.
pub fn register(r: &mut Registry) {
    let _ = r;
}
