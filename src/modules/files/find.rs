//! `find`: lists files on the host by name, type, age, size and content (Ansible's filters).

use crate::connection::quote;
use crate::error::{Error, Result};
use crate::modules::args::Mode;
use crate::modules::toolkit::{self, checksum_cmd, resolve_mode, stat_mode};
use crate::modules::{Args, Module, ModuleDoc, Options, Plan, TaskCtx, opt};
use crate::value::{Value, Vars};
use async_trait::async_trait;

/// The `find` module.
pub struct Find;

crate::options! {
    /// The `find` module's options.
    pub(crate) struct Opts {
        paths: Vec<String> = opt::list("Folders to search.").required().aliases(&["name", "path"]),
        patterns: Vec<String> = opt::list("Base name patterns (globs, or regexes with use_regex); any may match. Default: all.").aliases(&["pattern"]),
        excludes: Vec<String> = opt::list("Base name patterns to leave out.").aliases(&["exclude"]),
        contains: Option<String> = opt::str("A regular expression the content of regular files must match (at the start of a line)."),
        read_whole_file: bool = opt::bool("Match `contains` anywhere in the whole file instead of line by line.").default("no"),
        file_type: String = opt::str("The type of entries to return.").default("file").choices(&["any", "directory", "file", "link"]),
        recurse: bool = opt::bool("Descend into folders.").default("no"),
        depth: Option<i64> = opt::int("With recurse, the maximum number of levels to descend (1: only the folder's entries)."),
        age: Option<String> = opt::str("At least this old (`2d`, `1w`, `30m`, `10s`), or at most this old when negative (`-1h`)."),
        age_stamp: String = opt::str("The time `age` looks at.").default("mtime").choices(&["atime", "ctime", "mtime"]),
        size: Option<String> = opt::str("At least this size (`10m`, `1k`, `500` bytes, b/k/m/g/t), or at most when negative."),
        hidden: bool = opt::bool("Include names starting with a dot.").default("no"),
        use_regex: bool = opt::bool("patterns and excludes are regular expressions instead of globs.").default("no"),
        follow: bool = opt::bool("Follow symbolic links.").default("no"),
        get_checksum: bool = opt::bool("Add the `checksum` of each regular file.").default("no"),
        checksum_algorithm: String = opt::str("The checksum algorithm.").default("sha1").choices(&["md5", "sha1", "sha224", "sha256", "sha384", "sha512"]).aliases(&["checksum", "checksum_algo"]),
        mode: Option<Mode> = opt::mode("Only entries with this mode (octal or symbolic): exactly, or with any of its bits when exact_mode is false."),
        exact_mode: bool = opt::bool("mode must match exactly (else any of its permission bits is enough).").default("yes"),
        encoding: Option<String> = opt::str("The encoding of the files `contains` reads (converted with iconv)."),
        limit: Option<i64> = opt::int("Return at most this many matches (shallowest first)."),
    }
}

static DOC: ModuleDoc = ModuleDoc::new("find", "Return a list of files based on specific criteria")
    .description(
        "Lists the files (or folders, links) under `paths` whose base names match \
`patterns` (shell globs, or Python-style regular expressions matched at the start of the name \
with `use_regex`) and not `excludes`, filtered by `age`, `size`, `contains` and hidden names, \
as Ansible's find does. One round trip runs `find` and GNU `stat` on the host; `contains` runs \
`grep -P` on the candidates (each line must match from its start, or anywhere in the whole file \
with `read_whole_file`; `encoding` converts them first). `mode` keeps entries with that mode \
(exactly, or sharing a bit with `exact_mode: false`), `limit` keeps the first matches \
(shallowest first: `Limit of matches reached`), `get_checksum` adds each regular file's \
`checksum` (one more round trip). Returns `files` (stat data per file: path, mode, size, mtime, \
pw_name...), `matched`, `examined`, `skipped_paths` and `msg`. Never changes anything.",
    )
    .spec::<Opts>()
    .examples(
        r#"- find:
    paths: /var/log
    patterns: "*.log,*.gz"
    age: 2w
    recurse: true
  register: old_logs
- find:
    paths: [/etc/nginx/sites-enabled]
    file_type: any
    hidden: true
- find:
    paths: /srv/app
    patterns: '^.*\.(py|rb)$'
    use_regex: true
    contains: '#!/usr/bin/env'
    size: -100k
"#,
    );

