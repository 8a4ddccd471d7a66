//! Facts in one round trip: a POSIX sh script run on the host and a parser on the controller.
//!
//! The script ([`script`]) needs only a POSIX shell and the usual base tools (it runs under dash,
//! bash and busybox ash) and prints raw sections: a line `@@name` followed by that section's
//! lines (uname values, `/etc/os-release`, `ip addr`, `/proc/meminfo`, ...). All interpretation
//! happens here in [`parse`], which turns the sections into Ansible's fact names and value
//! shapes (without the `ansible_` prefix). A missing section only leaves its facts unset.

use crate::error::{Error, Result};
use crate::value::{Value, Vars, map_value};
use indexmap::IndexMap;
use std::net::Ipv4Addr;

/// The script that prints every fact (no Python on the target).
pub fn script() -> &'static str {
    include_str!("facts.sh")
}

/// Parses the script's stdout into facts (keys without the `ansible_` prefix: `hostname`,
/// `distribution`, `default_ipv4`, ...).
pub fn parse(stdout: &str) -> Result<Vars> {
    let secs = Sections::parse(stdout);
    if secs.map.is_empty() {
        return Err(Error::failed(
            "fact gathering printed nothing prov recognizes (is the remote shell POSIX sh?)",
        )
        .hint("set gather_facts: false to skip fact gathering on this host"));
    }
    let mut f = Vars::new();
    system_facts(&secs, &mut f);
    distribution_facts(&secs, &mut f);
    platform_facts(&secs, &mut f);
    user_facts(&secs, &mut f);
    date_facts(&secs, &mut f);
    hardware_facts(&secs, &mut f);
    network_facts(&secs, &mut f);
    env_facts(&secs, &mut f);
    Ok(f)
}

/// The script's output split into named sections.
struct Sections<'a> {
    map: IndexMap<&'a str, Vec<&'a str>>,
}

impl<'a> Sections<'a> {
    fn parse(out: &'a str) -> Self {
        let mut map: IndexMap<&str, Vec<&str>> = IndexMap::new();
        let mut cur: Option<&str> = None;
        for line in out.lines() {
            if let Some(name) = line.strip_prefix("@@") {
                let name = name.trim();
                map.entry(name).or_default();
                cur = Some(name);
            } else if let Some(c) = cur {
                map.entry(c).or_default().push(line);
            }
        }
        Sections { map }
    }
    fn lines(&self, name: &str) -> &[&'a str] {
        self.map.get(name).map(Vec::as_slice).unwrap_or(&[])
    }
    fn has(&self, name: &str) -> bool {
        self.map.contains_key(name)
    }
    /// The content of a dumped file (`@@file <path>`), trimmed.
    fn file(&self, path: &str) -> Option<String> {
        let key = format!("file {path}");
        self.map
            .get(key.as_str())
            .map(|l| l.join("\n").trim().to_string())
    }
    /// `key=value` lines of a section.
    fn kv(&self, name: &str) -> IndexMap<&'a str, &'a str> {
        let mut m = IndexMap::new();
        for l in self.lines(name) {
            if let Some((k, v)) = l.split_once('=') {
                m.entry(k.trim()).or_insert(v);
            }
        }
        m
    }
    /// All values of a repeated key in a `key=value` section.
    fn all(&self, name: &str, key: &str) -> Vec<&'a str> {
        self.lines(name)
            .iter()
            .filter_map(|l| l.split_once('='))
            .filter(|(k, _)| *k == key)
            .map(|(_, v)| v)
            .collect()
    }
}

fn s(v: &str) -> Value {
    Value::from(v)
}

fn str_list<I: IntoIterator<Item = String>>(it: I) -> Value {
    Value::from(it.into_iter().map(Value::from).collect::<Vec<_>>())
}

fn map_of(pairs: Vec<(&str, Value)>) -> Value {
    map_value(pairs)
}

/// Parses `/etc/os-release`-style `KEY="value"` lines (quotes and backslash escapes removed).
fn shell_kv(lines: &[&str]) -> IndexMap<String, String> {
    let mut m = IndexMap::new();
    for l in lines {
        let l = l.trim();
        if l.starts_with('#') {
            continue;
        }
        let Some((k, v)) = l.split_once('=') else {
            continue;
        };
        let v = v.trim();
        let val = if let Some(inner) = v.strip_prefix('"').and_then(|x| x.strip_suffix('"')) {
            let mut out = String::new();
            let mut it = inner.chars();
            while let Some(c) = it.next() {
                if c == '\\' {
                    if let Some(n) = it.next() {
                        out.push(n);
                    }
                } else {
                    out.push(c);
                }
            }
            out
        } else if let Some(inner) = v.strip_prefix('\'').and_then(|x| x.strip_suffix('\'')) {
            inner.to_string()
        } else {
            v.to_string()
        };
        m.insert(k.trim().to_string(), val);
    }
    m
}

