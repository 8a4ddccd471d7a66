//! A long-lived `stat` helper on the kept shell: one `perl` process per connection that answers
//! `stat` queries over two FIFOs, so a converged file task starts no program on the host.
//!
//! Starting `stat` costs about a millisecond of the host's CPU (a fork, an exec, dynamic
//! linking and, in some VMs, glibc's `cpuid` probing trapped by the hypervisor); on 300
//! loopback hosts it was 29 % of the machine's CPU in an idempotent run. A query to the
//! helper is two writes and two reads.
//!
//! Protocol: the kept shell holds descriptor 8 (requests) and 9 (answers). A request is one
//! line, a path; the answer is one line in the format
//! `stat -L -c '%a|%u|%g|%U|%G|%s|%Y|%X|%Z|%i|%d|%h|%F|%n'` prints (links followed, GNU `%F`
//! names, `UNKNOWN` for a uid or gid without a name), or an empty line when the path cannot be
//! stat'ed. Paths holding a newline are never sent (callers use `stat` for them).
//!
//! Lifetime: the helper is started on the first inspection of a connection ([`define`]
//! gives the text that defines the starting function when the shell opens; `PROV_STAT` is then `1` with a
//! helper, `0` without). It ends when the kept shell does: its request FIFO reaches end of
//! file once the shell's descriptor 8 is closed. User commands run with 8 and 9 closed
//! ([`CLOSE_FOR_USER`]), so a daemon they start cannot keep the helper alive. When the
//! helper is gone (Ctrl-C stops the shell's children), the next query reads end of file and
//! the shell closes 8 and 9 and uses `stat` from then on. Without `perl` on the host (it is
//! Essential on Debian and Ubuntu, part of the base of most distributions), inspections use
//! `stat` as before. `PROV_STAT_HELPER=0` on the controller turns the helper off.

/// The helper itself: reads requests on stdin, answers on stdout (see the module docs).
/// Written without single quotes, so the shell carries it in one.
const PERL: &str = r#"$|=1;while(<STDIN>){chomp;my@s=stat($_);unless(@s){print "\n";next}my$t=$s[2]&0170000;my$k=$t==0100000?($s[7]?"regular file":"regular empty file"):$t==040000?"directory":$t==0120000?"symbolic link":$t==020000?"character special file":$t==060000?"block special file":$t==010000?"fifo":$t==0140000?"socket":"weird file";my$u=getpwuid($s[4]);my$g=getgrgid($s[5]);print join("|",sprintf("%o",$s[2]&07777),$s[4],$s[5],$u//"UNKNOWN",$g//"UNKNOWN",$s[7],$s[9],$s[8],$s[10],$s[1],$s[0],$s[3],$k,$_),"\n"}"#;

/// Whether the controller starts helpers (`PROV_STAT_HELPER=0` turns them off).
pub(crate) fn enabled() -> bool {
    static ON: std::sync::OnceLock<bool> = std::sync::OnceLock::new();
    *ON.get_or_init(|| crate::util::switch_on("PROV_STAT_HELPER"))
}

/// Shell text defining `prov_statd` on the kept shell, which starts the helper: FIFOs in a
/// private folder from `mktemp -d` (removed once both ends are open), `perl` reading one and
/// writing the other, and a first query of `/` that must answer a directory. Sets
/// `PROV_STAT` to `1` with a working helper, else `0`.
///
/// The request FIFO is opened read-write (`8<>`): the open does not wait for the reader, and a
/// write never raises SIGPIPE in the shell when the helper has died (its answer is end of
/// file instead). The answer FIFO is opened read-only, so end of file does come.
pub(crate) fn define() -> String {
    format!(
        "prov_statd() {{ PROV_STAT=0; command -v perl >/dev/null 2>&1 || return 0; \
         _d=$(mktemp -d 2>/dev/null) || {{ unset _d; return 0; }}; \
         if mkfifo \"$_d/i\" \"$_d/o\" 2>/dev/null; then \
         perl -e '{PERL}' <\"$_d/i\" >\"$_d/o\" 2>/dev/null & \
         command exec 8<>\"$_d/i\" 9<\"$_d/o\" && PROV_STAT=1; fi; \
         rm -rf \"$_d\"; unset _d; \
         if [ \"$PROV_STAT\" = 1 ]; then printf '/\\n' >&8; IFS= read -r _l <&9; \
         case $_l in *'|directory|/') ;; *) exec 8>&- 9<&-; PROV_STAT=0;; esac; unset _l; fi; }}; "
    )
}

/// The start of a user command's subshell on the kept shell: the helper's descriptors closed
/// and its names unset, so the command sees the shell as `sh -c` would start it.
pub(crate) const CLOSE_FOR_USER: &str = "exec 8>&- 9<&-; unset PROV_STAT; unset -f prov_statd; ";