/// iconv's name for one of Python's codec names (`latin-1` → `ISO-8859-1`).
fn iconv_name(python: &str) -> String {
    let n = python.to_ascii_lowercase().replace('_', "-");
    match n.as_str() {
        "latin-1" | "latin1" | "l1" | "iso8859-1" | "iso-8859-1" | "8859" => "ISO-8859-1".into(),
        "cp1252" | "windows-1252" => "WINDOWS-1252".into(),
        "ascii" | "us-ascii" => "ASCII".into(),
        _ => n.to_ascii_uppercase(),
    }
}

/// `2d` → seconds (negative stays negative).
pub(crate) fn parse_age(s: &str) -> Option<i64> {
    let s = s.trim().to_ascii_lowercase();
    let (num, unit) = split_unit(&s);
    let n: i64 = num.parse().ok()?;
    let mul = match unit {
        "" | "s" => 1,
        "m" => 60,
        "h" => 3600,
        "d" => 86400,
        "w" => 604800,
        _ => return None,
    };
    Some(n * mul)
}

/// `10m` → bytes (1024-based; negative stays negative).
pub(crate) fn parse_size(s: &str) -> Option<i64> {
    let s = s.trim().to_ascii_lowercase();
    let (num, unit) = split_unit(&s);
    let n: i64 = num.parse().ok()?;
    let mul: i64 = match unit {
        "" | "b" => 1,
        "k" => 1 << 10,
        "m" => 1 << 20,
        "g" => 1 << 30,
        "t" => 1 << 40,
        _ => return None,
    };
    Some(n * mul)
}

fn split_unit(s: &str) -> (&str, &str) {
    let i = s
        .find(|c: char| !(c.is_ascii_digit() || c == '-'))
        .unwrap_or(s.len());
    (&s[..i], &s[i..])
}

/// Name patterns (globs or regexes).
pub(crate) enum Pat {
    Glob(glob::Pattern),
    Regex(regex::Regex),
}

impl Pat {
    pub(crate) fn new(p: &str, regex: bool) -> Result<Pat> {
        if regex {
            regex::Regex::new(&format!("^(?:{p})"))
                .map(Pat::Regex)
                .map_err(|e| Error::failed(format!("find: invalid regular expression '{p}': {e}")))
        } else {
            glob::Pattern::new(p)
                .map(Pat::Glob)
                .map_err(|e| Error::failed(format!("find: invalid pattern '{p}': {e}")))
        }
    }
    fn matches(&self, name: &str) -> bool {
        match self {
            Pat::Glob(g) => g.matches(name),
            Pat::Regex(r) => r.is_match(name),
        }
    }
}

/// Ansible's `pfilter`: some pattern matches and no exclude does.
pub(crate) fn name_matches(name: &str, patterns: &[Pat], excludes: &[Pat]) -> bool {
    patterns.iter().any(|p| p.matches(name)) && !excludes.iter().any(|e| e.matches(name))
}

/// One entry as the host's `stat` printed it.
#[derive(Debug, Clone)]
pub(crate) struct Entry {
    pub path: String,
    pub mode: u32,
    pub uid: i64,
    pub gid: i64,
    pub owner: String,
    pub group: String,
    pub size: i64,
    pub mtime: i64,
    pub atime: i64,
    pub ctime: i64,
    pub inode: i64,
    pub dev: i64,
    pub nlink: i64,
    pub ftype: String,
}

const FMT: &str = "%a|%u|%g|%U|%G|%s|%Y|%X|%Z|%i|%d|%h|%F|%n";

fn parse_entry(rec: &str) -> Option<Entry> {
    let f: Vec<&str> = rec.splitn(14, '|').collect();
    if f.len() != 14 {
        return None;
    }
    let n = |s: &str| s.trim().parse::<i64>().unwrap_or(0);
    Some(Entry {
        mode: u32::from_str_radix(f[0], 8).ok()?,
        uid: n(f[1]),
        gid: n(f[2]),
        owner: f[3].into(),
        group: f[4].into(),
        size: n(f[5]),
        mtime: n(f[6]),
        atime: n(f[7]),
        ctime: n(f[8]),
        inode: n(f[9]),
        dev: n(f[10]),
        nlink: n(f[11]),
        ftype: f[12].into(),
        path: f[13].into(),
    })
}

