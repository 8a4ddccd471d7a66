//! `user`: manages user accounts with useradd/usermod/userdel.

use crate::connection::{Stdin, quote};
use crate::error::{Error, Result};
use crate::modules::toolkit::{
    check_name, exec, expand_word, kv, probe, quote_all, sections, state_diff,
};
use crate::modules::{Action, Args, Module, ModuleDoc, Options, Plan, TaskCtx, opt};
use crate::util::time::ymd;
use crate::value::Value;
use async_trait::async_trait;

/// The `user` module.
pub struct User;

crate::options! {
    /// The `user` module's options.
    pub(crate) struct Opts {
        name: String = opt::str("User name.").required().aliases(&["user"]),
        state: String = opt::str("Whether the account should exist.").default("present").choices(&["present", "absent"]),
        uid: Option<i64> = opt::int("User id."),
        non_unique: bool = opt::bool("Allow a uid that is already used (`-o`).").default("no"),
        group: Option<String> = opt::str("Primary group (name or gid)."),
        groups: Option<Vec<String>> = opt::list("Supplementary groups (list or comma-separated); an empty value removes all (unless append)."),
        append: bool = opt::bool("Add `groups` to the current ones instead of replacing them.").default("no"),
        system: bool = opt::bool("Create a system account (only when creating).").default("no"),
        shell: Option<String> = opt::path("Login shell."),
        home: Option<String> = opt::path("Home directory."),
        create_home: bool = opt::bool("Create the home directory when creating the user.").default("yes").aliases(&["createhome"]),
        move_home: bool = opt::bool("When `home` changes, move the old home's content there.").default("no"),
        password: Option<String> = opt::str("The password hash (crypt format, e.g. `$6$...`), never a clear-text password.").secret(),
        update_password: String = opt::str("`always` updates a differing password, `on_create` sets it only for new users.").default("always").choices(&["always", "on_create"]),
        comment: Option<String> = opt::str("The GECOS field (full name)."),
        password_lock: Option<bool> = opt::bool("Lock (`usermod -L`) or unlock (`usermod -U`) the password."),
        expires: Option<f64> = opt::float("Account expiry as seconds since the epoch (UTC day precision); a negative value removes it."),
        remove: bool = opt::bool("With state=absent, also remove the home directory and mail spool (`userdel -r`).").default("no"),
        force: bool = opt::bool("With state=absent, remove even if logged in (`userdel -f`); with generate_ssh_key, replace an existing key.").default("no"),
        skeleton: Option<String> = opt::str("The skeleton folder a new home is filled from (`useradd -k`, with create_home)."),
        umask: Option<String> = opt::str("The umask of a new home (`useradd -K UMASK=`, with create_home)."),
        uid_min: Option<i64> = opt::int("The lowest uid useradd may pick (`-K UID_MIN=`)."),
        uid_max: Option<i64> = opt::int("The highest uid useradd may pick (`-K UID_MAX=`)."),
        seuser: Option<String> = opt::str("The SELinux user of a new account (`useradd -Z`)."),
        password_expire_min: Option<i64> = opt::int("Minimum days between password changes (`chage -m`)."),
        password_expire_max: Option<i64> = opt::int("Maximum days a password is valid (`chage -M`)."),
        password_expire_warn: Option<i64> = opt::int("Days of warning before a password expires (`chage -W`)."),
        password_expire_account_disable: Option<i64> = opt::int("Days after a password expires until the account is disabled (`-f`)."),
        generate_ssh_key: bool = opt::bool("Generate an SSH key pair for the user when it has none.").default("no"),
        ssh_key_type: String = opt::str("The key type (`ssh-keygen -t`).").default("rsa"),
        ssh_key_bits: i64 = opt::int("The key size (`-b`; 0: ssh-keygen's default).").default("0"),
        ssh_key_file: Option<String> = opt::path("The private key file, relative to the home (default `.ssh/id_<type>`)."),
        ssh_key_comment: Option<String> = opt::str("The key comment (default `ansible-generated on <host name>`)."),
        ssh_key_passphrase: Option<String> = opt::str("The key's passphrase (default: none).").secret(),
        local: Option<bool> = opt::bool("Manage the local account database only, with libuser's commands (`luseradd`, `lusermod`, `luserdel`, `lgroupmod`, `lchage`): the account exists when /etc/passwd has it, whatever a directory service says."),
        // Options of other platforms' user backends; Ansible's Linux backend ignores them too.
        #[allow(dead_code)]
        hidden: Option<bool> = opt::bool("macOS only: hide the user from the login window (ignored on Linux, as in Ansible)."),
        #[allow(dead_code)]
        login_class: Option<String> = opt::str("BSD only: the login class (ignored on Linux, as in Ansible)."),
        #[allow(dead_code)]
        authorization: Option<String> = opt::str("Solaris only (ignored on Linux, as in Ansible)."),
        #[allow(dead_code)]
        profile: Option<String> = opt::str("Solaris only (ignored on Linux, as in Ansible)."),
        #[allow(dead_code)]
        role: Option<String> = opt::str("Solaris only (ignored on Linux, as in Ansible)."),
    }
}

static DOC: ModuleDoc = ModuleDoc::new("user", "Manage user accounts")
    .description(
        "Creates, changes and removes users. One round trip reads the account \
(`getent passwd`), its groups (`id -Gn`, `id -gn`), the groups it should be in (`getent group`, \
so a missing group fails in check mode too) and, when `password` is given, the current hash \
(`getent shadow`). Changes run `useradd`, `usermod` or `userdel` with every argument quoted; \
`groups` with `append: no` sets exactly these supplementary groups, with `append: yes` only adds. \
`password` must already be hashed (e.g. with the `password_hash` filter); it is set with \
`chpasswd -e` through stdin, so it never appears in a command line, a summary, a diff or the \
result (`password` is returned as `NOT_LOGGING_PASSWORD`). `password_lock` and `expires` are \
compared with the shadow entry too. The diff lists the account's fields \
before and after.",
    )
    .spec::<Opts>()
    .examples(
        r#"- user:
    name: deploy
    shell: /bin/bash
    groups: [sudo, docker]
    append: true
- user:
    name: olduser
    state: absent
    remove: true
"#,
    );

