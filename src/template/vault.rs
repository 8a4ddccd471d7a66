//! ansible-vault decryption (format 1.1 and 1.2, AES256): PBKDF2-HMAC-SHA256 with 10000
//! iterations derives an AES-256-CTR key, an HMAC-SHA256 key and the counter block; the HMAC
//! over the ciphertext is verified (in constant time) before decrypting.

use crate::error::{Error, Result};
use aes::cipher::{KeyIvInit, StreamCipher};
use hmac::{Hmac, Mac};
use sha2::Sha256;

type Aes256Ctr = ctr::Ctr128BE<aes::Aes256>;

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

    let mut key = [0u8; 80];
    pbkdf2::pbkdf2_hmac::<Sha256>(
        password.trim_end_matches(['\n', '\r']).as_bytes(),
        &salt,
        10000,
        &mut key,
    );
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
