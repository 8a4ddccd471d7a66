//! Hashes and secrets: `hash`, `sha1`, `md5`, `checksum`, `to_uuid`, `password_hash`
//! (SHA-crypt), `vault`/`unvault` (ansible-vault text), and random bytes for salts.

use super::python::py_str;
use super::{Args, R, ferr};
use crate::value::Value;
use minijinja::value::Rest;
use sha2::Digest;

/// Registers this file's filters.
pub(super) fn register(env: &mut super::Reg) {
    env.add_filter("hash", hash);
    env.add_filter("sha1", |v: Value| {
        Value::from(hexdigest("sha1", py_str(&v).as_bytes()))
    });
    env.add_filter("md5", |v: Value| {
        Value::from(hexdigest("md5", py_str(&v).as_bytes()))
    });
    env.add_filter("checksum", |v: Value| {
        Value::from(hexdigest("sha1", py_str(&v).as_bytes()))
    });
    env.add_filter("to_uuid", to_uuid);
    env.add_filter("password_hash", password_hash);
    env.raw().add_filter("vault", vault);
    env.raw().add_filter("unvault", unvault);
}

/// Hex digest of `data` with `algo` (md5, sha1, sha224, sha256, sha384, sha512).
pub fn hexdigest(algo: &str, data: &[u8]) -> Option<String> {
    use sha2::Digest;
    Some(match algo {
        "md5" => hex::encode(md5::Md5::digest(data)),
        "sha1" => hex::encode(sha1::Sha1::digest(data)),
        "sha224" => hex::encode(sha2::Sha224::digest(data)),
        "sha256" => hex::encode(sha2::Sha256::digest(data)),
        "sha384" => hex::encode(sha2::Sha384::digest(data)),
        "sha512" => hex::encode(sha2::Sha512::digest(data)),
        _ => return None,
    })
}

fn hash(v: Value, args: Rest<Value>) -> R {
    let a = Args::bind("hash", &["hashtype"], &args)?;
    let algo = a.str_or("hashtype", "sha1");
    hexdigest(&algo, py_str(&v).as_bytes())
        .map(Value::from)
        .ok_or_else(|| ferr("hash", format!("unsupported hash type '{algo}' (use md5, sha1, sha224, sha256, sha384 or sha512)")))
}

fn to_uuid(v: Value, args: Rest<Value>) -> R {
    use sha1::Digest;
    let a = Args::bind("to_uuid", &["namespace"], &args)?;
    let ns = a.str_or("namespace", "361E6D51-FAEC-444A-9079-341386DA8E2E");
    let ns_bytes = hex::decode(ns.replace('-', ""))
        .ok()
        .filter(|b| b.len() == 16)
        .ok_or_else(|| {
            ferr(
                "to_uuid",
                format!(
                    "Invalid value '{ns}' for 'namespace': badly formed hexadecimal UUID string"
                ),
            )
        })?;
    let mut h = sha1::Sha1::new();
    h.update(&ns_bytes);
    h.update(py_str(&v).as_bytes());
    let d = h.finalize();
    let mut b = [0u8; 16];
    b.copy_from_slice(&d[..16]);
    b[6] = (b[6] & 0x0f) | 0x50;
    b[8] = (b[8] & 0x3f) | 0x80;
    let x = hex::encode(b);
    Ok(Value::from(format!(
        "{}-{}-{}-{}-{}",
        &x[..8],
        &x[8..12],
        &x[12..16],
        &x[16..20],
        &x[20..]
    )))
}

const ITOA64: &[u8] = b"./0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz";

/// SHA-crypt (Ulrich Drepper's specification, `$5$`/`$6$` in /etc/shadow): the raw digest.
fn sha_crypt_raw<D: Digest + Clone>(pw: &[u8], salt: &[u8], rounds: u32) -> Vec<u8> {
    let n = <D as Digest>::output_size();
    let b = D::new()
        .chain_update(pw)
        .chain_update(salt)
        .chain_update(pw)
        .finalize()
        .to_vec();
    let mut a = D::new().chain_update(pw).chain_update(salt);
    let mut cnt = pw.len();
    while cnt > n {
        a.update(&b);
        cnt -= n;
    }
    a.update(&b[..cnt]);
    let mut cnt = pw.len();
    while cnt > 0 {
        if cnt & 1 == 1 {
            a.update(&b);
        } else {
            a.update(pw);
        }
        cnt >>= 1;
    }
    let a = a.finalize().to_vec();
    let mut dp = D::new();
    for _ in 0..pw.len() {
        dp.update(pw);
    }
    let dp = dp.finalize().to_vec();
    let p: Vec<u8> = dp.iter().cycle().take(pw.len()).copied().collect();
    let mut ds = D::new();
    for _ in 0..(16 + a[0] as usize) {
        ds.update(salt);
    }
    let ds = ds.finalize().to_vec();
    let s: Vec<u8> = ds.iter().cycle().take(salt.len()).copied().collect();
    let mut c = a;
    for i in 0..rounds {
        let mut h = D::new();
        if i & 1 == 1 {
            h.update(&p);
        } else {
            h.update(&c);
        }
        if i % 3 != 0 {
            h.update(&s);
        }
        if i % 7 != 0 {
            h.update(&p);
        }
        if i & 1 == 1 {
            h.update(&c);
        } else {
            h.update(&p);
        }
        c = h.finalize().to_vec();
    }
    c
}