/// An account as `getent passwd` shows it.
#[derive(Debug, Clone, Default, PartialEq)]
struct Account {
    uid: String,
    gid: String,
    comment: String,
    home: String,
    shell: String,
}

fn parse_passwd(text: &str) -> Option<Account> {
    let line = text.lines().next()?;
    let f: Vec<&str> = line.split(':').collect();
    if f.len() < 7 {
        return None;
    }
    Some(Account {
        uid: f[2].into(),
        gid: f[3].into(),
        comment: f[4].into(),
        home: f[5].into(),
        shell: f[6].into(),
    })
}

/// Known groups from `getent group` lines: (name, gid).
fn parse_groups(text: &str) -> Vec<(String, String)> {
    text.lines()
        .filter_map(|l| {
            let f: Vec<&str> = l.split(':').collect();
            (f.len() >= 3).then(|| (f[0].to_string(), f[2].to_string()))
        })
        .collect()
}

fn group_known(known: &[(String, String)], g: &str) -> bool {
    known.iter().any(|(n, id)| n == g || id == g)
}

/// The change setting a password hash with `chpasswd -e` (hash on stdin only).
/// `post` runs last (locking or unlocking the password).
fn with_password(
    ctx: &TaskCtx<'_>,
    script: String,
    name: &str,
    hash: Option<&str>,
    post: Option<String>,
) -> Action {
    let mut cmd = ctx.cmd(script);
    if let Some(h) = hash {
        cmd.script.push_str(" && chpasswd -e");
        cmd.stdin = Stdin::Bytes(format!("{name}:{h}\n").into_bytes());
    }
    if let Some(p) = post {
        cmd.script.push_str(&format!(" && {p}"));
    }
    Action::Exec {
        cmd,
        capture: false,
        fail_on_rc: true,
    }
}

/// A command printing the new account's passwd fields as a result line (uid, group, comment,
/// home, shell), as Ansible returns them after creating a user; it never fails.
fn readback(name: &str) -> String {
    let esc =
        |v: &str| format!("\"$(printf '%s' \"${v}\" | sed 's/\\\\/\\\\\\\\/g; s/\"/\\\\\"/g')\"");
    format!(
        "{{ e=$(getent passwd {n}) && printf '%s\\n' \"$e\" | {{ IFS=: read -r _ _ u g c h s; \
         printf '%s{{\"uid\": %s, \"group\": %s, \"comment\": \"%s\", \"home\": \"%s\", \"shell\": \"%s\"}}\\n' \
         {rl} \"$u\" \"$g\" {c} {h} {s}; }} || true; }}",
        n = quote(name),
        rl = quote(crate::modules::RESULT_LINE),
        c = esc("c"),
        h = esc("h"),
        s = esc("s"),
    )
}

/// Creates a missing home as Ansible does for an existing account: a copy of the skeleton
/// (`/etc/skel` by default; an empty folder without one), given login.defs' HOME_MODE (else
/// 0777 minus its UMASK, else 0755), owned by the user and its primary group.
fn create_home_script(name: &str, home: &str, skeleton: Option<&str>) -> String {
    format!(
        "h={h}; sk={sk}; if [ -d \"$sk\" ]; then cp -a -- \"$sk\" \"$h\"; else mkdir -p -- \"$h\"; fi && \
         if [ -r /etc/login.defs ]; then \
         hm=$(sed -n 's/^HOME_MODE[[:space:]]\\{{1,\\}}\\([0-9]\\{{1,\\}}\\)$/\\1/p' /etc/login.defs | head -n 1); \
         um=$(sed -n 's/^UMASK[[:space:]]\\{{1,\\}}\\([0-9]\\{{1,\\}}\\)$/\\1/p' /etc/login.defs | tail -n 1); \
         if [ -n \"$hm\" ]; then chmod \"$hm\" \"$h\"; \
         elif [ -n \"$um\" ]; then chmod \"$(printf '%o' $(( 0777 & ~0$um )))\" \"$h\"; \
         else chmod 755 \"$h\"; fi; fi && chown -R -- {u}: \"$h\"",
        h = quote(home),
        sk = quote(skeleton.unwrap_or("/etc/skel")),
        u = quote(name),
    )
}

/// `chage` setting the given aging fields (min, max, warn), if any.
fn chage(name: &str, aging: [Option<i64>; 3]) -> Option<String> {
    let flags: Vec<String> = ["-m", "-M", "-W"]
        .iter()
        .zip(aging)
        .filter_map(|(f, v)| v.map(|v| format!("{f} {v}")))
        .collect();
    (!flags.is_empty()).then(|| format!("chage {} {}", flags.join(" "), quote(name)))
}

/// Commands to run after the account change, joined with `&&`.
fn join_post<const N: usize>(cmds: [Option<String>; N]) -> Option<String> {
    let v: Vec<String> = cmds.into_iter().flatten().collect();
    (!v.is_empty()).then(|| v.join(" && "))
}

/// The user's SSH key pair (`generate_ssh_key`).
struct SshKey {
    /// The private key file, relative to the home unless absolute.
    file: String,
    key_type: String,
    bits: i64,
    comment: Option<String>,
    passphrase: Option<String>,
}

