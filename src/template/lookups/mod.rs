//! Ansible's lookup plugins: `lookup(name, terms..., **kw)`, `query(...)`/`q(...)`.
//!
//! Supported: `env`, `file`, `template`, `first_found`, `fileglob`, `pipe`, `lines`, `vars`,
//! `items`, `list`, `dict`, `indexed_items`, `sequence`, `together`, `nested`, `subelements`,
//! `password`, `csvfile`, `ini`, `unvault` (in `data_files`), `config`, `varnames`,
//! `inventory_hostnames` and `random_choice` (in `names`).
//! Relative paths are searched like Ansible does, in the task's search path
//! (`ansible_search_path`: its roles' folders, its file's folder, the playbook's folder), each
//! folder under the lookup's sub-folder (`files/`, `templates/`) and then itself.
//! Output read from files and commands is marked unsafe (never templated again), like Ansible.

mod config;
pub(crate) use config::dump_settings;
mod data_files;
mod names;

/// Python `configparser`'s reading of INI text (local facts read `*.fact` files with it).
pub(crate) use data_files::Ini;

use super::filters::{py_str, split_kwargs};
use super::{Context, mark_unsafe};
use crate::error::{Error, Result};
use crate::value::Value;
use minijinja::value::{Rest, ValueKind};
use minijinja::{Environment, State};
use std::collections::HashMap;
use std::path::{Path, PathBuf};

/// The names of the supported lookups.
pub const LOOKUPS: &[&str] = &[
    "env",
    "file",
    "template",
    "first_found",
    "fileglob",
    "pipe",
    "lines",
    "vars",
    "items",
    "list",
    "dict",
    "indexed_items",
    "sequence",
    "together",
    "nested",
    "subelements",
    "password",
    "csvfile",
    "ini",
    "unvault",
    "config",
    "varnames",
    "inventory_hostnames",
    "random_choice",
];

fn var_str(ctx: &Context, name: &str) -> Option<String> {
    ctx.get(name)
        .ok()
        .flatten()
        .filter(|v| !v.is_none())
        .map(|v| py_str(&v))
}

/// The task's search path (`ansible_search_path`, set by the engine; else the role's and the
/// playbook's folders), the playbook's folder, and whether the task is in a role.
fn search_path(ctx: &Context) -> (Vec<PathBuf>, Option<PathBuf>, bool) {
    let basedir = var_str(ctx, "playbook_dir").map(PathBuf::from);
    let role = var_str(ctx, "role_path").map(PathBuf::from);
    let listed: Vec<PathBuf> = ctx
        .get("ansible_search_path")
        .ok()
        .flatten()
        .and_then(|v| {
            v.try_iter()
                .ok()
                .map(|i| i.map(|p| PathBuf::from(py_str(&p))).collect())
        })
        .unwrap_or_default();
    let paths = if listed.is_empty() {
        role.iter().chain(basedir.iter()).cloned().collect()
    } else {
        listed
    };
    let basedir = basedir.or_else(|| Some(PathBuf::from(".")));
    (paths, basedir, role.is_some())
}

/// Finds `name` (of `kind`: `files`, `templates`; `None` for none) in the task's search path,
/// as Ansible's lookups do; on failure, every place tried.
pub fn find_file(ctx: &Context, kind: Option<&str>, name: &str) -> Result<PathBuf, Vec<PathBuf>> {
    let (paths, basedir, in_role) = search_path(ctx);
    crate::util::search_path::SearchPath {
        paths: &paths,
        basedir: basedir.as_deref(),
        in_role,
    }
    .find(kind, name)
}

/// A file lookup's error: what was asked for, and where it was looked for.
fn not_found(name: &str, tried: &[PathBuf]) -> Error {
    let tried: Vec<String> = tried.iter().map(|d| d.display().to_string()).collect();
    Error::template(format!(
        "Unable to access the file '{name}': file not found"
    ))
    .hint(format!("searched: {}", tried.join(", ")))
}

fn terms_flat(terms: &[Value]) -> Vec<Value> {
    let mut out = Vec::new();
    for t in terms {
        if t.kind() == ValueKind::Seq {
            out.extend(t.try_iter().into_iter().flatten());
        } else {
            out.push(t.clone());
        }
    }
    out
}

/// A row of `together`: list members spread one level, as Ansible's lookups flatten.
fn flatten_once(row: impl Iterator<Item = Value>) -> Value {
    let mut out = Vec::new();
    for x in row {
        if x.kind() == ValueKind::Seq {
            out.extend(list_of(&x));
        } else {
            out.push(x);
        }
    }
    Value::from(out)
}

fn list_of(v: &Value) -> Vec<Value> {
    match v.kind() {
        ValueKind::Seq => v.try_iter().map(|i| i.collect()).unwrap_or_default(),
        _ => vec![v.clone()],
    }
}

fn run_sh(cmd: &str, ctx: &Context) -> Result<String> {
    let mut c = std::process::Command::new("sh");
    c.arg("-c").arg(cmd);
    if let Some(dir) = var_str(ctx, "playbook_dir")
        && Path::new(&dir).is_dir()
    {
        c.current_dir(dir);
    }
    let out = c
        .output()
        .map_err(|e| Error::template(format!("could not run the command: {e}")))?;
    if !out.status.success() {
        return Err(Error::template(format!(
            "the command `{cmd}` failed with exit code {}: {}",
            out.status.code().unwrap_or(-1),
            String::from_utf8_lossy(&out.stderr).trim()
        )));
    }
    Ok(String::from_utf8_lossy(&out.stdout).into_owned())
}

/// The characters of Ansible's `chars` names (Python's `string` constants), or the text itself.
fn char_class(name: &str) -> String {
    const LOWER: &str = "abcdefghijklmnopqrstuvwxyz";
    const UPPER: &str = "ABCDEFGHIJKLMNOPQRSTUVWXYZ";
    match name {
        "ascii_letters" => format!("{LOWER}{UPPER}"),
        "ascii_lowercase" => LOWER.into(),
        "ascii_uppercase" => UPPER.into(),
        "digits" => "0123456789".into(),
        "hexdigits" => "0123456789abcdefABCDEF".into(),
        "octdigits" => "01234567".into(),
        "punctuation" => "!\"#$%&'()*+,-./:;<=>?@[\\]^_`{|}~".into(),
        other => other.into(),
    }
}

