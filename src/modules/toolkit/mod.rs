//! The module toolkit: helpers shared by the module families (files, system, commands, docker,
//! aws), one file per topic. It sits below the families: they import it, it imports none of
//! them.
//!
//! - [`probe`]: run a read-only inspection script, split its output into `@@name` sections.
//! - [`inspect`]: inspect remote paths (stat data, link targets, checksums, content).
//! - [`mode`]: file modes and the `chmod`/`chown`/`chgrp` changes that enforce attributes.
//! - [`write`]: whole-file content writes with backups, validation and diffs; path helpers;
//!   atomic writes on the controller.
//! - [`plan`]: `Exec` actions with the task's become, state diffs.
//! - [`words`]: quoting, splitting and checking command words.
//! - [`regex`]: Python-compatible regular expressions.
//! - [`codec`]: text encodings by Python's codec names.

pub mod codec;
pub mod inspect;
pub mod mode;
pub mod plan;
pub mod probe;
pub mod regex;
pub mod words;
pub mod write;

pub use codec::{decode, encode};
pub use inspect::*;
pub use mode::*;
pub(crate) use plan::*;
pub(crate) use probe::*;
pub use regex::*;
pub(crate) use words::*;
pub use write::*;
