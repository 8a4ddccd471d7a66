//! Property test: mutated playbooks, task files, inventories and templates never make the
//! loaders panic; every failure is an `Error` with a message (and, for YAML, a location).
//!
//! A stable stand-in for cargo-fuzz (which needs nightly): deterministic mutations (fixed
//! seeds, so case N is the same on every run) of inline seeds and of the repository's own
//! playbooks/*.yaml, playbooks/templates/* and inventory/* files. The `time_boxed_*` tests run
//! for a fixed short time each (`PROV_FUZZ_SECS` sets it; default 2 s): a failure names the case
//! and prints the input.

use prov::inventory::Inventory;
use prov::modules::Registry;
use prov::playbook::Loader;
use prov::template::{Context, Templar};
use prov::value::{Value, Vars};
use std::path::Path;
use std::sync::Arc;
use std::time::{Duration, Instant};

const PLAYBOOK: &str = r#"
- name: play
  hosts: all
  vars:
    a: 1
    b: "{{ a + 1 }}"
    l: [1, 2, 3]
  pre_tasks:
    - debug: msg=pre
  tasks:
    - name: copy
      copy:
        dest: /tmp/x
        content: "{{ b }}"
        mode: 0644
      when: a == 1
      register: r
      notify: h
    - block:
        - command: echo hi
          args: { chdir: /tmp }
      rescue:
        - debug: { var: r }
      always:
        - set_fact: { c: "{{ l | sum }}" }
    - name: loop
      file: path=/tmp/{{ item }} state=directory
      loop: "{{ l }}"
      loop_control: { label: "{{ item }}" }
      tags: [t1, always]
  handlers:
    - name: h
      debug: msg=handled
      listen: topic
"#;

/// A small deterministic PRNG (xorshift), so failures are reproducible.
struct Rng(u64);
impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }
    fn below(&mut self, n: usize) -> usize {
        (self.next() % n.max(1) as u64) as usize
    }
}

const PIECES: &[&str] = &[
    "{{",
    "}}",
    "{%",
    "%}",
    ":",
    "- ",
    "\n",
    "  ",
    "'",
    "\"",
    "[",
    "]",
    "{",
    "}",
    "&a",
    "*a",
    "!vault",
    "!unsafe",
    "<<: *a",
    "---",
    "|",
    ">",
    "#",
    "\t",
    "yes",
    "0644",
    "~",
    "when:",
    "loop:",
    "block:",
    "{{ undefined_thing }}",
    "{{ 1/0 }}",
    "é",
    "\u{0}",
    ",",
    "?",
    "!!int",
];

fn mutate(src: &str, rng: &mut Rng) -> String {
    mutate_with(src, rng, PIECES)
}

fn mutate_with(src: &str, rng: &mut Rng, pieces: &[&str]) -> String {
    let mut s: Vec<char> = src.chars().collect();
    for _ in 0..1 + rng.below(4) {
        let pos = rng.below(s.len() + 1);
        match rng.below(4) {
            0 => {
                let end = (pos + rng.below(20)).min(s.len());
                s.drain(pos..end);
            }
            1 => {
                let p: Vec<char> = pieces[rng.below(pieces.len())].chars().collect();
                s.splice(pos..pos, p);
            }
            2 => {
                if !s.is_empty() {
                    let i = rng.below(s.len());
                    let j = rng.below(s.len());
                    s.swap(i, j);
                }
            }
            _ => s.truncate(pos),
        }
    }
    s.into_iter().collect()
}

