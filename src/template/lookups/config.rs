//! Ansible's `config` lookup: the resolved value of an Ansible configuration setting (or of a
//! plugin's option with `plugin_type`/`plugin_name`), from the task's variables, the
//! environment, ansible.cfg or the default, in Ansible's order of precedence.
//!
//! prov knows the settings playbooks commonly read (the `DEFAULT_*` ones, colours, paths and
//! the options of the connection, shell and become plugins prov implements); any other name is
//! "No config definition exists", handled as `on_missing` says.

use crate::error::{Error, Result};
use crate::template::Context;
use crate::template::filters::py_str;
use crate::value::Value;
use minijinja::value::ValueKind;
use std::collections::HashMap;

/// How a setting's text (from the environment, ansible.cfg or a default) becomes a value.
#[derive(Debug, Clone, Copy, PartialEq)]
enum Kind {
    Str,
    Bool,
    Int,
    /// Comma-separated.
    List,
    /// `~` expanded.
    Path,
    /// Colon-separated paths.
    PathSpec,
    /// Comma-separated paths.
    PathList,
}

/// A setting: its name, type, default (`None` for none; `{home}` is `ANSIBLE_HOME`),
/// environment variables, ansible.cfg `(section, key)`s and variables, each later one winning.
struct Setting {
    name: &'static str,
    kind: Kind,
    default: Option<&'static str>,
    env: &'static [&'static str],
    ini: &'static [(&'static str, &'static str)],
    vars: &'static [&'static str],
}

/// A setting or plugin option, owned (the options of a plugin's documentation are read at
/// run time).
#[derive(Debug, Clone)]
struct Opt {
    name: String,
    kind: Kind,
    default: Option<String>,
    env: Vec<String>,
    ini: Vec<(String, String)>,
    vars: Vec<String>,
    required: bool,
}

impl From<&Setting> for Opt {
    fn from(s: &Setting) -> Opt {
        Opt {
            name: s.name.into(),
            kind: s.kind,
            default: s.default.map(Into::into),
            env: s.env.iter().map(|e| e.to_string()).collect(),
            ini: s
                .ini
                .iter()
                .map(|(a, b)| (a.to_string(), b.to_string()))
                .collect(),
            vars: s.vars.iter().map(|v| v.to_string()).collect(),
            required: false,
        }
    }
}

const fn s(
    name: &'static str,
    kind: Kind,
    default: Option<&'static str>,
    env: &'static [&'static str],
    ini: &'static [(&'static str, &'static str)],
) -> Setting {
    Setting {
        name,
        kind,
        default,
        env,
        ini,
        vars: &[],
    }
}

use Kind::*;

const COW_ACCEPTLIST: &str = "bud-frogs,bunny,cheese,daemon,default,dragon,elephant-in-snake,\
    elephant,eyes,hellokitty,kitty,luke-koala,meow,milk,moofasa,moose,ren,sheep,small,\
    stegosaurus,stimpy,supermilker,three-eyes,turkey,turtle,tux,udder,vader-koala,vader,www";

