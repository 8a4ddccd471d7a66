//! Python package requirements for the `pip` module: names (PEP 503 normalised), version
//! specifiers and the PEP 440 version order they are checked with, as far as deciding whether
//! an installed package satisfies a requirement needs it.

use std::cmp::Ordering;

/// A version, ordered the way PEP 440 orders them (epoch, release, pre, post, dev); `1.0`
/// equals `1.0.0`.
#[derive(Debug, Clone)]
pub(crate) struct Version {
    epoch: u64,
    release: Vec<u64>,
    /// (0 = a, 1 = b, 2 = rc, number); `None` for a final release.
    pre: Option<(u8, u64)>,
    post: Option<u64>,
    dev: Option<u64>,
}

impl Version {
    /// Parses a version (`1.2`, `2!1.0rc1`, `1.0.post2.dev3`, `v1.0`); `None` if it is not
    /// PEP 440 (a local part `+abc` is ignored).
    pub(crate) fn parse(s: &str) -> Option<Version> {
        let s = s.trim().to_ascii_lowercase();
        let s = s.strip_prefix('v').unwrap_or(&s);
        let s = s.split('+').next().unwrap_or(s);
        let (epoch, rest) = match s.split_once('!') {
            Some((e, r)) => (e.parse().ok()?, r),
            None => (0, s),
        };
        let digits_end = rest
            .find(|c: char| !(c.is_ascii_digit() || c == '.'))
            .unwrap_or(rest.len());
        let release: Vec<u64> = rest[..digits_end]
            .trim_end_matches('.')
            .split('.')
            .map(|p| p.parse().ok())
            .collect::<Option<_>>()?;
        let mut tail = rest[digits_end..].trim_start_matches(['.', '-', '_']);
        let mut v = Version {
            epoch,
            release,
            pre: None,
            post: None,
            dev: None,
        };
        let take_num = |t: &mut &str| -> u64 {
            let t2 = t.trim_start_matches(['.', '-', '_']);
            let end = t2.find(|c: char| !c.is_ascii_digit()).unwrap_or(t2.len());
            let n = t2[..end].parse().unwrap_or(0);
            *t = t2[end..].trim_start_matches(['.', '-', '_']);
            n
        };
        for (tags, kind) in [
            (&["alpha", "a"][..], 0u8),
            (&["beta", "b"][..], 1),
            (&["rc", "c", "pre", "preview"][..], 2),
        ] {
            if let Some(t) = tags.iter().find_map(|t| tail.strip_prefix(t)) {
                tail = t;
                v.pre = Some((kind, take_num(&mut tail)));
                break;
            }
        }
        if let Some(t) = ["post", "rev", "r"]
            .iter()
            .find_map(|p| tail.strip_prefix(p))
        {
            tail = t;
            v.post = Some(take_num(&mut tail));
        }
        if let Some(t) = tail.strip_prefix("dev") {
            tail = t;
            v.dev = Some(take_num(&mut tail));
        }
        tail.is_empty().then_some(v)
    }

    fn release_cmp(a: &[u64], b: &[u64]) -> Ordering {
        let n = a.len().max(b.len());
        (0..n)
            .map(|i| {
                a.get(i)
                    .copied()
                    .unwrap_or(0)
                    .cmp(&b.get(i).copied().unwrap_or(0))
            })
            .find(|o| o.is_ne())
            .unwrap_or(Ordering::Equal)
    }
}

impl PartialEq for Version {
    fn eq(&self, other: &Self) -> bool {
        self.cmp(other).is_eq()
    }
}

impl Eq for Version {}

impl PartialOrd for Version {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}

