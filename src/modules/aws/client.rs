//! The EC2 client shared by the AWS modules: connection options, a per-process client cache and
//! the translation of AWS errors into crate [`Error`]s.
//!
//! Where the settings come from, most specific first:
//! - region: the `region` option, else `AWS_REGION` / `AWS_DEFAULT_REGION`, else the profile's
//!   `region` in `~/.aws/config`;
//! - endpoint: the `endpoint_url` option, else `AWS_ENDPOINT_URL_EC2` / `AWS_ENDPOINT_URL` (read
//!   by the SDK itself), else the real regional EC2 endpoint;
//! - credentials: `aws_access_key` + `aws_secret_key` (+ `session_token`) options, else the
//!   standard AWS chain: environment (`AWS_ACCESS_KEY_ID`...), the profile (`profile` option or
//!   `AWS_PROFILE`; static keys, SSO, `credential_process`, assume-role), web identity, ECS and
//!   EC2 instance metadata.

use crate::error::{Error, Result};
use crate::modules::opt;
use aws_sdk_ec2::Client;
use aws_sdk_ec2::config::{BehaviorVersion, Credentials, Region};
use aws_sdk_ec2::error::{ProvideErrorMetadata, SdkError};
use sha2::{Digest, Sha256};
use std::collections::HashMap;
use std::sync::{Mutex, OnceLock};

crate::options! {
    /// The connection options every AWS module takes (Ansible's `amazon.aws` common options),
    /// embedded in each module's options as `aws`.
    pub struct AwsOptions as group "AWS connection" {
        region: Option<String> = opt::str("The AWS region (e.g. `eu-west-1`). Default: `AWS_REGION`, `AWS_DEFAULT_REGION`, then the profile's region.").aliases(&["aws_region", "ec2_region"]),
        endpoint_url: Option<String> = opt::str("Use this EC2 endpoint instead of the real one (an emulator such as moto or LocalStack, a VPC endpoint). Default: `AWS_ENDPOINT_URL_EC2` / `AWS_ENDPOINT_URL`.").aliases(&["ec2_url", "aws_endpoint_url"]),
        aws_access_key: Option<String> = opt::str("Access key id. Default: the standard AWS credential chain (environment, profile, SSO, instance role).").aliases(&["aws_access_key_id", "access_key", "ec2_access_key"]),
        aws_secret_key: Option<String> = opt::str("Secret access key (with `aws_access_key`). Never logged.").aliases(&["aws_secret_access_key", "secret_key", "ec2_secret_key"]).secret(),
        session_token: Option<String> = opt::str("Session token for temporary credentials (with `aws_access_key`).").aliases(&["aws_session_token", "security_token", "aws_security_token", "access_token"]).secret(),
        profile: Option<String> = opt::str("Profile from `~/.aws/config` / `~/.aws/credentials`. Default: `AWS_PROFILE`.").aliases(&["aws_profile"]),
    }
}

/// The rule every AWS module adds to its spec: static keys or a profile, not both.
pub const EXCLUSIVE: &[&[&str]] = &[&["aws_access_key", "profile"]];

/// How to reach EC2: the common options of a task.
#[derive(Clone, Default, PartialEq, Eq, Hash)]
pub struct AwsOpts {
    /// Region option.
    pub region: Option<String>,
    /// Endpoint option.
    pub endpoint_url: Option<String>,
    /// Access key id option.
    pub access_key: Option<String>,
    /// Secret key option.
    pub secret_key: Option<String>,
    /// Session token option.
    pub session_token: Option<String>,
    /// Profile option.
    pub profile: Option<String>,
}

impl std::fmt::Debug for AwsOpts {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AwsOpts")
            .field("region", &self.region)
            .field("endpoint_url", &self.endpoint_url)
            .field("access_key", &self.access_key)
            .field("secret_key", &self.secret_key.as_ref().map(|_| "********"))
            .field(
                "session_token",
                &self.session_token.as_ref().map(|_| "********"),
            )
            .field("profile", &self.profile)
            .finish()
    }
}

impl From<&AwsOptions> for AwsOpts {
    /// The typed options, with empty strings counting as absent.
    fn from(o: &AwsOptions) -> Self {
        let s = |v: &Option<String>| v.clone().filter(|v| !v.trim().is_empty());
        AwsOpts {
            region: s(&o.region),
            endpoint_url: s(&o.endpoint_url),
            access_key: s(&o.aws_access_key),
            secret_key: s(&o.aws_secret_key),
            session_token: s(&o.session_token),
            profile: s(&o.profile),
        }
    }
}

