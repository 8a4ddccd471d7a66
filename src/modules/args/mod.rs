//! Module options: the spec ([`ModuleDoc`], [`OptSpec`], shared [`OptGroup`]s and rules),
//! validation of raw task arguments against it ([`validate_args`]) and typed access
//! ([`crate::options!`] structs read from the validated [`Args`]). One definition per module
//! drives parsing, type checking, "did you mean" for typos, defaults, `prov doc` and
//! `prov check`.

mod groups;
mod spec;
mod typed;
mod validate;

pub use groups::FileAttrs;
pub use spec::{ModuleDoc, OptGroup, OptKind, OptSpec, RequiredIf, opt};
pub use typed::{FromArg, Mode, Options, check_field, field_name};
pub use validate::validate_args;

use crate::value::{Value, Vars, truthy};
use minijinja::value::ValueKind;

/// Validated, defaulted module arguments. Modules read them through their typed options struct
/// ([`Options::from_args`]); a key outside the module's spec is a bug, caught by a debug
/// assertion in every test that reaches it.
#[derive(Debug, Clone, Default)]
pub struct Args {
    vals: Vars,
    doc: Option<&'static ModuleDoc>,
}

impl Args {
    /// Arguments from already validated values (for tests and library users).
    pub fn from_vars(vals: Vars) -> Self {
        Args { vals, doc: None }
    }
    /// Arguments validated against `doc`.
    pub(crate) fn validated(doc: &'static ModuleDoc, vals: Vars) -> Self {
        Args {
            vals,
            doc: Some(doc),
        }
    }
    /// The module the arguments were validated for (`""` for [`Args::from_vars`]).
    pub fn module(&self) -> &'static str {
        self.doc.map_or("", |d| d.name)
    }
    /// The raw value of an option. Modules read their options through their typed
    /// [`Options`] struct; this raw access is for code that handles any module's arguments.
    pub fn get(&self, k: &str) -> Option<&Value> {
        debug_assert!(
            self.doc.is_none_or(|d| d.option(k).is_some()),
            "module '{}' read option '{k}', which its spec does not define",
            self.module()
        );
        self.vals
            .get(k)
            .filter(|v| !v.is_none() && !v.is_undefined())
    }
    /// True when the option was given (or defaulted).
    fn has(&self, k: &str) -> bool {
        self.get(k).is_some()
    }
    /// A string option.
    fn str(&self, k: &str) -> Option<String> {
        self.get(k).map(value_str)
    }
    /// A boolean option (false when absent).
    fn bool(&self, k: &str) -> bool {
        self.get(k).is_some_and(truthy)
    }
    /// An optional boolean option.
    fn opt_bool(&self, k: &str) -> Option<bool> {
        self.get(k).map(truthy)
    }
    /// An integer option.
    fn int(&self, k: &str) -> Option<i64> {
        self.get(k).and_then(|v| {
            i64::try_from(v.clone())
                .ok()
                .or_else(|| v.as_str()?.trim().parse().ok())
        })
    }
    /// A float option.
    fn float(&self, k: &str) -> Option<f64> {
        self.get(k).and_then(|v| {
            f64::try_from(v.clone())
                .ok()
                .or_else(|| v.as_str()?.trim().parse().ok())
        })
    }
    /// A list option as strings (a comma-separated string is split).
    fn list_str(&self, k: &str) -> Vec<String> {
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
    fn mode(&self, k: &str) -> Option<String> {
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

#[cfg(test)]
mod tests {
    use super::*;

    static DOC: ModuleDoc = ModuleDoc::new("demo", "a demo")
        .options(&[
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
            OptSpec::new("count", OptKind::Int, "n"),
        ])
        .mutually_exclusive(&[&["content", "src"]]);

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
        assert!(
            e.msg.starts_with(
                "Unsupported parameters for (demo) module: stat. Supported parameters include: "
            ),
            "{}",
            e.msg
        );
        assert!(e.hint.clone().unwrap().contains("did you mean 'state'"));
    }

    #[test]
    fn a_mapping_or_list_given_to_a_string_option_is_its_python_text() {
        let item = crate::value::from_json(&serde_json::json!({"path": "/tmp/x", "isdir": false}));
        let a = validate_args(
            &DOC,
            &vars(&[
                ("path", item),
                (
                    "content",
                    crate::value::from_json(&serde_json::json!(["a", 1])),
                ),
            ]),
        )
        .unwrap();
        assert_eq!(
            a.str("path").as_deref(),
            Some("{'path': '/tmp/x', 'isdir': False}")
        );
        assert_eq!(a.str("content").as_deref(), Some("['a', 1]"));
        // still checked against choices
        let e = validate_args(
            &DOC,
            &vars(&[
                ("path", Value::from("/x")),
                (
                    "state",
                    crate::value::from_json(&serde_json::json!({"a": 1})),
                ),
            ]),
        )
        .unwrap_err();
        assert!(
            e.msg
                .contains("must be one of: present, absent; got '{'a': 1}'"),
            "{}",
            e.msg
        );
    }

    #[test]
    fn action_plugin_modules_name_invalid_options_as_ansible() {
        static ACTION: ModuleDoc = ModuleDoc::new("waiter", "w")
            .options(&[OptSpec::new("delay", OptKind::Int, "d")])
            .action_args();
        let e = validate_args(
            &ACTION,
            &vars(&[("foo", Value::from("bar")), ("delay", Value::from(1))]),
        )
        .unwrap_err();
        assert_eq!(e.msg, "Invalid options for waiter: foo");
    }

    #[test]
    fn type_choice_required_exclusive() {
        let e = validate_args(
            &DOC,
            &vars(&[("path", Value::from("/x")), ("force", Value::from("maybe"))]),
        )
        .unwrap_err();
        assert!(
            e.msg.starts_with(
                "argument 'force' is of type str and we were unable to convert to bool: \
                 The value 'maybe' is not a valid boolean."
            ),
            "{}",
            e.msg
        );
        assert!(e.hint.clone().unwrap().contains("takes a boolean"));
        let e = validate_args(
            &DOC,
            &vars(&[("path", Value::from("/x")), ("count", Value::from("hello"))]),
        )
        .unwrap_err();
        assert_eq!(
            e.msg,
            "argument 'count' is of type str and we were unable to convert to int: \
             \"'hello'\" cannot be converted to an int"
        );
        let e = validate_args(
            &DOC,
            &vars(&[("path", Value::from("/x")), ("state", Value::from("absnt"))]),
        )
        .unwrap_err();
        assert!(e.hint.clone().unwrap().contains("absent"));
        let e = validate_args(&DOC, &vars(&[])).unwrap_err();
        assert_eq!(e.msg, "missing required arguments: path");
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

    static RULES: ModuleDoc = ModuleDoc::new("rules", "rules")
        .options(&[
            OptSpec::new("state", OptKind::Str, "s").default("present"),
            OptSpec::new("src", OptKind::Path, "s"),
            OptSpec::new("content", OptKind::Str, "c"),
            OptSpec::new("user", OptKind::Str, "u"),
            OptSpec::new("password", OptKind::Str, "p").secret(),
            OptSpec::new("pin", OptKind::Int, "n").secret(),
            OptSpec::new("backup", OptKind::Bool, "b"),
            OptSpec::new("suffix", OptKind::Str, "x"),
        ])
        .required_if(&[
            RequiredIf::all("state", "link", &["src"]),
            RequiredIf::any("state", "present", &["src", "content"]),
            RequiredIf::all("backup", "yes", &["suffix"]),
        ])
        .required_together(&[&["user", "password"]])
        .required_by(&[("suffix", &["backup"])]);

    fn check(pairs: &[(&str, Value)]) -> std::result::Result<Args, String> {
        validate_args(&RULES, &vars(pairs)).map_err(|e| e.msg.clone())
    }

    #[test]
    fn rules_between_options() {
        // required_if with a defaulted key (state: present) and `any`
        assert_eq!(
            check(&[]).unwrap_err(),
            "module 'rules': state is present but any of the following are missing: src, content"
        );
        check(&[("content", Value::from("x"))]).unwrap();
        assert_eq!(
            check(&[
                ("state", Value::from("link")),
                ("content", Value::from("x"))
            ])
            .unwrap_err(),
            "module 'rules': state is link but all of the following are missing: src"
        );
        // a template does not trigger the rule (prov check before rendering)
        check(&[("state", Value::from("{{ s }}"))]).unwrap();
        // booleans compare by truth
        assert!(
            check(&[("content", Value::from("x")), ("backup", Value::from(true))])
                .unwrap_err()
                .contains("backup is yes but all of the following are missing: suffix")
        );
        assert_eq!(
            check(&[("content", Value::from("x")), ("user", Value::from("u"))]).unwrap_err(),
            "module 'rules': parameters are required together: user, password"
        );
        assert_eq!(
            check(&[("content", Value::from("x")), ("suffix", Value::from("~"))]).unwrap_err(),
            "module 'rules': missing parameter(s) required by 'suffix': backup"
        );
        check(&[
            ("content", Value::from("x")),
            ("backup", Value::from("yes")),
            ("suffix", Value::from("~")),
        ])
        .unwrap();
    }

    #[test]
    fn a_secret_is_not_shown_in_errors() {
        let e = check(&[
            ("content", Value::from("x")),
            ("user", Value::from("u")),
            ("password", Value::from("p")),
            ("pin", Value::from("hunter2")),
        ])
        .unwrap_err();
        assert!(e.contains("not shown"), "{e}");
        assert!(!e.contains("hunter2"), "{e}");
    }

    crate::options! {
        struct Typed {
            path: String = opt::path("p").required().aliases(&["dest"]),
            state: String = opt::str("s").default("present"),
            force: bool = opt::bool("f"),
            mode: Option<Mode> = opt::mode("m"),
            content: Option<String> = opt::str("c"),
            src: Option<String> = OptSpec::new("src", OptKind::Path, "named like its field"),
        }
    }

    static TYPED: ModuleDoc = ModuleDoc::new("typed", "t").spec::<Typed>();

    #[test]
    fn typed_fields_read_validated_values() {
        let a = validate_args(
            &TYPED,
            &vars(&[("dest", Value::from("/x")), ("mode", Value::from(493))]),
        )
        .unwrap();
        let t = Typed::from_args(&a).unwrap();
        assert_eq!(t.path, "/x");
        assert_eq!(t.state, "present");
        assert!(!t.force);
        assert_eq!(t.mode.as_deref(), Some("0755"));
        assert_eq!(t.content, None);
        assert_eq!(t.src, None);
        assert_eq!(TYPED.option("src").unwrap().name, "src");
        // unvalidated arguments without the required value: an error, not a panic
        let e = Typed::from_args(&Args::from_vars(Vars::new())).unwrap_err();
        assert!(e.msg.contains("option 'path' has no value"), "{}", e.msg);
    }

    #[test]
    #[cfg(debug_assertions)]
    #[should_panic(expected = "read option 'nope', which its spec does not define")]
    fn reading_a_key_outside_the_spec_fails_the_test() {
        let a = validate_args(&TYPED, &vars(&[("path", Value::from("/x"))])).unwrap();
        let _ = a.str("nope");
    }

    #[test]
    fn raw_identifier_fields_name_their_option() {
        assert_eq!(field_name("r#use"), "use");
        assert_eq!(field_name("path"), "path");
    }
}
