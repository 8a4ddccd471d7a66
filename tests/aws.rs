//! The AWS modules against a real local EC2 emulator (moto, see `support/moto.rs`): through the
//! `prov` binary with playbooks on localhost, and through plan/apply directly. Every result is
//! checked independently with the AWS SDK (DescribeSecurityGroups / DescribeInstances).
//! Skips (printing `SKIP: ...`) when moto cannot be found, installed or started.
#![cfg(feature = "aws")]

mod common;
#[path = "support/moto.rs"]
mod moto;

use aws_sdk_ec2::Client;
use aws_sdk_ec2::config::{BehaviorVersion, Credentials, Region};
use aws_sdk_ec2::types::{
    Filter, InstanceType, IpPermission, IpRange, ResourceType, Tag, TagSpecification,
};
use common::module::ModuleHost;
use common::{Project, Run};
use moto::Moto;
use prov::Result;
use prov::connection::local::LocalConnection;
use prov::modules::{Action, Plan, Registry, validate_args};
use prov::value::{Vars, from_json, to_json, value_to_vars};
use serde_json::json;
use std::collections::BTreeSet;
use std::process::Command;

const INV: &str = "localhost ansible_connection=local\n";
const VPC_CIDR: &str = "10.20.0.0/16";
const ADMIN_CIDR: &str = "203.0.113.0/24";

/// An SDK client for the emulator, configured explicitly (no process environment).
fn sdk(endpoint: &str) -> Client {
    let conf = aws_sdk_ec2::Config::builder()
        .behavior_version(BehaviorVersion::latest())
        .region(Region::new("us-east-1"))
        .endpoint_url(endpoint)
        .credentials_provider(Credentials::new("test", "test", None, None, "test"))
        .build();
    Client::from_conf(conf)
}

async fn create_vpc(c: &Client) -> String {
    let out = c.create_vpc().cidr_block(VPC_CIDR).send().await.unwrap();
    out.vpc().unwrap().vpc_id().unwrap().to_string()
}

/// The group's ingress rules as `proto from-to source` lines, straight from the API.
async fn ingress(c: &Client, group_id: &str) -> BTreeSet<String> {
    let out = c
        .describe_security_groups()
        .group_ids(group_id)
        .send()
        .await
        .unwrap();
    let sg = &out.security_groups()[0];
    let mut set = BTreeSet::new();
    for p in sg.ip_permissions() {
        let proto = p.ip_protocol().unwrap_or("?");
        let ports = match (p.from_port(), p.to_port()) {
            (Some(a), Some(b)) => format!("{a}-{b}"),
            _ => "all".into(),
        };
        for r in p.ip_ranges() {
            set.insert(format!("{proto} {ports} {}", r.cidr_ip().unwrap()));
        }
        for g in p.user_id_group_pairs() {
            let id = g.group_id().unwrap();
            let src = if id == group_id { "self" } else { id };
            set.insert(format!("{proto} {ports} {src}"));
        }
    }
    set
}

async fn group_exists(c: &Client, name: &str, vpc: &str) -> Option<String> {
    let out = c
        .describe_security_groups()
        .filters(Filter::builder().name("group-name").values(name).build())
        .filters(Filter::builder().name("vpc-id").values(vpc).build())
        .send()
        .await
        .unwrap();
    out.security_groups()
        .first()
        .map(|g| g.group_id().unwrap().to_string())
}

fn lines(items: &[&str]) -> BTreeSet<String> {
    items.iter().map(|s| s.to_string()).collect()
}

/// The flagship's swarm rules as the API reports them, with the database ports given.
fn swarm_rules(db: &[u16]) -> BTreeSet<String> {
    let mut want = lines(&[&format!("tcp 22-22 {ADMIN_CIDR}")]);
    for p in [2376, 2377, 7946] {
        want.insert(format!("tcp {p}-{p} {VPC_CIDR}"));
        want.insert(format!("tcp {p}-{p} self"));
    }
    for p in [7946, 4789] {
        want.insert(format!("udp {p}-{p} {VPC_CIDR}"));
        want.insert(format!("udp {p}-{p} self"));
    }
    for p in db {
        want.insert(format!("tcp {p}-{p} {VPC_CIDR}"));
    }
    want
}

const SWARM_PLAY: &str = r#"
- hosts: localhost
  gather_facts: false
  tasks:
    - name: swarm security group
      amazon.aws.ec2_security_group:
        name: swarm
        description: Docker swarm nodes
        vpc_id: "{{ vpc_id }}"
        region: us-east-1
        endpoint_url: "{{ endpoint }}"
        purge_rules: "{{ purge | default(true) }}"
        rules:
          - proto: tcp
            ports: [22]
            cidr_ip: "{{ admin_cidr }}"
            rule_desc: admin ssh
          - proto: tcp
            ports: [2376, 2377, 7946]
            cidr_ip: "{{ vpc_cidr }}"
            group_name: swarm
          - proto: udp
            ports: [7946, 4789]
            cidr_ip: ["{{ vpc_cidr }}"]
            group_name: swarm
          - proto: tcp
            ports: "{{ db_ports | default([5432, 8008]) }}"
            cidr_ip: "{{ vpc_cidr }}"
        tags:
          Name: swarm
          Env: test
      register: sg
    - name: save the result
      copy:
        content: "{{ {'group_id': sg.group_id, 'group_name': sg.group_name, 'vpc_id': sg.vpc_id,
          'tags': sg.tags, 'ip_permissions': sg.ip_permissions, 'rules': sg.rules} | to_json }}"
        dest: "{{ out }}"
