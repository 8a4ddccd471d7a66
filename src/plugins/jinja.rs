//! Ansible's Python filter, test and lookup plugins in prov's templates: a filter or test prov
//! has no native one of is added to the template environment (see `Templar`) as a function
//! that calls the plugin through the [`bridge`](super::bridge); a lookup prov has no native
//! one of is run by the bridge, which asks prov for the task's variables it reads.

use super::bridge::{self, Reply};
use crate::error::{Error, Result};
use crate::template::Context;
use crate::value::{Value, from_json, to_json};
use minijinja::{Environment, ErrorKind as MjKind, State};
use serde_json::{Map, Value as Json, json};

/// A filter or a test.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Kind {
    /// A filter plugin.
    Filter,
    /// A test plugin.
    Test,
}

impl Kind {
    fn word(self) -> &'static str {
        match self {
            Kind::Filter => "filter",
            Kind::Test => "test",
        }
    }
}

/// The filter or test a render failed on because the environment has none of that name
/// (minijinja's "filter X is unknown").
pub fn unknown(e: &minijinja::Error) -> Option<(Kind, String)> {
    let kind = match e.kind() {
        MjKind::UnknownFilter => Kind::Filter,
        MjKind::UnknownTest => Kind::Test,
        _ => return None,
    };
    let name = e
        .detail()?
        .strip_prefix(kind.word())?
        .strip_prefix(' ')?
        .strip_suffix(" is unknown")?;
    (!name.trim().is_empty()).then(|| (kind, name.to_string()))
}

/// The name Ansible knows a filter or test by, from the name it has in prov's templates: a
/// collection's `ns.coll.name` (written `__prov_fq__ns__coll__name`, see `chains`), and
/// `ansible._protomatter.name` (written `_protomatter_name`).
pub fn ansible_name(local: &str) -> String {
    if let Some(rest) = local.strip_prefix(crate::template::chains_fq()) {
        return rest.replace("__", ".");
    }
    if let Some(rest) = local.strip_prefix("_protomatter_") {
        return format!("ansible._protomatter.{rest}");
    }
    local.to_string()
}

/// Ansible's message for a filter or test that exists nowhere.
pub fn not_found_message(e: &minijinja::Error) -> Option<String> {
    let (kind, name) = unknown(e)?;
    Some(format!(
        "No {} named '{}'.",
        kind.word(),
        ansible_name(&name)
    ))
}

/// The arguments as JSON (the value first, then the positional ones) and the keyword ones.
fn json_args(args: &[Value]) -> (Vec<Json>, Map<String, Json>) {
    let (pos, kw) = crate::template::filters::split_kwargs(args);
    (
        pos.iter().map(to_json).collect(),
        kw.iter().map(|(k, v)| (k.clone(), to_json(v))).collect(),
    )
}

/// A failed call as a template error: its message, Ansible's, is the render's error as it is.
fn mj_error(msg: String) -> minijinja::Error {
    crate::template::record_fatal(Error::template(msg.clone()));
    minijinja::Error::new(MjKind::InvalidOperation, msg)
}

/// Calls filter or test `name` with `args` through the bridge.
fn call(kind: Kind, name: &str, args: &[Value]) -> std::result::Result<Value, minijinja::Error> {
    let (pos, kw) = json_args(args);
    let mut req = Map::new();
    req.insert("op".into(), json!(kind.word()));
    req.insert("name".into(), json!(name));
    req.insert("args".into(), Json::Array(pos));
    req.insert("kwargs".into(), Json::Object(kw));
    let r = bridge::call(
        req,
        |_| json!({"error": "a filter or test has no variables"}),
    )
    .map_err(|e| mj_error(e.msg.clone()))?;
    match r {
        Reply::Value(v) => Ok(from_json(&v)),
        Reply::Failed { msg, .. } => Err(mj_error(msg)),
    }
}

