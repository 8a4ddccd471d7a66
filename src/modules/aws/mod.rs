//! AWS modules (cargo feature `aws`, on by default), built on the official AWS SDK for Rust:
//! `ec2_security_group` (old name `ec2_group`) and `ec2_instance_info` (all also reachable as
//! `amazon.aws.<name>`).
//!
//! They run on the controller and call the EC2 API; they do not use the task's connection, so a
//! task normally has `delegate_to: localhost` (or runs in a play on localhost). They follow the
//! plan/apply split like every module: planning only reads (Describe* calls), and each change
//! is an [`Action::Call`](super::Action::Call) the engine runs unless in check mode.
//!
//! Connection options (every module; the shared group [`client::AwsOptions`]): `region`, `endpoint_url`, `aws_access_key`,
//! `aws_secret_key`, `session_token`, `profile`; see [`client`] for where the defaults come
//! from. Real EC2 needs a region and credentials from the standard chain; an emulator (moto,
//! LocalStack) is reached with `endpoint_url` or `AWS_ENDPOINT_URL`.

pub mod client;
pub mod ec2_instance_info;
pub mod ec2_security_group;

use super::Registry;
use std::sync::Arc;

/// Registers the AWS modules.
pub fn register(r: &mut Registry) {
    r.register(Arc::new(ec2_security_group::Ec2SecurityGroup));
    r.register(Arc::new(ec2_security_group::Ec2Group));
    r.register(Arc::new(ec2_instance_info::Ec2InstanceInfo));
}
