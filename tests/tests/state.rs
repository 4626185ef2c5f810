//! Business state over HTTP (OWASP API6): the order's state is checked
//! before the handler, and concurrent moves are decided by one
//! compare-and-set.

use reqwest::{Client, StatusCode};
use secure_api_tests::TestApp;
use serde_json::{Value, json};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn fifty_concurrent_moves_of_one_order_give_exactly_one_success() {
    let app = TestApp::start().await;
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
    let id = created["id"].as_i64().unwrap_or_default();
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