/// Ansible's global settings prov resolves.
static SETTINGS: &[Setting] = &[
    s(
        "ANSIBLE_HOME",
        Path,
        Some("~/.ansible"),
        &["ANSIBLE_HOME"],
        &[("defaults", "home")],
    ),
    s(
        "ANSIBLE_COW_ACCEPTLIST",
        List,
        Some(COW_ACCEPTLIST),
        &["ANSIBLE_COW_ACCEPTLIST"],
        &[("defaults", "cowsay_enabled_stencils")],
    ),
    s(
        "ANSIBLE_FORCE_COLOR",
        Bool,
        Some("false"),
        &["ANSIBLE_FORCE_COLOR"],
        &[("defaults", "force_color")],
    ),
    s(
        "ANSIBLE_NOCOLOR",
        Bool,
        Some("false"),
        &["ANSIBLE_NOCOLOR", "NO_COLOR"],
        &[("defaults", "nocolor")],
    ),
    s(
        "ANSIBLE_NOCOWS",
        Bool,
        Some("false"),
        &["ANSIBLE_NOCOWS"],
        &[("defaults", "nocows")],
    ),
    s(
        "ANY_ERRORS_FATAL",
        Bool,
        Some("false"),
        &["ANSIBLE_ANY_ERRORS_FATAL"],
        &[("defaults", "any_errors_fatal")],
    ),
    s(
        "COLLECTIONS_PATHS",
        PathSpec,
        Some("{home}/collections:/usr/share/ansible/collections"),
        &["ANSIBLE_COLLECTIONS_PATH"],
        &[("defaults", "collections_path")],
    ),
    s(
        "COLOR_CHANGED",
        Str,
        Some("yellow"),
        &["ANSIBLE_COLOR_CHANGED"],
        &[("colors", "changed")],
    ),
    s(
        "COLOR_CONSOLE_PROMPT",
        Str,
        Some("white"),
        &["ANSIBLE_COLOR_CONSOLE_PROMPT"],
        &[("colors", "console_prompt")],
    ),
    s(
        "COLOR_DEBUG",
        Str,
        Some("dark gray"),
        &["ANSIBLE_COLOR_DEBUG"],
        &[("colors", "debug")],
    ),
    s(
        "COLOR_DEPRECATE",
        Str,
        Some("purple"),
        &["ANSIBLE_COLOR_DEPRECATE"],
        &[("colors", "deprecate")],
    ),
    s(
        "COLOR_DIFF_ADD",
        Str,
        Some("green"),
        &["ANSIBLE_COLOR_DIFF_ADD"],
        &[("colors", "diff_add")],
    ),
    s(
        "COLOR_DIFF_LINES",
        Str,
        Some("cyan"),
        &["ANSIBLE_COLOR_DIFF_LINES"],
        &[("colors", "diff_lines")],
    ),
    s(
        "COLOR_DIFF_REMOVE",
        Str,
        Some("red"),
        &["ANSIBLE_COLOR_DIFF_REMOVE"],
        &[("colors", "diff_remove")],
    ),
    s(
        "COLOR_ERROR",
        Str,
        Some("red"),
        &["ANSIBLE_COLOR_ERROR"],
        &[("colors", "error")],
    ),
    s(
        "COLOR_HIGHLIGHT",
        Str,
        Some("white"),
        &["ANSIBLE_COLOR_HIGHLIGHT"],
        &[("colors", "highlight")],
    ),
    s(
        "COLOR_OK",
        Str,
        Some("green"),
        &["ANSIBLE_COLOR_OK"],
        &[("colors", "ok")],
    ),
    s(
        "COLOR_SKIP",
        Str,
        Some("cyan"),
        &["ANSIBLE_COLOR_SKIP"],
        &[("colors", "skip")],
    ),
    s(
        "COLOR_UNREACHABLE",
        Str,
        Some("bright red"),
        &["ANSIBLE_COLOR_UNREACHABLE"],
        &[("colors", "unreachable")],
    ),
    s(
        "COLOR_VERBOSE",
        Str,
        Some("blue"),
        &["ANSIBLE_COLOR_VERBOSE"],
        &[("colors", "verbose")],
    ),
    s(
        "COLOR_WARN",
        Str,
        Some("bright purple"),
        &["ANSIBLE_COLOR_WARN"],
        &[("colors", "warn")],
    ),
    s(
        "DEFAULT_ACTION_PLUGIN_PATH",
        PathSpec,
        Some("{home}/plugins/action:/usr/share/ansible/plugins/action"),
        &["ANSIBLE_ACTION_PLUGINS"],
        &[("defaults", "action_plugins")],
    ),
    s(
        "DEFAULT_ASK_PASS",
        Bool,
        Some("false"),
        &["ANSIBLE_ASK_PASS"],
        &[("defaults", "ask_pass")],
    ),
    s(
        "DEFAULT_ASK_VAULT_PASS",
        Bool,
        Some("false"),
        &["ANSIBLE_ASK_VAULT_PASS"],
        &[("defaults", "ask_vault_pass")],
    ),
    s(
        "DEFAULT_BECOME",
        Bool,
        Some("false"),
        &["ANSIBLE_BECOME"],
        &[("privilege_escalation", "become")],
    ),
    s(
        "DEFAULT_BECOME_EXE",
        Str,
        None,
        &["ANSIBLE_BECOME_EXE"],
        &[("privilege_escalation", "become_exe")],
    ),
    s(
        "DEFAULT_BECOME_FLAGS",
        Str,
        Some(""),
        &["ANSIBLE_BECOME_FLAGS"],
        &[("privilege_escalation", "become_flags")],
    ),
    s(
        "DEFAULT_BECOME_METHOD",
        Str,
        Some("sudo"),
        &["ANSIBLE_BECOME_METHOD"],
        &[("privilege_escalation", "become_method")],
    ),
    s(
        "DEFAULT_BECOME_USER",
        Str,
        Some("root"),
        &["ANSIBLE_BECOME_USER"],
        &[("privilege_escalation", "become_user")],
    ),
    s(
        "DEFAULT_FILTER_PLUGIN_PATH",
        PathSpec,
        Some("{home}/plugins/filter:/usr/share/ansible/plugins/filter"),
        &["ANSIBLE_FILTER_PLUGINS"],
        &[("defaults", "filter_plugins")],
    ),
    s(
        "DEFAULT_FORKS",
        Int,
        Some("5"),
        &["ANSIBLE_FORKS"],
        &[("defaults", "forks")],
    ),
    s(
        "DEFAULT_GATHERING",
        Str,
        Some("implicit"),
        &["ANSIBLE_GATHERING"],
        &[("defaults", "gathering")],
    ),
    s(
        "DEFAULT_HASH_BEHAVIOUR",
        Str,
        Some("replace"),
        &["ANSIBLE_HASH_BEHAVIOUR"],
        &[("defaults", "hash_behaviour")],
    ),
    s(
        "DEFAULT_HOST_LIST",
        PathList,
        Some("/etc/ansible/hosts"),
        &["ANSIBLE_INVENTORY"],
        &[("defaults", "inventory")],
    ),
    s(
        "DEFAULT_INVENTORY_PLUGIN_PATH",
        PathSpec,
        Some("{home}/plugins/inventory:/usr/share/ansible/plugins/inventory"),
        &["ANSIBLE_INVENTORY_PLUGINS"],
        &[("defaults", "inventory_plugins")],
    ),
    s(
        "DEFAULT_JINJA2_NATIVE",
        Bool,
        Some("true"),
        &["ANSIBLE_JINJA2_NATIVE"],
        &[("defaults", "jinja2_native")],
    ),
    s(
        "DEFAULT_KEEP_REMOTE_FILES",
        Bool,
        Some("false"),
        &["ANSIBLE_KEEP_REMOTE_FILES"],
        &[("defaults", "keep_remote_files")],
    ),
    s(
        "DEFAULT_LOCAL_TMP",
        Path,
        Some("{home}/tmp"),
        &["ANSIBLE_LOCAL_TEMP"],
        &[("defaults", "local_tmp")],
    ),
    s(
        "DEFAULT_LOG_PATH",
        Path,
        None,
        &["ANSIBLE_LOG_PATH"],
        &[("defaults", "log_path")],
    ),
    s(
        "DEFAULT_LOOKUP_PLUGIN_PATH",
        PathSpec,
        Some("{home}/plugins/lookup:/usr/share/ansible/plugins/lookup"),
        &["ANSIBLE_LOOKUP_PLUGINS"],
        &[("defaults", "lookup_plugins")],
    ),
    s(
        "DEFAULT_MANAGED_STR",
        Str,
        Some("Ansible managed"),
        &[],
        &[("defaults", "ansible_managed")],
    ),
    s(
        "DEFAULT_MODULE_NAME",
        Str,
        Some("command"),
        &[],
        &[("defaults", "module_name")],
    ),
    s(
        "DEFAULT_MODULE_PATH",
        PathSpec,
        Some("{home}/plugins/modules:/usr/share/ansible/plugins/modules"),
        &["ANSIBLE_LIBRARY"],
        &[("defaults", "library")],
    ),
    s(
        "DEFAULT_NO_LOG",
        Bool,
        Some("false"),
        &["ANSIBLE_NO_LOG"],
        &[("defaults", "no_log")],
    ),
    s(
        "DEFAULT_POLL_INTERVAL",
        Int,
        Some("15"),
        &["ANSIBLE_POLL_INTERVAL"],
        &[("defaults", "poll_interval")],
    ),
    s(
        "DEFAULT_PRIVATE_KEY_FILE",
        Path,
        None,
        &["ANSIBLE_PRIVATE_KEY_FILE"],
        &[("defaults", "private_key_file")],
    ),
    s(
        "DEFAULT_PRIVATE_ROLE_VARS",
        Bool,
        Some("false"),
        &["ANSIBLE_PRIVATE_ROLE_VARS"],
        &[("defaults", "private_role_vars")],
    ),
    s(
        "DEFAULT_REMOTE_PORT",
        Int,
        None,
        &["ANSIBLE_REMOTE_PORT"],
        &[("defaults", "remote_port")],
    ),
    s(
        "DEFAULT_REMOTE_USER",
        Str,
        None,
        &["ANSIBLE_REMOTE_USER"],
        &[("defaults", "remote_user")],
    ),
    s(
        "DEFAULT_ROLES_PATH",
        PathSpec,
        Some("{home}/roles:/usr/share/ansible/roles:/etc/ansible/roles"),
        &["ANSIBLE_ROLES_PATH"],
        &[("defaults", "roles_path")],
    ),
    s(
        "DEFAULT_STDOUT_CALLBACK",
        Str,
        Some("default"),
        &["ANSIBLE_STDOUT_CALLBACK"],
        &[("defaults", "stdout_callback")],
    ),
    s(
        "DEFAULT_SU",
        Bool,
        Some("false"),
        &["ANSIBLE_SU"],
        &[("defaults", "su")],
    ),
    s(
        "DEFAULT_TIMEOUT",
        Int,
        Some("10"),
        &["ANSIBLE_TIMEOUT"],
        &[("defaults", "timeout")],
    ),
    s(
        "DEFAULT_TRANSPORT",
        Str,
        Some("ssh"),
        &["ANSIBLE_TRANSPORT"],
        &[("defaults", "transport")],
    ),
    s(
        "DEFAULT_UNDEFINED_VAR_BEHAVIOR",
        Bool,
        Some("true"),
        &["ANSIBLE_ERROR_ON_UNDEFINED_VARS"],
        &[("defaults", "error_on_undefined_vars")],
    ),
    s(
        "DEFAULT_VAULT_IDENTITY",
        Str,
        Some("default"),
        &["ANSIBLE_VAULT_IDENTITY"],
        &[("defaults", "vault_identity")],
    ),
    s(
        "DEFAULT_VAULT_PASSWORD_FILE",
        Path,
        None,
        &["ANSIBLE_VAULT_PASSWORD_FILE"],
        &[("defaults", "vault_password_file")],
    ),
    Setting {
        vars: &["ansible_deprecation_warnings"],
        ..s(
            "DEPRECATION_WARNINGS",
            Bool,
            Some("true"),
            &["ANSIBLE_DEPRECATION_WARNINGS"],
            &[("defaults", "deprecation_warnings")],
        )
    },
    s(
        "DISPLAY_SKIPPED_HOSTS",
        Bool,
        Some("true"),
        &["ANSIBLE_DISPLAY_SKIPPED_HOSTS"],
        &[("defaults", "display_skipped_hosts")],
    ),
    s(
        "HOST_KEY_CHECKING",
        Bool,
        Some("true"),
        &["ANSIBLE_HOST_KEY_CHECKING"],
        &[("defaults", "host_key_checking")],
    ),
    Setting {
        vars: &["ansible_python_interpreter"],
        ..s(
            "INTERPRETER_PYTHON",
            Str,
            Some("auto"),
            &["ANSIBLE_PYTHON_INTERPRETER"],
            &[("defaults", "interpreter_python")],
        )
    },
    s(
        "INVENTORY_UNPARSED_IS_FAILED",
        Bool,
        Some("false"),
        &["ANSIBLE_INVENTORY_UNPARSED_FAILED"],
        &[("inventory", "unparsed_is_failed")],
    ),
    s(
        "MAX_FILE_SIZE_FOR_DIFF",
        Int,
        Some("104448"),
        &["ANSIBLE_MAX_DIFF_SIZE"],
        &[("defaults", "max_diff_size")],
    ),
    s(
        "RETRY_FILES_ENABLED",
        Bool,
        Some("false"),
        &["ANSIBLE_RETRY_FILES_ENABLED"],
        &[("defaults", "retry_files_enabled")],
    ),
    s(
        "RETRY_FILES_SAVE_PATH",
        Path,
        None,
        &["ANSIBLE_RETRY_FILES_SAVE_PATH"],
        &[("defaults", "retry_files_save_path")],
    ),
    s(
        "SYSTEM_WARNINGS",
        Bool,
        Some("true"),
        &["ANSIBLE_SYSTEM_WARNINGS"],
        &[("defaults", "system_warnings")],
    ),
    // ansible-core's own entries for testing the config system.
    Setting {
        vars: &["_z_test_entry"],
        ..s(
            "_Z_TEST_ENTRY",
            Str,
            None,
            &["ANSIBLE_TEST_ENTRY", "ANSIBLE_TEST_ENTRY_D"],
            &[("testing", "valid"), ("testing", "deprecated")],
        )
    },
    s(
        "_Z_TEST_ENTRY_3",
        Path,
        Some("{home}"),
        &["ANSIBLE_TEST_ENTRY3"],
        &[("testing", "valid3")],
    ),
];

