//! Host addresses and ranges: `host:port`, `[v6::addr]:port`, `node[1:3]`, `node[01:10:2]`,
//! `node[a:c]`, the way Ansible's `parse_address` and `expand_hostname_range` read them.

/// The most hosts one range expression may expand to (guards against `node[0:99999999999]`).
pub(crate) const MAX_RANGE_HOSTS: usize = 100_000;

/// The most host entries (a host in a group; a host in two groups counts twice) an inventory
/// may hold when ranges add to it: the per-expression cap alone let 30 lines of 99,999 hosts
/// take 3.8 GB. Far above any real inventory; ~1.3 GB at worst.
pub(crate) const MAX_INVENTORY_HOSTS: usize = 1_000_000;

/// Checks that a range expression adding `adding` host entries to an inventory that holds
/// `have` stays within [`MAX_INVENTORY_HOSTS`].
pub(crate) fn check_total(expr: &str, have: usize, adding: usize) -> Result<(), RangeError> {
    if have.saturating_add(adding) <= MAX_INVENTORY_HOSTS {
        return Ok(());
    }
    Err(err(
        format!(
            "host range `{expr}` takes the inventory past {MAX_INVENTORY_HOSTS} hosts ({have} already, {adding} more)"
        ),
        format!(
            "all the ranges of an inventory together may expand to at most {MAX_INVENTORY_HOSTS} hosts (a host counts once per group); check the range bounds"
        ),
        expr.find('[').unwrap_or(0),
    ))
}

/// A problem in a host expression: a message, a hint and the byte offset in the expression.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct RangeError {
    /// What is wrong.
    pub msg: String,
    /// What to do about it.
    pub hint: String,
    /// Byte offset in the parsed text.
    pub offset: usize,
}

fn err(msg: impl Into<String>, hint: impl Into<String>, offset: usize) -> RangeError {
    RangeError {
        msg: msg.into(),
        hint: hint.into(),
        offset,
    }
}

fn is_ipv6ish(s: &str) -> bool {
    s.matches(':').count() >= 2
        && s.chars().all(|c| {
            c.is_ascii_hexdigit() || c == ':' || c == '.' || c == '%' || c == '[' || c == ']'
        })
}

/// Splits `host:port` (and `[v6]:port`) into the host expression and the port.
pub(crate) fn split_port(text: &str) -> Result<(String, Option<u16>), RangeError> {
    // Bracketed IPv6, with or without a port.
    if let Some(rest) = text.strip_prefix('[')
        && let Some(close) = rest.find(']')
    {
        let inside = &rest[..close];
        let after = &rest[close + 1..];
        if is_ipv6ish(inside) && !inside.contains('[') {
            if after.is_empty() {
                return Ok((inside.to_string(), None));
            }
            if let Some(p) = after.strip_prefix(':') {
                let port = parse_port(p, close + 3)?;
                return Ok((inside.to_string(), Some(port)));
            }
        }
    }
    // Colons outside brackets.
    let mut depth = 0usize;
    let mut colons = Vec::new();
    for (i, c) in text.char_indices() {
        match c {
            '[' => depth += 1,
            ']' => depth = depth.saturating_sub(1),
            ':' if depth == 0 => colons.push(i),
            _ => {}
        }
    }
    match colons.as_slice() {
        [] => Ok((text.to_string(), None)),
        [i] => {
            let head = &text[..*i];
            let port_text = &text[i + 1..];
            if head.is_empty() {
                return Err(err(
                    format!("host `{text}` has no name before the `:`"),
                    "write `name:port`",
                    0,
                ));
            }
            if port_text.is_empty() {
                return Err(err(
                    format!("host `{text}` ends in `:`, which is reserved for a port"),
                    "write `name:port` (e.g. `web1:2222`) or remove the `:`",
                    *i,
                ));
            }
            let port = parse_port(port_text, i + 1)?;
            Ok((head.to_string(), Some(port)))
        }
        _ => {
            // A bare IPv6 address (no port possible without brackets).
            Ok((text.to_string(), None))
        }
    }
}