#[test]
fn mutated_playbooks_never_panic() {
    let dir = std::env::temp_dir().join(format!("prov-fuzz-pb-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let registry = Registry::builtin();
    let loader = Loader::new(&registry);
    let path = dir.join("p.yml");
    // The unmutated playbook must load.
    std::fs::write(&path, PLAYBOOK).unwrap();
    loader
        .load_playbook(&path)
        .expect("the seed playbook is valid");
    let mut rng = Rng(0x9E37_79B9_7F4A_7C15);
    let mut errors = 0;
    for i in 0..1500 {
        let text = mutate(PLAYBOOK, &mut rng);
        std::fs::write(&path, &text).unwrap();
        let r =
            std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| loader.load_playbook(&path)));
        match r {
            Ok(Ok(_)) => {}
            Ok(Err(e)) => {
                errors += 1;
                assert!(!e.msg.is_empty(), "empty error message for case {i}");
                let _ = e.render();
            }
            Err(_) => panic!("loader panicked on case {i}:\n{text}"),
        }
    }
    assert!(errors > 100, "mutations should produce errors ({errors})");
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn mutated_templates_never_panic() {
    let t = Templar::new();
    let mut vars = Vars::new();
    vars.insert("a".into(), Value::from(1));
    vars.insert("l".into(), Value::from(vec![1, 2, 3]));
    vars.insert("d".into(), Value::from_iter([("k", "v")]));
    vars.insert("s".into(), Value::from("text"));
    let ctx = Context::new(&t, vec![Arc::new(vars)]);
    let seeds = [
        "{{ a + 1 }} and {{ l | join(',') }}",
        "{% for x in l %}{{ x | string | upper }}{% endfor %}",
        "{{ d | dict2items | items2dict | to_json }}",
        "{{ s | regex_replace('(t)', '\\\\1x') | b64encode | b64decode }}",
        "{{ l | map('int') | select('>', 1) | list | combine({}) if false else l | unique | sort | first }}",
    ];
    let mut rng = Rng(42);
    for i in 0..3000 {
        let seed = seeds[i % seeds.len()];
        let text = mutate(seed, &mut rng);
        let r = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
            let _ = t.render_str(&text, &ctx);
            let _ = t.eval_cond(&text, &ctx);
        }));
        assert!(r.is_ok(), "templating panicked on case {i}: {text:?}");
    }
}

// ----- time-boxed targets seeded from the repository's own files -----

/// The repository's files under `dir` whose names end in one of `exts`, sorted, as seeds.
fn repo_seeds(dir: &str, exts: &[&str]) -> Vec<(String, String)> {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join(dir);
    let mut out: Vec<(String, String)> = std::fs::read_dir(&root)
        .unwrap_or_else(|e| panic!("{}: {e}", root.display()))
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.is_file() && exts.iter().any(|x| p.to_string_lossy().ends_with(x)))
        .map(|p| {
            let text = std::fs::read_to_string(&p).unwrap();
            (p.file_name().unwrap().to_string_lossy().into_owned(), text)
        })
        .collect();
    out.sort();
    assert!(!out.is_empty(), "no seeds in {}", root.display());
    out
}

/// Runs `case(0)`, `case(1)`, ... until the time box (`PROV_FUZZ_SECS`, default 2 s) is over;
/// returns how many cases ran. Each case returns the input it tried, printed if it panics.
fn time_boxed(name: &str, mut case: impl FnMut(usize) -> String) -> usize {
    let secs: f64 = std::env::var("PROV_FUZZ_SECS")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(2.0);
    let deadline = Instant::now() + Duration::from_secs_f64(secs);
    let mut n = 0;
    while n == 0 || Instant::now() < deadline {
        let mut input = String::new();
        let r = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
            input = case(n);
        }));
        if r.is_err() {
            panic!("{name}: case {n} panicked; input:\n{input}");
        }
        n += 1;
    }
    eprintln!("{name}: {n} cases in {secs} s");
    n
}

/// Asserts that an error is usable: a message, and a rendering that does not panic.
#[track_caller]
fn check_error(e: &prov::Error, what: &str, input: &str) {
    assert!(
        !e.msg.trim().is_empty(),
        "{what}: an error without a message for:\n{input}"
    );
    assert!(e.render().starts_with("[ERROR]: "), "{what}");
}