/// Shell function `hs PATH...` for inspection scripts: sets `S` to the `st=`-prefixed answers
/// (following links) for the paths that exist, one per line, and returns 0; returns 1 when no
/// helper answers (not on a kept shell, no `perl`, or the helper has gone), so that the
/// caller runs `stat`. Uses (and leaves set) `q` and `l`: callers unset them.
pub(crate) const QUERY_FN: &str = "hs() {\n\
[ -n \"${PROV_STAT+x}\" ] || { command -v prov_statd >/dev/null 2>&1 && prov_statd; } || return 1\n\
[ \"${PROV_STAT-}\" = 1 ] || return 1\n\
S=\n\
for q in \"$@\"; do\n\
printf '%s\\n' \"$q\" >&8 && IFS= read -r l <&9 || { exec 8>&- 9<&-; PROV_STAT=0; return 1; }\n\
[ -z \"$l\" ] || S=\"$S${S:+\n}st=$l\"\n\
done\n\
}\n";

#[cfg(test)]
mod tests {
    use super::*;
    use std::process::Command;

    /// The shells found here, as program and leading arguments.
    fn shells() -> Vec<Vec<&'static str>> {
        [vec!["dash"], vec!["bash"], vec!["busybox", "sh"]]
            .into_iter()
            .filter(|s| Command::new(s[0]).arg("--help").output().is_ok())
            .collect()
    }

    /// Runs `script` under `shell` with the helper defined, as on a kept shell.
    fn run(shell: &[&str], script: &str) -> String {
        let out = Command::new(shell[0])
            .args(&shell[1..])
            .arg("-c")
            .arg(format!("{}{QUERY_FN}{script}", define()))
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "{shell:?}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8_lossy(&out.stdout).into_owned()
    }

    fn have_perl() -> bool {
        Command::new("perl").arg("-v").output().is_ok()
    }

    /// The helper answers what GNU `stat -L -c` prints, for every kind of file and for names
    /// that need quoting, under every shell found here.
    #[test]
    fn helper_answers_as_gnu_stat_does() {
        if !have_perl() {
            eprintln!("no perl here: nothing to compare");
            return;
        }
        use std::os::unix::fs::PermissionsExt;
        let d = crate::util::PrivateTempDir::new_in(&std::env::temp_dir(), "prov-statd-").unwrap();
        let p = |n: &str| d.0.join(n).to_string_lossy().into_owned();
        std::fs::write(p("file"), b"hello").unwrap();
        std::fs::write(p("empty"), b"").unwrap();
        std::fs::write(p("a b|c 'q' $x\\n"), b"x").unwrap();
        std::fs::create_dir(p("dir")).unwrap();
        std::os::unix::fs::symlink(p("file"), p("link")).unwrap();
        std::os::unix::fs::symlink(p("gone"), p("dangling")).unwrap();
        std::fs::set_permissions(p("file"), std::fs::Permissions::from_mode(0o4751)).unwrap();
        assert!(
            Command::new("mkfifo")
                .arg(p("fifo"))
                .status()
                .unwrap()
                .success()
        );
        let _sock = std::os::unix::net::UnixListener::bind(p("sock")).unwrap();
        let names = [
            "file",
            "empty",
            "a b|c 'q' $x\\n",
            "dir",
            "link",
            "dangling",
            "missing",
            "fifo",
            "sock",
        ];
        let mut paths: Vec<String> = names.iter().map(|n| p(n)).collect();
        paths.extend(["/dev/null".into(), "/".into(), "/proc/self".into()]);
        let args: Vec<String> = paths.iter().map(|x| crate::connection::quote(x)).collect();
        let args = args.join(" ");
        let want = Command::new("stat")
            .args([
                "-L",
                "-c",
                "st=%a|%u|%g|%U|%G|%s|%Y|%X|%Z|%i|%d|%h|%F|%n",
                "--",
            ])
            .args(&paths[..paths.len() - 1])
            .output()
            .unwrap();
        let want = String::from_utf8_lossy(&want.stdout).trim_end().to_string();
        assert_eq!(want.lines().count(), 9, "{want}");
        for shell in shells() {
            let got = run(
                &shell,
                &format!("hs {args} && printf '%s\\n' \"$S\" && echo \"stat=$PROV_STAT\""),
            );
            let mut lines: Vec<&str> = got.trim_end().lines().collect();
            assert_eq!(lines.pop(), Some("stat=1"), "{shell:?}: {got}");
            // `/proc/self` is the helper, owned by the user running it.
            let me = lines.pop().unwrap();
            // SAFETY: geteuid has no preconditions.
            let uid = unsafe { libc::geteuid() };
            assert!(
                me.starts_with(&format!("st=555|{uid}|")) && me.ends_with("|directory|/proc/self"),
                "{me}"
            );
            assert_eq!(lines.join("\n"), want, "{shell:?}");
        }
    }

    /// A helper that has gone (killed) makes the next query fail, once: the shell closes its
    /// descriptors and says so in `PROV_STAT`, and the caller uses `stat`.
    #[test]
    fn a_dead_helper_is_noticed_and_dropped() {
        if !have_perl() {
            return;
        }
        for shell in shells() {
            let got = run(
                &shell,
                "hs / && echo first=$PROV_STAT; pkill -P $$ -x perl; sleep 0.3; \
                 if hs /; then echo second=ok; else echo second=no stat=$PROV_STAT; fi; \
                 if hs /; then echo third=ok; else echo third=no; fi",
            );
            assert_eq!(
                got.trim(),
                "first=1\nsecond=no stat=0\nthird=no",
                "{shell:?}"
            );
        }
    }
}
