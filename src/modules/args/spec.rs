//! The option spec: what a module (or an engine action) accepts. One static [`ModuleDoc`] per
//! module holds its options, the shared option groups it takes and the rules between options;
//! the same value drives validation, typed access ([`crate::options!`]), `prov doc` and
//! `prov check`.

/// The type of a module option.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum OptKind {
    /// A string (scalars are converted).
    Str,
    /// A boolean (Ansible's yes/no/true/false/on/off/1/0).
    Bool,
    /// An integer.
    Int,
    /// A number.
    Float,
    /// A list (a comma-separated string is split).
    List,
    /// A mapping.
    Dict,
    /// Anything.
    Any,
    /// A path (a string).
    Path,
    /// A file mode: octal string, number, or symbolic (`u=rw,g=r`).
    Mode,
}

impl OptKind {
    /// Name for docs and errors.
    pub fn name(self) -> &'static str {
        match self {
            OptKind::Str => "str",
            OptKind::Bool => "bool",
            OptKind::Int => "int",
            OptKind::Float => "float",
            OptKind::List => "list",
            OptKind::Dict => "dict",
            OptKind::Any => "raw",
            OptKind::Path => "path",
            OptKind::Mode => "mode",
        }
    }
    /// This kind as one bit, for the compile-time check that a typed field can hold it
    /// ([`super::FromArg::KINDS`]).
    pub const fn bit(self) -> u16 {
        1 << (self as u16)
    }
}

/// One option of a module.
#[derive(Debug, Clone, Copy)]
#[non_exhaustive]
pub struct OptSpec {
    /// Option name.
    pub name: &'static str,
    /// Its type.
    pub kind: OptKind,
    /// Must be given.
    pub required: bool,
    /// Default value, as YAML-ish text (`"yes"`, `"present"`), applied when absent.
    pub default: Option<&'static str>,
    /// Allowed values (empty: any).
    pub choices: &'static [&'static str],
    /// Other names for the option.
    pub aliases: &'static [&'static str],
    /// One-paragraph description.
    pub doc: &'static str,
    /// A secret (a password, a key): never shown in errors, and Ansible's `no_log` option flag.
    pub secret: bool,
}

impl OptSpec {
    /// An optional option of `kind` without default, choices or aliases.
    pub const fn new(name: &'static str, kind: OptKind, doc: &'static str) -> Self {
        OptSpec {
            name,
            kind,
            required: false,
            default: None,
            choices: &[],
            aliases: &[],
            doc,
            secret: false,
        }
    }
    /// Marks the option required.
    pub const fn required(mut self) -> Self {
        self.required = true;
        self
    }
    /// Sets a default.
    pub const fn default(mut self, d: &'static str) -> Self {
        self.default = Some(d);
        self
    }
    /// Sets allowed values.
    pub const fn choices(mut self, c: &'static [&'static str]) -> Self {
        self.choices = c;
        self
    }
    /// Sets aliases.
    pub const fn aliases(mut self, a: &'static [&'static str]) -> Self {
        self.aliases = a;
        self
    }
    /// Marks the option a secret.
    pub const fn secret(mut self) -> Self {
        self.secret = true;
        self
    }
    /// The same option under `name` (the [`crate::options!`] macro names each option after its
    /// field).
    pub const fn named(mut self, name: &'static str) -> Self {
        self.name = name;
        self
    }
}

/// Short constructors for option specs without a name: inside [`crate::options!`] the name
/// comes from the field (`path: String = opt::path("Path to manage.").required()`).
pub mod opt {
    use super::{OptKind, OptSpec};

    /// A string option.
    pub const fn str(doc: &'static str) -> OptSpec {
        OptSpec::new("", OptKind::Str, doc)
    }
    /// A boolean option.
    pub const fn bool(doc: &'static str) -> OptSpec {
        OptSpec::new("", OptKind::Bool, doc)
    }
    /// An integer option.
    pub const fn int(doc: &'static str) -> OptSpec {
        OptSpec::new("", OptKind::Int, doc)
    }
    /// A number option.
    pub const fn float(doc: &'static str) -> OptSpec {
        OptSpec::new("", OptKind::Float, doc)
    }
    /// A list option.
    pub const fn list(doc: &'static str) -> OptSpec {
        OptSpec::new("", OptKind::List, doc)
    }
    /// A mapping option.
    pub const fn dict(doc: &'static str) -> OptSpec {
        OptSpec::new("", OptKind::Dict, doc)
    }
    /// An option of any type.
    pub const fn any(doc: &'static str) -> OptSpec {
        OptSpec::new("", OptKind::Any, doc)
    }
    /// A path option.
    pub const fn path(doc: &'static str) -> OptSpec {
        OptSpec::new("", OptKind::Path, doc)
    }
    /// A file mode option.
    pub const fn mode(doc: &'static str) -> OptSpec {
        OptSpec::new("", OptKind::Mode, doc)
    }
}