fn system_facts(secs: &Sections, f: &mut Vars) {
    let u = secs.kv("uname");
    let machine = u.get("machine").copied().unwrap_or("").trim();
    if secs.has("uname") {
        f.insert(
            "system".into(),
            s(u.get("system").copied().unwrap_or("Linux").trim()),
        );
        f.insert(
            "kernel".into(),
            s(u.get("kernel").copied().unwrap_or("").trim()),
        );
        f.insert(
            "kernel_version".into(),
            s(u.get("kernel_version").copied().unwrap_or("").trim()),
        );
        f.insert("machine".into(), s(machine));
        let arch = match machine {
            "i386" | "i486" | "i586" | "i686" => "i386",
            m => m,
        };
        f.insert("architecture".into(), s(arch));
        let bits = if machine.contains("64") || machine == "s390x" {
            "64"
        } else {
            "32"
        };
        f.insert("userspace_bits".into(), s(bits));
    }
    let h = secs.kv("hostname");
    let nodename = u
        .get("nodename")
        .copied()
        .map(str::trim)
        .filter(|x| !x.is_empty());
    let hostname = h
        .get("hostname")
        .copied()
        .map(str::trim)
        .filter(|x| !x.is_empty());
    if let Some(node) = nodename.or(hostname) {
        f.insert("nodename".into(), s(node));
        let short = node.split('.').next().unwrap_or(node);
        f.insert("hostname".into(), s(short));
        let fqdn = h
            .get("fqdn")
            .copied()
            .map(str::trim)
            .filter(|x| !x.is_empty() && !x.contains(' '))
            .unwrap_or(node);
        f.insert("fqdn".into(), s(fqdn));
        let domain = fqdn.split_once('.').map(|(_, d)| d).unwrap_or("");
        f.insert("domain".into(), s(domain));
    }
    if let Some(id) = secs.file("/etc/machine-id").filter(|x| !x.is_empty()) {
        f.insert("machine_id".into(), s(&id));
    }
    for (file, key) in [
        ("/sys/class/dmi/id/product_name", "product_name"),
        ("/sys/class/dmi/id/sys_vendor", "system_vendor"),
        ("/sys/class/dmi/id/product_version", "product_version"),
    ] {
        if let Some(v) = secs.file(file) {
            f.insert(key.into(), s(&v));
        }
    }
    if let Some(up) = secs.file("/proc/uptime")
        && let Some(n) = up
            .split_whitespace()
            .next()
            .and_then(|x| x.parse::<f64>().ok())
    {
        f.insert("uptime_seconds".into(), Value::from(n as i64));
    }
    // Service manager, package manager, SELinux, virtualization.
    let exists = secs.all("flags", "exists");
    let bins = secs.all("flags", "bin");
    let has = |p: &str| exists.contains(&p);
    let bin = |b: &str| bins.contains(&b);
    if secs.has("flags") {
        let pid1 = secs
            .kv("flags")
            .get("pid1")
            .map(|x| x.trim())
            .unwrap_or("")
            .to_string();
        let mgr = if has("/run/systemd/system") {
            "systemd"
        } else {
            match pid1.as_str() {
                "systemd" => "systemd",
                "runit" | "runit-init" => "runit",
                "openrc-init" => "openrc",
                "s6-svscan" => "s6",
                "upstart" => "upstart",
                _ if bin("initctl") && has("/etc/init") => "upstart",
                _ if has("/sbin/openrc") || bin("rc-service") => "openrc",
                _ if has("/etc/init.d") => "sysvinit",
                _ => "service",
            }
        };
        f.insert("service_mgr".into(), s(mgr));
        let pkg = [
            ("apt-get", "apt"),
            ("dnf5", "dnf5"),
            ("dnf", "dnf"),
            ("yum", "yum"),
            ("apk", "apk"),
            ("zypper", "zypper"),
            ("pacman", "pacman"),
            ("emerge", "portage"),
        ]
        .iter()
        .find(|(b, _)| bin(b))
        .map(|(_, m)| *m)
        .unwrap_or("unknown");
        f.insert("pkg_mgr".into(), s(pkg));
        // SELinux
        let selinux = match secs.file("/sys/fs/selinux/enforce") {
            Some(e) => {
                let cfg = shell_kv(secs.lines("file /etc/selinux/config"));
                let mode = if e.trim() == "1" {
                    "enforcing"
                } else {
                    "permissive"
                };
                let mut v = vec![("status", s("enabled")), ("mode", s(mode))];
                if let Some(c) = cfg.get("SELINUX") {
                    v.push(("config_mode", s(c)));
                }
                if let Some(t) = cfg.get("SELINUXTYPE") {
                    v.push(("type", s(t)));
                }
                map_of(v)
            }
            None => map_of(vec![("status", s("disabled"))]),
        };
        f.insert("selinux".into(), selinux);
        let (vt, vr) = virtualization(secs, &has);
        f.insert("virtualization_type".into(), s(vt));
        f.insert("virtualization_role".into(), s(vr));
    }
}

fn virtualization(secs: &Sections, has: &dyn Fn(&str) -> bool) -> (&'static str, &'static str) {
    if let Some(c) = secs.file("/run/systemd/container") {
        let t = match c.trim() {
            "docker" => "docker",
            "podman" => "podman",
            "lxc" | "lxc-libvirt" => "lxc",
            "systemd-nspawn" => "systemd-nspawn",
            "" => "",
            _ => "container",
        };
        if !t.is_empty() {
            return (t, "guest");
        }
    }
    if has("/.dockerenv") {
        return ("docker", "guest");
    }
    if has("/run/.containerenv") {
        return ("podman", "guest");
    }
    let cg = secs.lines("cgroup1");
    if cg
        .iter()
        .any(|l| l.contains("/docker/") || l.contains("/docker-"))
    {
        return ("docker", "guest");
    }
    if cg
        .iter()
        .any(|l| l.contains("/lxc/") || l.contains("/lxc.payload"))
    {
        return ("lxc", "guest");
    }
    if cg.iter().any(|l| l.contains("kubepods")) {
        return ("container", "guest");
    }
    if has("/proc/vz") && !has("/proc/bc") {
        return ("openvz", "guest");
    }
    let product = secs
        .file("/sys/class/dmi/id/product_name")
        .unwrap_or_default();
    let vendor = secs
        .file("/sys/class/dmi/id/sys_vendor")
        .unwrap_or_default();
    let p = product.as_str();
    let v = vendor.as_str();
    if p.contains("KVM") || p.contains("OpenStack") || p.contains("Bochs") {
        return ("kvm", "guest");
    }
    if p.contains("VMware") || v.contains("VMware") {
        return ("VMware", "guest");
    }
    if p.contains("VirtualBox") {
        return ("virtualbox", "guest");
    }
    if p.contains("HVM domU") || v.contains("Xen") {
        return ("xen", "guest");
    }
    if v.contains("QEMU") || v.contains("Amazon EC2") || v.contains("Google") {
        return ("kvm", "guest");
    }
    if v.contains("Microsoft Corporation") && p.contains("Virtual Machine") {
        return ("VirtualPC", "guest");
    }
    if v.contains("oVirt") || v.contains("Red Hat") && p.contains("RHEV") {
        return ("RHEV", "guest");
    }
    if has("/proc/xen") {
        return ("xen", "guest");
    }
    ("", "")
}

