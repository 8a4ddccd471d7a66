//! Driving one module the way the engine does, for the module tests: the task context
//! ([`TaskCtx`]) of a host, argument validation against the module's spec, planning, applying the
//! plan with [`apply_plan`], and the convergence check (applied once, the next plan is empty).

use prov::connection::{Become, Connection};
use prov::modules::{Applied, Args, Module, Plan, Registry, Render, TaskCtx, validate_args};
use prov::value::{Value, Vars, from_json, value_to_vars};
use prov::{Error, Result};
use std::borrow::Borrow;
use std::path::{Path, PathBuf};
use std::sync::Arc;

/// A renderer for modules that never render templates or evaluate expressions.
pub struct NoRender;

impl Render for NoRender {
    fn render_text(&self, _text: &str, _origin: &Path) -> Result<String> {
        Err(Error::other("not used"))
    }
    fn eval(&self, _expr: &str) -> Result<Value> {
        Err(Error::other("not used"))
    }
}

/// A renderer that returns template text as it is (expressions are not used).
pub struct TextRender;

impl Render for TextRender {
    fn render_text(&self, text: &str, _origin: &Path) -> Result<String> {
        Ok(text.to_string())
    }
    fn eval(&self, _expr: &str) -> Result<Value> {
        Err(Error::other("not used"))
    }
}

/// One host as a module sees it: its connection, facts and the task's settings.
pub struct ModuleHost {
    /// The inventory name (`TaskCtx::host`).
    pub name: String,
    /// The connection to it.
    pub conn: Box<dyn Connection>,
    /// Its facts.
    pub facts: Vars,
    /// The modules (the builtin ones).
    pub reg: Registry,
    /// Template rendering for the task.
    pub render: Box<dyn Render>,
    /// Where local `src` files are searched.
    pub search_paths: Vec<PathBuf>,
    /// The task's `environment:`.
    pub env: Vec<(String, String)>,
    /// The task's become.
    pub become_: Option<Become>,
    /// Diff mode (`--diff`) of the plans.
    pub diff: bool,
    /// Verbosity (-v count).
    pub verbosity: u8,
}

/// A plan and what applying it did.
pub struct Ran {
    pub plan: Plan,
    pub applied: Applied,
}

impl ModuleHost {
    /// `conn` as host `name`: no facts, builtin modules, no rendering, diff mode on.
    pub fn new(name: &str, conn: impl Connection + 'static) -> Self {
        ModuleHost {
            name: name.to_string(),
            conn: Box::new(conn),
            facts: Vars::new(),
            reg: Registry::builtin(),
            render: Box::new(NoRender),
            search_paths: vec![],
            env: vec![],
            become_: None,
            diff: true,
            verbosity: 0,
        }
    }
    /// With this renderer.
    pub fn render(mut self, r: impl Render + 'static) -> Self {
        self.render = Box::new(r);
        self
    }
    /// With these search paths for local files.
    pub fn search(mut self, paths: Vec<PathBuf>) -> Self {
        self.search_paths = paths;
        self
    }
    /// With diff mode on or off.
    pub fn diff(mut self, on: bool) -> Self {
        self.diff = on;
        self
    }

    /// The task context, in check mode or not, with the host's diff mode.
    pub fn ctx(&self, check: bool) -> TaskCtx<'_> {
        self.ctx_diff(check, self.diff)
    }
    /// The task context with an explicit diff mode.
    pub fn ctx_diff(&self, check: bool, diff: bool) -> TaskCtx<'_> {
        TaskCtx::new(
            &self.name,
            self.conn.as_ref(),
            &self.facts,
            self.render.as_ref(),
        )
        .with_become(self.become_.clone())
        .with_env(self.env.clone())
        .with_check_mode(check)
        .with_diff_mode(diff)
        .with_search_paths(self.search_paths.clone())
        .with_verbosity(self.verbosity)
    }
    /// The module, which must be registered.
    pub fn module(&self, name: &str) -> &Arc<dyn Module> {
        self.reg
            .get(name)
            .unwrap_or_else(|| panic!("module {name} not registered"))
    }
    /// Arguments (JSON, by value or reference) validated against the module's spec.
    pub fn args(&self, module: &str, a: impl Borrow<serde_json::Value>) -> Result<Args> {
        self.args_vars(module, &value_to_vars(&from_json(a.borrow())))
    }
    /// Arguments validated against the module's spec.
    pub fn args_vars(&self, module: &str, a: &Vars) -> Result<Args> {
        validate_args(self.module(module).doc(), a)
    }
    /// Validates and plans with an explicit check and diff mode.
    pub async fn plan_with(
        &self,
        module: &str,
        a: &serde_json::Value,
        check: bool,
        diff: bool,
    ) -> Result<Plan> {
        let args = self.args(module, a)?;
        self.module(module)
            .plan(&self.ctx_diff(check, diff), &args)
            .await
    }
    /// Validates and plans in check mode (nothing is applied).
    pub async fn plan(&self, module: &str, a: serde_json::Value) -> Result<Plan> {
        self.plan_with(module, &a, true, self.diff).await
    }
    /// Plans (not in check mode) and applies the plan exactly as the engine does; a failed
    /// plan or action is an error.
    pub async fn run(&self, module: &str, a: serde_json::Value) -> Result<Ran> {
        let plan = self.plan_with(module, &a, false, self.diff).await?;
        let applied = prov::modules::apply_plan(plan.clone(), self.conn.as_ref(), false).await?;
        if let Some(f) = applied.failed() {
            return Err(Error::failed(f.to_string()));
        }
        Ok(Ran { plan, applied })
    }
    /// Runs, then checks that the next (check-mode) plan is empty; returns the run.
    pub async fn converge(&self, module: &str, a: serde_json::Value) -> Ran {
        let first = self
            .run(module, a.clone())
            .await
            .unwrap_or_else(|e| panic!("{}: {module} run failed: {}", self.name, e.render()));
        let second = self
            .plan(module, a)
            .await
            .unwrap_or_else(|e| panic!("{}: {module} plan failed: {}", self.name, e.render()));
        assert!(
            second.failed.is_none(),
            "{}: {module}: second plan failed: {:?}",
            self.name,
            second.failed
        );
        assert!(
            second.changes.is_empty(),
            "{}: {module} not idempotent, second plan: {:?}",
            self.name,
            summaries(&second)
        );
        first
    }
}

/// The change summaries of a plan.
pub fn summaries(p: &Plan) -> Vec<String> {
    p.changes.iter().map(|c| c.summary.clone()).collect()
}

/// Every diff of a plan as unified text.
pub fn diffs(p: &Plan) -> String {
    p.changes
        .iter()
        .filter_map(|c| c.diff.as_ref().map(|d| d.unified()))
        .collect()
}
