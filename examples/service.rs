//! Embedding prov in a service: a small HTTP server that runs a playbook on request and streams
//! the run's events back, as JSON Lines, while the run goes on.
//!
//! ```text
//! cargo run --example service -- serve [ADDR] [INVENTORY]   # default 127.0.0.1:8080, localhost
//!   POST /run[?check=1]   body: a playbook (YAML) → 200, chunked JSON Lines, one per event
//!   GET  /health          → 200 "ok"
//! cargo run --example service -- self-test                  # serve on a free port, run a
//!                                                           # playbook through it, check the stream
//! ```
//!
//! Try it: `curl -sN --data-binary @playbooks/hello.yml localhost:8080/run?check=1`.
//!
//! The events are those of `prov run --output json` (`prov::output::event_json`); a channel
//! [`Sink`] hands them from the engine to the HTTP response as they happen. HTTP is written by
//! hand to keep the example free of a web framework: one request per connection, a
//! `Content-Length` body, a chunked response.

use prov::engine::{RunOptions, Runner};
use prov::events::{Event, Sink};
use prov::inventory::Inventory;
use prov::modules::Registry;
use prov::output::event_json;
use prov::playbook::Loader;
use std::sync::Arc;
use tokio::io::{AsyncBufReadExt, AsyncReadExt, AsyncWriteExt, BufReader};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::mpsc;

/// The largest playbook a request may send.
const MAX_BODY: usize = 1 << 20;

/// What every run shares: the inventory files and the module registry.
struct Service {
    inventory: Vec<String>,
    registry: Registry,
}

/// A sink that forwards each event, as its JSON line, to the response being written (`None`
/// marks the end of the run).
struct ChannelSink(mpsc::UnboundedSender<Option<String>>);

impl Sink for ChannelSink {
    fn event(&self, ev: &Event) {
        // The client may have gone away: the run goes on regardless.
        let _ = self.0.send(Some(event_json(ev).to_string()));
    }
}

/// A parsed request: method, path, query and body.
struct Request {
    method: String,
    path: String,
    query: String,
    body: Vec<u8>,
}

async fn read_request(stream: &mut BufReader<TcpStream>) -> std::io::Result<Request> {
    let bad = |m: &str| std::io::Error::new(std::io::ErrorKind::InvalidData, m.to_string());
    let mut line = String::new();
    stream.read_line(&mut line).await?;
    let mut parts = line.split_whitespace();
    let method = parts
        .next()
        .ok_or_else(|| bad("empty request"))?
        .to_string();
    let target = parts.next().ok_or_else(|| bad("no request target"))?;
    let (path, query) = target.split_once('?').unwrap_or((target, ""));
    let (path, query) = (path.to_string(), query.to_string());
    let mut length = 0usize;
    loop {
        line.clear();
        if stream.read_line(&mut line).await? == 0 {
            return Err(bad("connection closed in the headers"));
        }
        let header = line.trim_end();
        if header.is_empty() {
            break;
        }
        if let Some((name, value)) = header.split_once(':')
            && name.eq_ignore_ascii_case("content-length")
        {
            length = value
                .trim()
                .parse()
                .map_err(|_| bad("bad Content-Length"))?;
        }
    }
    if length > MAX_BODY {
        return Err(bad("the playbook is larger than 1 MiB"));
    }
    let mut body = vec![0; length];
    stream.read_exact(&mut body).await?;
    Ok(Request {
        method,
        path,
        query,
        body,
    })
}

async fn respond(stream: &mut TcpStream, status: &str, body: &str) -> std::io::Result<()> {
    let head = format!(
        "HTTP/1.1 {status}\r\nContent-Type: text/plain; charset=utf-8\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
        body.len()
    );
    stream.write_all(head.as_bytes()).await?;
    stream.write_all(body.as_bytes()).await
}

impl Service {
    async fn handle(&self, stream: TcpStream) -> std::io::Result<()> {
        let mut reader = BufReader::new(stream);
        let req = match read_request(&mut reader).await {
            Ok(r) => r,
            Err(e) => return respond(reader.get_mut(), "400 Bad Request", &format!("{e}\n")).await,
        };
        let stream = reader.get_mut();
        match (req.method.as_str(), req.path.as_str()) {
            ("GET", "/health") => respond(stream, "200 OK", "ok\n").await,
            ("POST", "/run") => {
                let check = req.query.split('&').any(|kv| kv == "check=1");
                self.run(stream, &req.body, check).await
            }
            _ => respond(stream, "404 Not Found", "POST /run or GET /health\n").await,
        }
    }