impl SshKey {
    fn from_opts(o: &Opts) -> Self {
        SshKey {
            file: o
                .ssh_key_file
                .clone()
                .unwrap_or_else(|| format!(".ssh/id_{}", o.ssh_key_type)),
            key_type: o.ssh_key_type.clone(),
            bits: o.ssh_key_bits,
            comment: o.ssh_key_comment.clone(),
            passphrase: o.ssh_key_passphrase.clone(),
        }
    }
    /// Shell code setting `$f` to the key file (the home read from the passwd entry, else
    /// the shell word `home`: where a user still to be created will have it).
    fn path_code(&self, name: &str, home: Option<&str>) -> String {
        if self.file.starts_with('/') {
            format!("f={}", quote(&self.file))
        } else {
            let fallback = home
                .map(|h| format!(" [ -n \"$h\" ] || h={h};"))
                .unwrap_or_default();
            format!(
                "h=$(getent passwd {} | cut -d: -f6);{fallback} f=\"$h\"/{}",
                quote(name),
                quote(&self.file)
            )
        }
    }
    /// The probe section reading an existing key: `file=`, its fingerprint and public key.
    /// `home` is a shell word naming the home of a user still to be created.
    fn probe(&self, name: &str, home: &str) -> String {
        format!(
            "echo @@sshkey\n{}\nprintf 'path=%s\\n' \"$f\"\n\
             if [ -e \"$f.pub\" ]; then echo pub_exists=1; fi\n\
             if [ -e \"$f\" ]; then printf 'file=%s\\n' \"$f\"; \
             printf 'fp=%s\\n' \"$(ssh-keygen -l -f \"$f\" 2>/dev/null)\"; \
             printf 'pub=%s\\n' \"$(cat -- \"$f.pub\" 2>/dev/null)\"; fi\n",
            self.path_code(name, Some(home))
        )
    }
    /// Adds the key to `plan`: the existing key's values, or a change generating one (as the
    /// user, in a 0700 `.ssh` folder) whose values come back from the command.
    fn plan(
        &self,
        ctx: &TaskCtx<'_>,
        name: &str,
        probed: &str,
        mut plan: Plan,
        force: bool,
    ) -> Plan {
        let found = kv(probed);
        let path = found.get("path").cloned().unwrap_or_default();
        let pub_exists = found.contains_key("pub_exists");
        // Ansible's warnings about the key files there
        if found.contains_key("file") {
            push_warning(
                &mut plan,
                if force {
                    format!("Overwriting existing ssh key private file \"{path}\"")
                } else {
                    format!(
                        "Found existing ssh key private file \"{path}\", no force, so skipping ssh-keygen generation"
                    )
                },
            );
        } else if pub_exists {
            // a public key without its private key is left alone too, unless forced
            push_warning(
                &mut plan,
                if force {
                    format!("Overwriting existing ssh key public file \"{path}.pub\"")
                } else {
                    format!(
                        "Found existing ssh key public file \"{path}.pub\", no force, so skipping ssh-keygen generation"
                    )
                },
            );
            if !force {
                plan.result
                    .insert("ssh_key_file".into(), Value::from(path.as_str()));
                plan.result
                    .insert("ssh_fingerprint".into(), Value::from(""));
                plan.result.insert("ssh_public_key".into(), Value::from(""));
                return plan;
            }
        }
        if let (Some(f), false) = (found.get("file"), force) {
            plan.result
                .insert("ssh_key_file".into(), Value::from(f.as_str()));
            plan.result.insert(
                "ssh_fingerprint".into(),
                Value::from(found.get("fp").map(String::as_str).unwrap_or("")),
            );
            plan.result.insert(
                "ssh_public_key".into(),
                Value::from(found.get("pub").map(String::as_str).unwrap_or("")),
            );
            return plan;
        }
        let mut keygen = vec![
            "ssh-keygen".to_string(),
            "-q".into(),
            "-t".into(),
            self.key_type.clone(),
        ];
        if self.bits > 0 {
            keygen.extend(["-b".into(), self.bits.to_string()]);
        }
        let comment = match &self.comment {
            Some(c) => quote(c),
            None => "\"ansible-generated on $(hostname)\"".into(),
        };
        let script = format!(
            "{path}\nd=$(dirname -- \"$f\")\n\
             if [ ! -d \"$d\" ]; then mkdir -m 0700 -- \"$d\" && chown {u}: \"$d\" || exit 1; fi\n\
             rm -f -- \"$f\" \"$f.pub\"\n\
             IFS= read -r P || true\n\
             {keygen} -C {comment} -f \"$f\" -N \"$P\" </dev/null || exit 1\n\
             chown {u}: \"$f\" \"$f.pub\" || exit 1\n\
             esc() {{ printf '%s' \"$1\" | sed 's/\\\\/\\\\\\\\/g; s/\"/\\\\\"/g'; }}\n\
             printf '%s{{\"ssh_key_file\":\"%s\",\"ssh_fingerprint\":\"%s\",\"ssh_public_key\":\"%s\"}}\\n' {rl} \
             \"$(esc \"$f\")\" \"$(esc \"$(ssh-keygen -l -f \"$f\")\")\" \"$(esc \"$(cat -- \"$f.pub\")\")\"",
            path = self.path_code(name, None),
            u = quote(name),
            keygen = quote_all(&keygen),
            rl = quote(crate::modules::RESULT_LINE),
        );
        let mut cmd = ctx.cmd(script);
        // The passphrase goes through stdin, never into the command line of the script.
        cmd.stdin = Stdin::Bytes(
            format!("{}\n", self.passphrase.as_deref().unwrap_or_default()).into_bytes(),
        );
        plan.output_results = true;
        plan.change(
            format!("generate an SSH key ({}) for {name}", self.key_type),
            None,
            Action::Exec {
                cmd,
                capture: false,
                fail_on_rc: true,
            },
        )
    }
}

/// The days since the epoch of `lchage -E` for `expires` (-1: no expiry).
fn lchage_days(exp: f64) -> i64 {
    if exp < 0.0 {
        -1
    } else {
        (exp / 86400.0).floor() as i64
    }
}

