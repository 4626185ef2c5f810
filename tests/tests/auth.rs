//! The authentication lifecycle over HTTP (OWASP API2): register, login,
//! refresh rotation with reuse detection, logout, fresh logins, the second
//! factor, throttling, and bad input.

use std::collections::BTreeSet;
use std::time::Duration;

use example_app::auth::AuthOptions;
use reqwest::{Client, Method, StatusCode};
use secure_api_runtime::auth::TotpSecret;
use secure_api_runtime::auth::sessions::now_secs;
use secure_api_tests::{
    ADMIN_PASSWORD, TEST_SECRET, TestApp, on_both_databases, without_request_id,
};
use serde_json::{Value, json};

const PASSWORD: &str = "plum tree at dusk";

on_both_databases!(
    register_login_call_refresh_logout,
    twenty_concurrent_refreshes_of_one_token_give_one_pair,
    reuse_after_rotation_revokes_the_family,
    unknown_user_and_wrong_password_answer_alike,
    with_totp_on_login_needs_a_fresh_unused_code,
    a_restart_keeps_users_and_revocations,
);

fn keys(value: &Value) -> BTreeSet<&str> {
    value
        .as_object()
        .map(|o| o.keys().map(String::as_str).collect())
        .unwrap_or_default()
}

fn text<'a>(value: &'a Value, key: &str) -> &'a str {
    value[key]
        .as_str()
        .unwrap_or_else(|| panic!("`{key}` in {value}"))
}