impl AwsOpts {
    /// The cache key: the options (secrets hashed), the endpoint/region environment and the
    /// tokio runtime (a client's connection pool belongs to the runtime that created it).
    fn cache_key(&self) -> String {
        let mut h = Sha256::new();
        for part in [
            &self.region,
            &self.endpoint_url,
            &self.access_key,
            &self.secret_key,
            &self.session_token,
            &self.profile,
        ] {
            h.update(part.as_deref().unwrap_or("\u{0}"));
            h.update([0xff]);
        }
        for var in [
            "AWS_REGION",
            "AWS_DEFAULT_REGION",
            "AWS_ENDPOINT_URL",
            "AWS_ENDPOINT_URL_EC2",
            "AWS_PROFILE",
            "AWS_ACCESS_KEY_ID",
        ] {
            h.update(std::env::var(var).unwrap_or_default());
            h.update([0xff]);
        }
        let rt = tokio::runtime::Handle::try_current()
            .map(|h| h.id().to_string())
            .unwrap_or_default();
        format!("{rt}/{}", hex::encode(h.finalize()))
    }

    /// Where requests go, for messages.
    pub fn endpoint_label(&self) -> String {
        self.endpoint_url
            .clone()
            .or_else(|| std::env::var("AWS_ENDPOINT_URL_EC2").ok())
            .or_else(|| std::env::var("AWS_ENDPOINT_URL").ok())
            .unwrap_or_else(|| "the EC2 endpoint of the region".to_string())
    }
}

fn cache() -> &'static Mutex<HashMap<String, Client>> {
    static CACHE: OnceLock<Mutex<HashMap<String, Client>>> = OnceLock::new();
    CACHE.get_or_init(Default::default)
}

/// The EC2 client for these options: built once per (region, endpoint, credentials, profile)
/// per process and reused (it holds the connection pool and the credentials cache).
pub async fn ec2_client(o: &AwsOpts) -> Result<Client> {
    let key = o.cache_key();
    if let Some(c) = cache().lock().unwrap_or_else(|e| e.into_inner()).get(&key) {
        return Ok(c.clone());
    }
    if o.secret_key.is_some() != o.access_key.is_some() {
        return Err(
            Error::options("aws_access_key and aws_secret_key must be given together").hint(
                "or give neither and use the standard AWS credential chain (environment, profile)",
            ),
        );
    }
    let mut loader = aws_config::defaults(BehaviorVersion::latest());
    if let Some(p) = &o.profile {
        loader = loader.profile_name(p);
    }
    if let Some(r) = &o.region {
        loader = loader.region(Region::new(r.clone()));
    }
    if let Some(e) = &o.endpoint_url {
        loader = loader.endpoint_url(e);
    }
    if let (Some(ak), Some(sk)) = (&o.access_key, &o.secret_key) {
        loader = loader.credentials_provider(Credentials::new(
            ak,
            sk,
            o.session_token.clone(),
            None,
            "prov-module-options",
        ));
    }
    let conf = loader.load().await;
    if conf.region().is_none() {
        return Err(Error::options("no AWS region configured").hint(
            "give the `region` option, set AWS_REGION (or AWS_DEFAULT_REGION), or set `region` \
in the profile in ~/.aws/config",
        ));
    }
    let client = Client::new(&conf);
    cache()
        .lock()
        .unwrap_or_else(|e| e.into_inner())
        .insert(key, client.clone());
    Ok(client)
}

/// Turns an SDK error of operation `op` into a crate error with the AWS error code, message and
/// a hint. Credentials are never part of it.
pub fn aws_error<E, R>(op: &str, opts: &AwsOpts, e: SdkError<E, R>) -> Error
where
    E: ProvideErrorMetadata + std::error::Error + Send + Sync + 'static,
    R: std::fmt::Debug + 'static,
{
    let region = opts.region.clone().unwrap_or_else(|| "(default)".into());
    match &e {
        SdkError::ServiceError(se) => {
            let err = se.err();
            let code = err.code().unwrap_or("Unknown").to_string();
            let message = err.message().unwrap_or("").to_string();
            let mut out = Error::failed(format!("EC2 {op} failed: {code}: {message}"));
            if let Some(h) = hint_for(&code, op) {
                out = out.hint(h);
            } else {
                out = out.hint(format!(
                    "region {region}, endpoint {}",
                    opts.endpoint_label()
                ));
            }
            out
        }
        _ if let Some(cred) = credentials_error(&e) => Error::failed(format!(
            "EC2 {op}: no usable AWS credentials: {}",
            chain(cred)
        ))
        .hint(
            "set AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY, choose a profile (`profile` option \
or AWS_PROFILE; for SSO run `aws sso login`), or give aws_access_key/aws_secret_key",
        ),
        SdkError::DispatchFailure(_) | SdkError::TimeoutError(_) => Error::failed(format!(
            "EC2 {op}: could not reach {}: {}",
            opts.endpoint_label(),
            chain(&e)
        ))
        .hint("check endpoint_url / AWS_ENDPOINT_URL, the region and the network (proxy, DNS)"),
        _ => Error::failed(format!("EC2 {op}: {}", chain(&e))),
    }
}

