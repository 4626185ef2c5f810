//! The example pointed at a real OpenID provider (`scripts/oidc/provider.js`,
//! oidc-provider on Node.js) with three variables: its client-credentials
//! tokens reach `GET /api/reports/orders` by scope, and the protected
//! resource metadata names the provider.

use std::io::{BufRead as _, BufReader};
use std::process::{Child, Command, Stdio};

mod common;

use common::*;

const AUDIENCE: &str = "https://orders.example.test";

struct Provider {
    child: Child,
    issuer: String,
}

impl Drop for Provider {
    fn drop(&mut self) {
        drop(self.child.stdin.take());
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn provider() -> Provider {
    let script = std::env::var("SECURE_API_TEST_OIDC_PROVIDER")
        .unwrap_or_else(|_| format!("{}/../scripts/oidc/provider.js", env!("CARGO_MANIFEST_DIR")));
    let mut child = Command::new("node")
        .arg(&script)
        .arg(AUDIENCE)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap_or_else(|e| panic!("node {script} (run the tests with scripts/test.sh): {e}"));
    let mut line = String::new();
    let stdout = child.stdout.take().unwrap_or_else(|| panic!("stdout"));
    BufReader::new(stdout)
        .read_line(&mut line)
        .unwrap_or_else(|e| panic!("{e}"));
    let ready: serde_json::Value = serde_json::from_str(&line).unwrap_or_else(|e| {
        panic!(
            "the provider said `{line}` (is scripts/oidc installed? scripts/test.sh does it): {e}"
        )
    });
    Provider {
        child,
        issuer: ready["issuer"].as_str().unwrap_or_default().to_owned(),
    }
}

async fn token(issuer: &str, client: &str, scope: &str) -> String {
    let answer: serde_json::Value = reqwest::Client::new()
        .post(format!("{issuer}/token"))
        .basic_auth(client, Some(format!("secret-{client}")))
        .form(&[("grant_type", "client_credentials"), ("scope", scope)])
        .send()
        .await
        .unwrap_or_else(|e| panic!("{e}"))
        .json()
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    answer["access_token"]
        .as_str()
        .unwrap_or_else(|| panic!("no token: {answer}"))
        .to_owned()
}

#[tokio::test]
async fn a_providers_token_with_the_scope_reads_the_orders_report() {
    let provider = provider();
    let dir = scratch("oidc");
    let port = free_port();
    let mut command = command(&dir);
    command
        .env("SECURE_API_OIDC_ISSUERS", &provider.issuer)
        .env("SECURE_API_OIDC_AUDIENCE", AUDIENCE)
        .env("SECURE_API_OIDC_ROLES_CLAIM", "realm_access.roles");
    let _server = start(command, port);

    let reports = token(&provider.issuer, "reports", "reports:read").await;
    let answer = get(port, "/api/reports/orders", Some(&reports));
    assert!(answer.starts_with("HTTP/1.1 200"), "{answer}");
    assert!(answer.ends_with("{\"orders\":0}"), "{answer}");

    let basic = token(&provider.issuer, "basic", "orders:read").await;
    let answer = get(port, "/api/reports/orders", Some(&basic));
    assert!(answer.starts_with("HTTP/1.1 403"), "{answer}");
    assert!(
        answer.contains("error=\"insufficient_scope\", scope=\"reports:read\""),
        "{answer}"
    );

    let answer = get(port, "/api/reports/orders", None);
    assert!(answer.starts_with("HTTP/1.1 401"), "{answer}");
    assert!(
        answer.contains(
            "resource_metadata=\"http://127.0.0.1/.well-known/oauth-protected-resource\""
        ),
        "{answer}"
    );

    let answer = get(port, "/.well-known/oauth-protected-resource", None);
    assert!(answer.starts_with("HTTP/1.1 200"), "{answer}");
    let body = answer.split("\r\n\r\n").nth(1).unwrap_or_default();
    let metadata: serde_json::Value =
        serde_json::from_str(body).unwrap_or_else(|e| panic!("{body}: {e}"));
    assert_eq!(metadata["resource"], AUDIENCE);
    assert_eq!(
        metadata["authorization_servers"],
        serde_json::json!([provider.issuer])
    );
    assert_eq!(
        metadata["scopes_supported"],
        serde_json::json!(["reports:read"])
    );
}
