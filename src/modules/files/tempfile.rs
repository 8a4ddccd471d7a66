//! `tempfile`: creates a uniquely named temporary file or directory on the host.

use crate::connection::quote;
use crate::error::Result;
use crate::modules::{Args, Module, ModuleDoc, Options, Plan, RESULT_LINE, TaskCtx, opt};
use async_trait::async_trait;

/// The `tempfile` module.
pub struct TempFile;

crate::options! {
    /// The `tempfile` module's options.
    pub(crate) struct Opts {
        state: String = opt::str("Create a file or a directory.")
            .default("file")
            .choices(&["file", "directory"]),
        path: Option<String> = opt::path(
            "The folder to create it in (default: the host's temp folder, `$TMPDIR` or `/tmp`)."
        ),
        prefix: String = opt::str("The start of its name.").default("ansible."),
        suffix: String = opt::str("The end of its name.").default(""),
    }
}

static DOC: ModuleDoc = ModuleDoc::new("tempfile", "Create a temporary file or directory")
    .description(
        "Creates a new file (mode 0600) or directory (mode 0700) named `<prefix><8 random \
characters><suffix>`, never reusing an existing name, and returns its `path` with its `state`, \
`mode`, `owner`, `group`, `uid`, `gid` and `size`. Always reports changed. Nothing removes it \
afterwards: delete it with `file: state=absent` when done. In check mode the task is skipped, as \
in Ansible (the name cannot be known without creating it).",
    )
    .spec::<Opts>()
    .examples(
        "- tempfile:\n    state: directory\n    suffix: .build\n  register: build_dir\n\
- debug:\n    msg: \"{{ build_dir.path }}\"",
    );

/// Fails unless `part` is one file name component (no `/`).
fn check_component(what: &str, part: &str) -> Option<String> {
    part.contains('/').then(|| {
        format!(
            "{what} must be a valid file name component, got {}",
            crate::util::python::str_repr(part)
        )
    })
}

/// Eight random characters from `[a-z0-9_]`, like Python's `tempfile` names.
fn random_name_part() -> String {
    const ALPHABET: &[u8] = b"abcdefghijklmnopqrstuvwxyz0123456789_";
    let token = crate::connection::unpredictable_token();
    token
        .as_bytes()
        .chunks(2)
        .take(8)
        .map(|pair| {
            let n = u8::from_str_radix(std::str::from_utf8(pair).unwrap_or("0"), 16).unwrap_or(0);
            ALPHABET[n as usize % ALPHABET.len()] as char
        })
        .collect()
}

/// The script that creates the object without ever reusing a name (`mkdir`, or `noclobber`
/// for a file, under umask 077), retries a taken name, and prints the return values.
fn create_script(o: &Opts, first: &str) -> String {
    let dir = match o.path.as_deref().filter(|p| !p.is_empty()) {
        Some(p) => quote(p),
        None => "\"${TMPDIR:-/tmp}\"".to_string(),
    };
    let make = if o.state == "directory" {
        "mkdir -- \"$p\" 2>/dev/null"
    } else {
        "( set -C; : > \"$p\" ) 2>/dev/null"
    };
    let lines = [
        "umask 077".to_string(),
        format!("d={dir}; pre={}; suf={}; n={}; i=0", quote(&o.prefix), quote(&o.suffix), quote(first)),
        "case $d in */) d=${d%/};; esac".to_string(),
        "while :; do".to_string(),
        "  p=\"$d/$pre$n$suf\"".to_string(),
        format!("  if {make}; then break; fi"),
        "  if [ ! -d \"$d/\" ]; then printf \"[Errno 2] No such file or directory: '%s'\\n\" \"$p\" >&2; exit 1; fi".to_string(),
        "  if [ ! -e \"$p\" ] && [ ! -L \"$p\" ]; then printf \"[Errno 13] Permission denied: '%s'\\n\" \"$p\" >&2; exit 1; fi".to_string(),
        "  i=$((i+1)); if [ $i -ge 100 ]; then echo 'No usable temporary file name found' >&2; exit 1; fi".to_string(),
        "  n=$(od -An -N4 -tx1 /dev/urandom | tr -d ' \\n')".to_string(),
        "done".to_string(),
        "esc() { printf '%s' \"$1\" | sed 's/\\\\/\\\\\\\\/g; s/\"/\\\\\"/g'; }".to_string(),
        "set -- $(stat -c '%u %g %a %s' -- \"$p\")".to_string(),
        format!(
            "printf '%s{{\"state\":\"{state}\",\"path\":\"%s\",\"uid\":%s,\"gid\":%s,\"owner\":\"%s\",\"group\":\"%s\",\"mode\":\"%04o\",\"size\":%s}}\\n' \
             {} \"$(esc \"$p\")\" \"$1\" \"$2\" \"$(esc \"$(stat -c %U -- \"$p\")\")\" \"$(esc \"$(stat -c %G -- \"$p\")\")\" \"0$3\" \"$4\"",
            quote(RESULT_LINE),
            state = o.state,
        ),
    ];
    lines.join("\n") + "\n"
}

#[async_trait]
impl Module for TempFile {
    fn doc(&self) -> &'static ModuleDoc {
        &DOC
    }

    async fn plan(&self, ctx: &TaskCtx<'_>, args: &Args) -> Result<Plan> {
        let mut o = Opts::from_args(args)?;
        // `path` is a path option: `~` and `$VAR` expand on the host.
        if let Some(p) = &o.path {
            o.path = Some(crate::modules::toolkit::expand_path(ctx, p).await?);
        }
        if ctx.check_mode {
            // Ansible's tempfile does not support check mode: the task is skipped.
            return Ok(Plan {
                skipped: Some("remote module (tempfile) does not support check mode".into()),
                ..Plan::default()
            });
        }
        if let Some(msg) =
            check_component("prefix", &o.prefix).or_else(|| check_component("suffix", &o.suffix))
        {
            return Ok(Plan::fail(msg));
        }
        let first = random_name_part();
        // The folder is checked first, for Ansible's message (the script checks again).
        let dir = o.path.clone().filter(|p| !p.is_empty());
        let probe = match &dir {
            Some(d) => format!("[ -d {}/ ] || echo missing", quote(d)),
            None => "[ -d \"${TMPDIR:-/tmp}/\" ] || echo missing".into(),
        };
        if ctx.run(probe).await?.stdout_str().contains("missing") {
            let dir = dir.unwrap_or_else(|| "/tmp".into());
            return Ok(Plan::fail(format!(
                "[Errno 2] No such file or directory: '{}/{}{first}{}'",
                dir.trim_end_matches('/'),
                o.prefix,
                o.suffix
            )));
        }
        let script = create_script(&o, &first);
        let mut plan = Plan::ok().change(
            format!("create temporary {}", o.state),
            None,
            crate::modules::toolkit::exec(ctx, script, false),
        );
        plan.output_results = true;
        Ok(plan)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn name_parts_are_one_component() {
        assert_eq!(
            check_component("prefix", "../../nested").as_deref(),
            Some("prefix must be a valid file name component, got '../../nested'")
        );
        assert_eq!(check_component("suffix", ".goodbye"), None);
        assert_eq!(crate::util::python::str_repr("it's"), "\"it's\"");
        assert_eq!(
            crate::util::python::str_repr("a\\b'\"\n"),
            "'a\\\\b\\'\"\\n'"
        );
    }

    #[test]
    fn random_part_is_eight_name_characters() {
        let a = random_name_part();
        assert_eq!(a.len(), 8);
        assert!(
            a.chars()
                .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_')
        );
        assert_ne!(a, random_name_part());
    }
}
