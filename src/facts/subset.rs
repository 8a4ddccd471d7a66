//! `gather_subset`: which of Ansible's fact collectors a gathering runs, read as ansible-core
//! reads it (the minimal set always, then `all`, names and `!`-exclusions, collectors a chosen
//! one needs added back), and which of prov's facts each collector gives. prov gathers in one
//! round trip whatever the subset; the subset decides what is kept, and the script skips the
//! sections of collectors nobody asked for (`network`, `hardware`), which is where the time goes.

use crate::value::{Value, Vars};
use std::collections::BTreeSet;

/// One collector: its name, the fact names that also select it (`gather_subset: [mounts]`
/// means `hardware`), and the collectors it needs (their facts come with it, as in Ansible).
struct Collector {
    name: &'static str,
    ids: &'static [&'static str],
    needs: &'static [&'static str],
}

const fn c(
    name: &'static str,
    ids: &'static [&'static str],
    needs: &'static [&'static str],
) -> Collector {
    Collector { name, ids, needs }
}

/// One gathering's `gather_subset`, read: the list as given (returned as the `gather_subset`
/// fact) and the collectors it selects. Used by `setup` and by a play's fact gathering alike.
#[derive(Debug, Clone)]
pub struct Selection {
    spec: Vec<String>,
    chosen: BTreeSet<&'static str>,
}

impl Selection {
    /// Reads a `gather_subset` list (empty means `all`), or gives ansible-core's message for a
    /// name it does not know.
    pub fn new(spec: Vec<String>) -> Result<Selection, String> {
        let spec = if spec.is_empty() {
            vec!["all".to_string()]
        } else {
            spec
        };
        let chosen = collectors(&spec)?;
        Ok(Selection { spec, chosen })
    }

    /// The fact script's environment variable naming the sections to skip.
    pub fn env(&self) -> (String, String) {
        ("PROV_FACT_SKIP".to_string(), skipped_sections(&self.chosen))
    }

    /// Keeps the facts of the chosen collectors.
    pub fn keep(&self, facts: &mut Vars) {
        retain(facts, &self.chosen);
    }

    /// The facts setup adds to what it gathered: `gather_subset` (as given) and
    /// `module_setup: true`.
    pub fn setup_facts(&self) -> Vars {
        let subset: Vec<Value> = self.spec.iter().map(|s| Value::from(s.as_str())).collect();
        let mut v = Vars::new();
        v.insert("gather_subset".into(), Value::from(subset));
        v.insert("module_setup".into(), Value::from(true));
        v
    }
}

/// The collectors of a Linux host, as ansible-core names them.
const COLLECTORS: &[Collector] = &[
    c("apparmor", &[], &[]),
    c(
        "caps",
        &["system_capabilities", "system_capabilities_enforced"],
        &[],
    ),
    c("chroot", &["is_chroot"], &[]),
    c("cmdline", &[], &[]),
    c("date_time", &[], &[]),
    c(
        "distribution",
        &[
            "distribution_major_version",
            "distribution_release",
            "distribution_version",
            "os_family",
        ],
        &[],
    ),
    c("dns", &[], &[]),
    c("env", &[], &[]),
    c("facter", &["facter"], &[]),
    c("fibre_channel_wwn", &[], &[]),
    c("fips", &[], &[]),
    c(
        "hardware",
        &[
            "devices",
            "mounts",
            "processor",
            "processor_cores",
            "processor_count",
        ],
        &["platform"],
    ),
    c("iscsi", &[], &[]),
    c("loadavg", &[], &[]),
    c("local", &[], &[]),
    c("lsb", &[], &[]),
    c(
        "network",
        &[
            "all_ipv4_addresses",
            "all_ipv6_addresses",
            "default_ipv4",
            "default_ipv6",
            "interfaces",
        ],
        &["distribution", "platform"],
    ),
    c("nvme", &[], &[]),
    c("ohai", &[], &[]),
    c("pkg_mgr", &[], &["distribution"]),
    c(
        "platform",
        &[
            "architecture",
            "kernel",
            "kernel_version",
            "machine",
            "machine_id",
            "python_version",
            "system",
        ],
        &[],
    ),
    c("python", &[], &[]),
    c("selinux", &[], &[]),
    c("service_mgr", &[], &["distribution", "platform"]),
    c(
        "ssh_pub_keys",
        &[
            "ssh_host_key_dsa_public",
            "ssh_host_key_ecdsa_public",
            "ssh_host_key_ed25519_public",
            "ssh_host_key_rsa_public",
            "ssh_host_pub_keys",
        ],
        &[],
    ),
    c("systemd", &[], &[]),
    c(
        "user",
        &[
            "effective_group_ids",
            "effective_user_id",
            "real_user_id",
            "user_dir",
            "user_gecos",
            "user_gid",
            "user_id",
            "user_shell",
            "user_uid",
        ],
        &[],
    ),
    c(
        "virtual",
        &[
            "virtualization_role",
            "virtualization_tech_guest",
            "virtualization_tech_host",
            "virtualization_type",
        ],
        &[],
    ),
];