/// Options of plugin `pname` of type `ptype`: those of the plugins prov implements, else those
/// a Python plugin's `DOCUMENTATION` declares (found in the plugin folders); `None` when there
/// is no such plugin.
fn plugin_options(ptype: &str, pname: &str, ctx: Option<&Context>) -> Option<Vec<Opt>> {
    if let Some(known) = builtin_plugin_options(ptype, pname) {
        return Some(known.iter().map(Opt::from).collect());
    }
    let ctx = ctx?;
    let file = plugin_dirs(ptype, ctx)
        .into_iter()
        .map(|d| d.join(format!("{pname}.py")))
        .find(|f| f.is_file())?;
    let text = std::fs::read_to_string(&file).ok()?;
    Some(documented_options(&text, &file))
}

/// The folders Python plugins of `ptype` are loaded from: the configured path (lookups:
/// `ANSIBLE_LOOKUP_PLUGINS`, `lookup_plugins` in ansible.cfg, relative to the current folder),
/// then `<type>_plugins/` beside the playbook and in the task's role.
fn plugin_dirs(ptype: &str, ctx: &Context) -> Vec<std::path::PathBuf> {
    let mut dirs = Vec::new();
    if ptype == "lookup"
        && let Some(setting) = SETTINGS
            .iter()
            .find(|s| s.name == "DEFAULT_LOOKUP_PLUGIN_PATH")
    {
        let cfg = crate::cli::Config::load().unwrap_or_default();
        let home = expand_user("~/.ansible");
        if let Ok((v, _)) = resolve(&Opt::from(setting), ctx, &cfg, &home)
            && let Ok(items) = v.try_iter()
        {
            dirs.extend(items.map(|p| std::path::PathBuf::from(py_str(&p))));
        }
    }
    for var in ["playbook_dir", "role_path"] {
        if let Ok(Some(d)) = ctx.get(var)
            && !d.is_none()
        {
            dirs.push(std::path::Path::new(&py_str(&d)).join(format!("{ptype}_plugins")));
        }
    }
    dirs
}