async fn register(app: &TestApp, client: &Client, username: &str) -> i64 {
    let (status, body) = app
        .send(
            client,
            Method::POST,
            "/api/auth/register",
            None,
            Some(json!({"username": username, "password": PASSWORD, "display_name": "Someone"})),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
    assert_eq!(
        keys(&body),
        BTreeSet::from(["id", "username", "display_name"])
    );
    body["id"]
        .as_i64()
        .unwrap_or_else(|| panic!("id in {body}"))
}

async fn login(
    app: &TestApp,
    client: &Client,
    username: &str,
    password: &str,
) -> (StatusCode, Value) {
    app.send(
        client,
        Method::POST,
        "/api/auth/login",
        None,
        Some(json!({"username": username, "password": password})),
    )
    .await
}

async fn refresh(app: &TestApp, client: &Client, token: &str) -> (StatusCode, Value) {
    app.send(
        client,
        Method::POST,
        "/api/auth/refresh",
        None,
        Some(json!({"refresh_token": token})),
    )
    .await
}

async fn me(app: &TestApp, client: &Client, id: i64, token: &str) -> StatusCode {
    app.send(
        client,
        Method::GET,
        &format!("/api/users/{id}"),
        Some(token),
        None,
    )
    .await
    .0
}

async fn register_login_call_refresh_logout(app: TestApp) {
    let client = Client::new();
    let id = register(&app, &client, "alice").await;

    let (status, pair) = login(&app, &client, "alice", PASSWORD).await;
    assert_eq!(status, StatusCode::OK, "{pair}");
    assert_eq!(
        keys(&pair),
        BTreeSet::from(["access_token", "refresh_token", "token_type", "expires_in"])
    );
    assert_eq!(pair["token_type"], "Bearer");
    assert_eq!(pair["expires_in"], 900);
    assert_eq!(
        text(&pair, "refresh_token").len(),
        43,
        "256 bits in base64url"
    );
    let access = text(&pair, "access_token");
    let claims = app
        .security
        .verify_access_token(access)
        .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(claims.sub, id.to_string());
    assert!(!claims.jti.is_empty());
    assert_eq!(me(&app, &client, id, access).await, StatusCode::OK);

    let (status, next) = refresh(&app, &client, text(&pair, "refresh_token")).await;
    assert_eq!(status, StatusCode::OK, "{next}");
    assert_ne!(next["refresh_token"], pair["refresh_token"]);
    let access2 = text(&next, "access_token");
    assert_eq!(me(&app, &client, id, access2).await, StatusCode::OK);

    let (status, _) = app
        .send(
            &client,
            Method::POST,
            "/api/auth/logout",
            Some(access2),
            Some(json!({"refresh_token": next["refresh_token"]})),
        )
        .await;
    assert_eq!(status, StatusCode::NO_CONTENT);
    // The access token stops working at once; the refresh token too.
    assert_eq!(
        me(&app, &client, id, access2).await,
        StatusCode::UNAUTHORIZED
    );
    let (status, _) = refresh(&app, &client, text(&next, "refresh_token")).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    // Another session of the same user is untouched.
    let (_, other) = login(&app, &client, "alice", PASSWORD).await;
    assert_eq!(
        me(&app, &client, id, text(&other, "access_token")).await,
        StatusCode::OK
    );
    app.stop().await;
}

async fn twenty_concurrent_refreshes_of_one_token_give_one_pair(app: TestApp) {
    let client = Client::new();
    register(&app, &client, "bob").await;
    let (_, pair) = login(&app, &client, "bob", PASSWORD).await;
    let token = text(&pair, "refresh_token").to_owned();
    let mut tasks = Vec::new();
    for _ in 0..20 {
        let client = client.clone();
        let url = app.url("/api/auth/refresh");
        let token = token.clone();
        tasks.push(tokio::spawn(async move {
            let response = client
                .post(url)
                .json(&json!({"refresh_token": token}))
                .send()
                .await
                .unwrap_or_else(|e| panic!("{e}"));
            let status = response.status();
            (
                status,
                response.json::<Value>().await.unwrap_or(Value::Null),
            )
        }));
    }
    let mut winners = Vec::new();
    for task in tasks {
        let (status, body) = task.await.unwrap_or_else(|e| panic!("{e}"));
        match status {
            StatusCode::OK => winners.push(body),
            StatusCode::UNAUTHORIZED => {}
            other => panic!("unexpected {other}: {body}"),
        }
    }
    assert_eq!(winners.len(), 1, "exactly one refresh wins");
    // The losers presented a spent token: the family, winner's token
    // included, is revoked.
    let (status, _) = refresh(&app, &client, text(&winners[0], "refresh_token")).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    app.stop().await;
}

async fn reuse_after_rotation_revokes_the_family(app: TestApp) {
    let client = Client::new();
    register(&app, &client, "carol").await;
    let (_, first) = login(&app, &client, "carol", PASSWORD).await;
    let (status, second) = refresh(&app, &client, text(&first, "refresh_token")).await;
    assert_eq!(status, StatusCode::OK);
    let (status, third) = refresh(&app, &client, text(&second, "refresh_token")).await;
    assert_eq!(status, StatusCode::OK);
    // The first token, long rotated, comes back: 401, and the newest dies.
    let (status, body) = refresh(&app, &client, text(&first, "refresh_token")).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED, "{body}");
    let (status, _) = refresh(&app, &client, text(&third, "refresh_token")).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    // Unknown and malformed refresh tokens are 401 too.
    for bogus in ["x".repeat(43), "not base64url!".to_owned(), "a".repeat(129)] {
        let (status, _) = refresh(&app, &client, &bogus).await;
        assert!(status.is_client_error(), "{bogus}: {status}");
    }
    app.stop().await;
}

async fn unknown_user_and_wrong_password_answer_alike(app: TestApp) {
    let client = Client::new();
    register(&app, &client, "dave").await;
    let mut answers = Vec::new();
    for (username, password) in [
        ("dave", "not the password at all"),
        ("nobody-here", PASSWORD),
    ] {
        let response = client
            .post(app.url("/api/auth/login"))
            .json(&json!({"username": username, "password": password}))
            .send()
            .await
            .unwrap_or_else(|e| panic!("{e}"));
        let status = response.status();
        let content_type = response.headers().get("content-type").cloned();
        let body: Value = response.json().await.unwrap_or_default();
        answers.push((status, content_type, without_request_id(body)));
    }
    assert_eq!(answers[0].0, StatusCode::UNAUTHORIZED);
    assert_eq!(answers[0], answers[1]);
    app.stop().await;
}

