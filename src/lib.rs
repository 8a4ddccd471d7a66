//! prov: an agentless provisioning tool that runs Ansible playbooks over native SSH.
//!
//! The data flow: [`inventory`] and [`playbook`] load the user's files (through the one YAML
//! loader, [`yaml`]); [`engine`] runs plays host by host through a [`connection::Connection`],
//! templating with [`template`], asking [`modules`] for a [`modules::Plan`] and applying it unless
//! in check mode; everything that happens is an [`events::Event`] sent to [`events::Sink`]s, of
//! which the human and JSON outputs in [`output`] are two.
//!
//! # What the library offers
//!
//! These are what a Rust user may build on; everything else is internal and may change:
//!
//! - Errors and data: [`error`] ([`Error`], [`ErrorKind`], [`Location`], [`Result`]), [`value`]
//!   ([`value::Value`], [`value::Vars`] and JSON conversions), [`yaml`] (the one YAML loader).
//! - Loading: [`inventory::Inventory`]; [`playbook::Loader`] gives a [`playbook::Playbook`] (the
//!   model types it holds are public to read).
//! - Running: [`engine::Runner`] with [`engine::RunOptions`]; [`engine::Connector`] decides how a
//!   host is reached.
//! - Receiving events: [`events`] ([`events::Event`], [`events::Sink`], [`events::Collect`],
//!   the result types), and the output sinks in [`output`] ([`output::HumanSink`],
//!   [`output::JsonSink`], [`output::event_json`]).
//! - Reaching hosts: [`connection`] (the [`connection::Connection`] trait, [`connection::Cmd`],
//!   [`connection::ExecOutput`], [`connection::Stdin`], [`connection::PutOpts`],
//!   [`connection::Become`], [`connection::Secret`], [`connection::quote`]) with the
//!   [`connection::local`], [`connection::ssh`] and [`connection::fake`] connections.
//! - Writing a module: [`modules`] ([`modules::Module`], [`modules::ModuleDoc`],
//!   [`modules::OptSpec`], the [`options!`] macro and [`modules::Options`], [`modules::Args`],
//!   [`modules::Plan`], [`modules::Change`], [`modules::Action`], [`modules::Apply`],
//!   [`modules::TaskCtx`], [`modules::Render`], [`modules::Registry`], [`modules::apply_plan`],
//!   [`modules::validate_args`], [`modules::FileAttrs`]). The built-in modules are reached
//!   through [`modules::Registry`], not by type.
//! - Templating: [`template`] ([`template::Templar`], [`template::Context`]).
//! - Ctrl-C: [`interrupt`].
//!
//! Config structs that users fill (`RunOptions`, `PutOpts`, `HumanOptions`, …) are built with
//! `..Default::default()` so new fields do not break callers. The `cli` module is public only for
//! the `prov` binary and is not part of the promise.
#![warn(missing_docs)]

#[doc(hidden)]
pub mod cli;
pub mod connection;
pub mod engine;
pub mod error;
pub mod events;
pub(crate) mod facts;
pub mod interrupt;
pub mod inventory;
pub mod modules;
pub mod output;
pub mod playbook;
pub mod plugins;
pub mod template;
pub(crate) mod tty;
pub(crate) mod util;
pub mod value;
pub mod yaml;

pub use error::{Error, ErrorKind, Location, Result};