/// The options in a Python plugin's `DOCUMENTATION` YAML string.
fn documented_options(source: &str, file: &std::path::Path) -> Vec<Opt> {
    let Some(doc) = crate::modules::fallback::docs::documentation(source, file) else {
        return vec![];
    };
    let Ok(options) = doc.get_attr("options") else {
        return vec![];
    };
    let list = |o: &Value, k: &str, field: &str| -> Vec<String> {
        o.get_attr(k)
            .ok()
            .and_then(|l| l.try_iter().ok().map(|i| i.collect::<Vec<_>>()))
            .unwrap_or_default()
            .iter()
            .filter_map(|e| e.get_attr(field).ok().filter(|v| !v.is_undefined()))
            .map(|v| py_str(&v))
            .collect()
    };
    let mut out = Vec::new();
    for name in options.try_iter().into_iter().flatten() {
        let o = options.get_item(&name).unwrap_or_default();
        let kind = match o.get_attr("type").ok().map(|t| py_str(&t)).as_deref() {
            Some("bool" | "boolean") => Bool,
            Some("int" | "integer") => Int,
            Some("list") => List,
            Some("path" | "tmppath" | "tmp") => Path,
            Some("pathspec") => PathSpec,
            Some("pathlist") => PathList,
            _ => Str,
        };
        let default = o
            .get_attr("default")
            .ok()
            .filter(|d| !d.is_undefined() && !d.is_none())
            .map(|d| match d.kind() {
                ValueKind::Seq => d
                    .try_iter()
                    .map(|i| i.map(|x| py_str(&x)).collect::<Vec<_>>().join(","))
                    .unwrap_or_default(),
                _ => py_str(&d),
            });
        let sections = list(&o, "ini", "section");
        let keys = list(&o, "ini", "key");
        out.push(Opt {
            name: py_str(&name),
            kind,
            default,
            env: list(&o, "env", "name"),
            ini: sections.into_iter().zip(keys).collect(),
            vars: list(&o, "vars", "name"),
            required: o.get_attr("required").is_ok_and(|r| r.is_true()),
        });
    }
    out
}

