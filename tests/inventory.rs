//! Integration tests for the inventory: real files in a temporary folder.

use prov::ErrorKind;
use prov::inventory::Inventory;
use std::path::PathBuf;
use std::sync::atomic::{AtomicUsize, Ordering};

static COUNTER: AtomicUsize = AtomicUsize::new(0);

/// A temporary folder removed on drop.
struct Tmp(PathBuf);

impl Tmp {
    fn new(tag: &str) -> Tmp {
        let n = COUNTER.fetch_add(1, Ordering::SeqCst);
        let p = std::env::temp_dir().join(format!("prov-inv-{tag}-{}-{n}", std::process::id()));
        let _ = std::fs::remove_dir_all(&p);
        std::fs::create_dir_all(&p).unwrap();
        Tmp(p)
    }
    fn write(&self, rel: &str, text: &str) -> PathBuf {
        let p = self.0.join(rel);
        std::fs::create_dir_all(p.parent().unwrap()).unwrap();
        std::fs::write(&p, text).unwrap();
        p
    }
    fn path(&self, rel: &str) -> String {
        self.0.join(rel).to_string_lossy().into_owned()
    }
}

impl Drop for Tmp {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

fn load(paths: &[String]) -> Result<Inventory, Box<prov::Error>> {
    Inventory::load(paths).map_err(Box::new)
}

fn load_ini(text: &str) -> Inventory {
    let t = Tmp::new("ini");
    t.write("hosts", text);
    load(&[t.path("hosts")]).unwrap()
}

fn load_err(name: &str, text: &str) -> prov::Error {
    let t = Tmp::new("err");
    t.write(name, text);
    match load(&[t.path(name)]) {
        Ok(inv) => panic!("expected an error, got {inv:?}"),
        Err(e) => *e,
    }
}

fn json(v: &prov::value::Value) -> String {
    serde_json::to_string(v).unwrap()
}

fn var(inv: &Inventory, host: &str, name: &str) -> String {
    inv.host_vars(host)
        .get(name)
        .map(json)
        .unwrap_or_else(|| "<unset>".into())
}

fn sel(inv: &Inventory, pattern: &str) -> Vec<String> {
    inv.select(pattern).unwrap()
}

const INI: &str = r#"# a comment
; another comment
lone1 ansible_host=10.0.0.9

[web]
web[1:3] http_port=8080
web-special:2222 ansible_user='deploy user' weight=1.5 enabled=True label="x y" raw=yes

[db]
db[01:02].example.com
dbx ansible_port=5432 tags="['a', 'b']"

[letters]
node[a:c]
stride[1:9:4]

[prod:children]
web
db

[prod:vars]
env=production
ntp = pool.ntp.org
count=3
quoted='007'

[all:vars]
env=default
"#;

#[test]
fn ini_groups_hosts_children_and_values() {
    let inv = load_ini(INI);
    let hosts: Vec<&str> = inv.hosts.keys().map(|s| s.as_str()).collect();
    assert_eq!(
        hosts,
        [
            "lone1",
            "web1",
            "web2",
            "web3",
            "web-special",
            "db01.example.com",
            "db02.example.com",
            "dbx",
            "nodea",
            "nodeb",
            "nodec",
            "stride1",
            "stride5",
            "stride9"
        ]
    );
    assert_eq!(inv.groups["prod"].children, ["web", "db"]);
    assert_eq!(inv.groups["ungrouped"].hosts, ["lone1"]);
    assert_eq!(inv.groups["all"].children, ["ungrouped", "letters", "prod"]);
    // Host line values: literal_eval-ish.
    assert_eq!(var(&inv, "web1", "http_port"), "8080");
    assert_eq!(var(&inv, "web-special", "ansible_port"), "2222");
    assert_eq!(var(&inv, "web-special", "ansible_user"), "\"deploy user\"");
    assert_eq!(var(&inv, "web-special", "weight"), "1.5");
    assert_eq!(var(&inv, "web-special", "enabled"), "true");
    assert_eq!(var(&inv, "web-special", "label"), "\"x y\"");
    assert_eq!(var(&inv, "web-special", "raw"), "\"yes\"");
    assert_eq!(var(&inv, "dbx", "tags"), "[\"a\",\"b\"]");
    assert_eq!(var(&inv, "lone1", "ansible_host"), "\"10.0.0.9\"");
    // Group vars: [g:vars] lines are `k = v`, values literal_eval-ish.
    assert_eq!(var(&inv, "web2", "env"), "\"production\"");
    assert_eq!(var(&inv, "web2", "ntp"), "\"pool.ntp.org\"");
    assert_eq!(var(&inv, "web2", "count"), "3");
    assert_eq!(var(&inv, "web2", "quoted"), "\"007\"");
    assert_eq!(var(&inv, "nodea", "env"), "\"default\"");
    assert_eq!(var(&inv, "nodea", "count"), "<unset>");
    // group_names
    assert_eq!(inv.group_names("web1"), ["prod", "web"]);
    assert_eq!(inv.group_names("lone1"), ["ungrouped"]);
    assert_eq!(inv.group_names("nodeb"), ["letters"]);
    assert!(inv.group_names("nope").is_empty());
    assert_eq!(
        inv.inventory_file("web1").unwrap().file_name().unwrap(),
        "hosts"
    );
}

#[test]
fn ini_groups_map_expands_children() {
    let inv = load_ini(INI);
    let m = inv.groups_map();
    let keys: Vec<&str> = m.keys().map(|s| s.as_str()).collect();
    assert_eq!(keys, ["all", "ungrouped", "web", "db", "letters", "prod"]);
    assert_eq!(
        m["prod"],
        [
            "web1",
            "web2",
            "web3",
            "web-special",
            "db01.example.com",
            "db02.example.com",
            "dbx"
        ]
    );
    assert_eq!(m["all"].len(), 14);
    assert_eq!(m["all"][0], "lone1");
    assert_eq!(m["ungrouped"], ["lone1"]);
}

#[test]
fn ini_forward_references_and_group_vars_sections() {
    // Children and vars may name groups declared later in the same file.
    let inv = load_ini("[top:children]\nmid\n[mid:vars]\nx=1\n[mid:children]\nleaf\n[leaf]\nh1\n");
    assert_eq!(inv.group_names("h1"), ["leaf", "mid", "top"]);
    assert_eq!(var(&inv, "h1", "x"), "1");
    assert_eq!(inv.group_depth("leaf"), Some(3));
}

#[test]
fn ipv6_hosts_and_ports() {
    let inv = load_ini("[v6]\nfe80::1\n[fe80::2]:2200 x=1\n10.0.0.1:22\n");
    assert_eq!(sel(&inv, "v6"), ["fe80::1", "fe80::2", "10.0.0.1"]);
    assert_eq!(var(&inv, "fe80::2", "ansible_port"), "2200");
    assert_eq!(var(&inv, "10.0.0.1", "ansible_port"), "22");
    assert_eq!(var(&inv, "fe80::1", "ansible_port"), "<unset>");
}

const YAML: &str = r#"
all:
  hosts:
    lone1:
      ansible_host: 10.0.0.9
  vars:
    env: default
  children:
    web:
      hosts:
        web[1:2]:
          http_port: 8080
        web-special:2222:
          ansible_user: deploy
    prod:
      children:
        web:
        db:
          hosts:
            db[01:02].example.com:
          vars:
            role: database
      vars:
        env: production
        port: "0644"
        mode: 0644
        flag: yes
top_level_group:
  hosts: single
"#;

#[test]
fn yaml_inventory() {
    let t = Tmp::new("yaml");
    t.write("inv.yml", YAML);
    let inv = load(&[t.path("inv.yml")]).unwrap();
    let hosts: Vec<&str> = inv.hosts.keys().map(|s| s.as_str()).collect();
    assert_eq!(
        hosts,
        [
            "lone1",
            "web1",
            "web2",
            "web-special",
            "db01.example.com",
            "db02.example.com",
            "single"
        ]
    );
    assert_eq!(inv.groups["all"].hosts, ["lone1"]);
    assert_eq!(inv.groups["ungrouped"].hosts, ["lone1"]);
    assert_eq!(inv.groups["prod"].children, ["web", "db"]);
    assert_eq!(var(&inv, "web1", "http_port"), "8080");
    assert_eq!(var(&inv, "web-special", "ansible_port"), "2222");
    assert_eq!(var(&inv, "web-special", "ansible_user"), "\"deploy\"");
    assert_eq!(var(&inv, "db01.example.com", "role"), "\"database\"");
    assert_eq!(var(&inv, "web2", "env"), "\"production\"");
    // YAML 1.1 scalars, via the crate's YAML loader.
    assert_eq!(var(&inv, "web2", "port"), "\"0644\"");
    assert_eq!(var(&inv, "web2", "mode"), "420");
    assert_eq!(var(&inv, "web2", "flag"), "true");
    assert_eq!(var(&inv, "lone1", "env"), "\"default\"");
    assert_eq!(var(&inv, "single", "env"), "\"default\"");
    assert_eq!(inv.group_names("web1"), ["prod", "web"]);
    assert_eq!(inv.group_names("single"), ["top_level_group"]);
    assert!(inv.warnings.is_empty(), "{:?}", inv.warnings);
}

#[test]
fn yaml_sniffed_without_extension_and_unknown_keys_warn() {
    let t = Tmp::new("sniff");
    t.write(
        "inventory",
        "all:\n  children:\n    web:\n      host:\n        w1:\n      hosts:\n        w2:\n",
    );
    let inv = load(&[t.path("inventory")]).unwrap();
    assert_eq!(sel(&inv, "web"), ["w2"]);
    assert_eq!(inv.warnings.len(), 1);
    assert!(
        inv.warnings[0].contains("unexpected key `host`"),
        "{:?}",
        inv.warnings
    );
    assert!(
        inv.warnings[0].contains("did you mean `hosts`"),
        "{:?}",
        inv.warnings
    );
    assert!(
        inv.warnings[0].contains("inventory:4:7"),
        "{:?}",
        inv.warnings
    );
}

#[test]
fn ini_text_in_a_yml_file_is_read_as_ini_like_ansible() {
    let t = Tmp::new("iniyml");
    t.write("hosts.yml", "[web]\nw1 x=1\n");
    let inv = load(&[t.path("hosts.yml")]).unwrap();
    assert_eq!(sel(&inv, "web"), ["w1"]);
    // When neither format fits, the YAML error is reported (the extension says YAML).
    let e = load_err("inv.yml", "[web\nw1: [\n");
    assert_eq!(e.kind, ErrorKind::Yaml, "{e}");
    let e = load_err("inv.yml", "- a\n- b: [c\n");
    assert_eq!(e.kind, ErrorKind::Yaml, "{e}");
}

#[test]
fn secrets_are_not_echoed_in_errors() {
    let e = load_err("hosts", "[web]\nw1 =hunter2\n");
    assert!(!e.to_string().contains("hunter2"), "{e}");
    let e = load_err("hosts", "[web]\nw1\n[web:vars]\n=hunter2\n");
    assert!(!e.to_string().contains("hunter2"), "{e}");
}

#[test]
fn empty_inventory_files() {
    let t = Tmp::new("empty");
    t.write("a.yml", "");
    t.write("b", "# nothing\n");
    let inv = load(&[t.path("a.yml"), t.path("b")]).unwrap();
    assert!(inv.hosts.is_empty());
    assert!(sel(&inv, "all").is_empty());
}

#[test]
fn implicit_localhost() {
    let t = Tmp::new("local");
    t.write("hosts", "[web]\nw1\n");
    t.write(
        "group_vars/all.yml",
        "ansible_connection: ssh\nfrom_all: 1\n",
    );
    t.write("host_vars/localhost.yml", "hv: 2\n");
    let inv = load(&[t.path("hosts")]).unwrap();
    assert_eq!(sel(&inv, "localhost"), ["localhost"]);
    assert_eq!(sel(&inv, "all"), ["w1"]);
    assert_eq!(sel(&inv, "*"), ["w1"]);
    assert_eq!(sel(&inv, "web:localhost"), ["w1", "localhost"]);
    assert!(!inv.groups_map()["all"].contains(&"localhost".to_string()));
    assert!(inv.is_implicit_localhost("localhost"));
    assert!(inv.group_names("localhost").is_empty());
    let v = inv.host_vars("localhost");
    assert_eq!(json(&v["ansible_connection"]), "\"local\"");
    // Ansible's implicit localhost runs the controller's own Python.
    assert!(json(&v["ansible_python_interpreter"]).contains("python3"));
    assert_eq!(json(&v["from_all"]), "1");
    assert_eq!(json(&v["hv"]), "2");
    // Other hosts keep group_vars/all's connection.
    assert_eq!(var(&inv, "w1", "ansible_connection"), "\"ssh\"");
    // Unknown hosts have no vars.
    assert!(inv.host_vars("nope").is_empty());

    // An explicit localhost is an ordinary host.
    let t2 = Tmp::new("local2");
    t2.write("hosts", "localhost\n");
    let inv = load(&[t2.path("hosts")]).unwrap();
    assert!(!inv.is_implicit_localhost("localhost"));
    assert_eq!(sel(&inv, "all"), ["localhost"]);
    assert_eq!(var(&inv, "localhost", "ansible_connection"), "<unset>");

    // No sources: only the implicit localhost.
    let inv = Inventory::load(&[]).unwrap();
    assert!(sel(&inv, "all").is_empty());
    assert_eq!(sel(&inv, "localhost"), ["localhost"]);
    assert_eq!(sel(&inv, "127.0.0.1"), ["127.0.0.1"]);
}

#[test]
fn host_list_sources() {
    let inv = Inventory::load(&["h1,h2:2222, h3".to_string()]).unwrap();
    assert_eq!(sel(&inv, "all"), ["h1", "h2", "h3"]);
    assert_eq!(sel(&inv, "ungrouped"), ["h1", "h2", "h3"]);
    assert_eq!(var(&inv, "h2", "ansible_port"), "2222");
    let inv = Inventory::load(&["localhost,".to_string()]).unwrap();
    assert_eq!(sel(&inv, "all"), ["localhost"]);
    assert!(!inv.is_implicit_localhost("localhost"));
    let e = Inventory::load(&["h1,h2:x".to_string()]).unwrap_err();
    assert_eq!(e.kind, ErrorKind::Inventory);
}

#[test]
fn missing_source_is_a_warning_with_a_hint() {
    // As in Ansible: the run goes on with what exists (only the implicit localhost here).
    let inv = Inventory::load(&["/nonexistent/prov/inventory".to_string()]).unwrap();
    assert!(sel(&inv, "all").is_empty());
    let w = inv.warnings.join("\n");
    assert!(
        w.contains("Unable to parse /nonexistent/prov/inventory as an inventory source")
            && w.contains("does not exist")
            && w.contains("comma")
            && w.contains("No inventory was parsed, only implicit localhost is available"),
        "{w}"
    );
    let t = Tmp::new("missing");
    t.write("inventory", "h1\n");
    let inv = Inventory::load(&[t.path("inventroy")]).unwrap();
    let hint = format!("did you mean `{}`?", t.path("inventory"));
    assert!(inv.warnings[0].contains(&hint), "{:?}", inv.warnings);
    let inv = Inventory::load(&["web1-not-a-file".to_string()]).unwrap();
    assert!(
        inv.warnings[0].contains("`web1-not-a-file,`"),
        "{:?}",
        inv.warnings
    );
    // one source missing, another there: only the first warning
    let inv = Inventory::load(&[t.path("inventroy"), t.path("inventory")]).unwrap();
    assert_eq!(sel(&inv, "all"), ["h1"]);
    assert_eq!(inv.warnings.len(), 1, "{:?}", inv.warnings);
}

#[test]
fn directory_sources() {
    let t = Tmp::new("dir");
    t.write("inv/01-hosts", "[web]\nw1\n");
    t.write("inv/02-more.yml", "db:\n  hosts:\n    d1:\n");
    t.write("inv/03.ini", "[cache]\nc1\n");
    t.write("inv/sub/04", "[web]\nw2\n");
    t.write("inv/.hidden", "[bad\n");
    t.write("inv/notes.md", "[bad\n");
    t.write("inv/old.retry", "[bad\n");
    t.write("inv/x.orig", "[bad\n");
    t.write("inv/backup~", "[bad\n");
    t.write("inv/ansible.cfg", "[defaults]\nx = y z\n");
    t.write("inv/group_vars/web.yml", "gv: 1\n");
    t.write("inv/host_vars/w1", "hv: 2\n");
    let inv = load(&[t.path("inv")]).unwrap();
    assert_eq!(sel(&inv, "all"), ["w1", "w2", "d1", "c1"]);
    assert_eq!(sel(&inv, "web"), ["w1", "w2"]);
    assert_eq!(var(&inv, "w2", "gv"), "1");
    assert_eq!(var(&inv, "w1", "hv"), "2");
    assert!(!inv.groups.contains_key("bad"));
}

#[test]
fn several_sources_merge() {
    let t = Tmp::new("multi");
    t.write("a/hosts", "[web]\nw1 x=1\n[web:vars]\ng=a\n");
    t.write("a/group_vars/web.yml", "src: a\nonly_a: 1\n");
    t.write(
        "b/hosts.yml",
        "web:\n  hosts:\n    w1: {x: 2}\n    w2:\n  vars: {g: b}\n",
    );
    t.write("b/group_vars/web.yml", "src: b\n");
    let inv = load(&[t.path("a/hosts"), t.path("b/hosts.yml")]).unwrap();
    assert_eq!(sel(&inv, "web"), ["w1", "w2"]);
    assert_eq!(var(&inv, "w1", "x"), "2");
    assert_eq!(var(&inv, "w1", "g"), "\"b\"");
    // Later sources' group_vars win; earlier ones still contribute.
    assert_eq!(var(&inv, "w2", "src"), "\"b\"");
    assert_eq!(var(&inv, "w2", "only_a"), "1");
}

#[test]
fn vars_dir_file_kinds() {
    let t = Tmp::new("vkinds");
    t.write("hosts", "[a]\nh1\n[b]\nh1\n[c]\nh1\n[d]\nh1\n[e]\nh1\n");
    t.write("group_vars/a", "from_a: plain\n");
    t.write("group_vars/b.yaml", "from_b: yaml\n");
    t.write("group_vars/c.json", "{\"from_c\": \"json\"}\n");
    // A folder: files in sorted order, nested folders too; later files override.
    t.write("group_vars/d/01.yml", "from_d: first\nd1: 1\n");
    t.write("group_vars/d/02.yml", "from_d: second\n");
    t.write("group_vars/d/sub/03", "d3: 3\n");
    t.write("group_vars/d/.hidden.yml", "from_d: hidden\n");
    t.write("group_vars/d/skip.txt", "from_d: txt\n");
    t.write("group_vars/d/old~", "from_d: backup\n");
    // Only the first existing of NAME, NAME.yml, NAME.yaml, NAME.json is read.
    t.write("group_vars/e.yml", "from_e: yml\n");
    t.write(
        "group_vars/e.json",
        "{\"from_e\": \"json\", \"e_json\": 1}\n",
    );
    // Files for unknown groups are ignored (even broken ones).
    t.write("group_vars/unknown.yml", "[broken\n");
    let inv = load(&[t.path("hosts")]).unwrap();
    let v = |k| var(&inv, "h1", k);
    assert_eq!(v("from_a"), "\"plain\"");
    assert_eq!(v("from_b"), "\"yaml\"");
    assert_eq!(v("from_c"), "\"json\"");
    assert_eq!(v("from_d"), "\"second\"");
    assert_eq!(v("d1"), "1");
    assert_eq!(v("d3"), "3");
    assert_eq!(v("from_e"), "\"yml\"");
    assert_eq!(v("e_json"), "<unset>");
}

#[test]
fn bad_vars_files_are_errors_with_locations() {
    let t = Tmp::new("vbad");
    t.write("hosts", "[web]\nw1\n");
    t.write("group_vars/web.yml", "- a\n- b\n");
    let e = load(&[t.path("hosts")]).unwrap_err();
    assert_eq!(e.kind, ErrorKind::Inventory);
    assert!(e.msg.contains("must be a mapping"), "{e}");
    let loc = e.loc.clone().unwrap();
    assert!(loc.file.ends_with("group_vars/web.yml"));
    assert_eq!((loc.line, loc.col), (1, 1));

    let t = Tmp::new("vbad2");
    t.write("hosts", "[web]\nw1\n");
    t.write("host_vars/w1.yml", "a: 1\nb: [\n");
    let e = load(&[t.path("hosts")]).unwrap_err();
    assert_eq!(e.kind, ErrorKind::Yaml);
    assert!(e.loc.clone().unwrap().file.ends_with("host_vars/w1.yml"));
}

/// One variable, `v`, set at every level; removing the top level each time must reveal the next.
#[test]
fn precedence_of_every_level() {
    let t = Tmp::new("prec");
    // Inventory-file levels: all vars, parent group, child group, host.
    t.write(
        "inv/hosts",
        "[child]\nh1 v=host_inline\n[parent:children]\nchild\n\
         [all:vars]\nv=inv_all\n[parent:vars]\nv=inv_parent\n[child:vars]\nv=inv_child\n",
    );
    let levels = [
        ("pb/host_vars/h1.yml", "pb_host_vars"),
        ("inv/host_vars/h1.yml", "inv_host_vars"),
        ("", "host_inline"),
        ("pb/group_vars/child.yml", "pb_group_child"),
        ("pb/group_vars/parent.yml", "pb_group_parent"),
        ("inv/group_vars/child.yml", "inv_group_child"),
        ("inv/group_vars/parent.yml", "inv_group_parent"),
        ("pb/group_vars/all.yml", "pb_group_all"),
        ("inv/group_vars/all.yml", "inv_group_all"),
        ("", "inv_child"),
        ("", "inv_parent"),
        ("", "inv_all"),
    ];
    for (file, val) in &levels {
        if !file.is_empty() {
            t.write(file, &format!("v: {val}\n"));
        }
    }
    for (file, val) in levels.iter() {
        let mut inv = load(&[t.path("inv/hosts")]).unwrap();
        inv.add_playbook_vars_dir(&t.0.join("pb")).unwrap();
        assert_eq!(var(&inv, "h1", "v"), format!("\"{val}\""), "level {val}");
        // Remove this level to expose the next.
        if !file.is_empty() {
            std::fs::remove_file(t.0.join(file)).unwrap();
        } else {
            let text = std::fs::read_to_string(t.0.join("inv/hosts")).unwrap();
            let text = match *val {
                "host_inline" => text.replace("h1 v=host_inline", "h1"),
                "inv_child" => text.replace("v=inv_child", "other=1"),
                "inv_parent" => text.replace("v=inv_parent", "other=1"),
                _ => text.replace("v=inv_all", "other=1"),
            };
            std::fs::write(t.0.join("inv/hosts"), text).unwrap();
        }
    }
    let inv = load(&[t.path("inv/hosts")]).unwrap();
    assert_eq!(var(&inv, "h1", "v"), "<unset>");
}

#[test]
fn group_order_depth_then_priority_then_name() {
    // Same depth: by name unless ansible_group_priority says otherwise; deeper groups win.
    let inv = load_ini(
        "[alpha]\nh1\n[beta]\nh1\n[zeta:children]\nalpha\n\
         [alpha:vars]\nv=alpha\nw=alpha\n[beta:vars]\nv=beta\nw=beta\n[zeta:vars]\nv=zeta\nz=zeta\n",
    );
    // zeta is depth 1, alpha depth 2, beta depth 1: order zeta?/beta by name (beta, zeta), then alpha.
    assert_eq!(var(&inv, "h1", "v"), "\"alpha\"");
    assert_eq!(var(&inv, "h1", "z"), "\"zeta\"");
    let inv = load_ini("[a]\nh1\n[b]\nh1\n[a:vars]\nv=a\n[b:vars]\nv=b\n");
    assert_eq!(var(&inv, "h1", "v"), "\"b\"");
    let inv =
        load_ini("[a]\nh1\n[b]\nh1\n[a:vars]\nv=a\nansible_group_priority=10\n[b:vars]\nv=b\n");
    assert_eq!(var(&inv, "h1", "v"), "\"a\"");
    // The priority is not a variable.
    assert_eq!(var(&inv, "h1", "ansible_group_priority"), "<unset>");
    // group_vars/ files follow the same group order.
    let t = Tmp::new("prio");
    t.write(
        "hosts",
        "[a]\nh1\n[b]\nh1\n[a:vars]\nansible_group_priority=10\n",
    );
    t.write("group_vars/a.yml", "v: a\n");
    t.write("group_vars/b.yml", "v: b\n");
    let inv = load(&[t.path("hosts")]).unwrap();
    assert_eq!(var(&inv, "h1", "v"), "\"a\"");
}

const PAT: &str = "\
[web]
web1
web2
web3
[db]
db1
db2
[staging]
web1
db1
[dc_east:children]
web
[other]
app.example.com
api.example.com
";

#[test]
fn patterns() {
    let inv = load_ini(PAT);
    // `all` lists hosts like Ansible's `groups['all']`: the top-level groups' hosts in order
    // (ungrouped, db, staging, dc_east, other), then their children's (web).
    assert_eq!(
        sel(&inv, "all"),
        [
            "db1",
            "db2",
            "web1",
            "app.example.com",
            "api.example.com",
            "web2",
            "web3"
        ]
    );
    assert_eq!(sel(&inv, "*"), sel(&inv, "all"));
    assert_eq!(sel(&inv, "web*"), ["web1", "web2", "web3"]);
    assert_eq!(
        sel(&inv, "*.example.com"),
        ["app.example.com", "api.example.com"]
    );
    assert_eq!(sel(&inv, "db?"), ["db1", "db2"]);
    assert_eq!(sel(&inv, "web:db"), ["web1", "web2", "web3", "db1", "db2"]);
    assert_eq!(sel(&inv, "db,web"), ["db1", "db2", "web1", "web2", "web3"]);
    assert_eq!(
        sel(&inv, "web:db:web"),
        ["web1", "web2", "web3", "db1", "db2"]
    );
    assert_eq!(sel(&inv, "web:&staging"), ["web1"]);
    assert_eq!(sel(&inv, "web:!staging"), ["web2", "web3"]);
    assert_eq!(
        sel(&inv, "!staging"),
        ["db2", "app.example.com", "api.example.com", "web2", "web3"]
    );
    assert_eq!(sel(&inv, "&staging"), ["db1", "web1"]);
    // Unions first, then intersections, then exclusions, wherever they are written.
    assert_eq!(sel(&inv, "!web1:web:db:&staging"), ["db1"]);
    assert_eq!(sel(&inv, "~web[12]"), ["web1", "web2"]);
    assert_eq!(
        sel(&inv, "~(app|api)\\."),
        ["app.example.com", "api.example.com"]
    );
    assert_eq!(sel(&inv, "web[0]"), ["web1"]);
    assert_eq!(sel(&inv, "web[-1]"), ["web3"]);
    assert_eq!(sel(&inv, "web[1:]"), ["web2", "web3"]);
    assert_eq!(sel(&inv, "web[:1]"), ["web1", "web2"]);
    assert_eq!(sel(&inv, "web[0:1]"), ["web1", "web2"]);
    assert_eq!(sel(&inv, "web[0]:db[-1]"), ["web1", "db2"]);
    assert_eq!(sel(&inv, "dc_east"), ["web1", "web2", "web3"]);
    assert_eq!(sel(&inv, "db2"), ["db2"]);
    assert_eq!(sel(&inv, "db2:db1"), ["db2", "db1"]);
    assert_eq!(sel(&inv, "web[1-2]"), ["web2", "web3"]);
    // Nothing matches: empty, not an error.
    assert!(sel(&inv, "nomatch").is_empty());
    assert!(sel(&inv, "nomatch*").is_empty());
    assert_eq!(inv.suggest("webb").as_deref(), Some("web"));
}

#[test]
fn empty_patterns_and_limits_mean_all() {
    // As Ansible's `order_patterns`: no regular term selects `all`; a `--limit` with no term
    // limits nothing.
    let inv = load_ini(PAT);
    for p in ["", "  ", ",", ",,", " , ,"] {
        assert_eq!(sel(&inv, p), sel(&inv, "all"), "{p:?}");
        let mut hosts = sel(&inv, "all");
        inv.limit(&mut hosts, p).unwrap();
        assert_eq!(hosts, sel(&inv, "all"), "limit {p:?}");
    }
    assert_eq!(sel(&inv, "db1, ,    ,db2"), ["db1", "db2"]);
    let mut hosts = sel(&inv, "all");
    inv.limit(&mut hosts, ",,db2").unwrap();
    assert_eq!(hosts, ["db2"]);
    let mut hosts = sel(&inv, "db");
    inv.limit(&mut hosts, "!db1").unwrap();
    assert_eq!(hosts, ["db2"]);
}

#[test]
fn numeric_yaml_host_names_must_be_quoted() {
    // As ansible-core's YAML inventory plugin: `1234:` is a number, not a host name.
    let t = Tmp::new("numhost");
    t.write(
        "inv.yml",
        "all:\n  children:\n    kids:\n      hosts:\n        1234: {}\n",
    );
    let e = load(&[t.path("inv.yml")]).unwrap_err();
    assert!(
        e.msg.contains(
            "Host pattern 1234 must be a string. Enclose integers/floats in quotation marks."
        ),
        "{e}"
    );
    t.write(
        "ok.yml",
        "all:\n  children:\n    kids:\n      hosts:\n        '1234': {}\n",
    );
    let inv = load(&[t.path("ok.yml")]).unwrap();
    assert_eq!(sel(&inv, "kids"), ["1234"]);
}

#[test]
fn bad_patterns_are_errors() {
    let inv = load_ini(PAT);
    for p in ["~web(", "~(", "web[3]", "web[-4]", "web:&"] {
        let e = inv.select(p).unwrap_err();
        assert_eq!(e.kind, ErrorKind::Inventory, "{p}");
        assert!(e.hint.is_some(), "{p}");
    }
}

#[test]
fn list_json_matches_ansible_inventory() {
    let t = Tmp::new("list");
    t.write(
        "hosts",
        "lone\n[web]\nw2 a=1\nw1\n[db]\nd1\n[prod:children]\nweb\ndb\n[empty]\n[web:vars]\nport=80\n",
    );
    t.write("host_vars/d1.yml", "hv: x\n");
    let inv = load(&[t.path("hosts")]).unwrap();
    let expected = serde_json::json!({
        "_meta": {"hostvars": {
            "w1": {"port": 80},
            "w2": {"a": 1, "port": 80},
            "d1": {"hv": "x"}
        }, "profile": "inventory_legacy"},
        "all": {"children": ["ungrouped", "prod", "empty"]},
        "ungrouped": {"hosts": ["lone"]},
        "prod": {"children": ["web", "db"]},
        "web": {"hosts": ["w2", "w1"]},
        "db": {"hosts": ["d1"]}
    });
    let got = inv.list_json();
    assert_eq!(got, expected);
    // Keys are sorted, as `ansible-inventory --list` prints them.
    let keys: Vec<&String> = got.as_object().unwrap().keys().collect();
    assert_eq!(keys, ["_meta", "all", "db", "prod", "ungrouped", "web"]);
    let w2: Vec<&String> = got["_meta"]["hostvars"]["w2"]
        .as_object()
        .unwrap()
        .keys()
        .collect();
    assert_eq!(w2, ["a", "port"]);
}

#[test]
fn graph_matches_ansible_inventory() {
    let inv = load_ini("lone\n[web]\nw2\nw1\n[db]\nd1\n[prod:children]\nweb\ndb\n[empty]\n");
    assert_eq!(
        inv.graph(),
        "@all:\n  |--@ungrouped:\n  |  |--lone\n  |--@prod:\n  |  |--@web:\n  |  |  |--w2\n  |  |  |--w1\n  |  |--@db:\n  |  |  |--d1\n  |--@empty:"
    );
    assert_eq!(inv.graph_of("web").unwrap(), "@web:\n  |--w2\n  |--w1");
    let e = inv.graph_of("webb").unwrap_err();
    assert_eq!(e.hint.as_deref(), Some("did you mean `web`?"));
}

#[cfg(unix)]
fn write_script(t: &Tmp, rel: &str, body: &str) -> String {
    use std::os::unix::fs::PermissionsExt;
    let p = t.write(rel, body);
    std::fs::set_permissions(&p, std::fs::Permissions::from_mode(0o755)).unwrap();
    p.to_string_lossy().into_owned()
}

#[cfg(unix)]
#[test]
fn dynamic_inventory_scripts() {
    let t = Tmp::new("script");
    write_script(
        &t,
        "inv/dyn.sh",
        r#"#!/bin/sh
if [ "$1" != "--list" ]; then echo "unexpected $*" >&2; exit 3; fi
cat <<'JSON'
{
  "web": {"hosts": ["w1", "w2"], "vars": {"port": 80}},
  "db": ["d1"],
  "prod": {"children": ["web", "db"], "vars": {"env": "prod"}},
  "_meta": {"hostvars": {"w1": {"ansible_host": "10.0.0.1", "n": [1, 2]}}}
}
JSON
"#,
    );
    t.write("inv/group_vars/db.yml", "gv: 1\n");
    let inv = load(&[t.path("inv")]).unwrap();
    assert_eq!(sel(&inv, "prod"), ["w1", "w2", "d1"]);
    assert_eq!(var(&inv, "w1", "ansible_host"), "\"10.0.0.1\"");
    assert_eq!(var(&inv, "w1", "n"), "[1,2]");
    assert_eq!(var(&inv, "w2", "port"), "80");
    assert_eq!(var(&inv, "d1", "env"), "\"prod\"");
    assert_eq!(var(&inv, "d1", "gv"), "1");
    assert_eq!(inv.group_names("w2"), ["prod", "web"]);

    // Without _meta the script is asked for each host with --host.
    let t2 = Tmp::new("script2");
    let per_host = write_script(
        &t2,
        "dyn",
        r#"#!/bin/sh
case "$1" in
  --list) echo '{"app": ["a1", "a2"]}' ;;
  --host) echo "{\"who\": \"$2\"}" ;;
  *) exit 3 ;;
