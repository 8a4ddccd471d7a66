//! `wait_for`: waits for a port, a file, or a string in a file, on the host.
//!
//! The polling loop runs on the host as one POSIX sh script (one round trip). Local ports are
//! checked in `/proc/net/tcp{,6}` (listening sockets); other hosts' ports with bash's
//! `/dev/tcp` or `nc`. Files are checked with `test -e`, strings with `grep -E`; the matched
//! line is sent back so the groups are computed here with the full regex.

use crate::connection::quote;
use crate::error::{Error, Result};
use crate::modules::{Args, Module, ModuleDoc, Options, Plan, TaskCtx, opt};
use crate::value::Value;
use async_trait::async_trait;
use std::time::Instant;

/// The `wait_for` module.
pub struct WaitFor;

crate::options! {
    /// The `wait_for` module's options.
    pub(crate) struct Opts {
        host: String = opt::str("Host to check the port on, as seen from the target.").default("127.0.0.1"),
        port: Option<i64> = opt::int("TCP port to wait for."),
        path: Option<String> = opt::path("File to wait for."),
        search_regex: Option<String> = opt::str("Regex a line of the file (or the port's banner) must match."),
        state: String = opt::str("What to wait for.").default("started").choices(&["started", "stopped", "present", "absent", "drained"]),
        delay: i64 = opt::int("Seconds to wait before the first check.").default("0"),
        timeout: i64 = opt::int("Seconds to wait in all.").default("300"),
        sleep: i64 = opt::int("Seconds between checks.").default("1"),
        connect_timeout: i64 = opt::int("Seconds to wait for a connection.").default("5"),
        msg: Option<String> = opt::str("Message on timeout, instead of the default."),
        active_connection_states: Vec<String> = opt::list("TCP states that count as active for `drained`.").default("ESTABLISHED,FIN_WAIT1,FIN_WAIT2,SYN_RECV,SYN_SENT,TIME_WAIT"),
        exclude_hosts: Vec<String> = opt::list("IPv4 peers to ignore for `drained`."),
    }
}

static DOC: ModuleDoc =
    ModuleDoc::new("wait_for", "Wait for a port, a file, or a string in a file")
        .description(
            "Polls on the host until the condition holds or `timeout` seconds pass (then it \
fails). With `port`: `started` waits until something listens (or accepts connections, for a \
remote `host`), `stopped` until nothing does, `drained` until no connection in \
`active_connection_states` is left. With `path`: `present`/`started` waits until it exists (and \
`search_regex` matches a line of it), `absent`/`stopped` until it is gone. With neither it just \
sleeps `timeout` seconds. Changes nothing; in check mode it waits all the same.",
        )
        .spec::<Opts>()
        .mutually_exclusive(&[&["port", "path"]])
        .examples(
            "- wait_for:\n    port: 8080\n    timeout: 60\n\
- wait_for:\n    path: /var/log/app.log\n    search_regex: 'started on port (\\d+)'\n\
- wait_for:\n    port: 5432\n    state: drained",
        );

/// Translates Python regex shorthands to POSIX ERE for `grep -E` (the exact match is redone
/// on the controller with the original regex).
fn to_ere(re: &str) -> String {
    let mut out = String::new();
    let mut chars = re.chars().peekable();
    let mut in_bracket = false;
    while let Some(c) = chars.next() {
        match c {
            '\\' => {
                let Some(n) = chars.next() else {
                    out.push('\\');
                    break;
                };
                let class = match n {
                    'd' => Some(("0-9", "[0-9]", "[^0-9]")),
                    's' => Some(("[:space:]", "[[:space:]]", "")),
                    'w' => Some(("[:alnum:]_", "[[:alnum:]_]", "")),
                    _ => None,
                };
                match (n, class) {
                    (_, Some((inner, whole, _))) => {
                        out.push_str(if in_bracket { inner } else { whole })
                    }
                    ('D', _) => out.push_str("[^0-9]"),
                    ('S', _) => out.push_str("[^[:space:]]"),
                    ('W', _) => out.push_str("[^[:alnum:]_]"),
                    _ => {
                        out.push('\\');
                        out.push(n);
                    }
                }
            }
            '[' if !in_bracket => {
                in_bracket = true;
                out.push('[');
                if chars.peek() == Some(&'^') {
                    out.push(chars.next().unwrap_or('^'));
                }
                if chars.peek() == Some(&']') {
                    out.push(chars.next().unwrap_or(']'));
                }
            }
            ']' if in_bracket => {
                in_bracket = false;
                out.push(']');
            }
            '(' if !in_bracket && chars.peek() == Some(&'?') => {
                // (?:...) and (?P<name>...) become plain groups.
                let rest: String = chars.clone().collect();
                if let Some(r) = rest.strip_prefix("?:") {
                    let _ = r;
                    chars.next();
                    chars.next();
                } else if rest.starts_with("?P<")
                    && let Some(end) = rest.find('>')
                {
                    for _ in 0..=end {
                        chars.next();
                    }
                }
                out.push('(');
            }
            '*' | '+' | '?' | '}' if !in_bracket && chars.peek() == Some(&'?') => {
                // Lazy quantifiers: greedy is the same for "does a line match".
                out.push(c);
                chars.next();
            }
            c => out.push(c),
        }
    }
    out
}