#[tokio::test]
async fn weak_passwords_are_refused_naming_the_rule() {
    let app = TestApp::start().await;
    let client = Client::new();
    for (password, rule) in [
        ("short", "length is lower than 12"),
        ("password1234", "common passwords"),
        ("qwertyuiop123!", "common passwords"),
        ("erin-likes-plums", "must not contain the username"),
        (&*"x".repeat(129), "length is greater than 128"),
    ] {
        let (status, body) = app
            .send(
                &client,
                Method::POST,
                "/api/auth/register",
                None,
                Some(json!({"username": "erin", "password": password, "display_name": "Erin"})),
            )
            .await;
        assert_eq!(
            status,
            StatusCode::UNPROCESSABLE_ENTITY,
            "{password}: {body}"
        );
        assert!(text(&body, "detail").contains(rule), "{password}: {body}");
    }
    // Nothing was created: the name is still free.
    register(&app, &client, "erin").await;
    let (status, _) = app
        .send(
            &client,
            Method::POST,
            "/api/auth/register",
            None,
            Some(json!({"username": "erin", "password": PASSWORD, "display_name": "Erin"})),
        )
        .await;
    assert_eq!(status, StatusCode::CONFLICT);
    app.stop().await;
}

#[tokio::test]
async fn failed_logins_back_off_per_account_even_for_unknown_accounts() {
    let app = TestApp::start().await;
    let client = Client::new();
    register(&app, &client, "frank").await;
    for username in ["frank", "ghost"] {
        for _ in 0..5 {
            let (status, _) = login(&app, &client, username, "wrong password here").await;
            assert_eq!(status, StatusCode::UNAUTHORIZED);
        }
        let response = client
            .post(app.url("/api/auth/login"))
            .json(&json!({"username": username, "password": PASSWORD}))
            .send()
            .await
            .unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(
            response.status(),
            StatusCode::TOO_MANY_REQUESTS,
            "{username}"
        );
        assert!(response.headers().contains_key("retry-after"));
    }
    // After the wait, the right password works and clears the count.
    tokio::time::sleep(Duration::from_millis(1100)).await;
    let (status, _) = login(&app, &client, "frank", PASSWORD).await;
    assert_eq!(status, StatusCode::OK);
    app.stop().await;
}

#[tokio::test]
async fn a_login_flood_gets_503_not_a_queue() {
    let app = TestApp::start_with(AuthOptions {
        hash_slots: Some((1, 1)),
        ..AuthOptions::default()
    })
    .await;
    let client = Client::new();
    let mut tasks = Vec::new();
    for n in 0..12 {
        let client = client.clone();
        let url = app.url("/api/auth/login");
        tasks.push(tokio::spawn(async move {
            let response = client
                .post(url)
                .json(&json!({"username": format!("flood{n}"), "password": PASSWORD}))
                .send()
                .await
                .unwrap_or_else(|e| panic!("{e}"));
            (
                response.status(),
                response.headers().contains_key("retry-after"),
            )
        }));
    }
    let mut busy = 0;
    for task in tasks {
        let (status, retry_after) = task.await.unwrap_or_else(|e| panic!("{e}"));
        match status {
            StatusCode::SERVICE_UNAVAILABLE => {
                assert!(retry_after);
                busy += 1;
            }
            StatusCode::UNAUTHORIZED => {}
            other => panic!("unexpected {other}"),
        }
    }
    assert!(
        busy > 0,
        "with two slots, twelve logins at once must overflow"
    );
    app.stop().await;
}

