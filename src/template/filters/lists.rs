//! Lists: `sort`, `min`, `max`, `sum`, the set filters (`union`, `intersect`, `difference`,
//! `symmetric_difference`), `flatten`, `zip_longest`, `product`, `permutations`, `combinations`,
//! `random`, `shuffle`, `list`, `dict`, and the math filters (`abs`, `log`, `pow`, `root`);
//! Jinja's `groupby` (whose groups are Python tuples) and `map`/`select`/`reject`/`selectattr`/
//! `rejectattr` (which give an undefined value for an undefined input, as in Ansible).
//!
//! `random` and `shuffle` with a `seed` are stable for a given seed (the same host gets the same
//! value on every run), but the values differ from Python's generator.

use super::hashing::urandom;
use super::python::{py_cmp, py_str, type_name};
use super::{Args, R, ferr, items, map_entries, split_kwargs, to_f64, to_i64};
use crate::value::Value;
use minijinja::State;
use minijinja::value::{Kwargs, Object, ObjectRepr};
use minijinja::value::{Rest, ValueKind};
use sha2::Digest;
use std::cmp::Ordering;
use std::sync::Arc;

/// minijinja's error for a test `select` and its kin do not know, with the test's name (as the
/// error of `x is name` has it), so that Ansible's Python test of that name can be tried.
fn name_unknown_test(e: minijinja::Error, name: Option<String>) -> minijinja::Error {
    match name {
        Some(n) if e.kind() == minijinja::ErrorKind::UnknownTest && e.detail().is_none() => {
            minijinja::Error::new(
                minijinja::ErrorKind::UnknownTest,
                format!("test {n} is unknown"),
            )
        }
        _ => e,
    }
}

/// Registers this file's filters.
pub(super) fn register(env: &mut super::Reg) {
    use minijinja::filters as jinja;
    env.add_filter("groupby", groupby);
    env.add_filter("map", |state: &State, v: Value, args: Rest<Value>| {
        let attr = args
            .iter()
            .filter(|a| a.kind() == ValueKind::Map)
            .find_map(|a| a.get_item(&Value::from("attribute")).ok())
            .filter(|a| !a.is_undefined() && !a.is_none());
        let input = v.clone();
        let out = undefined_through(v, |v| jinja::map(state, v, args))?;
        if let Some(attr) = attr {
            note_missing_attribute(&input, &out, &attr);
        }
        Ok(out)
    });
    env.add_filter(
        "select",
        |state: &State, v: Value, test: Option<String>, args: Rest<Value>| {
            let name = test.clone();
            undefined_through(v, |v| jinja::select(state, v, test.map(Into::into), args))
                .map_err(|e| name_unknown_test(e, name))
        },
    );
    env.add_filter(
        "reject",
        |state: &State, v: Value, test: Option<String>, args: Rest<Value>| {
            let name = test.clone();
            undefined_through(v, |v| jinja::reject(state, v, test.map(Into::into), args))
                .map_err(|e| name_unknown_test(e, name))
        },
    );
    env.add_filter(
        "selectattr",
        |state: &State, v: Value, attr: String, test: Option<String>, args: Rest<Value>| {
            let name = test.clone();
            undefined_through(v, |v| {
                jinja::selectattr(state, v, attr.into(), test.map(Into::into), args)
            })
            .map_err(|e| name_unknown_test(e, name))
        },
    );
    env.add_filter(
        "rejectattr",
        |state: &State, v: Value, attr: String, test: Option<String>, args: Rest<Value>| {
            let name = test.clone();
            undefined_through(v, |v| {
                jinja::rejectattr(state, v, attr.into(), test.map(Into::into), args)
            })
            .map_err(|e| name_unknown_test(e, name))
        },
    );
    env.add_filter("sort", sort);
    env.add_filter("min", min);
    env.add_filter("max", max);
    env.add_filter("sum", sum);
    env.add_filter("unique", unique);
    env.add_filter("union", union);
    env.add_filter("intersect", intersect);
    env.add_filter("difference", difference);
    env.add_filter("symmetric_difference", symmetric_difference);
    env.add_filter("flatten", flatten);
    env.add_filter("zip_longest", zip_longest);
    env.add_filter("product", product);
    env.add_filter("list", list_filter);
    env.add_filter("dict", dict_filter);
    env.add_filter("abs", abs_filter);
    env.add_filter(
        "log",
        math("log", |x, b| match b {
            Some(10.0) => x.log10(),
            Some(b) => x.ln() / b.ln(),
            None => x.ln(),
        }),
    );
    env.add_filter("pow", math("pow", |x, y| x.powf(y.unwrap_or(1.0))));
    env.add_filter(
        "root",
        math("root", |x, y| match y {
            Some(n) if n != 2.0 => x.powf(1.0 / n),
            _ => x.sqrt(),
        }),
    );
    env.add_filter("random", random);
    env.add_filter("shuffle", shuffle);
    env.add_filter("permutations", permutations);
    env.add_filter("combinations", combinations);
}

