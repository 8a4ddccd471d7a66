//! The transport: TCP, ProxyCommand and jump-host tunnels to the target, the russh client
//! configuration (keepalive, preferred host-key types), authentication on every hop, and the
//! live connection with its probe shell slot.

use super::exec::Shell;
use super::host_key::Client;
use super::known_hosts;
use super::settings::{Endpoint, Plan};
use super::{Logger, auth};
use crate::error::{Error, Result};
use russh::client::{self, Handle};
use russh::keys::Algorithm;
use std::sync::Arc;
use std::time::Duration;
use tokio::io::AsyncReadExt;

pub(super) struct Live {
    pub(super) handle: Handle<Client>,
    /// Jump-host sessions the target's session is tunnelled through (kept alive).
    pub(super) _hops: Vec<Handle<Client>>,
    /// The ProxyCommand process carrying the connection, if any (killed on drop).
    pub(super) _proxy: Option<tokio::process::Child>,
    /// The shell that runs probes on this connection (see [`Shell`]).
    pub(super) shell: std::sync::Mutex<ShellSlot>,
    /// Why the connection ended, once it has (set by [`Client::disconnected`]).
    pub(super) gone: Arc<std::sync::Mutex<Option<String>>>,
}

impl Live {
    pub(super) fn gone(&self) -> Option<String> {
        self.gone.lock().unwrap_or_else(|p| p.into_inner()).clone()
    }

    /// The server refused a session: close the probe shell if it is idle (its session is then
    /// free) and use new sessions for probes from now on. True when a session was freed.
    pub(super) fn give_up_shell(&self, log: &Logger, label: &str) -> bool {
        let mut slot = self.shell.lock().unwrap_or_else(|p| p.into_inner());
        match std::mem::replace(&mut *slot, ShellSlot::Broken) {
            ShellSlot::Idle(sh) => {
                drop(sh);
                log(format!(
                    "{label} refused a new session while the probe shell held one (MaxSessions 1?): \
                     closed the probe shell; probes use new sessions"
                ));
                true
            }
            ShellSlot::Busy => {
                *slot = ShellSlot::Busy;
                false
            }
            _ => false,
        }
    }
}

/// The state of a connection's probe shell.
pub(super) enum ShellSlot {
    /// Not opened yet.
    Unopened,
    /// Open and free.
    Idle(Box<Shell>),
    /// Running a probe (other probes meanwhile use new sessions).
    Busy,
    /// Could not be opened or broke: probes use new sessions on this connection.
    Broken,
}

fn russh_config(plan: &Plan, known_types: &[String]) -> Arc<client::Config> {
    let mut keys: Vec<Algorithm> = russh::Preferred::DEFAULT
        .key
        .iter()
        .filter(|a| !matches!(a, Algorithm::Rsa { hash: None }))
        .cloned()
        .collect();
    // Prefer the key types known_hosts already holds for this host, as OpenSSH does.
    let family = |a: &Algorithm| -> String {
        if matches!(a, Algorithm::Rsa { .. }) {
            "ssh-rsa".into()
        } else {
            a.as_str().to_string()
        }
    };
    keys.sort_by_key(|a| !known_types.iter().any(|t| *t == family(a)));
    Arc::new(client::Config {
        nodelay: true,
        keepalive_interval: Some(plan.keepalive),
        keepalive_max: 2,
        inactivity_timeout: None,
        window_size: 8 * 1024 * 1024,
        maximum_packet_size: 32768,
        channel_buffer_size: 256,
        preferred: russh::Preferred {
            key: keys.into(),
            ..Default::default()
        },
        ..Default::default()
    })
}

/// SSH handshakes (key exchange and authentication) in progress at once, in the whole run.
///
/// A handshake costs both ends CPU (a millisecond or two on the controller, tens on a small
/// host). Hundreds at once on one controller, or against hosts that share CPUs (a lab, a
/// busy hypervisor), each take as long as all of them together, and the last ones then run
/// past their timeout. In turns of 256, each handshake's timeout starts when its turn
/// comes; a TCP connection, whose timeout is a host's own, is made before taking a turn.
const HANDSHAKES_AT_ONCE: usize = 256;

static HANDSHAKES: tokio::sync::Semaphore = tokio::sync::Semaphore::const_new(HANDSHAKES_AT_ONCE);