/// The collectors every gathering runs unless `!min` says otherwise.
const MIN: &[&str] = &[
    "apparmor",
    "caps",
    "cmdline",
    "date_time",
    "distribution",
    "dns",
    "env",
    "fips",
    "local",
    "lsb",
    "pkg_mgr",
    "platform",
    "python",
    "selinux",
    "service_mgr",
    "ssh_pub_keys",
    "user",
];

/// Everything a subset may name (collectors and their fact names), sorted.
fn valid() -> BTreeSet<&'static str> {
    COLLECTORS
        .iter()
        .flat_map(|c| std::iter::once(c.name).chain(c.ids.iter().copied()))
        .collect()
}

/// The collector a subset name selects (a collector, or one of its fact names).
fn collector_named(name: &str) -> Option<&'static str> {
    COLLECTORS
        .iter()
        .find(|c| c.name == name || c.ids.contains(&name))
        .map(|c| c.name)
}

/// The `gather_subset` value as a list: a list, or a comma-separated string (as Ansible's
/// `list` option type splits it); nothing given means `all`.
pub fn spec_of(v: Option<&Value>) -> Vec<String> {
    let items: Vec<String> = match v {
        None => vec![],
        Some(v) if v.is_none() || v.is_undefined() => vec![],
        Some(v) => match seq(v) {
            Some(items) => items,
            None => v.to_string().split(',').map(str::to_string).collect(),
        },
    };
    let items: Vec<String> = items
        .into_iter()
        .map(|s| s.trim().to_string())
        .filter(|s| !s.is_empty())
        .collect();
    if items.is_empty() {
        vec!["all".into()]
    } else {
        items
    }
}

/// A list value's items as strings.
fn seq(v: &Value) -> Option<Vec<String>> {
    if v.kind() != minijinja::value::ValueKind::Seq {
        return None;
    }
    Some(v.try_iter().ok()?.map(|x| x.to_string()).collect())
}

