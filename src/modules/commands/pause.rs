//! `pause`: waits on the controller for some time or for the user.

use crate::error::{Error, Result};
use crate::modules::{Args, Module, ModuleDoc, Options, Plan, TaskCtx, opt};
use crate::tty::{PromptKeys, Prompted, prompt_until};
use crate::value::Value;
use async_trait::async_trait;
use std::time::{Duration, Instant};

/// The `pause` module.
pub struct Pause;

crate::options! {
    /// The `pause` module's options.
    pub(crate) struct Opts {
        seconds: Option<Value> = opt::any("Seconds to pause (an integer; a fraction is cut off, as Python's `int()` does)."),
        minutes: Option<Value> = opt::any("Minutes to pause (an integer; a fraction is cut off)."),
        prompt: Option<String> = opt::str("Text to show."),
        echo: bool = opt::bool("Show what the user types.").default("yes"),
    }
}

static DOC: ModuleDoc = ModuleDoc::new(
    "pause",
    "Pause for some time, or until the user presses Enter",
)
.description(
    "With `seconds` or `minutes` it waits on the controller that long (Ctrl+C then `C` \
continues early, Ctrl+C then `A` aborts). Without them it shows `prompt` and waits for Enter, \
returning what was typed as `user_input` (not echoed with `echo: false`). Keys are read from the \
terminal as Ansible reads them; when stdin is not an interactive terminal (piped, cron, or in the \
background) it does not wait for input: it warns and goes on, and a duration is just slept. \
Changes nothing on the host; it pauses in check mode too.",
)
.spec::<Opts>()
.mutually_exclusive(&[&["minutes", "seconds"]])
.examples("- pause:\n    seconds: 10\n- pause:\n    prompt: Check the dashboard, then press Enter");

/// Python's `int(v)`, as Ansible's pause converts `seconds` and `minutes`: numbers are cut to
/// integers, strings must be written as one; the error is Ansible's.
fn py_int(name: &str, v: &Value) -> std::result::Result<i64, String> {
    crate::util::python::py_int(v).map_err(|why| {
        let ty = if v.as_str().is_some() { "str" } else { "value" };
        format!("argument '{name}' is of type {ty} and we were unable to convert to int: {why}")
    })
}

/// Runs [`prompt_until`] on a blocking thread.
async fn prompt(
    msg: String,
    echo: bool,
    seconds: Option<u64>,
    complete: Option<&'static [u8]>,
    interrupt: Option<&'static [u8]>,
) -> Result<Prompted> {
    tokio::task::spawn_blocking(move || {
        prompt_until(
            &msg,
            echo,
            seconds,
            PromptKeys {
                complete,
                interrupt,
            },
        )
        .map_err(|e| Error::other(format!("pause: cannot read from the terminal: {e}")))
    })
    .await
    .map_err(|e| Error::other(format!("pause: input thread failed: {e}")))?
}

/// Now, as Ansible's `start`/`stop` write it.
fn now_text() -> String {
    crate::modules::apply::fmt_time(std::time::SystemTime::now())
}

#[async_trait]
impl Module for Pause {
    fn doc(&self) -> &'static ModuleDoc {
        &DOC
    }

    async fn plan(&self, ctx: &TaskCtx<'_>, args: &Args) -> Result<Plan> {
        let o = Opts::from_args(args)?;
        let int = |name: &str, v: &Option<Value>| v.as_ref().map(|v| py_int(name, v)).transpose();
        let (minutes, seconds) = match (int("minutes", &o.minutes), int("seconds", &o.seconds)) {
            (Ok(m), Ok(s)) => (m, s),
            (Err(e), _) | (_, Err(e)) => return Ok(Plan::fail(e)),
        };
        let hidden = if o.echo { "" } else { " (output is hidden)" };
        let text = o
            .prompt
            .clone()
            .unwrap_or_else(|| "Press enter to continue, Ctrl+C to interrupt".into());
        let mut msg = format!("[{}]\n{text}{hidden}:", ctx.task_name.trim());
        let (seconds, unit) = match (minutes, seconds) {
            (Some(m), _) => (Some((m * 60).max(1) as u64), "minutes"),
            (None, Some(s)) => (Some(s.max(1) as u64), "seconds"),
            _ => (None, "minutes"),
        };
        let start = Instant::now();
        let start_text = now_text();
        let mut warnings = Vec::new();
        let mut user_input = Some(Vec::new());
        // With a duration, Enter does not end the pause (only the time or Ctrl+C does) and
        // nothing typed is kept or echoed.
        let complete: Option<&'static [u8]> = seconds.map(|_| &[][..]);
        if let Some(s) = seconds {
            eprintln!("Pausing for {s} seconds{hidden}");
            let controls = "(ctrl+C then 'C' = continue early, ctrl+C then 'A' = abort)\r";
            if o.prompt.is_some() {
                eprintln!("{controls}");
            } else {
                msg = controls.to_string();
            }
        }
        let echo = seconds.is_none() && o.echo;
        match prompt(msg, echo, seconds, complete, None).await? {
            Prompted::Interrupted => user_input = None,
            Prompted::NonInteractive => match seconds {
                None => {
                    warnings.push("Not waiting for response to prompt as stdin is not interactive")
                }
                Some(s) => tokio::time::sleep(Duration::from_secs(s)).await,
            },
            Prompted::Completed(typed) | Prompted::TimedOut(typed) => {
                if seconds.is_none() {
                    user_input = Some(typed);
                }
            }
        }
        let user_input = match user_input {
            Some(i) => i,
            None => {
                let msg = "Press 'C' to continue the play or 'A' to abort \r".to_string();
                match prompt(msg, echo, None, Some(b"c"), Some(b"a")).await? {
                    Prompted::Interrupted => return Ok(Plan::fail("user requested abort!")),
                    _ => Vec::new(),
                }
            }
        };
        let secs = start.elapsed().as_secs_f64();
        let shown = if unit == "minutes" {
            (secs / 60.0 * 100.0).round() / 100.0
        } else {
            (secs * 100.0).round() / 100.0
        };
        let mut plan = Plan::ok()
            .with("rc", 0)
            .with("stderr", "")
            .with("start", start_text)
            .with("stop", now_text())
            .with("delta", secs as i64)
            .with("echo", o.echo)
            .with(
                "user_input",
                String::from_utf8_lossy(&user_input).into_owned(),
            )
            .with(
                "stdout",
                format!(
                    "Paused for {} {unit}",
                    crate::util::python::float_repr(shown)
                ),
            );
        if !warnings.is_empty() {
            plan.result
                .insert("warnings".into(), crate::value::Value::from(warnings));
        }
        Ok(plan)
    }
}

#[cfg(test)]
mod tests {
    use super::py_int;
    use crate::value::Value;

    #[test]
    fn durations_convert_as_pythons_int() {
        assert_eq!(py_int("seconds", &Value::from(0.9)), Ok(0));
        assert_eq!(py_int("seconds", &Value::from(" 7 ")), Ok(7));
        assert_eq!(
            py_int("seconds", &Value::from("hello")).unwrap_err(),
            "argument 'seconds' is of type str and we were unable to convert to int: \
             invalid literal for int() with base 10: 'hello'"
        );
    }
}
