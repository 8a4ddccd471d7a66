//! Dictionaries: `combine`, `dict2items`, `items2dict`, `subelements`, `extract`,
//! `rekey_on_member`.

use super::python::{py_repr, py_str, type_name};
use super::{Args, R, ferr, items, map_entries, split_kwargs};
use crate::value::Value;
use indexmap::IndexMap;
use minijinja::value::{Rest, ValueKind};
use minijinja::{Error, ErrorKind, State};

/// Registers this file's filters.
pub(super) fn register(env: &mut super::Reg) {
    env.add_filter("combine", combine);
    env.add_filter("dict2items", dict2items);
    env.add_filter("items2dict", items2dict);
    env.add_filter("subelements", subelements);
    env.add_filter("extract", extract);
    env.add_filter("rekey_on_member", rekey_on_member);
}

/// Ansible's `rekey_on_member`: a dict (of the values of a dict, or of a list of dicts) keyed
/// on each item's `key` member; a repeated key is an error unless `duplicates='overwrite'`.
fn rekey_on_member(data: Value, args: Rest<Value>) -> R {
    let name = "rekey_on_member";
    let a = Args::bind(name, &["key", "duplicates"], &args)?;
    let key = a.req("key")?.clone();
    let duplicates = a.str_or("duplicates", "error");
    if duplicates != "error" && duplicates != "overwrite" {
        return Err(ferr(
            name,
            format!(
                "duplicates parameter to rekey_on_member has unknown value {}",
                py_repr(&Value::from(duplicates.as_str()))
            ),
        ));
    }
    let members: Vec<Value> = match data.kind() {
        ValueKind::Map => map_entries(name, &data)?
            .into_iter()
            .map(|(_, v)| v)
            .collect(),
        ValueKind::Seq | ValueKind::Iterable => items(name, &data)?,
        _ => return Err(ferr(name, "Type is not a valid list, set, or dict")),
    };
    let mut out: IndexMap<Value, Value> = IndexMap::new();
    for item in members {
        if item.kind() != ValueKind::Map {
            return Err(ferr(name, "List item is not a valid dict"));
        }
        let k = item.get_item(&key).unwrap_or_default();
        if k.is_undefined() {
            return Err(ferr(name, format!("Key {} was not found.", py_repr(&key))));
        }
        if out.get(&k).is_some_and(Value::is_true) && duplicates == "error" {
            return Err(ferr(
                name,
                format!("Key {} is not unique, cannot convert to dict.", py_repr(&k)),
            ));
        }
        out.insert(k, item);
    }
    Ok(Value::from_iter(out))
}

fn merge_hash(name: &str, x: &Value, y: &Value, recursive: bool, list_merge: &str) -> R {
    if x.kind() != ValueKind::Map || y.kind() != ValueKind::Map {
        return Ok(y.clone());
    }
    let mut out: IndexMap<Value, Value> = map_entries(name, x)?.into_iter().collect();
    for (k, yv) in map_entries(name, y)? {
        let merged = match out.get(&k) {
            Some(xv) if recursive && xv.kind() == ValueKind::Map && yv.kind() == ValueKind::Map => {
                merge_hash(name, xv, &yv, recursive, list_merge)?
            }
            Some(xv) if xv.kind() == ValueKind::Seq && yv.kind() == ValueKind::Seq => {
                let (xs, ys) = (items(name, xv)?, items(name, &yv)?);
                match list_merge {
                    "replace" => yv.clone(),
                    "keep" => xv.clone(),
                    "append" => Value::from(xs.into_iter().chain(ys).collect::<Vec<_>>()),
                    "prepend" => Value::from(ys.into_iter().chain(xs).collect::<Vec<_>>()),
                    "append_rp" => {
                        let mut r: Vec<Value> =
                            xs.into_iter().filter(|e| !ys.contains(e)).collect();
                        r.extend(ys);
                        Value::from(r)
                    }
                    "prepend_rp" => {
                        let mut r = ys.clone();
                        r.extend(xs.into_iter().filter(|e| !ys.contains(e)));
                        Value::from(r)
                    }
                    other => {
                        return Err(ferr(
                            name,
                            format!(
                                "unknown list_merge '{other}' (use replace, keep, append, prepend, append_rp or prepend_rp)"
                            ),
                        ));
                    }
                }
            }
            _ => yv,
        };
        out.insert(k, merged);
    }
    Ok(Value::from_iter(out))
}