esac
"#,
    );
    let inv = load(&[per_host]).unwrap();
    assert_eq!(var(&inv, "a1", "who"), "\"a1\"");
    assert_eq!(var(&inv, "a2", "who"), "\"a2\"");

    // Failures are errors with the script's message.
    let t3 = Tmp::new("script3");
    let bad = write_script(&t3, "bad", "#!/bin/sh\necho 'no credentials' >&2\nexit 1\n");
    let e = load(&[bad]).unwrap_err();
    assert_eq!(e.kind, ErrorKind::Inventory);
    assert!(
        e.msg.contains("failed") && e.msg.contains("no credentials"),
        "{e}"
    );
    let garbage = write_script(&t3, "garbage", "#!/bin/sh\necho '[web]'\n");
    let e = load(&[garbage]).unwrap_err();
    assert!(e.msg.contains("valid JSON"), "{e}");
    let shape = write_script(&t3, "shape", "#!/bin/sh\necho '{\"web\": 5}'\n");
    let e = load(&[shape]).unwrap_err();
    assert!(e.msg.contains("must be a list or an object"), "{e}");
    // A non-executable file starting with #! is read as data, not run.
    t3.write("plain", "#!/bin/sh\nh1\n");
    let inv = load(&[t3.path("plain")]).unwrap();
    assert_eq!(sel(&inv, "all"), ["h1"]);
}

