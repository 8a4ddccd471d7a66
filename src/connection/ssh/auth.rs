//! User authentication in OpenSSH's order: ssh-agent keys, key files, then password
//! (and keyboard-interactive answering with the password).
//!
//! RSA keys sign with `rsa-sha2-512`/`rsa-sha2-256` as the server advertises; SHA-1 `ssh-rsa`
//! signatures are never used. Encrypted key files ask for their passphrase on the terminal, or
//! are skipped with a clear note when there is none. Failures list the methods and keys tried,
//! never a secret.

use super::Logger;
use super::host_key::Client;
use crate::connection::Secret;
use russh::client::{AuthResult, Handle, KeyboardInteractiveAuthResponse};
use russh::keys::agent::AgentIdentity;
use russh::keys::agent::client::AgentClient;
use russh::keys::{HashAlg, PrivateKey, PrivateKeyWithHashAlg, PublicKey};
use std::path::{Path, PathBuf};
use std::sync::Arc;

/// What to try, in order.
pub(crate) struct AuthPlan {
    /// Remote user.
    pub user: String,
    /// The ssh-agent socket to use, if any.
    pub agent: Option<PathBuf>,
    /// Key files, in order (already expanded), each with whether it was asked for: a missing
    /// file that was asked for is reported, a missing default one is skipped silently.
    pub key_files: Vec<(PathBuf, bool)>,
    /// The password, if any.
    pub password: Option<Secret>,
}

/// Runs the authentication; on failure returns a message listing what was tried.
pub(crate) async fn authenticate(
    h: &mut Handle<Client>,
    plan: &AuthPlan,
    log: &Logger,
) -> Result<(), String> {
    let mut tried: Vec<String> = Vec::new();
    let mut notes: Vec<String> = Vec::new();
    let mut rsa_hash: Option<Option<Option<HashAlg>>> = None;
    let mut accepted: Option<Vec<String>> = None;

    // 1. ssh-agent.
    if let Some(sock) = &plan.agent {
        match AgentClient::connect_uds(sock).await {
            Ok(mut agent) => {
                if let Some(b) = h.agent_session_binding() {
                    let _ = agent.bind_session(b, false).await;
                }
                match agent.request_identities().await {
                    Ok(ids) => {
                        for id in ids {
                            let AgentIdentity::PublicKey { key, comment } = id else {
                                continue;
                            };
                            let label =
                                format!("agent key {} {}", key.algorithm().as_str(), comment)
                                    .trim_end()
                                    .to_string();
                            let hash = if key.algorithm().is_rsa() {
                                match rsa_alg(h, &mut rsa_hash).await {
                                    Some(a) => Some(a),
                                    None => {
                                        notes.push(format!("{label}: skipped, the server only accepts SHA-1 RSA signatures"));
                                        continue;
                                    }
                                }
                            } else {
                                None
                            };
                            for hash in rsa_attempts(hash) {
                                log(format!("trying {label}"));
                                match h
                                    .authenticate_publickey_with(
                                        &plan.user,
                                        key.clone(),
                                        hash,
                                        &mut agent,
                                    )
                                    .await
                                {
                                    Ok(r) => {
                                        if done(r, &mut accepted) {
                                            log(format!("authenticated with {label}"));
                                            return Ok(());
                                        }
                                        tried.push(format!("{label} (rejected)"));
                                    }
                                    Err(e) => tried.push(format!("{label} (agent error: {e})")),
                                }
                                if h.is_closed() {
                                    return Err(fail(plan, &tried, &notes, &accepted, true));
                                }
                            }
                        }
                    }
                    Err(e) => notes.push(format!("ssh-agent: cannot list keys: {e}")),
                }
            }
            Err(e) => notes.push(format!(
                "ssh-agent at {}: cannot connect: {e}",
                sock.display()
            )),
        }
    }

    // 2. Key files.
    for (path, required) in &plan.key_files {
        let label = path.display().to_string();
        let key = match load_key(path) {
            Ok(Some(k)) => k,
            Ok(None) => {
                if *required {
                    notes.push(format!("key {label}: no such file"));
                }
                continue;
            }
            Err(note) => {
                notes.push(note);
                continue;
            }
        };
        let hash = if key.algorithm().is_rsa() {
            match rsa_alg(h, &mut rsa_hash).await {
                Some(a) => Some(a),
                None => {
                    notes.push(format!(
                        "{label}: skipped, the server only accepts SHA-1 RSA signatures"
                    ));
                    continue;
                }
            }
        } else {
            None
        };
        let key = Arc::new(key);
        for hash in rsa_attempts(hash) {
            let alg = PrivateKeyWithHashAlg::new(key.clone(), hash);
            let alg_name = alg.algorithm().as_str().to_string();
            log(format!("trying key {label} ({alg_name})"));
            match h.authenticate_publickey(&plan.user, alg).await {
                Ok(r) => {
                    if done(r, &mut accepted) {
                        log(format!("authenticated with key {label} ({alg_name})"));
                        return Ok(());
                    }
                    tried.push(format!("key {label} ({alg_name}, rejected)"));
                }
                Err(e) => tried.push(format!("key {label} ({alg_name}, error: {e})")),
            }
            if h.is_closed() {
                return Err(fail(plan, &tried, &notes, &accepted, true));
            }
        }
    }

    // 3. Password, then keyboard-interactive answered with the password.
    if let Some(pw) = &plan.password {
        log("trying password".to_string());
        match h.authenticate_password(&plan.user, pw.expose()).await {
            Ok(r) => {
                if done(r, &mut accepted) {
                    log("authenticated with password".to_string());
                    return Ok(());
                }
                tried.push("password (rejected)".into());
            }
            Err(e) => tried.push(format!("password (error: {e})")),
        }
        let kbd_ok = accepted
            .as_ref()
            .is_none_or(|m| m.iter().any(|x| x == "keyboard-interactive"));
        if kbd_ok && !h.is_closed() {
            match keyboard_interactive(h, &plan.user, pw).await {
                Ok(true) => {
                    log("authenticated with keyboard-interactive".to_string());
                    return Ok(());
                }
                Ok(false) => tried.push("keyboard-interactive (rejected)".into()),
                Err(e) => tried.push(format!("keyboard-interactive (error: {e})")),
            }
        }
    }
    Err(fail(plan, &tried, &notes, &accepted, h.is_closed()))
}

