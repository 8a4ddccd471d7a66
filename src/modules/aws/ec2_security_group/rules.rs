//! Rule parsing: the `rules`/`rules_egress` options as written, expanded into one normalized
//! [`Rule`] per (protocol, port range, source), the way EC2 reports them.

use crate::error::{Error, Result, did_you_mean};
use crate::modules::args::value_str;
use crate::value::{Value, Vars, value_to_vars};
use minijinja::value::ValueKind;
use std::net::{Ipv4Addr, Ipv6Addr};

/// Where traffic of a rule comes from.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub(crate) enum Source {
    /// An IPv4 CIDR.
    Cidr(String),
    /// An IPv6 CIDR.
    Cidr6(String),
    /// The group itself.
    SelfGroup,
    /// Another security group, by id.
    Group(String),
    /// A managed prefix list, by id.
    PrefixList(String),
}

/// One ingress rule: a protocol, a port range and one source.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub(crate) struct Rule {
    /// An outbound rule (then the source is the destination).
    pub egress: bool,
    /// `tcp`, `udp`, `icmp`, `icmpv6`, `-1` (all) or a protocol number.
    pub proto: String,
    /// First port (ICMP type); None when the protocol has no ports.
    pub from: Option<i32>,
    /// Last port (ICMP code).
    pub to: Option<i32>,
    /// The source.
    pub source: Source,
}

impl std::fmt::Display for Rule {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let proto = if self.proto == "-1" {
            "all"
        } else {
            &self.proto
        };
        if self.egress {
            f.write_str("egress ")?;
        }
        f.write_str(proto)?;
        match (self.proto.as_str(), self.from, self.to) {
            (_, None, _) => {}
            ("icmp" | "icmpv6", Some(-1), _) => f.write_str(" all")?,
            ("icmp" | "icmpv6", Some(t), c) => {
                write!(f, " type {t}")?;
                if let Some(c) = c.filter(|c| *c != -1) {
                    write!(f, " code {c}")?;
                }
            }
            (_, Some(a), Some(b)) if a != b => write!(f, " {a}-{b}")?,
            (_, Some(a), _) => write!(f, " {a}")?,
        }
        let src = match &self.source {
            Source::Cidr(c) | Source::Cidr6(c) | Source::Group(c) | Source::PrefixList(c) => c,
            Source::SelfGroup => "self",
        };
        let dir = if self.egress { "to" } else { "from" };
        write!(f, " {dir} {src}")
    }
}

/// Normalizes a protocol name or number the way EC2 reports it.
pub(crate) fn norm_proto(p: &str) -> Result<String> {
    let p = p.trim().to_ascii_lowercase();
    Ok(match p.as_str() {
        "all" | "-1" | "any" => "-1".into(),
        "tcp" | "6" => "tcp".into(),
        "udp" | "17" => "udp".into(),
        "icmp" | "1" => "icmp".into(),
        "icmpv6" | "58" => "icmpv6".into(),
        n if n.parse::<u8>().is_ok() => n.to_string(),
        other => {
            let mut e = Error::options(format!("ec2_security_group: unknown protocol '{other}'"));
            let known = ["tcp", "udp", "icmp", "icmpv6", "all"];
            e = match did_you_mean(other, known.iter().copied()) {
                Some(s) => e.hint(format!("did you mean '{s}'?")),
                None => e.hint("use tcp, udp, icmp, icmpv6, all (-1) or a protocol number"),
            };
            return Err(e);
        }
    })
}

/// Normalizes an IPv4 CIDR to its network address (`10.0.0.5/16` → `10.0.0.0/16`; a bare
/// address gets `/32`).
pub(crate) fn norm_cidr4(c: &str) -> Result<String> {
    let c = c.trim();
    let (addr, len) = c.split_once('/').unwrap_or((c, "32"));
    let bad = || {
        Error::options(format!("ec2_security_group: invalid IPv4 CIDR '{c}'"))
            .hint("write it like 10.0.0.0/16 or 203.0.113.7/32")
    };
    let ip: Ipv4Addr = addr.parse().map_err(|_| bad())?;
    let len: u32 = len.parse().map_err(|_| bad())?;
    if len > 32 {
        return Err(bad());
    }
    let mask = if len == 0 { 0 } else { u32::MAX << (32 - len) };
    Ok(format!("{}/{len}", Ipv4Addr::from(u32::from(ip) & mask)))
}

