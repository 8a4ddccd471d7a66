//! Text encodings by Python's codec names, for the options that take one (template's
//! `output_encoding`, replace's and find's `encoding`): UTF-8, UTF-16 (with BOM, -le, -be),
//! Latin-1, Windows-1252 and ASCII, without an encoding library.

use crate::error::{Error, Result};

/// What Windows-1252 puts at bytes 0x80-0x9F (`\\0`: undefined); elsewhere it is Latin-1.
const CP1252_HIGH: [char; 32] = [
    '\u{20ac}', '\0', '\u{201a}', '\u{0192}', '\u{201e}', '\u{2026}', '\u{2020}', '\u{2021}',
    '\u{02c6}', '\u{2030}', '\u{0160}', '\u{2039}', '\u{0152}', '\0', '\u{017d}', '\0', '\0',
    '\u{2018}', '\u{2019}', '\u{201c}', '\u{201d}', '\u{2022}', '\u{2013}', '\u{2014}', '\u{02dc}',
    '\u{2122}', '\u{0161}', '\u{203a}', '\u{0153}', '\0', '\u{017e}', '\u{0178}',
];

/// Encodes rendered text in `encoding` (Python's codec names for the encodings prov knows; an
/// empty name is UTF-8).
pub fn encode(text: &str, encoding: &str) -> Result<Vec<u8>> {
    let name = encoding.to_ascii_lowercase().replace('_', "-");
    let cant = |c: char| {
        Error::failed(format!(
            "'{encoding}' codec can't encode character '{}'",
            c.escape_unicode()
        ))
    };
    let narrow = |max: u32| -> Result<Vec<u8>> {
        text.chars()
            .map(|c| {
                u8::try_from(c as u32)
                    .ok()
                    .filter(|b| u32::from(*b) <= max)
                    .ok_or_else(|| cant(c))
            })
            .collect()
    };
    let cp1252 = || -> Result<Vec<u8>> {
        text.chars()
            .map(|c| match c as u32 {
                n @ (0..=0x7f | 0xa0..=0xff) => Ok(n as u8),
                _ => CP1252_HIGH
                    .iter()
                    .position(|h| *h == c && c != '\0')
                    .map(|i| 0x80 + i as u8)
                    .ok_or_else(|| cant(c)),
            })
            .collect()
    };
    let wide = |le: bool, bom: bool| {
        let mut out: Vec<u8> = Vec::new();
        if bom {
            out.extend_from_slice(&[0xff, 0xfe]);
        }
        for u in text.encode_utf16() {
            out.extend_from_slice(&if le { u.to_le_bytes() } else { u.to_be_bytes() });
        }
        out
    };
    match name.as_str() {
        "" | "utf-8" | "utf8" | "u8" => Ok(text.as_bytes().to_vec()),
        "windows-1252" | "cp1252" => cp1252(),
        "utf-16" | "utf16" => Ok(wide(true, true)),
        "utf-16-le" | "utf-16le" => Ok(wide(true, false)),
        "utf-16-be" | "utf-16be" => Ok(wide(false, false)),
        "latin-1" | "latin1" | "iso-8859-1" | "iso8859-1" | "l1" => narrow(0xff),
        "ascii" | "us-ascii" => narrow(0x7f),
        _ => Err(Error::failed(format!("unknown encoding: {encoding}"))
            .hint("use utf-8, utf-16, utf-16-le, utf-16-be, latin-1, windows-1252 or ascii")),
    }
}

/// Decodes `data` from `encoding` (see [`encode`] for the names).
pub fn decode(data: &[u8], encoding: &str) -> Result<String> {
    let name = encoding.to_ascii_lowercase().replace('_', "-");
    let bad = || Error::failed(format!("'{encoding}' codec can't decode the data"));
    let wide = |le: bool, d: &[u8]| -> Result<String> {
        if !d.len().is_multiple_of(2) {
            return Err(bad());
        }
        let units: Vec<u16> = d
            .chunks(2)
            .map(|c| {
                if le {
                    u16::from_le_bytes([c[0], c[1]])
                } else {
                    u16::from_be_bytes([c[0], c[1]])
                }
            })
            .collect();
        String::from_utf16(&units).map_err(|_| bad())
    };
    match name.as_str() {
        "" | "utf-8" | "utf8" | "u8" => String::from_utf8(data.to_vec()).map_err(|_| bad()),
        "utf-16" | "utf16" => match data {
            [0xff, 0xfe, rest @ ..] => wide(true, rest),
            [0xfe, 0xff, rest @ ..] => wide(false, rest),
            _ => wide(true, data),
        },
        "utf-16-le" | "utf-16le" => wide(true, data),
        "utf-16-be" | "utf-16be" => wide(false, data),
        "latin-1" | "latin1" | "iso-8859-1" | "iso8859-1" | "l1" => {
            Ok(data.iter().map(|b| char::from(*b)).collect())
        }
        "windows-1252" | "cp1252" => data
            .iter()
            .map(|b| match b {
                0x80..=0x9f => Some(CP1252_HIGH[(b - 0x80) as usize]).filter(|c| *c != '\0'),
                _ => Some(char::from(*b)),
            })
            .collect::<Option<String>>()
            .ok_or_else(bad),
        "ascii" | "us-ascii" => {
            if data.is_ascii() {
                Ok(String::from_utf8_lossy(data).into_owned())
            } else {
                Err(bad())
            }
        }
        _ => Err(Error::failed(format!("unknown encoding: {encoding}"))),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn output_encodings() {
        assert_eq!(encode("é", "utf-8").unwrap(), "é".as_bytes());
        assert_eq!(encode("é", "ISO-8859-1").unwrap(), vec![0xe9]);
        assert_eq!(encode("aé", "utf-16-le").unwrap(), vec![b'a', 0, 0xe9, 0]);
        assert_eq!(encode("a", "utf-16").unwrap(), vec![0xff, 0xfe, b'a', 0]);
        assert!(encode("é", "ascii").is_err());
        assert_eq!(encode("€é", "windows-1252").unwrap(), vec![0x80, 0xe9]);
        assert_eq!(encode("x", "").unwrap(), b"x");
        assert!(encode("x", "klingon").is_err());
    }

    #[test]
    fn decodes_what_it_encodes() {
        for e in ["utf-8", "utf-16", "utf-16-be", "latin-1", "cp1252"] {
            let text = "café €";
            let text = if e == "latin-1" { "café" } else { text };
            assert_eq!(decode(&encode(text, e).unwrap(), e).unwrap(), text, "{e}");
        }
        assert!(decode(&[0x81], "cp1252").is_err());
        assert!(decode(&[0xe9], "utf-8").is_err());
    }
}
