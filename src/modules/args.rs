//! Module argument specs and validated arguments. One static [`ModuleDoc`] per module drives
//! parsing, type checking, "did you mean" for typos, `prov doc` and `prov check`.

use crate::error::{Error, Result, did_you_mean};
use crate::value::{Value, Vars, truthy};
use minijinja::value::ValueKind;

/// The type of a module option.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
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
}

/// One option of a module.
#[derive(Debug, Clone, Copy)]
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
}

/// A module's documentation and argument spec.
#[derive(Debug, Clone, Copy)]
pub struct ModuleDoc {
    /// Module name (without `ansible.builtin.`).
    pub name: &'static str,
    /// One-line description.
    pub short: &'static str,
    /// Longer description (check mode and diff behaviour included).
    pub description: &'static str,
    /// Options.
    pub options: &'static [OptSpec],
    /// If set, a free-form string (`command: echo hi`) goes to this option; `k=v` words naming
    /// known options are still split out of it.
    pub free_form: Option<&'static str>,
    /// Groups of options of which at most one may be given.
    pub mutually_exclusive: &'static [&'static [&'static str]],
    /// Groups of options of which at least one must be given.
    pub required_one_of: &'static [&'static [&'static str]],
    /// YAML examples.
    pub examples: &'static str,
}

impl ModuleDoc {
    /// Finds an option by name or alias.
    pub fn option(&self, name: &str) -> Option<&'static OptSpec> {
        self.options
            .iter()
            .find(|o| o.name == name || o.aliases.contains(&name))
    }
    /// Renders the `prov doc` text.
    pub fn render(&self) -> String {
        let mut s = format!(
            "{} - {}\n\n{}\n\nOPTIONS (= is mandatory):\n",
            self.name, self.short, self.description
        );
        for o in self.options {
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

/// Validated, defaulted module arguments.
#[derive(Debug, Clone, Default)]
pub struct Args {
    vals: Vars,
}

impl Args {
    /// Arguments from already validated values (for tests and library users).
    pub fn from_vars(vals: Vars) -> Self {
        Args { vals }
    }
    /// The raw value of an option.
    pub fn get(&self, k: &str) -> Option<&Value> {
        self.vals
            .get(k)
            .filter(|v| !v.is_none() && !v.is_undefined())
    }
    /// True when the option was given (or defaulted).
    pub fn has(&self, k: &str) -> bool {
        self.get(k).is_some()
    }
    /// A string option.
    pub fn str(&self, k: &str) -> Option<String> {
        self.get(k).map(value_str)
    }
    /// A boolean option (false when absent).
    pub fn bool(&self, k: &str) -> bool {
        self.get(k).is_some_and(truthy)
    }
    /// An optional boolean option.
    pub fn opt_bool(&self, k: &str) -> Option<bool> {
        self.get(k).map(truthy)
    }
    /// An integer option.
    pub fn int(&self, k: &str) -> Option<i64> {
        self.get(k).and_then(|v| {
            i64::try_from(v.clone())
                .ok()
                .or_else(|| v.as_str()?.trim().parse().ok())
        })
    }
    /// A float option.
    pub fn float(&self, k: &str) -> Option<f64> {
        self.get(k).and_then(|v| {
            f64::try_from(v.clone())
                .ok()
                .or_else(|| v.as_str()?.trim().parse().ok())
        })
    }
    /// A list option as strings (a comma-separated string is split).
    pub fn list_str(&self, k: &str) -> Vec<String> {
        match self.get(k) {
            None => vec![],
            Some(v) if v.kind() == ValueKind::Seq => v
                .try_iter()
                .map(|it| it.map(|x| value_str(&x)).collect())
                .unwrap_or_default(),
            Some(v) => value_str(v)
                .split(',')
                .map(|s| s.trim().to_string())
                .filter(|s| !s.is_empty())
                .collect(),
        }
    }
    /// A mode option as text for chmod: numbers are printed in octal (`420` → `0644`).
    pub fn mode(&self, k: &str) -> Option<String> {
        let v = self.get(k)?;
        if let Ok(n) = i64::try_from(v.clone()) {
            return Some(format!("0{n:o}"));
        }
        let s = value_str(v);
        if !s.is_empty() && s.bytes().all(|c| c.is_ascii_digit()) && !s.starts_with('0') {
            return Some(format!("0{s}"));
        }
        Some(s)
    }
    /// All values.
    pub fn vars(&self) -> &Vars {
        &self.vals
    }
}

/// A scalar as text, the way Ansible converts option values (`True` → `True`, numbers plain).
pub fn value_str(v: &Value) -> String {
    if let Some(s) = v.as_str() {
        return s.to_string();
    }
    match v.kind() {
        ValueKind::Bool => if v.is_true() { "True" } else { "False" }.to_string(),
        ValueKind::None | ValueKind::Undefined => String::new(),
        _ => v.to_string(),
    }
}

fn is_template(v: &Value) -> bool {
    v.as_str()
        .is_some_and(|s| s.contains("{{") || s.contains("{%"))
}

/// Validates raw arguments against a module's spec: unknown options (with "did you mean"),
/// missing required ones, types, choices, exclusive groups; applies defaults and aliases.
/// Values that are still templates (`prov check`) are not type-checked.
pub fn validate_args(doc: &ModuleDoc, raw: &Vars) -> Result<Args> {
    let mut vals = Vars::new();
    for (k, v) in raw {
        let Some(spec) = doc.option(k) else {
            let names = doc.options.iter().map(|o| o.name);
            let mut e = Error::parse(format!("module '{}' has no option '{k}'", doc.name));
            e = match did_you_mean(k, names) {
                Some(s) => e.hint(format!("did you mean '{s}'? (see `prov doc {}`)", doc.name)),
                None => e.hint(format!(
                    "its options are: {} (see `prov doc {}`)",
                    doc.options
                        .iter()
                        .map(|o| o.name)
                        .collect::<Vec<_>>()
                        .join(", "),
                    doc.name
                )),
            };
            return Err(e);
        };
        if vals.contains_key(spec.name) {
            return Err(Error::parse(format!(
                "option '{}' of module '{}' is given twice (once through an alias)",
                spec.name, doc.name
            )));
        }
        if v.is_none() || v.is_undefined() {
            continue;
        }
        if !is_template(v) {
            check_type(doc, spec, v)?;
        }
        vals.insert(spec.name.to_string(), v.clone());
    }
    for group in doc.mutually_exclusive {
        let given: Vec<&str> = group
            .iter()
            .copied()
            .filter(|g| vals.contains_key(*g))
            .collect();
        if given.len() > 1 {
            return Err(Error::parse(format!(
                "module '{}': options {} are mutually exclusive",
                doc.name,
                given
                    .iter()
                    .map(|g| format!("'{g}'"))
                    .collect::<Vec<_>>()
                    .join(" and ")
            )));
        }
    }
    for group in doc.required_one_of {
        if !group.iter().any(|g| vals.contains_key(*g)) {
            return Err(Error::parse(format!(
                "module '{}' needs one of: {}",
                doc.name,
                group.join(", ")
            )));
        }
    }
    for spec in doc.options {
        if vals.contains_key(spec.name) {
            continue;
        }
        if spec.required {
            return Err(Error::parse(format!(
                "module '{}' is missing required option '{}'",
                doc.name, spec.name
            ))
            .hint(format!("see `prov doc {}`", doc.name)));
        }
        if let Some(d) = spec.default {
            vals.insert(spec.name.to_string(), default_value(spec.kind, d));
        }
    }
    Ok(Args { vals })
}

fn default_value(kind: OptKind, d: &str) -> Value {
    match kind {
        OptKind::Bool => Value::from(truthy(&Value::from(d))),
        OptKind::Int => d
            .parse::<i64>()
            .map(Value::from)
            .unwrap_or_else(|_| Value::from(d)),
        OptKind::Float => d
            .parse::<f64>()
            .map(Value::from)
            .unwrap_or_else(|_| Value::from(d)),
        _ => Value::from(d),
    }
}

fn check_type(doc: &ModuleDoc, spec: &OptSpec, v: &Value) -> Result<()> {
    let bad = |what: &str| {
        Error::parse(format!(
            "option '{}' of module '{}' must be {what}, got {}",
            spec.name,
            doc.name,
            kind_name(v)
        ))
    };
    let kind = v.kind();
    match spec.kind {
        OptKind::Bool => {
            let ok = kind == ValueKind::Bool
                || (kind == ValueKind::Number && matches!(i64::try_from(v.clone()), Ok(0 | 1)))
                || v.as_str().is_some_and(|s| {
                    matches!(
                        s.trim().to_ascii_lowercase().as_str(),
                        "yes"
                            | "no"
                            | "true"
                            | "false"
                            | "on"
                            | "off"
                            | "1"
                            | "0"
                            | "y"
                            | "n"
                            | "t"
                            | "f"
                    )
                });
            if !ok {
                return Err(bad("a boolean (yes/no, true/false)"));
            }
        }
        OptKind::Int => {
            let ok = i64::try_from(v.clone()).is_ok()
                || v.as_str().is_some_and(|s| s.trim().parse::<i64>().is_ok());
            if !ok {
                return Err(bad("an integer"));
            }
        }
        OptKind::Float => {
            let ok = kind == ValueKind::Number
                || v.as_str().is_some_and(|s| s.trim().parse::<f64>().is_ok());
            if !ok {
                return Err(bad("a number"));
            }
        }
        OptKind::Str | OptKind::Path | OptKind::Mode => {
            if matches!(kind, ValueKind::Seq | ValueKind::Map) {
                return Err(bad("a string"));
            }
        }
        OptKind::Dict => {
            if kind != ValueKind::Map {
                return Err(bad("a mapping"));
            }
        }
        OptKind::List | OptKind::Any => {}
    }
    if !spec.choices.is_empty() {
        let s = value_str(v);
        let matches = spec.choices.iter().any(|c| *c == s)
            || (kind == ValueKind::Bool
                && spec
                    .choices
                    .iter()
                    .any(|c| truthy(&Value::from(*c)) == v.is_true()));
        if !matches {
            let mut e = Error::parse(format!(
                "option '{}' of module '{}' must be one of: {}; got '{s}'",
                spec.name,
                doc.name,
                spec.choices.join(", ")
            ));
            if let Some(m) = did_you_mean(&s, spec.choices.iter().copied()) {
                e = e.hint(format!("did you mean '{m}'?"));
            }
            return Err(e);
        }
    }
    Ok(())
}

fn kind_name(v: &Value) -> String {
    match v.kind() {
        ValueKind::Seq => "a list".into(),
        ValueKind::Map => "a mapping".into(),
        ValueKind::Bool => format!("boolean {v}"),
        ValueKind::Number => format!("number {v}"),
        ValueKind::String => format!("'{v}'"),
        _ => v.kind().to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    static DOC: ModuleDoc = ModuleDoc {
        name: "demo",
        short: "a demo",
        description: "",
        options: &[
            OptSpec::new("path", OptKind::Path, "the path")
                .required()
                .aliases(&["dest"]),
            OptSpec::new("state", OptKind::Str, "state")
                .default("present")
                .choices(&["present", "absent"]),
            OptSpec::new("force", OptKind::Bool, "force").default("no"),
            OptSpec::new("mode", OptKind::Mode, "mode"),
            OptSpec::new("content", OptKind::Str, "c"),
            OptSpec::new("src", OptKind::Path, "s"),
        ],
        free_form: None,
        mutually_exclusive: &[&["content", "src"]],
        required_one_of: &[],
        examples: "",
    };

    fn vars(pairs: &[(&str, Value)]) -> Vars {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.clone()))
            .collect()
    }

    #[test]
    fn defaults_aliases_and_modes() {
        let a = validate_args(
            &DOC,
            &vars(&[("dest", Value::from("/x")), ("mode", Value::from(420))]),
        )
        .unwrap();
        assert_eq!(a.str("path").as_deref(), Some("/x"));
        assert_eq!(a.str("state").as_deref(), Some("present"));
        assert!(!a.bool("force"));
        assert_eq!(a.mode("mode").as_deref(), Some("0644"));
    }

    #[test]
    fn typo_gets_did_you_mean() {
        let e = validate_args(
            &DOC,
            &vars(&[("path", Value::from("/x")), ("stat", Value::from("absent"))]),
        )
        .unwrap_err();
        assert_eq!(e.msg, "module 'demo' has no option 'stat'");
        assert!(e.hint.clone().unwrap().contains("did you mean 'state'?"));
    }

    #[test]
    fn type_choice_required_exclusive() {
        let e = validate_args(
            &DOC,
            &vars(&[("path", Value::from("/x")), ("force", Value::from("maybe"))]),
        )
        .unwrap_err();
        assert!(e.msg.contains("must be a boolean"), "{}", e.msg);
        let e = validate_args(
            &DOC,
            &vars(&[("path", Value::from("/x")), ("state", Value::from("absnt"))]),
        )
        .unwrap_err();
        assert!(e.hint.clone().unwrap().contains("absent"));
        let e = validate_args(&DOC, &vars(&[])).unwrap_err();
        assert!(e.msg.contains("missing required option 'path'"));
        let e = validate_args(
            &DOC,
            &vars(&[
                ("path", Value::from("/x")),
                ("src", Value::from("a")),
                ("content", Value::from("b")),
            ]),
        )
        .unwrap_err();
        assert!(e.msg.contains("mutually exclusive"));
        // templates are not type-checked
        validate_args(
            &DOC,
            &vars(&[
                ("path", Value::from("/x")),
                ("force", Value::from("{{ f }}")),
            ]),
        )
        .unwrap();
    }
}