impl Ord for Version {
    fn cmp(&self, o: &Self) -> Ordering {
        // A dev release of a final version sorts before its pre-releases.
        let pre_key = |v: &Version| match (v.pre, v.post, v.dev) {
            (None, None, Some(_)) => (-1i64, 0u64),
            (Some((k, n)), _, _) => (i64::from(k), n),
            _ => (3, 0),
        };
        let post_key = |v: &Version| v.post.map_or(-1i64, |p| p as i64);
        let dev_key = |v: &Version| v.dev.map_or(u64::MAX, |d| d);
        self.epoch
            .cmp(&o.epoch)
            .then_with(|| Version::release_cmp(&self.release, &o.release))
            .then_with(|| pre_key(self).cmp(&pre_key(o)))
            .then_with(|| post_key(self).cmp(&post_key(o)))
            .then_with(|| dev_key(self).cmp(&dev_key(o)))
    }
}

/// One clause of a version specifier (`>=1.0`).
#[derive(Debug, Clone, PartialEq)]
struct Clause {
    op: String,
    version: String,
}

impl Clause {
    /// Whether `installed` satisfies the clause (pre-releases count, as Ansible asks).
    fn matches(&self, installed: &str) -> bool {
        if self.op == "===" {
            return installed == self.version;
        }
        let Some(have) = Version::parse(installed) else {
            return false;
        };
        if let Some(prefix) = self.version.strip_suffix(".*") {
            let Some(p) = Version::parse(prefix) else {
                return false;
            };
            let same = p.epoch == have.epoch
                && have.release.len() >= p.release.len()
                && have.release[..p.release.len()] == p.release[..];
            return match self.op.as_str() {
                "==" => same,
                "!=" => !same,
                _ => false,
            };
        }
        let Some(want) = Version::parse(&self.version) else {
            return false;
        };
        match self.op.as_str() {
            "==" => have == want,
            "!=" => have != want,
            ">=" => have >= want,
            "<=" => have <= want,
            ">" => have > want,
            "<" => have < want,
            "~=" => {
                // ~=1.4.5 means >=1.4.5 and ==1.4.*
                let n = want.release.len().saturating_sub(1).max(1);
                have >= want
                    && have.epoch == want.epoch
                    && have.release.len() >= n
                    && have.release[..n] == want.release[..n]
            }
            _ => false,
        }
    }
}

/// A requirement from the `name` option: a plain package name with optional extras and version
/// specifier, or anything else pip accepts (a URL, a path, a VCS link), which never counts as
/// installed.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Requirement {
    /// The text given to pip.
    pub text: String,
    /// The normalised name, for plain requirements.
    pub name: Option<String>,
    clauses: Vec<Clause>,
}

/// PEP 503's normal form of a package name.
pub(crate) fn canonical(name: &str) -> String {
    let mut out = String::new();
    let mut sep = false;
    for c in name.trim().chars() {
        if matches!(c, '-' | '_' | '.') {
            sep = true;
        } else {
            if sep && !out.is_empty() {
                out.push('-');
            }
            sep = false;
            out.push(c.to_ascii_lowercase());
        }
    }
    out
}

