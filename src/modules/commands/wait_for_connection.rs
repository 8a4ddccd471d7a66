//! `wait_for_connection`: waits until the host can be reached and runs a command again (after
//! a reboot, or for a host that is still booting).

use crate::connection::Cmd;
use crate::error::Result;
use crate::modules::{Args, Module, ModuleDoc, Options, Plan, TaskCtx, opt};
use async_trait::async_trait;
use std::time::{Duration, Instant};

/// The `wait_for_connection` module.
pub struct WaitForConnection;

crate::options! {
    /// The `wait_for_connection` module's options.
    pub(crate) struct Opts {
        delay: i64 = opt::int("Seconds to wait before the first try.").default("0"),
        sleep: i64 = opt::int("Seconds between tries.").default("1"),
        timeout: i64 = opt::int("Seconds to wait in all.").default("600"),
        connect_timeout: i64 = opt::int("Seconds one try may take.").default("5"),
    }
}

static DOC: ModuleDoc = ModuleDoc::new(
    "wait_for_connection",
    "Wait until the host is reachable and usable",
)
.description(
    "Waits `delay` seconds, then tries every `sleep` seconds, until `timeout` \
seconds have passed, to run `true` on the host through its connection (each try limited to \
`connect_timeout` seconds; a connection that dropped, e.g. by a reboot, is opened again). A \
host that cannot be reached when the task starts is retried the same way (the engine keeps \
connecting until `timeout`). Fails with `timed out waiting for connection` on timeout. Changes \
nothing; it waits in check mode too. Returns `elapsed` (seconds).",
)
.spec::<Opts>()
.action_args()
.examples("- wait_for_connection:\n- wait_for_connection:\n    delay: 10\n    timeout: 300\n");

/// The module's timing options, also used by the engine to retry an unreachable host.
#[derive(Debug, Clone, Copy)]
pub struct Timing {
    /// Before the first try.
    pub delay: Duration,
    /// Between tries.
    pub sleep: Duration,
    /// In all.
    pub timeout: Duration,
    /// For one try.
    pub connect_timeout: Duration,
}

impl Timing {
    /// Reads the options (validated arguments of `wait_for_connection`).
    pub fn from_args(args: &Args) -> Result<Timing> {
        let o = Opts::from_args(args)?;
        let secs = |n: i64| Duration::from_secs(n.max(0) as u64);
        Ok(Timing {
            delay: secs(o.delay),
            sleep: secs(o.sleep).max(Duration::from_millis(100)),
            timeout: secs(o.timeout),
            connect_timeout: secs(o.connect_timeout).max(Duration::from_secs(1)),
        })
    }
}

#[async_trait]
impl Module for WaitForConnection {
    fn doc(&self) -> &'static ModuleDoc {
        &DOC
    }

    async fn plan(&self, ctx: &TaskCtx<'_>, args: &Args) -> Result<Plan> {
        let t = Timing::from_args(args)?;
        let start = Instant::now();
        tokio::time::sleep(t.delay).await;
        let mut last: String;
        loop {
            let mut cmd = Cmd::new("true");
            cmd.become_ = ctx.become_.clone();
            match tokio::time::timeout(t.connect_timeout, ctx.conn.exec(&cmd)).await {
                Ok(Ok(o)) if o.rc == 0 => break,
                Ok(Ok(o)) => last = format!("rc {}: {}", o.rc, o.stderr_str().trim()),
                Ok(Err(e)) => last = e.msg.clone(),
                Err(_) => {
                    last = format!("no answer within {}s", t.connect_timeout.as_secs());
                    // a silent, half-dead connection (e.g. the host rebooted): open a new one
                    let _ = ctx.conn.close().await;
                }
            }
            if start.elapsed() + t.sleep >= t.timeout + t.delay {
                return Ok(
                    Plan::fail(format!("timed out waiting for connection: {last}"))
                        .with("elapsed", start.elapsed().as_secs()),
                );
            }
            tokio::time::sleep(t.sleep).await;
        }
        Ok(Plan::ok().with("elapsed", start.elapsed().as_secs()))
    }
}