/// True if `v` is or holds (in a list or dict) an undefined value.
fn has_undefined(v: &Value) -> bool {
    match v.kind() {
        ValueKind::Undefined => true,
        ValueKind::Seq => v
            .try_iter()
            .is_ok_and(|mut it| it.any(|x| has_undefined(&x))),
        ValueKind::Map => v
            .try_iter()
            .is_ok_and(|mut it| it.any(|k| v.get_item(&k).is_ok_and(|x| has_undefined(&x)))),
        _ => false,
    }
}

/// Ansible's `combine(*dicts, recursive=False, list_merge='replace')`: the input and the
/// arguments, lists among them spread one level and nulls left out, merged left to right.
fn combine(v: Value, args: Rest<Value>) -> R {
    let (pos, kw) = split_kwargs(&args);
    let mut recursive = false;
    let mut list_merge = "replace".to_string();
    for (k, x) in kw {
        match k.as_str() {
            "recursive" => recursive = x.is_true(),
            "list_merge" => list_merge = py_str(&x),
            _ => {
                return Err(ferr(
                    "combine",
                    "'recursive' and 'list_merge' are the only valid keyword arguments",
                ));
            }
        }
    }
    let null = |x: &Value| x.is_none() || matches!(x.as_str(), Some("None" | "null"));
    let mut dicts = Vec::new();
    for t in std::iter::once(v).chain(pos) {
        if has_undefined(&t) {
            return Err(Error::from(ErrorKind::UndefinedError));
        }
        if t.kind() == ValueKind::Seq {
            dicts.extend(items("combine", &t)?.into_iter().filter(|x| !null(x)));
        } else if !null(&t) {
            dicts.push(t);
        }
    }
    if dicts.len() == 1 {
        return Ok(dicts.remove(0));
    }
    let mut acc: Option<Value> = None;
    for d in dicts {
        if d.is_undefined() {
            return Err(Error::from(ErrorKind::UndefinedError));
        }
        let prev = acc
            .take()
            .unwrap_or_else(|| Value::from_iter(Vec::<(Value, Value)>::new()));
        if d.kind() != ValueKind::Map || prev.kind() != ValueKind::Map {
            return Err(ferr(
                "combine",
                format!(
                    "failed to combine variables, expected dicts but got a '{}' and a '{}'.",
                    type_name(&prev),
                    type_name(&d)
                ),
            ));
        }
        acc = Some(merge_hash("combine", &prev, &d, recursive, &list_merge)?);
    }
    Ok(acc.unwrap_or_else(|| Value::from_iter(Vec::<(Value, Value)>::new())))
}

fn dict2items(v: Value, args: Rest<Value>) -> R {
    let a = Args::bind("dict2items", &["key_name", "value_name"], &args)?;
    let (kn, vn) = (a.str_or("key_name", "key"), a.str_or("value_name", "value"));
    if v.kind() != ValueKind::Map {
        return Err(ferr(
            "dict2items",
            format!(
                "dict2items requires a dictionary, got <class '{}'> instead.",
                crate::util::python::type_name(&v)
            ),
        ));
    }
    let out: Vec<Value> = map_entries("dict2items", &v)?
        .into_iter()
        .map(|(k, x)| {
            Value::from_iter([(Value::from(kn.as_str()), k), (Value::from(vn.as_str()), x)])
        })
        .collect();
    Ok(Value::from(out))
}

fn items2dict(v: Value, args: Rest<Value>) -> R {
    let a = Args::bind("items2dict", &["key_name", "value_name"], &args)?;
    let (kn, vn) = (a.str_or("key_name", "key"), a.str_or("value_name", "value"));
    // Ansible's checks and messages.
    if v.kind() != ValueKind::Seq {
        return Err(ferr(
            "items2dict",
            format!(
                "items2dict requires a list, got <class '{}'> instead.",
                crate::util::python::type_name(&v)
            ),
        ));
    }
    let mut out = Vec::new();
    for it in items("items2dict", &v)? {
        if it.kind() != ValueKind::Map {
            return Err(ferr(
                "items2dict",
                format!(
                    "items2dict requires a list of dictionaries, got {} instead.",
                    py_repr(&v)
                ),
            ));
        }
        let k = it.get_item(&Value::from(kn.as_str())).unwrap_or_default();
        let x = it.get_item(&Value::from(vn.as_str())).unwrap_or_default();
        if k.is_undefined() || x.is_undefined() {
            return Err(ferr(
                "items2dict",
                format!(
                    "items2dict requires each dictionary in the list to contain the keys \
                     '{kn}' and '{vn}', got {} instead.",
                    py_repr(&v)
                ),
            ));
        }
        out.push((k, x));
    }
    Ok(Value::from_iter(out))
}

