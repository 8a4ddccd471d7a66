//! Option groups shared by modules of several families. A family's own groups live with the
//! family (`commands::Guards` and `commands::Input`, `aws::client::AwsOptions`).

use super::opt;

crate::options! {
    /// Ansible's file attribute options: `mode`, `owner`, `group` (copy, template, file,
    /// lineinfile, blockinfile, replace, get_url, ...).
    pub struct FileAttrs as group "file attributes" {
        mode: Option<super::Mode> = opt::mode(
            "Permissions: octal (`'0644'`) or symbolic (`u=rw,g=r`, `a+X`); `preserve` keeps the \
source's mode where the module has a source (copy, template)."
        ),
        owner: Option<String> = opt::str("Owner name or uid."),
        group: Option<String> = opt::str("Group name or gid."),
    }
}