/// Normalizes an IPv6 CIDR to its network address in canonical form.
pub(crate) fn norm_cidr6(c: &str) -> Result<String> {
    let c = c.trim();
    let (addr, len) = c.split_once('/').unwrap_or((c, "128"));
    let bad = || {
        Error::options(format!("ec2_security_group: invalid IPv6 CIDR '{c}'"))
            .hint("write it like 2001:db8::/32 or ::/0")
    };
    let ip: Ipv6Addr = addr.parse().map_err(|_| bad())?;
    let len: u32 = len.parse().map_err(|_| bad())?;
    if len > 128 {
        return Err(bad());
    }
    let mask = if len == 0 {
        0
    } else {
        u128::MAX << (128 - len)
    };
    Ok(format!("{}/{len}", Ipv6Addr::from(u128::from(ip) & mask)))
}

/// A port or port range as given: `22`, `"22"`, `"8000-8010"`.
fn parse_port_range(v: &Value, idx: &str) -> Result<(i32, i32)> {
    let text = value_str(v);
    let bad = || {
        Error::options(format!(
            "ec2_security_group: rule {idx}: invalid port '{text}'"
        ))
        .hint("ports are numbers 0-65535 or ranges like '8000-8010'")
    };
    let t = text.trim();
    let (a, b) = match t.split_once('-') {
        Some((a, b)) if !a.is_empty() => (a.trim(), b.trim()),
        _ => (t, t),
    };
    let a: i32 = a.parse().map_err(|_| bad())?;
    let b: i32 = b.parse().map_err(|_| bad())?;
    if a > b || !(-1..=65535).contains(&a) || !(-1..=65535).contains(&b) {
        return Err(bad());
    }
    Ok((a, b))
}

/// A scalar or list option of a rule, as strings.
fn strs(v: Option<&Value>) -> Vec<String> {
    match v {
        None => vec![],
        Some(v) if v.is_none() || v.is_undefined() => vec![],
        Some(v) if v.kind() == ValueKind::Seq => v
            .try_iter()
            .map(|it| it.map(|x| value_str(&x)).collect())
            .unwrap_or_default(),
        Some(v) => vec![value_str(v)],
    }
}

/// A source group named in a rule, to be resolved against EC2.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) enum SourceSpec {
    /// A resolved source.
    Done(Source),
    /// A group name to look up in the VPC.
    GroupName(String),
    /// A group id (may turn out to be the group itself).
    GroupId(String),
}

/// A rule as written: one (proto, from, to) tuple per port range, and its sources.
#[derive(Clone, Debug)]
pub(crate) struct RuleSpec {
    pub egress: bool,
    pub proto: String,
    pub ranges: Vec<(Option<i32>, Option<i32>)>,
    pub sources: Vec<SourceSpec>,
    pub desc: Option<String>,
    /// Description for a `group_name` source group that does not exist yet (it is created).
    pub group_desc: Option<String>,
}

const RULE_KEYS: &[&str] = &[
    "proto",
    "ip_protocol",
    "ports",
    "from_port",
    "to_port",
    "icmp_type",
    "icmp_code",
    "cidr_ip",
    "cidr_ipv6",
    "group_id",
    "group_name",
    "group_desc",
    "ip_prefix",
    "rule_desc",
];