fn line_col(e: &prov::Error) -> (usize, usize) {
    let l = e.loc.as_ref().unwrap_or_else(|| panic!("no location: {e}"));
    (l.line, l.col)
}

#[test]
fn ini_errors_have_exact_locations() {
    let cases: &[(&str, &str, (usize, usize))] = &[
        ("[web]\nw1\n[db\nd1\n", "unclosed section header", (3, 1)),
        ("[web]\nnode[3:1]\n", "goes backwards", (2, 5)),
        ("[web]\n  w1 a='x y\n", "unbalanced single quote", (2, 8)),
        ("[web]\nw1\n\n[web:var]\nx=1\n", "unknown type: var", (4, 6)),
        ("[web]\nw1 novalue\n", "expected `key=value`", (2, 4)),
        (
            "[web:vars]\njust_a_name\n[web]\n",
            "expected `key=value`",
            (2, 1),
        ),
        (
            "[p:children]\nmissing\n",
            "includes undefined group: missing",
            (2, 1),
        ),
        ("[g:vars]\nx=1\n", "not defined: g", (1, 1)),
        ("[web]\nw1:\n", "ends in `:`", (2, 3)),
        ("[web]\nw1:99999\n", "out of range", (2, 4)),
        ("[web]\nw[1:2\n", "unclosed `[`", (2, 2)),
        ("[web]\n---\n", "invalid host `---`", (2, 1)),
        (
            "[web]\nw1\nansible_user=bob\n",
            "cannot contain `=`",
            (3, 1),
        ),
        ("[web]\nw1 =secret\n", "missing variable name", (2, 4)),
        ("[web] trailing\n", "unexpected text", (1, 7)),
        ("[my group]\n", "spaces", (1, 4)),
        ("[p:children]\na b\n", "expected a group name", (2, 1)),
        (
            "[a:children]\nb\n[b:children]\na\n",
            "dependency loop",
            (4, 1),
        ),
    ];
    for (text, want, at) in cases {
        let e = load_err("hosts", text);
        assert_eq!(e.kind, ErrorKind::Inventory, "{text}: {e}");
        assert!(e.msg.contains(want), "{text}: {e}");
        assert_eq!(line_col(&e), *at, "{text}: {e}");
        assert!(e.hint.is_some(), "{text}: {e}");
        assert!(e.loc.as_ref().unwrap().file.ends_with("hosts"));
    }
}

