//! The API explorer page in a real browser: headless Chromium (Debian's
//! `chromium`, driven by `scripts/browser/explorer.mjs`) loads `/docs` from
//! the running example, under the page's own CSP, and lists every route of
//! the inventory, with no console error, no failed request and no refused
//! answer. The screenshot is kept in the target directory.

use std::process::Command;

use secure_api_runtime::{Mode, SecureApp, SecurityConfig};

mod common;

use common::*;

fn inventory() -> Vec<(String, String)> {
    let security = SecurityConfig::builder(Mode::Dev)
        .generated_key()
        .build()
        .unwrap_or_else(|e| panic!("{e}"));
    example_app::mount_routes(SecureApp::new(security))
        .routes()
        .iter()
        .map(|policy| (policy.method.to_string(), policy.path.to_owned()))
        .collect()
}

#[test]
fn the_explorer_lists_every_route_in_a_real_browser_without_errors() {
    let script = std::env::var("SECURE_API_TEST_BROWSER").unwrap_or_else(|_| {
        format!(
            "{}/../scripts/browser/explorer.mjs",
            env!("CARGO_MANIFEST_DIR")
        )
    });
    let dir = scratch("explorer");
    let port = free_port();
    let _server = start(command(&dir), port);
    let screenshot = std::path::Path::new(env!("CARGO_TARGET_TMPDIR")).join("explorer.png");
    let _ = std::fs::remove_file(&screenshot);

    let output = Command::new("node")
        .arg(&script)
        .arg(format!("http://127.0.0.1:{port}/docs"))
        .arg(&screenshot)
        .output()
        .unwrap_or_else(|e| panic!("node {script} (run the tests with scripts/test.sh): {e}"));
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(
        output.status.success(),
        "the browser failed: {stdout}\n{}",
        String::from_utf8_lossy(&output.stderr)
    );
    let report: serde_json::Value =
        serde_json::from_str(stdout.trim()).unwrap_or_else(|e| panic!("{stdout}: {e}"));

    assert_eq!(report["problems"], serde_json::json!([]), "{report}");
    assert_eq!(
        report["title"]
            .as_str()
            .map(|t| t.starts_with("secure-api example")),
        Some(true),
        "{report}"
    );
    let listed: Vec<(String, String)> = report["operations"]
        .as_array()
        .unwrap_or_else(|| panic!("{report}"))
        .iter()
        .map(|op| {
            let text = |key: &str| op[key].as_str().unwrap_or_default().to_owned();
            (text("method").to_uppercase(), text("path"))
        })
        .collect();
    let inventory = inventory();
    for route in &inventory {
        assert!(
            listed.contains(route),
            "{route:?} is not listed: {listed:?}"
        );
    }
    assert_eq!(listed.len(), inventory.len(), "{listed:?}");
    // An opened operation shows its request body's fields.
    let opened = report["opened"].as_str().unwrap_or_default();
    for field in ["username", "password", "display_name"] {
        assert!(opened.contains(field), "{field} is not shown: {opened}");
    }
    let size = std::fs::metadata(&screenshot).map(|m| m.len()).unwrap_or(0);
    assert!(size > 10_000, "no screenshot at {}", screenshot.display());
}

#[test]
fn the_explorer_is_served_under_its_own_csp_and_only_the_vendored_assets() {
    let dir = scratch("explorer-http");
    let port = free_port();
    let _server = start(command(&dir), port);

    let page = get(port, "/docs", None);
    assert!(page.starts_with("HTTP/1.1 200"), "{page}");
    let lower = page.to_ascii_lowercase();
    assert!(
        lower.contains("content-type: text/html; charset=utf-8"),
        "{page}"
    );
    assert!(
        lower.contains(&format!(
            "content-security-policy: {}",
            secure_api_runtime::docs::PAGE_CSP
        )),
        "{page}"
    );
    let script = get(port, "/docs/swagger-ui-bundle.js", None);
    assert!(
        script.starts_with("HTTP/1.1 200"),
        "{}",
        &script[..200.min(script.len())]
    );
    for name in [
        "/docs/other.js",
        "/docs/..%2FCargo.toml",
        "/docs/init.js%00",
    ] {
        let answer = get(port, name, None);
        assert!(answer.starts_with("HTTP/1.1 404"), "{name}: {answer}");
        assert!(
            answer.contains("application/problem+json"),
            "{name}: {answer}"
        );
    }
}

#[test]
fn production_serves_the_explorer_only_when_enabled() {
    let mounted = |docs: Option<&str>| {
        let security = SecurityConfig::from_lookup(|name| match name {
            "SECURE_API_MODE" => Some("prod".to_owned()),
            "SECURE_API_JWT_SECRET" => Some("a production secret of 32 bytes or more!".to_owned()),
            "SECURE_API_DOCS" => docs.map(str::to_owned),
            _ => None,
        })
        .unwrap_or_else(|e| panic!("{e}"));
        example_app::mount_routes(SecureApp::new(security))
            .routes()
            .iter()
            .any(|policy| policy.path == "/docs")
    };
    assert!(!mounted(None));
    assert!(!mounted(Some("off")));
    assert!(mounted(Some("on")));
    let refused = SecurityConfig::from_lookup(|name| match name {
        "SECURE_API_DOCS" => Some("yes".to_owned()),
        "SECURE_API_DEV_KEY_FILE" => Some(String::new()),
        _ => None,
    });
    let problems = refused
        .map(|_| String::new())
        .unwrap_or_else(|e| e.to_string());
    assert!(
        problems.contains("SECURE_API_DOCS is `yes`: use `on` or `off`"),
        "{problems}"
    );
}