/// Options of the plugins prov implements, per `(plugin_type, plugin_name)`.
fn builtin_plugin_options(ptype: &str, pname: &str) -> Option<Vec<Setting>> {
    let pname = pname
        .strip_prefix("ansible.builtin.")
        .or_else(|| pname.strip_prefix("ansible.legacy."))
        .unwrap_or(pname);
    let opt = |name, kind, default, env, ini, vars| Setting {
        name,
        kind,
        default,
        env,
        ini,
        vars,
    };
    Some(match (ptype, pname) {
        ("connection", "ssh") => vec![
            opt(
                "remote_user",
                Str,
                None,
                &["ANSIBLE_REMOTE_USER"],
                &[("defaults", "remote_user")],
                &["ansible_user", "ansible_ssh_user"],
            ),
            opt(
                "port",
                Int,
                None,
                &["ANSIBLE_REMOTE_PORT"],
                &[("defaults", "remote_port")],
                &["ansible_port", "ansible_ssh_port"],
            ),
            opt(
                "host",
                Str,
                Some("inventory_hostname"),
                &[],
                &[],
                &[
                    "inventory_hostname",
                    "ansible_host",
                    "ansible_ssh_host",
                    "delegated_vars['ansible_host']",
                    "delegated_vars['ansible_ssh_host']",
                ],
            ),
            opt(
                "host_key_checking",
                Bool,
                Some("true"),
                &["ANSIBLE_HOST_KEY_CHECKING", "ANSIBLE_SSH_HOST_KEY_CHECKING"],
                &[
                    ("defaults", "host_key_checking"),
                    ("ssh_connection", "host_key_checking"),
                ],
                &["ansible_host_key_checking", "ansible_ssh_host_key_checking"],
            ),
            opt(
                "private_key_file",
                Path,
                None,
                &["ANSIBLE_PRIVATE_KEY_FILE"],
                &[("defaults", "private_key_file")],
                &["ansible_private_key_file", "ansible_ssh_private_key_file"],
            ),
            opt(
                "timeout",
                Int,
                Some("10"),
                &["ANSIBLE_TIMEOUT", "ANSIBLE_SSH_TIMEOUT"],
                &[("defaults", "timeout"), ("ssh_connection", "timeout")],
                &["ansible_ssh_timeout"],
            ),
        ],
        ("connection", "local") => vec![],
        ("shell", "sh") => vec![
            opt(
                "remote_tmp",
                Str,
                Some("~/.ansible/tmp"),
                &["ANSIBLE_REMOTE_TEMP", "ANSIBLE_REMOTE_TMP"],
                &[("defaults", "remote_tmp")],
                &["ansible_remote_tmp"],
            ),
            opt(
                "system_tmpdirs",
                List,
                Some("/var/tmp,/tmp"),
                &["ANSIBLE_SYSTEM_TMPDIRS"],
                &[("defaults", "system_tmpdirs")],
                &["ansible_system_tmpdirs"],
            ),
        ],
        ("become", "sudo") => vec![
            opt(
                "become_user",
                Str,
                Some("root"),
                &["ANSIBLE_BECOME_USER", "ANSIBLE_SUDO_USER"],
                &[
                    ("privilege_escalation", "become_user"),
                    ("sudo_become_plugin", "user"),
                ],
                &["ansible_become_user", "ansible_sudo_user"],
            ),
            opt(
                "become_exe",
                Str,
                Some("sudo"),
                &["ANSIBLE_BECOME_EXE", "ANSIBLE_SUDO_EXE"],
                &[
                    ("privilege_escalation", "become_exe"),
                    ("sudo_become_plugin", "executable"),
                ],
                &["ansible_become_exe", "ansible_sudo_exe"],
            ),
            opt(
                "become_flags",
                Str,
                Some("-H -S -n"),
                &["ANSIBLE_BECOME_FLAGS", "ANSIBLE_SUDO_FLAGS"],
                &[
                    ("privilege_escalation", "become_flags"),
                    ("sudo_become_plugin", "flags"),
                ],
                &["ansible_become_flags", "ansible_sudo_flags"],
            ),
        ],
        ("become", "su") => vec![
            opt(
                "become_user",
                Str,
                Some("root"),
                &["ANSIBLE_BECOME_USER", "ANSIBLE_SU_USER"],
                &[
                    ("privilege_escalation", "become_user"),
                    ("su_become_plugin", "user"),
                ],
                &["ansible_become_user", "ansible_su_user"],
            ),
            opt(
                "become_exe",
                Str,
                Some("su"),
                &["ANSIBLE_BECOME_EXE", "ANSIBLE_SU_EXE"],
                &[
                    ("privilege_escalation", "become_exe"),
                    ("su_become_plugin", "executable"),
                ],
                &["ansible_become_exe", "ansible_su_exe"],
            ),
        ],
        ("lookup", "config") => vec![
            opt("on_missing", Str, Some("error"), &[], &[], &[]),
            opt("plugin_type", Str, None, &[], &[], &[]),
            opt("plugin_name", Str, None, &[], &[], &[]),
            opt("show_origin", Bool, None, &[], &[], &[]),
        ],
        ("lookup", name) if super::LOOKUPS.contains(&name) => vec![],
        _ => return None,
    })
}

