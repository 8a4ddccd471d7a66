//! `stat`: facts about a remote path, in one round trip.

use super::remote::{self, Kind, stat_value};
use crate::error::Result;
use crate::modules::{Args, Module, ModuleDoc, OptKind, OptSpec, Plan, TaskCtx};
use async_trait::async_trait;

/// The `stat` module.
pub struct Stat;

static DOC: ModuleDoc = ModuleDoc {
    name: "stat",
    short: "Retrieve file or file system status",
    description: "Returns `stat` with `exists`, `isdir`, `isreg`, `islnk`, `mode`, `uid`, `gid`, \
        `pw_name`, `gr_name`, `size`, `mtime`, `atime`, `ctime`, `inode`, `dev`, `nlink`, \
        permission flags, `lnk_source`/`lnk_target` for links and `checksum` (of a regular \
        file, SHA-1 by default like Ansible). Never changes anything.",
    options: &[
        OptSpec::new("path", OptKind::Path, "The path to inspect.")
            .required()
            .aliases(&["dest", "name"]),
        OptSpec::new("follow", OptKind::Bool, "Follow symbolic links.").default("no"),
        OptSpec::new(
            "get_checksum",
            OptKind::Bool,
            "Compute the checksum of a regular file.",
        )
        .default("yes"),
        OptSpec::new("checksum_algorithm", OptKind::Str, "Checksum algorithm.")
            .default("sha1")
            .choices(&["md5", "sha1", "sha224", "sha256", "sha384", "sha512"])
            .aliases(&["checksum", "checksum_algo"]),
    ],
    free_form: None,
    mutually_exclusive: &[],
    required_one_of: &[],
    examples: r#"- stat:
    path: /etc/foo.conf
  register: st
- debug:
    msg: "it is a folder"
  when: st.stat.isdir is defined and st.stat.isdir
"#,
    ..ModuleDoc::new("", "")
};

#[async_trait]
impl Module for Stat {
    fn doc(&self) -> &'static ModuleDoc {
        &DOC
    }

    async fn plan(&self, ctx: &TaskCtx<'_>, args: &Args) -> Result<Plan> {
        let path = args.str("path").unwrap_or_default();
        let algo = args
            .str("checksum_algorithm")
            .unwrap_or_else(|| "sha1".into());
        let ck = args.bool("get_checksum").then_some(algo.as_str());
        let follow = args.bool("follow");
        let (_, info) = remote::inspect_one(ctx, &path, ck, false).await?;
        // without follow, a link has no checksum (its content is not a regular file's)
        let info = if !follow && info.kind == Kind::Link {
            remote::FileInfo {
                checksum: None,
                ..info
            }
        } else {
            info
        };
        Ok(Plan::ok().with("stat", stat_value(&info, follow, ck)))
    }
}