/// Ansible's `password` lookup: the first line of the file at the term's path, or a new random
/// password written there first (mode 0600, created atomically and only once even when many
/// hosts ask at the same time). `length=` (20) and `chars=` (comma-separated classes or text;
/// `,,` is a comma) come from the term (`path length=24 chars=ascii_letters,digits`) or keywords.
/// `/dev/null` gives a fresh password each time and stores nothing. Relative paths are
/// relative to the playbook's folder.
fn password(term: &str, kw: &HashMap<String, Value>, ctx: &Context) -> Result<Value> {
    let mut words = term.split_whitespace();
    let path = words.next().unwrap_or_default().to_string();
    if path.is_empty() {
        return Err(
            Error::template("lookup('password'): a path is required").hint(
                "e.g. lookup('password', 'credentials/db length=24 chars=ascii_letters,digits')",
            ),
        );
    }
    let mut opts: HashMap<String, String> =
        kw.iter().map(|(k, v)| (k.clone(), py_str(v))).collect();
    for w in words {
        let (k, v) = w.split_once('=').ok_or_else(|| {
            Error::template(format!("lookup('password'): '{w}' is not key=value"))
                .hint("options are length=N, chars=CLASS[,CLASS...], seed=...")
        })?;
        opts.insert(k.to_string(), v.to_string());
    }
    let length: usize = match opts.get("length") {
        Some(l) => l
            .parse()
            .ok()
            .filter(|n| *n > 0 && *n <= 4096)
            .ok_or_else(|| {
                Error::template(format!(
                    "lookup('password'): length={l} is not a number in 1..4096"
                ))
            })?,
        None => 20,
    };
    let chars: Vec<char> = match opts.get("chars") {
        Some(spec) => {
            let mut set = String::new();
            for part in spec.replace(",,", "\u{0}").split(',') {
                set.push_str(&char_class(&part.replace('\u{0}', ",")));
            }
            let mut seen = std::collections::HashSet::new();
            set.chars().filter(|c| seen.insert(*c)).collect()
        }
        None => format!(
            "{}{}.,:-_",
            char_class("ascii_letters"),
            char_class("digits")
        )
        .chars()
        .collect(),
    };
    if chars.is_empty() {
        return Err(Error::template(
            "lookup('password'): chars= gives no characters",
        ));
    }
    let generate = || -> Result<String> {
        // Rejection sampling on 16-bit draws keeps every character equally likely.
        let n = chars.len().min(65_536);
        let limit = 65_536 - (65_536 % n);
        let mut out = String::with_capacity(length);
        let mut count = 0;
        let mut block = 0u64;
        while count < length {
            // With `seed=`, the same seed gives the same password (Ansible's rule; the
            // characters differ from Python's generator): SHA-256 of the seed and a counter.
            let bytes = match opts.get("seed") {
                Some(seed) => {
                    use sha2::Digest as _;
                    block += 1;
                    let mut h = sha2::Sha256::new();
                    h.update(seed.as_bytes());
                    h.update(block.to_le_bytes());
                    h.finalize().to_vec()
                }
                None => crate::util::random_bytes(128)
                    .map_err(|e| Error::io(Path::new("/dev/urandom"), e))?,
            };
            for pair in bytes.chunks_exact(2) {
                let x = usize::from(u16::from_le_bytes([pair[0], pair[1]]));
                if x < limit && count < length {
                    out.push(chars[x % n]);
                    count += 1;
                }
            }
        }
        Ok(out)
    };
    if path == "/dev/null" {
        return Ok(mark_unsafe(&Value::from(generate()?)));
    }
    let mut p = PathBuf::from(&path);
    if p.is_relative()
        && let Some(dir) = var_str(ctx, "playbook_dir")
    {
        p = Path::new(&dir).join(p);
    }
    let read = |p: &Path| -> Result<(String, Option<String>)> {
        let s = std::fs::read_to_string(p).map_err(|e| Error::io(p, e))?;
        // Ansible may store " salt=..." after the password.
        let line = s.lines().next().unwrap_or_default();
        Ok(match line.split_once(" salt=") {
            Some((pw, salt)) => (pw.to_string(), Some(salt.to_string())),
            None => (line.to_string(), None),
        })
    };
    // `encrypt=sha256_crypt|sha512_crypt`: the file keeps the password and a salt, the lookup
    // gives the hash (Ansible's behaviour); an empty `encrypt=` is none.
    let encrypt = match opts.get("encrypt").map(String::as_str) {
        None | Some("") => None,
        Some("sha512_crypt") => Some(true),
        Some("sha256_crypt") => Some(false),
        Some(other) => {
            return Err(Error::template(format!(
                "lookup('password'): encrypt={other} is not supported (sha256_crypt, sha512_crypt)"
            )));
        }
    };
    let new_salt = || -> Result<String> {
        const SALT: &[u8] = b"./0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz";
        Ok(crate::util::random_bytes(8)
            .map_err(|e| Error::io(Path::new("/dev/urandom"), e))?
            .into_iter()
            .map(|b| char::from(SALT[usize::from(b) % SALT.len()]))
            .collect())
    };
    if !p.exists() {
        use std::io::Write as _;
        use std::os::unix::fs::OpenOptionsExt as _;
        let dir = p.parent().unwrap_or(Path::new("."));
        make_private_dir(dir)?;
        let tmp = dir.join(format!(
            ".{}.prov-tmp.{}.{:?}",
            p.file_name().unwrap_or_default().to_string_lossy(),
            std::process::id(),
            std::thread::current().id()
        ));
        let res = (|| {
            let mut f = std::fs::OpenOptions::new()
                .write(true)
                .create_new(true)
                .mode(0o600)
                .open(&tmp)
                .map_err(|e| Error::io(&tmp, e))?;
            let line = match encrypt {
                Some(_) => format!("{} salt={}", generate()?, new_salt()?),
                None => generate()?,
            };
            writeln!(f, "{line}").map_err(|e| Error::io(&tmp, e))?;
            f.sync_all().map_err(|e| Error::io(&tmp, e))?;
            // A hard link never replaces a file: the first writer wins, the others read it.
            match std::fs::hard_link(&tmp, &p) {
                Ok(()) => Ok(()),
                Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => Ok(()),
                Err(e) => Err(Error::io(&p, e)),
            }
        })();
        let _ = std::fs::remove_file(&tmp);
        res?;
    }
    let (pw, salt) = read(&p)?;
    let Some(sha512) = encrypt else {
        return Ok(mark_unsafe(&Value::from(pw)));
    };
    let salt = match salt {
        Some(s) => s,
        None => {
            // A password stored without a salt gets one, as Ansible adds it.
            let s = new_salt()?;
            std::fs::write(&p, format!("{pw} salt={s}\n")).map_err(|e| Error::io(&p, e))?;
            s
        }
    };
    let hash = crate::template::filters::hashing::sha_crypt(&pw, &salt, None, sha512);
    Ok(mark_unsafe(&Value::from(hash)))
}

