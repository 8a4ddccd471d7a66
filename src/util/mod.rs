//! Leaf helpers shared across layers (facts, template, output, modules), one file per topic.
//! They import nothing from prov except [`crate::value`], so any layer may use them:
//!
//! - [`sections`]: output split into `@@name` sections of `key=value` lines (facts, probes).
//! - [`pyregex`]: Python `re` (patterns, `re.sub` templates, findall) on `fancy-regex`.
//! - [`python`]: Python's type names, float `repr` and ordering.
//! - [`pyjson`]: Python's `json.dumps` (filters, the human output).
//! - [`time`]: calendar dates of Unix times (UTC).
//! - [`search_path`]: where a task's relative file names are found (Ansible's search path).
//! - [`random_bytes`]: bytes from the kernel's random source.

pub mod pyjson;
pub mod pyregex;
pub mod python;
pub mod search_path;
pub mod sections;
pub mod time;

/// `n` bytes from the kernel's random source (salts, seeds, generated passwords, temp names).
pub(crate) fn random_bytes(n: usize) -> std::io::Result<Vec<u8>> {
    use std::io::Read as _;
    let mut buf = vec![0u8; n];
    std::fs::File::open("/dev/urandom").and_then(|mut f| f.read_exact(&mut buf))?;
    Ok(buf)
}