#[test]
fn yaml_errors_have_locations() {
    let cases: &[(&str, &str, (usize, usize))] = &[
        (
            "all:\n  hosts:\n    - h1\n    - h2\n",
            "invalid `hosts` entry",
            (3, 5),
        ),
        ("- h1\n- h2\n", "must be a mapping of groups", (1, 1)),
        (
            "all:\n  children:\n    web: [a]\n",
            "group `web` must be a mapping",
            (3, 10),
        ),
        (
            "all:\n  hosts:\n    h1: value\n",
            "host `h1` must have a mapping",
            (3, 9),
        ),
        ("all:\n  vars: [1]\n", "invalid `vars` entry", (2, 9)),
        ("all:\n  hosts:\n    n[5:1]:\n", "goes backwards", (3, 6)),
        ("plugin: aws_ec2\n", "inventory plugin", (1, 9)),
    ];
    for (text, want, at) in cases {
        let e = load_err("inv.yml", text);
        assert_eq!(e.kind, ErrorKind::Inventory, "{text}: {e}");
        assert!(e.msg.contains(want), "{text}: {e}");
        assert_eq!(line_col(&e), *at, "{text}: {e}");
        assert!(e.hint.is_some(), "{text}: {e}");
    }
    // YAML syntax errors come from the YAML loader, with a location.
    let e = load_err("inv.yaml", "all:\n  hosts: [a\n");
    assert_eq!(e.kind, ErrorKind::Yaml);
    assert!(e.loc.is_some());
}