fn is_local(host: &str) -> bool {
    matches!(
        host,
        "" | "127.0.0.1" | "localhost" | "::1" | "0.0.0.0" | "::" | "localhost.localdomain"
    )
}

fn tcp_state_hex(name: &str) -> Option<&'static str> {
    Some(match name.to_ascii_uppercase().as_str() {
        "ESTABLISHED" => "01",
        "SYN_SENT" => "02",
        "SYN_RECV" => "03",
        "FIN_WAIT1" => "04",
        "FIN_WAIT2" => "05",
        "TIME_WAIT" => "06",
        "CLOSE" => "07",
        "CLOSE_WAIT" => "08",
        "LAST_ACK" => "09",
        "LISTEN" => "0A",
        "CLOSING" => "0B",
        _ => return None,
    })
}

/// Shell functions shared by the port checks.
const TCP_FUNCS: &str = r#"prov_listening() {
  [ -r /proc/net/tcp ] || return 2
  cat /proc/net/tcp /proc/net/tcp6 2>/dev/null | awk -v p="$1" '
    function loc(a) {
      if (a ~ /^0+$/) return 1
      if (length(a) == 8) return (substr(a, 7, 2) == "7F" || substr(a, 1, 2) == "7F")
      if (a == "00000000000000000000000001000000" || a == "00000000000000000000000000000001") return 1
      if (substr(a, 1, 16) == "0000000000000000" && (substr(a, 17, 8) == "FFFF0000" || substr(a, 17, 8) == "0000FFFF")) {
        b = substr(a, 25, 8); return (substr(b, 7, 2) == "7F" || substr(b, 1, 2) == "7F")
      }
      return 0
    }
    $4 == "0A" { split($2, x, ":"); if (toupper(x[2]) == p && loc(toupper(x[1]))) f = 1 }
    END { exit f ? 0 : 1 }'
}
prov_connect() {
  if command -v bash >/dev/null 2>&1; then
    if command -v timeout >/dev/null 2>&1; then
      timeout "$3" bash -c 'exec 3<>"/dev/tcp/$1/$2"' prov "$1" "$2" >/dev/null 2>&1; return
    fi
    bash -c 'exec 3<>"/dev/tcp/$1/$2"' prov "$1" "$2" >/dev/null 2>&1; return
  fi
  if command -v nc >/dev/null 2>&1; then
    if nc -h 2>&1 | grep -q -e ' -z'; then nc -z -w "$3" "$1" "$2" >/dev/null 2>&1; return; fi
    if command -v timeout >/dev/null 2>&1; then
      timeout $(($3 + 2)) nc -w "$3" "$1" "$2" </dev/null >/dev/null 2>&1
      [ $? -ne 1 ]; return
    fi
  fi
  echo "prov-wait:error:cannot test TCP ports on this host: it has neither bash nor nc"
  exit 0
}
prov_banner() {
  if command -v bash >/dev/null 2>&1 && command -v timeout >/dev/null 2>&1; then
    timeout "$3" bash -c 'exec 3<>"/dev/tcp/$1/$2"; cat <&3' prov "$1" "$2" 2>/dev/null; return 0
  fi
  if command -v nc >/dev/null 2>&1 && command -v timeout >/dev/null 2>&1; then
    timeout "$3" nc -w "$3" "$1" "$2" </dev/null 2>/dev/null; return 0
  fi
  echo "prov-wait:error:cannot read from TCP ports on this host: it needs timeout and bash or nc" >&2
}
"#;

/// What the host-side loop checks.
struct Check {
    /// The sh condition (exit 0 when the wait is over); may print `prov-wait:line:<text>`.
    cond: String,
    /// Default timeout message.
    timeout_msg: String,
}

