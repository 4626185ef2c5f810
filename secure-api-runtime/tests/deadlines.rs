//! Slow clients on a real server, over raw sockets: a kept-alive
//! connection whose next head never ends is shut, a body trickled a byte
//! at a time is cut off with 408, and the server keeps answering others.

use std::io::{Read as _, Write as _};
use std::net::{TcpListener, TcpStream};
use std::time::{Duration, Instant};

use secure_api_runtime::auth::JwtKey;
use secure_api_runtime::prelude::*;
use secure_api_runtime::server::{Hardening, harden_with};

#[get("/hello")]
#[registered(owner = "tests", lifecycle = production)]
#[public]
async fn hello() -> &'static str {
    "hello"
}

#[post("/echo")]
#[registered(owner = "tests", lifecycle = production)]
#[public]
#[limit(body = "4KiB")]
async fn echo(body: String) -> String {
    body
}

const HARDENING: Hardening = Hardening {
    head_timeout: Duration::from_secs(1),
    keep_alive: Duration::from_secs(1),
    min_body_rate: 240,
    body_grace: Duration::from_secs(1),
};

/// A server on a free loopback port, in a thread of its own.
fn start() -> u16 {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap_or_else(|e| panic!("{e}"));
    let port = listener
        .local_addr()
        .map(|a| a.port())
        .unwrap_or_else(|e| panic!("{e}"));
    std::thread::spawn(move || {
        actix_web::rt::System::new().block_on(async move {
            let security = SecurityConfig::builder(Mode::Dev)
                .key(JwtKey::hs256(
                    b"deadline tests secret, 32 bytes or more".to_vec(),
                ))
                .build()
                .unwrap_or_else(|e| panic!("{e}"));
            let server = HttpServer::new(move || {
                SecureApp::new(security.clone())
                    .service(hello)
                    .service(echo)
                    .into_app()
            });
            let server = harden_with(server, HARDENING)
                .workers(1)
                .listen(listener)
                .unwrap_or_else(|e| panic!("{e}"))
                .run();
            let _ = server.await;
        });
    });
    let deadline = Instant::now() + Duration::from_secs(10);
    while Instant::now() < deadline {
        if get_hello(port).starts_with("HTTP/1.1 200") {
            return port;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    panic!("the server did not start");
}

fn connect(port: u16) -> TcpStream {
    let stream = TcpStream::connect(("127.0.0.1", port)).unwrap_or_else(|e| panic!("{e}"));
    stream
        .set_read_timeout(Some(Duration::from_secs(10)))
        .unwrap_or_else(|e| panic!("{e}"));
    stream
}

/// A whole GET on a connection of its own.
fn get_hello(port: u16) -> String {
    let Ok(mut stream) = TcpStream::connect(("127.0.0.1", port)) else {
        return String::new();
    };
    let _ = stream.set_read_timeout(Some(Duration::from_secs(5)));
    let _ = stream.write_all(b"GET /hello HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n");
    let mut answer = String::new();
    let _ = stream.read_to_string(&mut answer);
    answer
}

/// Reads one answer with a `content-length` body.
fn read_answer(stream: &mut TcpStream) -> String {
    let mut answer = Vec::new();
    let mut byte = [0u8; 1];
    while !answer.ends_with(b"\r\n\r\n") {
        match stream.read(&mut byte) {
            Ok(1) => answer.push(byte[0]),
            _ => break,
        }
    }
    let head = String::from_utf8_lossy(&answer).to_ascii_lowercase();
    let length = head
        .lines()
        .find_map(|line| line.strip_prefix("content-length:"))
        .and_then(|n| n.trim().parse::<usize>().ok())
        .unwrap_or(0);
    let mut body = vec![0u8; length];
    let _ = stream.read_exact(&mut body);
    answer.extend(body);
    String::from_utf8_lossy(&answer).into_owned()
}

/// Seconds until the server closes `stream`, reading whatever comes.
fn closed_after(stream: &mut TcpStream, since: Instant) -> Duration {
    let mut sink = [0u8; 512];
    loop {
        match stream.read(&mut sink) {
            Ok(0) | Err(_) => return since.elapsed(),
            Ok(_) => {}
        }
    }
}

#[test]
fn a_second_head_that_never_ends_is_cut_off_while_others_are_served() {
    let port = start();
    let mut slow = connect(port);
    slow.write_all(b"GET /hello HTTP/1.1\r\nHost: t\r\n\r\n")
        .unwrap_or_else(|e| panic!("{e}"));
    let first = read_answer(&mut slow);
    assert!(first.starts_with("HTTP/1.1 200"), "{first}");
    // The next head starts and never ends.
    let started = Instant::now();
    slow.write_all(b"GET /hello HTTP/1.1\r\nHost: t\r\n")
        .unwrap_or_else(|e| panic!("{e}"));
    // Meanwhile another client is served.
    assert!(get_hello(port).starts_with("HTTP/1.1 200"));
    let held = closed_after(&mut slow, started);
    // Keep-alive plus head timeout (2 s) after the first answer, not 10 s.
    assert!(held < Duration::from_secs(4), "held {held:?}");
    assert!(get_hello(port).starts_with("HTTP/1.1 200"));
}

#[test]
fn a_body_trickled_a_byte_at_a_time_is_cut_off_with_408() {
    let port = start();
    // A body at full speed is served.
    let mut fast = connect(port);
    fast.write_all(b"POST /echo HTTP/1.1\r\nHost: t\r\nContent-Length: 5\r\n\r\nhello")
        .unwrap_or_else(|e| panic!("{e}"));
    let answer = read_answer(&mut fast);
    assert!(answer.starts_with("HTTP/1.1 200"), "{answer}");
    assert!(answer.ends_with("hello"), "{answer}");

    let mut slow = connect(port);
    slow.write_all(b"POST /echo HTTP/1.1\r\nHost: t\r\nContent-Length: 1000\r\n\r\n")
        .unwrap_or_else(|e| panic!("{e}"));
    let mut writer = slow.try_clone().unwrap_or_else(|e| panic!("{e}"));
    let started = Instant::now();
    std::thread::spawn(move || {
        for _ in 0..100 {
            if writer.write_all(b"x").is_err() {
                return;
            }
            std::thread::sleep(Duration::from_millis(100));
        }
    });
    assert!(get_hello(port).starts_with("HTTP/1.1 200"));
    let answer = read_answer(&mut slow);
    assert!(answer.starts_with("HTTP/1.1 408"), "{answer}");
    let lower = answer.to_ascii_lowercase();
    assert!(lower.contains("connection: close"), "{answer}");
    assert!(lower.contains("application/problem+json"), "{answer}");
    let held = closed_after(&mut slow, started);
    assert!(held < Duration::from_secs(4), "held {held:?}");
}