pub(super) fn attr_path(v: &Value, attr: &str) -> Value {
    let mut cur = v.clone();
    for seg in attr.split('.') {
        cur = match seg.parse::<usize>() {
            Ok(i) if cur.kind() == ValueKind::Seq => cur.get_item_by_index(i).unwrap_or_default(),
            _ => cur.get_attr(seg).unwrap_or_default(),
        };
    }
    cur
}

fn sort_key(v: &Value, attr: Option<&str>, case_sensitive: bool) -> Value {
    let v = match attr {
        Some(a) => attr_path(v, a),
        None => v.clone(),
    };
    match v.as_str() {
        Some(s) if !case_sensitive => Value::from(s.to_lowercase()),
        _ => v,
    }
}

fn sort(v: Value, args: Rest<Value>) -> R {
    let a = Args::bind("sort", &["reverse", "case_sensitive", "attribute"], &args)?;
    let mut xs = items("sort", &v)?;
    let attr = a.get("attribute").map(py_str);
    let cs = a.bool_or("case_sensitive", false);
    let mut keyed: Vec<(Value, Value)> = xs
        .drain(..)
        .map(|x| (sort_key(&x, attr.as_deref(), cs), x))
        .collect();
    keyed.sort_by(|p, q| py_cmp(&p.0, &q.0));
    if a.bool_or("reverse", false) {
        keyed.reverse();
    }
    Ok(Value::from(
        keyed.into_iter().map(|(_, x)| x).collect::<Vec<_>>(),
    ))
}

fn min_max(name: &'static str, v: Value, args: Rest<Value>, want: Ordering) -> R {
    let a = Args::bind(name, &["case_sensitive", "attribute"], &args)?;
    let xs = items(name, &v)?;
    let attr = a.get("attribute").map(py_str);
    let cs = a.bool_or("case_sensitive", false);
    let mut best: Option<(Value, Value)> = None;
    for x in xs {
        let k = sort_key(&x, attr.as_deref(), cs);
        if best.as_ref().is_none_or(|(bk, _)| py_cmp(&k, bk) == want) {
            best = Some((k, x));
        }
    }
    Ok(best.map(|(_, x)| x).unwrap_or(Value::UNDEFINED))
}

fn min(v: Value, args: Rest<Value>) -> R {
    min_max("min", v, args, Ordering::Less)
}

fn max(v: Value, args: Rest<Value>) -> R {
    min_max("max", v, args, Ordering::Greater)
}

fn add(name: &str, a: &Value, b: &Value) -> R {
    match (a.kind(), b.kind()) {
        (ValueKind::Seq, ValueKind::Seq) => {
            let mut x = items(name, a)?;
            x.extend(items(name, b)?);
            Ok(Value::from(x))
        }
        (ValueKind::String, ValueKind::String) => {
            Ok(Value::from(format!("{}{}", py_str(a), py_str(b))))
        }
        _ => {
            if a.is_integer()
                && b.is_integer()
                && let (Some(x), Some(y)) = (a.as_i64(), b.as_i64())
                && let Some(s) = x.checked_add(y)
            {
                return Ok(Value::from(s));
            }
            match (to_f64(a), to_f64(b)) {
                (Some(x), Some(y))
                    if a.kind() != ValueKind::String && b.kind() != ValueKind::String =>
                {
                    Ok(Value::from(x + y))
                }
                _ => Err(ferr(
                    name,
                    format!(
                        "unsupported operand types for +: '{}' and '{}'",
                        type_name(a),
                        type_name(b)
                    ),
                )),
            }
        }
    }
}

