//! Helpers shared by the binary's tests: a scratch directory, the binary
//! with a clean environment, a server started on a free loopback port and
//! stopped when dropped, and a bare HTTP/1.1 GET.

// Each test file uses its own subset.
#![allow(dead_code)]

use std::fs::File;
use std::io::{Read as _, Write as _};
use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

pub const BIN: &str = env!("CARGO_BIN_EXE_example-app");

pub fn scratch(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("example-app-cli-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap_or_else(|e| panic!("{e}"));
    dir
}

pub fn command(dir: &Path) -> Command {
    let mut command = Command::new(BIN);
    command
        .current_dir(dir)
        .env_clear()
        .env("PATH", std::env::var("PATH").unwrap_or_default());
    command
}

pub fn run(command: &mut Command) -> Output {
    command
        .output()
        .unwrap_or_else(|e| panic!("running example-app: {e}"))
}

pub fn free_port() -> u16 {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap_or_else(|e| panic!("{e}"));
    listener
        .local_addr()
        .map(|a| a.port())
        .unwrap_or_else(|e| panic!("{e}"))
}

pub struct Server(pub Child);

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// Starts the server on `127.0.0.1:port` with a SQLite file in its
/// directory, its output discarded, and waits for `/health`.
pub fn start(mut command: Command, port: u16) -> Server {
    command.stdout(Stdio::null()).stderr(Stdio::null());
    start_with(command, port)
}

/// Like [`start_logged`], listening on `bind` (which must include
/// `127.0.0.1:port`, where `/health` is asked).
pub fn start_logged_on(mut command: Command, bind: &str, port: u16, log: &Path) -> Server {
    command.env("BIND", bind);
    start_logged(command, port, log)
}

fn start_with(mut command: Command, port: u16) -> Server {
    if !command.get_envs().any(|(name, _)| name == "BIND") {
        command.env("BIND", format!("127.0.0.1:{port}"));
    }
    if !command.get_envs().any(|(name, _)| name == "DATABASE_URL") {
        command.env("DATABASE_URL", "sqlite://app.db");
    }
    let child = command.spawn().unwrap_or_else(|e| panic!("{e}"));
    let mut server = Server(child);
    let deadline = Instant::now() + Duration::from_secs(30);
    while Instant::now() < deadline {
        if get(port, "/health", None).starts_with("HTTP/1.1 200") {
            return server;
        }
        if let Ok(Some(status)) = server.0.try_wait() {
            panic!("example-app exited with {status} before answering /health");
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    panic!("example-app did not answer /health within 30 s");
}

/// One HTTP/1.1 GET; the whole response as text, or "" if none came.
pub fn get(port: u16, path: &str, token: Option<&str>) -> String {
    let auth = token.map(|t| format!("Bearer {t}"));
    let headers: Vec<(&str, &str)> = auth
        .as_deref()
        .map(|value| ("Authorization", value))
        .into_iter()
        .collect();
    send(port, "GET", path, &headers, None)
}

/// Like [`start`], with the server's stdout and stderr in `log`.
pub fn start_logged(mut command: Command, port: u16, log: &Path) -> Server {
    let out = File::create(log).unwrap_or_else(|e| panic!("{}: {e}", log.display()));
    let err = out.try_clone().unwrap_or_else(|e| panic!("{e}"));
    command.stdout(out).stderr(err);
    start_with(command, port)
}

/// The server's log at `log` once it contains `needle`: lines are written
/// in batches (at least every 50 ms), so a test that reads what a running
/// server logged waits for the line it expects last, up to 10 seconds.
pub fn logged(log: &Path, needle: &str) -> String {
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let text = std::fs::read_to_string(log).unwrap_or_default();
        if text.contains(needle) {
            return text;
        }
        assert!(
            Instant::now() < deadline,
            "`{needle}` never reached {}:\n{text}",
            log.display()
        );
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// Runs `command` for at most `limit`: its output, or `None` (and the
/// process killed) if it was still running.
pub fn run_for(command: &mut Command, limit: Duration) -> Option<Output> {
    let mut child = command
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap_or_else(|e| panic!("{e}"));
    let deadline = Instant::now() + limit;
    while Instant::now() < deadline {
        if let Ok(Some(_)) = child.try_wait() {
            return child.wait_with_output().ok();
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    let _ = child.kill();
    let _ = child.wait();
    None
}

/// One HTTP/1.1 request with a JSON body (or none) and extra header lines:
/// the whole response as text, or "" if none came.
pub fn send(
    port: u16,
    method: &str,
    path: &str,
    headers: &[(&str, &str)],
    body: Option<&str>,
) -> String {
    let Ok(mut stream) = TcpStream::connect(("127.0.0.1", port)) else {
        return String::new();
    };
    let mut head = format!("{method} {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n");
    for (name, value) in headers {
        head.push_str(&format!("{name}: {value}\r\n"));
    }
    let body = body.unwrap_or_default();
    if !body.is_empty() {
        head.push_str(&format!(
            "Content-Type: application/json\r\nContent-Length: {}\r\n",
            body.len()
        ));
    }
    head.push_str("\r\n");
    head.push_str(body);
    let _ = stream.set_read_timeout(Some(Duration::from_secs(10)));
    if stream.write_all(head.as_bytes()).is_err() {
        return String::new();
    }
    let mut response = String::new();
    let _ = stream.read_to_string(&mut response);
    response
}

/// The body of a whole response, as JSON (`null` when it is not JSON).
pub fn json_body(response: &str) -> serde_json::Value {
    let body = response.split_once("\r\n\r\n").map_or("", |(_, body)| body);
    serde_json::from_str(body).unwrap_or(serde_json::Value::Null)
}

/// The value of header `name` in a whole response.
pub fn header<'a>(response: &'a str, name: &str) -> Option<&'a str> {
    let head = response
        .split_once("\r\n\r\n")
        .map_or(response, |(head, _)| head);
    head.lines().skip(1).find_map(|line| {
        let (key, value) = line.split_once(':')?;
        key.trim().eq_ignore_ascii_case(name).then(|| value.trim())
    })
}