/// A named set of options several modules take (file attributes, AWS connection, ...), defined
/// once with [`crate::options!`] and listed in each module's [`ModuleDoc::groups`].
#[derive(Debug, Clone, Copy)]
#[non_exhaustive]
pub struct OptGroup {
    /// The group's name for `prov doc` (`file attributes`).
    pub name: &'static str,
    /// Its options.
    pub options: &'static [OptSpec],
}

impl OptGroup {
    /// A group.
    pub const fn new(name: &'static str, options: &'static [OptSpec]) -> Self {
        OptGroup { name, options }
    }
}

/// Ansible's `required_if`: when option `key` has `value`, the `requires` options must be given
/// (all of them, or with `any` at least one).
#[derive(Debug, Clone, Copy)]
#[non_exhaustive]
pub struct RequiredIf {
    /// The option whose value is tested.
    pub key: &'static str,
    /// The value that triggers the rule (compared as text; booleans by truth).
    pub value: &'static str,
    /// The options it requires.
    pub requires: &'static [&'static str],
    /// At least one of `requires` (instead of all).
    pub any: bool,
}

impl RequiredIf {
    /// When `key` is `value`, all of `requires` must be given.
    pub const fn all(
        key: &'static str,
        value: &'static str,
        requires: &'static [&'static str],
    ) -> Self {
        RequiredIf {
            key,
            value,
            requires,
            any: false,
        }
    }
    /// When `key` is `value`, at least one of `requires` must be given.
    pub const fn any(
        key: &'static str,
        value: &'static str,
        requires: &'static [&'static str],
    ) -> Self {
        RequiredIf {
            key,
            value,
            requires,
            any: true,
        }
    }
}

/// A module's documentation, argument spec and rules between options. Build it with
/// [`ModuleDoc::new`] and the `const` setters:
///
/// ```
/// use prov::modules::{ModuleDoc, OptKind, OptSpec};
/// static DOC: ModuleDoc = ModuleDoc::new("banner", "Write a banner")
///     .options(&[OptSpec::new("text", OptKind::Str, "The text.").required()])
///     .examples("- banner:\n    text: hello\n");
/// assert_eq!(DOC.option("text").unwrap().name, "text");
/// ```
#[derive(Debug, Clone, Copy)]
#[non_exhaustive]
pub struct ModuleDoc {
    /// Module name (without `ansible.builtin.`).
    pub name: &'static str,
    /// One-line description.
    pub short: &'static str,
    /// Longer description (check mode and diff behaviour included).
    pub description: &'static str,
    /// The module's own options.
    pub options: &'static [OptSpec],
    /// Shared option groups it also takes (after its own options).
    pub groups: &'static [&'static OptGroup],
    /// If set, a free-form string (`command: echo hi`) goes to this option; `k=v` words naming
    /// known options are still split out of it.
    pub free_form: Option<&'static str>,
    /// Groups of options of which at most one may be given.
    pub mutually_exclusive: &'static [&'static [&'static str]],
    /// Groups of options of which at least one must be given.
    pub required_one_of: &'static [&'static [&'static str]],
    /// Groups of options that must be given together (all or none).
    pub required_together: &'static [&'static [&'static str]],
    /// Options required when another option has a value.
    pub required_if: &'static [RequiredIf],
    /// `(option, requires)`: when the option is given, all of `requires` must be too.
    pub required_by: &'static [(&'static str, &'static [&'static str])],
    /// YAML examples.
    pub examples: &'static str,
    /// Unknown options fail as in Ansible's action plugins that list their valid arguments
    /// (`Invalid options for NAME: OPT`), not with the module's `Unsupported parameters`.
    pub action_args: bool,
}