const INI_PIECES: &[&str] = &[
    "[",
    "]",
    "[web]\n",
    "[web:vars]\n",
    "[web:children]\n",
    ":vars",
    ":children",
    "=",
    "==",
    "[1:3]",
    "[a:c]",
    "[01:10:2]",
    "[3:1]",
    "[1:]",
    ":22",
    ":0",
    ":99999",
    "[::1]",
    "fe80::1",
    " ansible_host=10.0.0.1",
    " k='a b'",
    " k=\"x\"",
    "'",
    "\"",
    "#",
    ";",
    "\n",
    " ",
    "\t",
    "{",
    "}",
    "---",
    "é",
    "\u{0}",
    "\\",
    "[all:vars]\n",
    "[ungrouped]\n",
    "[web:children]\nweb\n",
];

/// An INI rendering of an inventory (the repository's are YAML), so that the INI parser gets
/// seeds with the same groups, hosts and variables.
fn to_ini(inv: &Inventory) -> String {
    let val = |v: &Value| {
        let s = v.to_string();
        if !s.contains('\'') {
            format!("'{s}'")
        } else {
            format!("\"{}\"", s.replace('"', ""))
        }
    };
    let mut out = String::new();
    for (name, g) in &inv.groups {
        if !g.hosts.is_empty() {
            out.push_str(&format!("[{name}]\n"));
            for h in &g.hosts {
                out.push_str(h);
                if let Some(host) = inv.hosts.get(h) {
                    for (k, v) in &host.vars {
                        out.push_str(&format!(" {k}={}", val(v)));
                    }
                }
                out.push('\n');
            }
        }
        if !g.children.is_empty() {
            out.push_str(&format!("[{name}:children]\n{}\n", g.children.join("\n")));
        }
        if !g.vars.is_empty() {
            out.push_str(&format!("[{name}:vars]\n"));
            for (k, v) in &g.vars {
                out.push_str(&format!("{k}={}\n", val(v)));
            }
        }
    }
    out
}

#[test]
fn time_boxed_inventories_never_panic() {
    let dir = std::env::temp_dir().join(format!("prov-fuzz-inv-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let mut seeds: Vec<(String, String)> = vec![(
        "inline.ini".into(),
        "# comment\nweb1 ansible_host=10.0.0.1 ansible_port=2222\n[web]\nweb[01:03].example.com k='a b'\n[db]\ndb-[a:c] x=1 y=\"2\"\n[db:vars]\nport=5432\n[all:children]\nweb\ndb\n[web:vars]\nlist=[1, 2]\n".into(),
    )];
    for (name, text) in repo_seeds("inventory", &[".yaml", ".yml", ".ini"]) {
        // Each repository inventory as itself and as the INI it corresponds to.
        let path = dir.join(&name);
        std::fs::write(&path, &text).unwrap();
        let inv = Inventory::load(&[path.to_string_lossy().into_owned()])
            .unwrap_or_else(|e| panic!("inventory/{name} must load: {}", e.render()));
        seeds.push((format!("{name}.ini"), to_ini(&inv)));
        seeds.push((name, text));
    }
    for (name, text) in &seeds {
        let path = dir.join(name);
        std::fs::write(&path, text).unwrap();
        Inventory::load(&[path.to_string_lossy().into_owned()])
            .unwrap_or_else(|e| panic!("seed {name} must load: {}\n{text}", e.render()));
    }
    let mut rng = Rng(0xD1B5_4A32_D192_ED03);
    let mut errors = 0;
    let n = time_boxed("inventory", |i| {
        let (name, seed) = &seeds[i % seeds.len()];
        let pieces = if name.ends_with(".ini") {
            INI_PIECES
        } else {
            PIECES
        };
        let input = mutate_with(seed, &mut rng, pieces);
        // The text under its own name, and as INI whatever it is (the INI parser must cope
        // with anything, YAML included).
        for file in [name.clone(), format!("{name}.as.ini")] {
            let path = dir.join(&file);
            std::fs::write(&path, &input).unwrap();
            if let Err(e) = Inventory::load(&[path.to_string_lossy().into_owned()]) {
                errors += 1;
                check_error(&e, &file, &input);
            }
        }
        input
    });
    let _ = std::fs::remove_dir_all(&dir);
    assert!(n >= 20, "only {n} inventory cases ran");
    assert!(errors > 0, "{n} mutated inventories and no error at all?");
}

