//! The chain of imports and includes that led to a task: stops import loops and recursion
//! without an end.

use crate::error::{Error, Location, Result};
use std::path::{Path, PathBuf};
use std::sync::Arc;

/// How deep imports and includes (task files and roles) may nest. Deeper is an error, as in
/// Ansible, instead of a stack overflow; real playbooks nest a handful of levels.
pub const MAX_INCLUDE_DEPTH: usize = 64;

/// One link of the chain of imports and includes that led to a task.
#[derive(Debug, Clone, PartialEq)]
pub struct IncludeFrame {
    /// The task (or `roles:` entry) that imported or included.
    pub at: Location,
    /// The task file it brought in.
    pub file: PathBuf,
    /// A run-time include (`include_tasks`, `include_role`): it may include itself again, since
    /// a `when:` can end the recursion; a static import of itself never ends.
    pub dynamic: bool,
}

/// The imports and includes that led to a task, outermost first.
pub type IncludeChain = Arc<Vec<IncludeFrame>>;

/// The chain one link longer, after `at` brought in `file`; an error naming every link when
/// that closes a loop of static imports (`import_tasks`, `import_role`, `roles:`, which would
/// expand forever) or nests deeper than [`MAX_INCLUDE_DEPTH`].
pub fn enter_include(
    chain: &IncludeChain,
    at: &Location,
    file: &Path,
    dynamic: bool,
) -> Result<IncludeChain> {
    let file = file.canonicalize().unwrap_or_else(|_| file.to_path_buf());
    let mut links = chain.to_vec();
    links.push(IncludeFrame {
        at: at.clone(),
        file: file.clone(),
        dynamic,
    });
    if !dynamic {
        // Only the part since the last run-time include is expanded in one go.
        let since = chain.iter().rposition(|f| f.dynamic).unwrap_or(0);
        if chain[since..].iter().any(|f| f.file == file) {
            return Err(Error::parse(format!(
                "import loop: {} is imported again from inside itself: {}",
                short_path(&file),
                chain_text(&links)
            ))
            .at(at)
            .hint("imports are expanded when the playbook loads, so a loop never ends; remove it, or use include_tasks/include_role with a `when:` that ends the recursion"));
        }
    }
    if chain.len() >= MAX_INCLUDE_DEPTH {
        let what = if dynamic { "includes" } else { "imports" };
        // Reached at run time by includes: the including task fails (not the whole run).
        let kind = if dynamic {
            crate::error::ErrorKind::Other
        } else {
            crate::error::ErrorKind::Parse
        };
        return Err(Error::new(
            kind,
            format!(
                "{what} nest deeper than {MAX_INCLUDE_DEPTH} levels (a recursion without an end?): {}",
                chain_text(&links)
            ),
        )
        .at(at)
        .hint("a task file or role that includes itself needs a `when:` that ends the recursion"));
    }
    Ok(Arc::new(links))
}

/// `a.yml:3:5 → b.yml, b.yml:1:3 → a.yml`, with the middle of a long chain left out and paths
/// relative to the current folder.
fn chain_text(links: &[IncludeFrame]) -> String {
    let one = |f: &IncludeFrame| {
        format!(
            "{}:{}:{} → {}",
            short_path(&f.at.file),
            f.at.line,
            f.at.col,
            short_path(&f.file)
        )
    };
    if links.len() <= 12 {
        return links.iter().map(one).collect::<Vec<_>>().join(", ");
    }
    let head: Vec<String> = links[..4].iter().map(one).collect();
    let tail: Vec<String> = links[links.len() - 6..].iter().map(one).collect();
    format!(
        "{}, … {} more …, {}",
        head.join(", "),
        links.len() - 10,
        tail.join(", ")
    )
}

/// `p` relative to the current folder when it is inside it.
fn short_path(p: &Path) -> String {
    let cwd = std::env::current_dir().unwrap_or_default();
    p.strip_prefix(&cwd).unwrap_or(p).display().to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn loc(file: &str, line: usize) -> Location {
        Location::new(Arc::new(PathBuf::from(file)), line, 3)
    }

    #[test]
    fn include_chain_stops_static_loops_and_deep_nesting() {
        let top = IncludeChain::default();
        let a = Path::new("/nonexistent/a.yml");
        let b = Path::new("/nonexistent/b.yml");
        let c1 = enter_include(&top, &loc("pb.yml", 4), a, false).unwrap();
        let c2 = enter_include(&c1, &loc("/nonexistent/a.yml", 1), b, false).unwrap();
        // b imports a again: a loop of static imports, every link named.
        let e = enter_include(&c2, &loc("/nonexistent/b.yml", 1), a, false).unwrap_err();
        assert!(e.msg.contains("import loop"), "{}", e.msg);
        for want in ["pb.yml:4:3", "a.yml:1:3", "b.yml:1:3"] {
            assert!(e.msg.contains(want), "{want} missing: {}", e.msg);
        }
        assert_eq!(e.loc.as_ref().unwrap().line, 1);
        // At run time a file may include itself (a `when:` can end it), up to the depth limit.
        let mut chain = c2.clone();
        for _ in 2..MAX_INCLUDE_DEPTH {
            chain = enter_include(&chain, &loc("/nonexistent/a.yml", 2), a, true).unwrap();
        }
        assert_eq!(chain.len(), MAX_INCLUDE_DEPTH);
        let e = enter_include(&chain, &loc("/nonexistent/a.yml", 2), a, true).unwrap_err();
        assert!(e.msg.contains("deeper than 64"), "{}", e.msg);
        assert!(e.msg.contains("more"), "{}", e.msg);
        // After a run-time include, a static import of the including file is no loop yet.
        let d = enter_include(&c1, &loc("/nonexistent/a.yml", 2), b, true).unwrap();
        assert!(enter_include(&d, &loc("/nonexistent/b.yml", 1), a, false).is_ok());
        assert!(enter_include(&d, &loc("/nonexistent/b.yml", 1), b, false).is_err());
    }
}