#[cfg(test)]
fn sequence(term: &str) -> Result<Vec<Value>> {
    sequence_with(term, &HashMap::new())
}

/// The `sequence` lookup for one term, with keyword options as the defaults its own
/// `key=value` pairs (or shortcut form) override.
fn sequence_with(term: &str, kw: &HashMap<String, Value>) -> Result<Vec<Value>> {
    let bad = |m: &str| Error::template(format!("bad sequence '{term}': {m}"));
    let mut start: i64 = 1;
    let mut end: Option<i64> = None;
    let mut count: Option<i64> = None;
    let mut stride: i64 = 1;
    let mut format = "%d".to_string();
    // Ansible's message for an option that is not an integer.
    let num = |key: &str, s: &str| -> Result<i64> {
        let t = s.trim();
        let (neg, t) = match t.strip_prefix('-') {
            Some(r) => (true, r),
            None => (false, t),
        };
        let r = if let Some(h) = t.strip_prefix("0x").or_else(|| t.strip_prefix("0X")) {
            i64::from_str_radix(h, 16)
        } else if let Some(o) = t.strip_prefix("0o") {
            i64::from_str_radix(o, 8)
        } else {
            t.parse()
        };
        r.map(|n| if neg { -n } else { n }).map_err(|_| {
            Error::template(format!(
                "'{key}' of the sequence lookup has an invalid value: '{s}' is not an integer"
            ))
        })
    };
    for (k, v) in kw {
        let v = py_str(v);
        match k.as_str() {
            "start" => start = num(k, &v)?,
            "end" => end = Some(num(k, &v)?),
            "count" => count = Some(num(k, &v)?),
            "stride" => stride = num(k, &v)?,
            "format" => format = v,
            _ => {}
        }
    }
    if term.contains('=') {
        let mut unknown = Vec::new();
        for part in term.split_whitespace() {
            let (k, v) = part
                .split_once('=')
                .ok_or_else(|| bad("expected key=value"))?;
            match k {
                "start" => start = num(k, v)?,
                "end" => end = Some(num(k, v)?),
                "count" => count = Some(num(k, v)?),
                "stride" => stride = num(k, v)?,
                "format" => format = v.to_string(),
                other => unknown.push(format!("'{other}'")),
            }
        }
        if !unknown.is_empty() {
            return Err(Error::template(format!(
                "unrecognized arguments to with_sequence: [{}]",
                unknown.join(", ")
            )));
        }
    } else {
        let (rest, fmt) = match term.split_once(':') {
            Some((r, f)) => (r, Some(f)),
            None => (term, None),
        };
        let (rest, st) = match rest.split_once('/') {
            Some((r, s)) => (r, Some(num("stride", s)?)),
            None => (rest, None),
        };
        match rest.split_once('-') {
            Some((a, b)) if !a.is_empty() => {
                start = num("start", a)?;
                end = Some(num("end", b)?);
            }
            _ if rest.is_empty() => {}
            _ => end = Some(num("end", rest)?),
        }
        if let Some(s) = st {
            stride = s;
        }
        if let Some(f) = fmt {
            format = f.to_string();
        }
    }
    let end = match (end, count) {
        (Some(_), Some(_)) => {
            return Err(Error::template(
                "can't specify both count and end in with_sequence",
            ));
        }
        (Some(e), None) => e,
        (None, Some(0)) => return Ok(vec![]),
        (None, Some(c)) => start + c * stride - 1,
        (None, None) => {
            return Err(Error::template(
                "must specify count or end in with_sequence",
            ));
        }
    };
    if stride > 0 && end < start {
        return Err(Error::template("to count backwards make stride negative"));
    }
    if stride < 0 && end > start {
        return Err(Error::template(
            "to count forward don't make stride negative",
        ));
    }
    if stride == 0 {
        return Ok(vec![]);
    }
    if format.matches('%').count() != 1 {
        return Err(Error::template(format!("bad formatting string: {format}")));
    }
    // Python's range(start, end + 1, stride) (end - 1 when counting down).
    let stop = if stride > 0 { end + 1 } else { end - 1 };
    let mut out = Vec::new();
    let mut i = start;
    while (stride > 0 && i < stop) || (stride < 0 && i > stop) {
        out.push(Value::from(printf_int(&format, i)));
        i += stride;
        if out.len() > 1_000_000 {
            return Err(bad("too many items"));
        }
    }
    Ok(out)
}

/// Formats one integer with a printf-style `%d`/`%02d`/`%x`/`%o` format.
fn printf_int(fmt: &str, n: i64) -> String {
    let Some(p) = fmt.find('%') else {
        return fmt.to_string();
    };
    let rest = &fmt[p + 1..];
    let spec_len = rest
        .find(|c: char| c.is_ascii_alphabetic())
        .map(|i| i + 1)
        .unwrap_or(rest.len());
    let spec = &rest[..spec_len];
    let (flags, conv) = spec.split_at(spec.len().saturating_sub(1));
    let zero = flags.starts_with('0');
    let width: usize = flags.trim_start_matches('0').parse().unwrap_or(0);
    let body = match conv {
        "x" => format!("{n:x}"),
        "X" => format!("{n:X}"),
        "o" => format!("{n:o}"),
        _ => n.to_string(),
    };
    let padded = if zero {
        format!("{body:0>width$}")
    } else {
        format!("{body:>width$}")
    };
    format!("{}{}{}", &fmt[..p], padded, &rest[spec_len..])
}

/// `first_found`'s `files` or `paths` option: a list (of strings or lists), or a string split
/// on `seps` (Ansible still splits, with a deprecation).
fn split_option(v: &Value, seps: &[char]) -> Vec<String> {
    if v.is_undefined() || v.is_none() {
        return vec![];
    }
    match v.as_str() {
        Some(s) => s.split(seps).map(str::to_string).collect(),
        None => v
            .try_iter()
            .into_iter()
            .flatten()
            .flat_map(|x| split_option(&x, seps))
            .collect(),
    }
}