/// Waits for a turn to run a handshake (see [`HANDSHAKES_AT_ONCE`]).
async fn handshake_slot() -> Option<tokio::sync::SemaphorePermit<'static>> {
    HANDSHAKES.acquire().await.ok()
}

/// The error of a connection or handshake that took longer than the timeout.
fn connect_timed_out(display: &str, timeout: Duration) -> Error {
    Error::unreachable(format!(
        "timed out after {timeout:?} connecting to {display}"
    ))
    .hint("check that the host is up and that port is open, or raise ansible_ssh_timeout")
}

/// Connects through the jump hosts (if any) to the target and authenticates everywhere.
pub(super) async fn open(plan: &Plan, log: &Logger) -> Result<Live> {
    let mut hops: Vec<Handle<Client>> = Vec::new();
    let mut proxy: Option<tokio::process::Child> = None;
    let mut gone = Arc::new(std::sync::Mutex::new(None));
    let chain: Vec<&Endpoint> = plan
        .hops
        .iter()
        .chain(std::iter::once(&plan.target))
        .collect();
    for (i, ep) in chain.iter().enumerate() {
        let is_target = i + 1 == chain.len();
        let display = if is_target {
            ep.label()
        } else {
            format!("jump host {}", ep.label())
        };
        let kh_name = known_hosts::host_name_for(&ep.host, ep.port);
        let entries = known_hosts::load(&plan.known_hosts);
        let cfg = russh_config(plan, &known_hosts::known_types(&entries, &kh_name));
        let failure = Arc::new(std::sync::Mutex::new(None));
        gone = Arc::new(std::sync::Mutex::new(None));
        let handler = Client {
            display: display.clone(),
            kh_name,
            policy: plan.policy,
            files: plan.known_hosts.clone(),
            learn_file: plan.learn_file.clone(),
            failure: failure.clone(),
            gone: gone.clone(),
            keepalive: plan.keepalive,
            log: log.clone(),
        };
        let take_failure = || failure.lock().unwrap_or_else(|p| p.into_inner()).take();
        let slot;
        let mut handle = match hops.last() {
            None => {
                log(format!(
                    "connecting to {display} (timeout {:?})",
                    plan.timeout
                ));
                // The TCP connection first, outside the handshake slots: a host that never
                // answers holds none.
                let stream = match &plan.proxy_command {
                    Some(_) => None,
                    None => {
                        match tokio::time::timeout(plan.timeout, tcp_connect(&ep.host, ep.port))
                            .await
                        {
                            Ok(r) => Some(r?),
                            Err(_) => return Err(connect_timed_out(&display, plan.timeout)),
                        }
                    }
                };
                slot = Some(handshake_slot().await);
                let fut = async {
                    if let Some(stream) = stream {
                        client::connect_stream(cfg, stream, handler)
                            .await
                            .map_err(|e| handshake_error(&display, e, take_failure()))
                    } else if let Some(cmd) = &plan.proxy_command {
                        log(format!("starting ProxyCommand: {cmd}"));
                        let (stream, child, errors, reader) = proxy_stream(cmd)?;
                        proxy = Some(child);
                        match client::connect_stream(cfg, stream, handler).await {
                            Ok(h) => Ok(h),
                            Err(e) => {
                                let mut err = handshake_error(&display, e, take_failure());
                                // Let the command finish printing why it failed.
                                let _ = tokio::time::timeout(Duration::from_secs(1), reader).await;
                                let said = errors
                                    .lock()
                                    .map(|b| String::from_utf8_lossy(&b).trim().to_string())
                                    .unwrap_or_default();
                                if !said.is_empty() {
                                    err.msg.push_str(&format!("; ProxyCommand said: {said}"));
                                }
                                Err(err)
                            }
                        }
                    } else {
                        Err(Error::unreachable(format!(
                            "no way to connect to {display}"
                        )))
                    }
                };
                match tokio::time::timeout(plan.timeout, fut).await {
                    Ok(r) => r?,
                    Err(_) => return Err(connect_timed_out(&display, plan.timeout)),
                }
            }
            Some(prev) => {
                log(format!(
                    "opening a tunnel to {display} through the previous hop"
                ));
                slot = Some(handshake_slot().await);
                let fut = async {
                    let ch = prev
                        .channel_open_direct_tcpip(
                            ep.host.clone(),
                            u32::from(ep.port),
                            "127.0.0.1",
                            0,
                        )
                        .await
                        .map_err(|e| {
                            Error::unreachable(format!(
                                "the jump host could not open a connection to {}:{}: {e}",
                                ep.host, ep.port
                            ))
                        })?;
                    client::connect_stream(cfg, ch.into_stream(), handler)
                        .await
                        .map_err(|e| handshake_error(&display, e, take_failure()))
                };
                match tokio::time::timeout(plan.timeout, fut).await {
                    Ok(r) => r?,
                    Err(_) => {
                        return Err(Error::unreachable(format!(
                            "timed out after {:?} connecting to {display} through the jump host",
                            plan.timeout
                        )));
                    }
                }
            }
        };
        let ap = auth::AuthPlan {
            user: ep.user.clone(),
            agent: ep.agent.clone(),
            key_files: ep.key_files.clone(),
            password: ep.password.clone(),
        };
        auth::authenticate(&mut handle, &ap, log)
            .await
            .map_err(|m| Error::unreachable(format!("{display}: {m}")))?;
        drop(slot);
        log(format!("connected to {display}"));
        hops.push(handle);
    }
    let handle = hops
        .pop()
        .ok_or_else(|| Error::unreachable("no host to connect to"))?;
    Ok(Live {
        handle,
        _hops: hops,
        _proxy: proxy,
        shell: std::sync::Mutex::new(ShellSlot::Unopened),
        gone,
    })
}

