//! Local facts (`ansible_local`): the `*.fact` files of the fact path, as the script found them
//! (an executable one run, any other read; output in hex), each parsed here as JSON, else as
//! INI (Python's `configparser`: sections of lowercased keys, `%` interpolation). A file that
//! cannot be used gets a message instead of its facts, and a warning, as in Ansible.

use crate::util::sections::Sections;
use crate::value::{Value, Vars, from_json};

/// `local` (always set; empty when the fact path does not exist) and the warnings for the
/// files that could not be used.
pub(super) fn local_facts(secs: &Sections, f: &mut Vars) -> Vec<String> {
    let mut local: Vec<(Value, Value)> = Vec::new();
    let mut warnings = Vec::new();
    if secs.has("local") {
        for n in 1.. {
            let head = format!("local-fact {n}");
            if !secs.has(&head) {
                break;
            }
            let kv = secs.kv(&head);
            let path = kv.get("path").copied().unwrap_or_default();
            let base = path.rsplit('/').next().unwrap_or(path).replace(".fact", "");
            let out = hex_bytes(secs.lines(&format!("local-out {n}")));
            let (fact, warn) = one_fact(
                path,
                kv.get("stat").copied(),
                kv.get("rc").map(|r| r.trim()),
                &out,
                &hex_bytes(secs.lines(&format!("local-err {n}"))),
            );
            if warn && let Some(w) = fact.as_str() {
                warnings.push(w.to_string());
            }
            local.push((Value::from(base), fact));
        }
    }
    f.insert("local".into(), Value::from_iter(local));
    warnings
}

/// One file's facts (or the message saying why there are none) and whether that is a warning.
fn one_fact(
    path: &str,
    stat: Option<&str>,
    rc: Option<&str>,
    out: &[u8],
    err: &[u8],
) -> (Value, bool) {
    let msg = |m: String| (Value::from(m), true);
    if stat == Some("missing") {
        return msg(format!(
            "Could not stat fact ({path}): [Errno 2] No such file or directory: '{path}'"
        ));
    }
    if let Some(rc) = rc
        && rc != "0"
    {
        let err = String::from_utf8_lossy(err);
        return msg(format!(
            "Failure executing fact script ({path}), rc: {rc}, err: {err}"
        ));
    }
    let Ok(text) = std::str::from_utf8(out) else {
        return msg(format!(
            "error loading fact - output of running \"{path}\" was not utf-8"
        ));
    };
    if let Ok(j) = serde_json::from_str::<serde_json::Value>(text) {
        return (from_json(&j), false);
    }
    match ini_fact(text) {
        Ok(v) => (v, false),
        Err(None) => msg(format!(
            "error loading facts as JSON or ini - please check content: {path}"
        )),
        Err(Some(e)) => msg(format!(
            "error loading facts as ini - please check content: {path} ({e})"
        )),
    }
}

/// An INI file's sections as a mapping of mappings; `Err(None)` when it does not parse,
/// `Err(Some(why))` when a value cannot be interpolated.
fn ini_fact(text: &str) -> Result<Value, Option<String>> {
    let ini = crate::template::lookups::Ini::parse(text, "fact", false, false).map_err(|_| None)?;
    let mut out: Vec<(Value, Value)> = Vec::new();
    for sect in ini.sections.keys() {
        let mut opts: Vec<(Value, Value)> = Vec::new();
        // Python's `options()`: the section's own keys, then the `DEFAULT` ones.
        let mut items = ini.sections[sect].clone();
        for (k, v) in &ini.defaults {
            items.entry(k.clone()).or_insert_with(|| v.clone());
        }
        for (k, v) in items {
            let v = ini
                .interpolate(sect, &k, v.as_deref().unwrap_or_default(), 0)
                .map_err(|e| Some(e.msg.clone()))?;
            opts.push((Value::from(k), Value::from(v)));
        }
        out.push((Value::from(sect.as_str()), Value::from_iter(opts)));
    }
    Ok(Value::from_iter(out))
}

/// The bytes of `od -An -tx1` lines.
fn hex_bytes(lines: &[&str]) -> Vec<u8> {
    lines
        .iter()
        .flat_map(|l| l.split_whitespace())
        .filter_map(|h| u8::from_str_radix(h, 16).ok())
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn hex(s: &str) -> String {
        s.bytes().map(|b| format!(" {b:02x}")).collect()
    }

    #[test]
    fn local_facts_parse_json_ini_and_say_why_a_file_is_unusable() {
        let out = format!(
            "@@local\n@@local-fact 1\npath=/f/a.fact\nread=1\n@@local-out 1\n{}\n\
             @@local-fact 2\npath=/f/ok.fact\nrc=0\n@@local-out 2\n{}\n@@local-err 2\n\
             @@local-fact 3\npath=/f/bad.fact\nrc=1\n@@local-out 3\n@@local-err 3\n{}\n\
             @@local-fact 4\npath=/f/dead.fact\nstat=missing\n\
             @@local-fact 5\npath=/f/pct.fact\nread=1\n@@local-out 5\n{}\n\
             @@local-fact 6\npath=/f/junk.fact\nread=1\n@@local-out 6\n{}\n\
             @@local-fact 7\npath=/f/empty.fact\nread=1\n@@end\n",
            hex("[General]\nBar=loaded\n[DEFAULT]\nd=%(x)s!\nx=1\n"),
            hex("{\"script_ran\": true}\n"),
            hex("boom"),
            hex("[s]\nv = a % b\n"),
            hex("k=v\n"),
        );
        let secs = Sections::parse(&out);
        let mut f = Vars::new();
        let w = local_facts(&secs, &mut f);
        let l = &f["local"];
        assert_eq!(
            l.get_attr("a").unwrap().to_string(),
            "{\"General\": {\"bar\": \"loaded\", \"d\": \"1!\", \"x\": \"1\"}}"
        );
        assert!(
            l.get_attr("ok")
                .unwrap()
                .get_attr("script_ran")
                .unwrap()
                .is_true()
        );
        assert_eq!(
            l.get_attr("bad").unwrap().as_str(),
            Some("Failure executing fact script (/f/bad.fact), rc: 1, err: boom")
        );
        assert!(
            l.get_attr("dead")
                .unwrap()
                .as_str()
                .unwrap()
                .starts_with("Could not stat fact (/f/dead.fact)")
        );
        assert!(l.get_attr("pct").unwrap().as_str().unwrap().starts_with(
            "error loading facts as ini - please check content: /f/pct.fact ('%' must be followed"
        ));
        assert_eq!(
            l.get_attr("junk").unwrap().as_str(),
            Some("error loading facts as JSON or ini - please check content: /f/junk.fact")
        );
        assert_eq!(l.get_attr("empty").unwrap().len(), Some(0));
        assert_eq!(w.len(), 4);
        // No fact path: `local` is still set, empty.
        let mut f = Vars::new();
        local_facts(&Sections::parse("@@uname\n"), &mut f);
        assert_eq!(f["local"].len(), Some(0));
    }
}
