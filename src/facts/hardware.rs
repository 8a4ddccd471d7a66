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