/// Starts a `ProxyCommand` under `/bin/sh -c`; its stdin/stdout carry the SSH stream. The
/// returned buffer collects (the start of) what it prints on stderr, for error messages.
#[allow(clippy::type_complexity)]
fn proxy_stream(
    cmd: &str,
) -> Result<(
    tokio::io::Join<tokio::process::ChildStdout, tokio::process::ChildStdin>,
    tokio::process::Child,
    Arc<std::sync::Mutex<Vec<u8>>>,
    tokio::task::JoinHandle<()>,
)> {
    use std::process::Stdio;
    let mut child = tokio::process::Command::new("/bin/sh")
        .arg("-c")
        .arg(cmd)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .map_err(|e| Error::unreachable(format!("cannot start the ProxyCommand '{cmd}': {e}")))?;
    let (Some(out), Some(inp)) = (child.stdout.take(), child.stdin.take()) else {
        return Err(Error::unreachable("the ProxyCommand has no stdin/stdout"));
    };
    let errors = Arc::new(std::sync::Mutex::new(Vec::new()));
    let stderr = child.stderr.take();
    let buf = errors.clone();
    let reader = tokio::spawn(async move {
        let Some(mut err) = stderr else { return };
        let mut chunk = [0u8; 4096];
        while let Ok(n) = err.read(&mut chunk).await {
            if n == 0 {
                break;
            }
            if let Ok(mut b) = buf.lock()
                && b.len() < 8192
            {
                b.extend_from_slice(&chunk[..n]);
            }
        }
    });
    Ok((tokio::io::join(out, inp), child, errors, reader))
}

fn handshake_error(display: &str, e: russh::Error, failure: Option<Error>) -> Error {
    if let Some(f) = failure {
        return f;
    }
    Error::unreachable(format!("SSH handshake with {display} failed: {e}"))
}

async fn tcp_connect(host: &str, port: u16) -> Result<tokio::net::TcpStream> {
    let addrs: Vec<std::net::SocketAddr> = tokio::net::lookup_host((host, port))
        .await
        .map_err(|e| {
            Error::unreachable(format!("cannot resolve host name '{host}': {e}"))
                .hint("check ansible_host and the DNS/hosts configuration")
        })?
        .collect();
    if addrs.is_empty() {
        return Err(Error::unreachable(format!(
            "host name '{host}' resolves to no address"
        )));
    }
    let mut last = None;
    for a in &addrs {
        match tokio::net::TcpStream::connect(a).await {
            Ok(s) => {
                let _ = s.set_nodelay(true);
                return Ok(s);
            }
            Err(e) => last = Some((a, e)),
        }
    }
    let (a, e) =
        last.ok_or_else(|| Error::unreachable(format!("cannot connect to {host}:{port}")))?;
    let what = if e.kind() == std::io::ErrorKind::ConnectionRefused {
        "connection refused (is sshd running and listening on that port?)".to_string()
    } else {
        e.to_string()
    };
    Err(Error::unreachable(format!(
        "cannot connect to {host}:{port} ({a}): {what}"
    )))
}