/// Deterministic pseudo-random numbers (xorshift), so failures reproduce.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        let mut x = self.0;
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        self.0 = x;
        x
    }
    fn below(&mut self, n: usize) -> usize {
        (self.next() % n.max(1) as u64) as usize
    }
}

fn mutate(rng: &mut Rng, src: &str) -> String {
    const SPICE: &[&str] = &[
        "[",
        "]",
        ":",
        "'",
        "\"",
        "=",
        "#",
        "\\",
        " ",
        "\n",
        "-",
        "{",
        "}",
        ",",
        "*",
        "~",
        "!",
        "&",
        "[1:3]",
        "[3:1]",
        "[a:",
        ":children",
        ":vars",
        "\t",
        "é",
        "\u{0}",
        "---",
        "  ",
        "hosts:",
        "children:",
        "vars:",
        "- ",
        "null",
        "&a",
        "*a",
        "!!str",
        "9999999999999999999",
    ];
    let mut chars: Vec<char> = src.chars().collect();
    for _ in 0..=rng.below(4) {
        match rng.below(5) {
            0 if !chars.is_empty() => {
                let n = rng.below(chars.len());
                chars.truncate(n);
            }
            1 if !chars.is_empty() => {
                let at = rng.below(chars.len());
                let len = rng.below(8).min(chars.len() - at);
                chars.drain(at..at + len);
            }
            2 => {
                let at = rng.below(chars.len() + 1);
                let s = SPICE[rng.below(SPICE.len())];
                for (k, c) in s.chars().enumerate() {
                    chars.insert(at + k, c);
                }
            }
            3 if !chars.is_empty() => {
                let at = rng.below(chars.len());
                chars[at] = SPICE[rng.below(SPICE.len())].chars().next().unwrap_or('x');
            }
            _ if chars.len() > 2 => {
                // Swap two lines.
                let text: String = chars.iter().collect();
                let mut lines: Vec<&str> = text.lines().collect();
                if lines.len() > 1 {
                    let a = rng.below(lines.len());
                    let b = rng.below(lines.len());
                    lines.swap(a, b);
                }
                chars = lines.join("\n").chars().collect();
            }
            _ => {}
        }
    }
    chars.into_iter().collect()
}

