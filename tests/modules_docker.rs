//! Integration tests of the docker modules (docker_swarm, docker_swarm_info, docker_node,
//! docker_network, docker_image, docker_stack) against REAL Docker engines: lab1..lab3 of
//! `tests/lab/` (systemd-nspawn Debian hosts), reached through prov's native SSH transport.
//!
//! One scenario, in order, like the flagship playbook (PostgreSQL HA on Docker Swarm) needs it:
//! docker.io installed with the apt module; the lab's rootfs imported as
//! `debian:bookworm-slim`; a swarm initialised on lab1 (check mode first, then idempotent, never
//! re-initialised); lab2 and lab3 join as workers with the token from lab1's result; node
//! labels; an attachable overlay network; an image built on every node from a context folder
//! (unchanged on the second run, rebuilt when a file changes); a stack (a global service and a
//! replicated one placed by node label, dnsrr endpoints) deployed and converged, unchanged when
//! deployed again, an edited compose file planned in check mode as exactly one updated service
//! and then applied; the stack removed; a worker leaving the swarm.
//!
//! Requirements: root and PROV_LAB=1 — otherwise the test prints `SKIP: ...` and passes. With
//! PROV_LAB=1, a lab that cannot be brought up fails the test. The lab is left running; run
//! `tests/lab/down.sh` afterwards.

use prov::connection::ssh::{self, SshOptions};
use prov::connection::{Cmd, Stdin};
use prov::modules::{Action, Plan};
use prov::value::{Value, Vars, to_json};
use serde_json::json;
use std::path::PathBuf;

mod common;

use common::module::{ModuleHost, diffs, summaries};

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

fn is_root() -> bool {
    use std::os::unix::fs::MetadataExt;
    std::fs::metadata("/proc/self")
        .map(|m| m.uid() == 0)
        .unwrap_or(false)
}