/// Ansible's `os_family` for a distribution name.
pub fn os_family(dist: &str) -> &str {
    match dist {
        "RedHat" | "Fedora" | "CentOS" | "Scientific" | "SLC" | "Ascendos" | "CloudLinux"
        | "PSBM" | "OracleLinux" | "OVS" | "OEL" | "Amazon" | "Virtuozzo" | "XenServer"
        | "Alibaba" | "EulerOS" | "openEuler" | "AlmaLinux" | "Rocky" | "TencentOS"
        | "EuroLinux" | "MIRACLE" => "RedHat",
        "Debian" | "Ubuntu" | "Raspbian" | "Neon" | "KDE neon" | "Linux Mint" | "SteamOS"
        | "Devuan" | "Kali" | "Cumulus Linux" | "Pop!_OS" | "Parrot" | "Pardus GNU/Linux"
        | "Uos" | "Deepin" | "OSMC" => "Debian",
        "SuSE"
        | "SLES"
        | "SLED"
        | "openSUSE"
        | "openSUSE Tumbleweed"
        | "SLES_SAP"
        | "SUSE_LINUX"
        | "openSUSE Leap" => "Suse",
        "Archlinux" | "Antergos" | "Manjaro" => "Archlinux",
        "Alpine" => "Alpine",
        "Gentoo" | "Funtoo" => "Gentoo",
        "Mandriva" | "Mandrake" | "Altlinux" | "OpenMandriva" => "Mandrake",
        "Slackware" => "Slackware",
        "Void" => "Void",
        other => other,
    }
}

fn distribution_facts(secs: &Sections, f: &mut Vars) {
    let osr = shell_kv(secs.lines("os-release"));
    let id = osr
        .get("ID")
        .map(|x| x.to_ascii_lowercase())
        .unwrap_or_default();
    let redhat_release = secs.file("/etc/redhat-release");
    let alpine_release = secs.file("/etc/alpine-release");
    let debian_version = secs.file("/etc/debian_version");
    let dist: String = match id.as_str() {
        "debian" | "raspbian" => "Debian".into(),
        "ubuntu" => "Ubuntu".into(),
        "linuxmint" => "Linux Mint".into(),
        "pop" => "Pop!_OS".into(),
        "kali" => "Kali".into(),
        "devuan" => "Devuan".into(),
        "neon" => "KDE neon".into(),
        "rhel" => "RedHat".into(),
        "centos" => "CentOS".into(),
        "rocky" => "Rocky".into(),
        "almalinux" => "AlmaLinux".into(),
        "fedora" => "Fedora".into(),
        "amzn" => "Amazon".into(),
        "ol" => "OracleLinux".into(),
        "scientific" => "Scientific".into(),
        "cloudlinux" => "CloudLinux".into(),
        "euleros" => "EulerOS".into(),
        "openeuler" => "openEuler".into(),
        "alpine" => "Alpine".into(),
        "opensuse-leap" => "openSUSE Leap".into(),
        "opensuse-tumbleweed" => "openSUSE Tumbleweed".into(),
        "opensuse" => "openSUSE".into(),
        "sles" => "SLES".into(),
        "sles_sap" => "SLES_SAP".into(),
        "sled" => "SLED".into(),
        "arch" | "archarm" => "Archlinux".into(),
        "manjaro" | "manjaro-arm" => "Manjaro".into(),
        "gentoo" => "Gentoo".into(),
        "void" => "Void".into(),
        "" => {
            if alpine_release.is_some() {
                "Alpine".into()
            } else if let Some(r) = &redhat_release {
                if r.contains("Red Hat") {
                    "RedHat".into()
                } else {
                    r.split_whitespace().next().unwrap_or("RedHat").to_string()
                }
            } else if debian_version.is_some() {
                "Debian".into()
            } else {
                return;
            }
        }
        _ => osr
            .get("NAME")
            .and_then(|n| n.split_whitespace().next())
            .map(str::to_string)
            .unwrap_or_else(|| id.clone()),
    };
    let version_id = osr.get("VERSION_ID").cloned().unwrap_or_default();
    let version: String = match dist.as_str() {
        "Debian" => debian_version
            .as_deref()
            .filter(|v| v.starts_with(|c: char| c.is_ascii_digit()))
            .map(str::to_string)
            .unwrap_or(version_id.clone()),
        "Alpine" => alpine_release.clone().unwrap_or(version_id.clone()),
        "CentOS" => redhat_release
            .as_deref()
            .and_then(|r| {
                r.split_whitespace()
                    .find(|w| w.starts_with(|c: char| c.is_ascii_digit()))
            })
            .map(str::to_string)
            .unwrap_or(version_id.clone()),
        "openSUSE Tumbleweed" => version_id.clone(),
        _ => version_id.clone(),
    };
    let version = if version.is_empty() {
        "NA".to_string()
    } else {
        version
    };
    let mut parts = version.split('.');
    let major = parts.next().unwrap_or("NA").to_string();
    let minor = parts.next().map(str::to_string);
    let paren = |v: &str| -> Option<String> {
        let start = v.find('(')?;
        let end = v[start..].find(')')? + start;
        let inner = v[start + 1..end].trim();
        (!inner.is_empty()).then(|| inner.to_string())
    };
    let release: String = match dist.as_str() {
        "Amazon" | "Alpine" => "NA".into(),
        "Debian" => osr
            .get("PRETTY_NAME")
            .and_then(|p| paren(p))
            .or_else(|| {
                osr.get("VERSION_CODENAME")
                    .cloned()
                    .filter(|x| !x.is_empty())
            })
            .unwrap_or_else(|| "NA".into()),
        d if os_family(d) == "Suse" => {
            let minor = version_id.split('.').nth(1).unwrap_or("");
            if minor.is_empty() && d.starts_with("SLE") {
                "0".into()
            } else {
                minor.to_string()
            }
        }
        _ => osr
            .get("VERSION_CODENAME")
            .cloned()
            .filter(|x| !x.is_empty())
            .or_else(|| {
                osr.get("UBUNTU_CODENAME")
                    .cloned()
                    .filter(|x| !x.is_empty())
            })
            .or_else(|| osr.get("VERSION").and_then(|v| paren(v)))
            .or_else(|| redhat_release.as_deref().and_then(paren))
            .unwrap_or_else(|| "NA".into()),
    };
    f.insert("os_family".into(), s(os_family(&dist)));
    f.insert("distribution".into(), s(&dist));
    f.insert("distribution_version".into(), s(&version));
    f.insert("distribution_major_version".into(), s(&major));
    if let Some(m) = minor {
        f.insert("distribution_minor_version".into(), s(&m));
    }
    f.insert("distribution_release".into(), s(&release));

    // lsb
    let mut lsb: Vec<(&str, Value)> = Vec::new();
    if secs.has("lsb_release") {
        for l in secs.lines("lsb_release") {
            let Some((k, v)) = l.split_once(':') else {
                continue;
            };
            let v = v.trim();
            match k.trim() {
                "Distributor ID" => lsb.push(("id", s(v))),
                "Description" => lsb.push(("description", s(v))),
                "Release" => {
                    lsb.push(("release", s(v)));
                    lsb.push(("major_release", s(v.split('.').next().unwrap_or(v))));
                }
                "Codename" => lsb.push(("codename", s(v))),
                _ => {}
            }
        }
    } else if secs.has("file /etc/lsb-release") {
        let m = shell_kv(secs.lines("file /etc/lsb-release"));
        for (k, name) in [
            ("DISTRIB_ID", "id"),
            ("DISTRIB_DESCRIPTION", "description"),
            ("DISTRIB_RELEASE", "release"),
            ("DISTRIB_CODENAME", "codename"),
        ] {
            if let Some(v) = m.get(k) {
                lsb.push((name, s(v)));
                if name == "release" {
                    lsb.push(("major_release", s(v.split('.').next().unwrap_or(v))));
                }
            }
        }
    }
    if !lsb.is_empty() {
        lsb.sort_by(|a, b| a.0.cmp(b.0));
        f.insert("lsb".into(), map_of(lsb));
    }
}

