//! Values and variables: prov uses minijinja's [`Value`] everywhere (vars, facts, module args,
//! registered results), so templating never converts.

pub use minijinja::Value;
use minijinja::value::{Object, ObjectRepr};
use std::fmt;
use std::sync::Arc;

/// A set of variables, in insertion order.
pub type Vars = indexmap::IndexMap<String, Value>;

/// ansible-vault ciphertext from a `!vault` tag; decrypted only when a template uses it.
#[derive(Debug, Clone)]
pub struct VaultText {
    /// The `$ANSIBLE_VAULT;1.1;AES256...` text.
    pub ciphertext: String,
}

impl VaultText {
    /// Wraps ciphertext.
    pub fn new(ciphertext: String) -> Self {
        VaultText { ciphertext }
    }
}

impl Object for VaultText {
    fn repr(self: &Arc<Self>) -> ObjectRepr {
        ObjectRepr::Plain
    }
    fn render(self: &Arc<Self>, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("<vault encrypted>")
    }
}

/// Builds a map [`Value`] from string keys.
pub fn map_value<'a>(entries: impl IntoIterator<Item = (&'a str, Value)>) -> Value {
    Value::from_iter(entries.into_iter().map(|(k, v)| (Value::from(k), v)))
}

/// Converts [`Vars`] into a map [`Value`].
pub fn vars_value(vars: &Vars) -> Value {
    Value::from_iter(
        vars.iter()
            .map(|(k, v)| (Value::from(k.as_str()), v.clone())),
    )
}

/// Converts a map [`Value`] into [`Vars`] (non-map values give an empty set).
pub fn value_to_vars(v: &Value) -> Vars {
    let mut out = Vars::new();
    if v.kind() == minijinja::value::ValueKind::Map
        && let Ok(iter) = v.try_iter()
    {
        for k in iter {
            if let Ok(val) = v.get_item(&k) {
                out.insert(k.to_string(), val);
            }
        }
    }
    out
}

/// `hash_behaviour = merge` (Ansible's `DEFAULT_HASH_BEHAVIOUR`, one setting for the whole
/// run): variables' mappings are merged across their definitions instead of replaced.
static HASH_MERGE: std::sync::atomic::AtomicBool = std::sync::atomic::AtomicBool::new(false);

/// Sets `hash_behaviour` for the run (`true`: `merge`).
pub fn set_hash_merge(merge: bool) {
    HASH_MERGE.store(merge, std::sync::atomic::Ordering::Relaxed);
}

/// Whether `hash_behaviour` is `merge`.
pub fn hash_merge() -> bool {
    HASH_MERGE.load(std::sync::atomic::Ordering::Relaxed)
}

/// Sets variable `name` in `into` as Ansible combines variables: replaced, or with
/// `hash_behaviour = merge` a mapping merged into the mapping already there.
pub fn combine_var(into: &mut Vars, name: String, v: Value) {
    let v = match into.get(&name) {
        Some(old) if hash_merge() => merge_maps(old, &v),
        _ => v,
    };
    into.insert(name, v);
}

/// `high` merged into `low` key by key, mappings recursively, anything else replaced
/// (Ansible's `merge_hash`, as `hash_behaviour = merge` and `include_vars` use it).
pub fn merge_maps(low: &Value, high: &Value) -> Value {
    use minijinja::value::ValueKind;
    if low.kind() != ValueKind::Map || high.kind() != ValueKind::Map {
        return high.clone();
    }
    let mut out = value_to_vars(low);
    for (k, v) in value_to_vars(high) {
        let merged = match out.get(&k) {
            Some(o) => merge_maps(o, &v),
            None => v,
        };
        out.insert(k, merged);
    }
    vars_value(&out)
}

/// Converts a [`Value`] to JSON (vault text and other objects become strings).
pub fn to_json(v: &Value) -> serde_json::Value {
    serde_json::to_value(v).unwrap_or_else(|_| serde_json::Value::String(v.to_string()))
}

/// Converts JSON to a [`Value`].
pub fn from_json(j: &serde_json::Value) -> Value {
    Value::from_serialize(j)
}

