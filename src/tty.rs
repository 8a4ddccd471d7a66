//! Answers typed at the terminal: `vars_prompt`, `--ask-become-pass`, the `pause` module and
//! SSH key passphrases. The one way prov reads without echo is `rpassword`, here.

use std::io::{BufRead, IsTerminal, Write};

/// Shows `prompt` and reads one line (without its line end).
///
/// When stdin is a terminal and `hidden` is set, what is typed is not echoed: `rpassword` turns
/// the terminal's echo off while it reads (prompt and input on `/dev/tty`). Otherwise the prompt
/// goes to stderr and a line is read from stdin as it is (echoed by a terminal; a piped answer
/// works too). `Ok(None)` at the end of the input (nothing left to read, or Ctrl-D).
pub fn read_line(prompt: &str, hidden: bool) -> std::io::Result<Option<String>> {
    let stdin = std::io::stdin();
    if hidden && stdin.is_terminal() {
        return read_hidden(prompt);
    }
    {
        let mut err = std::io::stderr().lock();
        let _ = err.write_all(prompt.as_bytes());
        let _ = err.flush();
    }
    let mut line = String::new();
    if stdin.lock().read_line(&mut line)? == 0 {
        return Ok(None);
    }
    Ok(Some(line.trim_end_matches(['\n', '\r']).to_string()))
}

/// Shows `prompt` on the controlling terminal (`/dev/tty`) and reads one line there with echo
/// off, whatever stdin is (`rpassword`). `Ok(None)` at the end of the input (Ctrl-D); an error
/// when there is no terminal.
pub fn read_hidden(prompt: &str) -> std::io::Result<Option<String>> {
    match rpassword::prompt_password(prompt) {
        Ok(s) => Ok(Some(s)),
        Err(e) if e.kind() == std::io::ErrorKind::UnexpectedEof => Ok(None),
        Err(e) => Err(e),
    }
}
