//! Vault secrets from the command line and ansible.cfg (`--vault-id`, `--vault-password-file`,
//! `--ask-vault-pass`, `vault_identity_list`, `vault_password_file`), and `prov vault`, the
//! `ansible-vault` command: create, encrypt, decrypt, view, edit, rekey, encrypt_string, in
//! ansible-vault's formats (1.1, and 1.2 with a vault id).

use std::io::{IsTerminal as _, Read as _, Write as _};
use std::path::{Path, PathBuf};

use clap::{Args as ClapArgs, Subcommand};

use super::{Config, write_stdout};
use crate::connection::Secret;
use crate::error::{Error, ErrorKind, Result};
use crate::template::vault::{self, VaultSecret};

/// Where vault passwords come from (`prov run`, `prov check`, `prov vault`, ...).
#[derive(ClapArgs, Debug, Clone, Default)]
pub(super) struct VaultOpts {
    /// A vault id: `label@source` or `source`, the source a password file, an executable
    /// script (run with `--vault-id label` when its name ends in `-client`) or `prompt`
    /// (repeatable).
    #[arg(long = "vault-id", value_name = "ID")]
    pub vault_id: Vec<String>,
    /// File with the ansible-vault password (repeatable; an executable file is run).
    #[arg(
        long = "vault-password-file",
        visible_alias = "vault-pass-file",
        value_name = "FILE"
    )]
    pub vault_password_file: Vec<PathBuf>,
    /// Ask for the vault password.
    #[arg(
        short = 'J',
        long = "ask-vault-pass",
        visible_alias = "ask-vault-password"
    )]
    pub ask_vault_pass: bool,
    /// The secrets once read (a prompt or a script is asked once per command).
    #[arg(skip)]
    pub read: std::sync::OnceLock<Vec<VaultSecret>>,
}

impl VaultOpts {
    /// The vault secrets these options and ansible.cfg give, in order: `--vault-id`s, then
    /// `--vault-password-file`s, then `--ask-vault-pass`, then ansible.cfg's
    /// `vault_identity_list` and `vault_password_file` (and their environment variables) when
    /// the command line gave none.
    pub fn secrets(&self, cfg: &Config) -> Result<Vec<VaultSecret>> {
        if let Some(s) = self.read.get() {
            return Ok(s.clone());
        }
        let s = self.read_secrets(cfg)?;
        Ok(self.read.get_or_init(|| s).clone())
    }

    fn read_secrets(&self, cfg: &Config) -> Result<Vec<VaultSecret>> {
        let default_id = cfg
            .get("defaults", "vault_identity", "ANSIBLE_VAULT_IDENTITY")
            .unwrap_or_else(|| "default".into());
        let mut ids: Vec<String> = self.vault_id.clone();
        ids.extend(
            self.vault_password_file
                .iter()
                .map(|f| format!("{default_id}@{}", f.display())),
        );
        if self.ask_vault_pass {
            ids.push(format!("{default_id}@prompt"));
        }
        if ids.is_empty() {
            if let Some(list) = cfg.get(
                "defaults",
                "vault_identity_list",
                "ANSIBLE_VAULT_IDENTITY_LIST",
            ) {
                ids.extend(
                    list.split(',')
                        .map(str::trim)
                        .filter(|s| !s.is_empty())
                        .map(String::from),
                );
            }
            if let Some(f) = cfg.get(
                "defaults",
                "vault_password_file",
                "ANSIBLE_VAULT_PASSWORD_FILE",
            ) {
                ids.push(format!("{default_id}@{}", cfg.path(&f).display()));
            }
        }
        let mut out: Vec<VaultSecret> = Vec::new();
        for id in ids {
            let (label, source) = match id.split_once('@') {
                Some((l, s)) => (l.to_string(), s.to_string()),
                None if id == "prompt" => (default_id.clone(), id.clone()),
                None => (default_id.clone(), id.clone()),
            };
            let password = if source == "prompt" || source == "prompt_ask_vault_pass" {
                let label_text = if label == "default" {
                    String::new()
                } else {
                    format!(" ({label})")
                };
                super::prompt_secret(&format!("Vault password{label_text}: "))?
            } else {
                password_from(Path::new(&source), &label)?
            };
            if password.is_empty() {
                return Err(Error::new(
                    ErrorKind::Other,
                    format!("Invalid vault password was provided from {source}"),
                ));
            }
            out.push(VaultSecret {
                id: label,
                password: Secret::new(password),
            });
        }
        Ok(out)
    }
}