fn sum(v: Value, args: Rest<Value>) -> R {
    let a = Args::bind("sum", &["attribute", "start"], &args)?;
    let attr = a.get("attribute").map(py_str);
    let mut acc = a.get("start").cloned().unwrap_or(Value::from(0));
    for x in items("sum", &v)? {
        let x = match &attr {
            Some(at) => attr_path(&x, at),
            None => x,
        };
        acc = add("sum", &acc, &x)?;
    }
    Ok(acc)
}

fn value_eq(a: &Value, b: &Value) -> bool {
    a == b
}

fn uniq(xs: Vec<Value>) -> Vec<Value> {
    let mut out: Vec<Value> = Vec::with_capacity(xs.len());
    for x in xs {
        if !out.iter().any(|y| value_eq(y, &x)) {
            out.push(x);
        }
    }
    out
}

/// Ansible's `unique`: Jinja2's (keys compared case-insensitively unless `case_sensitive` is
/// true, optionally by `attribute`); when an item cannot be a set member (a dict or a list),
/// Ansible falls back to plain equality, which it cannot do with `case_sensitive=False` or an
/// `attribute`.
fn unique(v: Value, args: Rest<Value>) -> R {
    let a = Args::bind("unique", &["case_sensitive", "attribute"], &args)?;
    let case_given = a.get("case_sensitive").filter(|c| !c.is_none());
    let case_sensitive = case_given.is_some_and(Value::is_true);
    let attribute = a.get("attribute").filter(|c| !c.is_none());
    let xs: Vec<Value> = match v.kind() {
        ValueKind::String => v
            .as_str()
            .unwrap_or_default()
            .chars()
            .map(Value::from)
            .collect(),
        ValueKind::Seq | ValueKind::Map | ValueKind::Iterable => {
            v.try_iter().map_err(|e| ferr("unique", e))?.collect()
        }
        _ => {
            return Err(ferr(
                "unique",
                format!("'{}' object is not iterable", type_name(&v)),
            ));
        }
    };
    let key_of = |x: &Value| -> Value {
        let mut k = x.clone();
        if let Some(attr) = attribute {
            for part in py_str(attr).split('.') {
                k = match part.parse::<i64>() {
                    Ok(i) if k.kind() == ValueKind::Seq => k.get_item(&Value::from(i)),
                    _ => k.get_attr(part),
                }
                .unwrap_or_default();
            }
        }
        match k.as_str() {
            Some(s) if !case_sensitive => Value::from(s.to_lowercase()),
            _ => k,
        }
    };
    let keys: Vec<Value> = xs.iter().map(key_of).collect();
    if keys
        .iter()
        .any(|k| matches!(k.kind(), ValueKind::Map | ValueKind::Seq))
    {
        if case_given.is_some_and(|c| !c.is_true()) || attribute.is_some() {
            return Err(ferr(
                "unique",
                "Jinja2's unique filter failed and we cannot fall back to Ansible's version as it does not support the parameters supplied.",
            ));
        }
        return Ok(Value::from(uniq(xs)));
    }
    let mut seen: Vec<Value> = Vec::new();
    let mut out = Vec::new();
    for (x, k) in xs.into_iter().zip(keys) {
        if !seen.iter().any(|s| py_cmp(s, &k) == Ordering::Equal) {
            seen.push(k);
            out.push(x);
        }
    }
    Ok(Value::from(out))
}

fn union(a: Value, b: Value) -> R {
    let mut xs = items("union", &a)?;
    xs.extend(items("union", &b)?);
    Ok(Value::from(uniq(xs)))
}

