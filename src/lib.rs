//! prov: an agentless provisioning tool that runs Ansible playbooks over native SSH.
//!
//! The data flow: [`inventory`] and [`playbook`] load the user's files (through the one YAML
//! loader, [`yaml`]); [`engine`] runs plays host by host through a [`connection::Connection`],
//! templating with [`template`], asking [`modules`] for a [`modules::Plan`] and applying it unless
//! in check mode; everything that happens is an [`events::Event`] sent to [`events::Sink`]s, of
//! which the human and JSON outputs in [`output`] are two.
#![warn(missing_docs)]

pub mod cli;
pub mod connection;
pub mod engine;
pub mod error;
pub mod events;
pub mod facts;
pub mod interrupt;
pub mod inventory;
pub mod modules;
pub mod output;
pub mod playbook;
pub mod template;
pub mod tty;
pub(crate) mod util;
pub mod value;
pub mod yaml;

pub use error::{Error, ErrorKind, Location, Result};