fn b64_24(out: &mut String, b2: u8, b1: u8, b0: u8, n: usize) {
    let mut w = (u32::from(b2) << 16) | (u32::from(b1) << 8) | u32::from(b0);
    for _ in 0..n {
        out.push(ITOA64[(w & 0x3f) as usize] as char);
        w >>= 6;
    }
}

/// `$6$[rounds=N$]salt$hash` (sha512) or `$5$...` (sha256), as crypt(3) writes them.
pub fn sha_crypt(pw: &str, salt: &str, rounds: Option<u32>, sha512: bool) -> String {
    let salt: String = salt.chars().take(16).collect();
    let r = rounds.unwrap_or(5000).clamp(1000, 999_999_999);
    let mut out = String::new();
    let c = if sha512 {
        let c = sha_crypt_raw::<sha2::Sha512>(pw.as_bytes(), salt.as_bytes(), r);
        const T: [(usize, usize, usize); 21] = [
            (0, 21, 42),
            (22, 43, 1),
            (44, 2, 23),
            (3, 24, 45),
            (25, 46, 4),
            (47, 5, 26),
            (6, 27, 48),
            (28, 49, 7),
            (50, 8, 29),
            (9, 30, 51),
            (31, 52, 10),
            (53, 11, 32),
            (12, 33, 54),
            (34, 55, 13),
            (56, 14, 35),
            (15, 36, 57),
            (37, 58, 16),
            (59, 17, 38),
            (18, 39, 60),
            (40, 61, 19),
            (62, 20, 41),
        ];
        for (a, b, d) in T {
            b64_24(&mut out, c[a], c[b], c[d], 4);
        }
        b64_24(&mut out, 0, 0, c[63], 2);
        out
    } else {
        let c = sha_crypt_raw::<sha2::Sha256>(pw.as_bytes(), salt.as_bytes(), r);
        const T: [(usize, usize, usize); 10] = [
            (0, 10, 20),
            (21, 1, 11),
            (12, 22, 2),
            (3, 13, 23),
            (24, 4, 14),
            (15, 25, 5),
            (6, 16, 26),
            (27, 7, 17),
            (18, 28, 8),
            (9, 19, 29),
        ];
        for (a, b, d) in T {
            b64_24(&mut out, c[a], c[b], c[d], 4);
        }
        b64_24(&mut out, 0, c[31], c[30], 3);
        out
    };
    let id = if sha512 { 6 } else { 5 };
    match rounds {
        Some(_) => format!("${id}$rounds={r}${salt}${c}"),
        None => format!("${id}${salt}${c}"),
    }
}

pub(super) fn urandom(n: usize) -> R<Vec<u8>> {
    crate::util::random_bytes(n)
        .map_err(|e| ferr("random", format!("cannot read /dev/urandom: {e}")))
}

/// A string argument of `vault`/`unvault` (Ansible raises a TypeError for other types).
fn vault_str(name: &str, what: &str, v: &Value) -> R<String> {
    match v.as_str() {
        Some(s) => Ok(s.to_string()),
        None => Err(ferr(
            name,
            format!("{what} must be a string, not {}", super::type_name(v)),
        )),
    }
}

/// The vault id of `vault`/`unvault`: `vault_id`, or the older `vaultid` when `vault_id` was
/// not given.
fn vault_id(a: &Args) -> String {
    let id = a.str_or("vault_id", "filter_default");
    match a.get("vaultid").filter(|v| !v.is_none()) {
        Some(old) if id == "filter_default" => py_str(old),
        _ => id,
    }
}

/// `vault(secret, salt=None, vault_id='filter_default', wrap_object=False)`: ansible-vault
/// text of a string; `wrap_object` gives an encrypted value (as `!vault` gives) instead.
fn vault(v: Value, args: Rest<Value>) -> R {
    let a = Args::bind(
        "vault",
        &["secret", "salt", "vault_id", "wrap_object", "vaultid"],
        &args,
    )?;
    let secret = vault_str("vault", "the secret", a.req("secret")?)?;
    let data = vault_str("vault", "the data to vault", &v)?;
    let salt = a.get("salt").filter(|s| !s.is_none()).map(py_str);
    let id = vault_id(&a);
    let text = crate::template::vault::encrypt(
        data.as_bytes(),
        secret.as_bytes(),
        salt.as_deref().map(str::as_bytes),
        Some(&id),
    )
    .map_err(|e| ferr("vault", &e.msg))?;
    if a.bool_or("wrap_object", false) {
        return Ok(Value::from_object(crate::value::VaultText::new(text)));
    }
    Ok(Value::from(text))
}

