//! Business state over HTTP (OWASP API6): the order's state is checked
//! before the handler, and concurrent moves are decided by one
//! compare-and-set.

use example_app::store::OrderState;
use reqwest::{Client, StatusCode};
use secure_api_runtime::prelude::{StateMachine as _, Transition};
use secure_api_tests::{TestApp, on_both_databases};
use serde_json::{Value, json};

on_both_databases!(
    fifty_concurrent_moves_of_one_order_give_exactly_one_success,
    fifty_concurrent_executes_give_one_202_and_49_409,
);

async fn fifty_concurrent_moves_of_one_order_give_exactly_one_success(app: TestApp) {
    let client = Client::new();
    let token = app.token("1", &["user"]);
    let created: Value = client
        .post(app.url("/api/orders"))
        .bearer_auth(&token)
        .json(&json!({"item": "lamp", "quantity": 1}))
        .send()
        .await
        .unwrap_or_else(|e| panic!("{e}"))
        .json()
        .await
        .unwrap_or(Value::Null);
    let id = created["id"]
        .as_i64()
        .unwrap_or_else(|| panic!("an id in the answer"));
    let url = app.url(&format!("/api/orders/{id}/validate"));
    let attempts = (0..50).map(|_| {
        let request = client.post(&url).bearer_auth(&token).send();
        async move {
            request
                .await
                .map(|r| r.status())
                .unwrap_or(StatusCode::INTERNAL_SERVER_ERROR)
        }
    });
    let mut statuses: Vec<StatusCode> = Vec::new();
    let handles: Vec<_> = attempts.map(tokio::spawn).collect();
    for handle in handles {
        statuses.push(handle.await.unwrap_or(StatusCode::INTERNAL_SERVER_ERROR));
    }
    let ok = statuses.iter().filter(|s| **s == StatusCode::OK).count();
    let conflict = statuses
        .iter()
        .filter(|s| **s == StatusCode::CONFLICT)
        .count();
    assert_eq!((ok, conflict), (1, 49), "{statuses:?}");
    let audit = app.store.order_transitions(id).await.unwrap_or_default();
    assert_eq!(
        audit,
        [("1".to_owned(), "draft".to_owned(), "validated".to_owned())]
    );
    app.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_move_from_the_wrong_state_is_409_and_changes_nothing() {
    let app = TestApp::start().await;
    let client = Client::new();
    let token = app.token("1", &["user"]);
    let order = app
        .store
        .create_order(1, "desk", 1)
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    let url = app.url(&format!("/api/orders/{}/validate", order.id));
    assert_eq!(
        client
            .post(&url)
            .bearer_auth(&token)
            .send()
            .await
            .map(|r| r.status())
            .ok(),
        Some(StatusCode::OK)
    );
    let again = client
        .post(&url)
        .bearer_auth(&token)
        .send()
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(again.status(), StatusCode::CONFLICT);
    let body: Value = again.json().await.unwrap_or(Value::Null);
    assert_eq!(
        body["detail"],
        json!("the order is `validated`; this needs `draft`")
    );
    assert_eq!(
        app.store
            .order_transitions(order.id)
            .await
            .map(|t| t.len())
            .ok(),
        Some(1)
    );
    app.stop().await;
}

/// A validated order of user 1, straight through the store.
async fn validated_order(app: &TestApp) -> i64 {
    let order = app
        .store
        .create_order(1, "chair", 2)
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    let moved = app
        .store
        .transition_order(
            order.id,
            Transition {
                from: OrderState::Draft,
                to: OrderState::Validated,
            },
            "1",
        )
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    assert!(moved);
    order.id
}

async fn fifty_concurrent_executes_give_one_202_and_49_409(app: TestApp) {
    let client = Client::new();
    let token = app.token("1", &["user"]);
    let id = validated_order(&app).await;
    let url = app.url(&format!("/api/orders/{id}/execute"));
    let handles: Vec<_> = (0..50)
        .map(|i| {
            let request = client
                .post(&url)
                .bearer_auth(&token)
                .header("idempotency-key", format!("attempt-{i}"))
                .send();
            tokio::spawn(async move {
                request
                    .await
                    .map(|r| r.status())
                    .unwrap_or(StatusCode::INTERNAL_SERVER_ERROR)
            })
        })
        .collect();
    let mut statuses = Vec::new();
    for handle in handles {
        statuses.push(handle.await.unwrap_or(StatusCode::INTERNAL_SERVER_ERROR));
    }
    let accepted = statuses
        .iter()
        .filter(|s| **s == StatusCode::ACCEPTED)
        .count();
    let conflict = statuses
        .iter()
        .filter(|s| **s == StatusCode::CONFLICT)
        .count();
    assert_eq!((accepted, conflict), (1, 49), "{statuses:?}");
    let executions = app.store.order_transitions(id).await.unwrap_or_default();
    assert_eq!(
        executions
            .iter()
            .filter(|(_, _, to)| to == "executed")
            .count(),
        1
    );
    app.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_idempotency_key_replays_the_first_answer_and_refuses_another_request() {
    let app = TestApp::start().await;
    let client = Client::new();
    let token = app.token("1", &["user"]);
    let id = validated_order(&app).await;
    let url = app.url(&format!("/api/orders/{id}/execute"));

    let missing = client
        .post(&url)
        .bearer_auth(&token)
        .send()
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(missing.status(), StatusCode::BAD_REQUEST);
    assert_eq!(
        app.store
            .order(id)
            .await
            .ok()
            .flatten()
            .map(|o| o.state.name()),
        Some("validated")
    );

    let send = |key: &'static str, body: &'static str| {
        client
            .post(&url)
            .bearer_auth(&token)
            .header("idempotency-key", key)
            .body(body)
            .send()
    };
    let first = send("key-1", "").await.unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(first.status(), StatusCode::ACCEPTED);
    assert!(first.headers().get("idempotent-replayed").is_none());
    let first_body: Value = first.json().await.unwrap_or(Value::Null);
    assert_eq!(first_body, json!({"id": id, "state": "executed"}));

    // The order is executed now, yet the replay answers as the first time,
    // without running the handler again.
    let replay = send("key-1", "").await.unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(replay.status(), StatusCode::ACCEPTED);
    assert_eq!(
        replay
            .headers()
            .get("idempotent-replayed")
            .and_then(|v| v.to_str().ok()),
        Some("true")
    );
    assert_eq!(
        replay.json::<Value>().await.unwrap_or(Value::Null),
        first_body
    );
    assert_eq!(
        app.store.order_transitions(id).await.map(|t| t.len()).ok(),
        Some(2),
        "validate + one execute"
    );

    let changed = send("key-1", "{\"again\": true}")
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(changed.status(), StatusCode::UNPROCESSABLE_ENTITY);
    // A new key on an executed order meets the state rule.
    let fresh = send("key-2", "").await.unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(fresh.status(), StatusCode::CONFLICT);
    // Another user cannot replay this user's key.
    let other = client
        .post(&url)
        .bearer_auth(app.token("2", &["user"]))
        .header("idempotency-key", "key-1")
        .send()
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(other.status(), StatusCode::NOT_FOUND);
    app.stop().await;
}