fn intersect(a: Value, b: Value) -> R {
    let ys = items("intersect", &b)?;
    let xs: Vec<Value> = items("intersect", &a)?
        .into_iter()
        .filter(|x| ys.contains(x))
        .collect();
    Ok(Value::from(uniq(xs)))
}

fn difference(a: Value, b: Value) -> R {
    let ys = items("difference", &b)?;
    let xs: Vec<Value> = items("difference", &a)?
        .into_iter()
        .filter(|x| !ys.contains(x))
        .collect();
    Ok(Value::from(uniq(xs)))
}

fn symmetric_difference(a: Value, b: Value) -> R {
    let xs = items("symmetric_difference", &a)?;
    let ys = items("symmetric_difference", &b)?;
    let both: Vec<Value> = xs.iter().filter(|x| ys.contains(x)).cloned().collect();
    let mut all = xs;
    all.extend(ys);
    Ok(Value::from(uniq(
        all.into_iter().filter(|x| !both.contains(x)).collect(),
    )))
}

fn flatten_into(xs: Vec<Value>, levels: Option<i64>, skip_nulls: bool, out: &mut Vec<Value>) {
    for x in xs {
        if skip_nulls && (x.is_none() || matches!(x.as_str(), Some("None" | "null"))) {
            continue;
        }
        if x.kind() == ValueKind::Seq && levels.is_none_or(|l| l > 0) {
            let inner: Vec<Value> = x.try_iter().map(|i| i.collect()).unwrap_or_default();
            flatten_into(inner, levels.map(|l| l - 1), skip_nulls, out);
        } else {
            out.push(x);
        }
    }
}

fn flatten(v: Value, args: Rest<Value>) -> R {
    let a = Args::bind("flatten", &["levels", "skip_nulls"], &args)?;
    let levels = match a.get("levels") {
        Some(l) if !l.is_none() => {
            Some(to_i64(l).ok_or_else(|| ferr("flatten", "levels must be an integer"))?)
        }
        _ => None,
    };
    let mut out = Vec::new();
    flatten_into(
        items("flatten", &v)?,
        levels,
        a.bool_or("skip_nulls", true),
        &mut out,
    );
    Ok(Value::from(out))
}

fn zip_longest(v: Value, args: Rest<Value>) -> R {
    let (pos, kw) = split_kwargs(&args);
    let fill = kw
        .into_iter()
        .find(|(k, _)| k == "fillvalue")
        .map(|(_, v)| v)
        .unwrap_or(Value::from(()));
    let mut lists = vec![items("zip_longest", &v)?];
    for p in pos {
        lists.push(items("zip_longest", &p)?);
    }
    let n = lists.iter().map(Vec::len).max().unwrap_or(0);
    Ok(Value::from(
        (0..n)
            .map(|i| {
                Value::from(
                    lists
                        .iter()
                        .map(|l| l.get(i).cloned().unwrap_or(fill.clone()))
                        .collect::<Vec<_>>(),
                )
            })
            .collect::<Vec<_>>(),
    ))
}

fn product(v: Value, args: Rest<Value>) -> R {
    let mut lists = vec![items("product", &v)?];
    for p in args.iter() {
        lists.push(items("product", p)?);
    }
    let mut acc: Vec<Vec<Value>> = vec![vec![]];
    for l in lists {
        let mut next = Vec::new();
        for prefix in &acc {
            for x in &l {
                let mut p = prefix.clone();
                p.push(x.clone());
                next.push(p);
            }
        }
        acc = next;
    }
    Ok(Value::from(
        acc.into_iter().map(Value::from).collect::<Vec<_>>(),
    ))
}

fn list_filter(v: Value) -> R {
    match v.kind() {
        ValueKind::Map => Ok(Value::from(
            map_entries("list", &v)?
                .into_iter()
                .map(|(k, _)| k)
                .collect::<Vec<_>>(),
        )),
        _ => Ok(Value::from(items("list", &v)?)),
    }
}