/// The messages of an error and its sources, joined with `: ` (Display only, never Debug).
fn chain(e: &(dyn std::error::Error + 'static)) -> String {
    let mut parts: Vec<String> = Vec::new();
    let mut cur = Some(e);
    while let Some(err) = cur {
        let text = err.to_string();
        if !text.is_empty() && !parts.iter().any(|p| p.contains(&text)) {
            parts.push(text);
        }
        cur = err.source();
    }
    parts.join(": ")
}

/// The cause, when the request failed because no credentials could be loaded.
fn credentials_error<'a>(
    e: &'a (dyn std::error::Error + 'static),
) -> Option<&'a (dyn std::error::Error + 'static)> {
    let mut cur = Some(e);
    while let Some(err) = cur {
        if err
            .downcast_ref::<aws_credential_types::provider::error::CredentialsError>()
            .is_some()
        {
            return Some(err);
        }
        cur = err.source();
    }
    None
}

fn hint_for(code: &str, op: &str) -> Option<String> {
    let h = match code {
        "AuthFailure"
        | "InvalidClientTokenId"
        | "SignatureDoesNotMatch"
        | "UnrecognizedClientException"
        | "InvalidAccessKeyId" => {
            "AWS rejected the credentials: check aws_access_key/aws_secret_key, \
AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY or the profile, and the clock"
                .to_string()
        }
        "ExpiredToken" | "RequestExpired" => {
            "the temporary credentials expired: refresh them (e.g. `aws sso login`)".to_string()
        }
        "UnauthorizedOperation" | "AccessDenied" | "AccessDeniedException" => {
            let action = op
                .split('_')
                .map(|w| {
                    let mut c = w.chars();
                    c.next()
                        .map(|f| f.to_ascii_uppercase().to_string() + c.as_str())
                        .unwrap_or_default()
                })
                .collect::<String>();
            format!("the credentials lack the IAM permission ec2:{action}")
        }
        "RequestLimitExceeded" | "Throttling" | "ThrottlingException" => {
            "AWS throttled the requests (the SDK already retried): retry later or run fewer \
tasks in parallel (--forks)"
                .to_string()
        }
        "InvalidVpcID.NotFound" => "no such VPC in this region: check vpc_id and region".into(),
        "InvalidGroup.NotFound" | "InvalidGroupId.NotFound" | "InvalidGroupId.Malformed" => {
            "no such security group in this region: check group_id / the source group names".into()
        }
        "InvalidGroup.Duplicate" => {
            "a group with this name already exists in the VPC (created concurrently?)".into()
        }
        "DependencyViolation" => {
            "the group is still in use (instances, network interfaces or other groups' rules \
refer to it)"
                .into()
        }
        "InvalidParameterValue" | "InvalidParameterCombination" | "MissingParameter" => {
            "check the rules (protocol, ports, CIDR) and the other options".into()
        }
        "OptInRequired" | "InvalidRegion" => "check the region".into(),
        _ => return None,
    };
    Some(h)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hints_name_the_fix() {
        assert!(
            hint_for("UnauthorizedOperation", "authorize_security_group_ingress")
                .unwrap()
                .contains("ec2:AuthorizeSecurityGroupIngress")
        );
        assert!(
            hint_for("RequestLimitExceeded", "describe_instances")
                .unwrap()
                .contains("throttled")
        );
        assert!(
            hint_for("InvalidVpcID.NotFound", "describe_vpcs")
                .unwrap()
                .contains("vpc_id")
        );
        assert!(hint_for("SomethingNew", "x").is_none());
    }

    #[test]
    fn the_connection_group_marks_secrets_and_drops_empty_values() {
        let secret: Vec<&str> = AwsOptions::GROUP
            .options
            .iter()
            .filter(|o| o.secret)
            .map(|o| o.name)
            .collect();
        assert_eq!(secret, ["aws_secret_key", "session_token"]);
        let typed = AwsOptions {
            region: Some(" ".into()),
            endpoint_url: None,
            aws_access_key: Some("AKIA".into()),
            aws_secret_key: Some("s".into()),
            session_token: Some(String::new()),
            profile: None,
        };
        let o = AwsOpts::from(&typed);
        assert_eq!(o.region, None);
        assert_eq!(o.access_key.as_deref(), Some("AKIA"));
        assert_eq!(o.secret_key.as_deref(), Some("s"));
        assert_eq!(o.session_token, None);
    }

    #[test]
    fn debug_hides_secrets_and_keys_differ_by_credentials() {
        let a = AwsOpts {
            access_key: Some("AKIA".into()),
            secret_key: Some("very-secret".into()),
            session_token: Some("tok-secret".into()),
            ..Default::default()
        };
        let text = format!("{a:?}");
        assert!(
            !text.contains("very-secret") && !text.contains("tok-secret"),
            "{text}"
        );
        let b = AwsOpts {
            secret_key: Some("other".into()),
            ..a.clone()
        };
        assert_ne!(a.cache_key(), b.cache_key());
        assert!(!a.cache_key().contains("very-secret"));
    }
}