/// The password of a vault id's source file: a `-client` script is run with `--vault-id
/// LABEL` (Ansible's vault client protocol), other files as [`super::read_vault_password`]
/// reads them.
fn password_from(f: &Path, label: &str) -> Result<String> {
    let stem = f
        .file_stem()
        .map(|s| s.to_string_lossy().into_owned())
        .unwrap_or_default();
    let executable = {
        use std::os::unix::fs::PermissionsExt;
        std::fs::metadata(f).is_ok_and(|m| m.is_file() && m.permissions().mode() & 0o111 != 0)
    };
    if executable && stem.ends_with("-client") {
        let out = std::process::Command::new(std::path::absolute(f).unwrap_or(f.to_path_buf()))
            .args(["--vault-id", label])
            .stdin(std::process::Stdio::inherit())
            .stderr(std::process::Stdio::inherit())
            .output()
            .map_err(|e| {
                Error::other(format!(
                    "Problem running vault password client script {} ({e}).",
                    f.display()
                ))
            })?;
        if !out.status.success() {
            return Err(Error::other(format!(
                "Vault password client script {} returned non-zero ({}) when getting secret for vault-id={label}",
                f.display(),
                out.status.code().unwrap_or(-1)
            )));
        }
        return Ok(String::from_utf8_lossy(&out.stdout)
            .trim_matches(['\n', '\r'])
            .to_string());
    }
    super::read_vault_password(f)
}

/// `prov vault`: Ansible's `ansible-vault`.
#[derive(ClapArgs, Debug)]
pub(super) struct VaultArgs {
    #[command(subcommand)]
    action: VaultAction,
}

#[derive(ClapArgs, Debug, Clone)]
struct EncryptOpts {
    #[command(flatten)]
    vault: VaultOpts,
    /// The vault id to encrypt with (when several are given).
    #[arg(long = "encrypt-vault-id", value_name = "LABEL")]
    encrypt_vault_id: Option<String>,
}

#[derive(Subcommand, Debug)]
enum VaultAction {
    /// Create a new encrypted file with $EDITOR.
    Create {
        /// The file (must not exist).
        file: PathBuf,
        #[command(flatten)]
        opts: EncryptOpts,
        /// Open the editor even when stdout is not a terminal.
        #[arg(long = "skip-tty-check")]
        skip_tty_check: bool,
    },
    /// Encrypt files in place (or to --output; `-` or no file reads stdin).
    Encrypt {
        /// Files.
        files: Vec<PathBuf>,
        /// Write here instead (`-` for stdout).
        #[arg(long = "output", value_name = "FILE")]
        output: Option<PathBuf>,
        #[command(flatten)]
        opts: EncryptOpts,
    },
    /// Decrypt files in place (or to --output; `-` or no file reads stdin).
    Decrypt {
        /// Files.
        files: Vec<PathBuf>,
        /// Write here instead (`-` for stdout).
        #[arg(long = "output", value_name = "FILE")]
        output: Option<PathBuf>,
        #[command(flatten)]
        vault: VaultOpts,
    },
    /// Show decrypted files.
    View {
        /// Files.
        #[arg(required = true)]
        files: Vec<PathBuf>,
        #[command(flatten)]
        vault: VaultOpts,
    },
    /// Edit an encrypted file with $EDITOR (decrypted into a private temp file, removed
    /// afterwards).
    Edit {
        /// The file.
        file: PathBuf,
        #[command(flatten)]
        opts: EncryptOpts,
    },
    /// Encrypt files again with a new password.
    Rekey {
        /// Files.
        #[arg(required = true)]
        files: Vec<PathBuf>,
        #[command(flatten)]
        vault: VaultOpts,
        /// The new vault id (`label@source`).
        #[arg(long = "new-vault-id", value_name = "ID")]
        new_vault_id: Option<String>,
        /// File with the new password.
        #[arg(long = "new-vault-password-file", value_name = "FILE")]
        new_vault_password_file: Option<PathBuf>,
    },
    /// Encrypt a string for a YAML file (`!vault |`).
    #[command(name = "encrypt_string", visible_alias = "encrypt-string")]
    EncryptString {
        /// Strings (none, or `-`: read stdin).
        strings: Vec<String>,
        /// The variable name for each string (repeatable, in order).
        #[arg(short = 'n', long = "name", value_name = "NAME")]
        name: Vec<String>,
        /// Read the string from stdin, with this variable name.
        #[arg(long = "stdin-name", value_name = "NAME")]
        stdin_name: Option<String>,
        #[command(flatten)]
        opts: EncryptOpts,
    },
}