/// The hashes to try for a key: RSA with SHA-512 falls back to SHA-256 (some servers advertise
/// both but accept only one); other keys sign once.
fn rsa_attempts(first: Option<HashAlg>) -> Vec<Option<HashAlg>> {
    match first {
        Some(HashAlg::Sha512) => vec![Some(HashAlg::Sha512), Some(HashAlg::Sha256)],
        other => vec![other],
    }
}

fn done(r: AuthResult, accepted: &mut Option<Vec<String>>) -> bool {
    match r {
        AuthResult::Success => true,
        AuthResult::Failure {
            remaining_methods, ..
        } => {
            *accepted = Some(remaining_methods.iter().map(String::from).collect());
            false
        }
    }
}

async fn keyboard_interactive(
    h: &mut Handle<Client>,
    user: &str,
    pw: &Secret,
) -> Result<bool, russh::Error> {
    let mut resp = h
        .authenticate_keyboard_interactive_start(user, None)
        .await?;
    for _ in 0..5 {
        match resp {
            KeyboardInteractiveAuthResponse::Success => return Ok(true),
            KeyboardInteractiveAuthResponse::Failure { .. } => return Ok(false),
            KeyboardInteractiveAuthResponse::InfoRequest { prompts, .. } => {
                let answers = prompts
                    .iter()
                    .map(|p| {
                        if p.echo {
                            String::new()
                        } else {
                            pw.expose().to_string()
                        }
                    })
                    .collect();
                resp = h.authenticate_keyboard_interactive_respond(answers).await?;
            }
        }
    }
    Ok(false)
}

/// The RSA signature hash to use: SHA-512 or SHA-256 as the server supports; `None` when it
/// only supports SHA-1 (never used). Asked once per connection.
async fn rsa_alg(
    h: &Handle<Client>,
    cache: &mut Option<Option<Option<HashAlg>>>,
) -> Option<HashAlg> {
    if cache.is_none() {
        let v = h.best_supported_rsa_hash().await.ok().flatten();
        *cache = Some(v);
    }
    match cache {
        // No server-sig-algs extension: every OpenSSH since 7.2 takes rsa-sha2-256.
        Some(None) | None => Some(HashAlg::Sha256),
        Some(Some(Some(a))) => Some(*a),
        Some(Some(None)) => None,
    }
}

