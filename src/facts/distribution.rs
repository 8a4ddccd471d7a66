//! The system and distribution: uname values, host names, service and package managers,
//! SELinux, `/etc/os-release` and friends (`distribution`, `os_family`, versions).

use super::hardware::virtualization;
use super::{map_of, s, shell_kv};
use crate::util::sections::Sections;
use crate::value::{Value, Vars};

pub(super) fn system_facts(secs: &Sections, f: &mut Vars) {
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
        // As ansible-core decides: pid 1's name, unless it is `init` or a shell (`...sh`),
        // with a few renamed; else what the host has.
        let pid1 = pid1.rsplit('/').next().unwrap_or("").trim();
        let named = !pid1.is_empty() && pid1 != "init" && !pid1.ends_with("sh");
        let mgr = if named {
            match pid1 {
                "procd" => "openwrt_init",
                "runit-init" => "runit",
                "svscan" => "svc",
                "openrc-init" => "openrc",
                other => other,
            }
        } else if bin("systemctl") && has("/run/systemd/system") {
            "systemd"
        } else if bin("initctl") && has("/etc/init") {
            "upstart"
        } else if has("/sbin/openrc") {
            "openrc"
        } else if has("/etc/init.d") {
            "sysvinit"
        } else {
            "service"
        };
        f.insert("service_mgr".into(), s(mgr));
        // `systemctl --version` on systemd hosts: "systemd 252 (252.39-1~deb12u2)", then the
        // compile-time features (Ansible's `systemd` fact).
        let sd = secs.lines("systemd");
        if mgr == "systemd"
            && let Some(version) = sd
                .first()
                .and_then(|l| l.split(' ').nth(1))
                .and_then(|v| v.trim().parse::<i64>().ok())
        {
            f.insert(
                "systemd".into(),
                crate::value::map_value([
                    ("features", s(sd.get(1).copied().unwrap_or("").trim_end())),
                    ("version", Value::from(version)),
                ]),
            );
        }
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
        // FIPS mode (Ansible's `fips`): the kernel's switch, off when it cannot be read.
        let fips = secs
            .file("/proc/sys/crypto/fips_enabled")
            .is_some_and(|v| v.trim() == "1");
        f.insert("fips".into(), Value::from(fips));
        let (vt, vr) = virtualization(secs, &has);
        f.insert("virtualization_type".into(), s(vt));
        f.insert("virtualization_role".into(), s(vr));
    }
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

pub(super) fn distribution_facts(secs: &Sections, f: &mut Vars) {
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