fn home() -> String {
    std::env::var("HOME").unwrap_or_default()
}

fn expand_user(p: &str) -> String {
    match p.strip_prefix('~') {
        Some(rest) if rest.is_empty() || rest.starts_with('/') => format!("{}{rest}", home()),
        _ => p.to_string(),
    }
}

/// Converts a setting's text into its typed value, as Ansible's `ensure_type`.
fn typed(kind: Kind, name: &str, text: &str) -> Result<Value> {
    let list = |sep: char, path: bool| {
        Value::from(
            text.split(sep)
                .map(str::trim)
                .filter(|s| !s.is_empty())
                .map(|s| Value::from(if path { expand_user(s) } else { s.to_string() }))
                .collect::<Vec<_>>(),
        )
    };
    Ok(match kind {
        Str => Value::from(text),
        Bool => Value::from(crate::value::boolean_word(text).unwrap_or(false)),
        Int => Value::from(text.trim().parse::<i64>().map_err(|_| {
            Error::template(format!(
                "Invalid type for configuration option setting: {name} : invalid literal for \
                 int() with base 10: '{text}'"
            ))
        })?),
        List => list(',', false),
        Path => Value::from(expand_user(text)),
        PathSpec => list(':', true),
        PathList => list(',', true),
    })
}

/// Resolves `setting`: the last variable set, else the last environment variable set, else
/// the last ansible.cfg entry, else the default; with its origin as Ansible names it.
fn resolve(
    setting: &Opt,
    ctx: &Context,
    cfg: &crate::cli::Config,
    ansible_home: &str,
) -> Result<(Value, String)> {
    for var in setting.vars.iter().rev() {
        if let Ok(Some(v)) = ctx.get(var)
            && !v.is_undefined()
        {
            let v = match (setting.kind, v.as_str()) {
                (Int, Some(text)) => typed(Int, &setting.name, text)?,
                _ => v,
            };
            return Ok((v, format!("var: {var}")));
        }
    }
    for env in setting.env.iter().rev() {
        if let Ok(v) = std::env::var(env) {
            return Ok((
                typed(setting.kind, &setting.name, &v)?,
                format!("env: {env}"),
            ));
        }
    }
    for (section, key) in setting.ini.iter().rev() {
        if let Some(v) = cfg.values.get(&(section.clone(), key.clone())) {
            let origin = cfg
                .file
                .as_ref()
                .map_or_else(String::new, |f| f.display().to_string());
            return Ok((typed(setting.kind, &setting.name, v)?, origin));
        }
    }
    let value = match &setting.default {
        None => Value::from(()),
        Some(_) if setting.name == "host" => ctx.get("inventory_hostname")?.unwrap_or_default(),
        Some(d) => typed(
            setting.kind,
            &setting.name,
            &d.replace("{home}", ansible_home),
        )?,
    };
    Ok((value, "default".into()))
}

