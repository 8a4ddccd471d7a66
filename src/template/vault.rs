//! ansible-vault decryption (format 1.1 and 1.2, AES256): PBKDF2-HMAC-SHA256 with 10000
//! iterations derives an AES-256-CTR key, an HMAC-SHA256 key and the counter block; the HMAC
//! over the ciphertext is verified (in constant time) before decrypting. [`encrypt`] writes the
//! same format (the `vault` filter).

use crate::error::{Error, Result};
use aes::cipher::{KeyIvInit, StreamCipher};
use hmac::{Hmac, Mac};
use sha2::Sha256;

type Aes256Ctr = ctr::Ctr128BE<aes::Aes256>;

/// The AES key, HMAC key and counter block derived from a password and a salt: PBKDF2 with
/// 10000 rounds, done once per password and salt in a process (a file decrypted for every
/// host, a value read again) and then remembered (ansible/ansible#81994: runs spending most
/// of their time deriving the same keys again).
fn derive(password: &[u8], salt: &[u8]) -> [u8; 80] {
    use sha2::Digest as _;
    type Cache = std::collections::HashMap<[u8; 32], [u8; 80]>;
    static CACHE: std::sync::OnceLock<std::sync::Mutex<Cache>> = std::sync::OnceLock::new();
    // keyed by a hash of both (the password itself is not kept as a key)
    let mut h = Sha256::new();
    h.update((password.len() as u64).to_be_bytes());
    h.update(password);
    h.update(salt);
    let id: [u8; 32] = h.finalize().into();
    let cache = CACHE.get_or_init(Default::default);
    if let Some(k) = cache.lock().unwrap_or_else(|e| e.into_inner()).get(&id) {
        return *k;
    }
    let mut key = [0u8; 80];
    pbkdf2::pbkdf2_hmac::<Sha256>(password, salt, 10000, &mut key);
    let mut c = cache.lock().unwrap_or_else(|e| e.into_inner());
    if c.len() >= 65536 {
        c.clear();
    }
    c.insert(id, key);
    key
}

/// A vault secret: the vault id's label (`default` without one) and its password.
#[derive(Clone)]
pub struct VaultSecret {
    /// The vault id (label).
    pub id: String,
    /// The password.
    pub password: crate::connection::Secret,
}

impl std::fmt::Debug for VaultSecret {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "VaultSecret({}, ***)", self.id)
    }
}

/// The vault id a 1.2 header names (`$ANSIBLE_VAULT;1.2;AES256;prod`), if any.
pub fn vault_id_of(text: &str) -> Option<&str> {
    let header = text.trim_start().lines().next()?;
    let f: Vec<&str> = header.trim().split(';').collect();
    (f.len() >= 4 && f[0] == "$ANSIBLE_VAULT").then(|| f[3].trim())
}

/// A file's text, decrypted first when it is vault-encrypted (as ansible-core's loader reads
/// files): without secrets, ansible-core's "no vault secrets found" naming the file.
pub fn file_text(text: String, path: &std::path::Path, secrets: &[VaultSecret]) -> Result<String> {
    if !is_vaulted(&text) {
        return Ok(text);
    }
    let at = crate::error::Location::file_only(path);
    if secrets.is_empty() {
        return Err(Error::parse(format!(
            "Attempting to decrypt but no vault secrets found (in {})",
            path.display()
        ))
        .at(&at)
        .hint("pass --vault-password-file FILE, --vault-id or --ask-vault-pass"));
    }
    decrypt_with(text.trim(), secrets)
        .map(|p| p.0)
        .map_err(|e| {
            Error::parse(format!("cannot decrypt {}: {}", path.display(), e.msg))
                .at(&at)
                .hint(
                    e.hint
                        .clone()
                        .unwrap_or_else(|| "check the vault password".into()),
                )
        })
}

/// Whether `text` is vault ciphertext (its first line is an `$ANSIBLE_VAULT` header).
pub fn is_vaulted(text: &str) -> bool {
    text.trim_start().starts_with("$ANSIBLE_VAULT;")
}

/// Decrypts with the first of `secrets` that can, as Ansible tries them: those whose id is
/// the one the text names first, then the others. Returns the plaintext and the id that
/// decrypted it.
pub fn decrypt_with<'a>(text: &str, secrets: &'a [VaultSecret]) -> Result<(String, &'a str)> {
    if secrets.is_empty() {
        return Err(
            Error::template("Attempting to decrypt but no vault secrets found")
                .hint("give --vault-id, --vault-password-file or --ask-vault-pass"),
        );
    }
    let named = vault_id_of(text);
    let mut order: Vec<&VaultSecret> = secrets
        .iter()
        .filter(|s| Some(s.id.as_str()) == named)
        .collect();
    order.extend(secrets.iter().filter(|s| Some(s.id.as_str()) != named));
    let mut last = None;
    for s in order {
        match decrypt(text, s.password.expose()) {
            Ok(p) => return Ok((p, s.id.as_str())),
            Err(e) if e.msg.starts_with("vault decryption failed") => last = Some(e),
            Err(e) => return Err(e),
        }
    }
    Err(last.map_or_else(
        || Error::template("Decryption failed"),
        |_| {
            Error::template("Decryption failed (no vault secrets were found that could decrypt)")
                .hint("check the vault password (or the --vault-id that encrypted it)")
        },
    ))
}