fn platform_facts(secs: &Sections, f: &mut Vars) {
    if let Some(rc) = secs.file("/etc/resolv.conf") {
        let mut ns = Vec::new();
        let mut search = Vec::new();
        let mut domain = None;
        let mut options: Vec<(String, Value)> = Vec::new();
        for l in rc.lines() {
            let l = l.trim();
            if l.starts_with('#') || l.starts_with(';') {
                continue;
            }
            let mut w = l.split_whitespace();
            match w.next() {
                Some("nameserver") => ns.extend(w.next().map(str::to_string)),
                Some("search") => search = w.map(str::to_string).collect(),
                Some("domain") => domain = w.next().map(str::to_string),
                Some("options") => {
                    for o in w {
                        match o.split_once(':') {
                            Some((k, v)) => options.push((k.to_string(), s(v))),
                            None => options.push((o.to_string(), s(""))),
                        }
                    }
                }
                _ => {}
            }
        }
        let mut dns = vec![("nameservers", str_list(ns))];
        if !search.is_empty() {
            dns.push(("search", str_list(search)));
        }
        if let Some(d) = &domain {
            dns.push(("domain", s(d)));
        }
        if !options.is_empty() {
            dns.push((
                "options",
                Value::from_iter(options.into_iter().map(|(k, v)| (Value::from(k), v))),
            ));
        }
        f.insert("dns".into(), map_of(dns));
    }
}

fn user_facts(secs: &Sections, f: &mut Vars) {
    if !secs.has("user") {
        return;
    }
    let u = secs.kv("user");
    if let Some(name) = u.get("user_id").map(|x| x.trim()).filter(|x| !x.is_empty()) {
        f.insert("user_id".into(), s(name));
    }
    for k in ["user_uid", "user_gid"] {
        if let Some(n) = u.get(k).and_then(|x| x.trim().parse::<i64>().ok()) {
            f.insert(k.into(), Value::from(n));
        }
    }
    if let Some(pw) = u.get("passwd") {
        let p: Vec<&str> = pw.trim().split(':').collect();
        if p.len() >= 7 {
            f.insert("user_gecos".into(), s(p[4]));
            f.insert("user_dir".into(), s(p[5]));
            f.insert("user_shell".into(), s(p[6]));
        }
    }
}