/// Runs the `config` lookup.
pub(super) fn config(
    terms: &[Value],
    kw: &HashMap<String, Value>,
    ctx: &Context,
) -> Result<Vec<Value>> {
    for k in kw.keys() {
        if !["on_missing", "plugin_type", "plugin_name", "show_origin"].contains(&k.as_str()) {
            return Err(Error::template(format!(
                "Invalid option '{k}' for the 'config' lookup plugin"
            )));
        }
    }
    let opt = |k: &str| kw.get(k).filter(|v| !v.is_none()).map(py_str);
    let missing = opt("on_missing").unwrap_or_else(|| "error".into());
    if !["error", "warn", "skip"].contains(&missing.as_str()) {
        return Err(Error::template(format!(
            "Invalid value '{missing}' for config 'on_missing' for 'config' lookup plugin."
        ))
        .hint("Valid values are: error, warn, skip"));
    }
    let ptype = opt("plugin_type");
    let pname = opt("plugin_name");
    const TYPES: &[&str] = &[
        "become",
        "cache",
        "callback",
        "cliconf",
        "connection",
        "httpapi",
        "inventory",
        "lookup",
        "netconf",
        "shell",
        "vars",
    ];
    if let Some(t) = &ptype
        && !TYPES.contains(&t.as_str())
    {
        return Err(Error::template(format!(
            "Invalid value '{t}' for config 'plugin_type' for 'config' lookup plugin."
        )));
    }
    let show_origin = kw.get("show_origin").is_some_and(super::lookup_bool);
    let plugin = match (&ptype, &pname) {
        (None, None) => None,
        (Some(t), Some(n)) => Some(
            plugin_options(t, n, Some(ctx))
                .ok_or_else(|| Error::template(format!("Unable to load {t} plugin '{n}'.")))?,
        ),
        _ => {
            return Err(Error::template(
                "Both plugin_type and plugin_name are required, cannot use one without the other.",
            ));
        }
    };
    let cfg = crate::cli::Config::load().unwrap_or_default();
    let home_setting = SETTINGS.iter().find(|s| s.name == "ANSIBLE_HOME");
    let ansible_home = match home_setting {
        Some(h) => py_str(&resolve(&Opt::from(h), ctx, &cfg, "")?.0),
        None => expand_user("~/.ansible"),
    };
    let mut out = Vec::new();
    for term in terms {
        let Some(name) = term.as_str().filter(|_| term.kind() == ValueKind::String) else {
            let t = crate::util::python::type_name(term);
            return Err(Error::template(format!(
                "Invalid setting identifier, {} is not a <class 'str'>, its a <class '{t}'>.",
                crate::template::filters::py_repr(term)
            )));
        };
        let opt: Option<Opt> = match &plugin {
            Some(opts) => opts.iter().find(|s| s.name == name).cloned(),
            None => SETTINGS.iter().find(|s| s.name == name).map(Opt::from),
        };
        let found = opt.map(|o| {
            let r = resolve(&o, ctx, &cfg, &ansible_home)?;
            if o.required && r.0.is_none() {
                return Err(Error::template(format!(
                    "Required config '{name}' for '{}' {} plugin not provided.",
                    pname.as_deref().unwrap_or_default(),
                    ptype.as_deref().unwrap_or_default()
                )));
            }
            Ok(r)
        });
        match found {
            Some(r) => {
                let (value, origin) = r?;
                out.push(if show_origin {
                    Value::from(vec![value, Value::from(origin)])
                } else {
                    value
                });
            }
            None => {
                let msg = format!("No config definition exists for '{name}'.");
                match missing.as_str() {
                    "error" => return Err(Error::template(msg)),
                    "warn" => {
                        use std::io::Write as _;
                        let _ = writeln!(std::io::stderr(), "[WARNING]: Skipping {name}: {msg}");
                    }
                    _ => {}
                }
            }
        }
    }
    Ok(out)
}

