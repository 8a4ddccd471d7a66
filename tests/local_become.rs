//! The local connection's sudo protocol: the password is sent only when sudo asks, the command's
//! stdin only once the command runs, and a wrong password fails at once.
//!
//! A stand-in `sudo` (a shell script first in PATH) behaves like sudo -S -p: it prints the
//! prompt on stderr and reads the password from stdin when FAKE_SUDO_MODE=ask, asks again after
//! a wrong one, and does not ask at all otherwise (NOPASSWD).

use prov::connection::local::LocalConnection;
use prov::connection::{Become, BecomeMethod, Cmd, Connection, Secret, Stdin};
static ENV: tokio::sync::Mutex<()> = tokio::sync::Mutex::const_new(());

const FAKE_SUDO: &str = r#"#!/bin/sh
prompt=""
while [ $# -gt 0 ]; do
  case "$1" in
    -p) prompt="$2"; shift 2 ;;
    -u) shift 2 ;;
    /bin/sh) break ;;
    *) shift ;;
  esac
done
if [ "$FAKE_SUDO_MODE" = ask ]; then
  while :; do
    printf '%s' "$prompt" >&2
    IFS= read -r pw || exit 1
    [ "$pw" = "right-password" ] && break
    echo "Sorry, try again." >&2
  done
fi
exec "$@"
"#;

async fn setup(mode: &str) -> tokio::sync::MutexGuard<'static, ()> {
    let g = ENV.lock().await;
    let dir = std::env::temp_dir().join(format!("prov-fake-sudo-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let sudo = dir.join("sudo");
    std::fs::write(&sudo, FAKE_SUDO).unwrap();
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(&sudo, std::fs::Permissions::from_mode(0o755)).unwrap();
    let path = std::env::var("PATH").unwrap_or_default();
    if !path.starts_with(dir.to_str().unwrap()) {
        // SAFETY: tests in this file hold ENV while the environment changes.
        unsafe { std::env::set_var("PATH", format!("{}:{path}", dir.display())) };
    }
    // SAFETY: as above.
    unsafe { std::env::set_var("FAKE_SUDO_MODE", mode) };
    g
}

fn cmd(password: &str) -> Cmd {
    Cmd {
        script: "cat".into(),
        stdin: Stdin::Bytes(b"the data\n".to_vec()),
        become_: Some(Become {
            method: BecomeMethod::Sudo,
            user: "root".into(),
            password: Some(Secret::new(password)),
            flags: None,
            exe: None,
            chdir: None,
        }),
        ..Default::default()
    }
}

#[tokio::test]
async fn password_sent_when_asked_and_stdin_after() {
    let _g = setup("ask").await;
    let out = LocalConnection::new("localhost")
        .exec(&cmd("right-password"))
        .await
        .unwrap();
    assert_eq!(out.rc, 0, "{}", out.stderr_str());
    assert_eq!(out.stdout_str(), "the data\n");
    assert!(
        !out.stderr_str().contains("prov-sudo"),
        "prompt left in stderr: {}",
        out.stderr_str()
    );
}

#[tokio::test]
async fn nopasswd_never_feeds_the_password_to_the_command() {
    let _g = setup("nopasswd").await;
    let out = LocalConnection::new("localhost")
        .exec(&cmd("right-password"))
        .await
        .unwrap();
    assert_eq!(out.rc, 0);
    assert_eq!(
        out.stdout_str(),
        "the data\n",
        "the password reached the command's stdin"
    );
}

#[tokio::test]
async fn wrong_password_fails_fast_without_the_password_in_the_error() {
    let _g = setup("ask").await;
    let t = std::time::Instant::now();
    let e = LocalConnection::new("localhost")
        .exec(&cmd("wrong-password"))
        .await
        .unwrap_err();
    assert!(e.msg.contains("Incorrect sudo password"), "{}", e.msg);
    assert!(!e.to_string().contains("wrong-password"));
    assert!(t.elapsed().as_secs() < 10);
}
