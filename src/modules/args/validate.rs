//! Validation of raw task arguments against a [`ModuleDoc`]: unknown options (with "did you
//! mean"), types, choices, required options, defaults, aliases and the rules between options.

use super::spec::{ModuleDoc, OptKind, OptSpec, RequiredIf};
use super::{Args, value_str};
use crate::error::{Error, Result, did_you_mean};
use crate::value::{Value, Vars, truthy};
use minijinja::value::ValueKind;

fn is_template(v: &Value) -> bool {
    v.as_str()
        .is_some_and(|s| s.contains("{{") || s.contains("{%"))
}

/// Validates raw arguments against a module's spec: unknown options (with "did you mean"),
/// missing required ones, types, choices, exclusive groups; applies defaults and aliases.
/// Values that are still templates (`prov check`) are not type-checked.
pub fn validate_args(doc: &'static ModuleDoc, raw: &Vars) -> Result<Args> {
    let mut vals = Vars::new();
    let mut unknown: Vec<&str> = raw
        .keys()
        .map(String::as_str)
        .filter(|k| doc.option(k).is_none())
        .collect();
    if !unknown.is_empty() {
        unknown.sort_unstable();
        return Err(unsupported(doc, &unknown));
    }
    for (k, v) in raw {
        let Some(spec) = doc.option(k) else {
            continue;
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
        // Ansible converts a list or mapping given to a string or path option to its Python
        // text (`path: "{{ item }}"` with a find result item is the path "{'path': ...}").
        let v = &match spec.kind {
            OptKind::Str | OptKind::Path if matches!(v.kind(), ValueKind::Seq | ValueKind::Map) => {
                Value::from(crate::template::filters::py_str(v))
            }
            _ => v.clone(),
        };
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
            // Ansible's wording (the whole group), which tests match on
            return Err(Error::parse(format!(
                "parameters are mutually exclusive: {}",
                group.join("|")
            ))
            .hint(format!(
                "module '{}': give only one of {}",
                doc.name,
                given.join(", ")
            )));
        }
    }
    for group in doc.required_one_of {
        if !group.iter().any(|g| vals.contains_key(*g)) {
            return Err(Error::parse(format!(
                "one of the following is required: {}",
                group.join(", ")
            ))
            .hint(format!(
                "module '{}': see `prov doc {}`",
                doc.name, doc.name
            )));
        }
    }
    let mut missing: Vec<&str> = Vec::new();
    for spec in doc.all_options() {
        if vals.contains_key(spec.name) {
            continue;
        }
        if spec.required {
            missing.push(spec.name);
        } else if let Some(d) = spec.default {
            vals.insert(spec.name.to_string(), default_value(spec.kind, d));
        }
    }
    if !missing.is_empty() {
        // Ansible's wording, which playbooks and their tests match on.
        missing.sort_unstable();
        return Err(Error::parse(format!(
            "missing required arguments: {}",
            missing.join(", ")
        ))
        .hint(format!(
            "module '{}': see `prov doc {}`",
            doc.name, doc.name
        )));
    }
    check_rules(doc, &vals)?;
    Ok(Args::validated(doc, vals))
}

/// Ansible's message for options outside the spec (`unknown`, sorted), with prov's "did you
/// mean" as the hint.
fn unsupported(doc: &ModuleDoc, unknown: &[&str]) -> Error {
    if doc.action_args {
        return Error::parse(format!(
            "Invalid options for {}: {}",
            doc.name,
            unknown.join(",")
        ))
        .hint(format!("see `prov doc {}`", doc.name));
    }
    let mut names: Vec<&str> = doc.all_options().map(|o| o.name).collect();
    names.sort_unstable();
    let mut aliases: Vec<&str> = doc
        .all_options()
        .flat_map(|o| o.aliases.iter().copied())
        .collect();
    aliases.sort_unstable();
    let mut msg = format!(
        "Unsupported parameters for ({}) module: {}. Supported parameters include: {}",
        doc.name,
        unknown.join(", "),
        names.join(", ")
    );
    if !aliases.is_empty() {
        msg.push_str(&format!(" ({})", aliases.join(", ")));
    }
    msg.push('.');
    let e = Error::parse(msg);
    match did_you_mean(unknown[0], doc.all_options().map(|o| o.name)) {
        Some(s) => e.hint(format!(
            "did you mean '{s}' for '{}'? (see `prov doc {}`)",
            unknown[0], doc.name
        )),
        None => e.hint(format!("see `prov doc {}`", doc.name)),
    }
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
            if spec.secret {
                "a value not shown (a secret)".to_string()
            } else {
                kind_name(v)
            }
        ))
    };
    let kind = v.kind();
    match spec.kind {
        OptKind::Bool => {
            let ok = crate::value::boolean(v).is_some();
            if !ok {
                return Err(unconvertible(doc.name, spec.name, spec.secret, v, "bool"));
            }
        }
        OptKind::Int => {
            let ok = i64::try_from(v.clone()).is_ok()
                || v.as_str().is_some_and(|s| s.trim().parse::<i64>().is_ok());
            if !ok {
                return Err(unconvertible(doc.name, spec.name, spec.secret, v, "int"));
            }
        }
        OptKind::Float => {
            let ok = kind == ValueKind::Number
                || v.as_str().is_some_and(|s| s.trim().parse::<f64>().is_ok());
            if !ok {
                return Err(unconvertible(doc.name, spec.name, spec.secret, v, "float"));
            }
        }
        OptKind::Mode => {
            if matches!(kind, ValueKind::Seq | ValueKind::Map) {
                // Ansible's wording for a container given to a string option.
                let mut e = bad("a string");
                if !spec.secret {
                    e.msg.push_str(&format!(
                        " ('{}' is not a string and conversion is not allowed)",
                        crate::template::py_str(v)
                    ));
                }
                return Err(e);
            }
        }
        OptKind::Dict => {
            if kind != ValueKind::Map {
                return Err(bad("a mapping"));
            }
        }
        OptKind::Str | OptKind::Path | OptKind::List | OptKind::Any => {}
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

/// Python's name of a value's type, as Ansible's messages show it.
fn py_type(v: &Value) -> &'static str {
    match v.kind() {
        ValueKind::Seq => "list",
        ValueKind::Map => "dict",
        ValueKind::Bool => "bool",
        ValueKind::Number if i64::try_from(v.clone()).is_ok() => "int",
        ValueKind::Number => "float",
        ValueKind::String => "str",
        _ => "NoneType",
    }
}