/// Ansible's `first_found`: the names to try, in order (each term's `files`, under each of
/// its `paths` when it has some), found in the task's search path (under `subdir` when run as
/// `with_first_found`, else in each folder itself); the first that exists, as an absolute
/// path, else nothing with `skip`, else an error.
fn first_found(
    terms: &[Value],
    kw: &HashMap<String, Value>,
    subdir: Option<&str>,
    ctx: &Context,
) -> Result<Vec<Value>> {
    let opt = |k: &str| kw.get(k).cloned().unwrap_or(Value::UNDEFINED);
    let mut skip = lookup_bool(&opt("skip"));
    let mut names: Vec<String> = Vec::new();
    fn add(t: &Value, kw_paths: &Value, names: &mut Vec<String>, skip: &mut bool) -> Result<()> {
        let (files, paths) = match t.kind() {
            ValueKind::Map => {
                let get = |k: &str| t.get_attr(k).unwrap_or(Value::UNDEFINED);
                if let Ok(s) = t.get_attr("skip")
                    && !s.is_undefined()
                {
                    *skip = lookup_bool(&s);
                }
                let p = get("paths");
                let paths = if p.is_undefined() {
                    kw_paths.clone()
                } else {
                    p
                };
                (split_option(&get("files"), &[',', ';']), paths)
            }
            ValueKind::Seq | ValueKind::Iterable => {
                for x in t.try_iter().into_iter().flatten() {
                    add(&x, kw_paths, names, skip)?;
                }
                return Ok(());
            }
            ValueKind::String => (vec![py_str(t)], kw_paths.clone()),
            // as Ansible's: an undefined entry is skipped (its markers are not files)
            _ if t.is_undefined() => return Ok(()),
            _ => {
                // ansible-core's words, its stray parenthesis included (playbooks match them).
                return Err(Error::template(format!(
                    "Invalid term supplied. A string, dict or list is required, not '{}').",
                    crate::util::python::type_name(t)
                )));
            }
        };
        let paths = split_option(&paths, &[',', ':', ';']);
        if paths.is_empty() {
            names.extend(files);
        } else {
            for p in &paths {
                for f in &files {
                    names.push(Path::new(p).join(f).to_string_lossy().into_owned());
                }
            }
        }
        Ok(())
    }
    let kw_paths = opt("paths");
    if terms.is_empty() {
        add(&opt("files"), &kw_paths, &mut names, &mut skip)?;
    } else {
        for t in terms {
            add(t, &kw_paths, &mut names, &mut skip)?;
        }
    }
    for n in names.iter().filter(|n| !n.is_empty()) {
        if let Ok(p) = find_file(ctx, subdir, n) {
            return Ok(vec![Value::from(
                normalize(&p).to_string_lossy().into_owned(),
            )]);
        }
    }
    if skip {
        return Ok(vec![]);
    }
    Err(Error::template("No file was found when using first_found.")
        .hint(format!("tried: {}", names.join(", "))))
}

/// `p` made absolute (against the current folder) with `.` and `..` resolved by name, not by
/// following symbolic links (Ansible's `unfrackpath(follow=False)`).
fn normalize(p: &Path) -> PathBuf {
    let abs = if p.is_absolute() {
        p.to_path_buf()
    } else {
        std::env::current_dir().unwrap_or_default().join(p)
    };
    let mut out = PathBuf::new();
    for c in abs.components() {
        match c {
            std::path::Component::ParentDir => {
                out.pop();
            }
            std::path::Component::CurDir => {}
            other => out.push(other.as_os_str()),
        }
    }
    out
}

/// Runs lookup `name` for a `with_<name>` loop of a task running `action`: like [`run`], but
/// `with_first_found` looks under the folder the action implies (`templates` for a template
/// action, `vars` for include_vars, else `files`), as Ansible does.
pub fn run_for_loop(
    name: &str,
    terms: &[Value],
    action: &str,
    ctx: &Context,
) -> Result<Vec<Value>> {
    if name != "first_found" {
        return run(name, terms, &HashMap::new(), ctx);
    }
    let subdir = ["template", "var", "file"]
        .into_iter()
        .find(|k| action.contains(k))
        .unwrap_or("file");
    // Undefined names are left out in a loop (Ansible's compatibility rule).
    let terms: Vec<Value> = terms
        .iter()
        .filter(|t| !t.is_undefined())
        .cloned()
        .collect();
    first_found(&terms, &HashMap::new(), Some(&format!("{subdir}s")), ctx)
}

/// A lookup option as Ansible reads it: `boolean(value, strict=False)`.
fn lookup_bool(v: &Value) -> bool {
    crate::value::boolean(v).unwrap_or(false)
}

