//! Property test: mutated playbooks, task files and templates never make the loaders panic;
//! every failure is an `Error` with a message (and, for YAML, a location).

use prov::modules::Registry;
use prov::playbook::Loader;
use prov::template::{Context, Templar};
use prov::value::{Value, Vars};
use std::sync::Arc;

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
    let mut s: Vec<char> = src.chars().collect();
    for _ in 0..1 + rng.below(4) {
        let pos = rng.below(s.len() + 1);
        match rng.below(4) {
            0 => {
                let end = (pos + rng.below(20)).min(s.len());
                s.drain(pos..end);
            }
            1 => {
                let p: Vec<char> = PIECES[rng.below(PIECES.len())].chars().collect();
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
    let loader = Loader {
        registry: &registry,
        roles_path: vec![],
    };
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