fn build_check(o: &Opts) -> Result<Option<Check>> {
    let (host, state) = (&o.host, o.state.as_str());
    let ct = o.connect_timeout.max(1);
    let regex = o.search_regex.clone().filter(|r| !r.is_empty());
    if let Some(path) = o.path.clone().filter(|p| !p.is_empty()) {
        let q = quote(&path);
        return Ok(Some(match state {
            "absent" | "stopped" => Check {
                cond: format!("! [ -e {q} ]"),
                timeout_msg: format!("Timeout when waiting for {path} to be absent."),
            },
            "drained" => {
                return Err(Error::parse(
                    "wait_for: state=drained needs `port`, not `path`",
                ));
            }
            _ => match &regex {
                Some(re) => Check {
                    cond: format!(
                        "[ -r {q} ] && l=$(grep -a -E -m 1 -e {} -- {q} 2>/dev/null) && {{ printf 'prov-wait:line:%s\\n' \"$l\"; }}",
                        quote(&to_ere(re))
                    ),
                    timeout_msg: format!("Timeout when waiting for search string {re} in {path}"),
                },
                None => Check {
                    cond: format!("[ -e {q} ]"),
                    timeout_msg: format!("Timeout when waiting for file {path}"),
                },
            },
        }));
    }
    let Some(port) = o.port else {
        if state == "drained" {
            return Err(Error::parse("wait_for: state=drained needs `port`"));
        }
        return Ok(None);
    };
    if !(1..=65535).contains(&port) {
        return Err(Error::parse(format!(
            "wait_for: port {port} is not a valid TCP port (1-65535)"
        )));
    }
    let hex = format!("{port:04X}");
    let (qh, local) = (quote(host), is_local(host));
    Ok(Some(match state {
        "stopped" | "absent" => Check {
            cond: if local {
                format!(
                    "prov_listening {hex}; r=$?; if [ $r -eq 2 ]; then ! prov_connect {qh} {port} {ct}; else [ $r -ne 0 ]; fi"
                )
            } else {
                format!("! prov_connect {qh} {port} {ct}")
            },
            timeout_msg: format!("Timeout when waiting for {host}:{port} to stop."),
        },
        "drained" => {
            let states: Vec<&str> = o
                .active_connection_states
                .iter()
                .map(|s| {
                    tcp_state_hex(s).ok_or_else(|| {
                        Error::parse(format!("wait_for: unknown TCP state '{s}' in active_connection_states"))
                            .hint("use ESTABLISHED, FIN_WAIT1, FIN_WAIT2, SYN_RECV, SYN_SENT, TIME_WAIT, CLOSE_WAIT, LAST_ACK, CLOSING")
                    })
                })
                .collect::<Result<_>>()?;
            let mut excl = Vec::new();
            for h in &o.exclude_hosts {
                let ip: std::net::Ipv4Addr = h.parse().map_err(|_| {
                    Error::parse(format!(
                        "wait_for: exclude_hosts entry '{h}' is not an IPv4 address"
                    ))
                })?;
                let o = ip.octets();
                excl.push(format!("{:02X}{:02X}{:02X}{:02X}", o[3], o[2], o[1], o[0]));
                excl.push(format!("{:02X}{:02X}{:02X}{:02X}", o[0], o[1], o[2], o[3]));
            }
            Check {
                cond: format!(
                    "[ -r /proc/net/tcp ] || {{ echo 'prov-wait:error:state=drained needs /proc/net/tcp on the host'; exit 0; }}; \
                     cat /proc/net/tcp /proc/net/tcp6 2>/dev/null | awk -v p={hex} -v st=' {} ' -v ex=' {} ' '\
                     NR > 0 {{ split($2, l, \":\"); split($3, r, \":\"); a = toupper(r[1]); \
                     if (length(a) == 32) a = substr(a, 25, 8); \
                     if (toupper(l[2]) == p && index(st, \" \" $4 \" \") && !index(ex, \" \" a \" \")) n++ }} \
                     END {{ exit n ? 1 : 0 }}'",
                    states.join(" "),
                    excl.join(" ")
                ),
                timeout_msg: format!("Timeout when waiting for {host}:{port} to drain"),
            }
        }
        _ => match &regex {
            Some(re) => Check {
                cond: format!(
                    "l=$(prov_banner {qh} {port} {ct} | grep -E -m 1 -e {}) && printf 'prov-wait:line:%s\\n' \"$l\"",
                    quote(&to_ere(re))
                ),
                timeout_msg: format!(
                    "Timeout when waiting for search string {re} in {host}:{port}"
                ),
            },
            None => Check {
                cond: if local {
                    format!(
                        "prov_listening {hex}; r=$?; if [ $r -eq 2 ]; then prov_connect {qh} {port} {ct}; else [ $r -eq 0 ]; fi"
                    )
                } else {
                    format!("prov_connect {qh} {port} {ct}")
                },
                timeout_msg: format!("Timeout when waiting for {host}:{port}"),
            },
        },
    }))
}