/// Ansible's boolean words, the one table every "Ansible boolean" reads (module options, play
/// keywords, config values, lookup options, `set_fact: cacheable`, `ansible_become`, sysctl
/// values): ansible-core's `boolean()`. Matched case-insensitively, surrounding blanks ignored.
const BOOLEAN_WORDS: [(&str, bool); 12] = [
    ("yes", true),
    ("on", true),
    ("1", true),
    ("true", true),
    ("y", true),
    ("t", true),
    ("no", false),
    ("off", false),
    ("0", false),
    ("false", false),
    ("n", false),
    ("f", false),
];

/// Ansible's boolean of a word (`yes`/`on`/`1`/`true`/`y`/`t` and `no`/`off`/`0`/`false`/`n`/`f`,
/// any case); `None` for any other text.
pub fn boolean_word(s: &str) -> Option<bool> {
    let s = s.trim();
    BOOLEAN_WORDS
        .iter()
        .find(|(w, _)| w.eq_ignore_ascii_case(s))
        .map(|(_, b)| *b)
}

/// The `bool` filter's words: those of [`boolean_word`] without the one-letter forms. In
/// ansible-core the filter deliberately takes only `yes`/`on`/`1`/`true` and
/// `no`/`off`/`0`/`false`; anything else (`y`, `t`, ...) is an invalid value it turns into
/// false (with a deprecation warning since 2.19).
pub fn bool_filter_word(s: &str) -> Option<bool> {
    boolean_word(s).filter(|_| s.trim().len() > 1 || matches!(s.trim(), "0" | "1"))
}

/// Ansible's `boolean()` of a value: a boolean, the number 0 or 1, or a boolean word (see
/// [`boolean_word`]); `None` for anything else, which Ansible rejects in strict places (module
/// options) and callers decide about elsewhere.
pub fn boolean(v: &Value) -> Option<bool> {
    match v.kind() {
        minijinja::value::ValueKind::Bool => Some(v.is_true()),
        minijinja::value::ValueKind::Number => match i64::try_from(v.clone()) {
            Ok(0) => Some(false),
            Ok(1) => Some(true),
            _ => None,
        },
        _ => v.as_str().and_then(boolean_word),
    }
}

/// Ansible's truthiness for option values: [`boolean`], else false for other text and Jinja's
/// truthiness for other values (a non-zero number is true, an empty list false).
pub fn truthy(v: &Value) -> bool {
    boolean(v).unwrap_or_else(|| v.as_str().is_none() && v.is_true())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn one_boolean_table() {
        for w in ["yes", "On", " 1 ", "TRUE", "y", "t"] {
            assert_eq!(boolean_word(w), Some(true), "{w}");
        }
        for w in ["no", "OFF", "0", "False", "n", "f"] {
            assert_eq!(boolean_word(w), Some(false), "{w}");
        }
        for w in ["", "2", "maybe", "1.0", "ye"] {
            assert_eq!(boolean_word(w), None, "{w}");
        }
        assert_eq!(bool_filter_word("Yes"), Some(true));
        assert_eq!(bool_filter_word("off"), Some(false));
        assert_eq!(bool_filter_word("t"), None);
        assert_eq!(bool_filter_word(" y "), None);
        assert_eq!(bool_filter_word("1"), Some(true));
        assert_eq!(bool_filter_word("0"), Some(false));
        assert_eq!(boolean(&Value::from(1)), Some(true));
        assert_eq!(boolean(&Value::from(0)), Some(false));
        assert_eq!(boolean(&Value::from(2)), None);
        assert_eq!(boolean(&Value::from(false)), Some(false));
        assert_eq!(boolean(&Value::from(vec![1])), None);
        assert!(truthy(&Value::from("t")) && !truthy(&Value::from("nope")));
        assert!(truthy(&Value::from(2)) && !truthy(&Value::from(Vec::<i64>::new())));
    }

    #[test]
    fn play_keywords_read_the_same_table() {
        let kw = |text: &str| {
            let node = crate::yaml::load_str(text, std::path::Path::new("k.yml")).unwrap();
            crate::playbook::bool_of(&node).ok()
        };
        for (w, b) in BOOLEAN_WORDS {
            assert_eq!(kw(&format!("'{w}'")), Some(b), "{w}");
            assert_eq!(kw(&format!("'{}'", w.to_uppercase())), Some(b), "{w}");
        }
        assert_eq!(kw("''"), Some(false));
        assert_eq!(kw("'maybe'"), None);
    }
}
