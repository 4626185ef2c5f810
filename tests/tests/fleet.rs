//! Several instances behind a load balancer: two example apps on one
//! PostgreSQL database and one Redis give the guarantees of one; and what
//! happens when Redis goes away, failing open or closed.

use std::rc::Rc;

use actix_web::test::{TestRequest, call_service, init_service};
use reqwest::{Client, Method, StatusCode};
use secure_api_runtime::auth::sessions::{Sessions, now_secs};
use secure_api_runtime::auth::{JwtKey, MemoryTokenStore};
use secure_api_runtime::prelude::*;
use secure_api_runtime::shared::{Shared, Unavailable};
use secure_api_runtime::webhook::WebhookKeys;
use secure_api_tests::{RedisServer, TEST_SECRET, TEST_WEBHOOK_SECRET, TestApp, postgres_database};
use serde_json::{Value, json};

const PASSWORD: &str = "plum tree at dusk";

fn shared(redis: &RedisServer, on_unavailable: Unavailable) -> Shared {
    Shared::new(&redis.url(), on_unavailable).unwrap_or_else(|e| panic!("{e}"))
}

async fn status(app: &TestApp, client: &Client, path: &str, token: &str) -> StatusCode {
    app.send(client, Method::GET, path, Some(token), None)
        .await
        .0
}