/// Parses the `rules` (or, with `egress`, the `rules_egress`) option.
pub(crate) fn parse_rules(v: Option<&Value>, egress: bool) -> Result<Vec<RuleSpec>> {
    let (opt, what) = if egress {
        ("rules_egress", "egress rule")
    } else {
        ("rules", "rule")
    };
    let Some(v) = v else { return Ok(vec![]) };
    if v.kind() != ValueKind::Seq {
        return Err(Error::options(format!(
            "ec2_security_group: {opt} must be a list of mappings"
        )));
    }
    let mut out = Vec::new();
    for (i, item) in v.try_iter().into_iter().flatten().enumerate() {
        let idx = format!("{what} {}", i + 1);
        if item.kind() != ValueKind::Map {
            return Err(Error::options(format!(
                "ec2_security_group: {idx} must be a mapping, got '{item}'"
            )));
        }
        let m: Vars = value_to_vars(&item);
        for k in m.keys() {
            if !RULE_KEYS.contains(&k.as_str()) {
                let mut e = Error::options(format!("ec2_security_group: {idx} has no key '{k}'"));
                e = match did_you_mean(k, RULE_KEYS.iter().copied()) {
                    Some(s) => e.hint(format!("did you mean '{s}'?")),
                    None => e.hint(format!("a rule's keys are: {}", RULE_KEYS.join(", "))),
                };
                return Err(e);
            }
        }
        let get = |k: &str| m.get(k).filter(|v| !v.is_none() && !v.is_undefined());
        // As in Ansible, the protocol defaults to tcp.
        let proto = match get("proto").or_else(|| get("ip_protocol")) {
            Some(p) => norm_proto(&value_str(p))?,
            None => "tcp".to_string(),
        };
        let has_ports = get("ports").is_some();
        let has_from_to = get("from_port").is_some() || get("to_port").is_some();
        let has_icmp = get("icmp_type").is_some() || get("icmp_code").is_some();
        if [has_ports, has_from_to, has_icmp]
            .iter()
            .filter(|b| **b)
            .count()
            > 1
        {
            return Err(Error::options(format!(
                "ec2_security_group: {idx}: give only one of ports, from_port/to_port and \
icmp_type/icmp_code"
            )));
        }
        let mut ranges: Vec<(Option<i32>, Option<i32>)> = Vec::new();
        if has_icmp {
            if proto != "icmp" && proto != "icmpv6" {
                return Err(Error::options(format!(
                    "ec2_security_group: {idx}: icmp_type/icmp_code need proto icmp or icmpv6"
                )));
            }
            let Some(t) = get("icmp_type") else {
                return Err(Error::options(format!(
                    "ec2_security_group: {idx}: icmp_code needs icmp_type"
                )));
            };
            let (t, _) = parse_port_range(t, &idx)?;
            let c = match get("icmp_code") {
                Some(c) => parse_port_range(c, &idx)?.0,
                None => -1,
            };
            ranges.push((Some(t), Some(c)));
        } else if let Some(p) = get("ports") {
            let items: Vec<Value> = if p.kind() == ValueKind::Seq {
                p.try_iter().map(|it| it.collect()).unwrap_or_default()
            } else {
                vec![p.clone()]
            };
            for it in items {
                let (a, b) = parse_port_range(&it, &idx)?;
                ranges.push((Some(a), Some(b)));
            }
        } else if let Some(from) = get("from_port").or(get("to_port")) {
            let to = get("to_port").unwrap_or(from);
            let (a, _) = parse_port_range(from, &idx)?;
            let (b, _) = parse_port_range(to, &idx)?;
            if proto != "icmp" && proto != "icmpv6" && a > b {
                return Err(Error::options(format!(
                    "ec2_security_group: {idx}: from_port {a} is greater than to_port {b}"
                )));
            }
            ranges.push((Some(a), Some(b)));
        }
        match proto.as_str() {
            "tcp" | "udp" => {
                if ranges.is_empty() {
                    return Err(Error::options(format!(
                        "ec2_security_group: {idx}: {proto} needs ports"
                    ))
                    .hint("add `ports: [22]`, or from_port/to_port; for every port use 0-65535"));
                }
            }
            "icmp" | "icmpv6" => {
                if ranges.is_empty() {
                    ranges.push((Some(-1), Some(-1)));
                }
            }
            // all protocols, or a protocol without ports: EC2 ignores ports.
            _ => ranges = vec![(None, None)],
        }
        let mut sources = Vec::new();
        for c in strs(get("cidr_ip")) {
            sources.push(SourceSpec::Done(Source::Cidr(norm_cidr4(&c)?)));
        }
        for c in strs(get("cidr_ipv6")) {
            sources.push(SourceSpec::Done(Source::Cidr6(norm_cidr6(&c)?)));
        }
        for g in strs(get("group_id")) {
            sources.push(SourceSpec::GroupId(g.trim().to_string()));
        }
        for g in strs(get("group_name")) {
            sources.push(SourceSpec::GroupName(g.trim().to_string()));
        }
        for p in strs(get("ip_prefix")) {
            sources.push(SourceSpec::Done(Source::PrefixList(p.trim().to_string())));
        }
        if sources.is_empty() {
            return Err(
                Error::options(format!("ec2_security_group: {idx} has no source"))
                    .hint("add cidr_ip, cidr_ipv6, group_id, group_name or ip_prefix"),
            );
        }
        out.push(RuleSpec {
            egress,
            proto,
            ranges,
            sources,
            desc: get("rule_desc").map(value_str).filter(|s| !s.is_empty()),
            group_desc: get("group_desc").map(value_str).filter(|s| !s.is_empty()),
        });
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::value::from_json;
    use serde_json::json;

    fn rules(yaml: serde_json::Value) -> Result<Vec<RuleSpec>> {
        parse_rules(Some(&from_json(&yaml)), false)
    }

    #[test]
    fn expands_ports_and_normalizes() {
        let r = rules(json!([
            {"proto": "TCP", "ports": [22, "8000-8010", "443"], "cidr_ip": ["10.1.2.3/16", "203.0.113.7"]},
            {"proto": "all", "ports": [1], "group_name": "x"},
            {"proto": "icmp", "cidr_ipv6": "2001:db8::1/32"},
            {"proto": 17, "from_port": 53, "cidr_ip": "0.0.0.0/0"}
        ]))
        .unwrap();
        assert_eq!(r[0].proto, "tcp");
        assert_eq!(
            r[0].ranges,
            vec![
                (Some(22), Some(22)),
                (Some(8000), Some(8010)),
                (Some(443), Some(443))
            ]
        );
        assert_eq!(
            r[0].sources,
            vec![
                SourceSpec::Done(Source::Cidr("10.1.0.0/16".into())),
                SourceSpec::Done(Source::Cidr("203.0.113.7/32".into()))
            ]
        );
        assert_eq!(r[1].proto, "-1");
        assert_eq!(r[1].ranges, vec![(None, None)]);
        assert_eq!(r[2].ranges, vec![(Some(-1), Some(-1))]);
        assert_eq!(
            r[2].sources,
            vec![SourceSpec::Done(Source::Cidr6("2001:db8::/32".into()))]
        );
        assert_eq!(r[3].proto, "udp");
        assert_eq!(r[3].ranges, vec![(Some(53), Some(53))]);
    }

    #[test]
    fn proto_defaults_to_tcp_and_icmp_type_code() {
        let r = rules(json!([
            {"ports": 22, "cidr_ip": "1.2.3.4"},
            {"proto": "icmp", "icmp_type": 3, "icmp_code": 1, "cidr_ip": "1.2.3.4"},
            {"proto": "icmpv6", "icmp_type": 128, "cidr_ipv6": "::/0"}
        ]))
        .unwrap();
        assert_eq!(r[0].proto, "tcp");
        assert_eq!(r[1].ranges, vec![(Some(3), Some(1))]);
        assert_eq!(r[2].ranges, vec![(Some(128), Some(-1))]);
        let e = rules(json!([{"proto": "tcp", "icmp_type": 3, "cidr_ip": "1.2.3.4"}])).unwrap_err();
        assert!(e.msg.contains("need proto icmp"), "{}", e.msg);
        let e =
            rules(json!([{"proto": "icmp", "icmp_type": 3, "ports": [1], "cidr_ip": "1.2.3.4"}]))
                .unwrap_err();
        assert!(e.msg.contains("only one of"), "{}", e.msg);
    }

    #[test]
    fn bad_rules_give_clear_errors() {
        let e = parse_rules(
            Some(&from_json(&json!([{"proto": "tcp", "ports": [1]}]))),
            true,
        )
        .unwrap_err();
        assert_eq!(e.msg, "ec2_security_group: egress rule 1 has no source");
        let e = rules(json!([{"proto": "tcpp", "ports": [1], "cidr_ip": "1.2.3.4"}])).unwrap_err();
        assert!(e.hint.clone().unwrap().contains("'tcp'"), "{e:?}");
        let e = rules(json!([{"proto": "tcp", "cidr_ip": "1.2.3.4"}])).unwrap_err();
        assert!(e.msg.contains("rule 1: tcp needs ports"), "{}", e.msg);
        let e = rules(json!([{"proto": "tcp", "ports": [22]}])).unwrap_err();
        assert!(e.msg.contains("has no source"), "{}", e.msg);
        let e =
            rules(json!([{"proto": "tcp", "ports": ["9-1"], "cidr_ip": "1.2.3.4"}])).unwrap_err();
        assert!(e.msg.contains("invalid port '9-1'"), "{}", e.msg);
        let e = rules(json!([{"proto": "tcp", "ports": [1], "cidr": "1.2.3.4"}])).unwrap_err();
        assert!(e.hint.clone().unwrap().contains("cidr_ip"), "{e:?}");
        let e =
            rules(json!([{"proto": "tcp", "ports": [1], "cidr_ip": "10.0.0.0/33"}])).unwrap_err();
        assert!(e.msg.contains("invalid IPv4 CIDR"), "{}", e.msg);
    }
}
