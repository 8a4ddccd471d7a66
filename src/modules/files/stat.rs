//! `stat`: facts about a remote path, in one round trip.

use crate::error::Result;
use crate::modules::toolkit::{self, Kind, stat_value};
use crate::modules::{Args, Module, ModuleDoc, Options, Plan, TaskCtx, opt};
use async_trait::async_trait;

/// The `stat` module.
pub struct Stat;

crate::options! {
    /// The `stat` module's options.
    pub(crate) struct Opts {
        path: String = opt::path("The path to inspect.").required().aliases(&["dest", "name"]),
        follow: bool = opt::bool("Follow symbolic links.").default("no"),
        get_checksum: bool = opt::bool("Compute the checksum of a regular file.").default("yes"),
        checksum_algorithm: String = opt::str("Checksum algorithm.").default("sha1").choices(&["md5", "sha1", "sha224", "sha256", "sha384", "sha512"]).aliases(&["checksum", "checksum_algo"]),
    }
}

static DOC: ModuleDoc = ModuleDoc::new("stat", "Retrieve file or file system status")
    .description(
        "Returns `stat` with `exists`, `isdir`, `isreg`, `islnk`, `mode`, `uid`, `gid`, \
        `pw_name`, `gr_name`, `size`, `mtime`, `atime`, `ctime`, `inode`, `dev`, `nlink`, \
        permission flags, `lnk_source`/`lnk_target` for links and `checksum` (of a regular \
        file, SHA-1 by default like Ansible). Never changes anything.",
    )
    .spec::<Opts>()
    .examples(
        r#"- stat:
    path: /etc/foo.conf
  register: st
- debug:
    msg: "it is a folder"
  when: st.stat.isdir is defined and st.stat.isdir
"#,
    );

#[async_trait]
impl Module for Stat {
    fn doc(&self) -> &'static ModuleDoc {
        &DOC
    }

    async fn plan(&self, ctx: &TaskCtx<'_>, args: &Args) -> Result<Plan> {
        let o = Opts::from_args(args)?;
        let ck = o.get_checksum.then_some(o.checksum_algorithm.as_str());
        let follow = o.follow;
        let (_, info) = toolkit::inspect_one(ctx, &o.path, ck, false).await?;
        // without follow, a link has no checksum (its content is not a regular file's)
        let info = if !follow && info.kind == Kind::Link {
            toolkit::FileInfo {
                checksum: None,
                ..info
            }
        } else {
            info
        };
        Ok(Plan::ok().with("stat", stat_value(&info, follow, ck)))
    }
}