/// Runs lookup `name` with `terms` and keyword options; the list of results.
pub fn run(
    name: &str,
    terms: &[Value],
    kw: &HashMap<String, Value>,
    ctx: &Context,
) -> Result<Vec<Value>> {
    // Lookup options are Ansible booleans (anything else is false, as `boolean(strict=False)`).
    let kw_bool = |k: &str, d: bool| kw.get(k).map(lookup_bool).unwrap_or(d);
    // `ansible.builtin.file` is prov's `file`.
    let name = name
        .strip_prefix("ansible.builtin.")
        .or_else(|| name.strip_prefix("ansible.legacy."))
        .unwrap_or(name);
    match name {
        "env" => Ok(terms_flat(terms)
            .iter()
            .map(|t| {
                let v = std::env::var(py_str(t)).ok();
                match (v, kw.get("default")) {
                    (Some(v), _) => mark_unsafe(&Value::from(v)),
                    (None, Some(d)) => d.clone(),
                    (None, None) => Value::from(""),
                }
            })
            .collect()),
        "file" => {
            let mut out = Vec::new();
            for t in terms_flat(terms) {
                let n = py_str(&t);
                let p = find_file(ctx, Some("files"), &n).map_err(|t| not_found(&n, &t))?;
                let mut s = std::fs::read_to_string(&p).map_err(|e| Error::io(&p, e))?;
                // vault-encrypted files are read decrypted, as Ansible's loader reads them
                if s.trim_start().starts_with("$ANSIBLE_VAULT;") {
                    s = ctx
                        .templar()
                        .decrypt_vault_text(&s, &p.display().to_string())?;
                }
                if kw_bool("rstrip", true) {
                    s.truncate(s.trim_end().len());
                }
                if kw_bool("lstrip", false) {
                    s = s.trim_start().to_string();
                }
                out.push(mark_unsafe(&Value::from(s)));
            }
            Ok(out)
        }
        "template" => {
            let mut out = Vec::new();
            let opt = |k: &str, d: &str| {
                kw.get(k)
                    .filter(|v| !v.is_none())
                    .map_or(d.to_string(), py_str)
            };
            let delimiters = [
                opt("block_start_string", "{%"),
                opt("block_end_string", "%}"),
                opt("variable_start_string", "{{"),
                opt("variable_end_string", "}}"),
                opt("comment_start_string", "{#"),
                opt("comment_end_string", "#}"),
            ];
            let trim_blocks = kw_bool("trim_blocks", true);
            let lstrip_blocks = kw_bool("lstrip_blocks", false);
            let default_syntax = delimiters
                .iter()
                .zip(["{%", "%}", "{{", "}}", "{#", "#}"])
                .all(|(a, b)| a == b);
            for t in terms_flat(terms) {
                let n = py_str(&t);
                let p = find_file(ctx, Some("templates"), &n).map_err(|t| not_found(&n, &t))?;
                let c = template_lookup_context(ctx, &p, kw.get("template_vars"));
                let (s, native) = crate::template::native_output(|| {
                    if default_syntax && trim_blocks && !lstrip_blocks {
                        ctx.templar().render_file(&p, &c)
                    } else {
                        let text = std::fs::read_to_string(&p).map_err(|e| Error::io(&p, e))?;
                        let d = delimiters.each_ref().map(String::as_str);
                        ctx.templar().render_text_with_syntax(
                            &text,
                            &p,
                            &c,
                            d,
                            trim_blocks,
                            lstrip_blocks,
                        )
                    }
                })?;
                // As ansible-core: a template whose output is one value printed whole (a
                // dict, a list, a number) returns that value.
                if let Some(v) = native {
                    out.push(v);
                    continue;
                }
                // A template with no output at all (only comments or blocks) is None.
                let nothing = s.trim_end_matches('\n').is_empty()
                    && std::fs::read_to_string(&p).is_ok_and(|t| {
                        let t = t.trim();
                        !t.contains(&delimiters[2])
                            && (t.starts_with(&delimiters[0]) || t.starts_with(&delimiters[4]))
                            && (t.ends_with(&delimiters[1]) || t.ends_with(&delimiters[5]))
                    });
                out.push(if nothing {
                    Value::from(())
                } else {
                    mark_unsafe(&Value::from(s))
                });
            }
            Ok(out)
        }
        "first_found" => first_found(terms, kw, None, ctx),
        "fileglob" => {
            let mut out = Vec::new();
            let (paths, _, _) = search_path(ctx);
            for t in terms_flat(terms) {
                let pat = py_str(&t);
                let p = Path::new(&pat);
                let file = p.file_name().map(|f| f.to_string_lossy().into_owned());
                let file = file.unwrap_or_default();
                // A pattern with a folder: that folder, found like a file lookup's; a bare
                // pattern: each folder of the search path, under `files/` and then itself.
                let dirs: Vec<PathBuf> = match p.parent().filter(|d| !d.as_os_str().is_empty()) {
                    Some(d) => find_file(ctx, Some("files"), &d.to_string_lossy())
                        .into_iter()
                        .collect(),
                    None => paths
                        .iter()
                        .flat_map(|d| [d.join("files"), d.clone()])
                        .collect(),
                };
                for d in dirs {
                    let full = d.join(&file);
                    let mut found: Vec<String> = glob::glob(&full.to_string_lossy())
                        .map_err(|e| Error::template(format!("bad glob pattern '{pat}': {e}")))?
                        .flatten()
                        .filter(|p| p.is_file())
                        .map(|p| p.to_string_lossy().into_owned())
                        .collect();
                    if !found.is_empty() {
                        found.sort();
                        out.extend(found.into_iter().map(Value::from));
                        break;
                    }
                }
            }
            Ok(out)
        }
        "password" => {
            let mut out = Vec::new();
            for t in terms_flat(terms) {
                out.push(password(&py_str(&t), kw, ctx)?);
            }
            Ok(out)
        }
        "pipe" => {
            let mut out = Vec::new();
            for t in terms_flat(terms) {
                let s = run_sh(&py_str(&t), ctx)?;
                out.push(mark_unsafe(&Value::from(
                    s.trim_end_matches('\n').to_string(),
                )));
            }
            Ok(out)
        }
        "lines" => {
            let mut out = Vec::new();
            for t in terms_flat(terms) {
                let s = run_sh(&py_str(&t), ctx)?;
                out.extend(s.lines().map(|l| mark_unsafe(&Value::from(l))));
            }
            Ok(out)
        }
        "vars" => {
            let mut out = Vec::new();
            for t in terms_flat(terms) {
                let Some(n) = t.as_str() else {
                    return Err(Error::template(format!(
                        "Variable name must be 'str' not '{}'.",
                        crate::util::python::type_name(&t)
                    )));
                };
                match ctx.get(n)? {
                    Some(v) => out.push(v),
                    None => match kw.get("default").filter(|d| !d.is_none()) {
                        Some(d) => out.push(d.clone()),
                        None => {
                            return Err(Error::template(format!(
                                "No variable named '{n}' was found."
                            )));
                        }
                    },
                }
            }
            Ok(out)
        }
        "items" => Ok(terms_flat(terms)),
        "list" => Ok(if terms.len() == 1 && terms[0].kind() == ValueKind::Seq {
            list_of(&terms[0])
        } else {
            terms.to_vec()
        }),
        "indexed_items" => Ok(terms_flat(terms)
            .into_iter()
            .enumerate()
            .map(|(i, x)| Value::from(vec![Value::from(i), x]))
            .collect()),
        "dict" => {
            let mut out = Vec::new();
            for t in terms {
                if t.kind() != ValueKind::Map {
                    return Err(Error::template(format!(
                        "the 'dict' lookup plugin expects a dictionary, got '{t}' of type {}",
                        crate::util::python::type_name(t)
                    )));
                }
                for k in t.try_iter().into_iter().flatten() {
                    let v = t.get_item(&k).unwrap_or_default();
                    out.push(Value::from_iter([("key", k), ("value", v)]));
                }
            }
            Ok(out)
        }
        "sequence" => {
            let mut out = Vec::new();
            let mut terms = terms_flat(terms);
            // Keyword options alone still make one sequence; they apply to every term.
            if terms.is_empty() && !kw.is_empty() {
                terms.push(Value::from(""));
            }
            for t in terms {
                out.extend(sequence_with(&py_str(&t), kw)?);
            }
            Ok(out)
        }
        "together" => {
            if terms.is_empty() {
                return Err(Error::template(
                    "with_together requires at least one element in each list",
                ));
            }
            let lists: Vec<Vec<Value>> = terms.iter().map(list_of).collect();
            let n = lists.iter().map(Vec::len).max().unwrap_or(0);
            Ok((0..n)
                .map(|i| {
                    flatten_once(
                        lists
                            .iter()
                            .map(|l| l.get(i).cloned().unwrap_or(Value::from(()))),
                    )
                })
                .collect())
        }
        "nested" => {
            if terms.is_empty() {
                return Err(Error::template(
                    "with_nested requires at least one element in the nested list",
                ));
            }
            let lists: Vec<Vec<Value>> = if terms.len() == 1 {
                list_of(&terms[0]).iter().map(list_of).collect()
            } else {
                terms.iter().map(list_of).collect()
            };
            let mut acc: Vec<Vec<Value>> = vec![vec![]];
            for l in lists {
                acc = acc
                    .iter()
                    .flat_map(|p| {
                        l.iter().map(move |x| {
                            let mut q = p.clone();
                            q.push(x.clone());
                            q
                        })
                    })
                    .collect();
            }
            Ok(acc.into_iter().map(Value::from).collect())
        }
        "subelements" => subelements(terms, kw_bool("skip_missing", false)),
        "csvfile" => data_files::csvfile(&terms_flat(terms), kw, ctx),
        "ini" => data_files::ini(&terms_flat(terms), kw, ctx),
        "unvault" => data_files::unvault(terms, ctx),
        "config" => config::config(&terms_flat(terms), kw, ctx),
        "varnames" => names::varnames(&terms_flat(terms), ctx),
        "inventory_hostnames" => names::inventory_hostnames(terms, ctx),
        "random_choice" => names::random_choice(&terms_flat(terms)),
        other if crate::plugins::jinja::python_lookup(other) => {
            crate::plugins::jinja::lookup(other, terms, kw, ctx)
        }
        other => {
            let mut e = Error::template(format!("The lookup plugin '{other}' was not found."));
            if let Some(s) = crate::error::did_you_mean(other, LOOKUPS.iter().copied()) {
                e = e.hint(format!("did you mean '{s}'?"));
            } else {
                e = e.hint(format!("supported lookups: {}", LOOKUPS.join(", ")));
            }
            Err(e)
        }
    }
}

