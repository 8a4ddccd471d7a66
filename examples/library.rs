//! Using prov as a library: register a module of your own, load an inventory and a playbook,
//! run it in check mode and then for real, and receive the events.
//!
//! Run with `cargo run --example library -- /tmp/prov-lib-demo`.

use async_trait::async_trait;
use prov::connection::{Stdin, quote};
use prov::engine::{RunOptions, Runner};
use prov::events::{Collect, Event, Status};
use prov::inventory::Inventory;
use prov::modules::{Action, Args, Diff, Module, ModuleDoc, Options, Plan, Registry, TaskCtx, opt};
use prov::playbook::Loader;
use std::sync::Arc;

/// `banner`: ensures a file holds a banner line naming the host.
struct Banner;

prov::options! {
    /// The banner module's options: one declaration gives the spec and typed fields.
    struct BannerOpts {
        path: String = opt::path("File to write.").required(),
        text: String = opt::str("Banner text.").default("managed by prov"),
    }
}

static BANNER_DOC: ModuleDoc = ModuleDoc::new("banner", "Write a one-line banner naming the host")
    .description("Writes `<text> (<inventory_hostname>)` to `path` when it differs.")
    .spec::<BannerOpts>()
    .examples("- banner: { path: /etc/banner, text: Hello }");

#[async_trait]
impl Module for Banner {
    fn doc(&self) -> &'static ModuleDoc {
        &BANNER_DOC
    }

    async fn plan(&self, ctx: &TaskCtx<'_>, args: &Args) -> prov::Result<Plan> {
        let BannerOpts { path, text } = BannerOpts::from_args(args)?;
        let want = format!("{text} ({})\n", ctx.host);
        // Read the current state through the connection (never the local filesystem).
        let out = ctx
            .run(format!("cat -- {} 2>/dev/null || true", quote(&path)))
            .await?;
        let have = out.stdout_str();
        if have == want {
            return Ok(Plan::ok().with("path", path.as_str()));
        }
        Ok(Plan::ok().with("path", path.as_str()).change(
            format!("write banner to {path}"),
            Some(Diff::new(&path, have, want.clone())),
            Action::Put {
                src: Stdin::Bytes(want.into_bytes()),
                dest: path.clone(),
                opts: ctx.put_opts(),
            },
        ))
    }
}

#[tokio::main]
async fn main() -> prov::Result<()> {
    let dir = std::env::args()
        .nth(1)
        .map(std::path::PathBuf::from)
        .unwrap_or_else(|| {
            std::env::temp_dir().join(format!("prov-lib-demo-{}", std::process::id()))
        });
    std::fs::create_dir_all(&dir).map_err(|e| prov::Error::io(&dir, e))?;
    let playbook = dir.join("banner.yml");
    let text = format!(
        "- hosts: localhost\n  gather_facts: false\n  tasks:\n    - banner:\n        path: {}/banner\n        text: Hello\n",
        dir.display()
    );
    std::fs::write(&playbook, text).map_err(|e| prov::Error::io(&playbook, e))?;

    let mut registry = Registry::builtin();
    registry.register(Arc::new(Banner));
    let pb = Loader::new(&registry).load_playbook(&playbook)?;

    for check in [true, false, false] {
        let events = Arc::new(Collect::default());
        let runner = Runner::new(Inventory::load(&[])?, registry.clone())
            .options(RunOptions {
                check,
                diff: true,
                ..Default::default()
            })
            .sink(events.clone());
        let recap = runner.run(&pb).await?;
        for ev in events.events.lock().unwrap().iter() {
            if let Event::HostResult(r) = ev
                && r.status == Status::Changed
            {
                for d in &r.diffs {
                    print!("{}", d.unified());
                }
            }
        }
        println!(
            "check={check}: changed={} exit={}",
            recap.total_changed(),
            recap.exit_code()
        );
    }
    let _ = std::fs::remove_dir_all(&dir);
    Ok(())
}
