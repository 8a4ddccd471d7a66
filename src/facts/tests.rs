//! Fact parsing: unit tests on recorded outputs, and the script run locally.

use super::network::V4;
use super::*;

#[test]
fn empty_output_is_a_clear_error_and_garbage_never_panics() {
    assert!(parse("").is_err());
    let f = parse("@@uname\nkernel\n@@date\nlocal=x\n@@ip-addr\n1: \n    inet zz/99\n@@cpuinfo\nphysical id : x\ncpu cores : 0\n").unwrap();
    assert_eq!(f.get("kernel").map(|v| v.to_string()).as_deref(), Some(""));
    assert!(f.get("date_time").is_none());
}

#[test]
fn netmask_and_network() {
    let a = V4 {
        address: "10.1.2.3".parse().unwrap(),
        prefix: 20,
        broadcast: None,
        secondary: false,
    };
    assert_eq!(a.netmask().to_string(), "255.255.240.0");
    assert_eq!(a.network().to_string(), "10.1.0.0");
    let z = V4 {
        address: "10.1.2.3".parse().unwrap(),
        prefix: 0,
        broadcast: None,
        secondary: false,
    };
    assert_eq!(z.netmask().to_string(), "0.0.0.0");
}

/// The recorded fact-script outputs in tests/fixtures/facts.
const FIXTURES: [&str; 5] = [
    "debian12_local",
    "ubuntu2204",
    "amazon2023",
    "alpine319",
    "rocky9",
];

/// A recorded fact-script output, as text.
fn fixture_text(name: &str) -> String {
    let p = format!(
        "{}/tests/fixtures/facts/{name}.txt",
        env!("CARGO_MANIFEST_DIR")
    );
    std::fs::read_to_string(p).unwrap()
}

fn fixture(name: &str) -> Vars {
    parse(&fixture_text(name)).unwrap()
}

/// `facts["a"]["b"]` as a string ("<missing>" when absent).
fn g(f: &Vars, path: &str) -> String {
    let mut parts = path.split('.');
    let Some(mut v) = f.get(parts.next().unwrap()).cloned() else {
        return "<missing>".into();
    };
    for p in parts {
        v = match p.parse::<usize>() {
            Ok(i) => v.get_item_by_index(i).unwrap_or(Value::UNDEFINED),
            Err(_) => v.get_attr(p).unwrap_or(Value::UNDEFINED),
        };
        if v.is_undefined() {
            return "<missing>".into();
        }
    }
    if v.as_str().is_some() {
        v.as_str().unwrap().to_string()
    } else {
        serde_json::to_string(&v).unwrap()
    }
}

fn check(f: &Vars, expect: &[(&str, &str)]) {
    for (k, want) in expect {
        assert_eq!(g(f, k), *want, "fact {k}");
    }
}

