//! Lookups over names: `varnames` (variable names matching regexes), `inventory_hostnames`
//! (hosts matching a host pattern) and `random_choice` (one of the terms, at random).

use crate::error::{Error, Result};
use crate::template::Context;
use crate::template::filters::py_str;
use crate::util::pyregex::{Anchor, PyRegex};
use crate::value::Value;
use minijinja::value::ValueKind;

/// Ansible's `varnames`: the names of the variables in scope that each Python regex matches
/// (`re.search`), term by term.
pub(super) fn varnames(terms: &[Value], ctx: &Context) -> Result<Vec<Value>> {
    let names = ctx.names();
    let mut out = Vec::new();
    for t in terms {
        let Some(pattern) = t.as_str().filter(|_| t.kind() == ValueKind::String) else {
            return Err(Error::template(format!(
                "Invalid setting identifier, \"{}\" is not a string, it is a <class '{}'>",
                py_str(t),
                crate::util::python::type_name(t)
            )));
        };
        let re = PyRegex::anchored(pattern, Default::default(), Anchor::Search).map_err(|e| {
            Error::template(format!(
                "Unable to use \"{pattern}\" as a search parameter: {e}"
            ))
        })?;
        for n in &names {
            if re.is_match(n).unwrap_or(false) {
                out.push(Value::from(n.as_str()));
            }
        }
    }
    Ok(out)
}

/// Ansible's `inventory_hostnames`: the hosts the host pattern(s) select, in inventory order,
/// from the inventory as the `groups` variable describes it; nothing for a bad pattern.
pub(super) fn inventory_hostnames(terms: &[Value], ctx: &Context) -> Result<Vec<Value>> {
    let groups = ctx.get("groups")?.unwrap_or_default();
    let mut listed: Vec<(String, Vec<String>)> = Vec::new();
    if let Ok(keys) = groups.try_iter() {
        for g in keys {
            let hosts = groups.get_item(&g).unwrap_or_default();
            let hosts = hosts
                .try_iter()
                .map(|i| i.map(|h| py_str(&h)).collect())
                .unwrap_or_default();
            listed.push((py_str(&g), hosts));
        }
    }
    let inv = crate::inventory::Inventory::from_groups(&listed)?;
    let pattern = super::terms_flat(terms)
        .iter()
        .map(py_str)
        .collect::<Vec<_>>()
        .join(",");
    Ok(inv
        .select(&pattern)
        .unwrap_or_default()
        .into_iter()
        .map(Value::from)
        .collect())
}

/// Ansible's `random_choice`: one of the terms, chosen at random (no terms: nothing).
pub(super) fn random_choice(terms: &[Value]) -> Result<Vec<Value>> {
    if terms.is_empty() {
        return Ok(vec![]);
    }
    let bytes = crate::util::random_bytes(8)
        .map_err(|e| Error::template(format!("Unable to choose random term: {e}")))?;
    let n = u64::from_le_bytes(bytes.try_into().unwrap_or_default());
    Ok(vec![terms[(n % terms.len() as u64) as usize].clone()])
}

#[cfg(test)]
mod unit {
    use super::*;
    use crate::value::Vars;
    use std::sync::Arc;

    fn ctx(vars: serde_json::Value) -> Context {
        let t = crate::template::Templar::new();
        let v: Vars = crate::value::value_to_vars(&Value::from_serialize(vars));
        Context::new(&t, vec![Arc::new(v)])
    }

    #[test]
    fn varnames_match_like_re_search() {
        let c = ctx(serde_json::json!({"qz_1": 1, "qz_2": 2, "qa_1": 3, "qz_": 4}));
        let got = |t: &[Value]| {
            let mut v: Vec<String> = varnames(t, &c).unwrap().iter().map(py_str).collect();
            v.sort();
            v
        };
        assert_eq!(got(&[Value::from("^qz_.+")]), ["qz_1", "qz_2"]);
        assert_eq!(got(&[Value::from(r"^q.*_\d")]), ["qa_1", "qz_1", "qz_2"]);
        assert_eq!(got(&[Value::from("a_")]), ["qa_1"]);
        let e = varnames(&[Value::from(true)], &c).unwrap_err().msg.clone();
        assert!(
            e.contains("Invalid setting identifier, \"True\" is not a string"),
            "{e}"
        );
        let e = varnames(&[Value::from("*")], &c).unwrap_err().msg.clone();
        assert!(
            e.contains("Unable to use \"*\" as a search parameter: nothing to repeat"),
            "{e}"
        );
    }

    #[test]
    fn inventory_hostnames_select_patterns() {
        let c = ctx(serde_json::json!({"groups": {
            "all": ["n1", "t1", "t3", "t2", "t200"],
            "ungrouped": ["n1"],
            "g1": ["t1", "t3", "t2"],
            "g2": ["t3", "t200"],
        }}));
        let got = |p: &str| -> Vec<String> {
            inventory_hostnames(&[Value::from(p)], &c)
                .unwrap()
                .iter()
                .map(py_str)
                .collect()
        };
        assert_eq!(got("g1"), ["t1", "t3", "t2"]);
        assert_eq!(got("g1:!t3"), ["t1", "t2"]);
        assert_eq!(got("g1:&g2"), ["t3"]);
        assert_eq!(got("n1"), ["n1"]);
        assert!(got("nothere").is_empty());
        assert_eq!(got("all").len(), 5);
        assert_eq!(got("t?0?"), ["t200"]);
        assert_eq!(got("t?"), ["t1", "t3", "t2"]);
    }

    #[test]
    fn random_choice_picks_a_term() {
        assert!(random_choice(&[]).unwrap().is_empty());
        let terms = [Value::from("a"), Value::from("b")];
        for _ in 0..20 {
            let got = random_choice(&terms).unwrap();
            assert_eq!(got.len(), 1);
            assert!(terms.contains(&got[0]));
        }
    }
}