pub(super) fn vault(a: VaultArgs, cfg: &Config) -> Result<i32> {
    match a.action {
        VaultAction::Create {
            file,
            opts,
            skip_tty_check,
        } => {
            if !skip_tty_check && !std::io::stdout().is_terminal() {
                return Err(Error::options("not a tty, editor cannot be opened")
                    .hint("--skip-tty-check runs the editor anyway"));
            }
            if let Some(dir) = file
                .parent()
                .filter(|d| !d.as_os_str().is_empty() && !d.exists())
            {
                errln!("[WARNING]: {} does not exist, creating...", dir.display());
                std::fs::create_dir_all(dir).map_err(|e| Error::io(dir, e))?;
            }
            if file.exists() {
                return Err(Error::other(format!(
                    "{} exists, please use 'edit' instead",
                    file.display()
                )));
            }
            let secret = encrypt_secret(&opts, cfg)?;
            let text = edit_text(b"", &file)?;
            write_private(&file, encrypt(&text, &secret)?.as_bytes())?;
        }
        VaultAction::Encrypt {
            files,
            output,
            opts,
        } => {
            let secret = encrypt_secret(&opts, cfg)?;
            for (src, data) in inputs(&files)? {
                if vault::is_vaulted(&String::from_utf8_lossy(&data)) {
                    return Err(Error::other("input is already encrypted"));
                }
                let out = encrypt(&data, &secret)?;
                emit(&src, output.as_deref(), out.as_bytes())?;
            }
            success("Encryption successful");
        }
        VaultAction::Decrypt {
            files,
            output,
            vault: v,
        } => {
            let secrets = need(v.secrets(cfg)?)?;
            for (src, data) in inputs(&files)? {
                let plain = decrypt_file(&src, &data, &secrets)?.0;
                emit(&src, output.as_deref(), plain.as_bytes())?;
            }
            success("Decryption successful");
        }
        VaultAction::View { files, vault: v } => {
            let secrets = need(v.secrets(cfg)?)?;
            for f in files {
                let data = std::fs::read(&f).map_err(|e| Error::io(&f, e))?;
                let plain = decrypt_file(&f, &data, &secrets)?.0;
                let mut out = std::io::stdout().lock();
                let _ = out.write_all(plain.as_bytes());
                let _ = out.flush();
            }
        }
        VaultAction::Edit { file, opts } => {
            let secrets = need(opts.vault.secrets(cfg)?)?;
            let data = std::fs::read(&file).map_err(|e| Error::io(&file, e))?;
            let (plain, id) = decrypt_file(&file, &data, &secrets)?;
            // Encrypted again with the id that decrypted it (or the one asked for).
            let want = opts.encrypt_vault_id.clone().unwrap_or(id);
            let secret = pick(&secrets, Some(&want))?;
            let text = edit_text(plain.as_bytes(), &file)?;
            if text != plain.as_bytes() {
                write_private(&file, encrypt(&text, &secret)?.as_bytes())?;
            }
        }
        VaultAction::Rekey {
            files,
            vault: v,
            new_vault_id,
            new_vault_password_file,
        } => {
            let secrets = need(v.secrets(cfg)?)?;
            let new = VaultOpts {
                vault_id: new_vault_id.into_iter().collect(),
                vault_password_file: new_vault_password_file.into_iter().collect(),
                ask_vault_pass: false,
                ..Default::default()
            };
            let new = if new.vault_id.is_empty() && new.vault_password_file.is_empty() {
                let pw = super::prompt_secret("New Vault password: ")?;
                vec![VaultSecret {
                    id: "default".into(),
                    password: Secret::new(pw),
                }]
            } else {
                new.secrets(&Config::default())?
            };
            let secret = pick(&new, None)?;
            for f in files {
                let data = std::fs::read(&f).map_err(|e| Error::io(&f, e))?;
                let plain = decrypt_file(&f, &data, &secrets)?.0;
                write_private(&f, encrypt(plain.as_bytes(), &secret)?.as_bytes())?;
            }
            errln!("Rekey successful");
        }
        VaultAction::EncryptString {
            strings,
            name,
            stdin_name,
            opts,
        } => {
            let secret = encrypt_secret(&opts, cfg)?;
            let mut items: Vec<(Option<String>, Vec<u8>)> = Vec::new();
            if stdin_name.is_some() || strings.is_empty() || strings == ["-"] {
                if std::io::stdin().is_terminal() {
                    errln!(
                        "Reading plaintext input from stdin. (ctrl-d to end input, twice if your content does not already have a newline)"
                    );
                }
                let mut buf = Vec::new();
                std::io::stdin()
                    .read_to_end(&mut buf)
                    .map_err(|e| Error::other(format!("cannot read stdin: {e}")))?;
                if buf.is_empty() {
                    return Err(Error::other("stdin was empty, not encrypting"));
                }
                items.push((stdin_name.or_else(|| name.first().cloned()), buf));
            } else {
                for (i, s) in strings.iter().enumerate() {
                    items.push((name.get(i).cloned(), s.clone().into_bytes()));
                }
            }
            let mut out = String::new();
            for (n, plain) in items {
                let text = encrypt(&plain, &secret)?;
                let body: String = text.lines().map(|l| format!("          {l}\n")).collect();
                match n {
                    Some(n) => out.push_str(&format!("{n}: !vault |\n{body}")),
                    None => out.push_str(&format!("!vault |\n{body}")),
                }
            }
            out!("{out}");
            success("Encryption successful");
        }
    }
    Ok(0)
}