fn date_facts(secs: &Sections, f: &mut Vars) {
    let d = secs.kv("date");
    let Some(local) = d.get("local") else { return };
    let w: Vec<&str> = local.split_whitespace().collect();
    if w.len() < 8 {
        return;
    }
    let n = w.len();
    let (date, time) = (w[0], w[1]);
    let (offset, weekday, wnum, wk, _yday, epoch) =
        (w[n - 6], w[n - 5], w[n - 4], w[n - 3], w[n - 2], w[n - 1]);
    let tz = w[2..n - 6].join(" ");
    let dp: Vec<&str> = date.split('-').collect();
    let tp: Vec<&str> = time.split(':').collect();
    if dp.len() != 3 || tp.len() != 3 {
        return;
    }
    let utc = d.get("utc").copied().unwrap_or("").trim();
    let iso = match utc.split_once(' ') {
        Some((ud, ut)) => format!("{ud}T{ut}Z"),
        None => String::new(),
    };
    let basic_short = format!("{}T{}", date.replace('-', ""), time.replace(':', ""));
    let mut v = vec![
        ("year", s(dp[0])),
        ("month", s(dp[1])),
        ("weekday", s(weekday)),
        ("weekday_number", s(wnum)),
        ("weeknumber", s(wk)),
        ("day", s(dp[2])),
        ("hour", s(tp[0])),
        ("minute", s(tp[1])),
        ("second", s(tp[2])),
        ("epoch", s(epoch)),
    ];
    if let Ok(e) = epoch.parse::<i64>() {
        v.push(("epoch_int", s(&e.to_string())));
    }
    v.push(("date", s(date)));
    v.push(("time", s(time)));
    if !iso.is_empty() {
        v.push(("iso8601_micro", s(&iso.replace('Z', ".000000Z"))));
        v.push(("iso8601", s(&iso)));
    }
    v.push(("iso8601_basic", s(&format!("{basic_short}000000"))));
    v.push(("iso8601_basic_short", s(&basic_short)));
    v.push(("tz", s(&tz)));
    v.push(("tz_dst", s(&tz)));
    v.push(("tz_offset", s(offset)));
    f.insert("date_time".into(), map_of(v));
}

fn hardware_facts(secs: &Sections, f: &mut Vars) {
    if secs.has("meminfo") {
        let mut kb: IndexMap<&str, i64> = IndexMap::new();
        for l in secs.lines("meminfo") {
            if let Some((k, v)) = l.split_once(':')
                && let Some(n) = v
                    .split_whitespace()
                    .next()
                    .and_then(|x| x.parse::<i64>().ok())
            {
                kb.insert(k.trim(), n);
            }
        }
        let mb = |k: &str| kb.get(k).map(|v| v / 1024);
        if let (Some(total), Some(free)) = (mb("MemTotal"), mb("MemFree")) {
            f.insert("memtotal_mb".into(), Value::from(total));
            f.insert("memfree_mb".into(), Value::from(free));
            let (st, sf) = (mb("SwapTotal").unwrap_or(0), mb("SwapFree").unwrap_or(0));
            f.insert("swaptotal_mb".into(), Value::from(st));
            f.insert("swapfree_mb".into(), Value::from(sf));
            let cache = mb("Buffers").unwrap_or(0) + mb("Cached").unwrap_or(0);
            let nocache_free = free + cache;
            f.insert(
                "memory_mb".into(),
                map_of(vec![
                    (
                        "real",
                        map_of(vec![
                            ("total", Value::from(total)),
                            ("used", Value::from(total - free)),
                            ("free", Value::from(free)),
                        ]),
                    ),
                    (
                        "nocache",
                        map_of(vec![
                            ("free", Value::from(nocache_free)),
                            ("used", Value::from(total - nocache_free)),
                        ]),
                    ),
                    (
                        "swap",
                        map_of(vec![
                            ("total", Value::from(st)),
                            ("free", Value::from(sf)),
                            ("used", Value::from(st - sf)),
                        ]),
                    ),
                ]),
            );
        }
    }
    if secs.has("cpuinfo") {
        let mut processor: Vec<Value> = Vec::new();
        let mut vcpu_lines = 0i64;
        let mut sockets: IndexMap<String, i64> = IndexMap::new();
        let mut cores: IndexMap<String, i64> = IndexMap::new();
        let mut physid = String::new();
        let mut coreid = String::new();
        let mut nproc = None;
        for l in secs.lines("cpuinfo") {
            let Some((k, v)) = l.split_once(':') else {
                continue;
            };
            let (k, v) = (k.trim(), v.trim());
            match k {
                "processor" => {
                    vcpu_lines += 1;
                    processor.push(s(v));
                }
                "vendor_id" | "model name" | "Hardware" | "cpu model" => processor.push(s(v)),
                "physical id" => {
                    physid = v.to_string();
                    sockets.entry(physid.clone()).or_insert(1);
                }
                "core id" => {
                    coreid = v.to_string();
                    cores.entry(coreid.clone()).or_insert(1);
                }
                "cpu cores" => {
                    let n = v.parse().unwrap_or(1);
                    sockets.insert(physid.clone(), n);
                }
                "siblings" => {
                    let n = v.parse().unwrap_or(1);
                    cores.insert(coreid.clone(), n);
                }
                "nproc" => nproc = v.parse::<i64>().ok(),
                _ => {}
            }
        }
        let count = if sockets.is_empty() {
            vcpu_lines.max(1)
        } else {
            sockets.len() as i64
        };
        let per_socket = sockets
            .values()
            .next()
            .copied()
            .filter(|n| *n > 0)
            .unwrap_or(1);
        let threads = cores
            .values()
            .next()
            .map(|n| (n / per_socket).max(1))
            .unwrap_or(1);
        let vcpus = if sockets.is_empty() {
            vcpu_lines.max(1)
        } else {
            threads * count * per_socket
        };
        f.insert("processor".into(), Value::from(processor));
        f.insert("processor_count".into(), Value::from(count));
        f.insert("processor_cores".into(), Value::from(per_socket));
        f.insert("processor_threads_per_core".into(), Value::from(threads));
        f.insert("processor_vcpus".into(), Value::from(vcpus));
        f.insert(
            "processor_nproc".into(),
            Value::from(nproc.unwrap_or(vcpus)),
        );
    }
}