fn parse_port(p: &str, offset: usize) -> Result<u16, RangeError> {
    if p.is_empty() || !p.bytes().all(|b| b.is_ascii_digit()) {
        return Err(err(
            format!("`{p}` is not a port number"),
            "after `host:` put a port number (1-65535), e.g. `web1:2222`",
            offset,
        ));
    }
    match p.parse::<u32>() {
        Ok(n) if (1..=65535).contains(&n) => Ok(n as u16),
        _ => Err(err(
            format!("port `{p}` is out of range"),
            "a port is between 1 and 65535",
            offset,
        )),
    }
}

const LETTERS: &str = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ";

/// Expands every `[begin:end(:step)]` range in a host name; a name without `[` is returned as is.
pub(crate) fn expand(text: &str) -> Result<Vec<String>, RangeError> {
    let mut out = Vec::new();
    expand_into(text, 0, &mut out)?;
    Ok(out)
}

fn expand_into(text: &str, base: usize, out: &mut Vec<String>) -> Result<(), RangeError> {
    let Some(open) = text.find('[') else {
        if let Some(close) = text.find(']') {
            return Err(err(
                format!("unexpected `]` in host `{text}`"),
                "a host range looks like `node[1:3]`",
                base + close,
            ));
        }
        out.push(text.to_string());
        return Ok(());
    };
    let Some(close_rel) = text[open..].find(']') else {
        return Err(err(
            format!("unclosed `[` in host `{text}`"),
            "a host range looks like `node[1:3]`; close it with `]`",
            base + open,
        ));
    };
    let close = open + close_rel;
    let head = &text[..open];
    let inner = &text[open + 1..close];
    let tail = &text[close + 1..];
    let at = base + open;
    let bounds: Vec<&str> = inner.split(':').collect();
    if bounds.len() != 2 && bounds.len() != 3 {
        return Err(err(
            format!("bad host range `[{inner}]`"),
            "a host range is `[begin:end]` or `[begin:end:step]`, e.g. `node[1:3]`",
            at,
        ));
    }
    let beg = if bounds[0].is_empty() { "0" } else { bounds[0] };
    let end = bounds[1];
    if end.is_empty() {
        return Err(err(
            format!("host range `[{inner}]` has no end"),
            "write the last value, e.g. `node[1:3]`",
            at,
        ));
    }
    let step: usize = match bounds.get(2) {
        None => 1,
        Some(s) => match s.parse::<usize>() {
            Ok(n) if n > 0 => n,
            _ => {
                return Err(err(
                    format!("bad step `{s}` in host range `[{inner}]`"),
                    "the step is a positive whole number, e.g. `node[1:9:2]`",
                    at,
                ));
            }
        },
    };
    let mut items: Vec<String> = Vec::new();
    let (bi, ei) = (LETTERS.find(beg), LETTERS.find(end));
    if beg.len() == 1 && end.len() == 1 && bi.is_some() && ei.is_some() {
        let (bi, ei) = (bi.unwrap_or(0), ei.unwrap_or(0));
        if bi > ei {
            return Err(err(
                format!("host range `[{inner}]` goes backwards"),
                "the begin must not be after the end, e.g. `node[a:c]`",
                at,
            ));
        }
        items.extend(
            LETTERS[bi..=ei]
                .chars()
                .step_by(step)
                .map(|c| c.to_string()),
        );
    } else {
        let num = |s: &str| -> Result<u64, RangeError> {
            if s.is_empty() || !s.bytes().all(|b| b.is_ascii_digit()) {
                return Err(err(
                    format!("bad host range `[{inner}]`: `{s}` is not a number or a letter"),
                    "ranges are numeric (`[1:3]`, `[01:10]`) or alphabetic (`[a:c]`)",
                    at,
                ));
            }
            s.parse::<u64>().map_err(|_| {
                err(
                    format!("host range `[{inner}]` is too large"),
                    "use a smaller range",
                    at,
                )
            })
        };
        let (b, e) = (num(beg)?, num(end)?);
        if b > e {
            return Err(err(
                format!("host range `[{inner}]` goes backwards"),
                format!("write the smaller number first: `[{}:{}]`", end, beg),
                at,
            ));
        }
        let width = if beg.len() > 1 && beg.starts_with('0') {
            if beg.len() != end.len() {
                return Err(err(
                    format!("host range `[{inner}]` has begin and end of different widths"),
                    "zero-padded ranges need equal widths, e.g. `[01:10]`",
                    at,
                ));
            }
            beg.len()
        } else {
            0
        };
        let count = (e - b) / step as u64 + 1;
        if count > MAX_RANGE_HOSTS as u64 {
            return Err(err(
                format!("host range `[{inner}]` expands to {count} hosts"),
                format!("a range may expand to at most {MAX_RANGE_HOSTS} hosts"),
                at,
            ));
        }
        let mut i = b;
        while i <= e {
            items.push(format!("{i:0width$}"));
            match i.checked_add(step as u64) {
                Some(n) => i = n,
                None => break,
            }
        }
    }
    let mut tails = Vec::new();
    expand_into(tail, base + close + 1, &mut tails)?;
    if items.len().saturating_mul(tails.len()) + out.len() > MAX_RANGE_HOSTS {
        return Err(err(
            format!("host expression `{text}` expands to too many hosts"),
            format!("a host line may expand to at most {MAX_RANGE_HOSTS} hosts"),
            at,
        ));
    }
    for it in &items {
        for t in &tails {
            out.push(format!("{head}{it}{t}"));
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ranges_expand_like_ansible() {
        assert_eq!(expand("node[1:3]").unwrap(), ["node1", "node2", "node3"]);
        assert_eq!(
            expand("node[01:03]").unwrap(),
            ["node01", "node02", "node03"]
        );
        assert_eq!(expand("n[a:c].x").unwrap(), ["na.x", "nb.x", "nc.x"]);
        assert_eq!(expand("n[1:10:4]").unwrap(), ["n1", "n5", "n9"]);
        assert_eq!(expand("n[:1]").unwrap(), ["n0", "n1"]);
        assert_eq!(
            expand("r[1:2]c[a:b]").unwrap(),
            ["r1ca", "r1cb", "r2ca", "r2cb"]
        );
        assert_eq!(expand("plain").unwrap(), ["plain"]);
    }

    #[test]
    fn bad_ranges_are_errors_with_offsets() {
        let e = expand("node[3:1]").unwrap_err();
        assert!(e.msg.contains("backwards"), "{e:?}");
        assert_eq!(e.offset, 4);
        assert!(expand("node[1:3").unwrap_err().msg.contains("unclosed"));
        assert!(
            expand("node[1]")
                .unwrap_err()
                .msg
                .contains("bad host range")
        );
        assert!(expand("node[1:]").unwrap_err().msg.contains("no end"));
        assert!(expand("node[01:100]").unwrap_err().msg.contains("widths"));
        assert!(expand("node[1:5:0]").unwrap_err().msg.contains("step"));
        assert!(
            expand("node[x:9]")
                .unwrap_err()
                .msg
                .contains("not a number")
        );
        assert!(
            expand("node[0:99999999999]")
                .unwrap_err()
                .msg
                .contains("expands to")
        );
        assert!(
            expand("node[1:2]x]")
                .unwrap_err()
                .msg
                .contains("unexpected `]`")
        );
    }

    #[test]
    fn the_inventory_total_is_capped_too() {
        assert!(check_total("n[1:9]", MAX_INVENTORY_HOSTS - 9, 9).is_ok());
        let e = check_total("n[1:10]", MAX_INVENTORY_HOSTS - 9, 10).unwrap_err();
        assert!(e.msg.contains("past 1000000 hosts"), "{e:?}");
        assert_eq!(e.offset, 1);
        assert!(check_total("n[1:10]", usize::MAX, 10).is_err());
    }

    #[test]
    fn ports_split_off() {
        assert_eq!(split_port("web:2222").unwrap(), ("web".into(), Some(2222)));
        assert_eq!(split_port("web").unwrap(), ("web".into(), None));
        assert_eq!(
            split_port("n[1:3]:22").unwrap(),
            ("n[1:3]".into(), Some(22))
        );
        assert_eq!(split_port("n[1:3]").unwrap(), ("n[1:3]".into(), None));
        assert_eq!(split_port("fe80::1").unwrap(), ("fe80::1".into(), None));
        assert_eq!(
            split_port("[fe80::1]:22").unwrap(),
            ("fe80::1".into(), Some(22))
        );
        assert_eq!(split_port("[::1]").unwrap(), ("::1".into(), None));
        assert!(split_port("web:").is_err());
        assert!(split_port("web:abc").is_err());
        assert!(split_port("web:70000").is_err());
    }
}
