//! What the server prints and refuses as it starts: a clean first run, the
//! address it may listen on without a mode, and credentials kept out of its
//! output.

use std::process::Command;
use std::time::Duration;

mod common;

use common::*;

fn read(path: &std::path::Path) -> String {
    std::fs::read_to_string(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

#[test]
fn a_first_run_with_nothing_configured_logs_no_error() {
    let dir = scratch("first-run");
    let port = free_port();
    let log = dir.join("server.log");
    let server = start_logged(command(&dir), port, &log);
    logged(&log, "serving on http://127.0.0.1");
    // Every worker has built its app by now; give the log a moment to flush.
    std::thread::sleep(Duration::from_millis(300));
    drop(server);
    let output = read(&log);
    assert!(!output.contains("ERROR"), "{output}");
    // The webhook without keys is one warning, not one per worker.
    let webhook_lines = output
        .lines()
        .filter(|line| line.contains("PAYMENT_WEBHOOK_SECRET"))
        .count();
    assert_eq!(webhook_lines, 1, "{output}");
    let _ = std::fs::remove_dir_all(dir);
}

#[test]
fn without_a_mode_only_a_loopback_address_is_served() {
    let dir = scratch("bind");
    let port = free_port();
    let mut public = command(&dir);
    public.env("BIND", format!("0.0.0.0:{port}"));
    let output = run_for(&mut public, Duration::from_secs(20))
        .unwrap_or_else(|| panic!("the server started on 0.0.0.0 without SECURE_API_MODE"));
    assert!(!output.status.success());
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(stderr.contains("SECURE_API_MODE"), "{stderr}");
    assert!(stderr.contains("0.0.0.0"), "{stderr}");

    let mut check = command(&dir);
    check
        .arg("check-config")
        .env("BIND", format!("[::]:{port}"));
    let output = run(&mut check);
    assert!(!output.status.success());
    assert!(
        String::from_utf8_lossy(&output.stderr).contains("SECURE_API_MODE"),
        "{output:?}"
    );

    // An explicit dev mode may listen anywhere, with a warning.
    let log = dir.join("dev.log");
    let mut dev = command(&dir);
    dev.env("SECURE_API_MODE", "dev");
    let server = start_logged_on(dev, &format!("0.0.0.0:{port}"), port, &log);
    let output = logged(&log, "serving on");
    drop(server);
    assert!(output.contains("WARN"), "{output}");
    assert!(output.contains("0.0.0.0"), "{output}");
    let _ = std::fs::remove_dir_all(dir);
}

/// A database of its own on the tests' PostgreSQL, as a URL with a
/// password (the server trusts loopback, so any password connects).
fn postgres_url_with_password(password: &str) -> String {
    let admin = std::env::var("SECURE_API_TEST_POSTGRES_URL").unwrap_or_else(|_| {
        panic!("SECURE_API_TEST_POSTGRES_URL is not set: run the tests with scripts/test.sh")
    });
    let name = format!("example_startup_{}", std::process::id());
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap_or_else(|e| panic!("{e}"));
    runtime.block_on(async {
        let pool = secure_api_runtime::auth::connect_any(&admin, 1)
            .await
            .unwrap_or_else(|e| panic!("{e}"));
        let _ = sqlx::query(&format!("DROP DATABASE IF EXISTS {name}"))
            .execute(&pool)
            .await;
        sqlx::query(&format!("CREATE DATABASE {name}"))
            .execute(&pool)
            .await
            .unwrap_or_else(|e| panic!("CREATE DATABASE {name}: {e}"));
        pool.close().await;
    });
    let (scheme, rest) = admin
        .split_once("://")
        .unwrap_or_else(|| panic!("not a URL: {admin}"));
    let (user_and_host, _) = rest
        .rsplit_once('/')
        .unwrap_or_else(|| panic!("no database in {admin}"));
    let (user, host) = user_and_host
        .split_once('@')
        .unwrap_or(("postgres", user_and_host));
    let user = user.split(':').next().unwrap_or("postgres");
    format!("{scheme}://{user}:{password}@{host}/{name}")
}

struct Redis(std::process::Child, u16);

impl Drop for Redis {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn redis_with_password(password: &str) -> Redis {
    let binary = std::env::var("SECURE_API_TEST_REDIS_SERVER").unwrap_or_else(|_| {
        panic!("SECURE_API_TEST_REDIS_SERVER is not set: run the tests with scripts/test.sh")
    });
    let port = free_port();
    let child = Command::new(&binary)
        .args(["--port", &port.to_string(), "--bind", "127.0.0.1"])
        .args([
            "--save",
            "",
            "--appendonly",
            "no",
            "--requirepass",
            password,
        ])
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap_or_else(|e| panic!("{binary}: {e}"));
    let redis = Redis(child, port);
    let deadline = std::time::Instant::now() + Duration::from_secs(10);
    while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
        assert!(
            std::time::Instant::now() < deadline,
            "redis-server did not start"
        );
        std::thread::sleep(Duration::from_millis(20));
    }
    redis
}

#[test]
fn database_and_redis_passwords_never_reach_the_output() {
    let dir = scratch("credentials");
    let pg_password = "pg-pass-4c1d2b";
    let redis_password = "redis-pass-9e8f7a";
    let database_url = postgres_url_with_password(pg_password);
    let redis = redis_with_password(redis_password);
    let port = free_port();
    let log = dir.join("server.log");
    let mut serve = command(&dir);
    serve
        .env("DATABASE_URL", &database_url)
        .env(
            "REDIS_URL",
            format!("redis://:{redis_password}@127.0.0.1:{}/", redis.1),
        )
        .env("RUST_LOG", "debug")
        .env("EXAMPLE_ADMIN_PASSWORD", "plum tree at dusk, for the cli");
    let server = start_logged(serve, port, &log);
    // A request that reaches Redis (the default quota) and the database.
    let answer = get(port, "/api/users/1", None);
    assert!(answer.starts_with("HTTP/1.1 401"), "{answer}");
    // The request's audit line is the last the server writes.
    let output = logged(&log, "status=401");
    drop(server);
    assert!(output.contains("serving on"), "{output}");
    for secret in [pg_password, redis_password] {
        assert!(!output.contains(secret), "{secret} in:\n{output}");
    }
    // The address is still named, without its credentials.
    assert!(output.contains("127.0.0.1"), "{output}");
    let _ = std::fs::remove_dir_all(dir);
}
