//! Ansible's Python plugins that run on the controller (filters, tests, lookups, action
//! plugins), for the names prov has no native implementation of: called through a Python
//! bridge process that imports ansible-core ([`bridge`]).

pub mod bridge;
pub mod jinja;
