//! The `example-app` binary: its `token` command, and a server started the
//! way a user starts it, answering a token that command printed.

use std::io::{Read as _, Write as _};
use std::net::TcpStream;
use std::path::{Path, PathBuf};
use std::process::{Output, Stdio};
use std::time::{Duration, Instant};

mod common;

use common::*;

fn token(dir: &Path, envs: &[(&str, &str)], args: &[&str]) -> Output {
    let mut command = command(dir);
    command.arg("token").args(args).envs(envs.iter().copied());
    run(&mut command)
}

#[test]
fn a_token_from_the_command_opens_the_servers_owner_route() {
    let dir = scratch("configured");
    let envs = [(
        "SECURE_API_JWT_SECRET",
        "cli test secret, thirty-two bytes or more",
    )];
    let port = free_port();
    let mut serve = command(&dir);
    serve
        .envs(envs)
        .env("EXAMPLE_ADMIN_PASSWORD", "plum tree at dusk, for the cli");
    let _server = start(serve, port);

    let output = token(&dir, &envs, &["--sub", "1", "--roles", "admin"]);
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    let token = String::from_utf8_lossy(&output.stdout).trim().to_owned();
    assert_eq!(token.split('.').count(), 3, "{token}");

    let own = get(port, "/api/users/1", Some(&token));
    assert!(own.starts_with("HTTP/1.1 200"), "{own}");
    assert!(own.contains(r#""username":"admin""#), "{own}");
    let other = get(port, "/api/users/2", Some(&token));
    assert!(other.starts_with("HTTP/1.1 403"), "{other}");
    let _ = std::fs::remove_dir_all(dir);
}

#[test]
fn without_a_secret_dev_mode_keeps_one_generated_key_for_server_and_command() {
    let dir = scratch("generated");
    let port = free_port();
    let mut serve = command(&dir);
    serve.env("EXAMPLE_ADMIN_PASSWORD", "plum tree at dusk, for the cli");
    let _server = start(serve, port);
    let key = std::fs::read(dir.join("example-app.dev-key")).unwrap_or_default();
    assert_eq!(key.len(), 32);

    let output = token(&dir, &[], &["--sub", "1"]);
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    let token = String::from_utf8_lossy(&output.stdout).trim().to_owned();
    let own = get(port, "/api/users/1", Some(&token));
    assert!(own.starts_with("HTTP/1.1 200"), "{own}");
    let _ = std::fs::remove_dir_all(dir);
}

#[test]
fn the_token_command_refuses_prod_mode_and_bad_arguments() {
    let dir = scratch("refusals");
    let prod = [
        ("SECURE_API_MODE", "prod"),
        (
            "SECURE_API_JWT_SECRET",
            "a production secret of at least 32 bytes",
        ),
    ];
    let output = token(&dir, &prod, &["--sub", "1"]);
    assert!(!output.status.success());
    assert!(String::from_utf8_lossy(&output.stderr).contains("dev mode only"));
    assert!(output.stdout.is_empty());

    let dev = [(
        "SECURE_API_JWT_SECRET",
        "cli test secret, thirty-two bytes or more",
    )];
    for args in [
        &["--roles", "user"][..],
        &["--sub"],
        &["--sub", "1", "--ttl", "soon"],
        &["--colour", "red"],
    ] {
        let output = token(&dir, &dev, args);
        assert!(!output.status.success(), "{args:?}");
        assert!(output.stdout.is_empty(), "{args:?}");
    }
    let _ = std::fs::remove_dir_all(dir);
}

#[test]
fn a_weak_prod_configuration_refuses_to_start_with_one_line_per_problem() {
    let dir = scratch("weak-prod");
    let mut serve = command(&dir);
    serve
        .env("SECURE_API_MODE", "prod")
        .env("SECURE_API_JWT_SECRET", "short");
    let output = run(&mut serve);
    assert!(!output.status.success());
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(stderr.contains("shorter than 32 bytes"), "{stderr}");
    assert!(
        !stderr.contains("short\n") && !stderr.contains("`short`"),
        "the secret is not echoed: {stderr}"
    );
    let _ = std::fs::remove_dir_all(dir);
}

#[test]
fn argon2_parameters_below_the_owasp_floor_refuse_to_start() {
    let dir = scratch("weak-argon2");
    let mut serve = command(&dir);
    serve
        .env("SECURE_API_ARGON2_MEMORY_KIB", "4096")
        .env("SECURE_API_ARGON2_ITERATIONS", "1");
    let output = run(&mut serve);
    assert!(!output.status.success());
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(stderr.contains("below OWASP's floor"), "{stderr}");
    assert!(
        stderr.contains("memory 4096 KiB is below 19456 KiB"),
        "{stderr}"
    );
    assert!(stderr.contains("iterations 1 is below 2"), "{stderr}");
    let _ = std::fs::remove_dir_all(dir);
}

/// A self-signed certificate for `localhost`, written as PEM files in `dir`.
fn self_signed(dir: &Path) -> (PathBuf, Vec<u8>) {
    let certified = rcgen::generate_simple_self_signed(vec!["localhost".to_owned()])
        .unwrap_or_else(|e| panic!("certificate: {e}"));
    let cert = certified.cert.pem();
    std::fs::write(dir.join("cert.pem"), &cert).unwrap_or_else(|e| panic!("{e}"));
    std::fs::write(dir.join("key.pem"), certified.signing_key.serialize_pem())
        .unwrap_or_else(|e| panic!("{e}"));
    (dir.join("cert.pem"), cert.into_bytes())
}

#[tokio::test]
async fn with_tls_cert_and_key_the_app_serves_https_even_in_prod_mode() {
    let dir = scratch("tls");
    let (cert_path, cert_pem) = self_signed(&dir);
    let port = free_port();
    let child = command(&dir)
        .env("SECURE_API_MODE", "prod")
        .env(
            "SECURE_API_JWT_SECRET",
            "a production secret of at least 32 bytes",
        )
        .env("PAYMENT_WEBHOOK_SECRET", WEBHOOK_SECRET)
        .env("TLS_CERT", &cert_path)
        .env("TLS_KEY", dir.join("key.pem"))
        .env("BIND", format!("127.0.0.1:{port}"))
        .env("DATABASE_URL", "sqlite://app.db")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap_or_else(|e| panic!("{e}"));
    let _server = Server(child);

    let client_config = {
        use rustls::pki_types::CertificateDer;
        use rustls::pki_types::pem::PemObject as _;
        let mut roots = rustls::RootCertStore::empty();
        for der in CertificateDer::pem_slice_iter(&cert_pem) {
            roots
                .add(der.unwrap_or_else(|e| panic!("{e}")))
                .unwrap_or_else(|e| panic!("{e}"));
        }
        rustls::ClientConfig::builder_with_provider(std::sync::Arc::new(
            rustls::crypto::ring::default_provider(),
        ))
        .with_safe_default_protocol_versions()
        .unwrap_or_else(|e| panic!("{e}"))
        .with_root_certificates(roots)
        .with_no_client_auth()
    };
    let client = reqwest::Client::builder()
        .use_preconfigured_tls(client_config.clone())
        .resolve("localhost", ([127, 0, 0, 1], port).into())
        .build()
        .unwrap_or_else(|e| panic!("{e}"));
    let url = format!("https://localhost:{port}/health");
    let deadline = Instant::now() + Duration::from_secs(30);
    let response = loop {
        match client.get(&url).send().await {
            Ok(response) => break response,
            Err(e) if Instant::now() > deadline => panic!("no https answer in 30 s: {e}"),
            Err(_) => tokio::time::sleep(Duration::from_millis(50)).await,
        }
    };
    assert_eq!(response.status(), reqwest::StatusCode::OK);
    assert_eq!(
        response
            .headers()
            .get("strict-transport-security")
            .and_then(|v| v.to_str().ok()),
        Some("max-age=63072000; includeSubDomains")
    );
    // The port does not speak plain HTTP.
    let plain = get(port, "/health", None);
    assert!(!plain.starts_with("HTTP/1.1 200"), "{plain}");

    // Over TLS too, a kept-alive connection's next head must arrive in
    // time: keep-alive (5 s) plus head timeout (5 s) after the answer.
    let tcp = TcpStream::connect(("127.0.0.1", port)).unwrap_or_else(|e| panic!("{e}"));
    tcp.set_read_timeout(Some(Duration::from_secs(30)))
        .unwrap_or_else(|e| panic!("{e}"));
    let name =
        rustls::pki_types::ServerName::try_from("localhost").unwrap_or_else(|e| panic!("{e}"));
    let connection = rustls::ClientConnection::new(std::sync::Arc::new(client_config), name)
        .unwrap_or_else(|e| panic!("{e}"));
    let mut tls = rustls::StreamOwned::new(connection, tcp);
    tls.write_all(b"GET /health HTTP/1.1\r\nHost: localhost\r\n\r\n")
        .unwrap_or_else(|e| panic!("{e}"));
    let mut answer = Vec::new();
    let mut byte = [0u8; 1];
    while !answer.ends_with(b"\r\n\r\n") && tls.read(&mut byte).is_ok_and(|n| n == 1) {
        answer.push(byte[0]);
    }
    assert!(
        answer.starts_with(b"HTTP/1.1 200"),
        "{}",
        String::from_utf8_lossy(&answer)
    );
    let started = Instant::now();
    tls.write_all(b"GET /health HTTP/1.1\r\nHost: localhost\r\n")
        .unwrap_or_else(|e| panic!("{e}"));
    let mut sink = [0u8; 512];
    while tls.read(&mut sink).is_ok_and(|n| n > 0) {}
    let held = started.elapsed();
    assert!(held < Duration::from_secs(14), "held {held:?}");
    let _ = std::fs::remove_dir_all(dir);
}

#[test]
fn the_routes_command_prints_the_inventory() {
    let dir = scratch("routes");
    let mut routes = command(&dir);
    routes.arg("routes");
    let output = run(&mut routes);
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    let table = String::from_utf8_lossy(&output.stdout);
    let lines: Vec<&str> = table.lines().collect();
    assert!(
        lines[0].starts_with("METHOD  PATH")
            && lines[0].contains("OWNER")
            && lines[0].contains("LIFECYCLE"),
        "{table}"
    );
    let row = |method: &str, path: &str| {
        lines
            .iter()
            .find(|l| l.split_whitespace().take(2).eq([method, path]))
            .map(|l| l.split_whitespace().collect::<Vec<_>>().join(" "))
            .unwrap_or_else(|| panic!("no row for {method} {path}:\n{table}"))
    };
    assert!(row("GET", "/health").contains("platform production public"));
    assert!(row("GET", "/api/v1/users/{user_id}").contains(
        "accounts deprecated (sunset 2027-06-30, successor /api/users/{user_id}) owner(user_id)"
    ));
    assert!(row("POST", "/api/orders/{order_id}/execute")
        .contains("owner(order_id, resource = Order) + idempotent app default Order(order_id): Validated => Executed"));
    assert!(row("GET", "/api/search").contains("30/minute; 5/second per user"));
    assert!(
        row("POST", "/api/webhooks/payment")
            .contains("webhook(secret = PAYMENT_WEBHOOK_SECRET) 600/minute per address")
    );
    assert!(row("GET", "/api/reports/orders").contains("orders production scopes(reports:read)"));
    // Dev mode serves the explorer page.
    assert!(row("GET", "/docs").contains("platform production public"));
    assert!(row("GET", "/docs/{asset}").contains("platform production public"));
    // One row per route, nothing else.
    assert_eq!(lines.len(), 2 + 21, "{table}");
    let _ = std::fs::remove_dir_all(dir);
}

const WEBHOOK_SECRET: &str = "whsec_Y2xpIHRlc3Qgd2ViaG9vayBzZWNyZXQ=";

fn check_config(dir: &Path, envs: &[(&str, &str)]) -> (bool, String, String) {
    let mut check = command(dir);
    check.arg("check-config").envs(envs.iter().copied());
    let output = run(&mut check);
    (
        output.status.success(),
        String::from_utf8_lossy(&output.stdout).into_owned(),
        String::from_utf8_lossy(&output.stderr).into_owned(),
    )
}

#[test]
fn check_config_gives_the_verdict_with_one_line_per_problem() {
    let dir = scratch("check-config");
    let secret = "cli test secret, thirty-two bytes or more";
    let (ok, stdout, stderr) = check_config(
        &dir,
        &[
            ("SECURE_API_MODE", "prod"),
            ("SECURE_API_JWT_SECRET", secret),
            ("SECURE_API_TRUSTED_PROXIES", "10.0.0.0/8"),
            ("PAYMENT_WEBHOOK_SECRET", WEBHOOK_SECRET),
        ],
    );
    assert!(ok, "{stdout}{stderr}");
    assert_eq!(stdout.trim(), "configuration OK (prod mode)");

    // Production without a webhook secret, without HTTPS, with debug logs.
    let (ok, stdout, stderr) = check_config(
        &dir,
        &[
            ("SECURE_API_MODE", "prod"),
            ("SECURE_API_JWT_SECRET", secret),
            ("RUST_LOG", "debug"),
        ],
    );
    assert!(!ok);
    assert_eq!(stdout.trim(), "configuration refused: 3 problem(s)");
    let lines: Vec<&str> = stderr.lines().collect();
    assert_eq!(lines.len(), 3, "{stderr}");
    assert!(
        lines[0].contains("PAYMENT_WEBHOOK_SECRET is not set"),
        "{stderr}"
    );
    assert!(
        lines[1].contains("neither TLS_CERT and TLS_KEY nor SECURE_API_TRUSTED_PROXIES"),
        "{stderr}"
    );
    assert!(
        lines[2].contains("RUST_LOG turns on debug logging"),
        "{stderr}"
    );

    // A well-known secret and a malformed webhook secret, never echoed.
    let (ok, stdout, stderr) = check_config(
        &dir,
        &[
            ("SECURE_API_MODE", "prod"),
            (
                "SECURE_API_JWT_SECRET",
                "a-string-secret-at-least-256-bits-long",
            ),
            ("PAYMENT_WEBHOOK_SECRET", "not-a-whsec-secret"),
        ],
    );
    assert!(!ok);
    assert!(
        stdout.contains("configuration refused: 2 problem(s)"),
        "{stdout}"
    );
    assert!(stderr.contains("well-known default"), "{stderr}");
    assert!(stderr.contains("PAYMENT_WEBHOOK_SECRET"), "{stderr}");
    assert!(
        !stderr.contains("a-string-secret") && !stderr.contains("not-a-whsec"),
        "{stderr}"
    );

    // The same settings from a file, the environment adding the rest.
    std::fs::write(
        dir.join("security.toml"),
        format!("mode = \"prod\"\njwt_secret = \"{secret}\"\ntrusted_proxies = [\"10.0.0.0/8\"]\n"),
    )
    .unwrap_or_else(|e| panic!("{e}"));
    let (ok, stdout, stderr) = check_config(
        &dir,
        &[
            ("SECURE_API_CONFIG", "security.toml"),
            ("PAYMENT_WEBHOOK_SECRET", WEBHOOK_SECRET),
        ],
    );
    assert!(ok, "{stdout}{stderr}");
    assert_eq!(stdout.trim(), "configuration OK (prod mode)");
    // The server refuses to start on what check-config refuses.
    let mut serve = command(&dir);
    serve
        .env("SECURE_API_MODE", "prod")
        .env("SECURE_API_JWT_SECRET", secret);
    let output = run(&mut serve);
    assert!(!output.status.success());
    assert!(String::from_utf8_lossy(&output.stderr).contains("PAYMENT_WEBHOOK_SECRET is not set"));
    let _ = std::fs::remove_dir_all(dir);
}