/// Ansible's message for a value its type cannot be converted to (users and tests match on
/// `unable to convert to int`), with prov's module name in a hint. `wanted`: bool, int or
/// float.
fn unconvertible(module: &str, name: &str, secret: bool, v: &Value, wanted: &str) -> Error {
    let (msg, hint) = unconvertible_text(module, name, secret, v, wanted);
    Error::parse(msg).hint(hint)
}

/// The message and hint of [`unconvertible`].
pub(super) fn unconvertible_text(
    module: &str,
    name: &str,
    secret: bool,
    v: &Value,
    wanted: &str,
) -> (String, String) {
    let detail = if secret {
        "(the value is not shown: it is a secret)".to_string()
    } else {
        match wanted {
            "bool" => format!(
                "The value '{}' is not a valid boolean. Valid booleans include: \
                 'yes', 'on', 'true', 't', 'y', '1', 1, 1.0, True, \
                 'no', 'off', 'false', 'f', 'n', '0', 0, 0.0, False",
                value_str(v)
            ),
            "int" => format!(
                "\"{}\" cannot be converted to an int",
                match v.as_str() {
                    Some(t) => crate::util::python::str_repr(t),
                    None => crate::template::py_str(v),
                }
            ),
            _ => format!("<class '{}'> cannot be converted to a float", py_type(v)),
        }
    };
    let takes = match wanted {
        "bool" => "a boolean (yes/no, true/false)",
        "int" => "an integer",
        _ => "a number",
    };
    (
        format!(
            "argument '{name}' is of type {} and we were unable to convert to {wanted}: {detail}",
            py_type(v)
        ),
        format!("option '{name}' of module '{module}' takes {takes}"),
    )
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

/// The rules checked once defaults are applied (as Ansible does): `required_together`,
/// `required_if` and `required_by`. A value that is still a template (`prov check`) does not
/// trigger a `required_if` rule.
fn check_rules(doc: &ModuleDoc, vals: &Vars) -> Result<()> {
    let given = |k: &str| vals.contains_key(k);
    let names = |g: &[&str]| g.join(", ");
    for group in doc.required_together {
        if group.iter().any(|k| given(k)) && !group.iter().all(|k| given(k)) {
            return Err(Error::parse(format!(
                "module '{}': parameters are required together: {}",
                doc.name,
                names(group)
            ))
            .hint(format!("see `prov doc {}`", doc.name)));
        }
    }
    for rule in doc.required_if {
        if !triggers(doc, rule, vals) {
            continue;
        }
        let missing: Vec<&str> = rule
            .requires
            .iter()
            .copied()
            .filter(|k| !given(k))
            .collect();
        let failed = if rule.any {
            missing.len() == rule.requires.len()
        } else {
            !missing.is_empty()
        };
        if failed {
            let how = if rule.any { "any" } else { "all" };
            return Err(Error::parse(format!(
                "module '{}': {} is {} but {how} of the following are missing: {}",
                doc.name,
                rule.key,
                rule.value,
                names(&missing)
            ))
            .hint(format!("see `prov doc {}`", doc.name)));
        }
    }
    for (key, requires) in doc.required_by {
        if !given(key) {
            continue;
        }
        let missing: Vec<&str> = requires.iter().copied().filter(|k| !given(k)).collect();
        if !missing.is_empty() {
            return Err(Error::parse(format!(
                "module '{}': missing parameter(s) required by '{key}': {}",
                doc.name,
                names(&missing)
            ))
            .hint(format!("see `prov doc {}`", doc.name)));
        }
    }
    Ok(())
}

/// Whether a `required_if` rule applies: the key's value equals the rule's (booleans compared by
/// truth, so `value: "yes"` matches `true`).
fn triggers(doc: &ModuleDoc, rule: &RequiredIf, vals: &Vars) -> bool {
    let Some(v) = vals.get(rule.key) else {
        return false;
    };
    if is_template(v) {
        return false;
    }
    let boolean = v.kind() == ValueKind::Bool
        || doc
            .option(rule.key)
            .is_some_and(|o| o.kind == OptKind::Bool);
    if boolean {
        truthy(v) == truthy(&Value::from(rule.value))
    } else {
        value_str(v) == rule.value
    }
}