/// One IPv4 address of an interface.
#[derive(Clone, Debug)]
struct V4 {
    address: Ipv4Addr,
    prefix: u8,
    broadcast: Option<String>,
    secondary: bool,
}

impl V4 {
    fn netmask(&self) -> Ipv4Addr {
        let bits = if self.prefix == 0 {
            0
        } else {
            u32::MAX << (32 - u32::from(self.prefix.min(32)))
        };
        Ipv4Addr::from(bits)
    }
    fn network(&self) -> Ipv4Addr {
        Ipv4Addr::from(u32::from(self.address) & u32::from(self.netmask()))
    }
    fn value(&self) -> Value {
        let mut v = vec![("address", s(&self.address.to_string()))];
        if let Some(b) = &self.broadcast {
            v.push(("broadcast", s(b)));
        }
        v.push(("netmask", s(&self.netmask().to_string())));
        v.push(("network", s(&self.network().to_string())));
        v.push(("prefix", s(&self.prefix.to_string())));
        map_of(v)
    }
}

#[derive(Clone, Debug, Default)]
struct Iface {
    mtu: Option<i64>,
    mac: Option<String>,
    active: Option<bool>,
    promisc: bool,
    kind: Option<String>,
    v4: Vec<V4>,
    v6: Vec<(String, String, String)>,
}