impl Entry {
    fn is_dir(&self) -> bool {
        self.ftype == "directory"
    }
    fn is_reg(&self) -> bool {
        self.ftype.starts_with("regular")
    }
    fn is_link(&self) -> bool {
        self.ftype == "symbolic link"
    }
    fn name(&self) -> &str {
        self.path.rsplit('/').next().unwrap_or(&self.path)
    }
    /// Ansible's `statinfo` plus `path`.
    fn to_value(&self) -> Value {
        crate::value::vars_value(&self.vars())
    }
    /// [`Entry::to_value`]'s keys and values.
    fn vars(&self) -> Vars {
        let m = self.mode;
        let mut v = Vars::new();
        let mut put = |k: &str, x: Value| {
            v.insert(k.to_string(), x);
        };
        put("path", Value::from(self.path.as_str()));
        put("mode", Value::from(stat_mode(m)));
        put("isdir", Value::from(self.is_dir()));
        put("isreg", Value::from(self.is_reg()));
        put("islnk", Value::from(self.is_link()));
        put("ischr", Value::from(self.ftype == "character special file"));
        put("isblk", Value::from(self.ftype == "block special file"));
        put("isfifo", Value::from(self.ftype == "fifo"));
        put("issock", Value::from(self.ftype == "socket"));
        put("uid", Value::from(self.uid));
        put("gid", Value::from(self.gid));
        put("size", Value::from(self.size));
        put("inode", Value::from(self.inode));
        put("dev", Value::from(self.dev));
        put("nlink", Value::from(self.nlink));
        put("atime", Value::from(self.atime as f64));
        put("mtime", Value::from(self.mtime as f64));
        put("ctime", Value::from(self.ctime as f64));
        put("pw_name", Value::from(self.owner.as_str()));
        put("gr_name", Value::from(self.group.as_str()));
        for (k, bit) in [
            ("rusr", 0o400),
            ("wusr", 0o200),
            ("xusr", 0o100),
            ("rgrp", 0o040),
            ("wgrp", 0o020),
            ("xgrp", 0o010),
            ("roth", 0o004),
            ("woth", 0o002),
            ("xoth", 0o001),
            ("isuid", 0o4000),
            ("isgid", 0o2000),
        ] {
            put(k, Value::from(m & bit != 0));
        }
        v
    }
}

/// The output of the listing script: `now`, and per path its entries or why it was skipped.
pub(crate) struct Listing {
    pub now: i64,
    pub paths: Vec<(String, std::result::Result<Vec<Entry>, String>)>,
    /// Folders the walk could not read: (path, Python's message for the error).
    pub walk_errors: Vec<(String, String)>,
}

/// A walk error as `find` reports it in the C locale (`'PATH': Permission denied`): the path
/// and the message Python's `os.walk` gives for it (`[Errno 13] Permission denied: 'PATH'`).
fn walk_error(rec: &str) -> Option<(String, String)> {
    let (path, why) = rec.strip_prefix('\'')?.rsplit_once("': ")?;
    let errno = match why.trim() {
        "Operation not permitted" => 1,
        "No such file or directory" => 2,
        "Permission denied" => 13,
        _ => return Some((path.to_string(), why.trim().to_string())),
    };
    Some((
        path.to_string(),
        format!("[Errno {errno}] {}: '{path}'", why.trim()),
    ))
}

fn parse_listing(out: &[u8], paths: &[String]) -> Listing {
    let text = String::from_utf8_lossy(out);
    let mut now = 0;
    let mut res: Vec<(String, std::result::Result<Vec<Entry>, String>)> = Vec::new();
    let mut walk_errors = Vec::new();
    for rec in text.split('\0') {
        let rec = rec.trim_start_matches('\n');
        if let Some(e) = rec.strip_prefix('?') {
            walk_errors.extend(walk_error(e));
        } else if let Some(n) = rec.strip_prefix("now=") {
            now = n.trim().parse().unwrap_or(0);
        } else if let Some(i) = rec.strip_prefix("@@") {
            let i: usize = i.trim().parse().unwrap_or(0);
            res.push((paths.get(i).cloned().unwrap_or_default(), Ok(vec![])));
        } else if let Some(why) = rec.strip_prefix("!") {
            if let Some(last) = res.last_mut() {
                last.1 = Err(why.trim().to_string());
            }
        } else if let Some(e) = parse_entry(rec)
            && let Some((_, Ok(v))) = res.last_mut()
        {
            v.push(e);
        }
    }
    Listing {
        now,
        paths: res,
        walk_errors,
    }
}