#[test]
fn debian12_captured_here() {
    let f = fixture("debian12_local");
    check(
        &f,
        &[
            ("distribution", "Debian"),
            ("os_family", "Debian"),
            ("distribution_release", "bookworm"),
            ("distribution_version", "12.11"),
            ("distribution_major_version", "12"),
            ("architecture", "x86_64"),
            ("machine", "x86_64"),
            ("hostname", "vm"),
            ("nodename", "vm"),
            ("fqdn", "vm"),
            ("domain", ""),
            ("pkg_mgr", "apt"),
            ("service_mgr", "process_api"),
            ("virtualization_type", "docker"),
            ("virtualization_role", "guest"),
            ("selinux.status", "disabled"),
            ("fips", "false"),
            ("default_ipv4.address", "192.0.2.2"),
            ("default_ipv4.interface", "eth0"),
            ("default_ipv4.gateway", "192.0.2.1"),
            ("default_ipv4.netmask", "255.255.255.0"),
            ("default_ipv4.network", "192.0.2.0"),
            ("default_ipv4.prefix", "24"),
            ("default_ipv4.macaddress", "02:fc:00:00:00:01"),
            ("default_ipv6.address", "fd00::2"),
            ("eth0.device", "eth0"),
            ("eth0.mtu", "1400"),
            ("eth0.active", "true"),
            ("eth0.ipv4.address", "192.0.2.2"),
            ("eth0.ipv4.broadcast", "192.0.2.255"),
            ("ifb0.active", "false"),
            ("lo.type", "loopback"),
            ("lsb.codename", "bookworm"),
            ("lsb.id", "Debian"),
            ("lsb.major_release", "12"),
            ("dns.nameservers", r#"["10.255.255.53"]"#),
            ("user_id", "root"),
            ("user_uid", "0"),
            ("user_dir", "/root"),
            ("user_shell", "/bin/bash"),
            ("processor_vcpus", "2"),
            ("processor_count", "1"),
            ("processor_cores", "2"),
            ("memtotal_mb", "24105"),
            ("env.HOME", "/root"),
            ("env.LANG", "C.UTF-8"),
            ("date_time.tz", "UTC"),
            ("date_time.year", "2026"),
        ],
    );
    let all = g(&f, "all_ipv4_addresses");
    assert!(
        all.contains("192.0.2.2") && !all.contains("127.0.0.1"),
        "{all}"
    );
    let ifs = g(&f, "interfaces");
    assert!(ifs.contains("\"eth0\"") && ifs.contains("\"lo\""), "{ifs}");
}

#[test]
fn ubuntu2204() {
    let f = fixture("ubuntu2204");
    check(
        &f,
        &[
            ("distribution", "Ubuntu"),
            ("os_family", "Debian"),
            ("distribution_release", "jammy"),
            ("distribution_version", "22.04"),
            ("distribution_major_version", "22"),
            ("hostname", "web1"),
            ("nodename", "web1.example.com"),
            ("fqdn", "web1.example.com"),
            ("domain", "example.com"),
            ("service_mgr", "systemd"),
            ("systemd.version", "249"),
            ("pkg_mgr", "apt"),
            ("virtualization_type", "kvm"),
            ("default_ipv4.address", "172.31.20.15"),
            ("default_ipv4.gateway", "172.31.16.1"),
            ("default_ipv4.netmask", "255.255.240.0"),
            ("default_ipv4.network", "172.31.16.0"),
            ("default_ipv4.prefix", "20"),
            ("default_ipv4.interface", "ens5"),
            ("default_ipv4.mtu", "9001"),
            ("ens5.ipv4_secondaries.0.address", "172.31.20.99"),
            ("all_ipv4_addresses", r#"["172.31.20.15","172.31.20.99"]"#),
            ("dns.search", r#"["ec2.internal","example.com"]"#),
            ("dns.options.edns0", ""),
            ("lsb.release", "22.04"),
            ("lsb.description", "Ubuntu 22.04.3 LTS"),
            ("user_uid", "1000"),
            ("user_gecos", "Ubuntu"),
            ("processor_count", "1"),
            ("processor_cores", "1"),
            ("processor_threads_per_core", "2"),
            ("processor_vcpus", "2"),
            ("memtotal_mb", "1952"),
            ("memfree_mb", "176"),
            ("uptime_seconds", "86400"),
            ("env.MULTI", "line1\nline2"),
            ("date_time.iso8601", "2024-01-05T14:03:09Z"),
            ("date_time.weekday", "Friday"),
            ("date_time.epoch", "1704463389"),
        ],
    );
}

#[test]
fn amazon2023() {
    let f = fixture("amazon2023");
    check(
        &f,
        &[
            ("distribution", "Amazon"),
            ("os_family", "RedHat"),
            ("distribution_version", "2023"),
            ("distribution_major_version", "2023"),
            ("distribution_release", "NA"),
            ("architecture", "aarch64"),
            ("hostname", "ip-10-0-1-23"),
            ("domain", "eu-west-1.compute.internal"),
            ("pkg_mgr", "dnf"),
            ("service_mgr", "systemd"),
            ("selinux.status", "enabled"),
            ("selinux.mode", "permissive"),
            ("selinux.type", "targeted"),
            ("default_ipv4.address", "10.0.1.23"),
            ("default_ipv4.gateway", "10.0.1.1"),
            ("processor_vcpus", "2"),
            ("processor_count", "2"),
            ("user_id", "ec2-user"),
            ("user_dir", "/home/ec2-user"),
            ("date_time.tz_offset", "+0100"),
            ("date_time.hour", "15"),
            ("date_time.iso8601", "2024-01-05T14:03:09Z"),
        ],
    );
    assert_eq!(g(&f, "lsb"), "<missing>");
}

#[test]
fn alpine319_busybox() {
    let f = fixture("alpine319");
    check(
        &f,
        &[
            ("distribution", "Alpine"),
            ("os_family", "Alpine"),
            ("distribution_version", "3.19.0"),
            ("distribution_major_version", "3"),
            ("distribution_release", "NA"),
            ("service_mgr", "openrc"),
            ("pkg_mgr", "apk"),
            ("virtualization_type", ""),
            ("fqdn", "alpine1.lan"),
            ("domain", "lan"),
            ("default_ipv4.address", "192.168.1.50"),
            ("default_ipv4.gateway", "192.168.1.1"),
            ("default_ipv4.interface", "eth0"),
            ("eth0.macaddress", "52:54:00:12:34:56"),
            ("all_ipv4_addresses", r#"["192.168.1.50"]"#),
            ("user_shell", "/bin/ash"),
            ("swaptotal_mb", "100"),
            ("dns.nameservers", r#"["192.168.1.1","1.1.1.1"]"#),
        ],
    );
}

#[test]
fn rocky9_with_bridge() {
    let f = fixture("rocky9");
    check(
        &f,
        &[
            ("distribution", "Rocky"),
            ("os_family", "RedHat"),
            ("distribution_version", "9.3"),
            ("distribution_major_version", "9"),
            ("distribution_release", "Blue Onyx"),
            ("pkg_mgr", "dnf"),
            ("selinux.mode", "enforcing"),
            ("virtualization_type", "kvm"),
            ("interfaces", r#"["br-ex","eth0","lo"]"#),
            ("br_ex.device", "br-ex"),
            ("br_ex.type", "bridge"),
            ("br_ex.ipv4.netmask", "255.255.254.0"),
            ("br_ex.ipv4.network", "10.10.4.0"),
            ("eth0.promisc", "true"),
            ("eth0.ipv4", "<missing>"),
            ("default_ipv4.interface", "br-ex"),
            ("default_ipv4.address", "10.10.5.20"),
            ("default_ipv4.type", "bridge"),
            ("default_ipv6.address", "2001:db8:10::20"),
            ("default_ipv6.gateway", "2001:db8:10::1"),
            ("processor_count", "2"),
            ("processor_cores", "2"),
            ("processor_vcpus", "4"),
            ("user_gecos", ""),
            ("date_time.tz", "EDT"),
            ("date_time.iso8601", "2024-07-01T13:30:00Z"),
        ],
    );
}

#[test]
fn proc_net_route_fallback_without_ip() {
    let out = "@@uname\nmachine=x86_64\nnodename=h\n@@links\neth0 mtu=1500 mac=aa:bb:cc:dd:ee:ff oper=up flags=0x1003 type=1 kind=\n\
               @@proc-net-route\nIface\tDestination\tGateway \tFlags\tRefCnt\tUse\tMetric\tMask\tMTU\tWindow\tIRTT\n\
               eth0\t00000000\t0101A8C0\t0003\t0\t0\t0\t00000000\t0\t0\t0\n@@hostname-i\n192.168.1.7 127.0.1.1\n";
    let f = parse(out).unwrap();
    check(
        &f,
        &[
            ("default_ipv4.interface", "eth0"),
            ("default_ipv4.gateway", "192.168.1.1"),
            ("default_ipv4.macaddress", "aa:bb:cc:dd:ee:ff"),
            ("all_ipv4_addresses", r#"["192.168.1.7"]"#),
            ("distribution", "<missing>"),
        ],
    );
}

async fn run_script_with(shell: &str) -> Vars {
    use crate::connection::{Connection, local::LocalConnection};
    let c = LocalConnection::new("localhost");
    let out = c
        .exec_raw(
            &format!("{shell} -s"),
            None,
            &crate::connection::Stdin::Bytes(script().as_bytes().to_vec()),
        )
        .await
        .unwrap();
    assert_eq!(out.rc, 0, "{shell}: {}", out.stderr_str());
    assert!(
        out.stderr.is_empty(),
        "{shell} printed errors: {}",
        out.stderr_str()
    );
    parse(&out.stdout_str()).unwrap()
}

fn cmd_out(c: &str) -> String {
    let o = std::process::Command::new("sh")
        .arg("-c")
        .arg(c)
        .output()
        .unwrap();
    String::from_utf8_lossy(&o.stdout).trim().to_string()
}

fn assert_matches_this_machine(f: &Vars) {
    assert_eq!(g(f, "machine"), cmd_out("uname -m"));
    assert_eq!(g(f, "kernel"), cmd_out("uname -r"));
    let host = cmd_out("hostname");
    assert_eq!(g(f, "hostname"), host.split('.').next().unwrap());
    let osr = shell_kv(
        &std::fs::read_to_string("/etc/os-release")
            .unwrap()
            .lines()
            .collect::<Vec<_>>(),
    );
    if osr.get("ID").map(String::as_str) == Some("debian") {
        assert_eq!(g(f, "distribution"), "Debian");
        assert_eq!(g(f, "distribution_major_version"), osr["VERSION_ID"]);
        assert_eq!(g(f, "distribution_release"), osr["VERSION_CODENAME"]);
    }
    assert_eq!(g(f, "user_uid"), cmd_out("id -u"));
    assert_eq!(g(f, "user_id"), cmd_out("id -un"));
    let vcpus: i64 = cmd_out("grep -c ^processor /proc/cpuinfo").parse().unwrap();
    assert_eq!(g(f, "processor_vcpus"), vcpus.to_string());
    let mem_kb: i64 = cmd_out("awk '/^MemTotal:/ {print $2}' /proc/meminfo")
        .parse()
        .unwrap();
    assert_eq!(g(f, "memtotal_mb"), (mem_kb / 1024).to_string());
    assert_ne!(g(f, "env"), "<missing>");
    assert_ne!(g(f, "date_time.epoch"), "<missing>");
    let route = cmd_out("ip -4 route get 8.8.8.8 2>/dev/null");
    if let Some(dev) = route.split_whitespace().skip_while(|w| *w != "dev").nth(1) {
        assert_eq!(g(f, "default_ipv4.interface"), dev);
    }
}

#[tokio::test]
async fn live_script_under_sh_and_dash() {
    // The way the engine runs it: one Cmd through the connection.
    use crate::connection::{Cmd, Connection, local::LocalConnection};
    let out = LocalConnection::new("localhost")
        .exec(&Cmd::new(script()))
        .await
        .unwrap();
    assert_eq!(out.rc, 0, "{}", out.stderr_str());
    assert!(out.stderr.is_empty(), "{}", out.stderr_str());
    assert_matches_this_machine(&parse(&out.stdout_str()).unwrap());
    let f = run_script_with("/bin/sh").await;
    assert_matches_this_machine(&f);
    if std::path::Path::new("/usr/bin/dash").exists() || std::path::Path::new("/bin/dash").exists()
    {
        let f = run_script_with("dash").await;
        assert_matches_this_machine(&f);
    } else {
        eprintln!("SKIPPED: dash is not installed");
    }
}

#[tokio::test]
async fn live_script_under_busybox_with_only_busybox_tools() {
    let Some(bb) = ["/bin/busybox", "/usr/bin/busybox", "/sbin/busybox"]
        .into_iter()
        .find(|p| std::path::Path::new(p).exists())
    else {
        eprintln!("SKIPPED: busybox is not installed (apt-get install -y busybox)");
        return;
    };
    // A PATH of busybox applets only (the script appends the system dirs after it, so every
    // tool it finds first is busybox's, as on Alpine).
    let dir = std::env::temp_dir().join(format!("prov-bb-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let list = std::process::Command::new(bb)
        .arg("--list")
        .output()
        .unwrap();
    for applet in String::from_utf8_lossy(&list.stdout).lines() {
        let _ = std::os::unix::fs::symlink(bb, dir.join(applet));
    }
    let f = run_script_with(&format!("{bb} env PATH={} {bb} sh", dir.display())).await;
    std::fs::remove_dir_all(&dir).unwrap();
    assert_matches_this_machine(&f);
}

#[test]
fn minimal_container_without_ip_uses_fib_trie() {
    let out = "@@links\neth0 mtu=1500 mac=02:42:ac:11:00:02 oper=up flags=0x1003 type=1 kind=\n\
               lo mtu=65536 mac=00:00:00:00:00:00 oper=unknown flags=0x9 type=772 kind=\n\
               @@fib-trie\nMain:\n  +-- 0.0.0.0/0 3 0 5\n     |-- 0.0.0.0\n        /0 universe UNICAST\n\
               \x20    +-- 127.0.0.0/8 2 0 2\n           |-- 127.0.0.1\n              /32 host LOCAL\n\
               \x20          |-- 172.17.0.0\n                 /16 link UNICAST\n\
               \x20          |-- 172.17.0.2\n                 /32 host LOCAL\n\
               \x20          |-- 172.17.255.255\n              /32 link BROADCAST\n\
               Local:\n           |-- 172.17.0.2\n                 /32 host LOCAL\n\
               @@proc-net-route\nIface\tDestination\tGateway \tFlags\tRefCnt\tUse\tMetric\tMask\tMTU\tWindow\tIRTT\n\
               eth0\t00000000\t010011AC\t0003\t0\t0\t0\t00000000\t0\t0\t0\n\
               eth0\t000011AC\t00000000\t0001\t0\t0\t0\t0000FFFF\t0\t0\t0\n\
               @@hostname-i\n";
    let f = parse(out).unwrap();
    check(
        &f,
        &[
            ("eth0.ipv4.address", "172.17.0.2"),
            ("eth0.ipv4.prefix", "16"),
            ("eth0.ipv4.broadcast", "172.17.255.255"),
            ("lo.ipv4.address", "127.0.0.1"),
            ("all_ipv4_addresses", r#"["172.17.0.2"]"#),
            ("default_ipv4.address", "172.17.0.2"),
            ("default_ipv4.gateway", "172.17.0.1"),
            ("default_ipv4.interface", "eth0"),
            ("default_ipv4.network", "172.17.0.0"),
        ],
    );
}

#[tokio::test]
async fn live_script_without_ip_finds_the_same_addresses() {
    use crate::connection::{Cmd, Connection, local::LocalConnection};
    let c = LocalConnection::new("localhost");
    let with_ip = parse(&c.exec(&Cmd::new(script())).await.unwrap().stdout_str()).unwrap();
    let no_ip_script = script().replace("if have ip; then", "if false; then");
    assert_ne!(no_ip_script, script());
    let without = parse(&c.exec(&Cmd::new(no_ip_script)).await.unwrap().stdout_str()).unwrap();
    if g(&with_ip, "default_ipv4.interface") == "<missing>" {
        eprintln!("SKIPPED: this machine has no default route");
        return;
    }
    for k in [
        "default_ipv4.address",
        "default_ipv4.interface",
        "default_ipv4.gateway",
        "default_ipv4.netmask",
    ] {
        assert_eq!(g(&without, k), g(&with_ip, k), "{k}");
    }
    let mut a: Vec<String> = serde_json::from_str(&g(&with_ip, "all_ipv4_addresses")).unwrap();
    let mut b: Vec<String> = serde_json::from_str(&g(&without, "all_ipv4_addresses")).unwrap();
    a.sort();
    b.sort();
    assert_eq!(a, b);
}

#[test]
fn truncated_and_mangled_output_never_panics() {
    for name in FIXTURES {
        let text = fixture_text(name);
        let lines: Vec<&str> = text.lines().collect();
        for n in 0..lines.len() {
            let _ = parse(&lines[..n].join("\n"));
            // Drop one line, and cut one line in half.
            let mut v = lines.clone();
            v.remove(n);
            let _ = parse(&v.join("\n"));
            let half = &lines[n][..lines[n].len() / 2];
            let mut v = lines.clone();
            v[n] = if lines[n].is_char_boundary(half.len()) {
                half
            } else {
                ""
            };
            let _ = parse(&v.join("\n"));
        }
    }
}

/// `python` and `python_version` as Ansible's setup reports them; none without a Python.
#[test]
fn python_facts_describe_the_host_s_python() {
    let f = parse(
        "@@python\nexecutable=/usr/bin/python3\nversion_info=3 11 2 final 0\ntype=cpython\nhas_sslcontext=1\n@@end\n",
    )
    .unwrap();
    check(
        &f,
        &[
            ("python.executable", "/usr/bin/python3"),
            ("python.version.major", "3"),
            ("python.version.minor", "11"),
            ("python.version.releaselevel", "final"),
            ("python.version_info", r#"[3,11,2,"final",0]"#),
            ("python.type", "cpython"),
            ("python.has_sslcontext", "true"),
            ("python_version", "3.11.2"),
        ],
    );
    let f = parse("@@python\n@@end\n").unwrap();
    check(
        &f,
        &[("python", "<missing>"), ("python_version", "<missing>")],
    );
}

/// Every fact prov gathers belongs to one of Ansible's collectors, so `gather_subset` keeps or
/// drops it as ansible-core would (none falls back to `platform` unplaced).
#[test]
fn every_fact_has_its_collector() {
    for name in FIXTURES {
        let f = fixture(name);
        let interfaces = super::subset::interface_keys(&f);
        for k in f.keys() {
            assert!(
                super::subset::collector_of(k, &interfaces).is_some(),
                "{name}: fact {k} has no collector"
            );
        }
    }
}
