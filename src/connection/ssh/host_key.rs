//! Host-key verification: the russh event handler checks the server's key against the
//! known_hosts files ([`super::known_hosts`]) with the [`HostKeyChecking`] policy, learns new
//! keys under `accept-new`, and records why a connection ended.

use super::known_hosts::{self, HostKeyChecking};
use super::{Logger, auth};
use crate::error::{Error, Result};
use russh::client;
use russh::keys::PublicKeyOrCertificate;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

/// The russh event handler: verifies the server's host key.
pub(crate) struct Client {
    pub(super) display: String,
    pub(super) kh_name: String,
    pub(super) policy: HostKeyChecking,
    pub(super) files: Vec<PathBuf>,
    pub(super) learn_file: PathBuf,
    pub(super) failure: Arc<std::sync::Mutex<Option<Error>>>,
    /// Why the connection ended, when the transport ended it (keepalive timeout, ...).
    pub(super) gone: Arc<std::sync::Mutex<Option<String>>>,
    /// The keepalive interval, for the timeout message.
    pub(super) keepalive: Duration,
    pub(super) log: Logger,
}

impl client::Handler for Client {
    type Error = russh::Error;

    async fn disconnected(
        &mut self,
        reason: client::DisconnectReason<Self::Error>,
    ) -> Result<(), Self::Error> {
        let why = match &reason {
            client::DisconnectReason::ReceivedDisconnect(_) => {
                "the server closed the connection".to_string()
            }
            client::DisconnectReason::Error(russh::Error::KeepaliveTimeout) => format!(
                "timed out: {} did not answer for {} s (3 keepalives; ServerAliveInterval, e.g. `-o ServerAliveInterval=5` in ansible_ssh_common_args, changes it)",
                self.display,
                (self.keepalive * 3).as_secs()
            ),
            client::DisconnectReason::Error(e) => e.to_string(),
        };
        (self.log)(format!("connection to {} ended: {why}", self.display));
        *self.gone.lock().unwrap_or_else(|p| p.into_inner()) = Some(why);
        match reason {
            client::DisconnectReason::ReceivedDisconnect(_) => Ok(()),
            client::DisconnectReason::Error(e) => Err(e),
        }
    }

    async fn check_server_key(
        &mut self,
        key: &PublicKeyOrCertificate,
    ) -> Result<bool, Self::Error> {
        let pk = key.public_key();
        match self.verify(&pk) {
            Ok(()) => Ok(true),
            Err(e) => {
                *self.failure.lock().unwrap_or_else(|p| p.into_inner()) = Some(e);
                Ok(false)
            }
        }
    }
}

impl Client {
    fn verify(&self, pk: &russh::keys::PublicKey) -> Result<()> {
        use known_hosts::Verdict;
        let kt = pk.algorithm().as_str().to_string();
        let blob = russh::keys::PublicKeyBase64::public_key_bytes(pk);
        if blob.is_empty() {
            return Err(Error::unreachable(format!(
                "cannot encode the host key of {}",
                self.display
            )));
        }
        let fp = auth::fingerprint(pk);
        let entries = known_hosts::load(&self.files);
        match known_hosts::check(&entries, &self.kh_name, &kt, &blob) {
            Verdict::Known(e) => {
                (self.log)(format!(
                    "host key of {} verified: {kt} {fp} ({})",
                    self.display,
                    e.location()
                ));
                Ok(())
            }
            Verdict::Revoked(e) => Err(Error::unreachable(format!(
                "the host key of {} ({kt} {fp}) is marked @revoked in {}; refusing to connect",
                self.display,
                e.location()
            ))),
            Verdict::Changed(e) => Err(Error::unreachable(format!(
                "HOST KEY CHANGED for {}: the server offered a {kt} key with fingerprint {fp}, \
                 but {} holds a different {} key for '{}'; this may be a man-in-the-middle attack, \
                 or the host was reinstalled",
                self.display,
                e.location(),
                e.key_type,
                self.kh_name
            ))
            .hint(format!(
                "if the change is expected, remove the old entry with: ssh-keygen -R '{}' -f {}",
                self.kh_name,
                e.file.display()
            ))),
            Verdict::Unknown => match self.policy {
                HostKeyChecking::Strict => {
                    let files: Vec<String> =
                        self.files.iter().map(|f| f.display().to_string()).collect();
                    let (h, p) = split_kh_name(&self.kh_name);
                    let port_flag = if p == 22 {
                        String::new()
                    } else {
                        format!("-p {p} ")
                    };
                    let other = known_hosts::known_types(&entries, &self.kh_name);
                    let what = if other.is_empty() {
                        format!("no entry for '{}' is in {}", self.kh_name, files.join(", "))
                    } else {
                        format!(
                            "known_hosts only has {} keys for '{}'",
                            other.join(", "),
                            self.kh_name
                        )
                    };
                    Err(Error::unreachable(format!(
                        "the host key of {} is not known: the server offered a {kt} key with \
                         fingerprint {fp}, and {what}",
                        self.display,
                    ))
                    .hint(format!(
                        "check the fingerprint, then accept it with: ssh-keyscan -H {port_flag}{h} >> {}; \
                         or let prov learn new hosts with PROV_HOST_KEY_CHECKING=accept-new",
                        self.learn_file.display()
                    )))
                }
                HostKeyChecking::AcceptNew => {
                    known_hosts::append(&self.learn_file, &self.kh_name, &kt, &blob).map_err(
                        |e| {
                            Error::unreachable(format!(
                                "cannot record the host key of {} in {}: {e}",
                                self.display,
                                self.learn_file.display()
                            ))
                        },
                    )?;
                    (self.log)(format!(
                        "learned the host key of {}: {kt} {fp} (added to {})",
                        self.display,
                        self.learn_file.display()
                    ));
                    Ok(())
                }
                HostKeyChecking::Off => {
                    (self.log)(format!(
                        "host key of {} not checked (host key checking is off): {kt} {fp}",
                        self.display
                    ));
                    Ok(())
                }
            },
        }
    }
}

fn split_kh_name(name: &str) -> (String, u16) {
    if let Some(r) = name.strip_prefix('[')
        && let Some((h, p)) = r.split_once("]:")
    {
        return (h.to_string(), p.parse().unwrap_or(22));
    }
    (name.to_string(), 22)
}
