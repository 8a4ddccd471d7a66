//! `pause`: waits on the controller for some time or for the user.

use crate::error::{Error, Result};
use crate::modules::{Args, Module, ModuleDoc, Options, Plan, TaskCtx, opt};
use async_trait::async_trait;
use std::io::IsTerminal;
use std::time::{Duration, Instant};

/// The `pause` module.
pub struct Pause;

crate::options! {
    /// The `pause` module's options.
    pub(crate) struct Opts {
        seconds: Option<i64> = opt::int("Seconds to pause."),
        minutes: Option<i64> = opt::int("Minutes to pause."),
        prompt: Option<String> = opt::str("Text to show."),
        echo: bool = opt::bool("Show what the user types.").default("yes"),
    }
}

static DOC: ModuleDoc = ModuleDoc::new(
    "pause",
    "Pause for some time, or until the user presses Enter",
)
.description(
    "With `seconds` or `minutes` it sleeps on the controller (showing `prompt`, if \
given). Without them it shows `prompt` and waits for a line of input, which it returns as \
`user_input`; that needs a terminal, so off a TTY it fails instead of hanging. Changes nothing on \
the host; it pauses in check mode too.",
)
.spec::<Opts>()
.mutually_exclusive(&[&["seconds", "minutes"]])
.examples("- pause:\n    seconds: 10\n- pause:\n    prompt: Check the dashboard, then press Enter");

/// Reads one line from the terminal (echo off if asked, see [`crate::tty`]), on a blocking
/// thread; the end of the input reads as an empty line.
async fn read_line(echo: bool) -> Result<String> {
    tokio::task::spawn_blocking(move || {
        crate::tty::read_line("", !echo)
            .map(Option::unwrap_or_default)
            .map_err(|e| Error::other(format!("pause: cannot read from the terminal: {e}")))
    })
    .await
    .map_err(|e| Error::other(format!("pause: input thread failed: {e}")))?
}

#[async_trait]
impl Module for Pause {
    fn doc(&self) -> &'static ModuleDoc {
        &DOC
    }

    async fn plan(&self, _ctx: &TaskCtx<'_>, args: &Args) -> Result<Plan> {
        let start = Instant::now();
        let started_at = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_secs_f64())
            .unwrap_or(0.0);
        let o = Opts::from_args(args)?;
        let timed = match (o.seconds, o.minutes) {
            (Some(s), _) => Some((s.max(0) as u64, format!("{s} seconds"))),
            (None, Some(m)) => Some((m.max(0) as u64 * 60, format!("{m} minutes"))),
            _ => None,
        };
        let mut user_input = String::new();
        let stdout = match timed {
            Some((secs, label)) => {
                if let Some(p) = &o.prompt
                    && std::io::stderr().is_terminal()
                {
                    eprintln!("[pause]\n{p}");
                }
                tokio::time::sleep(Duration::from_secs(secs)).await;
                format!("Paused for {label}")
            }
            None => {
                if !std::io::stdin().is_terminal() {
                    return Err(Error::failed(
                        "pause: there is no TTY to prompt on (stdin is not a terminal), so it would wait forever",
                    )
                    .hint("give `seconds:` or `minutes:`, or run prov from a terminal"));
                }
                let p = o
                    .prompt
                    .clone()
                    .unwrap_or_else(|| "Press enter to continue, Ctrl+C to interrupt".into());
                eprint!("[pause]\n{p}:\n");
                user_input = read_line(o.echo).await?;
                "Paused for user input".to_string()
            }
        };
        let delta = start.elapsed().as_secs_f64();
        Ok(Plan::ok()
            .with("start", started_at)
            .with("stop", started_at + delta)
            .with("delta", delta.round() as i64)
            .with("echo", o.echo)
            .with("user_input", user_input)
            .with("stdout", stdout))
    }
}
