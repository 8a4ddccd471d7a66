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

/// Converts a [`Value`] to JSON (vault text and other objects become strings).
pub fn to_json(v: &Value) -> serde_json::Value {
    serde_json::to_value(v).unwrap_or_else(|_| serde_json::Value::String(v.to_string()))
}

/// Converts JSON to a [`Value`].
pub fn from_json(j: &serde_json::Value) -> Value {
    Value::from_serialize(j)
}

/// Ansible's truthiness for option values: `yes/true/on/1` (any case) are true.
pub fn truthy(v: &Value) -> bool {
    if let Some(s) = v.as_str() {
        return matches!(
            s.trim().to_ascii_lowercase().as_str(),
            "yes" | "true" | "on" | "1" | "y" | "t"
        );
    }
    v.is_true()
}