#[test]
fn load_never_panics_on_mutated_input() {
    let t = Tmp::new("fuzz");
    let mut rng = Rng(0x5eed_1234_abcd_0001);
    let mut loaded = 0;
    let mut failed = 0;
    for i in 0..600 {
        let (name, base) = match i % 3 {
            0 => ("hosts", INI),
            1 => ("inv.yml", YAML),
            _ => ("inventory", PAT),
        };
        let text = mutate(&mut rng, base);
        let p = t.write(name, &text);
        let result = std::panic::catch_unwind(|| {
            let r = Inventory::load(&[p.to_string_lossy().into_owned()]);
            if let Ok(inv) = &r {
                // Exercise everything downstream of a successful load too.
                for pat in ["all", "web*:!db", "~w.*", "web[0]", "&db", "localhost"] {
                    let _ = inv.select(pat);
                }
                for h in inv.hosts.keys() {
                    let _ = inv.host_vars(h);
                    let _ = inv.group_names(h);
                }
                let _ = inv.list_json();
                let _ = inv.graph();
                let _ = inv.groups_map();
            }
            r.is_ok()
        });
        match result {
            Ok(true) => loaded += 1,
            Ok(false) => failed += 1,
            Err(_) => panic!("load panicked on input #{i}:\n{text}"),
        }
    }
    eprintln!("fuzz: loaded {loaded}, failed {failed}");
    // The mutations must exercise both outcomes, or the test proves little.
    assert!(
        loaded > 50 && failed > 50,
        "loaded {loaded}, failed {failed}"
    );
}