/// The global settings prov knows, for `prov config dump` (Ansible's `ansible-config dump`):
/// each setting's name with where its value comes from and the value (the environment, then
/// the ansible.cfg `(section, key)`s read from `ini`, then the default). `only_changed` leaves
/// out the defaults.
pub(crate) fn dump_settings(
    ini: &HashMap<(String, String), String>,
    file: Option<&std::path::Path>,
    only_changed: bool,
) -> Vec<(String, String, String)> {
    let ansible_home = std::env::var("ANSIBLE_HOME").unwrap_or_else(|_| expand_user("~/.ansible"));
    let mut out = Vec::new();
    for s in SETTINGS {
        let from_env = s.env.iter().rev().find_map(|e| {
            std::env::var(e)
                .ok()
                .filter(|v| !v.is_empty())
                .map(|v| (format!("env: {e}"), v))
        });
        let from_ini = || {
            s.ini.iter().rev().find_map(|(sec, key)| {
                ini.get(&(sec.to_string(), key.to_string())).map(|v| {
                    let origin = file.map_or(String::new(), |f| f.display().to_string());
                    (origin, v.clone())
                })
            })
        };
        match from_env.or_else(from_ini) {
            Some((origin, v)) => {
                let shown = typed(s.kind, s.name, &v).map_or(v, |t| py_str(&t));
                out.push((s.name.to_string(), origin, shown));
            }
            None if !only_changed => out.push((
                s.name.to_string(),
                "default".to_string(),
                s.default
                    .map_or("None".to_string(), |d| d.replace("{home}", &ansible_home)),
            )),
            None => {}
        }
    }
    out.sort();
    out
}

#[cfg(test)]
mod unit {
    use super::*;

    #[test]
    fn typed_like_ansible() {
        assert_eq!(typed(Int, "x", "5").unwrap(), Value::from(5));
        assert!(typed(Int, "x", "five").is_err());
        assert_eq!(typed(Bool, "x", "yes").unwrap(), Value::from(true));
        let home = home();
        assert_eq!(
            typed(PathSpec, "x", "~/a:/b").unwrap(),
            Value::from(vec![Value::from(format!("{home}/a")), Value::from("/b")])
        );
        assert_eq!(
            typed(List, "x", "a, b").unwrap(),
            Value::from(vec![Value::from("a"), Value::from("b")])
        );
    }

    #[test]
    fn knows_common_settings_and_plugins() {
        for n in [
            "DEFAULT_ROLES_PATH",
            "DEFAULT_BECOME_USER",
            "COLOR_OK",
            "ANSIBLE_HOME",
        ] {
            assert!(SETTINGS.iter().any(|s| s.name == n), "{n}");
        }
        assert!(plugin_options("connection", "ssh", None).is_some());
        assert!(plugin_options("shell", "ansible.builtin.sh", None).is_some());
        assert!(plugin_options("lookup", "some.nonexistent.mylookup", None).is_none());
        let cfg = plugin_options("lookup", "config", None).unwrap();
        assert!(cfg.iter().all(|s| s.name != "plugin_type1"));
    }

    #[test]
    fn reads_python_plugin_documentation() {
        let src = "from x import y\nDOCUMENTATION = \"\"\"\n    name: bogus\n    options:\n      \
                   _terms:\n        description: stuff\n      test_list:\n        type: string\n        \
                   required: True\n        env:\n          - name: BOGUS_LIST\n        ini:\n          \
                   - section: bogus\n            key: list\n      count:\n        type: int\n        \
                   default: 3\n\"\"\"\n";
        let opts = documented_options(src, std::path::Path::new("bogus.py"));
        let t = opts.iter().find(|o| o.name == "test_list").unwrap();
        assert!(t.required);
        assert_eq!(t.env, ["BOGUS_LIST"]);
        assert_eq!(t.ini, [("bogus".to_string(), "list".to_string())]);
        let c = opts.iter().find(|o| o.name == "count").unwrap();
        assert_eq!((c.kind, c.default.as_deref()), (Int, Some("3")));
    }
}