#[async_trait]
impl Module for Find {
    fn doc(&self) -> &'static ModuleDoc {
        &DOC
    }

    async fn plan(&self, ctx: &TaskCtx<'_>, args: &Args) -> Result<Plan> {
        let o = Opts::from_args(args)?;
        // paths are Ansible `path`s: `~` and `$VARS` expand on the host
        let mut expanded = Vec::with_capacity(o.paths.len());
        for p in &o.paths {
            expanded.push(toolkit::expand_path(ctx, p).await?);
        }
        let paths = &expanded;
        if paths.is_empty() {
            return Err(Error::failed("find: paths must name at least one folder"));
        }
        let use_regex = o.use_regex;
        let mut pats = o.patterns.clone();
        if pats.is_empty() {
            pats.push(if use_regex { ".*" } else { "*" }.into());
        }
        let patterns = pats
            .iter()
            .map(|p| Pat::new(p, use_regex))
            .collect::<Result<Vec<_>>>()?;
        let excludes = o
            .excludes
            .iter()
            .map(|p| Pat::new(p, use_regex))
            .collect::<Result<Vec<_>>>()?;
        let age = match &o.age {
            Some(a) => Some(parse_age(a).ok_or_else(|| {
                Error::failed(format!("find: failed to process age '{a}'"))
                    .hint("a number with an optional unit s, m, h, d or w, e.g. 2d or -1h")
            })?),
            None => None,
        };
        let size = match &o.size {
            Some(a) => Some(parse_size(a).ok_or_else(|| {
                Error::failed(format!("find: failed to process size '{a}'"))
                    .hint("a number with an optional unit b, k, m, g or t, e.g. 10m or -1k")
            })?),
            None => None,
        };
        if let Some(l) = o.limit
            && l <= 0
        {
            return Ok(Plan::fail(format!(
                "limit cannot be {l} (use None for unlimited)"
            )));
        }
        let mode = match &o.mode {
            Some(m) => Some(resolve_mode(m, 0, false)? & 0o7777),
            None => None,
        };
        let (stamp, file_type) = (&o.age_stamp, &o.file_type);
        let (hidden, follow) = (o.hidden, o.follow);
        // With `depth`, Ansible's walk still lists the folders at that depth (their entries
        // count as examined, none matches): one level more is listed than can match.
        let depth_limit = if o.recurse {
            o.depth.filter(|d| *d > 0)
        } else {
            None
        };
        let maxdepth = if o.recurse {
            depth_limit.map(|d| d + 1)
        } else {
            Some(1)
        };
        let mut script = String::from("printf 'now=%s\\0' \"$(date +%s)\"\n");
        for (i, p) in paths.iter().enumerate() {
            let q = quote(p);
            let l = if follow { "-L " } else { "" };
            let md = maxdepth
                .map(|d| format!(" -maxdepth {d}"))
                .unwrap_or_default();
            script.push_str(&format!(
                "printf '@@{i}\\0'\nif [ ! -e {q} ]; then printf '!%s\\0' 'does not exist'; \
                 elif [ ! -d {q} ]; then printf '!%s\\0' 'is not a directory'; \
                 else exec 4>&1; e=$(LC_ALL=C find {l}{q} -mindepth 1{md} -exec stat {l}--printf '{FMT}\\0' -- {{}} + 2>&1 >&4 4>&-); exec 4>&-; \
                 printf '%s\\n' \"$e\" | while IFS= read -r m; do case $m in 'find: '*) printf '?%s\\0' \"${{m#find: }}\";; esac; done; fi\n"
            ));
        }
        let out = ctx.run(script).await?;
        let mut listing = parse_listing(&out.stdout, paths);
        // Unreadable folders met on the way are listed in skipped_paths but, as in Ansible,
        // neither warned about nor change `msg`.
        let walk_errors = std::mem::take(&mut listing.walk_errors);
        let mut examined = 0usize;
        let mut skipped = Vars::new();
        let mut cands: Vec<Entry> = Vec::new();
        // the `paths` entry each entry was found under
        let mut root_of: std::collections::HashMap<String, String> =
            std::collections::HashMap::new();
        for (p, r) in listing.paths {
            let entries = match r {
                Ok(e) => e,
                Err(why) => {
                    skipped.insert(p.clone(), Value::from(format!("'{p}' {why}")));
                    continue;
                }
            };
            examined += entries.len();
            for e in entries {
                root_of.insert(e.path.clone(), p.clone());
                if let Some(limit) = depth_limit {
                    let rel = e
                        .path
                        .strip_prefix(p.trim_end_matches('/'))
                        .unwrap_or(&e.path)
                        .trim_start_matches('/');
                    if rel.split('/').count() as i64 > limit {
                        continue;
                    }
                }
                if !hidden && e.name().starts_with('.') {
                    continue;
                }
                let type_ok = match file_type.as_str() {
                    "any" => e.is_dir() || e.is_reg() || e.is_link(),
                    "directory" => e.is_dir(),
                    "link" => e.is_link(),
                    _ => e.is_reg(),
                };
                if !type_ok || !name_matches(e.name(), &patterns, &excludes) {
                    continue;
                }
                if let Some(m) = mode {
                    let em = e.mode & 0o7777;
                    if (o.exact_mode && em != m) || (!o.exact_mode && em & m == 0) {
                        continue;
                    }
                }
                if let Some(a) = age {
                    let t = match stamp.as_str() {
                        "atime" => e.atime,
                        "ctime" => e.ctime,
                        _ => e.mtime,
                    };
                    let d = listing.now - t;
                    if !((a >= 0 && d >= a) || (a < 0 && d <= -a)) {
                        continue;
                    }
                }
                if let Some(s) = size
                    && e.is_reg()
                    && !((s >= 0 && e.size >= s) || (s < 0 && e.size <= -s))
                {
                    continue;
                }
                cands.push(e);
            }
        }
        if let Some(c) = &o.contains {
            let files: Vec<&Entry> = cands.iter().filter(|e| e.is_reg()).collect();
            let mut keep = vec![false; files.len()];
            // files that are not text in the encoding: Ansible stops examining their path
            let mut undecodable = vec![false; files.len()];
            let mut unknown_encoding = false;
            if !files.is_empty() {
                let (pat, z) = if o.read_whole_file {
                    (python_dollar(c), "-z ")
                } else {
                    (format!("^(?:{c})"), "")
                };
                let enc = iconv_name(o.encoding.as_deref().unwrap_or("utf-8"));
                let convert = enc != "UTF-8";
                // `ck ENC FILE I`: `E I` when FILE is not text in ENC (checked with iconv when
                // there is one), `I` when it contains the pattern.
                let grep = if convert {
                    format!(
                        "iconv -f \"$1\" -t UTF-8 -- \"$2\" 2>/dev/null | grep -q -P {z}-e \"$P\""
                    )
                } else {
                    format!("grep -q -P {z}-e \"$P\" -- \"$2\" 2>/dev/null")
                };
                let mut s = format!(
                    "P={}\nE={}\nI=; if command -v iconv >/dev/null 2>&1; then I=1\n\
                     iconv -f \"$E\" -t UTF-8 </dev/null >/dev/null 2>&1 || {{ echo U; exit 0; }}; fi\n\
                     ck() {{ if [ -n \"$I\" ] && ! iconv -f \"$1\" -t UTF-8 -- \"$2\" >/dev/null 2>&1; then echo \"E $3\"; return; fi\n\
                     {grep} && echo \"$3\"; }}\n",
                    quote(&pat),
                    quote(&enc),
                );
                for (i, f) in files.iter().enumerate() {
                    s.push_str(&format!("ck \"$E\" {} {i}\n", quote(&f.path)));
                }
                s.push_str("true\n");
                let found = ctx.run(s).await?;
                for l in found.stdout_str().lines() {
                    let l = l.trim();
                    if l == "U" {
                        unknown_encoding = true;
                    } else if let Some(i) = l.strip_prefix("E ") {
                        if let Ok(i) = i.parse::<usize>()
                            && i < undecodable.len()
                        {
                            undecodable[i] = true;
                        }
                    } else if let Ok(i) = l.parse::<usize>()
                        && i < keep.len()
                    {
                        keep[i] = true;
                    }
                }
            }
            // As Ansible, an error reading a file skips (the rest of) the path it was found in,
            // with the reason in `skipped_paths` and a warning.
            let shown = match o.encoding.as_deref() {
                Some(e) => e.to_string(),
                None => {
                    "None (default determined by the Python built-in function \"open\")".to_string()
                }
            };
            let mut failed_roots: Vec<(String, String)> = Vec::new();
            for (f, bad) in files.iter().zip(&undecodable) {
                let Some(root) = root_of.get(&f.path) else {
                    continue;
                };
                if failed_roots.iter().any(|(r, _)| r == root) {
                    continue;
                }
                if unknown_encoding {
                    failed_roots.push((root.clone(), format!("unknown encoding: {shown}")));
                } else if *bad {
                    failed_roots.push((
                        root.clone(),
                        format!(
                            "Failed to read the file {} due to an encoding error. current encoding: {shown}",
                            f.path
                        ),
                    ));
                }
            }
            for (root, why) in failed_roots {
                skipped.insert(root, Value::from(why));
            }
            let kept: Vec<String> = files
                .iter()
                .zip(keep.iter().zip(&undecodable))
                .filter(|(_, (k, bad))| **k && !**bad && !unknown_encoding)
                .map(|(f, _)| f.path.clone())
                .collect();
            cands.retain(|e| e.is_reg() && kept.contains(&e.path));
        }
        cands.sort_by(|a, b| a.path.cmp(&b.path));
        let mut msg = if skipped.is_empty() {
            "All paths examined"
        } else {
            "Not all paths examined, check warnings for details"
        };
        if let Some(l) = o.limit.map(|l| l as usize)
            && cands.len() >= l
        {
            // Ansible walks top-down: the shallowest matches come first.
            cands.sort_by_key(|e| e.path.matches('/').count());
            cands.truncate(l);
            cands.sort_by(|a, b| a.path.cmp(&b.path));
            if skipped.is_empty() {
                msg = "Limit of matches reached";
            }
        }
        let mut sums: Vec<Option<String>> = vec![None; cands.len()];
        if o.get_checksum && cands.iter().any(Entry::is_reg) {
            let mut s = format!("{}\n", checksum_cmd(&o.checksum_algorithm)?);
            for (i, e) in cands.iter().enumerate().filter(|(_, e)| e.is_reg()) {
                s.push_str(&format!(
                    "printf '{i} '; $CK < {} 2>/dev/null || echo\n",
                    quote(&e.path)
                ));
            }
            let out = ctx.run(s).await?;
            for l in out.stdout_str().lines() {
                let mut w = l.split_whitespace();
                if let (Some(i), Some(h)) =
                    (w.next().and_then(|i| i.parse::<usize>().ok()), w.next())
                    && i < sums.len()
                {
                    sums[i] = Some(h.to_string());
                }
            }
        }
        let mut plan = Plan::ok()
            .with("matched", cands.len())
            .with("examined", examined)
            .with("msg", msg);
        plan.result.insert(
            "files".into(),
            Value::from_iter(cands.iter().zip(&sums).map(|(e, sum)| match sum {
                Some(h) => {
                    let mut v = e.vars();
                    v.insert("checksum".into(), Value::from(h.as_str()));
                    crate::value::vars_value(&v)
                }
                None => e.to_value(),
            })),
        );
        if !skipped.is_empty() {
            let warnings: Vec<Value> = skipped
                .iter()
                .map(|(p, why)| {
                    Value::from(format!(
                        "Skipped '{p}' path due to this access issue: {}",
                        why.as_str().unwrap_or_default()
                    ))
                })
                .collect();
            plan.result.insert("warnings".into(), Value::from(warnings));
        }
        for (p, why) in walk_errors {
            skipped.insert(p, Value::from(why));
        }
        plan.result
            .insert("skipped_paths".into(), crate::value::vars_value(&skipped));
        Ok(plan)
    }
}