async fn post(
    app: &TestApp,
    client: &Client,
    path: &str,
    token: Option<&str>,
    body: Value,
) -> (StatusCode, Value) {
    app.send(client, Method::POST, path, token, Some(body))
        .await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_instances_keep_one_quota_one_denylist_one_replay_cache_and_one_rotation() {
    let redis = RedisServer::start();
    let database = postgres_database().await;
    let a = TestApp::start_instance(&database, shared(&redis, Unavailable::FailClosed)).await;
    let b = TestApp::start_instance(&database, shared(&redis, Unavailable::FailClosed)).await;
    let client = Client::new();

    // `/api/search` allows 5 a second per user: 5 in all, not 5 on each.
    let token = a.token("1", &["user"]);
    let mut allowed = 0;
    let mut refused = 0;
    for n in 0..8 {
        let app = if n % 2 == 0 { &a } else { &b };
        match status(app, &client, "/api/search?q=a", &token).await {
            StatusCode::OK => allowed += 1,
            StatusCode::TOO_MANY_REQUESTS => refused += 1,
            other => panic!("unexpected {other}"),
        }
    }
    assert_eq!((allowed, refused), (5, 3));

    // A logout on A is honoured by B at once.
    let (status_code, user) = post(
        &a,
        &client,
        "/api/auth/register",
        None,
        json!({"username": "fleet", "password": PASSWORD, "display_name": "Fleet"}),
    )
    .await;
    assert_eq!(status_code, StatusCode::CREATED, "{user}");
    let me = format!("/api/users/{}", user["id"]);
    let (_, pair) = post(
        &a,
        &client,
        "/api/auth/login",
        None,
        json!({"username": "fleet", "password": PASSWORD}),
    )
    .await;
    let access = pair["access_token"]
        .as_str()
        .unwrap_or_else(|| panic!("an access token: {pair}"))
        .to_owned();
    assert_eq!(status(&b, &client, &me, &access).await, StatusCode::OK);
    let (status_code, _) = post(
        &a,
        &client,
        "/api/auth/logout",
        Some(&access),
        json!({"refresh_token": pair["refresh_token"]}),
    )
    .await;
    assert_eq!(status_code, StatusCode::NO_CONTENT);
    assert_eq!(
        status(&b, &client, &me, &access).await,
        StatusCode::UNAUTHORIZED
    );

    // A refresh token rotated on A cannot be used again on B.
    let (_, first) = post(
        &a,
        &client,
        "/api/auth/login",
        None,
        json!({"username": "fleet", "password": PASSWORD}),
    )
    .await;
    let (status_code, second) = post(
        &a,
        &client,
        "/api/auth/refresh",
        None,
        json!({"refresh_token": first["refresh_token"]}),
    )
    .await;
    assert_eq!(status_code, StatusCode::OK);
    let (status_code, _) = post(
        &b,
        &client,
        "/api/auth/refresh",
        None,
        json!({"refresh_token": first["refresh_token"]}),
    )
    .await;
    assert_eq!(status_code, StatusCode::UNAUTHORIZED);
    let (status_code, _) = post(
        &b,
        &client,
        "/api/auth/refresh",
        None,
        json!({"refresh_token": second["refresh_token"]}),
    )
    .await;
    assert_eq!(
        status_code,
        StatusCode::UNAUTHORIZED,
        "the family is revoked everywhere"
    );

    // A webhook delivery processed by A is acknowledged by B, not processed again.
    let keys = WebhookKeys::standard(TEST_WEBHOOK_SECRET).unwrap_or_else(|e| panic!("{e}"));
    let body = r#"{"type": "payment.failed", "order_id": 7, "amount": 100}"#;
    let now = now_secs();
    let deliver = |app: &TestApp, id: &'static str, body: &'static str| {
        let request = client
            .post(app.url("/api/webhooks/payment"))
            .header("content-type", "application/json")
            .header("webhook-id", id)
            .header("webhook-timestamp", now.to_string())
            .header("webhook-signature", keys.sign(id, now, body.as_bytes()))
            .body(body);
        async move {
            request
                .send()
                .await
                .map(|r| r.status())
                .unwrap_or_else(|e| panic!("{e}"))
        }
    };
    assert_eq!(deliver(&a, "msg_fleet", body).await, StatusCode::ACCEPTED);
    assert_eq!(deliver(&b, "msg_fleet", body).await, StatusCode::ACCEPTED);
    assert_eq!(
        b.store
            .payment_events()
            .await
            .map(|events| events.len())
            .unwrap_or_default(),
        1
    );
    // A delivery A did not process (its body is refused) is not spent: B
    // runs the sender's retry rather than calling it a duplicate.
    let refused = r#"{"type": "payment.failed", "order_id": 7, "amount": 100, "extra": 1}"#;
    assert_eq!(
        deliver(&a, "msg_fleet_refused", refused).await,
        StatusCode::UNPROCESSABLE_ENTITY
    );
    assert_eq!(
        deliver(&b, "msg_fleet_refused", refused).await,
        StatusCode::UNPROCESSABLE_ENTITY
    );

    // An idempotency key used on A replays on B, and the order moves once.
    let owner = a.token("1", &["user"]);
    let (_, order) = post(
        &a,
        &client,
        "/api/orders",
        Some(&owner),
        json!({"item": "lamp", "quantity": 1}),
    )
    .await;
    let id = order["id"]
        .as_i64()
        .unwrap_or_else(|| panic!("an id in the answer"));
    let (status_code, _) = a
        .send(
            &client,
            Method::POST,
            &format!("/api/orders/{id}/validate"),
            Some(&owner),
            None,
        )
        .await;
    assert_eq!(status_code, StatusCode::OK);
    let execute = |app: &TestApp| {
        let request = client
            .post(app.url(&format!("/api/orders/{id}/execute")))
            .bearer_auth(&owner)
            .header("idempotency-key", "fleet-key-1");
        async move { request.send().await.unwrap_or_else(|e| panic!("{e}")) }
    };
    let first = execute(&a).await;
    assert_eq!(first.status(), StatusCode::ACCEPTED);
    let first_body = first.text().await.unwrap_or_else(|e| panic!("{e}"));
    assert!(first_body.contains("executed"), "{first_body}");
    let replayed = execute(&b).await;
    assert_eq!(replayed.status(), StatusCode::ACCEPTED);
    assert_eq!(
        replayed
            .headers()
            .get("idempotent-replayed")
            .and_then(|v| v.to_str().ok()),
        Some("true")
    );
    assert_eq!(
        replayed.text().await.unwrap_or_else(|e| panic!("{e}")),
        first_body
    );
    let moves = a.store.order_transitions(id).await.unwrap_or_default();
    assert_eq!(moves.len(), 2, "validated once, executed once: {moves:?}");

    a.stop().await;
    b.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn failed_logins_on_one_instance_count_on_the_other() {
    let redis = RedisServer::start();
    let database = postgres_database().await;
    let a = TestApp::start_instance(&database, shared(&redis, Unavailable::FailClosed)).await;
    let b = TestApp::start_instance(&database, shared(&redis, Unavailable::FailClosed)).await;
    let client = Client::new();
    let (status_code, user) = post(
        &a,
        &client,
        "/api/auth/register",
        None,
        json!({"username": "guessed", "password": PASSWORD, "display_name": "Guessed"}),
    )
    .await;
    assert_eq!(status_code, StatusCode::CREATED, "{user}");
    let wrong = json!({"username": "guessed", "password": "not the password at all"});
    // Five free failures for the account, spread over both instances: three
    // on A and two on B, fewer than either would throttle alone.
    for n in 0..5 {
        let app = if n % 2 == 0 { &a } else { &b };
        let (status_code, body) = post(app, &client, "/api/auth/login", None, wrong.clone()).await;
        assert_eq!(status_code, StatusCode::UNAUTHORIZED, "failure {n}: {body}");
    }
    // The sixth attempt waits, on either instance, even with the password.
    let right = json!({"username": "guessed", "password": PASSWORD});
    for app in [&b, &a] {
        let (status_code, body) = post(app, &client, "/api/auth/login", None, right.clone()).await;
        assert_eq!(status_code, StatusCode::TOO_MANY_REQUESTS, "{body}");
    }
    a.stop().await;
    b.stop().await;
}

/// An instance whose Redis answered one search and then stopped: the app,
/// a client and a user's token.
async fn served_then_redis_stops(on_unavailable: Unavailable) -> (TestApp, Client, String) {
    let mut redis = RedisServer::start();
    let app =
        TestApp::start_instance(&postgres_database().await, shared(&redis, on_unavailable)).await;
    let client = Client::new();
    let token = app.token("1", &["user"]);
    assert_eq!(
        status(&app, &client, "/api/search?q=a", &token).await,
        StatusCode::OK
    );
    redis.stop();
    (app, client, token)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn without_redis_fail_open_keeps_serving_with_local_limits() {
    let (app, client, token) = served_then_redis_stops(Unavailable::FailOpen).await;
    // Redis is gone: this instance's own quota (5 a second) still holds.
    let mut statuses = Vec::new();
    for _ in 0..7 {
        statuses.push(status(&app, &client, "/api/search?q=a", &token).await);
    }
    assert_eq!(
        statuses.iter().filter(|s| **s == StatusCode::OK).count(),
        5,
        "{statuses:?}"
    );
    assert_eq!(
        statuses
            .iter()
            .filter(|s| **s == StatusCode::TOO_MANY_REQUESTS)
            .count(),
        2
    );
    app.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn without_redis_fail_closed_answers_503() {
    let (app, client, token) = served_then_redis_stops(Unavailable::FailClosed).await;
    let response = client
        .get(app.url("/api/search?q=a"))
        .bearer_auth(&token)
        .send()
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(response.status(), StatusCode::SERVICE_UNAVAILABLE);
    assert!(response.headers().contains_key("retry-after"));
    assert_eq!(
        response
            .headers()
            .get("content-type")
            .and_then(|v| v.to_str().ok()),
        Some("application/problem+json")
    );
    app.stop().await;
}

#[get("/api/counted")]
#[registered(owner = "tests", lifecycle = production)]
#[authenticated]
#[limit("10/minute")]
async fn counted() -> &'static str {
    "counted"
}

#[get("/counted-by-address")]
#[registered(owner = "tests", lifecycle = production)]
#[public]
#[limit("10/minute")]
async fn counted_by_address() -> &'static str {
    "counted"
}

/// A request's answer, to be polled with the others.
type Pending = std::pin::Pin<Box<dyn std::future::Future<Output = actix_web::http::StatusCode>>>;

/// How many `EVALSHA` calls `redis` has run without an error (a call
/// refused with `NOSCRIPT`, before the script is loaded, is not counted).
async fn evalsha_calls(redis: &RedisServer) -> u64 {
    let client = redis::Client::open(redis.url()).unwrap_or_else(|e| panic!("{e}"));
    let mut connection = client
        .get_multiplexed_async_connection()
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    let text: String = redis::cmd("INFO")
        .arg("commandstats")
        .query_async(&mut connection)
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    let Some(stats) = text
        .lines()
        .find_map(|line| line.strip_prefix("cmdstat_evalsha:"))
    else {
        return 0;
    };
    let count = |name: &str| -> u64 {
        stats
            .split(',')
            .find_map(|pair| pair.strip_prefix(name)?.strip_prefix('='))
            .and_then(|n| n.trim().parse().ok())
            .unwrap_or_else(|| panic!("no {name} in {stats}"))
    };
    count("calls") - count("failed_calls")
}

/// Requests that arrive together have their quotas and their tokens decided
/// together, in one script call per instance for up to 256 of them, and
/// each still gets its own answer: a quota shared by the batch holds
/// exactly, an address quota (no token) beside it too, and a revoked token
/// among them is refused.
#[actix_web::test]
async fn requests_decided_together_keep_exact_quotas_and_the_denylist() {
    let redis = RedisServer::start();
    let instance = || {
        SecurityConfig::builder(Mode::Dev)
            .key(JwtKey::hs256(TEST_SECRET.to_vec()))
            .shared(shared(&redis, Unavailable::FailClosed))
            .build()
            .unwrap_or_else(|e| panic!("{e}"))
    };
    let (config_a, config_b) = (instance(), instance());
    let serve = |config: &SecurityConfig| {
        init_service(
            SecureApp::new(config.clone())
                .service(counted)
                .service(counted_by_address)
                .into_app(),
        )
    };
    let a = Rc::new(serve(&config_a).await);
    let b = Rc::new(serve(&config_b).await);
    let token = |sub: &str| {
        config_a
            .issue_access_token(sub, &[])
            .map(|t| t.token)
            .unwrap_or_else(|e| panic!("{e}"))
    };
    let (counted_user, revoked) = (token("counted"), token("revoked"));
    // A logout on A denies the token on the fleet; B only learns it from
    // Redis.
    let caller = config_a
        .verify_access_token(&revoked)
        .unwrap_or_else(|e| panic!("{e}"));
    Sessions::new(config_a.clone(), MemoryTokenStore::default())
        .end(&caller, "")
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    let before = evalsha_calls(&redis).await;

    // Every request is started in one poll, before the task that sends the
    // batch runs: A gets 200, B 403, more than one script call carries (256).
    let mut sent: Vec<(usize, Pending)> = Vec::new();
    // Kinds 0 on A; 1, 2 and 3 on B.
    let mut start = |kind: usize, request: TestRequest| {
        let service = Rc::clone(if kind == 0 { &a } else { &b });
        let request = request.to_request();
        sent.push((
            kind,
            Box::pin(async move { call_service(&*service, request).await.status() }),
        ));
    };
    let bearer = |token: &str| ("authorization", format!("Bearer {token}"));
    for n in 0..600 {
        let kind = n % 3;
        let request = match kind {
            0 | 1 => TestRequest::get()
                .uri("/api/counted")
                .insert_header(bearer(&counted_user)),
            _ => TestRequest::get()
                .uri("/counted-by-address")
                .peer_addr(([192, 0, 2, 7], 40000).into()),
        };
        start(kind, request);
    }
    for _ in 0..3 {
        start(
            3,
            TestRequest::get()
                .uri("/api/counted")
                .insert_header(bearer(&revoked)),
        );
    }
    let requests = sent.len();
    let mut statuses = std::collections::BTreeMap::<(usize, u16), usize>::new();
    std::future::poll_fn(|cx| {
        sent.retain_mut(|(kind, answer)| match answer.as_mut().poll(cx) {
            std::task::Poll::Ready(status) => {
                *statuses.entry((*kind, status.as_u16())).or_default() += 1;
                false
            }
            std::task::Poll::Pending => true,
        });
        if sent.is_empty() {
            std::task::Poll::Ready(())
        } else {
            std::task::Poll::Pending
        }
    })
    .await;
    let of = |kind: usize, status: u16| statuses.get(&(kind, status)).copied().unwrap_or(0);
    // One user's ten a minute, over both instances.
    assert_eq!(of(0, 200) + of(1, 200), 10, "{statuses:?}");
    assert_eq!(of(0, 429) + of(1, 429), 390, "{statuses:?}");
    // One address's ten a minute.
    assert_eq!((of(2, 200), of(2, 429)), (10, 190), "{statuses:?}");
    // The revoked token, refused by B from what Redis holds.
    assert_eq!(of(3, 401), 3, "{statuses:?}");

    // One call for A's 200, two for B's 403.
    let calls = evalsha_calls(&redis).await - before;
    assert_eq!(calls, 3, "{requests} requests in {calls} script calls");
}