/// Creates the folder of a password file as Ansible does: a missing folder gets mode 0700
/// (its missing parents the default mode).
fn make_private_dir(dir: &Path) -> Result<()> {
    use std::os::unix::fs::DirBuilderExt as _;
    if dir.as_os_str().is_empty() || dir.is_dir() {
        return Ok(());
    }
    if let Some(parent) = dir.parent().filter(|p| !p.as_os_str().is_empty()) {
        std::fs::create_dir_all(parent).map_err(|e| Error::io(parent, e))?;
    }
    match std::fs::DirBuilder::new().mode(0o700).create(dir) {
        Err(e) if e.kind() != std::io::ErrorKind::AlreadyExists => Err(Error::io(dir, e)),
        _ => Ok(()),
    }
}

/// Ansible's `subelements` lookup: `[list or dict, "key.path", {skip_missing: bool}]` gives
/// `[element, subitem]` pairs for each item of the list at the path in each element (an
/// element's copy without that list, as Ansible's lookup pops it). Elements, or a dict of them,
/// marked `skipped` (a skipped registered result) are left out.
fn subelements(terms: &[Value], skip_kw: bool) -> Result<Vec<Value>> {
    let terms_error = |m: &str| {
        Error::template(format!(
            "subelements lookup expects a list of two or three items, {m}"
        ))
    };
    let terms: Vec<Value> = match terms {
        [one] if one.kind() == ValueKind::Seq => list_of(one),
        _ => terms.to_vec(),
    };
    if !(2..=3).contains(&terms.len()) {
        return Err(terms_error(""));
    }
    let (list, key) = (&terms[0], &terms[1]);
    if !matches!(list.kind(), ValueKind::Seq | ValueKind::Map) || key.as_str().is_none() {
        return Err(terms_error(
            "first a dict or a list, second a string pointing to the subkey",
        ));
    }
    let skipped = |v: &Value| {
        v.get_attr("skipped")
            .is_ok_and(|s| !s.is_undefined() && (s.kind() != ValueKind::Bool || s.is_true()))
    };
    let elements: Vec<Value> = if list.kind() == ValueKind::Map {
        if skipped(list) {
            return Ok(vec![]);
        }
        list.try_iter()
            .map(|it| it.map(|k| list.get_item(&k).unwrap_or_default()).collect())
            .unwrap_or_default()
    } else {
        list_of(list)
    };
    let mut skip_missing = skip_kw;
    if let Some(flags) = terms.get(2) {
        if flags.kind() != ValueKind::Map {
            return Err(terms_error(
                "the optional third item must be a dict with flags ('skip_missing',)",
            ));
        }
        skip_missing |= lookup_bool(&flags.get_attr("skip_missing").unwrap_or_default());
    }
    let path: Vec<&str> = key.as_str().unwrap_or_default().split('.').collect();
    let mut out = Vec::new();
    for e in elements {
        if e.kind() != ValueKind::Map {
            return Err(Error::template(format!(
                "subelements lookup expects a dictionary, got '{}'",
                py_str(&e)
            )));
        }
        if skipped(&e) {
            continue;
        }
        let mut cur = e.clone();
        let mut walked: Vec<&str> = Vec::new();
        let mut sublist = None;
        for (i, seg) in path.iter().enumerate() {
            let next = cur.get_attr(seg).unwrap_or_default();
            if next.is_undefined() || cur.kind() != ValueKind::Map {
                if skip_missing {
                    continue;
                }
                return Err(Error::template(format!(
                    "could not find '{seg}' key in iterated item '{}'",
                    py_str(&cur)
                )));
            }
            if i + 1 < path.len() {
                if next.kind() != ValueKind::Map {
                    if skip_missing {
                        continue;
                    }
                    return Err(Error::template(format!(
                        "the key {seg} should point to a dictionary, got '{}'",
                        py_str(&next)
                    )));
                }
                walked.push(seg);
                cur = next;
            } else {
                if next.kind() != ValueKind::Seq {
                    return Err(Error::template(format!(
                        "the key {seg} should point to a list, got '{}'",
                        py_str(&next)
                    )));
                }
                walked.push(seg);
                sublist = Some(next);
            }
        }
        let Some(sublist) = sublist else { continue };
        let element = without_path(&e, &walked);
        for s in list_of(&sublist) {
            out.push(Value::from(vec![element.clone(), s]));
        }
    }
    Ok(out)
}