/// Encrypts `plain` with `password` as ansible-vault does: format 1.1, or 1.2 naming `vault_id`
/// (unless it is empty or `default`); a random 32-byte salt unless `salt` is given. The text
/// ends with a newline, its body in lines of 80 characters.
pub fn encrypt(
    plain: &[u8],
    password: &[u8],
    salt: Option<&[u8]>,
    vault_id: Option<&str>,
) -> Result<String> {
    let salt = match salt {
        Some([]) => {
            return Err(Error::template("vault: an empty salt cannot be used"));
        }
        Some(s) => s.to_vec(),
        None => crate::util::random_bytes(32)
            .map_err(|e| Error::template(format!("vault: cannot read /dev/urandom: {e}")))?,
    };
    let key = derive(password, &salt);
    let (k1, rest) = key.split_at(32);
    let (k2, iv) = rest.split_at(32);
    let pad = 16 - plain.len() % 16;
    let mut data = plain.to_vec();
    data.extend(std::iter::repeat_n(pad as u8, pad));
    let mut cipher = Aes256Ctr::new(k1.into(), iv.into());
    cipher.apply_keystream(&mut data);
    let mut h = <Hmac<Sha256> as Mac>::new_from_slice(k2)
        .map_err(|_| Error::template("vault: bad HMAC key"))?;
    h.update(&data);
    let mac = h.finalize().into_bytes();
    let body = format!(
        "{}\n{}\n{}",
        hex::encode(&salt),
        hex::encode(mac),
        hex::encode(&data)
    );
    let body = hex::encode(body.as_bytes());
    let mut out = match vault_id {
        Some(id) if !id.is_empty() && id != "default" => format!("$ANSIBLE_VAULT;1.2;AES256;{id}"),
        _ => "$ANSIBLE_VAULT;1.1;AES256".to_string(),
    };
    for chunk in body.as_bytes().chunks(80) {
        out.push('\n');
        out.push_str(std::str::from_utf8(chunk).unwrap_or_default());
    }
    out.push('\n');
    Ok(out)
}

/// Decrypts `$ANSIBLE_VAULT;1.1;AES256` (or 1.2 with a vault id) text with `password`.
pub fn decrypt(text: &str, password: &str) -> Result<String> {
    let bad = |m: &str| {
        Error::template(format!("not valid ansible-vault data: {m}"))
            .hint("the value must be the output of `ansible-vault encrypt_string`")
    };
    let text = text.trim();
    let mut lines = text.lines();
    let header = lines.next().unwrap_or("").trim();
    let fields: Vec<&str> = header.split(';').map(str::trim).collect();
    if fields.len() < 3 || fields[0] != "$ANSIBLE_VAULT" {
        return Err(bad("missing the $ANSIBLE_VAULT header"));
    }
    if fields[1] != "1.1" && fields[1] != "1.2" {
        return Err(bad(&format!(
            "unsupported vault format version {}",
            fields[1]
        )));
    }
    if fields[2] != "AES256" {
        return Err(bad(&format!("unsupported cipher {}", fields[2])));
    }
    let body: String = lines.flat_map(|l| l.trim().chars()).collect();
    let body = hex::decode(body.as_bytes()).map_err(|_| bad("the body is not hexadecimal"))?;
    let body = String::from_utf8(body).map_err(|_| bad("the body is not text"))?;
    let mut parts = body.split('\n');
    let (Some(salt), Some(mac), Some(data)) = (parts.next(), parts.next(), parts.next()) else {
        return Err(bad("the body must have salt, HMAC and ciphertext"));
    };
    let salt = hex::decode(salt.trim()).map_err(|_| bad("bad salt"))?;
    let mac = hex::decode(mac.trim()).map_err(|_| bad("bad HMAC"))?;
    let mut data = hex::decode(data.trim()).map_err(|_| bad("bad ciphertext"))?;

    let key = derive(password.trim_end_matches(['\n', '\r']).as_bytes(), &salt);
    let (k1, rest) = key.split_at(32);
    let (k2, iv) = rest.split_at(32);

    let mut h = <Hmac<Sha256> as Mac>::new_from_slice(k2).map_err(|_| bad("bad HMAC key"))?;
    h.update(&data);
    h.verify_slice(&mac).map_err(|_| {
        Error::template("vault decryption failed: wrong vault password (HMAC mismatch)")
            .hint("check the vault password file")
    })?;

    let mut cipher = Aes256Ctr::new(k1.into(), iv.into());
    cipher.apply_keystream(&mut data);
    // PKCS#7 padding.
    let pad = *data.last().ok_or_else(|| bad("empty ciphertext"))? as usize;
    if pad == 0
        || pad > 16
        || pad > data.len()
        || !data[data.len() - pad..].iter().all(|&b| b as usize == pad)
    {
        return Err(bad("bad padding"));
    }
    data.truncate(data.len() - pad);
    String::from_utf8(data).map_err(|_| bad("the plaintext is not UTF-8 text"))
}

#[cfg(test)]
mod unit {
    use super::*;

    #[test]
    fn encrypts_like_ansible_vault_with_a_given_salt() {
        // `'secret' | vault('test', salt=7)` in ansible-core 2.19.
        let want = "$ANSIBLE_VAULT;1.2;AES256;filter_default\n\
            33370a34333734353636633035656232613935353432656132646533346233326431346232616261\n\
            6133383034376566366261316365633931356133633337396363370a376664386236313834326561\n\
            6338373864623763613165366636633031303739\n";
        let got = encrypt(b"secret", b"test", Some(b"7"), Some("filter_default")).unwrap();
        assert_eq!(got, want);
        assert_eq!(decrypt(&got, "test").unwrap(), "secret");
        let random = encrypt(b"a: b\n", b"pw", None, None).unwrap();
        assert!(random.starts_with("$ANSIBLE_VAULT;1.1;AES256\n"));
        assert_eq!(decrypt(&random, "pw").unwrap(), "a: b\n");
        assert!(encrypt(b"x", b"pw", Some(b""), None).is_err());
    }
}
