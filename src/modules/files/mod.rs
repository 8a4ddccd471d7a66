//! File modules: copy, assemble, template, file, lineinfile, blockinfile, replace, stat, slurp, fetch,
//! find, unarchive, tempfile.
//!
//! Every module inspects the host through the connection only (one sh script per inspection,
//! see [`toolkit::inspect`](super::toolkit::inspect)), never changes it while planning, and describes its changes as
//! [`Action`](super::Action)s: `Put` for content (atomic temp file + rename, mode/owner applied
//! first, optional `validate`), `Exec` for chmod/chown/mkdir/ln/rm/touch, and `LocalWrite` for
//! fetch (applied with [`write_local_atomic`](super::toolkit::write_local_atomic)).

pub mod assemble;
pub mod blockinfile;
pub mod copy;
pub mod fetch;
pub mod file;
pub mod find;
pub mod lineinfile;
pub mod replace;
pub mod slurp;
pub mod stat;
pub mod tempfile;
pub mod template;
pub mod unarchive;

use super::Registry;
use std::sync::Arc;

/// Registers the file modules.
pub fn register(r: &mut Registry) {
    r.register(Arc::new(copy::Copy));
    r.register(Arc::new(assemble::Assemble));
    r.register(Arc::new(template::Template));
    r.register(Arc::new(file::File));
    r.register(Arc::new(lineinfile::LineInFile));
    r.register(Arc::new(blockinfile::BlockInFile));
    r.register(Arc::new(replace::Replace));
    r.register(Arc::new(stat::Stat));
    r.register(Arc::new(slurp::Slurp));
    r.register(Arc::new(fetch::Fetch));
    r.register(Arc::new(find::Find));
    r.register(Arc::new(unarchive::Unarchive));
    r.register(Arc::new(tempfile::TempFile));
}