/// A copy of map `v` without the key at `path` (`["a", "b"]` removes `v.a.b`).
fn without_path(v: &Value, path: &[&str]) -> Value {
    let Some((first, rest)) = path.split_first() else {
        return v.clone();
    };
    let Ok(keys) = v.try_iter() else {
        return v.clone();
    };
    Value::from_iter(keys.filter_map(|k| {
        let val = v.get_item(&k).unwrap_or_default();
        match k.as_str() {
            Some(name) if name == *first && rest.is_empty() => None,
            Some(name) if name == *first => Some((k, without_path(&val, rest))),
            _ => Some((k, val)),
        }
    }))
}

/// The variables a template lookup renders with: the task's, Ansible's template variables
/// (`template_path`, `template_fullpath`, `template_basename`, `ansible_managed` unless set),
/// then `template_vars`.
fn template_lookup_context(ctx: &Context, path: &Path, extra: Option<&Value>) -> Context {
    let mut v = crate::value::Vars::new();
    let full = path.canonicalize().unwrap_or_else(|_| path.to_path_buf());
    v.insert(
        "template_path".into(),
        Value::from(path.display().to_string()),
    );
    v.insert(
        "template_fullpath".into(),
        Value::from(full.display().to_string()),
    );
    v.insert(
        "template_basename".into(),
        Value::from(
            path.file_name()
                .map_or(String::new(), |f| f.to_string_lossy().into_owned()),
        ),
    );
    if ctx.get_raw("ansible_managed").is_none() {
        v.insert("ansible_managed".into(), Value::from("Ansible managed"));
    }
    let mut c = ctx.push(std::sync::Arc::new(v));
    if let Some(tv) = extra {
        c = c.push(std::sync::Arc::new(crate::value::value_to_vars(tv)));
    }
    c
}

fn to_mj(name: &str, e: Error) -> minijinja::Error {
    let mut msg = format!("lookup('{name}'): {}", e.msg);
    if let Some(h) = e.hint.clone() {
        msg.push_str(&format!(" ({h})"));
    }
    minijinja::Error::new(minijinja::ErrorKind::InvalidOperation, msg)
}

fn call(state: &State, args: &[Value], force_list: bool) -> Result<Value, minijinja::Error> {
    let (pos, kw) = split_kwargs(args);
    let Some(name) = pos.first().and_then(|n| n.as_str()).map(str::to_string) else {
        return Err(minijinja::Error::new(
            minijinja::ErrorKind::MissingArgument,
            "lookup: the first argument must be the lookup plugin's name",
        ));
    };
    let ctx = state
        .lookup("vars")
        .and_then(|v| Context::from_value(&v))
        .ok_or_else(|| {
            minijinja::Error::new(
                minijinja::ErrorKind::InvalidOperation,
                "lookup: no variables available",
            )
        })?;
    // Templates embedded in the arguments (`lookup('pipe', 'echo {{ x }}')`, deprecated in
    // Ansible but still done) are rendered; one that is undefined is an undefined argument.
    let embedded = |v: &Value| -> Result<Value, minijinja::Error> {
        if !crate::template::needs_templating(v) {
            return Ok(v.clone());
        }
        match crate::template::render_embedded(v, &ctx) {
            Ok(v) => Ok(v),
            Err(e) if e.undefined => Ok(Value::UNDEFINED),
            Err(e) => Err(to_mj(&name, e.err)),
        }
    };
    let terms: Vec<Value> = pos[1..].iter().map(&embedded).collect::<Result<_, _>>()?;
    let mut opts: HashMap<String, Value> = kw
        .into_iter()
        .map(|(k, v)| embedded(&v).map(|v| (k, v)))
        .collect::<Result<_, _>>()?;
    // As Ansible: a lookup given an undefined argument is undefined itself, without running
    // (Python plugins that accept markers see theirs: the bridge decides).
    let short = name.rsplit('.').next().unwrap_or(&name);
    let undefined_terms = terms.iter().any(Value::is_undefined);
    let undefined_opts = opts.values().any(Value::is_undefined);
    let undefined = match short {
        // as Ansible's: first_found skips undefined entries itself, but an undefined option
        // is the undefined variable's error; env's `default` may be undefined, its terms not
        "first_found" if undefined_opts => {
            return Err(minijinja::Error::new(
                minijinja::ErrorKind::UndefinedError,
                format!("an option of lookup('{name}') is undefined"),
            ));
        }
        "first_found" => false,
        "env" => undefined_terms,
        // (only an undefined argument asks whether a Python plugin would take it: the question
        // may start the controller's Python)
        _ => (undefined_terms || undefined_opts) && !crate::plugins::jinja::python_lookup(&name),
    };
    if undefined {
        return Ok(Value::UNDEFINED);
    }
    let wantlist = force_list || opts.remove("wantlist").is_some_and(|v| v.is_true());
    let errors = opts
        .remove("errors")
        .map(|v| py_str(&v))
        .unwrap_or_else(|| "strict".into());
    let ran = match run(&name, &terms, &opts, &ctx) {
        Ok(r) => r,
        Err(e) => match errors.as_str() {
            "ignore" | "warn" => {
                return Ok(if wantlist {
                    Value::from(Vec::<Value>::new())
                } else {
                    Value::from(())
                });
            }
            _ => return Err(to_mj(&name, e)),
        },
    };
    if ran.len() == 1 && ran[0].is_undefined() {
        return Ok(Value::UNDEFINED);
    }
    // Without wantlist, no result is an empty list and one result is itself (Ansible 2.19).
    if wantlist || ran.is_empty() {
        return Ok(Value::from(ran));
    }
    if ran.iter().all(|v| v.kind() == ValueKind::String) {
        let joined = ran.iter().map(py_str).collect::<Vec<_>>().join(",");
        let all_unsafe = !ran.is_empty() && ran.iter().all(Value::is_safe);
        return Ok(if all_unsafe {
            Value::from_safe_string(joined)
        } else {
            Value::from(joined)
        });
    }
    if ran.len() == 1 {
        return Ok(ran.into_iter().next().unwrap_or_default());
    }
    Ok(Value::from(ran))
}