fn network_facts(secs: &Sections, f: &mut Vars) {
    let mut ifs: IndexMap<String, Iface> = IndexMap::new();
    for l in secs.lines("links") {
        let mut w = l.split_whitespace();
        let Some(name) = w.next() else { continue };
        let it = ifs.entry(name.to_string()).or_default();
        for kv in w {
            let Some((k, v)) = kv.split_once('=') else {
                continue;
            };
            match k {
                "mtu" => it.mtu = v.parse().ok(),
                "mac" if !v.is_empty() => it.mac = Some(v.to_string()),
                "oper" if !v.is_empty() => it.active = Some(v != "down"),
                "flags" => {
                    let n = i64::from_str_radix(v.trim_start_matches("0x"), 16).unwrap_or(0);
                    it.promisc = n & 0x100 != 0;
                    if it.active.is_none() {
                        it.active = Some(n & 1 != 0);
                    }
                }
                "type" if it.kind.is_none() => {
                    it.kind = Some(
                        match v {
                            "1" => "ether",
                            "32" => "infiniband",
                            "512" => "ppp",
                            "772" => "loopback",
                            "65534" => "tunnel",
                            _ => "unknown",
                        }
                        .to_string(),
                    )
                }
                "kind" if !v.is_empty() => it.kind = Some(v.to_string()),
                _ => {}
            }
        }
    }
    let mut cur: Option<String> = None;
    for l in secs.lines("ip-addr") {
        if l.starts_with(|c: char| c.is_ascii_digit()) {
            // "4: eth0@if5: <FLAGS> mtu 1400 ..."
            let mut parts = l.splitn(3, ": ");
            let _ = parts.next();
            let Some(name) = parts.next() else { continue };
            let name = name.split('@').next().unwrap_or(name).trim().to_string();
            let rest = parts.next().unwrap_or("");
            let it = ifs.entry(name.clone()).or_default();
            let words: Vec<&str> = rest.split_whitespace().collect();
            if it.mtu.is_none()
                && let Some(i) = words.iter().position(|w| *w == "mtu")
            {
                it.mtu = words.get(i + 1).and_then(|x| x.parse().ok());
            }
            if it.active.is_none() {
                it.active = Some(rest.contains(",UP") || rest.contains("<UP"));
            }
            cur = Some(name);
            continue;
        }
        let Some(name) = &cur else { continue };
        let w: Vec<&str> = l.split_whitespace().collect();
        let Some(it) = ifs.get_mut(name) else {
            continue;
        };
        match w.first().copied() {
            Some(k) if k.starts_with("link/") => {
                if it.mac.is_none()
                    && let Some(m) = w.get(1)
                {
                    it.mac = Some(m.to_string());
                }
                if it.kind.is_none() {
                    it.kind = Some(
                        if k == "link/loopback" {
                            "loopback"
                        } else {
                            "ether"
                        }
                        .to_string(),
                    );
                }
            }
            Some("inet") => {
                let Some((a, p)) = w.get(1).map(|x| x.split_once('/').unwrap_or((x, "32"))) else {
                    continue;
                };
                let Ok(address) = a.parse::<Ipv4Addr>() else {
                    continue;
                };
                let prefix = p.parse().unwrap_or(32);
                let broadcast = w
                    .iter()
                    .position(|x| *x == "brd")
                    .and_then(|i| w.get(i + 1))
                    .map(|x| x.to_string());
                let secondary = w.contains(&"secondary");
                it.v4.push(V4 {
                    address,
                    prefix,
                    broadcast,
                    secondary,
                });
            }
            Some("inet6") => {
                let Some((a, p)) = w.get(1).map(|x| x.split_once('/').unwrap_or((x, "128"))) else {
                    continue;
                };
                let scope = w
                    .iter()
                    .position(|x| *x == "scope")
                    .and_then(|i| w.get(i + 1))
                    .copied()
                    .unwrap_or("global");
                it.v6
                    .push((a.to_string(), p.to_string(), scope.to_string()));
            }
            _ => {}
        }
    }
    if !secs.has("ip-addr") {
        fib_trie_addresses(secs, &mut ifs);
    }
    if ifs.is_empty() {
        return;
    }
    let names: Vec<String> = ifs.keys().cloned().collect();
    f.insert("interfaces".into(), str_list(names.clone()));
    let mut all4 = Vec::new();
    let mut all6 = Vec::new();
    let have_ip = secs.has("ip-addr") || ifs.values().any(|i| !i.v4.is_empty());
    for (name, it) in &ifs {
        let mut v = vec![("device", s(name))];
        if let Some(a) = it.active {
            v.push(("active", Value::from(a)));
        }
        if let Some(t) = &it.kind {
            v.push(("type", s(t)));
        }
        if let Some(m) = &it.mac {
            v.push(("macaddress", s(m)));
        }
        if let Some(m) = it.mtu {
            v.push(("mtu", Value::from(m)));
        }
        v.push(("promisc", Value::from(it.promisc)));
        if let Some(p) = it.v4.iter().find(|a| !a.secondary).or(it.v4.first()) {
            v.push(("ipv4", p.value()));
        }
        let secondaries: Vec<Value> = it
            .v4
            .iter()
            .filter(|a| a.secondary)
            .map(V4::value)
            .collect();
        if !secondaries.is_empty() {
            v.push(("ipv4_secondaries", Value::from(secondaries)));
        }
        if !it.v6.is_empty() {
            let v6: Vec<Value> = it
                .v6
                .iter()
                .map(|(a, p, sc)| {
                    map_of(vec![("address", s(a)), ("prefix", s(p)), ("scope", s(sc))])
                })
                .collect();
            v.push(("ipv6", Value::from(v6)));
        }
        for a in &it.v4 {
            if !a.address.is_loopback() {
                all4.push(a.address.to_string());
            }
        }
        for (a, _, _) in &it.v6 {
            if a != "::1" {
                all6.push(a.clone());
            }
        }
        f.insert(name.replace(['-', ':', '.'], "_"), map_of(v));
    }
    if !have_ip {
        for a in secs
            .lines("hostname-i")
            .iter()
            .flat_map(|l| l.split_whitespace())
        {
            if let Ok(ip) = a.parse::<Ipv4Addr>() {
                if !ip.is_loopback() && !all4.contains(&a.to_string()) {
                    all4.push(a.to_string());
                }
            } else if a.contains(':') && a != "::1" && !all6.contains(&a.to_string()) {
                all6.push(a.to_string());
            }
        }
    }
    f.insert("all_ipv4_addresses".into(), str_list(all4));
    f.insert("all_ipv6_addresses".into(), str_list(all6));

    // default_ipv4: `ip -4 route get`, then `ip route show default`, then /proc/net/route.
    let word_after = |line: &str, key: &str| -> Option<String> {
        let w: Vec<&str> = line.split_whitespace().collect();
        w.iter()
            .position(|x| *x == key)
            .and_then(|i| w.get(i + 1))
            .map(|x| x.to_string())
    };
    let mut gw: Option<String> = None;
    let mut dev: Option<String> = None;
    let mut src: Option<String> = None;
    if let Some(l) = secs.lines("ip-route-get").first() {
        gw = word_after(l, "via");
        dev = word_after(l, "dev");
        src = word_after(l, "src");
    }
    if dev.is_none()
        && let Some(l) = secs
            .lines("ip-route-default")
            .iter()
            .find(|l| l.starts_with("default"))
    {
        gw = word_after(l, "via");
        dev = word_after(l, "dev");
    }
    if dev.is_none() {
        for l in secs.lines("proc-net-route").iter().skip(1) {
            let w: Vec<&str> = l.split_whitespace().collect();
            if w.len() >= 8 && w[1] == "00000000" && w[7] == "00000000" {
                dev = Some(w[0].to_string());
                if let Ok(n) = u32::from_str_radix(w[2], 16) {
                    gw = Some(Ipv4Addr::from(n.swap_bytes()).to_string());
                }
                break;
            }
        }
    }
    let mut d4: Vec<(&str, Value)> = Vec::new();
    if let Some(dev) = &dev {
        let it = ifs.get(dev);
        let addr = it.and_then(|it| {
            src.as_ref()
                .and_then(|s| it.v4.iter().find(|a| a.address.to_string() == *s))
                .or_else(|| it.v4.iter().find(|a| !a.secondary))
                .cloned()
        });
        match (&addr, &src) {
            (Some(a), _) => d4.push(("address", s(&a.address.to_string()))),
            (None, Some(sa)) => d4.push(("address", s(sa))),
            _ => {}
        }
        d4.push(("alias", s(dev)));
        if let Some(b) = addr.as_ref().and_then(|a| a.broadcast.clone()) {
            d4.push(("broadcast", s(&b)));
        }
        if let Some(g) = &gw {
            d4.push(("gateway", s(g)));
        }
        d4.push(("interface", s(dev)));
        if let Some(m) = it.and_then(|i| i.mac.clone()) {
            d4.push(("macaddress", s(&m)));
        }
        if let Some(m) = it.and_then(|i| i.mtu) {
            d4.push(("mtu", Value::from(m)));
        }
        if let Some(a) = &addr {
            d4.push(("netmask", s(&a.netmask().to_string())));
            d4.push(("network", s(&a.network().to_string())));
            d4.push(("prefix", s(&a.prefix.to_string())));
        }
        if let Some(t) = it.and_then(|i| i.kind.clone()) {
            d4.push(("type", s(&t)));
        }
    }
    f.insert("default_ipv4".into(), map_of(d4));
    let mut d6: Vec<(&str, Value)> = Vec::new();
    if let Some(l) = secs.lines("ip6-route-get").first()
        && let Some(dev) = word_after(l, "dev")
    {
        let it = ifs.get(&dev);
        let src = word_after(l, "src");
        let entry = it.and_then(|it| {
            it.v6
                .iter()
                .find(|(a, _, _)| Some(a) == src.as_ref())
                .or_else(|| it.v6.iter().find(|(_, _, sc)| sc == "global"))
                .cloned()
        });
        if let Some((a, p, sc)) = &entry {
            d6.push(("address", s(a)));
            d6.push(("prefix", s(p)));
            d6.push(("scope", s(sc)));
        } else if let Some(sa) = &src {
            d6.push(("address", s(sa)));
        }
        if let Some(g) = word_after(l, "via") {
            d6.push(("gateway", s(&g)));
        }
        d6.push(("interface", s(&dev)));
        if let Some(m) = it.and_then(|i| i.mac.clone()) {
            d6.push(("macaddress", s(&m)));
        }
        if let Some(m) = it.and_then(|i| i.mtu) {
            d6.push(("mtu", Value::from(m)));
        }
        if let Some(t) = it.and_then(|i| i.kind.clone()) {
            d6.push(("type", s(&t)));
        }
    }
    f.insert("default_ipv6".into(), map_of(d6));
}

