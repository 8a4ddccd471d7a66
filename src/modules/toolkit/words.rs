//! Command words: quoting them for `sh`, splitting a command line, and rejecting names that a
//! command would read as options.

use crate::connection::quote;
use crate::error::{Error, Result};

/// Quotes every word and joins them with spaces.
pub(crate) fn quote_all<S: AsRef<str>>(words: &[S]) -> String {
    words
        .iter()
        .map(|w| quote(w.as_ref()))
        .collect::<Vec<_>>()
        .join(" ")
}

/// Splits a command line into words the way a shell would (quotes, backslashes), without
/// expanding anything. Unbalanced quotes are an error.
pub(crate) fn split_words(module: &str, line: &str) -> Result<Vec<String>> {
    shlex::split(line).ok_or_else(|| {
        Error::parse(format!(
            "{module}: cannot split the command line: unbalanced quotes or a trailing backslash"
        ))
        .hint("quote the command with matching ' or \" quotes, or use `argv:` to give each word")
    })
}

/// Rejects a value that would be read as an option by the command it is given to, or that
/// contains characters no name may have (a clear error instead of a confusing tool failure).
pub(crate) fn check_name(module: &str, what: &str, v: &str) -> Result<()> {
    if v.is_empty() {
        return Err(Error::failed(format!("{module}: {what} must not be empty")));
    }
    if v.starts_with('-') || v.chars().any(|c| c.is_whitespace() || c.is_control()) {
        return Err(Error::failed(format!(
            "{module}: invalid {what} '{v}' (it may not start with '-' or contain spaces)"
        )));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_that_look_like_options_are_rejected() {
        assert!(check_name("m", "name", "-rf").is_err());
        assert!(check_name("m", "name", "a b").is_err());
        assert!(check_name("m", "name", "nginx").is_ok());
    }
}