#[test]
fn errors_render_with_the_source_line() {
    let t = Tmp::new("render");
    t.write("hosts", "[web]\nnode[3:1] x=1\n");
    let e = load(&[t.path("hosts")]).unwrap_err();
    let r = e.render();
    assert!(r.contains("2 | node[3:1] x=1\n  |     ^"), "{r}");
}

#[test]
fn select_never_panics_on_mutated_patterns() {
    let inv = load_ini(PAT);
    let mut rng = Rng(0xfeed_beef_0bad_cafe);
    let bases = [
        "web:&staging:!db1",
        "~web[12]",
        "web[0:1],db[-1]",
        "*.example.com",
        "db?:localhost",
        "fe80::1",
        "[::1]",
    ];
    let (mut ok, mut err) = (0, 0);
    for i in 0..2000 {
        let p = mutate(&mut rng, bases[i % bases.len()]);
        let r = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| inv.select(&p).is_ok()));
        match r {
            Ok(true) => ok += 1,
            Ok(false) => err += 1,
            Err(_) => panic!("select panicked on {p:?}"),
        }
    }
    assert!(ok > 100 && err > 10, "ok {ok}, err {err}");
}

#[test]
fn deep_group_nesting_does_not_overflow() {
    // 3000 nested groups: g0 > g1 > ... > g2999, with one host at the bottom.
    let mut text = String::new();
    for i in 0..3000 {
        text.push_str(&format!("[g{i}:children]\ng{}\n", i + 1));
    }
    text.push_str("[g3000]\nbottom\n[g0:vars]\nv=top\n[g3000:vars]\nv=bottom\n");
    let inv = std::thread::Builder::new()
        .stack_size(256 * 1024)
        .spawn(move || {
            let inv = load_ini(&text);
            assert_eq!(sel(&inv, "g0"), ["bottom"]);
            assert_eq!(var(&inv, "bottom", "v"), "\"bottom\"");
            assert_eq!(inv.group_names("bottom").len(), 3001);
            assert_eq!(inv.group_depth("g3000"), Some(3001));
            let graph = inv.graph();
            assert_eq!(graph.lines().count(), 3 + 3001);
            assert!(graph.ends_with(&format!("{}--bottom", "  |".repeat(3002))));
            let list = inv.list_json();
            assert_eq!(list["g2999"]["children"], serde_json::json!(["g3000"]));
            assert_eq!(list["g3000"]["hosts"], serde_json::json!(["bottom"]));
            inv.hosts.len()
        })
        .unwrap()
        .join()
        .unwrap();
    assert_eq!(inv, 1);
}