fn subelements(v: Value, args: Rest<Value>) -> R {
    let a = Args::bind("subelements", &["subelements", "skip_missing"], &args)?;
    let skip = a.bool_or("skip_missing", false);
    // Ansible's checks and messages, in its order.
    let elems = match v.kind() {
        ValueKind::Map => map_entries("subelements", &v)?
            .into_iter()
            .map(|(_, x)| x)
            .collect(),
        ValueKind::Seq => items("subelements", &v)?,
        _ => {
            return Err(ferr(
                "subelements",
                "obj must be a list of dicts or a nested dict",
            ));
        }
    };
    let path: Vec<Value> = match a.get("subelements") {
        Some(p) if p.kind() == ValueKind::Seq => items("subelements", p)?,
        Some(p) if p.kind() == ValueKind::String => py_str(p).split('.').map(Value::from).collect(),
        _ => {
            return Err(ferr(
                "subelements",
                "subelements must be a list or a string",
            ));
        }
    };
    let mut out = Vec::new();
    for e in elems {
        let mut cur = e.clone();
        let mut skipped = false;
        for seg in &path {
            if cur.kind() != ValueKind::Map {
                return Err(ferr(
                    "subelements",
                    format!(
                        "the key {} should point to a dictionary, got '{}'",
                        py_str(seg),
                        py_str(&cur)
                    ),
                ));
            }
            let next = cur.get_item(seg).unwrap_or_default();
            if next.is_undefined() {
                if skip {
                    skipped = true;
                    break;
                }
                return Err(ferr(
                    "subelements",
                    format!(
                        "could not find {} key in iterated item {}",
                        py_repr(seg),
                        py_repr(&cur)
                    ),
                ));
            }
            cur = next;
        }
        if skipped {
            continue;
        }
        if cur.kind() != ValueKind::Seq {
            return Err(ferr(
                "subelements",
                format!(
                    "the key {} should point to a list, got {}",
                    py_repr(path.last().unwrap_or(&Value::from(""))),
                    py_repr(&cur)
                ),
            ));
        }
        for s in items("subelements", &cur)? {
            out.push(Value::from(vec![e.clone(), s]));
        }
    }
    Ok(Value::from(out))
}

fn extract(state: &State, item: Value, args: Rest<Value>) -> R {
    let a = Args::bind("extract", &["container", "morekeys"], &args)?;
    // An undefined container (or item) gives an undefined value, as in Ansible, which
    // `default` can then replace.
    if item.is_undefined() || args.first().is_some_and(Value::is_undefined) {
        return Ok(Value::UNDEFINED);
    }
    let container = a.req("container")?;
    let mut v = container.get_item(&item).unwrap_or_default();
    if let Some(more) = a.get("morekeys") {
        let keys = if more.kind() == ValueKind::Seq {
            items("extract", more)?
        } else {
            vec![more.clone()]
        };
        for k in keys {
            if v.is_undefined() {
                break;
            }
            v = v.get_item(&k).unwrap_or_default();
        }
    }
    let _ = state;
    Ok(v)
}

#[cfg(test)]
mod tests {
    #[test]
    fn rekey_on_member_like_ansible() {
        let mut env = minijinja::Environment::new();
        super::super::register(&mut env);
        let ev = |src: &str| env.render_str(src, ()).map_err(|e| e.to_string());
        let list = "[{'p': 'a', 'n': 1}, {'p': 'b', 'n': 2}]";
        assert_eq!(
            ev(&format!("{{{{ ({list}|rekey_on_member('p')).b.n }}}}")).unwrap(),
            "2"
        );
        let twice = "[{'p': 'a', 'n': 1}, {'p': 'a', 'n': 2}]";
        let over = format!("{{{{ ({twice}|rekey_on_member('p', duplicates='overwrite')).a.n }}}}");
        assert_eq!(ev(&over).unwrap(), "2");
        let dup = ev(&format!("{{{{ {twice}|rekey_on_member('p') }}}}")).unwrap_err();
        assert!(
            dup.contains("Key 'a' is not unique, cannot convert to dict."),
            "{dup}"
        );
        let missing = ev(&format!("{{{{ {list}|rekey_on_member('q') }}}}")).unwrap_err();
        assert!(missing.contains("Key 'q' was not found."), "{missing}");
        assert!(
            ev("{{ 'abc'|rekey_on_member('p') }}")
                .unwrap_err()
                .contains("not a valid list")
        );
        assert!(
            ev("{{ [1]|rekey_on_member('p') }}")
                .unwrap_err()
                .contains("not a valid dict")
        );
    }
}