/// Registers `lookup`, `query` and `q`.
pub(crate) fn register(env: &mut Environment<'static>) {
    env.add_function("lookup", |state: &State, args: Rest<Value>| {
        call(state, &args, false)
    });
    env.add_function("query", |state: &State, args: Rest<Value>| {
        call(state, &args, true)
    });
    env.add_function("q", |state: &State, args: Rest<Value>| {
        call(state, &args, true)
    });
    // Ansible's `undef(hint=None)`: an undefined value (a default that stays undefined).
    env.add_function("undef", |args: Rest<Value>| {
        let a = crate::template::filters::Args::bind("undef", &["hint"], &args)?;
        crate::template::record_undef_hint(
            a.get("hint")
                .filter(|h| !h.is_none())
                .map(py_str)
                .unwrap_or_else(|| "Mandatory variable has not been overridden".into()),
        );
        Ok::<_, minijinja::Error>(Value::UNDEFINED)
    });
}

#[cfg(test)]
mod unit {
    use super::*;

    #[test]
    fn sequences_like_ansible() {
        let s = |t| sequence(t).unwrap().iter().map(py_str).collect::<Vec<_>>();
        assert_eq!(s("start=1 end=3"), ["1", "2", "3"]);
        assert_eq!(s("count=3 start=0 stride=2"), ["0", "2", "4"]);
        assert_eq!(s("start=1 end=2 format=host%02d"), ["host01", "host02"]);
        assert_eq!(s("4"), ["1", "2", "3", "4"]);
        assert_eq!(s("2-6/2"), ["2", "4", "6"]);
        assert!(sequence("start=5 end=1").is_err());
        // ansible-core 2.19's messages.
        let e = |t| sequence(t).unwrap_err().msg.clone();
        assert!(e("start=0 junk=3").contains("unrecognized arguments to with_sequence: ['junk']"));
        assert!(e("start=A end=3").contains("has an invalid value"));
        assert!(e("1-4/C").contains("has an invalid value"));
        assert!(e("start=1").contains("must specify count or end in with_sequence"));
        assert!(e("start=1 end=4 count=2").contains("can't specify both count and end"));
        assert!(e("start=4 end=1 stride=2").contains("to count backwards make stride negative"));
        assert!(
            e("start=1 end=4 stride=-2").contains("to count forward don't make stride negative")
        );
        assert!(e("start=1 end=4 format=d").contains("bad formatting string: d"));
        assert_eq!(s("start=3 end=0 stride=-1"), ["3", "2", "1", "0"]);
        assert_eq!(s("count=2 start=1 stride=2"), ["1", "3"]);
        assert!(sequence("count=0").unwrap().is_empty());
        // Keyword options are defaults for each term.
        let kw: HashMap<String, Value> = [("stride".to_string(), Value::from(-1))].into();
        let got: Vec<String> = sequence_with("count=3 start=0", &kw)
            .unwrap()
            .iter()
            .map(py_str)
            .collect();
        // Ansible's count with a negative stride ends at start + count * stride - 1.
        assert_eq!(got, ["0", "-1", "-2", "-3", "-4"]);
        let kw: HashMap<String, Value> = [("start".to_string(), Value::from(20))].into();
        let got: Vec<String> = sequence_with("count=2", &kw)
            .unwrap()
            .iter()
            .map(py_str)
            .collect();
        assert_eq!(got, ["20", "21"]);
    }

    #[test]
    fn password_folders_are_private() {
        use std::os::unix::fs::PermissionsExt as _;
        let base = std::env::temp_dir().join(format!("prov-pwdir-{}", std::process::id()));
        let dir = base.join("a/lookup");
        make_private_dir(&dir).unwrap();
        let mode = |p: &Path| std::fs::metadata(p).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode(&dir), 0o700);
        make_private_dir(&dir).unwrap();
        std::fs::remove_dir_all(&base).unwrap();
    }

    #[test]
    fn subelements_like_ansible() {
        let users = Value::from_serialize(serde_json::json!([
            {"name": "a", "m": {"hosts": ["h1", "h2"], "pw": "x"}},
            {"name": "b", "skipped": true, "m": {"hosts": ["h3"]}},
            {"name": "c", "m": {"pw": "y"}}
        ]));
        let err = |t: &[Value]| subelements(t, false).unwrap_err().msg.clone();
        assert!(err(&[Value::from(9001), Value::from("m")]).contains("first a dict or a list"));
        assert!(err(&[users.clone(), Value::from(true)]).contains("second a string"));
        assert!(
            err(&[users.clone(), Value::from("m.hosts"), Value::from("w")])
                .contains("the optional third item must be a dict")
        );
        assert!(err(&[users.clone(), Value::from("m.pw")]).contains("should point to a list"));
        assert!(
            err(&[users.clone(), Value::from("m.hosts.x")])
                .contains("should point to a dictionary")
        );
        assert!(
            err(&[users.clone(), Value::from("m.hosts")])
                .contains("could not find 'hosts' key in iterated item")
        );
        let skip = Value::from_serialize(serde_json::json!({"skip_missing": true}));
        let got = subelements(&[users, Value::from("m.hosts"), skip], false).unwrap();
        assert_eq!(
            got.iter().map(py_str).collect::<Vec<_>>(),
            [
                "[{'name': 'a', 'm': {'pw': 'x'}}, 'h1']",
                "[{'name': 'a', 'm': {'pw': 'x'}}, 'h2']"
            ]
        );
        let skipped = Value::from_serialize(serde_json::json!({"skipped": true}));
        assert!(
            subelements(&[skipped, Value::from("m")], false)
                .unwrap()
                .is_empty()
        );
    }
}
