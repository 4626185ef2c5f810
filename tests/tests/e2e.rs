//! The example app over HTTP on a loopback port: authentication,
//! ownership, roles and the problem+json answers of DESIGN.md.

use std::collections::BTreeSet;
use std::time::{SystemTime, UNIX_EPOCH};

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use hmac::{Hmac, Mac as _};
use reqwest::{Client, Response, StatusCode};
use secure_api_tests::{TEST_SECRET, TestApp};
use serde_json::{Value, json};
use sha2::Sha256;

async fn problem(response: Response, status: StatusCode) -> Value {
    assert_eq!(response.status(), status);
    let content_type = response
        .headers()
        .get("content-type")
        .and_then(|v| v.to_str().ok())
        .map(str::to_owned);
    assert_eq!(content_type.as_deref(), Some("application/problem+json"));
    let body: Value = response.json().await.unwrap_or_default();
    assert_eq!(body["status"], json!(status.as_u16()), "{body}");
    assert_eq!(body["type"], json!("about:blank"));
    assert!(body["title"].is_string(), "{body}");
    body
}

async fn unauthorized(response: Response) {
    let challenge = response
        .headers()
        .get("www-authenticate")
        .and_then(|v| v.to_str().ok())
        .map(str::to_owned);
    assert_eq!(challenge.as_deref(), Some("Bearer"));
    problem(response, StatusCode::UNAUTHORIZED).await;
}

fn keys(value: &Value) -> BTreeSet<String> {
    value
        .as_object()
        .map(|o| o.keys().cloned().collect())
        .unwrap_or_default()
}

fn hs256(claims: &Value, secret: &[u8]) -> String {
    let header = URL_SAFE_NO_PAD.encode(br#"{"alg":"HS256","typ":"JWT"}"#);
    let payload = URL_SAFE_NO_PAD.encode(claims.to_string());
    let signature = hmac_sha256(secret, format!("{header}.{payload}").as_bytes());
    format!("{header}.{payload}.{}", URL_SAFE_NO_PAD.encode(signature))
}

/// Signs with HMAC-SHA256 directly, so forged tokens do not go through the
/// code under test.
fn hmac_sha256(key: &[u8], message: &[u8]) -> Vec<u8> {
    let mut mac = Hmac::<Sha256>::new_from_slice(key).unwrap_or_else(|e| panic!("{e}"));
    mac.update(message);
    mac.finalize().into_bytes().to_vec()
}

fn now() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_secs())
}