"#;

/// Runs `prov` with the emulator's test credentials in the child's environment only (an empty
/// value in `env` removes the variable).
fn prov(p: &Project, args: &[&str], env: &[(&str, &str)]) -> Run {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_prov"));
    cmd.args(args)
        .current_dir(&p.dir)
        .env("NO_COLOR", "1")
        .env_remove("ANSIBLE_CONFIG")
        .env("AWS_ACCESS_KEY_ID", "test")
        .env("AWS_SECRET_ACCESS_KEY", "test")
        .env("AWS_REGION", "us-east-1")
        .env("AWS_EC2_METADATA_DISABLED", "true")
        .env("AWS_CONFIG_FILE", p.dir.join("no-aws-config"))
        .env(
            "AWS_SHARED_CREDENTIALS_FILE",
            p.dir.join("no-aws-credentials"),
        );
    for v in [
        "AWS_PROFILE",
        "AWS_DEFAULT_REGION",
        "AWS_SESSION_TOKEN",
        "AWS_ENDPOINT_URL",
        "AWS_ENDPOINT_URL_EC2",
    ] {
        cmd.env_remove(v);
    }
    for (k, v) in env {
        if v.is_empty() {
            cmd.env_remove(k);
        } else {
            cmd.env(k, v);
        }
    }
    let out = cmd.output().expect("prov runs");
    Run {
        code: out.status.code().unwrap_or(-1),
        stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
    }
}