fn dict_filter(v: Value) -> R {
    let mut out = Vec::new();
    for it in items("dict", &v)? {
        let pair = items("dict", &it)?;
        if pair.len() != 2 {
            return Err(ferr("dict", "each item must be a pair"));
        }
        out.push((pair[0].clone(), pair[1].clone()));
    }
    Ok(Value::from_iter(out))
}

/// A math filter on Python's `math` functions: numbers only (a numeric string is a TypeError
/// in Python too); a result Python reports as a domain error is one here.
fn math(
    name: &'static str,
    f: fn(f64, Option<f64>) -> f64,
) -> impl Fn(Value, Rest<Value>) -> R + Send + Sync + 'static {
    move |v: Value, args: Rest<Value>| {
        let number = |x: &Value| match x.kind() {
            ValueKind::Number | ValueKind::Bool => to_f64(x),
            _ => None,
        };
        let not_number = || ferr(name, format!("{name}() can only be used on numbers"));
        let x = number(&v).ok_or_else(not_number)?;
        let y = match args.first() {
            Some(y) => Some(number(y).ok_or_else(not_number)?),
            None => None,
        };
        let r = f(x, y);
        if !r.is_finite() && x.is_finite() && y.is_none_or(f64::is_finite) {
            return Err(ferr(name, "math domain error"));
        }
        Ok(Value::from(r))
    }
}

fn abs_filter(v: Value) -> R {
    if v.is_integer()
        && let Some(i) = v.as_i64()
    {
        return Ok(Value::from(i.abs()));
    }
    Ok(Value::from(
        to_f64(&v)
            .ok_or_else(|| ferr("abs", "expected a number"))?
            .abs(),
    ))
}

/// SplitMix64: a small, good generator; seeded from a hash of `seed` or from /dev/urandom.
struct Rng(u64);

impl Rng {
    fn new(seed: Option<&Value>) -> R<Rng> {
        let s = match seed.filter(|s| !s.is_none()) {
            Some(s) => {
                let d = sha2::Sha256::digest(py_str(s).as_bytes());
                u64::from_le_bytes(d[..8].try_into().unwrap_or_default())
            }
            None => u64::from_le_bytes(urandom(8)?.try_into().unwrap_or_default()),
        };
        Ok(Rng(s))
    }
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }
    /// Uniform in 0..n (n > 0).
    fn below(&mut self, n: u64) -> u64 {
        let zone = u64::MAX - (u64::MAX % n);
        loop {
            let x = self.next();
            if x < zone {
                return x % n;
            }
        }
    }
}

fn seq_items(v: &Value) -> Option<Vec<Value>> {
    match v.kind() {
        ValueKind::Seq | ValueKind::Iterable | ValueKind::Map => {
            v.try_iter().ok().map(|i| i.collect())
        }
        ValueKind::String => Some(
            v.as_str()
                .unwrap_or_default()
                .chars()
                .map(|c| Value::from(c.to_string()))
                .collect(),
        ),
        _ => None,
    }
}

fn random(v: Value, args: Rest<Value>) -> R {
    let a = Args::bind("random", &["start", "step", "seed"], &args)?;
    let mut rng = Rng::new(a.get("seed"))?;
    if let Some(end) = i64::try_from(v.clone())
        .ok()
        .filter(|_| v.as_str().is_none())
    {
        let start = a.int_or("start", 0)?;
        let step = a.int_or("step", 1)?;
        if step <= 0 {
            return Err(ferr("random", "step must be a positive integer"));
        }
        if end <= start {
            return Err(ferr(
                "random",
                format!("empty range: start {start}, end {end}"),
            ));
        }
        let n = ((end - start) as u64).div_ceil(step as u64);
        return Ok(Value::from(start + (rng.below(n) as i64) * step));
    }
    let given = |k: &str| a.get(k).is_some_and(|x| x.is_true());
    match seq_items(&v) {
        Some(_) if given("start") || given("step") => Err(ferr(
            "random",
            "start and step can only be used with integer values",
        )),
        Some(list) if !list.is_empty() => Ok(list[rng.below(list.len() as u64) as usize].clone()),
        Some(_) => Err(ferr("random", "cannot choose from an empty sequence")),
        // Ansible's message.
        None => Err(ferr(
            "random",
            "random can only be used on sequences and integers",
        )),
    }
}