impl ModuleDoc {
    /// A module without options; add them with the setters.
    pub const fn new(name: &'static str, short: &'static str) -> Self {
        ModuleDoc {
            name,
            short,
            description: "",
            options: &[],
            groups: &[],
            free_form: None,
            mutually_exclusive: &[],
            required_one_of: &[],
            required_together: &[],
            required_if: &[],
            required_by: &[],
            examples: "",
            action_args: false,
        }
    }
    /// Unknown options fail with Ansible's action-plugin message (`Invalid options for NAME:
    /// OPT`), as for the actions that check their arguments themselves (wait_for_connection,
    /// fail).
    pub const fn action_args(mut self) -> Self {
        self.action_args = true;
        self
    }
    /// The same module under another name (an old name Ansible still accepts), with its own
    /// one-line summary; everything else is shared.
    pub const fn renamed(mut self, name: &'static str, short: &'static str) -> Self {
        self.name = name;
        self.short = short;
        self
    }
    /// Sets the long description.
    pub const fn description(mut self, d: &'static str) -> Self {
        self.description = d;
        self
    }
    /// Sets the module's own options.
    pub const fn options(mut self, o: &'static [OptSpec]) -> Self {
        self.options = o;
        self
    }
    /// Sets the shared option groups.
    pub const fn groups(mut self, g: &'static [&'static OptGroup]) -> Self {
        self.groups = g;
        self
    }
    /// Sets options and groups from a typed options struct (see [`crate::options!`]).
    pub const fn spec<P: super::Options>(mut self) -> Self {
        self.options = P::OPTIONS;
        self.groups = P::GROUPS;
        self
    }
    /// Sends a free-form string to option `o`.
    pub const fn free_form(mut self, o: &'static str) -> Self {
        self.free_form = Some(o);
        self
    }
    /// Sets the mutually exclusive groups.
    pub const fn mutually_exclusive(mut self, g: &'static [&'static [&'static str]]) -> Self {
        self.mutually_exclusive = g;
        self
    }
    /// Sets the required-one-of groups.
    pub const fn required_one_of(mut self, g: &'static [&'static [&'static str]]) -> Self {
        self.required_one_of = g;
        self
    }
    /// Sets the required-together groups.
    pub const fn required_together(mut self, g: &'static [&'static [&'static str]]) -> Self {
        self.required_together = g;
        self
    }
    /// Sets the required-if rules.
    pub const fn required_if(mut self, r: &'static [RequiredIf]) -> Self {
        self.required_if = r;
        self
    }
    /// Sets the required-by rules.
    pub const fn required_by(
        mut self,
        r: &'static [(&'static str, &'static [&'static str])],
    ) -> Self {
        self.required_by = r;
        self
    }
    /// Sets the YAML examples.
    pub const fn examples(mut self, e: &'static str) -> Self {
        self.examples = e;
        self
    }

    /// Every option: its own, then those of its groups.
    pub fn all_options(&self) -> impl Iterator<Item = &'static OptSpec> + '_ {
        self.options
            .iter()
            .chain(self.groups.iter().flat_map(|g| g.options.iter()))
    }
    /// Finds an option by name or alias.
    pub fn option(&self, name: &str) -> Option<&'static OptSpec> {
        self.all_options()
            .find(|o| o.name == name || o.aliases.contains(&name))
    }
    /// The rules between options as sentences (for `prov doc`), one per rule.
    pub fn rules(&self) -> Vec<String> {
        let list = |g: &[&str]| g.join(", ");
        let mut out = Vec::new();
        for g in self.mutually_exclusive {
            out.push(format!("at most one of: {}", list(g)));
        }
        for g in self.required_one_of {
            out.push(format!("at least one of: {}", list(g)));
        }
        for g in self.required_together {
            out.push(format!("all or none of: {}", list(g)));
        }
        for r in self.required_if {
            let how = if r.any { "one of" } else { "all of" };
            out.push(format!(
                "when {} is {}: {how} {}",
                r.key,
                r.value,
                list(r.requires)
            ));
        }
        for (k, req) in self.required_by {
            out.push(format!("{k} needs: {}", list(req)));
        }
        out
    }
    /// The spec as JSON (`prov doc --json`), shaped like `ansible-doc --json`'s options: each
    /// option's `type`, `required`, `default` (as written in the spec), `choices`, `aliases`
    /// and `description`, plus `free_form` and the rules.
    pub fn to_json(&self) -> serde_json::Value {
        let mut opts = serde_json::Map::new();
        for o in self.all_options() {
            opts.insert(
                o.name.to_string(),
                serde_json::json!({
                    "type": o.kind.name(),
                    "required": o.required,
                    "default": o.default,
                    "choices": o.choices,
                    "aliases": o.aliases,
                    "no_log": o.secret,
                    "description": o.doc,
                }),
            );
        }
        serde_json::json!({
            "name": self.name,
            "short_description": self.short,
            "options": opts,
            "free_form": self.free_form,
            "rules": self.rules(),
        })
    }
    /// Renders the `prov doc` text.
    pub fn render(&self) -> String {
        let mut s = format!(
            "{} - {}\n\n{}\n\nOPTIONS (= is mandatory):\n",
            self.name, self.short, self.description
        );
        render_options(&mut s, self.options);
        for g in self.groups {
            s.push_str(&format!("\n{} OPTIONS (shared):\n", g.name.to_uppercase()));
            render_options(&mut s, g.options);
        }
        let rules = self.rules();
        if !rules.is_empty() {
            s.push_str("\nRULES:\n");
            for r in rules {
                s.push_str(&format!("    {r}\n"));
            }
        }
        if let Some(f) = self.free_form {
            s.push_str(&format!(
                "\nFREE FORM: the module takes a free-form string as `{f}`.\n"
            ));
        }
        if !self.examples.is_empty() {
            s.push_str(&format!("\nEXAMPLES:\n{}\n", self.examples.trim_end()));
        }
        s
    }
}

fn render_options(s: &mut String, options: &[OptSpec]) {
    for o in options {
        let mark = if o.required { "=" } else { "-" };
        s.push_str(&format!("\n{mark} {} ({})\n", o.name, o.kind.name()));
        s.push_str(&format!("    {}\n", o.doc));
        if !o.choices.is_empty() {
            s.push_str(&format!("    choices: {}\n", o.choices.join(", ")));
        }
        if let Some(d) = o.default {
            s.push_str(&format!("    default: {d}\n"));
        }
        if !o.aliases.is_empty() {
            s.push_str(&format!("    aliases: {}\n", o.aliases.join(", ")));
        }
    }
}