/// Brings lab1..lab3 up; false (after a SKIP line) without root or PROV_LAB=1.
fn start_lab() -> bool {
    if std::env::var_os("PROV_LAB").is_none() || !is_root() {
        eprintln!("SKIP: docker lab tests need root and PROV_LAB=1 (bash .ci/run sets both)");
        return false;
    }
    let out = std::process::Command::new(root().join("tests/lab/up.sh"))
        .arg("3")
        .output()
        .unwrap_or_else(|e| panic!("cannot run tests/lab/up.sh: {e}"));
    // PROV_LAB=1 asked for the lab: failing to start it is a failure, not a skip.
    assert!(
        out.status.success(),
        "tests/lab/up.sh 3 failed:\n{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    true
}

/// One lab host, reached over prov's own SSH transport.
struct Host {
    h: ModuleHost,
}

impl std::ops::Deref for Host {
    type Target = ModuleHost;
    fn deref(&self) -> &ModuleHost {
        &self.h
    }
}

/// What applying a plan gave, like the engine reports it.
struct Applied {
    plan: Plan,
    changed: bool,
    result: Vars,
}

async fn host(n: u32) -> Host {
    let state = root().join("tests/lab/.state");
    let mut v = Vars::new();
    v.insert(
        "ansible_host".into(),
        Value::from(format!("192.168.77.1{n}")),
    );
    v.insert("ansible_user".into(), Value::from("root"));
    v.insert(
        "ansible_ssh_private_key_file".into(),
        Value::from(state.join("id_ed25519").display().to_string()),
    );
    let name = format!("lab{n}");
    let conn = ssh::connect(
        &name,
        &v,
        &SshOptions {
            known_hosts: Some(state.join("known_hosts")),
            ..Default::default()
        },
    )
    .await
    .unwrap_or_else(|e| panic!("connect to {name}: {}", e.render()));
    Host {
        h: ModuleHost::new(&name, conn),
    }
}

impl Host {
    /// A check-mode plan (the host must not change).
    async fn plan(&self, module: &str, a: serde_json::Value) -> Plan {
        self.h
            .plan(module, a)
            .await
            .unwrap_or_else(|e| panic!("{}: {module} plan failed: {}", self.name, e.render()))
    }
    /// Plans and applies like the engine does (output_results included).
    async fn run(&self, module: &str, a: serde_json::Value) -> Applied {
        let r = self
            .h
            .run(module, a)
            .await
            .unwrap_or_else(|e| panic!("{}: {module}: {}", self.name, e.render()));
        Applied {
            changed: r.applied.changed(),
            result: r.applied.result,
            plan: r.plan,
        }
    }
    /// Runs, then checks that a second plan is empty; returns the first run.
    async fn converge(&self, module: &str, a: serde_json::Value) -> Applied {
        let r = self.h.converge(module, a).await;
        Applied {
            changed: r.applied.changed(),
            result: r.applied.result,
            plan: r.plan,
        }
    }
    async fn sh(&self, script: &str) -> (i32, String) {
        let out = self.conn.exec(&Cmd::new(script)).await.expect("ssh");
        (out.rc, format!("{}{}", out.stdout_str(), out.stderr_str()))
    }
    async fn ok(&self, script: &str) -> String {
        let (rc, out) = self.sh(script).await;
        assert_eq!(rc, 0, "{}: `{script}` failed: {out}", self.name);
        out
    }
}

fn j(v: Option<&Value>) -> serde_json::Value {
    v.map(to_json).unwrap_or(serde_json::Value::Null)
}

/// A tarball of the lab's rootfs under target/, made once.
fn rootfs_tar() -> PathBuf {
    let tar = root().join("target/prov-lab-rootfs.tar");
    if !tar.exists() {
        let cache = std::env::var_os("PROV_LAB_CACHE")
            .map(PathBuf::from)
            .unwrap_or_else(|| root().join("tests/lab/.cache"));
        let tmp = tar.with_extension("tmp");
        let st = std::process::Command::new("tar")
            .arg("-C")
            .arg(cache.join("rootfs-bookworm"))
            .arg("-cf")
            .arg(&tmp)
            .arg(".")
            .status()
            .expect("tar");
        assert!(st.success(), "tar of the rootfs failed");
        std::fs::rename(&tmp, &tar).unwrap();
    }
    tar
}

const DOCKERFILE: &str = "FROM debian:bookworm-slim\nCOPY msg /msg\nRUN echo hi > /hi\n";

const STACK: &str = r#"version: "3.8"
services:
  agent:
    image: provtest:1
    command: ["python3", "-m", "http.server", "8080"]
    networks: [provnet]
    ports:
      - { target: 8080, published: 18080, protocol: tcp, mode: host }
    deploy:
      mode: global
      endpoint_mode: dnsrr
  db:
    image: provtest:1
    command: ["sleep", "infinity"]
    networks: [provnet]
    deploy:
      replicas: 1
      endpoint_mode: dnsrr
      placement:
        constraints: ["node.labels.pg == primary"]
networks:
  provnet:
    external: true
"#;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn swarm_nodes_network_images_and_stack_on_three_hosts() {
    if !tokio::task::spawn_blocking(start_lab).await.unwrap() {
        return;
    }
    let hosts = vec![host(1).await, host(2).await, host(3).await];
    let (l1, l2, l3) = (&hosts[0], &hosts[1], &hosts[2]);

    // --- docker.io on every host (idempotent), the base image imported.
    let tar = tokio::task::spawn_blocking(rootfs_tar).await.unwrap();
    futures::future::join_all(hosts.iter().map(|h| {
        let tar = tar.clone();
        async move {
            h.converge(
                "apt",
                json!({"name": ["docker.io"], "state": "present", "update_cache": true, "cache_valid_time": 86400}),
            )
            .await;
            h.converge("service", json!({"name": "docker", "state": "started"}))
                .await;
            // Reset what an earlier run left: no swarm, so init and join are exercised.
            h.ok("docker swarm leave --force >/dev/null 2>&1; docker image rm -f provtest:1 >/dev/null 2>&1; true")
                .await;
            let (rc, _) = h.sh("docker image inspect debian:bookworm-slim >/dev/null 2>&1").await;
            if rc != 0 {
                let out = h
                    .conn
                    .exec(&Cmd {
                        script: "docker import - debian:bookworm-slim >/dev/null".into(),
                        stdin: Stdin::File(tar),
                        ..Default::default()
                    })
                    .await
                    .unwrap();
                assert_eq!(out.rc, 0, "docker import: {}", out.stderr_str());
            }
        }
    }))
    .await;

    // --- swarm init on lab1: check mode names it and changes nothing.
    let init = json!({"state": "present", "advertise_addr": "192.168.77.11"});
    let p = l1.plan("docker_swarm", init.clone()).await;
    assert_eq!(
        summaries(&p),
        ["docker swarm init --advertise-addr 192.168.77.11"]
    );
    assert!(diffs(&p).contains("+swarm: active"), "{}", diffs(&p));
    assert_eq!(
        l1.ok("docker info --format '{{.Swarm.LocalNodeState}}'")
            .await
            .trim(),
        "inactive"
    );
    let a = l1
        .converge("community.docker.docker_swarm", init.clone())
        .await;
    assert!(a.changed);
    let facts = j(a.result.get("swarm_facts"));
    let worker = facts["JoinTokens"]["Worker"].as_str().unwrap().to_string();
    let manager = facts["JoinTokens"]["Manager"].as_str().unwrap().to_string();
    let cluster = facts["ID"].as_str().unwrap().to_string();
    assert!(worker.starts_with("SWMTKN-"), "{facts}");
    assert!(manager.starts_with("SWMTKN-") && manager != worker);
    // Never re-initialised: a second plan is ok and gives the same swarm and tokens.
    let again = l1.plan("docker_swarm", init.clone()).await;
    assert!(again.changes.is_empty());
    let f2 = j(again.result.get("swarm_facts"));
    assert_eq!(f2["ID"].as_str(), Some(cluster.as_str()));
    assert_eq!(f2["JoinTokens"]["Worker"].as_str(), Some(worker.as_str()));

    // --- lab2 joins with state=join, lab3 with state=present + token; the token stays secret.
    for (h, state) in [(l2, "join"), (l3, "present")] {
        let args = json!({"state": state, "join_token": worker, "remote_addrs": ["192.168.77.11"],
                          "advertise_addr": format!("192.168.77.1{}", &h.name[3..])});
        let p = h.plan("docker_swarm", args.clone()).await;
        assert_eq!(
            summaries(&p),
            ["docker swarm join 192.168.77.11:2377 (token ***)"]
        );
        let Action::Exec { cmd, .. } = &p.changes[0].action else {
            panic!("not an exec")
        };
        assert!(!cmd.script.contains(&worker), "token in the command line");
        assert!(!summaries(&p).concat().contains(&worker) && !diffs(&p).contains(&worker));
        let a = h.converge("docker_swarm", args).await;
        assert!(a.changed);
        let st = h
            .ok("docker info --format '{{.Swarm.LocalNodeState}} {{.Swarm.ControlAvailable}}'")
            .await;
        assert_eq!(st.trim(), "active false", "{}", h.name);
    }
    // A worker asked for a plain `present` (no token) is a clear failure, not a re-init.
    let p = l2.plan("docker_swarm", json!({"state": "present"})).await;
    assert!(
        p.failed.as_deref().unwrap_or("").contains("not a manager"),
        "{:?}",
        p.failed
    );

    let info = l1.plan("docker_swarm_info", json!({"nodes": true})).await;
    let nodes = j(info.result.get("nodes"));
    assert_eq!(nodes.as_array().map(Vec::len), Some(3), "{nodes}");
    assert_eq!(j(info.result.get("docker_swarm_manager")), json!(true));

    // --- node labels, merged, idempotent; labels_to_remove; replace.
    for (n, role) in [
        ("lab1", "primary"),
        ("lab2", "replica"),
        ("lab3", "replica"),
    ] {
        let a = l1
            .converge(
                "docker_node",
                json!({"hostname": n, "labels": {"pg": role, "zone": n}}),
            )
            .await;
        assert!(a.changed);
        assert!(
            diffs(&a.plan).contains(&format!("+label: pg={role}")),
            "{}",
            diffs(&a.plan)
        );
    }
    let got = l1
        .ok("docker node inspect lab2 --format '{{json .Spec.Labels}}'")
        .await;
    assert_eq!(got.trim(), r#"{"pg":"replica","zone":"lab2"}"#);
    let a = l1
        .converge(
            "docker_node",
            json!({"hostname": "lab3", "labels_to_remove": ["zone"]}),
        )
        .await;
    assert_eq!(
        summaries(&a.plan),
        ["docker node update --label-rm zone lab3"]
    );
    let a = l1
        .converge(
            "docker_node",
            json!({"hostname": "lab2", "labels": {"pg": "replica"}, "labels_state": "replace"}),
        )
        .await;
    assert_eq!(
        summaries(&a.plan),
        ["docker node update --label-rm zone lab2"]
    );
    let p = l1
        .plan("docker_node", json!({"hostname": "nosuchnode"}))
        .await;
    assert!(p.failed.unwrap().contains("not found"));

    // --- an attachable overlay network; immutable settings are not silently changed.
    let net = json!({"name": "provnet", "driver": "overlay", "attachable": true, "scope": "swarm",
                     "ipam_config": [{"subnet": "10.77.0.0/24"}]});
    l1.ok("docker network rm provnet >/dev/null 2>&1; true")
        .await;
    let a = l1.converge("docker_network", net.clone()).await;
    assert!(a.changed);
    let got = l1
        .ok("docker network inspect provnet --format '{{.Driver}} {{.Attachable}} {{.Scope}} {{range .IPAM.Config}}{{.Subnet}}{{end}}'")
        .await;
    assert_eq!(got.trim(), "overlay true swarm 10.77.0.0/24");
    let p = l1
        .plan(
            "docker_network",
            json!({"name": "provnet", "driver": "overlay", "attachable": false}),
        )
        .await;
    let msg = p.failed.expect("must fail");
    assert!(
        msg.contains("attachable: true -> false") && msg.contains("force"),
        "{msg}"
    );

    // --- an image built from a context folder on every node.
    let build = json!({"name": "provtest", "tag": "1", "source": "build",
                       "build": {"path": "/tmp/prov-ctx", "network": "host"}});
    futures::future::join_all(hosts.iter().map(|h| {
        let build = build.clone();
        async move {
            h.ok("rm -rf /tmp/prov-ctx && mkdir -p /tmp/prov-ctx").await;
            for (f, c) in [("Dockerfile", DOCKERFILE), ("msg", "one\n")] {
                h.conn
                    .put(
                        &Stdin::Bytes(c.as_bytes().to_vec()),
                        &format!("/tmp/prov-ctx/{f}"),
                        &Default::default(),
                    )
                    .await
                    .unwrap();
            }
            let p = h.plan("docker_image", build.clone()).await;
            assert_eq!(
                summaries(&p),
                ["build image provtest:1 from /tmp/prov-ctx (missing)"]
            );
            let a = h.converge("docker_image", build.clone()).await;
            assert!(a.changed, "{}", h.name);
            let id = j(a.result.get("image_id"));
            assert!(id.as_str().unwrap().starts_with("sha256:"), "{id}");
            // Forced rebuild of the same context: same image ID, so not changed.
            let mut forced = build.clone();
            forced["force_source"] = json!(true);
            let f = h.run("docker_image", forced).await;
            assert!(!f.changed, "{}: forced rebuild changed the image", h.name);
            assert_eq!(j(f.result.get("image_id")), id);
            id
        }
    }))
    .await;
    // A changed file in the context: planned (check mode), then rebuilt with a new ID.
    let before = l2
        .ok("docker image inspect provtest:1 --format '{{.Id}}'")
        .await;
    l2.ok("echo two > /tmp/prov-ctx/msg").await;
    let p = l2.plan("docker_image", build.clone()).await;
    assert_eq!(
        summaries(&p),
        ["build image provtest:1 from /tmp/prov-ctx (context changed)"]
    );
    assert_eq!(
        l2.ok("docker image inspect provtest:1 --format '{{.Id}}'")
            .await,
        before
    );
    let a = l2.converge("docker_image", build.clone()).await;
    assert!(a.changed);
    assert_ne!(j(a.result.get("image_id")).as_str().unwrap(), before.trim());
    assert_eq!(
        l2.ok("docker run --rm --network none provtest:1 cat /msg /hi")
            .await,
        "two\nhi\n"
    );

    // --- source load: an archive made with docker save, loaded once; a forced load of the
    // same archive is not a change.
    l3.ok("docker save provtest:1 -o /tmp/provtest.tar && docker image rm provtest:1 >/dev/null")
        .await;
    let load = json!({"name": "provtest:1", "source": "load", "load_path": "/tmp/provtest.tar"});
    let p = l3.plan("docker_image", load.clone()).await;
    assert_eq!(
        summaries(&p),
        ["load image provtest:1 from /tmp/provtest.tar"]
    );
    assert!(l3.converge("docker_image", load.clone()).await.changed);
    let mut forced = load.clone();
    forced["force_source"] = json!(true);
    assert!(!l3.run("docker_image", forced).await.changed);
    let p = l3
        .plan(
            "docker_image",
            json!({"name": "provtest:1", "source": "load", "load_path": "/nope.tar"}),
        )
        .await;
    assert!(p.failed.unwrap().contains("does not exist"));

    // --- a stack: global + replicated (placed by node label), dnsrr, on the overlay network.
    l1.ok("mkdir -p /tmp/prov-stack").await;
    l1.conn
        .put(
            &Stdin::Bytes(STACK.as_bytes().to_vec()),
            "/tmp/prov-stack/stack.yml",
            &Default::default(),
        )
        .await
        .unwrap();
    let stack = json!({"name": "provstack", "compose": ["/tmp/prov-stack/stack.yml"],
                       "resolve_image": "never", "wait": true, "wait_timeout": 120});
    let p = l1.plan("docker_stack", stack.clone()).await;
    assert_eq!(
        summaries(&p),
        [
            "create service provstack_agent",
            "create service provstack_db",
            "docker stack deploy provstack"
        ]
    );
    let a = l1.converge("docker_stack", stack.clone()).await;
    assert!(a.changed);
    let services = j(a.result.get("services"));
    assert_eq!(services.as_array().map(Vec::len), Some(2), "{services}");
    let got = l1
        .ok("docker service ls --filter label=com.docker.stack.namespace=provstack --format '{{.Name}} {{.Mode}} {{.Replicas}}' | sort")
        .await;
    assert_eq!(
        got,
        "provstack_agent global 3/3\nprovstack_db replicated 1/1\n"
    );
    // Published in host mode (the lab has no routing mesh): bound on every node.
    for h in &hosts {
        let ports = h
            .ok("docker ps --filter label=com.docker.swarm.service.name=provstack_agent --format '{{.Ports}}'")
            .await;
        assert!(ports.contains(":18080->8080/tcp"), "{}: {ports}", h.name);
    }
    // dnsrr on the overlay: from the db task on lab1, every agent task (one per node) answers.
    let probe = r#"c=$(docker ps -q --filter label=com.docker.swarm.service.name=provstack_db)
for i in 1 2 3 4 5 6 7 8 9 10; do
  out=$(docker exec "$c" python3 -c 'import socket, urllib.request as u
ips = sorted({a[4][0] for a in socket.getaddrinfo("tasks.agent", 8080, socket.AF_INET)})
print(len(ips), [u.urlopen("http://%s:8080/" % i, timeout=5).status for i in ips])' 2>&1) && break
  sleep 1
done
echo "$out""#;
    assert_eq!(l1.ok(probe).await.trim(), "3 [200, 200, 200]");
    let node = l1
        .ok("docker service ps provstack_db --filter desired-state=running --format '{{.Node}}'")
        .await;
    assert_eq!(node.trim(), "lab1");
    // Deploying again: nothing to do.
    let again = l1.run("docker_stack", stack.clone()).await;
    assert!(!again.changed && again.plan.changes.is_empty());
    // Edit the compose file: check mode names exactly the updated service, changes nothing.
    let spec_before = l1
        .ok("docker service inspect provstack_db --format '{{json .Spec}}'")
        .await;
    l1.conn
        .put(
            &Stdin::Bytes(STACK.replacen("\"sleep\", \"infinity\"]\n    networks: [provnet]\n    deploy:\n      replicas", "\"sleep\", \"99999\"]\n    networks: [provnet]\n    deploy:\n      replicas", 1).into_bytes()),
            "/tmp/prov-stack/stack.yml",
            &Default::default(),
        )
        .await
        .unwrap();
    let p = l1.plan("docker_stack", stack.clone()).await;
    assert_eq!(
        summaries(&p),
        [
            "update service provstack_db",
            "docker stack deploy provstack"
        ]
    );
    // The diff names the changed compose key (hashes only, never values).
    let d = diffs(&p);
    let changed: Vec<&str> = d
        .lines()
        .filter(|l| {
            (l.starts_with('-') || l.starts_with('+'))
                && !l.starts_with("---")
                && !l.starts_with("+++")
        })
        .map(|l| l.split(':').next().unwrap())
        .collect();
    assert_eq!(
        changed,
        ["-provstack_db.command", "+provstack_db.command"],
        "{d}"
    );
    assert!(!d.contains("99999"), "{d}");
    assert_eq!(
        l1.ok("docker service inspect provstack_db --format '{{json .Spec}}'")
            .await,
        spec_before
    );
    let a = l1.converge("docker_stack", stack.clone()).await;
    assert!(a.changed);
    let args = l1
        .ok("docker service inspect provstack_db --format '{{json .Spec.TaskTemplate.ContainerSpec.Args}}'")
        .await;
    assert_eq!(args.trim(), r#"["sleep","99999"]"#);
    let got = l1
        .ok("docker service ls --filter label=com.docker.stack.namespace=provstack --format '{{.Name}} {{.Replicas}}' | sort")
        .await;
    assert_eq!(got, "provstack_agent 3/3\nprovstack_db 1/1\n");

    // --- state absent removes the stack (and waits until it is gone).
    let absent = json!({"name": "provstack", "state": "absent"});
    let p = l1.plan("docker_stack", absent.clone()).await;
    assert_eq!(summaries(&p), ["docker stack rm provstack"]);
    let a = l1.converge("docker_stack", absent).await;
    assert!(a.changed);
    assert_eq!(
        l1.ok("docker service ls -q --filter label=com.docker.stack.namespace=provstack")
            .await,
        ""
    );

    // --- drain a node and make it active again.
    let a = l1
        .converge(
            "docker_node",
            json!({"hostname": "lab3", "availability": "drain"}),
        )
        .await;
    assert_eq!(
        summaries(&a.plan),
        ["docker node update --availability drain lab3"]
    );
    assert_eq!(
        l1.ok("docker node inspect lab3 --format '{{.Spec.Availability}}'")
            .await
            .trim(),
        "drain"
    );
    l1.converge(
        "docker_node",
        json!({"hostname": "lab3", "availability": "active"}),
    )
    .await;

    // --- the network recreated with force, then removed.
    let changed =
        json!({"name": "provnet", "driver": "overlay", "attachable": false, "force": true});
    let a = l1.converge("docker_network", changed).await;
    assert_eq!(summaries(&a.plan), ["recreate network provnet"]);
    assert_eq!(
        l1.ok("docker network inspect provnet --format '{{.Attachable}}'")
            .await
            .trim(),
        "false"
    );
    let a = l1
        .converge(
            "docker_network",
            json!({"name": "provnet", "state": "absent"}),
        )
        .await;
    assert_eq!(summaries(&a.plan), ["remove network provnet"]);

    // --- a worker leaves the swarm; a manager needs force.
    let p = l1.plan("docker_swarm", json!({"state": "absent"})).await;
    assert!(p.failed.unwrap().contains("force"));
    let a = l3
        .converge("docker_swarm", json!({"state": "absent"}))
        .await;
    assert_eq!(summaries(&a.plan), ["docker swarm leave"]);
    assert_eq!(
        l3.ok("docker info --format '{{.Swarm.LocalNodeState}}'")
            .await
            .trim(),
        "inactive"
    );

    // --- the same through the prov binary and the engine: a fresh swarm, workers joining
    // with the token read through hostvars, a forced rebuild reported ok; a second run is ok.
    for h in &hosts {
        h.ok("docker swarm leave --force >/dev/null 2>&1; true")
            .await;
    }
    let p = common::Project::new("docker-swarm");
    p.file(
        "site.yml",
        r#"
- hosts: lab1
  gather_facts: false
  tasks:
    - community.docker.docker_swarm:
        state: present
        advertise_addr: 192.168.77.11
      register: swarm
- hosts: lab2:lab3
  gather_facts: false
  tasks:
    - community.docker.docker_swarm:
        state: join
        join_token: "{{ hostvars['lab1'].swarm.swarm_facts.JoinTokens.Worker }}"
        remote_addrs: [192.168.77.11]
    - docker_image:
        name: provtest
        tag: "1"
        source: build
        force_source: true
        build: { path: /tmp/prov-ctx, network: host }
"#,
    );
    let inv = root().join("tests/lab/.state/inventory.yaml");
    let inv = inv.to_str().unwrap();
    let run = p.prov(&["run", "site.yml", "-i", inv]);
    run.success();
    assert_eq!(run.recap("lab1")[1], 1, "{}", run.stdout);
    assert_eq!(run.recap("lab2")[1], 1, "{}", run.stdout);
    // lab3's image came from `docker load` (no build cache): the forced rebuild really makes a
    // new image there, while lab2's rebuild from cache gives the same ID and is ok.
    assert_eq!(run.recap("lab3")[1], 2, "{}", run.stdout);
    let token = l1.ok("docker swarm join-token -q worker").await;
    assert!(!run.stdout.contains(token.trim()) && !run.stderr.contains(token.trim()));
    for h in [l2, l3] {
        assert_eq!(
            h.ok("docker info --format '{{.Swarm.LocalNodeState}}'")
                .await
                .trim(),
            "active"
        );
    }
    let again = p.prov(&["run", "site.yml", "-i", inv]);
    again.success();
    for h in ["lab1", "lab2", "lab3"] {
        assert_eq!(again.recap(h)[1], 0, "{h}: {}", again.stdout);
    }

    // Leave the lab quiet for the tests that run after this one: no swarm, docker stopped.
    for h in &hosts {
        h.ok("docker swarm leave --force >/dev/null 2>&1; systemctl stop docker.socket docker containerd")
            .await;
    }
}
