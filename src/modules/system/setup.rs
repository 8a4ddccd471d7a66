//! `setup`: gathers facts again (the same one-round-trip script as a play's fact gathering),
//! optionally only those matching `filter`.

use crate::error::{Error, Result};
use crate::modules::{Args, Module, ModuleDoc, Options, Plan, TaskCtx, opt};
use async_trait::async_trait;

/// The `setup` module.
pub struct Setup;

crate::options! {
    /// The `setup` module's options.
    pub(crate) struct Opts {
        filter: Vec<String> = opt::list("Only these facts (globs on `ansible_NAME`, e.g. `ansible_distribution*`)."),
        gather_subset: Vec<String> = opt::list("Which of Ansible's fact collectors to keep: `all` (the default), `min`, collector names (`network`, `hardware`, `virtual`, `distribution`, ...) or fact names (`mounts`, `interfaces`), `!name` to leave one out; the minimal set is always kept unless `!min`."),
        gather_timeout: i64 = opt::int("Seconds fact gathering may take.").default("10"),
        fact_path: String = opt::path("Folder of local facts (`*.fact` files, JSON or INI; executable ones are run), set as `ansible_local`.").default("/etc/ansible/facts.d"),
    }
}

static DOC: ModuleDoc = ModuleDoc::new("setup", "Gather facts about the host")
    .description(
        "Runs prov's fact script on the host (one round trip, no Python) and sets the \
facts, as `ansible_NAME` and `ansible_facts.NAME`, merged into the host's current facts; the \
result's `ansible_facts` holds them for `register`. With `filter`, only facts whose name \
(`ansible_NAME`) matches one of the globs are set and returned. `gather_subset` selects \
collectors as in Ansible (the host skips the network, hardware, Python and local-facts \
sections nobody asked for; the rest comes in the same round trip) and is returned as the \
`gather_subset` fact, with `module_setup: true`. Local facts are the `*.fact` files of `fact_path`: an executable one is run, any other \
read, and its output parsed as JSON, else as INI (a file that cannot be used gets a message \
instead, and a warning). Changes nothing; runs in check mode too. (A play's `gather_facts: true` does the same, replacing every fact.)",
    )
    .spec::<Opts>()
    .examples(
        r#"- setup:
- setup:
    filter:
      - ansible_distribution*
      - ansible_default_ipv4
  register: f
- ansible.builtin.setup:
    gather_subset: [network]
"#,
    );

#[async_trait]
impl Module for Setup {
    fn doc(&self) -> &'static ModuleDoc {
        &DOC
    }

    async fn plan(&self, ctx: &TaskCtx<'_>, args: &Args) -> Result<Plan> {
        let o = Opts::from_args(args)?;
        // As Ansible's: a filter matches the name with `ansible_`, or (without that prefix) the
        // name with it added.
        let filters = o
            .filter
            .iter()
            .filter(|f| !f.is_empty() && *f != "*")
            .flat_map(|f| {
                let mut v = vec![f.clone()];
                if !f.starts_with("ansible_") && !f.starts_with("facter") && !f.starts_with("ohai")
                {
                    v.push(format!("ansible_{f}"));
                }
                v
            })
            .map(|f| {
                glob::Pattern::new(&f)
                    .map_err(|e| Error::failed(format!("setup: invalid filter '{f}': {e}")))
            })
            .collect::<Result<Vec<_>>>()?;
        let subset = match crate::facts::subset::Selection::new(o.gather_subset.clone()) {
            Ok(s) => s,
            Err(msg) => return Ok(Plan::fail(msg)),
        };
        let timeout = std::time::Duration::from_secs(o.gather_timeout.max(1) as u64);
        let mut cmd = ctx.cmd("");
        cmd.env
            .push(("PROV_FACT_PATH".to_string(), o.fact_path.clone()));
        let (facts, warnings) = crate::facts::gather(ctx.conn, cmd, &subset, Some(timeout)).await?;
        let mut plan = Plan::ok();
        if !warnings.is_empty() {
            let w: Vec<crate::value::Value> = warnings.into_iter().map(Into::into).collect();
            plan.result.insert("warnings".into(), w.into());
        }
        for (k, v) in facts {
            let name = format!("ansible_{k}");
            if filters.is_empty() || filters.iter().any(|f| f.matches(&name)) {
                plan.facts.insert(name, v);
            }
        }
        plan.facts.extend(subset.setup_facts());
        Ok(plan)
    }
}