    /// Loads the playbook from the request body and runs it, streaming its events.
    async fn run(&self, stream: &mut TcpStream, body: &[u8], check: bool) -> std::io::Result<()> {
        // The loader reads files (roles and includes are relative to the playbook), so the body
        // goes to a private folder of its own for the length of the run.
        let dir = std::env::temp_dir().join(format!(
            "prov-service-{}-{}",
            std::process::id(),
            uuid_ish()
        ));
        std::fs::create_dir(&dir)?;
        let path = dir.join("playbook.yml");
        std::fs::write(&path, body)?;
        // Strict loading (as `prov check`): a service rejects a playbook with a typo before
        // running any of it, rather than failing the task when it is reached.
        let loaded = Loader::new(&self.registry)
            .strict(true)
            .load_playbook(&path)
            .and_then(|pb| Ok((pb, Inventory::load(&self.inventory)?)));
        let (playbook, inventory) = match loaded {
            Ok(x) => x,
            Err(e) => {
                let _ = std::fs::remove_dir_all(&dir);
                return respond(stream, "422 Unprocessable Entity", &e.render()).await;
            }
        };
        stream
            .write_all(
                b"HTTP/1.1 200 OK\r\nContent-Type: application/x-ndjson\r\nTransfer-Encoding: chunked\r\nConnection: close\r\n\r\n",
            )
            .await?;
        let (tx, mut rx) = mpsc::unbounded_channel();
        let runner = Runner::new(inventory, self.registry.clone())
            .options(RunOptions {
                check,
                diff: true,
                ..Default::default()
            })
            .sink(Arc::new(ChannelSink(tx.clone())));
        // The run and the writer go on side by side, in this task.
        let run = async move {
            let r = runner.run(&playbook).await;
            let _ = tx.send(None);
            r
        };
        let write = async {
            while let Some(Some(line)) = rx.recv().await {
                let chunk = format!("{:x}\r\n{line}\n\r\n", line.len() + 1);
                if stream.write_all(chunk.as_bytes()).await.is_err() {
                    break; // the client left: stop writing (the unbounded channel never blocks the run)
                }
            }
            stream.write_all(b"0\r\n\r\n").await
        };
        let (result, written) = tokio::join!(run, write);
        let _ = std::fs::remove_dir_all(&dir);
        if let Err(e) = result {
            eprintln!("run failed: {}", e.render());
        }
        written
    }
}

/// A name unique enough for a per-request folder.
fn uuid_ish() -> String {
    use std::sync::atomic::{AtomicU64, Ordering};
    static N: AtomicU64 = AtomicU64::new(0);
    let t = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_nanos())
        .unwrap_or_default();
    format!("{t:x}-{}", N.fetch_add(1, Ordering::Relaxed))
}

async fn serve(listener: TcpListener, service: Arc<Service>) {
    loop {
        let Ok((stream, _)) = listener.accept().await else {
            continue;
        };
        let service = service.clone();
        tokio::spawn(async move {
            if let Err(e) = service.handle(stream).await {
                eprintln!("request failed: {e}");
            }
        });
    }
}

/// Decodes a chunked HTTP body.
fn dechunk(mut body: &[u8]) -> Vec<u8> {
    let mut out = Vec::new();
    while let Some(end) = body.windows(2).position(|w| w == b"\r\n") {
        let size = usize::from_str_radix(std::str::from_utf8(&body[..end]).unwrap_or("0"), 16)
            .unwrap_or(0);
        if size == 0 {
            break;
        }
        let start = end + 2;
        out.extend_from_slice(&body[start..start + size]);
        body = &body[start + size + 2..];
    }
    out
}