/// The `+`/`-` lines of the diff of the security group task in a run's output.
fn diff_lines(r: &Run) -> (Vec<String>, Vec<String>) {
    let section: Vec<&str> = r
        .stdout
        .lines()
        .skip_while(|l| !l.starts_with("TASK [swarm security group]"))
        .skip(1)
        .take_while(|l| !l.starts_with("TASK ["))
        .collect();
    let pick = |c: char, hdr: &str| -> Vec<String> {
        section
            .iter()
            .filter(|l| l.starts_with(c) && !l.starts_with(hdr))
            .map(|l| l.to_string())
            .collect()
    };
    (pick('+', "+++"), pick('-', "---"))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn security_group_playbook_converges_checks_and_deletes() {
    let Some(moto) = Moto::start("security_group_playbook") else {
        return;
    };
    let c = sdk(&moto.endpoint);
    let vpc = create_vpc(&c).await;
    let p = Project::new("aws-sg");
    p.file("site.yml", SWARM_PLAY).file("inv.ini", INV);
    let out = p.path("sg.json");
    let vars = json!({
        "vpc_id": vpc, "endpoint": moto.endpoint, "vpc_cidr": VPC_CIDR,
        "admin_cidr": ADMIN_CIDR, "out": out,
    })
    .to_string();
    let run = |extra: &[&str]| {
        let mut a = vec!["run", "site.yml", "-i", "inv.ini", "-e", &vars];
        a.extend_from_slice(extra);
        let a: Vec<String> = a.iter().map(|s| s.to_string()).collect();
        let a: Vec<&str> = a.iter().map(String::as_str).collect();
        prov(&p, &a, &[])
    };

    // 0. Check mode before the group exists: would create it, creates nothing.
    let r = run(&["--check", "--diff"]);
    r.success().changed("localhost", 2);
    assert_eq!(diff_lines(&r).0.len(), 13, "{}", r.stdout);
    assert!(diff_lines(&r).1.is_empty(), "{}", r.stdout);
    assert!(group_exists(&c, "swarm", &vpc).await.is_none());
    assert!(!p.exists("sg.json"));

    // 1. Create: the group and 13 rules.
    let r = run(&[]);
    r.success().changed("localhost", 2);
    let id = group_exists(&c, "swarm", &vpc)
        .await
        .expect("group created");
    assert_eq!(ingress(&c, &id).await, swarm_rules(&[5432, 8008]));
    let res: serde_json::Value = serde_json::from_str(&p.read("sg.json")).unwrap();
    assert_eq!(res["group_id"], json!(id));
    assert_eq!(res["vpc_id"], json!(vpc));
    assert_eq!(res["group_name"], json!("swarm"));
    assert_eq!(res["ip_permissions"].as_array().unwrap().len(), 13);
    assert!(
        res["ip_permissions"]
            .as_array()
            .unwrap()
            .iter()
            .any(|p| p["user_id_group_pairs"][0]["group_id"] == json!(id)),
        "self references carry the new id: {res}"
    );
    let tags = c
        .describe_security_groups()
        .group_ids(&id)
        .send()
        .await
        .unwrap();
    let tags: BTreeSet<String> = tags.security_groups()[0]
        .tags()
        .iter()
        .map(|t| format!("{}={}", t.key().unwrap(), t.value().unwrap()))
        .collect();
    assert_eq!(tags, lines(&["Env=test", "Name=swarm"]));

    // 2. Idempotent: nothing to do, and the same result (so the copy of it is ok too).
    let first = p.read("sg.json");
    let r = run(&[]);
    assert_eq!(p.read("sg.json"), first);
    r.success().changed("localhost", 0);

    // 3. Check + diff after changing one port: exactly one rule out, one in; nothing changes.
    let r = run(&["--check", "--diff", "-e", r#"{"db_ports":[5432,8009]}"#]);
    r.success();
    let (plus, minus) = diff_lines(&r);
    assert_eq!(
        plus,
        vec![format!("+tcp 8009 from {VPC_CIDR}")],
        "{}",
        r.stdout
    );
    assert_eq!(
        minus,
        vec![format!("-tcp 8008 from {VPC_CIDR}")],
        "{}",
        r.stdout
    );
    // The change summaries are in the JSON output.
    run(&[
        "--check",
        "--output",
        "json",
        "-e",
        r#"{"db_ports":[5432,8009]}"#,
    ])
    .success()
    .stdout_has(&format!(
        r#""changes":["authorize tcp 8009 from {VPC_CIDR}","revoke tcp 8008 from {VPC_CIDR}"]"#
    ));
    assert_eq!(ingress(&c, &id).await, swarm_rules(&[5432, 8008]));

    // 4. The real run applies exactly that.
    run(&["-e", r#"{"db_ports":[5432,8009]}"#])
        .success()
        .changed("localhost", 2);
    assert_eq!(ingress(&c, &id).await, swarm_rules(&[5432, 8009]));

    // 5. A rule added out of band: kept with purge_rules=false, revoked with the default.
    c.authorize_security_group_ingress()
        .group_id(&id)
        .ip_permissions(
            IpPermission::builder()
                .ip_protocol("tcp")
                .from_port(9999)
                .to_port(9999)
                .ip_ranges(IpRange::builder().cidr_ip("198.51.100.0/24").build())
                .build(),
        )
        .send()
        .await
        .unwrap();
    let mut with_extra = swarm_rules(&[5432, 8009]);
    with_extra.insert("tcp 9999-9999 198.51.100.0/24".into());
    // (the security group task is ok; the saved result now lists the extra rule)
    run(&["-e", r#"{"db_ports":[5432,8009]}"#, "-e", "purge=false"])
        .success()
        .changed("localhost", 1)
        .stdout_has("ok: [localhost]");
    assert_eq!(ingress(&c, &id).await, with_extra);
    assert!(
        p.read("sg.json")
            .contains(r#""tcp 9999 from 198.51.100.0/24""#)
    );
    let r = run(&["-e", r#"{"db_ports":[5432,8009]}"#, "--diff"]);
    r.success().changed("localhost", 2);
    assert_eq!(
        diff_lines(&r),
        (vec![], vec!["-tcp 9999 from 198.51.100.0/24".to_string()])
    );
    assert_eq!(ingress(&c, &id).await, swarm_rules(&[5432, 8009]));

    // 6. state=absent deletes it; a second time is ok.
    p.file(
        "absent.yml",
        r#"
- hosts: localhost
  gather_facts: false
  tasks:
    - ec2_security_group:
        name: swarm
        vpc_id: "{{ vpc_id }}"
        endpoint_url: "{{ endpoint }}"
        state: absent
"#,
    );
    let absent = |extra: &[&str]| {
        let mut a = vec!["run", "absent.yml", "-i", "inv.ini", "-e", &vars];
        a.extend_from_slice(extra);
        prov(&p, &a, &[])
    };
    absent(&["--check"]).success().changed("localhost", 1);
    assert!(group_exists(&c, "swarm", &vpc).await.is_some());
    absent(&[]).success().changed("localhost", 1);
    assert!(group_exists(&c, "swarm", &vpc).await.is_none());
    absent(&[]).success().changed("localhost", 0);
}

struct Lib {
    /// localhost (the AWS modules only call the API from the controller).
    h: ModuleHost,
    endpoint: String,
}

impl Lib {
    fn new(endpoint: &str) -> Self {
        Lib {
            h: ModuleHost::new("localhost", LocalConnection::new("localhost")),
            endpoint: endpoint.to_string(),
        }
    }

    /// Plans (never applies) `module` with `a` plus explicit region, endpoint and credentials.
    async fn plan(&self, module: &str, mut a: serde_json::Value) -> Result<Plan> {
        for (k, v) in [
            ("region", "us-east-1"),
            ("aws_access_key", "test"),
            ("aws_secret_key", "test"),
        ] {
            a[k] = json!(v);
        }
        if a.get("endpoint_url").is_none() {
            a["endpoint_url"] = json!(self.endpoint);
        }
        self.h.plan_with(module, &a, false, true).await
    }

    /// Applies a plan the way the engine does; returns the merged result.
    async fn apply(&self, plan: Plan) -> Result<Vars> {
        let mut result = plan.result;
        for ch in plan.changes {
            match ch.action {
                Action::Call(a) => result.extend(a.apply().await?),
                other => panic!("AWS modules only use Action::Call, got {other:?}"),
            }
        }
        Ok(result)
    }
}

fn summaries(p: &Plan) -> Vec<String> {
    p.changes.iter().map(|c| c.summary.clone()).collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn security_group_plan_apply_check_mode_and_errors() {
    let Some(moto) = Moto::start("security_group_plan_apply") else {
        return;
    };
    let c = sdk(&moto.endpoint);
    let vpc = create_vpc(&c).await;
    let lib = Lib::new(&moto.endpoint);
    let args = json!({
        "name": "web", "description": "web servers", "vpc_id": vpc,
        "rules": [
            {"proto": "tcp", "ports": ["80", 443, "8000-8010"], "cidr_ip": "0.0.0.0/0"},
            {"proto": "all", "group_name": "web"},
            {"proto": "icmp", "from_port": 8, "to_port": -1, "cidr_ip": "10.20.1.7/16"}
        ]
    });
    // Check mode is planning without applying: twice the same plan, nothing created.
    let p1 = lib
        .plan("amazon.aws.ec2_security_group", args.clone())
        .await
        .unwrap();
    let want_changes = vec![
        format!("create security group web in {vpc}"),
        "authorize all from self".to_string(),
        "authorize icmp type 8 from 10.20.0.0/16".to_string(),
        "authorize tcp 80 from 0.0.0.0/0".to_string(),
        "authorize tcp 443 from 0.0.0.0/0".to_string(),
        "authorize tcp 8000-8010 from 0.0.0.0/0".to_string(),
    ];
    assert_eq!(summaries(&p1), want_changes);
    let diff = p1.changes[0].diff.as_ref().expect("a diff");
    assert_eq!(diff.before, "");
    assert_eq!(
        diff.after,
        "all from self\nicmp type 8 from 10.20.0.0/16\ntcp 80 from 0.0.0.0/0\n\
tcp 443 from 0.0.0.0/0\ntcp 8000-8010 from 0.0.0.0/0\n"
    );
    assert_eq!(
        p1.result["group_id"].as_str(),
        Some("(new group: id assigned when applied)")
    );
    let p2 = lib.plan("ec2_security_group", args.clone()).await.unwrap();
    assert_eq!(summaries(&p2), want_changes);
    assert!(group_exists(&c, "web", &vpc).await.is_none());

    // Apply: the returned id is the real one, and a second plan is empty.
    let res = lib.apply(p2).await.unwrap();
    let id = res["group_id"].as_str().unwrap().to_string();
    assert!(id.starts_with("sg-"), "{id}");
    assert_eq!(group_exists(&c, "web", &vpc).await, Some(id.clone()));
    assert_eq!(
        ingress(&c, &id).await,
        lines(&[
            "-1 all self",
            "icmp 8--1 10.20.0.0/16",
            "tcp 80-80 0.0.0.0/0",
            "tcp 443-443 0.0.0.0/0",
            "tcp 8000-8010 0.0.0.0/0",
        ])
    );
    let again = lib.plan("ec2_security_group", args.clone()).await.unwrap();
    assert!(again.changes.is_empty(), "{:?}", summaries(&again));
    assert_eq!(again.result["group_id"].as_str(), Some(id.as_str()));
    let perms = to_json(&again.result["ip_permissions"]);
    assert_eq!(perms.as_array().unwrap().len(), 5);

    // By id, a self reference through group_id, tags added.
    let by_id = json!({
        "group_id": id,
        "rules": [{"proto": "-1", "group_id": id}, {"proto": "tcp", "ports": 443, "cidr_ip": "0.0.0.0/0"}],
        "tags": {"Role": "web"}
    });
    let p = lib.plan("ec2_security_group", by_id.clone()).await.unwrap();
    assert_eq!(
        summaries(&p),
        vec![
            "revoke icmp type 8 from 10.20.0.0/16".to_string(),
            "revoke tcp 80 from 0.0.0.0/0".to_string(),
            "revoke tcp 8000-8010 from 0.0.0.0/0".to_string(),
            "tag security group web: Role=web".to_string(),
        ]
    );
    lib.apply(p).await.unwrap();
    assert_eq!(
        ingress(&c, &id).await,
        lines(&["-1 all self", "tcp 443-443 0.0.0.0/0"])
    );
    let p = lib.plan("ec2_security_group", by_id).await.unwrap();
    assert!(p.changes.is_empty(), "{:?}", summaries(&p));
    assert_eq!(to_json(&p.result["tags"]), json!({"Role": "web"}));

    // A rule description is updated in place, and shown in the diff.
    let described = json!({
        "group_id": id,
        "rules": [{"proto": "-1", "group_id": id},
                  {"proto": "tcp", "ports": 443, "cidr_ip": "0.0.0.0/0", "rule_desc": "https"}],
    });
    let p = lib
        .plan("ec2_security_group", described.clone())
        .await
        .unwrap();
    assert_eq!(
        summaries(&p),
        vec![r#"describe tcp 443 from 0.0.0.0/0: "https""#.to_string()]
    );
    let d = p.changes[0].diff.as_ref().unwrap();
    assert_eq!(d.before, "all from self\ntcp 443 from 0.0.0.0/0\n");
    assert_eq!(d.after, "all from self\ntcp 443 from 0.0.0.0/0 \"https\"\n");
    lib.apply(p).await.unwrap();
    let out = c
        .describe_security_groups()
        .group_ids(&id)
        .send()
        .await
        .unwrap();
    let descs: Vec<Option<String>> = out.security_groups()[0]
        .ip_permissions()
        .iter()
        .flat_map(|p| p.ip_ranges())
        .map(|r| r.description().map(str::to_string))
        .collect();
    assert_eq!(descs, vec![Some("https".to_string())]);
    let p = lib.plan("ec2_security_group", described).await.unwrap();
    assert!(p.changes.is_empty(), "{:?}", summaries(&p));

    // A source group by name in the same VPC.
    let db = json!({
        "name": "db", "description": "db", "vpc_id": vpc,
        "rules": [{"proto": "tcp", "ports": [5432], "group_name": "web"}]
    });
    let p = lib.plan("ec2_security_group", db.clone()).await.unwrap();
    assert_eq!(summaries(&p)[1], format!("authorize tcp 5432 from {id}"));
    let db_id = lib.apply(p).await.unwrap()["group_id"]
        .as_str()
        .unwrap()
        .to_string();
    assert_eq!(
        ingress(&c, &db_id).await,
        lines(&[&format!("tcp 5432-5432 {id}")])
    );

    // A missing source group named with group_desc is created first (as in Ansible).
    let app = json!({
        "name": "app", "description": "app", "vpc_id": vpc,
        "rules": [{"ports": [8080], "group_name": "lb", "group_desc": "load balancers"}]
    });
    let p = lib.plan("ec2_security_group", app.clone()).await.unwrap();
    assert_eq!(
        summaries(&p),
        vec![
            format!("create security group lb in {vpc} (a rule's source)"),
            format!("create security group app in {vpc}"),
            "authorize tcp 8080 from (new) lb".to_string(),
        ]
    );
    assert!(group_exists(&c, "lb", &vpc).await.is_none());
    let res = lib.apply(p).await.unwrap();
    let app_id = res["group_id"].as_str().unwrap().to_string();
    let lb_id = group_exists(&c, "lb", &vpc).await.expect("lb created");
    assert_eq!(
        ingress(&c, &app_id).await,
        lines(&[&format!("tcp 8080-8080 {lb_id}")])
    );
    assert_eq!(
        to_json(&res["ip_permissions"])[0]["user_id_group_pairs"][0]["group_id"],
        json!(lb_id)
    );
    let p = lib.plan("ec2_security_group", app).await.unwrap();
    assert!(p.changes.is_empty(), "{:?}", summaries(&p));
    assert_eq!(
        to_json(&p.result["rules"]),
        json!([format!("tcp 8080 from {lb_id}")])
    );

    // Egress rules, when given: the default allow-all rule of a new group is replaced.
    let out_args = json!({
        "name": "out", "description": "egress", "vpc_id": vpc,
        "rules_egress": [{"proto": "tcp", "ports": [443], "cidr_ip": "0.0.0.0/0"}]
    });
    let p = lib
        .plan("ec2_security_group", out_args.clone())
        .await
        .unwrap();
    assert_eq!(
        summaries(&p),
        vec![
            format!("create security group out in {vpc}"),
            "authorize egress tcp 443 to 0.0.0.0/0".to_string(),
            "revoke egress all to 0.0.0.0/0".to_string(),
        ]
    );
    let out_id = lib.apply(p).await.unwrap()["group_id"]
        .as_str()
        .unwrap()
        .to_string();
    let sg = c
        .describe_security_groups()
        .group_ids(&out_id)
        .send()
        .await
        .unwrap();
    let egress: Vec<String> = sg.security_groups()[0]
        .ip_permissions_egress()
        .iter()
        .flat_map(|p| {
            p.ip_ranges().iter().map(move |r| {
                format!(
                    "{} {:?}-{:?} {}",
                    p.ip_protocol().unwrap(),
                    p.from_port(),
                    p.to_port(),
                    r.cidr_ip().unwrap()
                )
            })
        })
        .collect();
    assert_eq!(egress, vec!["tcp Some(443)-Some(443) 0.0.0.0/0"]);
    let p = lib.plan("ec2_security_group", out_args).await.unwrap();
    assert!(p.changes.is_empty(), "{:?}", summaries(&p));
    // Without rules_egress, egress rules are left alone (and reported).
    let p = lib
        .plan(
            "ec2_security_group",
            json!({"name": "out", "vpc_id": vpc, "rules": []}),
        )
        .await
        .unwrap();
    assert!(p.changes.is_empty(), "{:?}", summaries(&p));
    assert_eq!(
        to_json(&p.result["ip_permissions_egress"]),
        json!([{"ip_protocol": "tcp", "from_port": 443, "to_port": 443,
                "ip_ranges": [{"cidr_ip": "0.0.0.0/0"}]}])
    );

    // An unknown group id: an error when it should exist, nothing to do when it should not.
    let e = lib
        .plan(
            "ec2_security_group",
            json!({"group_id": "sg-00000000000000000", "rules": []}),
        )
        .await
        .unwrap_err();
    assert!(
        e.msg
            .contains("no security group with id sg-00000000000000000"),
        "{}",
        e.msg
    );
    let p = lib
        .plan(
            "ec2_security_group",
            json!({"group_id": "sg-00000000000000000", "state": "absent"}),
        )
        .await
        .unwrap();
    assert!(p.changes.is_empty());

    // Errors: clear messages with the AWS code, and hints.
    let e = lib
        .plan(
            "ec2_security_group",
            json!({"name": "x", "description": "x", "vpc_id": "vpc-0000000000deadbee"}),
        )
        .await
        .unwrap_err();
    assert!(e.msg.contains("InvalidVpcID.NotFound"), "{}", e.msg);
    assert!(e.hint.clone().unwrap().contains("vpc_id"), "{e:?}");
    let e = lib
        .plan("ec2_security_group", json!({"name": "x", "vpc_id": vpc}))
        .await
        .unwrap_err();
    assert!(e.msg.contains("description is required"), "{}", e.msg);
    let e = lib
        .plan(
            "ec2_security_group",
            json!({"name": "x", "description": "x", "vpc_id": vpc,
                   "rules": [{"proto": "tcp", "ports": [1], "group_name": "nope"}]}),
        )
        .await
        .unwrap_err();
    assert!(e.msg.contains("source group 'nope' not found"), "{}", e.msg);
    let e = lib
        .plan(
            "ec2_security_group",
            json!({"name": "x", "endpoint_url": "http://127.0.0.1:1"}),
        )
        .await
        .unwrap_err();
    assert!(
        e.msg.contains("could not reach http://127.0.0.1:1"),
        "{}",
        e.msg
    );
    assert!(!e.render().contains("test"), "no secret in: {}", e.render());

    // Deleting a group another group's rules refer to fails with the AWS reason... in moto
    // this is allowed, so delete the referring group first, then both.
    for (n, gid) in [("db", &db_id), ("web", &id)] {
        let p = lib
            .plan(
                "ec2_security_group",
                json!({"name": n, "vpc_id": vpc, "state": "absent"}),
            )
            .await
            .unwrap();
        assert_eq!(
            summaries(&p),
            vec![format!("delete security group {n} ({gid})")]
        );
        lib.apply(p).await.unwrap();
    }
    assert!(group_exists(&c, "web", &vpc).await.is_none());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn instance_info_finds_instances_by_tag() {
    let Some(moto) = Moto::start("instance_info") else {
        return;
    };
    let c = sdk(&moto.endpoint);
    let images = c.describe_images().send().await.unwrap();
    let ami = images.images()[0].image_id().unwrap().to_string();
    let mut ids = std::collections::BTreeMap::new();
    for (role, n) in [("manager", 2), ("worker", 1)] {
        let out = c
            .run_instances()
            .image_id(&ami)
            .instance_type(InstanceType::T3Micro)
            .min_count(n)
            .max_count(n)
            .tag_specifications(
                TagSpecification::builder()
                    .resource_type(ResourceType::Instance)
                    .tags(Tag::builder().key("Role").value(role).build())
                    .build(),
            )
            .send()
            .await
            .unwrap();
        let mut got: Vec<String> = out
            .instances()
            .iter()
            .map(|i| i.instance_id().unwrap().to_string())
            .collect();
        got.sort();
        ids.insert(role, got);
    }

    // Through the binary, with the endpoint from AWS_ENDPOINT_URL (no endpoint_url option).
    let p = Project::new("aws-info");
    let out_var = format!("out={}", p.path("managers.json").display());
    p.file("inv.ini", INV).file(
        "info.yml",
        r#"
- hosts: localhost
  gather_facts: false
  tasks:
    - amazon.aws.ec2_instance_info:
        filters:
          "tag:Role": manager
          instance_state_name: [running, pending]
      register: managers
    - copy:
        content: "{{ managers.instances | to_json }}"
        dest: "{{ out }}"
"#,
    );
    prov(
        &p,
        &[
            "run", "info.yml", "-i", "inv.ini", "--check", "-e", &out_var,
        ],
        &[("AWS_ENDPOINT_URL", &moto.endpoint)],
    )
    .success();
    assert!(!p.exists("managers.json"), "check mode writes nothing");
    // No region anywhere: one clear error.
    prov(
        &p,
        &["run", "info.yml", "-i", "inv.ini", "-e", &out_var],
        &[("AWS_ENDPOINT_URL", &moto.endpoint), ("AWS_REGION", "")],
    )
    .code(2)
    .stdout_has("no AWS region configured")
    .stdout_has("AWS_REGION");
    // AWS_DEFAULT_REGION is honoured too.
    prov(
        &p,
        &[
            "run", "info.yml", "-i", "inv.ini", "--check", "-e", &out_var,
        ],
        &[
            ("AWS_ENDPOINT_URL", &moto.endpoint),
            ("AWS_REGION", ""),
            ("AWS_DEFAULT_REGION", "us-east-1"),
        ],
    )
    .success();
    prov(
        &p,
        &["run", "info.yml", "-i", "inv.ini", "-e", &out_var],
        &[("AWS_ENDPOINT_URL", &moto.endpoint)],
    )
    .success()
    .changed("localhost", 1);
    let got: serde_json::Value = serde_json::from_str(&p.read("managers.json")).unwrap();
    let mut found: Vec<String> = got
        .as_array()
        .unwrap()
        .iter()
        .map(|i| i["instance_id"].as_str().unwrap().to_string())
        .collect();
    found.sort();
    assert_eq!(found, ids["manager"]);
    let first = &got[0];
    assert_eq!(first["tags"], json!({"Role": "manager"}));
    assert_eq!(first["state"]["name"], json!("running"));
    assert!(
        first["private_ip_address"]
            .as_str()
            .is_some_and(|ip| ip.parse::<std::net::Ipv4Addr>().is_ok()),
        "{first}"
    );
    assert!(first["vpc_id"].as_str().unwrap().starts_with("vpc-"));
    assert!(first["subnet_id"].as_str().unwrap().starts_with("subnet-"));
    assert!(first["security_groups"].is_array());

    // In a play on other hosts: delegated to localhost, once; every host sees the result.
    p.file(
        "nodes.ini",
        "localhost ansible_connection=local\n[nodes]\nn1 ansible_connection=local\n\
n2 ansible_connection=local\n",
    )
    .file(
        "delegated.yml",
        r#"
- hosts: nodes
  gather_facts: false
  tasks:
    - amazon.aws.ec2_instance_info:
        filters: { "tag:Role": worker }
      delegate_to: localhost
      run_once: true
      register: workers
    - copy:
        content: "{{ workers.instances | map(attribute='instance_id') | join(',') }}"
        dest: "{{ playbook_dir }}/{{ inventory_hostname }}.txt"
"#,
    );
    // (an absolute playbook path: with a relative one, playbook_dir is "" in this build)
    let play = p.path("delegated.yml").display().to_string();
    prov(
        &p,
        &["run", &play, "-i", "nodes.ini"],
        &[("AWS_ENDPOINT_URL", &moto.endpoint)],
    )
    .success()
    .changed("n1", 1)
    .changed("n2", 1);
    assert_eq!(p.read("n1.txt"), ids["worker"].join(","));
    assert_eq!(p.read("n2.txt"), ids["worker"].join(","));

    // Through the library, by id; a plan never has changes.
    let lib = Lib::new(&moto.endpoint);
    let p = lib
        .plan(
            "ec2_instance_info",
            json!({"instance_ids": ids["worker"].clone()}),
        )
        .await
        .unwrap();
    assert!(p.changes.is_empty());
    let list = to_json(&p.result["instances"]);
    assert_eq!(list.as_array().unwrap().len(), 1);
    assert_eq!(list[0]["tags"]["Role"], json!("worker"));
    let p = lib
        .plan(
            "ec2_instance_info",
            json!({"filters": {"tag:Role": "nobody"}}),
        )
        .await
        .unwrap();
    assert_eq!(to_json(&p.result["instances"]), json!([]));
}

#[test]
fn amazon_aws_prefix_and_docs() {
    let reg = Registry::builtin();
    for m in ["ec2_security_group", "ec2_group", "ec2_instance_info"] {
        let doc = reg.get(&format!("amazon.aws.{m}")).unwrap().doc();
        assert_eq!(doc.name, m);
        let text = doc.render();
        assert!(text.contains("endpoint_url"), "{text}");
        assert!(text.contains("AWS_ENDPOINT_URL"), "{text}");
        assert!(text.contains("profile"), "{text}");
    }
    let doc = reg.get("ec2_security_group").unwrap().doc();
    let e = validate_args(
        doc,
        &value_to_vars(&from_json(&json!({"name": "x", "purge_rule": false}))),
    )
    .unwrap_err();
    assert!(e.hint.clone().unwrap().contains("purge_rules"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn aws_errors_are_clear_and_never_show_secrets() {
    // moto checks credentials from the first request on: unknown keys fail with AuthFailure.
    let Some(moto) = Moto::start_with_env("aws_errors", &[("INITIAL_NO_AUTH_ACTION_COUNT", "0")])
    else {
        return;
    };
    let p = Project::new("aws-auth");
    p.file("inv.ini", INV)
        .file(
            "auth.yml",
            r#"
- hosts: localhost
  gather_facts: false
  tasks:
    - amazon.aws.ec2_security_group:
        name: x
        description: x
        region: us-east-1
        endpoint_url: "{{ endpoint }}"
        aws_access_key: AKIAEXAMPLEKEY
        aws_secret_key: "s3cr3t-v4lue-never-shown"
        session_token: "t0ken-never-shown"
"#,
        )
        .file(
            "creds.yml",
            r#"
- hosts: localhost
  gather_facts: false
  tasks:
    - ec2_instance_info:
        region: us-east-1
        endpoint_url: "{{ endpoint }}"
"#,
        );
    let endpoint = format!("endpoint={}", moto.endpoint);
    let r = prov(
        &p,
        &["run", "auth.yml", "-i", "inv.ini", "-e", &endpoint, "-vvv"],
        &[],
    );
    r.code(2)
        .stdout_has("EC2 describe_security_groups failed: AuthFailure:")
        .stdout_has("hint: AWS rejected the credentials");
    for secret in ["s3cr3t-v4lue-never-shown", "t0ken-never-shown"] {
        assert!(
            !r.stdout.contains(secret) && !r.stderr.contains(secret),
            "secret shown:\n{}\n{}",
            r.stdout,
            r.stderr
        );
    }
    // No credentials anywhere: one clear error naming what was tried.
    let none = p.path("none").display().to_string();
    let r = prov(
        &p,
        &["run", "creds.yml", "-i", "inv.ini", "-e", &endpoint],
        &[
            ("AWS_ACCESS_KEY_ID", ""),
            ("AWS_SECRET_ACCESS_KEY", ""),
            ("AWS_CONFIG_FILE", &none),
            ("AWS_SHARED_CREDENTIALS_FILE", &none),
        ],
    );
    r.code(2)
        .stdout_has("EC2 describe_instances: no usable AWS credentials:")
        .stdout_has("hint: set AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY");

    // --output json too.
    let r = prov(
        &p,
        &[
            "run", "auth.yml", "-i", "inv.ini", "-e", &endpoint, "--output", "json",
        ],
        &[],
    );
    r.code(2).stdout_has("AuthFailure");
    assert!(!r.stdout.contains("s3cr3t") && !r.stderr.contains("s3cr3t"));
}

/// The EC2 dynamic inventory against the emulator: instances the test creates (two tagged
/// Role=db, one Role=web, one stopped) are found by `filters`, named by `hostnames`, grouped
/// by `keyed_groups` and `groups`, given `compose`d variables, and shown by `prov inventory`.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ec2_dynamic_inventory_finds_and_groups_instances() {
    let Some(moto) = Moto::start("ec2_inventory") else {
        return;
    };
    let c = sdk(&moto.endpoint);
    let images = c.describe_images().send().await.unwrap();
    let ami = images.images()[0].image_id().unwrap().to_string();
    let mut stopped = String::new();
    for (name, role) in [
        ("db1", "db"),
        ("db2", "db"),
        ("web1", "web"),
        ("old", "web"),
    ] {
        let out = c
            .run_instances()
            .image_id(&ami)
            .instance_type(InstanceType::T3Micro)
            .min_count(1)
            .max_count(1)
            .tag_specifications(
                TagSpecification::builder()
                    .resource_type(ResourceType::Instance)
                    .tags(Tag::builder().key("Name").value(name).build())
                    .tags(Tag::builder().key("Role").value(role).build())
                    .tags(Tag::builder().key("Cluster").value("pg-ha").build())
                    .build(),
            )
            .send()
            .await
            .unwrap();
        if name == "old" {
            stopped = out.instances()[0].instance_id().unwrap().to_string();
        }
    }
    c.stop_instances()
        .instance_ids(&stopped)
        .send()
        .await
        .unwrap();
    let p = Project::new("aws-ec2-inventory");
    p.file(
        "inventory/prod.aws_ec2.yml",
        r#"plugin: amazon.aws.aws_ec2
regions: [us-east-1]
filters:
  "tag:Cluster": pg-ha
  instance-state-name: running
hostnames:
  - tag:Name
  - private-ip-address
keyed_groups:
  - key: tags.Role
    prefix: role
  - key: placement.region
    prefix: aws_region
groups:
  databases: "'db' in tags.Name"
compose:
  ansible_host: private_ip_address
  node_role: tags.Role | upper
"#,
    )
    .file(
        "site.yml",
        "- hosts: role_db\n  gather_facts: false\n  tasks:\n    - debug: msg=\"{{ inventory_hostname }} {{ ansible_host }} {{ node_role }} {{ instance_id }}\"\n",
    );
    let env = [("AWS_ENDPOINT_URL", moto.endpoint.as_str())];
    let graph = prov(
        &p,
        &["inventory", "-i", "inventory/prod.aws_ec2.yml", "--graph"],
        &env,
    );
    graph.success();
    for want in [
        "@aws_ec2:",
        "@role_db:",
        "@role_web:",
        "@databases:",
        "@aws_region_us_east_1:",
        "db1",
        "db2",
        "web1",
    ] {
        assert!(graph.stdout.contains(want), "{want}:\n{}", graph.stdout);
    }
    assert!(
        !graph.stdout.contains("old"),
        "a stopped instance is filtered out:\n{}",
        graph.stdout
    );
    let list = prov(
        &p,
        &["inventory", "-i", "inventory/prod.aws_ec2.yml", "--list"],
        &env,
    );
    list.success();
    let v: serde_json::Value = serde_json::from_str(&list.stdout).unwrap();
    let db1 = &v["_meta"]["hostvars"]["db1"];
    assert_eq!(db1["ansible_host"], db1["private_ip_address"], "{db1}");
    assert_eq!(db1["node_role"], "DB");
    assert_eq!(db1["tags"]["Role"], "db");
    assert_eq!(db1["placement"]["region"], "us-east-1");
    assert!(db1["instance_id"].as_str().unwrap().starts_with("i-"));
    // A playbook reaches the group (debug runs on the controller: no SSH to fake instances).
    let run = prov(
        &p,
        &[
            "run",
            "site.yml",
            "-i",
            "inventory/prod.aws_ec2.yml",
            "-c",
            "local",
        ],
        &env,
    );
    run.success().stdout_has("db1 10.").stdout_has(" DB i-");
    // strict: an expression that cannot be rendered is an error naming the file.
    p.file(
        "inventory/bad.aws_ec2.yml",
        "plugin: amazon.aws.aws_ec2\nregions: [us-east-1]\nstrict: true\ncompose:\n  x: no_such_var.attr\n",
    );
    prov(
        &p,
        &["inventory", "-i", "inventory/bad.aws_ec2.yml", "--list"],
        &env,
    )
    .code(1)
    .stderr_has("bad.aws_ec2.yml: compose `x`");
}
