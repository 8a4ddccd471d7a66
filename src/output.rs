//! Output sinks: the human (ansible-playbook-like) output and JSON Lines.
//!
//! STUB: the API below is the contract; the implementation is being written.

use crate::events::{Event, Sink};

/// Options for the human output.
#[derive(Debug, Clone, Default)]
pub struct HumanOptions {
    /// Use ANSI colours.
    pub color: bool,
    /// Show diffs.
    pub diff: bool,
    /// -v count.
    pub verbosity: u8,
    /// Show an indicatif progress line (on a TTY).
    pub progress: bool,
}

/// ansible-playbook-like output on stdout.
pub struct HumanSink {
    _opts: HumanOptions,
}

impl HumanSink {
    /// A human sink.
    pub fn new(opts: HumanOptions) -> Self {
        HumanSink { _opts: opts }
    }
}

impl Sink for HumanSink {
    fn event(&self, ev: &Event) {
        let _ = ev;
    }
}

/// One JSON object per line on stdout.
pub struct JsonSink;

impl Sink for JsonSink {
    fn event(&self, ev: &Event) {
        let _ = ev;
    }
}