/// Ansible's "... successful" line, on stderr when stdout is a terminal.
fn success(msg: &str) {
    if std::io::stdout().is_terminal() {
        errln!("{msg}");
    }
}

fn need(secrets: Vec<VaultSecret>) -> Result<Vec<VaultSecret>> {
    if secrets.is_empty() {
        return Err(
            Error::options("A vault password is required to use Ansible's Vault")
                .hint("give --vault-id, --vault-password-file or --ask-vault-pass"),
        );
    }
    Ok(secrets)
}

/// The secret to encrypt with: `--encrypt-vault-id` (or `vault_encrypt_identity`), else the
/// only one given.
fn encrypt_secret(opts: &EncryptOpts, cfg: &Config) -> Result<VaultSecret> {
    let mut secrets = opts.vault.secrets(cfg)?;
    if secrets.is_empty() {
        let pw = super::prompt_secret("New Vault password: ")?;
        let again = super::prompt_secret("Confirm New Vault password: ")?;
        if pw != again {
            return Err(Error::other("Passwords do not match"));
        }
        secrets.push(VaultSecret {
            id: "default".into(),
            password: Secret::new(pw),
        });
    }
    let want = opts.encrypt_vault_id.clone().or_else(|| {
        cfg.get(
            "defaults",
            "vault_encrypt_identity",
            "ANSIBLE_VAULT_ENCRYPT_IDENTITY",
        )
    });
    pick(&secrets, want.as_deref())
}

fn pick(secrets: &[VaultSecret], want: Option<&str>) -> Result<VaultSecret> {
    match want {
        Some(w) => secrets.iter().find(|s| s.id == w).cloned().ok_or_else(|| {
            Error::options(format!(
                "Did not find a match for --encrypt-vault-id={w} in the known vault-ids [{}]",
                ids(secrets)
            ))
        }),
        None if secrets.len() == 1 => Ok(secrets[0].clone()),
        None => Err(Error::options(format!(
            "The vault-ids {} are available to encrypt. Specify the vault-id to encrypt with --encrypt-vault-id",
            ids(secrets)
        ))),
    }
}

fn ids(secrets: &[VaultSecret]) -> String {
    secrets
        .iter()
        .map(|s| s.id.as_str())
        .collect::<Vec<_>>()
        .join(",")
}

fn encrypt(plain: &[u8], secret: &VaultSecret) -> Result<String> {
    vault::encrypt(
        plain,
        secret.password.expose().as_bytes(),
        None,
        Some(&secret.id),
    )
}

fn decrypt_file(path: &Path, data: &[u8], secrets: &[VaultSecret]) -> Result<(String, String)> {
    let text = String::from_utf8_lossy(data);
    if !vault::is_vaulted(&text) {
        return Err(Error::other(format!(
            "Input is not vault encrypted data. for {}",
            path.display()
        )));
    }
    vault::decrypt_with(&text, secrets)
        .map(|(p, id)| (p, id.to_string()))
        .map_err(|e| Error::other(format!("{}. for {}", e.msg, path.display())))
}

