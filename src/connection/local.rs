//! The local connection (`ansible_connection: local`, the implicit `localhost`): runs commands
//! on the controller with `tokio::process`.

use super::{Connection, ExecOutput, Secret, Stdin};
use crate::error::{Error, Result};
use async_trait::async_trait;
use std::process::Stdio;
use tokio::io::AsyncWriteExt;

/// Runs commands on the controller.
#[derive(Debug, Clone)]
pub struct LocalConnection {
    host: String,
}

impl LocalConnection {
    /// A local connection for inventory host `host`.
    pub fn new(host: impl Into<String>) -> Self {
        LocalConnection { host: host.into() }
    }
}

#[async_trait]
impl Connection for LocalConnection {
    fn host(&self) -> &str {
        &self.host
    }

    async fn exec_raw(
        &self,
        line: &str,
        preamble: Option<&Secret>,
        stdin: &Stdin,
    ) -> Result<ExecOutput> {
        let mut child = tokio::process::Command::new("/bin/sh")
            .arg("-c")
            .arg(line)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .kill_on_drop(true)
            .spawn()
            .map_err(|e| Error::other(format!("cannot run /bin/sh on the controller: {e}")))?;
        let mut input = child.stdin.take().expect("stdin is piped");
        let pre = preamble.map(|p| format!("{}\n", p.expose()));
        let stdin = stdin.clone();
        let writer = tokio::spawn(async move {
            if let Some(p) = pre {
                let _ = input.write_all(p.as_bytes()).await;
            }
            match stdin {
                Stdin::Empty => {}
                Stdin::Bytes(b) => {
                    let _ = input.write_all(&b).await;
                }
                Stdin::File(path) => {
                    if let Ok(mut f) = tokio::fs::File::open(&path).await {
                        let _ = tokio::io::copy(&mut f, &mut input).await;
                    }
                }
            }
            let _ = input.shutdown().await;
        });
        let out = child
            .wait_with_output()
            .await
            .map_err(|e| Error::other(format!("local command failed: {e}")))?;
        let _ = writer.await;
        Ok(ExecOutput {
            rc: out.status.code().unwrap_or(-1),
            stdout: out.stdout,
            stderr: out.stderr,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::connection::{Cmd, PutOpts};

    #[tokio::test]
    async fn exec_put_get_roundtrip() {
        let c = LocalConnection::new("localhost");
        let out = c
            .exec(&Cmd {
                script: "cat; echo err >&2; exit 3".into(),
                stdin: Stdin::Bytes(b"in".to_vec()),
                ..Default::default()
            })
            .await
            .unwrap();
        assert_eq!(out.rc, 3);
        assert_eq!(out.stdout, b"in");
        assert_eq!(out.stderr, b"err\n");
        let dir = std::env::temp_dir().join(format!("prov-local-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let dest = dir.join("f.txt");
        let d = dest.to_str().unwrap();
        c.put(
            &Stdin::Bytes(b"hello".to_vec()),
            d,
            &PutOpts {
                mode: Some("0600".into()),
                ..Default::default()
            },
        )
        .await
        .unwrap();
        assert_eq!(c.get(d, None).await.unwrap(), b"hello");
        use std::os::unix::fs::PermissionsExt;
        assert_eq!(
            std::fs::metadata(&dest).unwrap().permissions().mode() & 0o777,
            0o600
        );
        let leftovers: Vec<_> = std::fs::read_dir(&dir).unwrap().collect();
        assert_eq!(leftovers.len(), 1, "temp file left behind");
        std::fs::remove_dir_all(dir).unwrap();
    }
}