fn shuffle(v: Value, args: Rest<Value>) -> R {
    let a = Args::bind("shuffle", &["seed"], &args)?;
    let mut rng = Rng::new(a.get("seed"))?;
    // Ansible shuffles `list(value)`, and returns a value that is not iterable unchanged.
    let mut list = match (seq_items(&v), v.as_str()) {
        (Some(l), _) => l,
        (None, Some(s)) => s.chars().map(|c| Value::from(c.to_string())).collect(),
        (None, None) => return Ok(v),
    };
    for i in (1..list.len()).rev() {
        let j = rng.below(i as u64 + 1) as usize;
        list.swap(i, j);
    }
    Ok(Value::from(list))
}

fn permutations(v: Value, args: Rest<Value>) -> R {
    let a = Args::bind("permutations", &["r"], &args)?;
    let pool = seq_items(&v).ok_or_else(|| ferr("permutations", "needs a list"))?;
    let r = a.int_or("r", pool.len() as i64)?.max(0) as usize;
    let mut out = Vec::new();
    if r <= pool.len() {
        // Python's itertools.permutations order.
        fn go(
            pool: &[Value],
            r: usize,
            used: &mut Vec<bool>,
            cur: &mut Vec<Value>,
            out: &mut Vec<Value>,
        ) {
            if cur.len() == r {
                out.push(Value::from(cur.clone()));
                return;
            }
            for i in 0..pool.len() {
                if !used[i] {
                    used[i] = true;
                    cur.push(pool[i].clone());
                    go(pool, r, used, cur, out);
                    cur.pop();
                    used[i] = false;
                }
            }
        }
        go(
            &pool,
            r,
            &mut vec![false; pool.len()],
            &mut Vec::new(),
            &mut out,
        );
    }
    Ok(Value::from(out))
}

fn combinations(v: Value, args: Rest<Value>) -> R {
    let a = Args::bind("combinations", &["r"], &args)?;
    let pool = seq_items(&v).ok_or_else(|| ferr("combinations", "needs a list"))?;
    let r = a.req("r")?;
    let r = i64::try_from(r.clone()).map_err(|_| ferr("combinations", "r must be an integer"))?;
    let r = r.max(0) as usize;
    let mut out = Vec::new();
    fn go(pool: &[Value], r: usize, from: usize, cur: &mut Vec<Value>, out: &mut Vec<Value>) {
        if cur.len() == r {
            out.push(Value::from(cur.clone()));
            return;
        }
        for i in from..pool.len() {
            cur.push(pool[i].clone());
            go(pool, r, i + 1, cur, out);
            cur.pop();
        }
    }
    if r <= pool.len() {
        go(&pool, r, 0, &mut Vec::new(), &mut out);
    }
    Ok(Value::from(out))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn uq(v: Value, kw: &[(&str, Value)]) -> R {
        let mut args = Vec::new();
        if !kw.is_empty() {
            let kw = minijinja::value::Kwargs::from_iter(
                kw.iter().map(|(k, x)| (k.to_string(), x.clone())),
            );
            args.push(Value::from(kw));
        }
        unique(v, Rest(args))
    }

    #[test]
    fn unique_like_ansible() {
        let l = |xs: Vec<Value>| Value::from(xs);
        let got = uq(
            l(vec![
                "a".into(),
                "A".into(),
                1.into(),
                true.into(),
                1.5.into(),
            ]),
            &[],
        )
        .unwrap();
        assert_eq!(py_str(&got), "['a', 1, 1.5]");
        let got = uq(
            l(vec!["a".into(), "A".into()]),
            &[("case_sensitive", true.into())],
        );
        assert_eq!(py_str(&got.unwrap()), "['a', 'A']");
        let d = || Value::from_iter([("k", Value::from("X"))]);
        assert_eq!(py_str(&uq(l(vec![d(), d()]), &[]).unwrap()), "[{'k': 'X'}]");
        let by_attr = uq(l(vec![d(), d()]), &[("attribute", "k".into())]).unwrap();
        assert_eq!(by_attr.len(), Some(1));
        assert!(uq(l(vec![d()]), &[("case_sensitive", false.into())]).is_err());
        let e = uq(Value::from(true), &[]).unwrap_err();
        assert!(
            e.to_string().contains("'bool' object is not iterable"),
            "{e}"
        );
    }

    #[test]
    fn math_filters_take_numbers_only() {
        let env = {
            let mut e = minijinja::Environment::new();
            super::super::register(&mut e);
            e
        };
        let ev = |src: &str| env.render_str(src, ()).map_err(|e| e.to_string());
        assert_eq!(ev("{{ 100|log(10) }}").unwrap(), "2.0");
        assert_eq!(ev("{{ 4|root }}").unwrap(), "2.0");
        assert!(
            ev("{{ '4'|root }}")
                .unwrap_err()
                .contains("root() can only be used on numbers")
        );
        assert!(
            ev("{{ 2|pow('2') }}")
                .unwrap_err()
                .contains("pow() can only be used on numbers")
        );
        assert!(ev("{{ 0|log }}").unwrap_err().contains("math domain error"));
    }
}