/// The collectors `spec` selects, or ansible-core's message for a name it does not know.
pub fn collectors(spec: &[String]) -> Result<BTreeSet<&'static str>, String> {
    let valid = valid();
    let all: BTreeSet<&'static str> = COLLECTORS.iter().map(|c| c.name).collect();
    let min: BTreeSet<&'static str> = MIN.iter().copied().collect();
    let mut add: BTreeSet<&'static str> = min.clone();
    let mut exclude: BTreeSet<&'static str> = BTreeSet::new();
    let mut explicit: BTreeSet<&'static str> = BTreeSet::new();
    for item in spec {
        match item.as_str() {
            "min" => add.extend(&min),
            "all" => add.extend(&all),
            "!min" => exclude.extend(&min),
            "!all" => exclude.extend(all.difference(&min)),
            other => {
                if let Some(name) = other.strip_prefix('!') {
                    // excluding a name nobody knows is allowed (and does nothing)
                    if let Some(c) = collector_named(name) {
                        exclude.insert(c);
                    }
                } else if let (true, Some(c)) = (valid.contains(other), collector_named(other)) {
                    explicit.insert(c);
                    add.insert(c);
                } else {
                    let allowed: Vec<&str> = valid.iter().copied().collect();
                    return Err(format!(
                        "Bad subset '{other}' given to Ansible. gather_subset options allowed: all, {}",
                        allowed.join(", ")
                    ));
                }
            }
        }
    }
    let mut chosen: BTreeSet<&'static str> = add
        .into_iter()
        .filter(|c| !exclude.contains(c) || explicit.contains(c))
        .collect();
    // A collector's requirements come with it.
    let needs: Vec<&'static str> = COLLECTORS
        .iter()
        .filter(|c| chosen.contains(c.name))
        .flat_map(|c| c.needs.iter().copied())
        .collect();
    chosen.extend(needs);
    Ok(chosen)
}

/// The collector that gives prov's fact `key` (without `ansible_`); `interfaces` names the
/// network interfaces, whose facts (`eth0`, `lo`) are the network collector's.
pub(super) fn collector_of(key: &str, interfaces: &BTreeSet<String>) -> Option<&'static str> {
    Some(match key {
        "apparmor" => "apparmor",
        "system_capabilities" | "system_capabilities_enforced" => "caps",
        "is_chroot" => "chroot",
        "cmdline" | "proc_cmdline" => "cmdline",
        "date_time" => "date_time",
        "dns" => "dns",
        "env" => "env",
        "fips" => "fips",
        "local" => "local",
        "lsb" => "lsb",
        "loadavg" => "loadavg",
        "systemd" => "systemd",
        "iscsi_iqn" => "iscsi",
        "fibre_channel_wwn" => "fibre_channel_wwn",
        "pkg_mgr" => "pkg_mgr",
        "python" => "python",
        "selinux" | "selinux_python_present" => "selinux",
        "service_mgr" => "service_mgr",
        "os_family" => "distribution",
        "architecture"
        | "domain"
        | "fqdn"
        | "hostname"
        | "kernel"
        | "kernel_version"
        | "machine"
        | "machine_id"
        | "nodename"
        | "python_version"
        | "system"
        | "userspace_architecture"
        | "userspace_bits" => "platform",
        "effective_group_id"
        | "effective_group_ids"
        | "effective_user_id"
        | "real_group_id"
        | "real_user_id" => "user",
        "all_ipv4_addresses"
        | "all_ipv6_addresses"
        | "default_ipv4"
        | "default_ipv6"
        | "interfaces"
        | "locally_reachable_ips" => "network",
        "device_links" | "devices" | "flags" | "form_factor" | "lvm" | "memory_mb" | "mounts"
        | "system_vendor" | "uptime_seconds" => "hardware",
        k if k.starts_with("distribution") => "distribution",
        k if k.starts_with("user_") => "user",
        k if k.starts_with("ssh_host_") => "ssh_pub_keys",
        k if k.starts_with("virtualization_") => "virtual",
        k if [
            "bios_",
            "board_",
            "chassis_",
            "mem",
            "processor",
            "product_",
            "swap",
        ]
        .iter()
        .any(|p| k.starts_with(p)) =>
        {
            "hardware"
        }
        k if interfaces.contains(k) => "network",
        k if k.starts_with("facter_") => "facter",
        k if k.starts_with("ohai_") => "ohai",
        _ => return None,
    })
}

/// The fact names of the host's interfaces (`br-lab` is `br_lab`, as in Ansible).
pub(super) fn interface_keys(facts: &Vars) -> BTreeSet<String> {
    facts
        .get("interfaces")
        .and_then(seq)
        .unwrap_or_default()
        .into_iter()
        .map(|i| i.replace(['-', ':'], "_"))
        .collect()
}

