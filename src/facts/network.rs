//! Network: interfaces and their addresses, default routes, and DNS (`/etc/resolv.conf`).

use super::{map_of, s, str_list};
use crate::util::sections::Sections;
use crate::value::{Value, Vars};
use indexmap::IndexMap;
use std::net::Ipv4Addr;

pub(super) fn platform_facts(secs: &Sections, f: &mut Vars) {
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

/// One IPv4 address of an interface.
#[derive(Clone, Debug)]
pub(super) struct V4 {
    pub(super) address: Ipv4Addr,
    pub(super) prefix: u8,
    pub(super) broadcast: Option<String>,
    pub(super) secondary: bool,
}

impl V4 {
    pub(super) fn netmask(&self) -> Ipv4Addr {
        let bits = if self.prefix == 0 {
            0
        } else {
            u32::MAX << (32 - u32::from(self.prefix.min(32)))
        };
        Ipv4Addr::from(bits)
    }
    pub(super) fn network(&self) -> Ipv4Addr {
        Ipv4Addr::from(u32::from(self.address) & u32::from(self.netmask()))
    }
    pub(super) fn value(&self) -> Value {
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
pub(super) struct Iface {
    mtu: Option<i64>,
    mac: Option<String>,
    active: Option<bool>,
    promisc: bool,
    kind: Option<String>,
    v4: Vec<V4>,
    v6: Vec<(String, String, String)>,
}

pub(super) fn network_facts(secs: &Sections, f: &mut Vars) {
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
pub(super) fn fib_trie_addresses(secs: &Sections, ifs: &mut IndexMap<String, Iface>) {
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