/// Adds a warning to the plan's result (`warnings`, a list).
fn push_warning(plan: &mut Plan, w: String) {
    let mut list: Vec<Value> = plan
        .result
        .get("warnings")
        .and_then(|v| v.try_iter().ok())
        .map(|it| it.collect())
        .unwrap_or_default();
    list.push(Value::from(w));
    plan.result.insert("warnings".into(), Value::from(list));
}

/// The `-e` argument of useradd for `expires` (None: no expiry).
fn expiry_date(exp: f64) -> Option<String> {
    (exp >= 0.0).then(|| ymd((exp / 86400.0).floor() as i64))
}

/// Whether `password` looks like a crypt hash (or one of the account-disabling values `*`,
/// `!`, `*************`), by the checks Ansible's user module warns on: no `:`, `*` or `!`,
/// `$`-separated fields whose last one uses only the crypt alphabet and has the length of its
/// scheme (md5 22, sha256 43, sha512 86, yescrypt 43).
fn looks_hashed(p: &str) -> bool {
    if ["*", "!", "*************"].contains(&p) {
        return true;
    }
    if p.contains([':', '*', '!']) || !p.contains('$') {
        return false;
    }
    let fields: Vec<&str> = p.split('$').collect();
    if fields.len() < 3 {
        return false;
    }
    let last = fields[fields.len() - 1];
    if !last
        .chars()
        .all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '/' | '='))
    {
        return false;
    }
    let want = match fields[1] {
        "1" => Some(22),
        "5" | "y" => Some(43),
        "6" => Some(86),
        _ => None,
    };
    want.is_none_or(|n| last.len() == n)
}