impl Requirement {
    /// Parses `name[extras] <specifiers> ; markers`.
    pub(crate) fn parse(text: &str) -> Requirement {
        let t = text.trim();
        let plain = |t: &str| Requirement {
            text: t.to_string(),
            name: None,
            clauses: vec![],
        };
        let end = t
            .find(|c: char| !(c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.')))
            .unwrap_or(t.len());
        if end == 0 || t.contains("://") || t.starts_with('/') || t.starts_with('.') {
            return plain(t);
        }
        let name = &t[..end];
        let mut rest = t[end..].trim_start();
        if let Some(r) = rest.strip_prefix('[') {
            match r.find(']') {
                Some(i) => rest = r[i + 1..].trim_start(),
                None => return plain(t),
            }
        }
        let spec = rest.split(';').next().unwrap_or("").trim();
        let mut clauses = Vec::new();
        for part in spec.split(',').map(str::trim).filter(|p| !p.is_empty()) {
            let op_end = part
                .find(|c: char| !matches!(c, '=' | '<' | '>' | '!' | '~'))
                .unwrap_or(part.len());
            let (op, version) = (&part[..op_end], part[op_end..].trim());
            if !matches!(op, "==" | "!=" | ">=" | "<=" | ">" | "<" | "~=" | "===")
                || version.is_empty()
            {
                return plain(t);
            }
            clauses.push(Clause {
                op: op.to_string(),
                version: version.to_string(),
            });
        }
        Requirement {
            text: t.to_string(),
            name: Some(canonical(name)),
            clauses,
        }
    }

    /// True when it names a package with a version specifier.
    pub(crate) fn has_specifier(&self) -> bool {
        !self.clauses.is_empty()
    }

    /// Whether the installed packages (`pip list --format=freeze` lines) satisfy it.
    pub(crate) fn is_installed(&self, freeze: &str) -> bool {
        let Some(name) = &self.name else {
            return false;
        };
        freeze.lines().any(|l| {
            l.split_once("==").is_some_and(|(n, v)| {
                canonical(n) == *name && self.clauses.iter().all(|c| c.matches(v.trim()))
            })
        })
    }
}

/// Ansible's rebuilding of the `name` list: the list option splits `foo>=1,<2` at the comma,
/// so parts that do not start a new package are joined to the previous one (extras in
/// brackets stay together).
pub(crate) fn recover_names(names: &[String]) -> Vec<String> {
    let parts: Vec<&str> = names.iter().flat_map(|n| n.split(',')).collect();
    let mut out: Vec<String> = Vec::new();
    let mut in_brackets = false;
    for p in parts {
        let starts_name = p
            .trim_start()
            .chars()
            .next()
            .is_some_and(|c| c.is_ascii_alphanumeric() || c == '/' || c == '.');
        match out.last_mut() {
            Some(last) if in_brackets || !starts_name => {
                last.push(',');
                last.push_str(p);
            }
            _ => out.push(p.to_string()),
        }
        if p.contains('[') {
            in_brackets = true;
        }
        if in_brackets && p.contains(']') {
            in_brackets = false;
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn v(s: &str) -> Version {
        Version::parse(s).unwrap()
    }

    #[test]
    fn versions_order_like_pep_440() {
        assert!(v("1.0") == v("1.0.0"));
        assert!(v("1.0.dev1") < v("1.0a1"));
        assert!(v("1.0a1") < v("1.0b2") && v("1.0b2") < v("1.0rc1") && v("1.0rc1") < v("1.0"));
        assert!(v("1.0") < v("1.0.post1") && v("1.0.post1") < v("1.1"));
        assert!(v("1!0.5") > v("9.9"));
        assert!(v("1.10") > v("1.9"));
        assert!(Version::parse("not a version").is_none());
    }

    #[test]
    fn requirements_and_specifiers() {
        let freeze = "Django==1.11.2\nsimple_project==1.0.0\nzope.interface==5.4\n";
        let r = Requirement::parse("django>1.11.1,<1.11.3");
        assert_eq!(r.name.as_deref(), Some("django"));
        assert!(r.has_specifier() && r.is_installed(freeze));
        assert!(!Requirement::parse("django>=2").is_installed(freeze));
        assert!(Requirement::parse("Simple-Project").is_installed(freeze));
        assert!(Requirement::parse("zope_interface~=5.0").is_installed(freeze));
        assert!(Requirement::parse("django==1.11.*").is_installed(freeze));
        assert!(Requirement::parse("requests[socks]").name.is_some());
        let url = Requirement::parse("git+https://github.com/a/b.git#egg=b");
        assert!(url.name.is_none() && !url.is_installed("b==1\n"));
        assert_eq!(canonical("Zope.Interface__x"), "zope-interface-x");
    }

    #[test]
    fn names_split_at_commas_are_rebuilt() {
        let got = recover_names(&[
            "django>1.11.1".into(),
            "<1.11.3".into(),
            "ipaddress".into(),
            "simpleproject>1.1.0,<2.0.0".into(),
            "requests[socks,security]>=2".into(),
        ]);
        assert_eq!(
            got,
            [
                "django>1.11.1,<1.11.3",
                "ipaddress",
                "simpleproject>1.1.0,<2.0.0",
                "requests[socks,security]>=2"
            ]
        );
    }
}