/// Runs a Jinja filter over a sequence; an undefined input gives an undefined result (Ansible's
/// wrappers of these filters), which `is undefined` and `default` can then use.
/// Notes why `map(attribute=...)` gave an undefined item (Ansible's words), for the error
/// raised if that item leaves the template (see `template::record_nested_undefined`).
fn note_missing_attribute(input: &Value, out: &Value, attr: &Value) {
    let (Ok(ins), Ok(outs)) = (input.try_iter(), out.try_iter()) else {
        return;
    };
    if let Some((item, _)) = ins.zip(outs).find(|(_, o)| o.is_undefined()) {
        crate::template::record_nested_undefined(format!(
            "object of type '{}' has no attribute '{}'",
            type_name(&item),
            py_str(attr)
        ));
    }
}

fn undefined_through(v: Value, f: impl FnOnce(Value) -> Result<Vec<Value>, minijinja::Error>) -> R {
    if v.is_undefined() {
        return Ok(Value::UNDEFINED);
    }
    f(v).map(Value::from)
}

/// One group of `groupby`: Python's `(grouper, list)` named tuple; shown as a tuple by `string`.
#[derive(Debug)]
pub(crate) struct GroupTuple {
    pub(crate) grouper: Value,
    pub(crate) list: Value,
}

impl Object for GroupTuple {
    fn repr(self: &Arc<Self>) -> ObjectRepr {
        ObjectRepr::Seq
    }
    fn get_value(self: &Arc<Self>, key: &Value) -> Option<Value> {
        match (key.as_i64(), key.as_str()) {
            (Some(0 | -2), _) | (_, Some("grouper")) => Some(self.grouper.clone()),
            (Some(1 | -1), _) | (_, Some("list")) => Some(self.list.clone()),
            _ => None,
        }
    }
    fn enumerate(self: &Arc<Self>) -> minijinja::value::Enumerator {
        minijinja::value::Enumerator::Seq(2)
    }
}

/// Jinja's `groupby(attribute, default=None, case_sensitive=False)`, with plain lists in its
/// `(grouper, list)` groups.
fn groupby(v: Value, attribute: Option<String>, kwargs: Kwargs) -> R {
    let groups = minijinja::filters::groupby(v, attribute.as_deref(), kwargs)?;
    let mut out = Vec::new();
    for g in groups.try_iter()? {
        let list: Vec<Value> = g.get_item_by_index(1)?.try_iter()?.collect();
        out.push(Value::from_object(GroupTuple {
            grouper: g.get_item_by_index(0)?,
            list: Value::from(list),
        }));
    }
    Ok(Value::from(out))
}