#[test]
fn time_boxed_repository_playbooks_never_panic() {
    let dir = std::env::temp_dir().join(format!("prov-fuzz-site-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let registry = Registry::builtin();
    let loader = Loader::new(&registry);
    let seeds = repo_seeds("playbooks", &[".yaml", ".yml"]);
    for (name, text) in &seeds {
        let path = dir.join(name);
        std::fs::write(&path, text).unwrap();
        loader
            .load_playbook(&path)
            .unwrap_or_else(|e| panic!("playbooks/{name} must load: {}", e.render()));
    }
    let mut rng = Rng(0x2545_F491_4F6C_DD1D);
    let mut errors = 0;
    let n = time_boxed("playbook", |i| {
        let (name, seed) = &seeds[i % seeds.len()];
        let input = mutate(seed, &mut rng);
        let path = dir.join(name);
        std::fs::write(&path, &input).unwrap();
        if let Err(e) = loader.load_playbook(&path) {
            errors += 1;
            check_error(&e, name, &input);
            if e.kind == prov::error::ErrorKind::Yaml {
                assert!(e.loc.is_some(), "a YAML error without a location:\n{input}");
            }
        }
        input
    });
    let _ = std::fs::remove_dir_all(&dir);
    assert!(n >= 20, "only {n} playbook cases ran");
    assert!(errors > 0, "{n} mutated playbooks and no error at all?");
}

/// True when every `lookup`/`query` call in `text` is a `template` lookup (which only reads
/// files): mutations must not turn the seeds into `pipe` or `password` lookups that run
/// commands or write files.
fn only_template_lookups(text: &str) -> bool {
    let mut rest = text;
    while let Some(i) = rest.find(['(']) {
        let before = rest[..i].trim_end();
        let call = before.ends_with("lookup") || before.ends_with("query") || before.ends_with("q");
        let after = rest[i + 1..].trim_start();
        if call && !after.starts_with("'template'") && !after.starts_with("\"template\"") {
            return false;
        }
        rest = &rest[i + 1..];
    }
    true
}

#[test]
fn time_boxed_repository_templates_never_panic() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("playbooks");
    let seeds = repo_seeds("playbooks/templates", &[".j2"]);
    let t = Templar::new();
    let mut vars = Vars::new();
    // What the repository's templates use, so that the seeds themselves render.
    vars.insert(
        "playbook_dir".into(),
        Value::from(root.to_string_lossy().as_ref()),
    );
    vars.insert(
        "groups".into(),
        Value::from_iter([
            ("all", Value::from(vec!["n1", "n2", "n3"])),
            ("managers", Value::from(vec!["n1"])),
            ("workers", Value::from(vec!["n2", "n3"])),
        ]),
    );
    vars.insert("inventory_hostname".into(), Value::from("n1"));
    vars.insert("a".into(), Value::from(1));
    vars.insert("l".into(), Value::from(vec![1, 2, 3]));
    let ctx = Context::new(&t, vec![Arc::new(vars)]);
    for (name, text) in &seeds {
        assert!(
            only_template_lookups(text),
            "{name}: a seed with other lookups"
        );
        // A seed may need variables we do not set; it must not panic either way.
        if let Err(e) = t.render_text(text, &ctx) {
            check_error(&e, name, text);
        }
    }
    let mut rng = Rng(0x9E37_79B9_7F4A_7C15 ^ 0x1234);
    let mut errors = 0;
    let n = time_boxed("template", |i| {
        let (name, seed) = &seeds[i % seeds.len()];
        let input = mutate(seed, &mut rng);
        if !only_template_lookups(&input) {
            return input;
        }
        if let Err(e) = t.render_text(&input, &ctx) {
            errors += 1;
            check_error(&e, name, &input);
        }
        input
    });
    assert!(n >= 20, "only {n} template cases ran");
    assert!(errors > 0, "{n} mutated templates and no error at all?");
}