/// Posts `playbook` to the service and returns the event lines it streamed back.
async fn post(addr: std::net::SocketAddr, query: &str, playbook: &str) -> Vec<serde_json::Value> {
    let mut s = TcpStream::connect(addr).await.expect("connect");
    let req = format!(
        "POST /run{query} HTTP/1.1\r\nHost: {addr}\r\nContent-Length: {}\r\n\r\n{playbook}",
        playbook.len()
    );
    s.write_all(req.as_bytes()).await.expect("send");
    let mut resp = Vec::new();
    s.read_to_end(&mut resp).await.expect("read");
    let split = resp
        .windows(4)
        .position(|w| w == b"\r\n\r\n")
        .expect("head")
        + 4;
    let head = String::from_utf8_lossy(&resp[..split]).to_string();
    assert!(head.starts_with("HTTP/1.1 200"), "{head}");
    String::from_utf8(dechunk(&resp[split..]))
        .expect("utf-8")
        .lines()
        .map(|l| serde_json::from_str(l).expect("one JSON object per line"))
        .collect()
}

/// Starts the service on a free port, runs a playbook through it in check mode and for real,
/// and checks what was streamed: exits non-zero if anything is off.
async fn self_test(registry: Registry) {
    let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let addr = listener.local_addr().expect("addr");
    let service = Arc::new(Service {
        inventory: vec![],
        registry,
    });
    tokio::spawn(serve(listener, service));
    let dir = std::env::temp_dir().join(format!("prov-service-test-{}", std::process::id()));
    let file = dir.join("hello");
    let playbook = format!(
        "- hosts: localhost\n  gather_facts: false\n  tasks:\n    - file: {{ path: {d}, state: directory }}\n    - copy: {{ dest: {f}, content: \"hello\\n\" }}\n",
        d = dir.display(),
        f = file.display()
    );
    for (query, want_changed) in [("?check=1", 2), ("", 2), ("", 0)] {
        let events = post(addr, query, &playbook).await;
        let kinds: Vec<&str> = events.iter().filter_map(|e| e["event"].as_str()).collect();
        let changed = events
            .iter()
            .filter(|e| e["event"] == "host_result" && e["changed"] == true)
            .count();
        let recap = events.last().expect("events");
        println!(
            "POST /run{query}: {} events ({}), changed={changed}, exit_code={}",
            events.len(),
            kinds.join(" "),
            recap["exit_code"]
        );
        assert_eq!(kinds[..2], ["playbook_start", "play_start"]);
        assert_eq!(recap["event"], "recap");
        assert_eq!(recap["exit_code"], 0);
        assert_eq!(changed, want_changed, "{events:#?}");
        assert_eq!(file.exists(), !query.contains("check"));
    }
    assert_eq!(std::fs::read_to_string(&file).expect("written"), "hello\n");
    // A broken playbook is one clear error, with its location.
    let mut s = TcpStream::connect(addr).await.expect("connect");
    let bad = "- hosts: localhost\n  tasks:\n    - copy: { dest: /x, contnt: y }\n";
    let req = format!(
        "POST /run HTTP/1.1\r\nContent-Length: {}\r\n\r\n{bad}",
        bad.len()
    );
    s.write_all(req.as_bytes()).await.expect("send");
    let mut resp = String::new();
    s.read_to_string(&mut resp).await.expect("read");
    assert!(resp.starts_with("HTTP/1.1 422"), "{resp}");
    assert!(resp.contains("playbook.yml:3:"), "{resp}");
    assert!(resp.contains("did you mean 'content'"), "{resp}");
    println!("POST /run with a typo: 422 with the error's location and a hint");
    let _ = std::fs::remove_dir_all(&dir);
    println!("self-test passed");
}

#[tokio::main]
async fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let registry = Registry::builtin();
    match args.first().map(String::as_str) {
        Some("self-test") => self_test(registry).await,
        Some("serve") | None => {
            let addr = args.get(1).map_or("127.0.0.1:8080", String::as_str);
            let listener = TcpListener::bind(addr).await.unwrap_or_else(|e| {
                eprintln!("cannot listen on {addr}: {e}");
                std::process::exit(1)
            });
            let service = Arc::new(Service {
                inventory: args.get(2).cloned().into_iter().collect(),
                registry,
            });
            eprintln!("prov service on http://{addr} (POST /run, GET /health)");
            serve(listener, service).await;
        }
        Some(other) => {
            eprintln!("unknown command '{other}': use `serve [ADDR] [INVENTORY]` or `self-test`");
            std::process::exit(2);
        }
    }
}