/// Without `ip` (minimal containers): local IPv4 addresses from `/proc/net/fib_trie`, put on
/// the interface whose route in `/proc/net/route` contains them.
fn fib_trie_addresses(secs: &Sections, ifs: &mut IndexMap<String, Iface>) {
    let mut locals: Vec<Ipv4Addr> = Vec::new();
    let mut last: Option<Ipv4Addr> = None;
    for l in secs.lines("fib-trie") {
        let t = l.trim();
        if let Some(a) = t.strip_prefix("|-- ") {
            last = a.trim().parse().ok();
        } else if t.starts_with("/32 host LOCAL")
            && let Some(a) = last
            && !locals.contains(&a)
        {
            locals.push(a);
        }
    }
    // (iface, network, mask) of the non-default routes, in host (little-endian) order.
    let routes: Vec<(String, u32, u32)> = secs
        .lines("proc-net-route")
        .iter()
        .skip(1)
        .filter_map(|l| {
            let w: Vec<&str> = l.split_whitespace().collect();
            let net = u32::from_str_radix(w.get(1)?, 16).ok()?.swap_bytes();
            let mask = u32::from_str_radix(w.get(7)?, 16).ok()?.swap_bytes();
            (mask != 0).then(|| (w[0].to_string(), net, mask))
        })
        .collect();
    for a in locals {
        let (name, prefix) = if a.is_loopback() {
            ("lo".to_string(), 8u8)
        } else {
            match routes
                .iter()
                .filter(|(_, net, mask)| u32::from(a) & mask == *net)
                .max_by_key(|(_, _, mask)| mask.count_ones())
            {
                Some((n, _, mask)) => (n.clone(), mask.count_ones() as u8),
                None => continue,
            }
        };
        let mut v4 = V4 {
            address: a,
            prefix,
            broadcast: None,
            secondary: false,
        };
        if prefix < 31 && !a.is_loopback() {
            v4.broadcast = Some(
                Ipv4Addr::from(u32::from(v4.network()) | !u32::from(v4.netmask())).to_string(),
            );
        }
        let it = ifs.entry(name).or_default();
        v4.secondary = !it.v4.is_empty();
        it.v4.push(v4);
    }
}

fn env_facts(secs: &Sections, f: &mut Vars) {
    let mut env: Vec<(String, String)> = Vec::new();
    if secs.has("env-hex") {
        let mut bytes = Vec::new();
        for l in secs.lines("env-hex") {
            for h in l.split_whitespace() {
                if let Ok(b) = u8::from_str_radix(h, 16) {
                    bytes.push(b);
                }
            }
        }
        for item in bytes.split(|b| *b == 0) {
            let item = String::from_utf8_lossy(item);
            if let Some((k, v)) = item.split_once('=')
                && !k.is_empty()
            {
                env.push((k.to_string(), v.to_string()));
            }
        }
    }
    if env.is_empty() && secs.has("env") {
        for l in secs.lines("env") {
            if let Some((k, v)) = l.split_once('=')
                && !k.is_empty()
                && k.bytes().all(|c| c.is_ascii_alphanumeric() || c == b'_')
            {
                env.push((k.to_string(), v.to_string()));
            }
        }
    }
    if secs.has("env-hex") || secs.has("env") {
        f.insert(
            "env".into(),
            Value::from_iter(
                env.into_iter()
                    .map(|(k, v)| (Value::from(k), Value::from(v))),
            ),
        );
    }
}

#[cfg(test)]
mod tests {
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

    fn fixture(name: &str) -> Vars {
        let p = format!(
            "{}/tests/fixtures/facts/{name}.txt",
            env!("CARGO_MANIFEST_DIR")
        );
        parse(&std::fs::read_to_string(p).unwrap()).unwrap()
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
                ("service_mgr", "sysvinit"),
                ("virtualization_type", "docker"),
                ("virtualization_role", "guest"),
                ("selinux.status", "disabled"),
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
        if std::path::Path::new("/usr/bin/dash").exists()
            || std::path::Path::new("/bin/dash").exists()
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
        for name in [
            "debian12_local",
            "ubuntu2204",
            "amazon2023",
            "alpine319",
            "rocky9",
        ] {
            let p = format!(
                "{}/tests/fixtures/facts/{name}.txt",
                env!("CARGO_MANIFEST_DIR")
            );
            let text = std::fs::read_to_string(p).unwrap();
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
}