/// Keeps the facts of the chosen collectors (a fact prov cannot place goes with `platform`).
pub fn retain(facts: &mut Vars, chosen: &BTreeSet<&'static str>) {
    let interfaces = interface_keys(facts);
    facts.retain(|k, _| chosen.contains(collector_of(k, &interfaces).unwrap_or("platform")));
}

/// The script sections nobody asked for (`PROV_FACT_SKIP`): the host does not collect them.
pub fn skipped_sections(chosen: &BTreeSet<&'static str>) -> String {
    ["network", "hardware", "python", "local"]
        .iter()
        .filter(|s| !chosen.contains(**s))
        .copied()
        .collect::<Vec<_>>()
        .join(" ")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sel(s: &str) -> Vec<&'static str> {
        let spec: Vec<String> = s.split(',').map(str::to_string).collect();
        collectors(&spec).unwrap().into_iter().collect()
    }

    #[test]
    fn subsets_select_collectors_as_ansible_core_does() {
        assert_eq!(sel("all").len(), COLLECTORS.len());
        assert_eq!(sel("!all"), {
            let mut m = MIN.to_vec();
            m.sort();
            m
        });
        // only exclusions: the minimal set stays
        assert_eq!(sel("!hardware"), sel("!all"));
        assert!(sel("all,!hardware").contains(&"network"));
        assert!(!sel("all,!hardware").contains(&"hardware"));
        assert_eq!(sel("!min"), Vec::<&str>::new());
        assert_eq!(sel("!all,!min"), Vec::<&str>::new());
        // a fact name selects its collector, which brings what it needs
        assert_eq!(sel("!all,!min,mounts"), ["hardware", "platform"]);
        assert_eq!(
            sel("!all,!min,network"),
            ["distribution", "network", "platform"]
        );
        // explicitly named wins over its exclusion
        assert!(sel("!all,!min,!network,network").contains(&"network"));
        // an unknown exclusion is ignored, an unknown name is an error with the list
        assert_eq!(sel("!bogus"), sel("!all"));
        let e = collectors(&["bogus".into()]).unwrap_err();
        assert!(
            e.starts_with(
                "Bad subset 'bogus' given to Ansible. gather_subset options allowed: all, all_ipv4_addresses, all_ipv6_addresses, apparmor, architecture, caps, chroot,"
            ),
            "{e}"
        );
    }

    #[test]
    fn a_comma_string_is_a_list_and_nothing_is_all() {
        assert_eq!(spec_of(None), ["all"]);
        assert_eq!(
            spec_of(Some(&Value::from("!all, network"))),
            ["!all", "network"]
        );
    }

    #[test]
    fn facts_are_kept_by_collector() {
        let mut f = Vars::new();
        for k in [
            "hostname",
            "distribution",
            "eth0",
            "interfaces",
            "memtotal_mb",
            "processor_vcpus",
            "user_id",
            "python",
        ] {
            f.insert(k.into(), Value::from("x"));
        }
        f.insert("interfaces".into(), Value::from(vec![Value::from("eth0")]));
        let chosen = collectors(&["!all".into()]).unwrap();
        let mut min = f.clone();
        retain(&mut min, &chosen);
        let keys: Vec<&str> = min.keys().map(|k| k.as_str()).collect();
        assert_eq!(keys, ["hostname", "distribution", "user_id", "python"]);
        let chosen = collectors(&["!all".into(), "!min".into(), "network".into()]).unwrap();
        retain(&mut f, &chosen);
        let keys: Vec<&str> = f.keys().map(|k| k.as_str()).collect();
        assert_eq!(keys, ["hostname", "distribution", "eth0", "interfaces"]);
        assert_eq!(skipped_sections(&chosen), "hardware python local");
    }
}