#[async_trait]
impl Module for User {
    fn doc(&self) -> &'static ModuleDoc {
        &DOC
    }

    async fn plan(&self, ctx: &TaskCtx<'_>, args: &Args) -> Result<Plan> {
        let o = Opts::from_args(args)?;
        let key = o.generate_ssh_key.then(|| SshKey::from_opts(&o));
        let name = o.name;
        check_name("user", "user name", &name)?;
        if name.contains(':') {
            return Err(Error::failed(format!("user: invalid user name '{name}'")));
        }
        let state = o.state.as_str();
        let password = o.password.filter(|p| !p.is_empty());
        if let Some(p) = &password
            && (p.contains(':') || p.contains('\n'))
        {
            return Err(Error::failed(
                "user: password must be a crypt hash (it contains ':' or a newline)",
            ));
        }
        let local = o.local == Some(true);
        if local {
            for (opt, given) in [
                ("umask", o.umask.is_some()),
                ("uid_min", o.uid_min.is_some()),
                ("uid_max", o.uid_max.is_some()),
            ] {
                if given {
                    return Ok(Plan::fail(format!("'{opt}' can not be used with 'local'")));
                }
            }
        }
        let mut warnings: Vec<Value> = Vec::new();
        if o.groups.is_none() && o.append {
            // Ansible's warning, word for word (its two sentences run together)
            warnings.push(Value::from(
                "'append' is set, but no 'groups' are specified. Use 'groups' for appending \
                 new groups.This will change to an error in Ansible 2.14.",
            ));
        }
        let group = o.group.filter(|g| !g.is_empty());
        let groups_given = o.groups.is_some();
        let groups: Vec<String> = o.groups.unwrap_or_default();
        for g in group.iter().chain(groups.iter()) {
            check_name("user", "group name", g)?;
        }
        let n = quote(&name);
        let mut s = format!(
            "n={n}\ncommand -v useradd >/dev/null 2>&1 && echo useradd=1\n\
             echo @@passwd\ngetent passwd \"$n\"\n\
             echo @@groups\nid -Gn \"$n\" 2>/dev/null\n\
             echo @@pgroup\nid -gn \"$n\" 2>/dev/null\n"
        );
        let lock = o.password_lock;
        let expires = o.expires;
        let aging = [
            o.password_expire_min,
            o.password_expire_max,
            o.password_expire_warn,
        ];
        let inactive = o.password_expire_account_disable;
        if password.is_some()
            || lock.is_some()
            || expires.is_some()
            || inactive.is_some()
            || aging.iter().any(Option::is_some)
        {
            s.push_str("echo @@shadow\ngetent shadow \"$n\" 2>/dev/null\n");
        }
        if local {
            // The local account database only; libuser's commands.
            s.push_str(
                "echo @@local\nfor c in luseradd lusermod luserdel lgroupmod lchage; do \
                 command -v $c >/dev/null 2>&1 || echo \"missing=$c\"; done\n\
                 if [ -f /etc/passwd ]; then awk -F: -v n=\"$n\" '$1 == n {f=1} END {print \"found=\" f+0}' /etc/passwd; \
                 else echo nofile=1; fi\n",
            );
        }
        // A group named like the user: a new user then joins it (useradd -N, luseradd -n)
        // instead of failing to create it.
        s.push_str("echo @@namesake\ngetent group \"$n\" >/dev/null 2>&1 && echo exists=1\n");
        let wanted_groups: Vec<&String> = group.iter().chain(groups.iter()).collect();
        if !wanted_groups.is_empty() {
            s.push_str(&format!(
                "echo @@known\ngetent group {} 2>/dev/null\n",
                quote_all(&wanted_groups)
            ));
        }
        if let Some(k) = &key {
            // the home of a user still to be created: `home`, else useradd's default
            let home = match o.home.as_deref().filter(|h| !h.is_empty()) {
                Some(h) => expand_word(h),
                None => format!(
                    "\"$(useradd -D 2>/dev/null | sed -n 's/^HOME=//p')\"/{}",
                    quote(&name)
                ),
            };
            s.push_str(&k.probe(&name, &home));
        }
        if o.home.is_none() {
            // Where useradd puts a new user's home (HOME= of `useradd -D`), for the result.
            s.push_str("echo @@home_base\nuseradd -D 2>/dev/null | sed -n 's/^HOME=//p'\n");
        }
        // shell and home are paths: like Ansible's `path` type, `~` and `$VAR` expand on the
        // host (as the user the module runs as).
        let expandable =
            |v: &Option<String>| v.as_ref().filter(|v| v.contains(['~', '$'])).cloned();
        let to_expand: Vec<(&str, String)> = [
            ("shell", expandable(&o.shell)),
            ("home", expandable(&o.home)),
        ]
        .into_iter()
        .filter_map(|(k, v)| v.map(|v| (k, v)))
        .collect();
        if !to_expand.is_empty() {
            s.push_str("echo @@expand\n");
            for (k, v) in &to_expand {
                s.push_str(&format!("printf '{k}=%s\\n' {}\n", expand_word(v)));
            }
        }
        if o.create_home && state != "absent" {
            // Whether the home an existing account will have is missing (Ansible creates it).
            let h = match o.home.as_deref().filter(|h| !h.is_empty()) {
                Some(h) => expand_word(h),
                None => "\"$(getent passwd \"$n\" | cut -d: -f6)\"".into(),
            };
            s.push_str(&format!(
                "echo @@homedir\nh={h}; if [ -n \"$h\" ] && [ ! -e \"$h\" ]; then echo missing=1; fi\n"
            ));
        }
        s.push_str("echo @@end\n");
        let out = probe(ctx, s, &format!("user {name}")).await?;
        let sec = sections(&out);
        let get = |k: &str| sec.get(k).map(String::as_str).unwrap_or("");
        let expanded = kv(get("expand"));
        let (mut shell_opt, mut home_opt) = (o.shell.clone(), o.home.clone());
        for (k, _) in &to_expand {
            if let Some(v) = expanded.get(*k) {
                match *k {
                    "shell" => shell_opt = Some(v.clone()),
                    _ => home_opt = Some(v.clone()),
                }
            }
        }
        let mut account = parse_passwd(get("passwd"));
        let local_probe = kv(get("local"));
        if local {
            if local_probe.contains_key("nofile") {
                return Ok(Plan::fail(
                    "'local: true' specified but unable to find local account file /etc/passwd to parse.",
                ));
            }
            if local_probe.get("found").map(String::as_str) != Some("1") {
                account = None;
            }
        }
        // The libuser command a local change needs, when the host has none.
        let missing_tool = |cmd: &str| -> Option<Plan> {
            (local
                && get("local")
                    .lines()
                    .any(|l| l.trim() == format!("missing={cmd}")))
            .then(|| {
                Plan::fail(format!(
                    "Failed to find required executable \"{cmd}\" in paths: {}",
                    "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"
                ))
            })
        };
        let mut plan = Plan::ok().with("name", name.as_str()).with("state", state);
        if let Some(p) = &password {
            plan.result
                .insert("password".into(), Value::from("NOT_LOGGING_PASSWORD"));
            if !looks_hashed(p) {
                warnings.push(Value::from(
                    "The input password appears not to have been hashed. The 'password' \
                     argument must be encrypted for this module to work properly.",
                ));
            }
        }
        if !warnings.is_empty() {
            plan.result.insert("warnings".into(), Value::from(warnings));
        }
        if state == "absent" {
            if let Some(a) = account {
                if let Some(f) = missing_tool("luserdel") {
                    return Ok(f);
                }
                let mut cmd = vec![if local { "luserdel" } else { "userdel" }.to_string()];
                if o.remove {
                    cmd.push("-r".into());
                }
                if o.force && !local {
                    cmd.push("-f".into());
                }
                cmd.push(name.clone());
                plan.result.insert("remove".into(), Value::from(o.remove));
                return Ok(plan.change(
                    format!(
                        "remove user {name}{}",
                        if o.remove { " and its home" } else { "" }
                    ),
                    Some(state_diff(
                        &name,
                        &[
                            ("user", name.clone()),
                            ("uid", a.uid),
                            ("state", "present".into()),
                        ],
                        &[("user", name.clone()), ("state", "absent".into())],
                    )),
                    exec(ctx, quote_all(&cmd), false),
                ));
            }
            return Ok(plan);
        }
        if !kv(get("")).contains_key("useradd") {
            return Ok(Plan::fail(format!(
                "useradd is not available on {} (install the passwd/shadow package)",
                ctx.host
            )));
        }
        let known = parse_groups(get("known"));
        if let Some(g) = &group
            && !group_known(&known, g)
        {
            return Ok(Plan::fail(format!("Group {g} does not exist")));
        }
        for g in &groups {
            if !group_known(&known, g) {
                return Ok(Plan::fail(format!("Group {g} does not exist")));
            }
        }
        // Normalise wanted supplementary groups to names (they may be gids).
        let gname = |g: &str| {
            known
                .iter()
                .find(|(n, id)| n == g || id == g)
                .map(|(n, _)| n.clone())
                .unwrap_or_else(|| g.to_string())
        };
        let want_groups: Vec<String> = groups.iter().map(|g| gname(g)).collect();
        let uid = o.uid;
        let shell = shell_opt.filter(|s| !s.is_empty());
        let home = home_opt.filter(|s| !s.is_empty());
        let comment = o.comment;
        let namesake_group = kv(get("namesake")).contains_key("exists");
        let Some(a) = account else {
            // Create.
            if let Some(f) = ["luseradd", "lgroupmod", "lchage"]
                .into_iter()
                .find_map(&missing_tool)
            {
                return Ok(f);
            }
            let mut cmd: Vec<String> = vec![if local { "luseradd" } else { "useradd" }.into()];
            if let Some(u) = uid {
                cmd.extend(["-u".into(), u.to_string()]);
                if o.non_unique {
                    cmd.push("-o".into());
                }
            }
            if let Some(g) = &group {
                cmd.extend(["-g".into(), g.clone()]);
            } else if namesake_group {
                cmd.push(if local { "-n" } else { "-N" }.into());
            }
            if !want_groups.is_empty() && !local {
                cmd.extend(["-G".into(), want_groups.join(",")]);
            }
            if let Some(v) = &shell {
                cmd.extend(["-s".into(), v.clone()]);
            }
            if let Some(v) = &home {
                cmd.extend(["-d".into(), v.clone()]);
            }
            if let Some(v) = &comment {
                cmd.extend(["-c".into(), v.clone()]);
            }
            if o.system {
                cmd.push("-r".into());
            }
            if let Some(d) = expires.and_then(expiry_date)
                && !local
            {
                cmd.extend(["-e".into(), d]);
            }
            if let Some(i) = inactive {
                cmd.extend(["-f".into(), i.to_string()]);
            }
            if let Some(z) = &o.seuser {
                cmd.extend(["-Z".into(), z.clone()]);
            }
            // luseradd makes the home unless told not to
            if !o.create_home {
                cmd.push("-M".into());
            } else if !local {
                cmd.push("-m".into());
            }
            if o.create_home {
                if let Some(k) = &o.skeleton {
                    cmd.extend(["-k".into(), k.clone()]);
                }
                if let Some(u) = &o.umask {
                    cmd.extend(["-K".into(), format!("UMASK={u}")]);
                }
            }
            for (k, v) in [("UID_MIN", o.uid_min), ("UID_MAX", o.uid_max)] {
                if let Some(v) = v {
                    cmd.extend(["-K".into(), format!("{k}={v}")]);
                }
            }
            cmd.push(name.clone());
            let mut after = vec![("user", name.clone()), ("state", "present".to_string())];
            if let Some(u) = uid {
                after.push(("uid", u.to_string()));
            }
            if let Some(g) = &group {
                after.push(("group", g.clone()));
            }
            if !want_groups.is_empty() {
                after.push(("groups", want_groups.join(",")));
            }
            if let Some(v) = &shell {
                after.push(("shell", v.clone()));
            }
            if let Some(v) = &home {
                after.push(("home", v.clone()));
            }
            if let Some(v) = &comment {
                after.push(("comment", v.clone()));
            }
            if password.is_some() {
                after.push(("password", "(set)".into()));
            }
            if let Some(d) = expires.and_then(expiry_date) {
                after.push(("expires", d));
            }
            let usermod = if local { "lusermod" } else { "usermod" };
            // libuser sets the expiry and the groups after creating the account
            let local_expiry = expires
                .filter(|_| local)
                .map(|e| format!("lchage -E {} {}", lchage_days(e), quote(&name)));
            let local_groups = (local && !want_groups.is_empty()).then(|| {
                want_groups
                    .iter()
                    .map(|g| format!("lgroupmod -M {} {}", quote(&name), quote(g)))
                    .collect::<Vec<_>>()
                    .join(" && ")
            });
            let post = join_post([
                local_expiry,
                local_groups,
                match lock {
                    Some(true) => Some(format!("{usermod} -L {}", quote(&name))),
                    _ => None,
                },
                chage(&name, aging),
                Some(readback(&name)),
            ]);
            plan.output_results = true;
            plan.result.insert("system".into(), Value::from(o.system));
            plan.result
                .insert("create_home".into(), Value::from(o.create_home));
            if !want_groups.is_empty() {
                plan.result
                    .insert("groups".into(), Value::from(want_groups.join(",")));
            }
            for (k, v) in [("shell", &shell), ("home", &home), ("comment", &comment)] {
                if let Some(v) = v {
                    plan.result.insert(k.into(), Value::from(v.as_str()));
                }
            }
            // useradd's default home (`useradd -D`, read by the probe; /home without it):
            // Ansible returns it for a new user, and playbooks use it (`{{ user.home }}/.ssh`).
            if home.is_none() {
                let base = get("home_base").trim();
                let base = if base.is_empty() { "/home" } else { base };
                plan.result.insert(
                    "home".into(),
                    Value::from(format!("{}/{name}", base.trim_end_matches('/'))),
                );
            }
            let plan = plan.change(
                format!("create user {name}"),
                Some(state_diff(
                    &name,
                    &[("user", name.clone()), ("state", "absent".into())],
                    &after,
                )),
                with_password(ctx, quote_all(&cmd), &name, password.as_deref(), post),
            );
            return Ok(match &key {
                Some(k) => k.plan(ctx, &name, get("sshkey"), plan, o.force),
                None => plan,
            });
        };
        // Modify.
        let pgroup = get("pgroup").trim().to_string();
        let mut cur_groups: Vec<String> = get("groups")
            .split_whitespace()
            .filter(|g| *g != pgroup)
            .map(str::to_string)
            .collect();
        cur_groups.sort();
        cur_groups.dedup();
        if let Some(f) = ["lusermod", "lgroupmod", "lchage"]
            .into_iter()
            .find_map(&missing_tool)
        {
            return Ok(f);
        }
        let usermod = if local { "lusermod" } else { "usermod" };
        let mut cmd: Vec<String> = vec![usermod.into()];
        // libuser changes group memberships with lgroupmod (-M adds, -m removes)
        let mut local_groups: Vec<String> = Vec::new();
        let mut local_expiry: Option<String> = None;
        let mut before: Vec<(&str, String)> = Vec::new();
        let mut after: Vec<(&str, String)> = Vec::new();
        if let Some(u) = uid
            && u.to_string() != a.uid
        {
            cmd.extend(["-u".into(), u.to_string()]);
            if o.non_unique {
                cmd.push("-o".into());
            }
            before.push(("uid", a.uid.clone()));
            after.push(("uid", u.to_string()));
        }
        if let Some(g) = &group {
            let same = if g.bytes().all(|c| c.is_ascii_digit()) {
                *g == a.gid
            } else {
                *g == pgroup
            };
            if !same {
                // by gid, as Ansible does (lusermod takes no group name)
                let gid = known
                    .iter()
                    .find(|(n, id)| n == g || id == g)
                    .map(|(_, id)| id.clone())
                    .unwrap_or_else(|| g.clone());
                cmd.extend(["-g".into(), gid]);
                before.push(("group", pgroup.clone()));
                after.push(("group", g.clone()));
            }
        }
        let mut final_groups = cur_groups.clone();
        if groups_given {
            let mut want: Vec<String> = want_groups
                .iter()
                .filter(|g| **g != pgroup)
                .cloned()
                .collect();
            want.sort();
            want.dedup();
            let append = o.append;
            let missing: Vec<&String> = want.iter().filter(|g| !cur_groups.contains(g)).collect();
            let differs = if append {
                !missing.is_empty()
            } else {
                want != cur_groups
            };
            if differs {
                let add: Vec<String> = missing.iter().map(|g| (*g).clone()).collect();
                let del: Vec<String> = if append {
                    Vec::new()
                } else {
                    cur_groups
                        .iter()
                        .filter(|g| !want.contains(g))
                        .cloned()
                        .collect()
                };
                if append {
                    final_groups.extend(add.iter().cloned());
                    final_groups.sort();
                } else {
                    final_groups = want.clone();
                }
                if local {
                    let q = quote(&name);
                    local_groups
                        .extend(add.iter().map(|g| format!("lgroupmod -M {q} {}", quote(g))));
                    local_groups
                        .extend(del.iter().map(|g| format!("lgroupmod -m {q} {}", quote(g))));
                } else {
                    if append {
                        cmd.push("-a".into());
                    }
                    cmd.extend(["-G".into(), want.join(",")]);
                }
                before.push(("groups", cur_groups.join(",")));
                after.push(("groups", final_groups.join(",")));
            }
        }
        if let Some(v) = &shell
            && *v != a.shell
        {
            cmd.extend(["-s".into(), v.clone()]);
            before.push(("shell", a.shell.clone()));
            after.push(("shell", v.clone()));
        }
        if let Some(v) = &home
            && *v != a.home
        {
            cmd.extend(["-d".into(), v.clone()]);
            if o.move_home {
                cmd.push("-m".into());
            }
            before.push(("home", a.home.clone()));
            after.push(("home", v.clone()));
        }
        if let Some(v) = &comment
            && *v != a.comment
        {
            cmd.extend(["-c".into(), v.clone()]);
            before.push(("comment", a.comment.clone()));
            after.push(("comment", v.clone()));
        }
        let shadow: Vec<&str> = get("shadow").trim().split(':').collect();
        let cur_hash = shadow.get(1).copied().unwrap_or("");
        let locked = cur_hash.starts_with('!');
        let set_pw = match &password {
            Some(p) if o.update_password != "on_create" => {
                let cur = if lock == Some(true) {
                    cur_hash.trim_start_matches('!')
                } else {
                    cur_hash
                };
                cur != p.as_str()
            }
            _ => false,
        };
        if set_pw {
            before.push(("password", "(hidden)".into()));
            after.push(("password", "(changed)".into()));
        }
        if let Some(exp) = expires {
            // No shadow entry reads as day 0, as in Ansible: `usermod -e` then writes one.
            // (a negative day, as libuser writes "never", is no expiry too)
            let cur_days = if shadow.len() < 2 {
                Some(0)
            } else {
                shadow
                    .get(7)
                    .and_then(|d| d.trim().parse::<i64>().ok())
                    .filter(|d| *d >= 0)
            };
            let want_days = (exp >= 0.0).then(|| (exp / 86400.0).floor() as i64);
            if cur_days != want_days {
                let fmt = |d: Option<i64>| d.map(ymd).unwrap_or_else(|| "never".to_string());
                if local {
                    local_expiry = Some(format!("lchage -E {} {}", lchage_days(exp), quote(&name)));
                } else {
                    cmd.extend(["-e".into(), want_days.map(ymd).unwrap_or_default()]);
                }
                before.push(("expires", fmt(cur_days)));
                after.push(("expires", fmt(want_days)));
            }
        }
        if let Some(i) = inactive {
            let cur = shadow
                .get(6)
                .map(|d| d.trim().to_string())
                .unwrap_or_default();
            if cur != i.to_string() {
                cmd.extend(["-f".into(), i.to_string()]);
                before.push(("password_expire_account_disable", cur));
                after.push(("password_expire_account_disable", i.to_string()));
            }
        }
        // chage for the aging fields that differ from the shadow entry (min, max, warn).
        let mut aging_change = [None, None, None];
        for (i, (label, want)) in [
            "password_expire_min",
            "password_expire_max",
            "password_expire_warn",
        ]
        .into_iter()
        .zip(aging)
        .enumerate()
        {
            let cur = shadow
                .get(3 + i)
                .map(|d| d.trim().to_string())
                .unwrap_or_default();
            if let Some(w) = want
                && cur != w.to_string()
            {
                aging_change[i] = Some(w);
                before.push((label, cur));
                after.push((label, w.to_string()));
            }
        }
        // after a new password is set, the account is unlocked
        let locked_after_pw = locked && !set_pw;
        let lock_cmd = match lock {
            Some(true) if !locked_after_pw => Some(format!("{usermod} -L {}", quote(&name))),
            Some(false) if locked && !set_pw => Some(format!("{usermod} -U {}", quote(&name))),
            _ => None,
        };
        let lock_changes = lock_cmd.is_some();
        let post = join_post([
            local_expiry,
            (!local_groups.is_empty()).then(|| local_groups.join(" && ")),
            lock_cmd,
            chage(&name, aging_change),
        ]);
        if let Some(l) = lock
            && lock_changes
            && (l != locked || set_pw)
        {
            before.push(("password_lock", locked.to_string()));
            after.push(("password_lock", l.to_string()));
        }
        // A missing home is created (from the skeleton, with login.defs' HOME_MODE or UMASK),
        // unless usermod moves the old one there.
        let home_moves = o.move_home && after.iter().any(|(k, _)| *k == "home");
        let final_home = home.clone().unwrap_or_else(|| a.home.clone());
        let make_home = (o.create_home
            && !home_moves
            && kv(get("homedir")).contains_key("missing"))
        .then(|| {
            (
                format!("create home directory {final_home}"),
                exec(
                    ctx,
                    create_home_script(&name, &final_home, o.skeleton.as_deref()),
                    false,
                ),
            )
        });
        let get_final = |k: &str, cur: &str| {
            after
                .iter()
                .find(|(x, _)| *x == k)
                .map(|(_, v)| v.clone())
                .unwrap_or_else(|| cur.to_string())
        };
        plan.result.insert(
            "uid".into(),
            Value::from(get_final("uid", &a.uid).parse::<i64>().unwrap_or(0)),
        );
        plan.result.insert(
            "group".into(),
            Value::from(a.gid.parse::<i64>().unwrap_or(0)),
        );
        plan.result
            .insert("groups".into(), Value::from(final_groups.join(",")));
        plan.result
            .insert("shell".into(), Value::from(get_final("shell", &a.shell)));
        plan.result
            .insert("home".into(), Value::from(get_final("home", &a.home)));
        plan.result.insert(
            "comment".into(),
            Value::from(get_final("comment", &a.comment)),
        );
        plan.result.insert("append".into(), Value::from(o.append));
        plan.result
            .insert("move_home".into(), Value::from(o.move_home));
        if before.is_empty() {
            let plan = match make_home {
                Some((summary, action)) => plan.change(summary, None, action),
                None => plan,
            };
            return Ok(match &key {
                Some(k) => k.plan(ctx, &name, get("sshkey"), plan, o.force),
                None => plan,
            });
        }
        let fields: Vec<&str> = after.iter().map(|(k, _)| *k).collect();
        let script = if cmd.len() > 1 {
            cmd.push(name.clone());
            quote_all(&cmd)
        } else {
            "true".into()
        };
        let mut diff_before = vec![("user", name.clone())];
        diff_before.extend(before);
        let mut diff_after = vec![("user", name.clone())];
        diff_after.extend(after.clone());
        let plan = plan.change(
            format!("change user {name}: {}", fields.join(", ")),
            Some(state_diff(&name, &diff_before, &diff_after)),
            with_password(
                ctx,
                script,
                &name,
                password.as_deref().filter(|_| set_pw),
                post,
            ),
        );
        let plan = match make_home {
            Some((summary, action)) => plan.change(summary, None, action),
            None => plan,
        };
        Ok(match &key {
            Some(k) => k.plan(ctx, &name, get("sshkey"), plan, o.force),
            None => plan,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The home creation script, run here on a temporary folder: a copy of the skeleton (its
    /// files and links kept), with login.defs' mode, owned by the user.
    #[test]
    fn a_missing_home_is_made_from_the_skeleton() {
        let d = std::env::temp_dir().join(format!("prov-user-home-{}", std::process::id()));
        let skel = d.join("skel");
        std::fs::create_dir_all(&skel).unwrap();
        std::fs::write(skel.join(".profile"), "x\n").unwrap();
        std::os::unix::fs::symlink("/nonexistent", skel.join("link")).unwrap();
        let me = String::from_utf8(
            std::process::Command::new("id")
                .arg("-un")
                .output()
                .unwrap()
                .stdout,
        )
        .unwrap();
        let home = d.join("deep/home");
        let script = create_home_script(
            me.trim(),
            home.to_str().unwrap(),
            Some(skel.to_str().unwrap()),
        );
        std::fs::create_dir_all(d.join("deep")).unwrap();
        let out = std::process::Command::new("sh")
            .arg("-c")
            .arg(&script)
            .output()
            .unwrap();
        assert!(out.status.success(), "{script}\n{out:?}");
        assert_eq!(
            std::fs::read_to_string(home.join(".profile")).unwrap(),
            "x\n"
        );
        assert!(
            std::fs::symlink_metadata(home.join("link"))
                .unwrap()
                .is_symlink()
        );
        let _ = std::fs::remove_dir_all(&d);
        // no skeleton: an empty folder
        assert!(create_home_script("u", "/h", None).contains("sk=/etc/skel;"));
    }

    #[test]
    fn plaintext_passwords_are_told_apart_from_hashes() {
        let sha512 = format!("$6$rounds=656000$tgK3gYTyRLUmhyv2${}", "a".repeat(86));
        assert!(looks_hashed(&sha512));
        assert!(looks_hashed(
            "$y$j9T$salt$abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQ"
        ));
        for p in ["*", "!", "*************"] {
            assert!(looks_hashed(p));
        }
        assert!(!looks_hashed("plaintextpassword"));
        assert!(!looks_hashed("$6$salt$short"));
        assert!(!looks_hashed(&format!("$6$salt${}+++", "a".repeat(83))));
        assert!(!looks_hashed("!$6$locked"));
        assert!(!looks_hashed("$1$x"));
    }

    #[test]
    fn the_password_is_a_secret() {
        assert!(DOC.option("password").unwrap().secret);
    }

    #[test]
    fn parses_passwd_and_groups() {
        let a = parse_passwd("bob:x:1001:1001:Bob,,,:/home/bob:/bin/bash\n").unwrap();
        assert_eq!(a.uid, "1001");
        assert_eq!(a.comment, "Bob,,,");
        assert_eq!(a.shell, "/bin/bash");
        assert!(parse_passwd("").is_none());
        let g = parse_groups("sudo:x:27:bob\nusers:x:100:\n");
        assert!(group_known(&g, "sudo"));
        assert!(group_known(&g, "100"));
        assert!(!group_known(&g, "docker"));
        assert_eq!(ymd(0), "1970-01-01");
        assert_eq!(ymd(19723), "2024-01-01");
        assert_eq!(ymd(11016), "2000-02-29");
    }
}