#[tokio::test]
async fn login_rehashes_a_hash_made_with_other_parameters() {
    use secure_api_runtime::auth::{Argon2Params, Passwords};
    let app = TestApp::start().await;
    let client = Client::new();
    let other = Passwords::new(Argon2Params {
        iterations: 3,
        ..Argon2Params::OWASP
    })
    .unwrap_or_else(|e| panic!("{e}"));
    let old = other
        .hash(PASSWORD.to_owned().into())
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    let user = app
        .store
        .create_user("gina", "Gina", &old, &["user".to_owned()])
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    let (status, _) = login(&app, &client, "gina", PASSWORD).await;
    assert_eq!(status, StatusCode::OK);
    let stored = app
        .store
        .user(user.id)
        .await
        .ok()
        .flatten()
        .map(|u| u.password_hash);
    assert!(
        stored
            .as_deref()
            .is_some_and(|h| h.starts_with("$argon2id$v=19$m=19456,t=2,p=1$")),
        "{stored:?}"
    );
    app.stop().await;
}

/// An access token for `sub` with `auth_time` set `age` seconds ago.
fn login_token_aged(sub: &str, age: u64) -> String {
    let now = now_secs();
    let claims = json!({
        "sub": sub, "exp": now + 600, "iat": now, "jti": format!("aged-{now}"),
        "auth_time": now - age, "roles": ["user"]
    });
    jsonwebtoken::encode(
        &jsonwebtoken::Header::default(),
        &claims,
        &jsonwebtoken::EncodingKey::from_secret(TEST_SECRET),
    )
    .unwrap_or_else(|e| panic!("{e}"))
}