/// The inputs: each file's bytes, or stdin for none or `-`.
fn inputs(files: &[PathBuf]) -> Result<Vec<(PathBuf, Vec<u8>)>> {
    if files.is_empty() || files.iter().any(|f| f.as_os_str() == "-") {
        let mut buf = Vec::new();
        std::io::stdin()
            .read_to_end(&mut buf)
            .map_err(|e| Error::other(format!("cannot read stdin: {e}")))?;
        return Ok(vec![(PathBuf::from("-"), buf)]);
    }
    files
        .iter()
        .map(|f| Ok((f.clone(), std::fs::read(f).map_err(|e| Error::io(f, e))?)))
        .collect()
}

/// Writes a result: to `--output` (`-`: stdout), else over the input file (stdin's to stdout).
fn emit(src: &Path, output: Option<&Path>, data: &[u8]) -> Result<()> {
    let dest = output.unwrap_or(src);
    if dest.as_os_str() == "-" {
        let mut out = std::io::stdout().lock();
        let _ = out.write_all(data);
        let _ = out.flush();
        return Ok(());
    }
    write_private(dest, data)
}

/// Writes `data` to `path` whole or not at all: a temp file beside it, given the file's mode
/// (0600 for a new one), then renamed over it.
fn write_private(path: &Path, data: &[u8]) -> Result<()> {
    use std::os::unix::fs::PermissionsExt as _;
    let mode = std::fs::metadata(path)
        .map(|m| m.permissions().mode() & 0o7777)
        .unwrap_or(0o600);
    crate::util::replace_file(path, data, Some(mode)).map_err(|e| Error::io(path, e))
}

/// Lets the user edit `text` with `$EDITOR` (default `vi`) in a private temp folder (0700,
/// the file 0600), removed afterwards whatever happens; returns the edited text.
fn edit_text(text: &[u8], for_file: &Path) -> Result<Vec<u8>> {
    use std::os::unix::fs::OpenOptionsExt as _;
    let base = std::env::temp_dir();
    let private = crate::util::PrivateTempDir::new_in(&base, "prov-vault-")
        .map_err(|e| Error::io(&base, e))?;
    let dir = private.0.clone();
    /// Overwrites the plaintext before the folder goes (dropped before `private`).
    struct Cleanup(PathBuf);
    impl Drop for Cleanup {
        fn drop(&mut self) {
            if let Ok(rd) = std::fs::read_dir(&self.0) {
                for e in rd.flatten() {
                    if let Ok(m) = e.metadata() {
                        let _ = std::fs::write(e.path(), vec![0u8; m.len() as usize]);
                    }
                }
            }
        }
    }
    let _cleanup = Cleanup(dir.clone());
    let ext = for_file
        .extension()
        .map(|e| format!(".{}", e.to_string_lossy()))
        .unwrap_or_default();
    let tmp = dir.join(format!("edit{ext}"));
    {
        let mut f = std::fs::OpenOptions::new()
            .write(true)
            .create_new(true)
            .mode(0o600)
            .open(&tmp)
            .map_err(|e| Error::io(&tmp, e))?;
        f.write_all(text).map_err(|e| Error::io(&tmp, e))?;
    }
    let editor = std::env::var("EDITOR")
        .ok()
        .filter(|e| !e.trim().is_empty())
        .unwrap_or_else(|| "vi".into());
    // As Ansible: the editor variable is split into words (it may hold arguments).
    let mut words = shell_words(&editor);
    let prog = words.remove(0);
    let status = std::process::Command::new(&prog)
        .args(&words)
        .arg(&tmp)
        .status()
        .map_err(|e| Error::other(format!("cannot run the editor '{prog}': {e}")))?;
    if !status.success() {
        return Err(Error::other(format!(
            "the editor '{prog}' failed ({status}); {} was not changed",
            for_file.display()
        )));
    }
    std::fs::read(&tmp).map_err(|e| Error::io(&tmp, e))
}

fn shell_words(s: &str) -> Vec<String> {
    let w: Vec<String> = s.split_whitespace().map(String::from).collect();
    if w.is_empty() { vec!["vi".into()] } else { w }
}