/// A pattern for `grep -P -z` (the whole file as one record) that ends like Python's
/// `re.search`: `$` outside a class matches at the end or before a final newline, which grep's
/// `$` does not in that mode.
fn python_dollar(pat: &str) -> String {
    let mut out = String::with_capacity(pat.len() + 8);
    let mut chars = pat.chars();
    let mut in_class = false;
    while let Some(c) = chars.next() {
        match c {
            '\\' => {
                out.push(c);
                if let Some(n) = chars.next() {
                    out.push(n);
                }
            }
            '[' if !in_class => {
                in_class = true;
                out.push(c);
                // a `]` right after `[` or `[^` is literal
                let rest = chars.as_str();
                let skip = if rest.starts_with("^]") {
                    2
                } else if rest.starts_with(']') {
                    1
                } else {
                    0
                };
                for _ in 0..skip {
                    out.extend(chars.next());
                }
            }
            ']' if in_class => {
                in_class = false;
                out.push(c);
            }
            '$' if !in_class => out.push_str("(?=\\n?\\z)"),
            // grep takes a newline as a pattern separator: the escape keeps it one pattern
            '\n' => out.push_str("\\n"),
            _ => out.push(c),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_whole_file_dollar_ends_like_pythons() {
        assert_eq!(python_dollar("OK$"), "OK(?=\\n?\\z)");
        assert_eq!(python_dollar("a\\$[$]$"), "a\\$[$](?=\\n?\\z)");
        assert_eq!(python_dollar("[]$]x"), "[]$]x");
        assert_eq!(python_dollar("has\na"), "has\\na");
    }

    #[test]
    fn walk_errors_read_as_pythons() {
        assert_eq!(
            walk_error("'/t/r/1-unreadable': Permission denied"),
            Some((
                "/t/r/1-unreadable".into(),
                "[Errno 13] Permission denied: '/t/r/1-unreadable'".into()
            ))
        );
        let out = b"now=5\0@@0\0?'/t/x': Permission denied\0";
        let l = parse_listing(out, &["/t".to_string()]);
        assert_eq!(l.walk_errors.len(), 1);
        assert_eq!(l.walk_errors[0].0, "/t/x");
        assert_eq!(walk_error("nonsense"), None);
    }

    #[test]
    fn python_codec_names_become_iconv_names() {
        assert_eq!(iconv_name("latin-1"), "ISO-8859-1");
        assert_eq!(iconv_name("cp1252"), "WINDOWS-1252");
        assert_eq!(iconv_name("utf_16"), "UTF-16");
    }

    #[test]
    fn ages_sizes_and_patterns() {
        assert_eq!(parse_age("2d"), Some(172800));
        assert_eq!(parse_age("-1W"), Some(-604800));
        assert_eq!(parse_age("30"), Some(30));
        assert_eq!(parse_age("1y"), None);
        assert_eq!(parse_size("10m"), Some(10 << 20));
        assert_eq!(parse_size("-1k"), Some(-1024));
        assert_eq!(parse_size("x"), None);
        let g = |p: &str| Pat::new(p, false).unwrap();
        let r = |p: &str| Pat::new(p, true).unwrap();
        assert!(name_matches("a.log", &[g("*.log")], &[]));
        assert!(!name_matches("a.log", &[g("*.log")], &[g("a*")]));
        assert!(name_matches("x.py", &[r(r".*\.py")], &[]));
        // regexes match from the start of the name, like Python's re.match
        assert!(!name_matches("x.py", &[r(r"\.py")], &[]));
        assert!(name_matches("x.pyc", &[r(r".*\.py")], &[]));
    }

    #[test]
    fn parses_listings() {
        let out = b"now=100\x00@@0\x00644|0|0|root|root|5|90|90|90|1|2|1|regular file|/d/a|b\x00755|0|0|root|root|0|1|1|1|3|2|2|directory|/d/s\x00@@1\x00!does not exist\x00";
        let l = parse_listing(out, &["/d".into(), "/nope".into()]);
        assert_eq!(l.now, 100);
        let e = l.paths[0].1.as_ref().unwrap();
        assert_eq!(e.len(), 2);
        assert_eq!(e[0].path, "/d/a|b");
        assert!(e[0].is_reg() && e[1].is_dir());
        assert_eq!(l.paths[1].1.as_ref().unwrap_err(), "does not exist");
    }
}