/// Adds filter or test `name` to `env`, calling the Python plugin of that name.
pub fn add(env: &mut Environment<'static>, kind: Kind, name: &str) {
    let n = ansible_name(name);
    match kind {
        Kind::Filter => env.add_filter(
            name.to_string(),
            move |_: &State, args: minijinja::value::Rest<Value>| call(Kind::Filter, &n, &args),
        ),
        Kind::Test => env.add_test(
            name.to_string(),
            move |_: &State, args: minijinja::value::Rest<Value>| {
                call(Kind::Test, &n, &args).map(|v| v.is_true())
            },
        ),
    }
}

/// Whether lookup `name` (prov has no native one of that name) may be one of Ansible's Python
/// lookup plugins: a file of that name in the `lookup_plugins/` folders of the playbooks and
/// roles or of `ANSIBLE_LOOKUP_PLUGINS` (else Ansible's default folders), one of
/// ansible-core's own, or a collection's (a dotted name); ansible-core must be there.
pub fn python_lookup(name: &str) -> bool {
    if name.contains('/') || name.is_empty() {
        return false;
    }
    let file = format!("{name}.py");
    let configured = std::env::var("ANSIBLE_LOOKUP_PLUGINS")
        .unwrap_or_else(|_| "~/.ansible/plugins/lookup:/usr/share/ansible/plugins/lookup".into());
    let home = std::env::var("HOME").unwrap_or_default();
    let found = name.contains('.')
        || crate::modules::fallback::lookup::adjacent_dirs()
            .iter()
            .map(|d| d.join("lookup_plugins"))
            .chain(
                configured
                    .split(':')
                    .filter(|p| !p.is_empty())
                    .map(|p| std::path::PathBuf::from(p.replacen('~', &home, 1))),
            )
            .chain(crate::modules::fallback::lookup::core().map(|c| c.dir.join("plugins/lookup")))
            .any(|d| d.join(&file).is_file());
    found && bridge::available()
}

/// Variables a plugin is never sent: `hostvars` (which the bridge asks for host by host),
/// `vars` (all variables again) and `omit`.
const NOT_SENT: &[&str] = &["hostvars", "vars", "omit"];

/// prov's answer to the bridge's question about variables, of the task or (with `host`) of
/// another host of `hostvars`: one variable (`var`), their names (`names`), the hosts of
/// `hostvars` (`hosts`).
pub fn answer_vars(q: &Map<String, Json>, ctx: &Context) -> Json {
    let hostvars = || ctx.get("hostvars").ok().flatten();
    if q.get("op").and_then(Json::as_str) == Some("hosts") {
        let hosts: Vec<String> = hostvars()
            .and_then(|h| {
                h.try_iter()
                    .ok()
                    .map(|it| it.map(|k| k.to_string()).collect())
            })
            .unwrap_or_default();
        return json!({"value": hosts});
    }
    let other;
    let ctx = match q.get("host").and_then(Json::as_str) {
        Some(host) => {
            let Some(c) = hostvars()
                .and_then(|h| h.get_item(&Value::from(host)).ok())
                .and_then(|v| Context::from_value(&v))
            else {
                return json!({"defined": false, "value": []});
            };
            other = c;
            &other
        }
        None => ctx,
    };
    bridge::answer_vars(
        q,
        |n| match ctx.get(n) {
            Ok(Some(v)) if !v.is_undefined() && !NOT_SENT.contains(&n) => Some(to_json(&v)),
            _ => None,
        },
        || {
            let mut n = ctx.names();
            n.retain(|x| !NOT_SENT.contains(&x.as_str()) || x == "hostvars");
            n
        },
    )
}

/// The JSON object that stands for an undefined value (Ansible's marker) between prov and the
/// bridge: a lookup plugin sees an `UndefinedMarker` there.
const MARKER: &str = "__prov_undefined_marker__";

/// `to_json`, with undefined values (at any depth) as [`MARKER`] objects.
fn marker_json(v: &Value) -> Json {
    use minijinja::value::ValueKind;
    match v.kind() {
        ValueKind::Undefined => json!({ MARKER: true }),
        ValueKind::Seq if v.downcast_object_ref::<Vec<Value>>().is_some() => Json::Array(
            v.try_iter()
                .into_iter()
                .flatten()
                .map(|x| marker_json(&x))
                .collect(),
        ),
        ValueKind::Map
            if v.downcast_object_ref::<indexmap::IndexMap<Value, Value>>()
                .is_some() =>
        {
            Json::Object(
                v.try_iter()
                    .into_iter()
                    .flatten()
                    .map(|k| {
                        let x = v.get_item(&k).unwrap_or_default();
                        (crate::template::py_str(&k), marker_json(&x))
                    })
                    .collect(),
            )
        }
        _ => to_json(v),
    }
}