fn fail(
    plan: &AuthPlan,
    tried: &[String],
    notes: &[String],
    accepted: &Option<Vec<String>>,
    closed: bool,
) -> String {
    let mut msg = format!("authentication failed for user '{}'", plan.user);
    if tried.is_empty() {
        msg.push_str(": no method could be tried");
    } else {
        msg.push_str(&format!("; tried: {}", tried.join(", ")));
    }
    if !notes.is_empty() {
        msg.push_str(&format!("; {}", notes.join("; ")));
    }
    if let Some(m) = accepted {
        msg.push_str(&format!("; the server accepts: {}", m.join(",")));
    }
    if plan.password.is_none()
        && accepted
            .as_ref()
            .is_some_and(|m| m.iter().any(|x| x == "password"))
    {
        msg.push_str("; no password was given (ansible_password)");
    }
    if closed {
        msg.push_str("; the server closed the connection (too many authentication failures?)");
    }
    msg
}

/// Loads a private key file. `Ok(None)` when the file does not exist; `Err(note)` when it cannot
/// be used (the note says why, without secrets).
fn load_key(path: &Path) -> Result<Option<PrivateKey>, String> {
    let text = match std::fs::read_to_string(path) {
        Ok(t) => t,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(e) => return Err(format!("key {}: cannot read: {e}", path.display())),
    };
    match russh::keys::decode_secret_key(&text, None) {
        Ok(k) => Ok(Some(k)),
        Err(russh::keys::Error::KeyIsEncrypted) => {
            use std::io::IsTerminal;
            if !std::io::stdin().is_terminal() {
                return Err(format!(
                    "key {} is encrypted and no passphrase can be asked (no terminal); \
                     load it into ssh-agent with ssh-add, or use an unencrypted key",
                    path.display()
                ));
            }
            // One prompt per key file for the whole run, however many hosts use it.
            let _g = TTY_LOCK.lock().unwrap_or_else(|e| e.into_inner());
            if let Some(r) = DECRYPTED
                .lock()
                .unwrap_or_else(|e| e.into_inner())
                .get(path)
            {
                return r.clone().map(Some);
            }
            let mut result = Err(format!(
                "key {}: no correct passphrase given",
                path.display()
            ));
            for _ in 0..3 {
                let Some(pass) =
                    read_passphrase(&format!("Enter passphrase for key '{}': ", path.display()))
                else {
                    break;
                };
                if pass.expose().is_empty() {
                    break;
                }
                if let Ok(k) = russh::keys::decode_secret_key(&text, Some(pass.expose())) {
                    result = Ok(k);
                    break;
                }
                eprintln!("Bad passphrase, try again.");
            }
            DECRYPTED
                .lock()
                .unwrap_or_else(|e| e.into_inner())
                .insert(path.to_path_buf(), result.clone());
            result.map(Some)
        }
        Err(e) => Err(format!("key {}: cannot load: {e}", path.display())),
    }
}

/// Serializes passphrase prompts on the terminal.
static TTY_LOCK: std::sync::Mutex<()> = std::sync::Mutex::new(());

/// Keys decrypted with a passphrase (or given up on) during this run, by path.
static DECRYPTED: std::sync::LazyLock<
    std::sync::Mutex<std::collections::HashMap<PathBuf, Result<PrivateKey, String>>>,
> = std::sync::LazyLock::new(Default::default);

/// Reads a line from the terminal with echo off (the caller holds [`TTY_LOCK`]); `None` without
/// a terminal.
fn read_passphrase(prompt: &str) -> Option<Secret> {
    crate::tty::read_hidden(prompt)
        .ok()
        .flatten()
        .map(|s| Secret::new(&s))
}

/// The public key's OpenSSH fingerprint (`SHA256:...`).
pub(crate) fn fingerprint(k: &PublicKey) -> String {
    k.fingerprint(HashAlg::Sha256).to_string()
}
