//! System modules: apt, package, systemd_service (also `systemd` and `service`), user, group,
//! get_url, apt_repository, deb822_repository, pip, apt_key, git.
//!
//! Like every module, they only inspect the host while planning (one POSIX sh script per
//! inspection, through [`probe`](super::toolkit::probe), its output split into `@@name`
//! sections and parsed on the controller) and describe the work as
//! [`Action`](super::Action)s: `Exec` for package managers, `systemctl`, `useradd`/`usermod`,
//! downloads; `Put` (through the toolkit's [`plan_write`](super::toolkit::plan_write)) for
//! sources files. Check mode therefore
//! reports exactly what a run would do, and diffs are data. Nothing needs Python on the host
//! (except pip, which manages Python packages).

pub mod apt;
pub mod apt_key;
pub mod apt_repository;
pub mod authorized_key;
pub mod cron;
pub mod deb822_repository;
pub mod get_url;
pub mod getent;
pub mod git;
pub mod group;
pub mod hostname;
pub mod package;
pub mod pip;
mod pip_version;
pub mod service;
pub mod setup;
pub mod sysctl;
pub mod user;

use super::Registry;
use std::sync::Arc;

/// Registers the system modules.
pub fn register(r: &mut Registry) {
    r.register(Arc::new(apt::Apt));
    r.register(Arc::new(package::Package));
    r.register(Arc::new(service::Systemd::systemd_service()));
    r.register(Arc::new(service::Systemd::systemd_alias()));
    r.register(Arc::new(service::Service));
    r.register(Arc::new(user::User));
    r.register(Arc::new(group::Group));
    r.register(Arc::new(get_url::GetUrl));
    r.register(Arc::new(apt_repository::AptRepository));
    r.register(Arc::new(deb822_repository::Deb822Repository));
    r.register(Arc::new(authorized_key::AuthorizedKey));
    r.register(Arc::new(sysctl::Sysctl));
    r.register(Arc::new(cron::Cron));
    r.register(Arc::new(hostname::Hostname));
    r.register(Arc::new(getent::Getent));
    r.register(Arc::new(setup::Setup));
    r.register(Arc::new(pip::Pip));
    r.register(Arc::new(apt_key::AptKey));
    r.register(Arc::new(git::Git));
}
