//! Python's `re.sub` replacement templates: `\1`, `\12`, `\g<1>`, `\g<name>`, the escapes
//! `\n \t \r \f \v \a \b \\`, octal `\0`, `\012`, `\101`; an unknown escape of an ASCII letter is
//! an error, any other unknown escape stays as it is (`\.` is backslash-dot). Group references
//! are checked when the template is read, before anything matches, as Python does.

use super::translate::is_identifier;

/// One part of a parsed template.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) enum Piece {
    Text(String),
    Group(usize),
}

/// Parses `template` for a pattern with `groups` groups and the named groups `names`.
pub(super) fn parse(
    template: &str,
    groups: usize,
    names: &[(String, usize)],
) -> Result<Vec<Piece>, String> {
    let chars: Vec<char> = template.chars().collect();
    let mut out: Vec<Piece> = Vec::new();
    let mut text = String::new();
    let mut i = 0;
    let group = |n: usize, at: usize| -> Result<usize, String> {
        if n > groups {
            Err(format!("invalid group reference {n} at position {at}"))
        } else {
            Ok(n)
        }
    };
    let octal = |c: Option<&char>| matches!(c, Some('0'..='7'));
    while i < chars.len() {
        let c = chars[i];
        if c != '\\' {
            text.push(c);
            i += 1;
            continue;
        }
        let at = i;
        let Some(&e) = chars.get(i + 1) else {
            return Err(format!("bad escape (end of pattern) at position {at}"));
        };
        i += 2;
        let push_group = |n: usize, text: &mut String, out: &mut Vec<Piece>| {
            if !text.is_empty() {
                out.push(Piece::Text(std::mem::take(text)));
            }
            out.push(Piece::Group(n));
        };
        match e {
            'g' => {
                if chars.get(i) != Some(&'<') {
                    return Err(format!("missing < at position {i}"));
                }
                let start = i + 1;
                let Some(len) = chars[start..].iter().position(|c| *c == '>') else {
                    return Err(format!("missing >, unterminated name at position {start}"));
                };
                let name: String = chars[start..start + len].iter().collect();
                if name.is_empty() {
                    return Err(format!("missing group name at position {start}"));
                }
                let n = if is_identifier(&name) {
                    match names.iter().find(|(n, _)| *n == name) {
                        Some((_, n)) => *n,
                        None => return Err(format!("unknown group name '{name}'")),
                    }
                } else {
                    match name.parse::<usize>() {
                        Ok(n) if name.chars().all(|c| c.is_ascii_digit()) => group(n, start)?,
                        _ => {
                            return Err(format!(
                                "bad character in group name '{name}' at position {start}"
                            ));
                        }
                    }
                };
                push_group(n, &mut text, &mut out);
                i = start + len + 1;
            }
            '0' => {
                let mut v = 0u32;
                for _ in 0..2 {
                    if !octal(chars.get(i)) {
                        break;
                    }
                    v = v * 8 + chars[i].to_digit(8).unwrap_or(0);
                    i += 1;
                }
                text.push(char::from_u32(v & 0xff).unwrap_or('\0'));
            }
            '1'..='9' => {
                let d2 = chars.get(i).filter(|c| c.is_ascii_digit()).copied();
                match d2 {
                    Some(d2) if octal(Some(&e)) && octal(Some(&d2)) && octal(chars.get(i + 1)) => {
                        let digits: String = [e, d2, chars[i + 1]].iter().collect();
                        let v = u32::from_str_radix(&digits, 8).unwrap_or(0);
                        if v > 0o377 {
                            return Err(format!(
                                "octal escape value \\{digits} outside of range 0-0o377 at position {at}"
                            ));
                        }
                        text.push(char::from_u32(v).unwrap_or('\0'));
                        i += 2;
                    }
                    Some(d2) => {
                        let n = e.to_digit(10).unwrap_or(0) * 10 + d2.to_digit(10).unwrap_or(0);
                        let n = group(n as usize, at + 1)?;
                        push_group(n, &mut text, &mut out);
                        i += 1;
                    }
                    None => {
                        let n = group(e.to_digit(10).unwrap_or(0) as usize, at + 1)?;
                        push_group(n, &mut text, &mut out);
                    }
                }
            }
            'a' => text.push('\u{7}'),
            'b' => text.push('\u{8}'),
            'f' => text.push('\u{c}'),
            'n' => text.push('\n'),
            'r' => text.push('\r'),
            't' => text.push('\t'),
            'v' => text.push('\u{b}'),
            '\\' => text.push('\\'),
            e if e.is_ascii_alphabetic() => {
                return Err(format!("bad escape \\{e} at position {at}"));
            }
            e => {
                text.push('\\');
                text.push(e);
            }
        }
    }
    if !text.is_empty() {
        out.push(Piece::Text(text));
    }
    Ok(out)
}