#[test]
fn the_test_signer_matches_the_published_hmac_sha256_vector() {
    // RFC 4231, test case 2.
    let mac = hmac_sha256(b"Jefe", b"what do ya want for nothing?");
    let hex: String = mac.iter().map(|b| format!("{b:02x}")).collect();
    assert_eq!(
        hex,
        "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn health_is_public() {
    let app = TestApp::start().await;
    let response = Client::new()
        .get(app.url("/health"))
        .send()
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(response.status(), StatusCode::OK);
    app.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_tokens_get_401_problem_with_a_bearer_challenge() {
    let app = TestApp::start().await;
    let client = Client::new();
    let url = app.url("/api/users/1");
    let claims =
        json!({"sub": "1", "roles": ["admin"], "jti": "j1", "iat": now(), "exp": now() + 600});
    let alg_none = format!(
        "{}.{}.",
        URL_SAFE_NO_PAD.encode(br#"{"alg":"none","typ":"JWT"}"#),
        URL_SAFE_NO_PAD.encode(claims.to_string())
    );
    let expired = hs256(
        &json!({"sub": "1", "jti": "j2", "iat": now() - 7200, "exp": now() - 3600}),
        TEST_SECRET,
    );
    let cases = [
        ("no token", None),
        (
            "another key",
            Some(format!(
                "Bearer {}",
                hs256(&claims, b"a different secret of sufficient length")
            )),
        ),
        ("alg none", Some(format!("Bearer {alg_none}"))),
        ("expired", Some(format!("Bearer {expired}"))),
        ("garbage", Some("Bearer not-a-token".to_owned())),
        ("garbage in three parts", Some("Bearer a.b.c".to_owned())),
        (
            "wrong scheme",
            Some(format!("Basic {}", hs256(&claims, TEST_SECRET))),
        ),
        (
            "sub of the wrong type",
            Some(format!(
                "Bearer {}",
                hs256(
                    &json!({"sub": 1, "jti": "j", "iat": now(), "exp": now() + 60}),
                    TEST_SECRET
                )
            )),
        ),
    ];
    for (case, authorization) in cases {
        let mut request = client.get(&url);
        if let Some(value) = authorization {
            request = request.header("authorization", value);
        }
        let response = request
            .send()
            .await
            .unwrap_or_else(|e| panic!("{case}: {e}"));
        assert_eq!(response.status(), StatusCode::UNAUTHORIZED, "{case}");
        unauthorized(response).await;
    }
    // The same claims signed with the right key pass: the refusals above are
    // about the token, not the route.
    let good = client
        .get(&url)
        .header(
            "authorization",
            format!("Bearer {}", hs256(&claims, TEST_SECRET)),
        )
        .send()
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(good.status(), StatusCode::OK);
    app.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn owners_read_themselves_with_exactly_the_public_keys_and_nobody_else() {
    let app = TestApp::start().await;
    let client = Client::new();
    let admin = app.token("1", &["admin"]);
    let created = client
        .post(app.url("/api/admin/users"))
        .bearer_auth(&admin)
        .json(&json!({"username": "alice", "password": "correct horse battery", "display_name": "Alice"}))
        .send()
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(created.status(), StatusCode::CREATED);
    let created: Value = created.json().await.unwrap_or_default();
    let expected: BTreeSet<String> = ["id", "username", "display_name"].map(str::to_owned).into();
    assert_eq!(keys(&created), expected);
    let alice_id = created["id"]
        .as_i64()
        .unwrap_or_else(|| panic!("an id in the answer"))
        .to_string();

    let alice = app.token(&alice_id, &["user"]);
    let own = client
        .get(app.url(&format!("/api/users/{alice_id}")))
        .bearer_auth(&alice)
        .send()
        .await;
    let own = own.unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(own.status(), StatusCode::OK);
    let body: Value = own.json().await.unwrap_or_default();
    assert_eq!(keys(&body), expected);
    assert_eq!(body["username"], json!("alice"));
    assert_eq!(body["display_name"], json!("Alice"));

    let other = client
        .get(app.url("/api/users/1"))
        .bearer_auth(&alice)
        .send()
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    let body = problem(other, StatusCode::FORBIDDEN).await;
    assert!(
        !body.to_string().contains("admin"),
        "no detail about the other user: {body}"
    );

    // Search pages say where they are and whether another follows.
    let search = |query: &str| {
        client
            .get(app.url(&format!("/api/search?{query}")))
            .bearer_auth(&alice)
            .send()
    };
    let first: Value = search("q=a&limit=1")
        .await
        .unwrap_or_else(|e| panic!("{e}"))
        .json()
        .await
        .unwrap_or_default();
    assert_eq!(first["items"].as_array().map(Vec::len), Some(1), "{first}");
    assert_eq!(
        (&first["limit"], &first["offset"], &first["has_more"]),
        (&json!(1), &json!(0), &json!(true)),
        "{first}"
    );
    assert_eq!(keys(&first["items"][0]), expected);
    let last: Value = search("q=a&limit=1&offset=1")
        .await
        .unwrap_or_else(|e| panic!("{e}"))
        .json()
        .await
        .unwrap_or_default();
    assert_eq!(last["items"][0]["username"], json!("alice"), "{last}");
    assert_eq!(last["has_more"], json!(false), "{last}");
    app.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn non_admins_get_403_on_the_admin_route_and_nothing_is_created() {
    let app = TestApp::start().await;
    let client = Client::new();
    let user = app.token("5", &["user"]);
    let body =
        json!({"username": "mallory", "password": "correct horse battery", "display_name": "M"});
    let response = client
        .post(app.url("/api/admin/users"))
        .bearer_auth(&user)
        .json(&body)
        .send()
        .await;
    problem(
        response.unwrap_or_else(|e| panic!("{e}")),
        StatusCode::FORBIDDEN,
    )
    .await;
    // The admin can then create the same user: the refused call changed nothing.
    let admin = app.token("1", &["admin"]);
    let response = client
        .post(app.url("/api/admin/users"))
        .bearer_auth(&admin)
        .json(&body)
        .send()
        .await;
    assert_eq!(
        response.unwrap_or_else(|e| panic!("{e}")).status(),
        StatusCode::CREATED
    );
    app.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn guards_run_before_the_body_is_read() {
    let app = TestApp::start().await;
    let client = Client::new();
    // Malformed JSON from an unauthenticated caller is a 401, not a 400:
    // the body was never parsed.
    let response = client
        .post(app.url("/api/admin/users"))
        .header("content-type", "application/json")
        .body("{not json")
        .send()
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    unauthorized(response).await;
    app.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn framework_errors_are_problem_json() {
    let app = TestApp::start().await;
    let client = Client::new();
    let admin = app.token("1", &["admin"]);
    let send = |request: reqwest::RequestBuilder| async move {
        request.send().await.unwrap_or_else(|e| panic!("{e}"))
    };

    problem(
        send(client.get(app.url("/no/such/route"))).await,
        StatusCode::NOT_FOUND,
    )
    .await;
    let wrong_method = send(client.delete(app.url("/health"))).await;
    assert_eq!(
        wrong_method
            .headers()
            .get("allow")
            .and_then(|v| v.to_str().ok()),
        Some("GET, HEAD")
    );
    problem(wrong_method, StatusCode::METHOD_NOT_ALLOWED).await;
    // HEAD is answered wherever GET is, under the same policy, without a body.
    let head = send(client.head(app.url("/health"))).await;
    assert_eq!(head.status(), StatusCode::OK);
    assert!(head.bytes().await.map(|b| b.is_empty()).unwrap_or(false));
    let head = send(client.head(app.url("/api/users/1"))).await;
    assert_eq!(head.status(), StatusCode::UNAUTHORIZED);

    let post = |body: &'static str, content_type: &'static str| {
        client
            .post(app.url("/api/admin/users"))
            .bearer_auth(&admin)
            .header("content-type", content_type)
            .body(body)
    };
    problem(
        send(post("{not json", "application/json")).await,
        StatusCode::BAD_REQUEST,
    )
    .await;
    problem(
        send(post("[1, 2]", "application/json")).await,
        StatusCode::UNPROCESSABLE_ENTITY,
    )
    .await;
    problem(
        send(post("{}", "text/plain")).await,
        StatusCode::UNSUPPORTED_MEDIA_TYPE,
    )
    .await;
    let unknown = r#"{"username":"eve","password":"correct horse battery","display_name":"Eve","is_admin":true}"#;
    let body = problem(
        send(post(unknown, "application/json")).await,
        StatusCode::UNPROCESSABLE_ENTITY,
    )
    .await;
    assert!(
        body["detail"]
            .as_str()
            .unwrap_or_default()
            .contains("is_admin"),
        "{body}"
    );
    let huge = client
        .post(app.url("/api/admin/users"))
        .bearer_auth(&admin)
        .header("content-type", "application/json")
        .body(vec![b' '; 2 * 1024 * 1024]);
    problem(send(huge).await, StatusCode::PAYLOAD_TOO_LARGE).await;

    // An owner whose path parameter is not a number: the owner check passes
    // on the raw segment only when it equals the subject; the typed
    // extractor then refuses it with 400.
    let odd = app.token("x1", &["user"]);
    problem(
        send(client.get(app.url("/api/users/x1")).bearer_auth(&odd)).await,
        StatusCode::BAD_REQUEST,
    )
    .await;
    app.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_response_carries_the_security_headers() {
    let app = TestApp::start().await;
    let client = Client::new();
    let token = app.token("1", &["admin"]);
    let responses = [
        client.get(app.url("/health")).send().await,
        client
            .get(app.url("/api/users/1"))
            .bearer_auth(&token)
            .send()
            .await,
        client.get(app.url("/api/users/1")).send().await,
        client
            .get(app.url("/api/users/2"))
            .bearer_auth(&token)
            .send()
            .await,
        client.get(app.url("/nowhere")).send().await,
        client.delete(app.url("/health")).send().await,
        client
            .patch(app.url("/api/users/me"))
            .bearer_auth(&token)
            .json(&json!({"x": 1}))
            .send()
            .await,
    ];
    for response in responses {
        let response = response.unwrap_or_else(|e| panic!("{e}"));
        let status = response.status();
        let header = |name: &str| {
            response
                .headers()
                .get(name)
                .and_then(|v| v.to_str().ok())
                .map(str::to_owned)
        };
        assert_eq!(
            header("content-security-policy").as_deref(),
            Some("default-src 'none'; frame-ancestors 'none'"),
            "{status}"
        );
        assert_eq!(
            header("x-content-type-options").as_deref(),
            Some("nosniff"),
            "{status}"
        );
        assert_eq!(
            header("x-frame-options").as_deref(),
            Some("DENY"),
            "{status}"
        );
        assert_eq!(
            header("referrer-policy").as_deref(),
            Some("no-referrer"),
            "{status}"
        );
        assert_eq!(
            header("cache-control").as_deref(),
            Some("no-store"),
            "{status}"
        );
        assert_eq!(
            header("cross-origin-opener-policy").as_deref(),
            Some("same-origin"),
            "{status}"
        );
        assert_eq!(
            header("cross-origin-resource-policy").as_deref(),
            Some("same-origin"),
            "{status}"
        );
        assert!(
            header("permissions-policy").is_some_and(|p| p.contains("camera=()")),
            "{status}"
        );
        assert_eq!(header("server"), None, "{status}");
        assert_eq!(
            header("strict-transport-security"),
            None,
            "plain HTTP in dev mode: {status}"
        );
    }
    app.stop().await;
}

#[tokio::test]
async fn the_openapi_document_is_served_as_committed() {
    let app = TestApp::start().await;
    let response = reqwest::get(app.url("/openapi.json"))
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(response.status(), reqwest::StatusCode::OK);
    assert_eq!(
        response
            .headers()
            .get("content-type")
            .and_then(|v| v.to_str().ok()),
        Some("application/json")
    );
    let served: serde_json::Value = response
        .json()
        .await
        .unwrap_or_else(|e| panic!("the served document is not JSON: {e}"));
    let committed: serde_json::Value =
        serde_json::from_str(include_str!("../../example-app/openapi.json"))
            .unwrap_or_else(|e| panic!("the committed document is not JSON: {e}"));
    assert!(
        served["paths"]
            .as_object()
            .is_some_and(|paths| !paths.is_empty()),
        "{served}"
    );
    assert_eq!(served, committed);
    app.stop().await;
}