/// `from_json`, with [`MARKER`] objects (at any depth) as undefined values.
fn marker_value(j: &Json) -> Value {
    match j {
        Json::Object(o) if o.contains_key(MARKER) => Value::UNDEFINED,
        Json::Array(a) if a.iter().any(has_marker) => {
            Value::from(a.iter().map(marker_value).collect::<Vec<_>>())
        }
        Json::Object(o) if o.values().any(has_marker) => Value::from_iter(
            o.iter()
                .map(|(k, x)| (Value::from(k.as_str()), marker_value(x))),
        ),
        _ => from_json(j),
    }
}

fn has_marker(j: &Json) -> bool {
    match j {
        Json::Object(o) => o.contains_key(MARKER) || o.values().any(has_marker),
        Json::Array(a) => a.iter().any(has_marker),
        _ => false,
    }
}

/// Runs lookup plugin `name` (prov has no native one of that name) through the bridge: its
/// list of results, marked unsafe as data from a plugin. Its errors are Ansible's (`The lookup
/// plugin 'x' was not found.`, `... failed to load: ...`, `... failed: ...`).
pub fn lookup(
    name: &str,
    terms: &[Value],
    kw: &std::collections::HashMap<String, Value>,
    ctx: &Context,
) -> Result<Vec<Value>> {
    let mut req = Map::new();
    req.insert("op".into(), json!("lookup"));
    req.insert("name".into(), json!(name));
    req.insert(
        "terms".into(),
        json!(terms.iter().map(marker_json).collect::<Vec<_>>()),
    );
    req.insert(
        "kwargs".into(),
        Json::Object(
            kw.iter()
                .map(|(k, v)| (k.clone(), marker_json(v)))
                .collect(),
        ),
    );
    if let Ok(Some(dir)) = ctx.get("playbook_dir") {
        req.insert("base".into(), json!(dir.to_string()));
    }
    let r = bridge::call(req, |q| answer_vars(q, ctx))?;
    match r {
        // the plugin does not take markers and was given one: the lookup is undefined
        Reply::Value(Json::Object(o)) if o.contains_key(MARKER) => Ok(vec![Value::UNDEFINED]),
        Reply::Value(Json::Array(a)) => Ok(a
            .iter()
            .map(|v| crate::template::mark_unsafe(&marker_value(v)))
            .collect()),
        Reply::Value(other) => Err(Error::template(format!(
            "The lookup plugin '{name}' failed: returned {} instead of a list",
            other
        ))),
        Reply::Failed { msg, .. } => Err(Error::template(msg)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unknown_names_are_read_from_minijinja_errors() {
        let e = minijinja::Error::new(MjKind::UnknownFilter, "filter broken is unknown");
        assert_eq!(unknown(&e), Some((Kind::Filter, "broken".into())));
        assert_eq!(
            not_found_message(&e).as_deref(),
            Some("No filter named 'broken'.")
        );
        let e = minijinja::Error::new(MjKind::UnknownTest, "test nope is unknown");
        assert_eq!(unknown(&e), Some((Kind::Test, "nope".into())));
        let e = minijinja::Error::new(MjKind::UnknownTest, "test asdf  is unknown");
        assert_eq!(unknown(&e), Some((Kind::Test, "asdf ".into())));
        let e = minijinja::Error::new(MjKind::InvalidOperation, "filter x is unknown");
        assert_eq!(unknown(&e), None);
        assert_eq!(ansible_name("__prov_fq__ns__coll__f"), "ns.coll.f");
        assert_eq!(
            ansible_name("_protomatter_dump_object"),
            "ansible._protomatter.dump_object"
        );
        assert_eq!(ansible_name("plain"), "plain");
    }
}