#[async_trait]
impl Module for WaitFor {
    fn doc(&self) -> &'static ModuleDoc {
        &DOC
    }

    async fn plan(&self, ctx: &TaskCtx<'_>, args: &Args) -> Result<Plan> {
        let o = Opts::from_args(args)?;
        let state = o.state.as_str();
        let delay = o.delay.max(0);
        let timeout = o.timeout.max(0);
        let sleep = o.sleep.max(1);
        let regex = match o.search_regex.as_deref().filter(|r| !r.is_empty()) {
            Some(r) => Some(regex::Regex::new(r).map_err(|e| {
                Error::parse(format!(
                    "wait_for: search_regex is not a valid regular expression: {e}"
                ))
            })?),
            None => None,
        };
        let check = build_check(&o)?;
        let started = Instant::now();
        let mut result = Plan::ok()
            .with("state", state)
            .with("port", o.port.map(Value::from).unwrap_or(Value::from(())))
            .with(
                "path",
                o.path.clone().map(Value::from).unwrap_or(Value::from(())),
            )
            .with(
                "search_regex",
                o.search_regex
                    .clone()
                    .map(Value::from)
                    .unwrap_or(Value::from(())),
            );
        let Some(check) = check else {
            // Neither port nor path: just wait, like Ansible.
            tokio::time::sleep(std::time::Duration::from_secs((delay + timeout) as u64)).await;
            return Ok(result.with("elapsed", started.elapsed().as_secs() as i64));
        };
        // Ansible's loop: tries while the deadline, `timeout` seconds after the start (the
        // delay included), is not reached, so a timeout takes `timeout` seconds (and a bit),
        // never a second more, and `timeout: 0` never tries. The host's clock in hundredths (/proc/uptime; whole seconds
        // from `date` where there is none).
        let script = format!(
            "{TCP_FUNCS}prov_now() {{ if [ -r /proc/uptime ]; then IFS=' .' read -r s c _ < /proc/uptime; echo \"$s$c\"; \
             else echo $(( $(date +%s) * 100 )); fi; }}\n\
             end=$(( $(prov_now) + {timeout} * 100 )); [ {delay} -gt 0 ] && sleep {delay}\n\
             while [ \"$(prov_now)\" -lt \"$end\" ]; do\n  if {cond}; then echo prov-wait:ok; exit 0; fi\n\
             \x20 sleep {sleep}\ndone\necho prov-wait:timeout\n",
            cond = check.cond
        );
        let out = ctx.run(script).await?;
        let elapsed = started.elapsed().as_secs() as i64;
        result = result.with("elapsed", elapsed);
        let text = out.stdout_str();
        if let Some(err) = text
            .lines()
            .find_map(|l| l.strip_prefix("prov-wait:error:"))
        {
            return Ok(Plan {
                failed: Some(format!("wait_for: {err}")),
                ..result
            });
        }
        if text.lines().any(|l| l == "prov-wait:timeout") {
            let msg = o.msg.clone().unwrap_or(check.timeout_msg);
            return Ok(Plan {
                failed: Some(msg.clone()),
                ..result.with("msg", msg)
            });
        }
        if !text.lines().any(|l| l == "prov-wait:ok") {
            return Ok(Plan {
                failed: Some(format!(
                    "wait_for: the check script failed (rc {}): {}",
                    out.rc,
                    out.stderr_str().trim()
                )),
                ..result
            });
        }
        let mut groups: Vec<Value> = Vec::new();
        let mut named: Vec<(String, Value)> = Vec::new();
        if let (Some(re), Some(line)) = (
            &regex,
            text.lines().find_map(|l| l.strip_prefix("prov-wait:line:")),
        ) && let Some(c) = re.captures(line)
        {
            {
                for i in 1..c.len() {
                    groups.push(
                        c.get(i)
                            .map(|m| Value::from(m.as_str()))
                            .unwrap_or(Value::from(())),
                    );
                }
                for name in re.capture_names().flatten() {
                    named.push((
                        name.to_string(),
                        c.name(name)
                            .map(|m| Value::from(m.as_str()))
                            .unwrap_or(Value::from(())),
                    ));
                }
            }
        }
        Ok(result.with("match_groups", groups).with(
            "match_groupdict",
            Value::from_iter(named.into_iter().map(|(k, v)| (Value::from(k), v))),
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn python_regex_to_ere() {
        assert_eq!(to_ere(r"port (\d+)"), "port ([0-9]+)");
        assert_eq!(to_ere(r"[\d.]+\s"), "[0-9.]+[[:space:]]");
        assert_eq!(to_ere(r"(?P<v>\w+?)x(?:y)"), "([[:alnum:]_]+)x(y)");
        assert_eq!(to_ere(r"a\.b"), r"a\.b");
    }
}
