//! Hardware: memory, processors, DMI product names, and virtualization.

use super::{map_of, s};
use crate::util::sections::Sections;
use crate::value::{Value, Vars};
use indexmap::IndexMap;

pub(super) fn virtualization(
    secs: &Sections,
    has: &dyn Fn(&str) -> bool,
) -> (&'static str, &'static str) {
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

pub(super) fn hardware_facts(secs: &Sections, f: &mut Vars) {
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

/// Python's `re.sub(r'\\[0-7]{3}', ...)` on a mount table field: `\040` is a space.
fn octal_unescape(s: &str) -> String {
    let b = s.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        if b[i] == b'\\'
            && i + 3 < b.len()
            && b[i + 1..i + 4].iter().all(|c| (b'0'..=b'7').contains(c))
        {
            let v = b[i + 1..i + 4]
                .iter()
                .fold(0u32, |a, c| a * 8 + u32::from(c - b'0'));
            match char::from_u32(v) {
                Some(c) => {
                    let mut buf = [0u8; 4];
                    out.extend_from_slice(c.encode_utf8(&mut buf).as_bytes());
                }
                None => out.extend_from_slice(&b[i..i + 4]),
            }
            i += 4;
        } else {
            out.push(b[i]);
            i += 1;
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// `mounts`, as Ansible's Linux hardware facts give them: the real file systems of the mount
/// table (a device path or `host:/path`, not `none`), `,bind` added to bind mounts' options,
/// the UUID from lsblk (`N/A` when unknown), and the statvfs sizes; one entry per mount point
/// (the last one mounted there, in the place of the first).
pub(super) fn mount_facts(secs: &Sections, f: &mut Vars) {
    if !secs.has("mounts") {
        return;
    }
    let binds: std::collections::HashSet<&str> = secs
        .lines("findmnt")
        .iter()
        .filter_map(|l| {
            let w: Vec<&str> = l.split_whitespace().collect();
            (w.len() >= 2 && w[1].ends_with(']')).then_some(w[0])
        })
        .collect();
    let mut uuids: IndexMap<&str, &str> = IndexMap::new();
    for l in secs.lines("lsblk") {
        if let Some((name, uuid)) = l.trim().rsplit_once(char::is_whitespace) {
            uuids.entry(name.trim()).or_insert(uuid.trim());
        }
    }
    let stats: IndexMap<usize, Vec<u64>> = secs
        .lines("mount-stat")
        .iter()
        .filter_map(|l| {
            let mut w = l.split_whitespace();
            let n = w.next()?.parse().ok()?;
            let v: Vec<u64> = w.filter_map(|x| x.parse().ok()).collect();
            Some((n, v))
        })
        .collect();
    let mut mounts: IndexMap<String, Value> = IndexMap::new();
    for (i, l) in secs.lines("mounts").iter().enumerate() {
        let w: Vec<String> = l.split_whitespace().map(octal_unescape).collect();
        if w.len() < 6 {
            continue;
        }
        let (device, mount, fstype) = (&w[0], &w[1], &w[2]);
        if (!device.starts_with(['/', '\\']) && !device.contains(":/")) || fstype == "none" {
            continue;
        }
        let mut options = w[3].clone();
        if binds.contains(mount.as_str()) {
            options.push_str(",bind");
        }
        let int = |x: &str| Value::from(x.parse::<i64>().unwrap_or(0));
        let mut m: Vec<(&str, Value)> = vec![
            ("mount", s(mount)),
            ("device", s(device)),
            ("fstype", s(fstype)),
            ("options", s(&options)),
            ("dump", int(&w[4])),
            ("passno", int(&w[5])),
        ];
        if let Some(v) = stats.get(&(i + 1)).filter(|v| v.len() == 6) {
            let (frsize, bsize, blocks, bavail, files, favail) =
                (v[0], v[1], v[2], v[3], v[4], v[5]);
            let n = |x: u64| Value::from(x as i64);
            m.extend([
                ("size_total", n(frsize * blocks)),
                ("size_available", n(frsize * bavail)),
                ("block_size", n(bsize)),
                ("block_total", n(blocks)),
                ("block_available", n(bavail)),
                ("block_used", n(blocks.saturating_sub(bavail))),
                ("inode_total", n(files)),
                ("inode_available", n(favail)),
                ("inode_used", n(files.saturating_sub(favail))),
            ]);
        }
        m.push((
            "uuid",
            s(uuids.get(device.as_str()).copied().unwrap_or("N/A")),
        ));
        mounts.insert(mount.clone(), map_of(m));
    }
    f.insert(
        "mounts".into(),
        Value::from(mounts.into_values().collect::<Vec<_>>()),
    );
}

/// `loadavg` (`1m`, `5m`, `15m`), from /proc/loadavg.
pub(super) fn loadavg_facts(secs: &Sections, f: &mut Vars) {
    let Some(text) = secs.file("/proc/loadavg") else {
        return;
    };
    let w: Vec<f64> = text
        .split_whitespace()
        .take(3)
        .filter_map(|x| x.parse().ok())
        .collect();
    if let [a, b, c] = w[..] {
        f.insert(
            "loadavg".into(),
            map_of(vec![
                ("1m", Value::from(a)),
                ("5m", Value::from(b)),
                ("15m", Value::from(c)),
            ]),
        );
    }
}