/// `unvault(secret, vault_id='filter_default')`: the plaintext of ansible-vault text (or of an
/// encrypted value); other strings are returned as they are.
fn unvault(v: Value, args: Rest<Value>) -> R {
    let a = Args::bind("unvault", &["secret", "vault_id", "vaultid"], &args)?;
    let secret = vault_str("unvault", "the secret", a.req("secret")?)?;
    let _ = vault_id(&a);
    let text = match v.downcast_object_ref::<crate::value::VaultText>() {
        Some(vt) => vt.ciphertext.clone(),
        None => vault_str("unvault", "the vault", &v)?,
    };
    if !text.trim_start().starts_with("$ANSIBLE_VAULT;") {
        return Ok(Value::from(text));
    }
    crate::template::vault::decrypt(&text, &secret)
        .map(Value::from)
        .map_err(|e| ferr("unvault", format!("unable to decrypt: {}", e.msg)))
}

fn password_hash(v: Value, args: Rest<Value>) -> R {
    let a = Args::bind(
        "password_hash",
        &["hashtype", "salt", "salt_size", "rounds", "ident"],
        &args,
    )?;
    let kind = a.str_or("hashtype", "sha512");
    let sha512 = match kind.as_str() {
        "sha512" | "sha512_crypt" => true,
        "sha256" | "sha256_crypt" => false,
        other @ ("md5" | "md5_crypt" | "blowfish" | "bcrypt") => {
            return Err(ferr(
                "password_hash",
                format!("hash type '{other}' is not supported (use sha512 or sha256)"),
            ));
        }
        // Ansible's message for a name passlib does not know.
        other => {
            return Err(ferr(
                "password_hash",
                format!(
                    "{other} is not in the list of supported passlib algorithms: md5, \
                     blowfish, sha256, sha512"
                ),
            ));
        }
    };
    let salt = match a.get("salt").filter(|s| !s.is_none()) {
        Some(s) => {
            let s = py_str(s);
            if s.is_empty()
                || s.chars()
                    .any(|c| !ITOA64.contains(&(c as u8)) || !c.is_ascii())
            {
                return Err(ferr(
                    "password_hash",
                    "the salt may only use the characters ./0-9A-Za-z",
                ));
            }
            s
        }
        None => {
            let size = match a.get("salt_size").filter(|s| !s.is_none()) {
                Some(n) if n.kind() == minijinja::value::ValueKind::Number => {
                    a.int_or("salt_size", 16)?
                }
                Some(_) => return Err(ferr("password_hash", "salt_size must be an integer")),
                None => 16,
            }
            .clamp(1, 16) as usize;
            urandom(size)?
                .into_iter()
                .map(|b| ITOA64[(b & 0x3f) as usize] as char)
                .collect()
        }
    };
    let rounds = match a.get("rounds").filter(|r| !r.is_none()) {
        // passlib refuses rounds outside sha-crypt's range; Ansible reports it so.
        Some(_) => match a.int_or("rounds", 5000)? {
            r @ 1000..=999_999_999 => Some(r as u32),
            _ => return Err(ferr("password_hash", "Could not hash the secret.")),
        },
        None => None,
    };
    Ok(Value::from(sha_crypt(&py_str(&v), &salt, rounds, sha512)))
}
#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sha_crypt_matches_glibc_crypt() {
        // Expected values from glibc's crypt(3) (Python's crypt module on Debian 12).
        assert_eq!(
            sha_crypt("Hello world!", "saltstring", None, true),
            "$6$saltstring$svn8UoSVapNtMuq1ukKS4tPQd8iKwSMHWjl/O817G3uBnIFNjnQJuesI68u4OTLiBFdcbYEdFCoEOfaS35inz1"
        );
        assert_eq!(
            sha_crypt("Hello world!", "saltstring", None, false),
            "$5$saltstring$5B8vYYiY.CVt1RlTTf8KbXBH3hsxY/GNooZaBBGWEc5"
        );
        assert_eq!(
            sha_crypt("Hello world!", "saltstringsaltstring", Some(10000), true),
            "$6$rounds=10000$saltstringsaltst$OW1/O6BYHV6BcXZu8QVeXbDWra3Oeqh0sbHbbMCVNSnCM/UrjmM0Dp8vOuZeHBy/YTBmSK6H9qs/y3RnOaw5v."
        );
        assert_eq!(
            sha_crypt("secret", "saltsalt", None, true),
            "$6$saltsalt$TVLlQcbpFVof5W3Yz4DTP6gRstiNuHwwTt6GLc1E5n0U0aDehy0S5knV8wiOQSpT0Y77vwPZN.Pq.H91p5hVO1"
        );
    }
}