#[tokio::test]
async fn fresh_routes_need_a_recent_password_login() {
    let app = TestApp::start().await;
    let client = Client::new();
    let id = register(&app, &client, "hana").await;
    let (_, pair) = login(&app, &client, "hana", PASSWORD).await;
    let (_, refreshed) = refresh(&app, &client, text(&pair, "refresh_token")).await;
    let stale = login_token_aged(&id.to_string(), 3600);
    for token in [text(&refreshed, "access_token"), stale.as_str()] {
        let (status, body) = app
            .send(&client, Method::POST, "/api/auth/totp", Some(token), None)
            .await;
        assert_eq!(status, StatusCode::UNAUTHORIZED, "{body}");
        assert!(
            text(&body, "detail").contains("recent password login"),
            "{body}"
        );
    }
    let (status, body) = app
        .send(
            &client,
            Method::POST,
            "/api/auth/totp",
            Some(text(&pair, "access_token")),
            None,
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    app.stop().await;
}

async fn with_totp_on_login_needs_a_fresh_unused_code(app: TestApp) {
    let client = Client::new();
    register(&app, &client, "ivan").await;
    let (_, pair) = login(&app, &client, "ivan", PASSWORD).await;
    let access = text(&pair, "access_token");
    let (status, enrolment) = app
        .send(&client, Method::POST, "/api/auth/totp", Some(access), None)
        .await;
    assert_eq!(status, StatusCode::OK);
    assert!(text(&enrolment, "otpauth_uri").starts_with("otpauth://totp/"));
    let secret = TotpSecret::from_base32(text(&enrolment, "secret"));
    // Until confirmed, login needs no code; a wrong code does not confirm.
    let (status, _) = app
        .send(
            &client,
            Method::POST,
            "/api/auth/totp/confirm",
            Some(access),
            Some(json!({"code": "000000"})),
        )
        .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
    let (status, _) = login(&app, &client, "ivan", PASSWORD).await;
    assert_eq!(status, StatusCode::OK);
    let now = now_secs();
    let code = secret.code_at(now - 30).unwrap_or_else(|| panic!("code"));
    let (status, body) = app
        .send(
            &client,
            Method::POST,
            "/api/auth/totp/confirm",
            Some(access),
            Some(json!({"code": code})),
        )
        .await;
    assert_eq!(status, StatusCode::NO_CONTENT, "{body}");
    // Now the password alone is not enough, and the answer is the usual one.
    let (status, without) = login(&app, &client, "ivan", PASSWORD).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    let (_, wrong_password) = login(&app, &client, "ivan", "not the password at all").await;
    assert_eq!(
        without_request_id(without),
        without_request_id(wrong_password)
    );
    let code = secret.code_at(now_secs()).unwrap_or_else(|| panic!("code"));
    let with_code = |code: &str| json!({"username": "ivan", "password": PASSWORD, "totp": code});
    let (status, body) = app
        .send(
            &client,
            Method::POST,
            "/api/auth/login",
            None,
            Some(with_code(&code)),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    // The same code a second time is a replay.
    let (status, _) = app
        .send(
            &client,
            Method::POST,
            "/api/auth/login",
            None,
            Some(with_code(&code)),
        )
        .await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    app.stop().await;
}

#[tokio::test]
async fn the_admin_from_the_environment_can_sign_in() {
    let app = TestApp::start().await;
    let client = Client::new();
    let (status, pair) = login(&app, &client, "admin", ADMIN_PASSWORD).await;
    assert_eq!(status, StatusCode::OK, "{pair}");
    let (status, _) = app
        .send(
            &client,
            Method::POST,
            "/api/admin/users",
            Some(text(&pair, "access_token")),
            Some(json!({"username": "jack", "password": PASSWORD, "display_name": "Jack"})),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED);
    app.stop().await;
}

async fn a_restart_keeps_users_and_revocations(app: TestApp) {
    let client = Client::new();
    let id = register(&app, &client, "kate").await;
    let (_, pair) = login(&app, &client, "kate", PASSWORD).await;
    let access = text(&pair, "access_token").to_owned();
    let (status, _) = app
        .send(
            &client,
            Method::POST,
            "/api/auth/logout",
            Some(&access),
            Some(json!({"refresh_token": pair["refresh_token"]})),
        )
        .await;
    assert_eq!(status, StatusCode::NO_CONTENT);
    let app = app.restart().await;
    assert_eq!(
        me(&app, &client, id, &access).await,
        StatusCode::UNAUTHORIZED
    );
    let (status, _) = refresh(&app, &client, text(&pair, "refresh_token")).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    let (status, _) = login(&app, &client, "kate", PASSWORD).await;
    assert_eq!(status, StatusCode::OK);
    app.stop().await;
}

#[tokio::test]
async fn bad_input_on_auth_routes_is_a_4xx_problem() {
    let app = TestApp::start().await;
    let client = Client::new();
    let (_, admin) = login(&app, &client, "admin", ADMIN_PASSWORD).await;
    let admin = text(&admin, "access_token").to_owned();
    let routes = [
        "/api/auth/register",
        "/api/auth/login",
        "/api/auth/refresh",
        "/api/auth/logout",
    ];
    let bodies: [(&str, Vec<u8>); 6] = [
        (
            "oversized",
            format!("{{\"username\": \"{}\"}}", "a".repeat(8 * 1024)).into_bytes(),
        ),
        (
            "not UTF-8",
            b"{\"username\": \"\xff\xfe\", \"password\": \"x\"}".to_vec(),
        ),
        ("missing fields", b"{}".to_vec()),
        (
            "wrong types",
            b"{\"username\": 5, \"password\": [], \"refresh_token\": {}}".to_vec(),
        ),
        ("not JSON", b"username=a&password=b".to_vec()),
        (
            "unknown field",
            b"{\"refresh_token\": \"abc\", \"role\": \"admin\"}".to_vec(),
        ),
    ];
    for route in routes {
        for (what, body) in &bodies {
            let response = client
                .post(app.url(route))
                .bearer_auth(&admin)
                .header("content-type", "application/json")
                .body(body.clone())
                .send()
                .await
                .unwrap_or_else(|e| panic!("{e}"));
            let status = response.status();
            assert!(status.is_client_error(), "{route} {what}: {status}");
            assert_eq!(
                response
                    .headers()
                    .get("content-type")
                    .and_then(|v| v.to_str().ok()),
                Some("application/problem+json"),
                "{route} {what}"
            );
        }
    }
    // The admin's session survived all of it.
    let (status, _) = app
        .send(&client, Method::GET, "/api/search?q=a", Some(&admin), None)
        .await;
    assert_eq!(status, StatusCode::OK);
    app.stop().await;
}
