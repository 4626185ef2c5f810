//! Ownership, roles and data exposure over HTTP (OWASP API1, API3, API5):
//! one user can neither read nor change another's objects, bodies accept
//! only their declared fields, and responses carry only the exposed ones.

use std::collections::BTreeSet;

use example_app::store::OrderState;
use reqwest::{Client, Method, StatusCode};
use secure_api_tests::{TestApp, without_request_id};
use serde_json::{Value, json};

struct Call<'a> {
    client: Client,
    app: &'a TestApp,
}

impl Call<'_> {
    async fn send(
        &self,
        method: Method,
        path: &str,
        token: Option<&str>,
        body: Option<Value>,
    ) -> (StatusCode, Value) {
        self.app.send(&self.client, method, path, token, body).await
    }
}

fn keys(value: &Value) -> BTreeSet<&str> {
    value
        .as_object()
        .map(|o| o.keys().map(String::as_str).collect())
        .unwrap_or_default()
}

fn set(names: &[&'static str]) -> BTreeSet<&'static str> {
    names.iter().copied().collect()
}

/// Creates a user through the admin route and returns its id and a token.
async fn user(call: &Call<'_>, admin: &str, name: &str) -> (i64, String) {
    let body = json!({"username": name, "password": "correct horse battery", "display_name": name.to_uppercase()});
    let (status, created) = call
        .send(Method::POST, "/api/admin/users", Some(admin), Some(body))
        .await;
    assert_eq!(status, StatusCode::CREATED, "{created}");
    assert_eq!(keys(&created), set(&["id", "username", "display_name"]));
    let id = created["id"]
        .as_i64()
        .unwrap_or_else(|| panic!("an id in the answer"));
    (id, call.app.token(&id.to_string(), &["user"]))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn users_cannot_reach_each_others_profiles_or_orders() {
    let app = TestApp::start().await;
    let call = Call {
        client: Client::new(),
        app: &app,
    };
    let admin = app.token("1", &["admin"]);
    let (alice, alice_token) = user(&call, &admin, "alice").await;
    let (bob, bob_token) = user(&call, &admin, "bob").await;

    // Bob's order.
    let (status, order) = call
        .send(
            Method::POST,
            "/api/orders",
            Some(&bob_token),
            Some(json!({"item": "book", "quantity": 2})),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED);
    assert_eq!(order, json!({"id": order["id"], "state": "draft"}));
    let bobs_order = order["id"]
        .as_i64()
        .unwrap_or_else(|| panic!("an id in the answer"));

    // Alice on every id route of Bob's.
    let (status, _) = call
        .send(
            Method::GET,
            &format!("/api/users/{bob}"),
            Some(&alice_token),
            None,
        )
        .await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    let (status, theirs) = call
        .send(
            Method::POST,
            &format!("/api/orders/{bobs_order}/validate"),
            Some(&alice_token),
            None,
        )
        .await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    // Someone else's order and a missing one are indistinguishable.
    let (status, missing) = call
        .send(
            Method::POST,
            "/api/orders/999999/validate",
            Some(&alice_token),
            None,
        )
        .await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    assert_eq!(without_request_id(theirs), without_request_id(missing));
    let (status, _) = call
        .send(
            Method::POST,
            "/api/orders/not-a-number/validate",
            Some(&alice_token),
            None,
        )
        .await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    // Alice's PATCH changes Alice only.
    let (status, me) = call
        .send(
            Method::PATCH,
            "/api/users/me",
            Some(&alice_token),
            Some(json!({"display_name": "Alice A."})),
        )
        .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(
        me,
        json!({"id": alice, "username": "alice", "display_name": "Alice A."})
    );
    let bob_row = app
        .store
        .user(bob)
        .await
        .ok()
        .flatten()
        .map(|u| u.display_name);
    assert_eq!(bob_row.as_deref(), Some("BOB"));
    let order_row = app
        .store
        .order(bobs_order)
        .await
        .ok()
        .flatten()
        .map(|o| o.state);
    assert_eq!(
        order_row,
        Some(OrderState::Draft),
        "Alice's attempt changed nothing"
    );

    // Bob validates his own order, once.
    let path = format!("/api/orders/{bobs_order}/validate");
    let (status, validated) = call.send(Method::POST, &path, Some(&bob_token), None).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(validated, json!({"id": bobs_order, "state": "validated"}));
    let (status, _) = call.send(Method::POST, &path, Some(&bob_token), None).await;
    assert_eq!(status, StatusCode::CONFLICT);
    app.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn mass_assignment_is_refused_and_changes_nothing() {
    let app = TestApp::start().await;
    let call = Call {
        client: Client::new(),
        app: &app,
    };
    let admin = app.token("1", &["admin"]);
    let (alice, token) = user(&call, &admin, "alice").await;
    for field in [
        "role",
        "roles",
        "is_admin",
        "id",
        "salary",
        "salary_cents",
        "username",
    ] {
        let body = json!({"display_name": "Mallory", field: ["admin"]});
        let (status, problem) = call
            .send(Method::PATCH, "/api/users/me", Some(&token), Some(body))
            .await;
        assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{field}");
        assert!(
            problem["detail"]
                .as_str()
                .unwrap_or_default()
                .contains(field),
            "{field}: {problem}"
        );
    }
    let row = app.store.user(alice).await.ok().flatten();
    let row = row.unwrap_or_else(|| panic!("alice exists"));
    assert_eq!(
        (
            row.display_name.as_str(),
            row.roles.as_slice(),
            row.salary_cents
        ),
        ("ALICE", &["user".to_owned()][..], 0)
    );
    app.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bodies_are_validated_field_by_field() {
    let app = TestApp::start().await;
    let call = Call {
        client: Client::new(),
        app: &app,
    };
    let admin = app.token("1", &["admin"]);
    let (_, token) = user(&call, &admin, "alice").await;
    let cases = [
        (
            "/api/users/me",
            Method::PATCH,
            json!({"display_name": ""}),
            "display_name",
        ),
        (
            "/api/users/me",
            Method::PATCH,
            json!({"display_name": "x".repeat(65)}),
            "display_name",
        ),
        (
            "/api/users/me",
            Method::PATCH,
            json!({"display_name": "tab\there"}),
            "display_name",
        ),
        (
            "/api/orders",
            Method::POST,
            json!({"item": "book", "quantity": 0}),
            "quantity",
        ),
        (
            "/api/orders",
            Method::POST,
            json!({"item": "", "quantity": 1}),
            "item",
        ),
    ];
    for (path, method, body, field) in cases {
        let (status, problem) = call
            .send(method, path, Some(&token), Some(body.clone()))
            .await;
        assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{body}");
        assert!(
            problem["detail"]
                .as_str()
                .unwrap_or_default()
                .contains(field),
            "{body}: {problem}"
        );
    }
    let weak = json!({"username": "carol", "password": "short", "display_name": "Carol"});
    let (status, problem) = call
        .send(Method::POST, "/api/admin/users", Some(&admin), Some(weak))
        .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(
        problem["detail"]
            .as_str()
            .unwrap_or_default()
            .contains("password"),
        "{problem}"
    );
    let deep = format!("{}1{}", "[".repeat(300), "]".repeat(300));
    let response = Client::new()
        .patch(app.url("/api/users/me"))
        .bearer_auth(&token)
        .header("content-type", "application/json")
        .body(format!(r#"{{"display_name": {deep}}}"#))
        .send()
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    assert!(
        response.status().is_client_error(),
        "deep nesting is a 4xx, got {}",
        response.status()
    );
    app.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn responses_carry_exactly_the_exposed_fields() {
    let app = TestApp::start().await;
    let call = Call {
        client: Client::new(),
        app: &app,
    };
    let admin = app.token("1", &["admin"]);
    let (alice, token) = user(&call, &admin, "alice").await;
    if let Err(e) = app
        .store
        .set_internal(alice, 9_000_000, "performance review pending")
        .await
    {
        panic!("{e}");
    }
    let public = set(&["id", "username", "display_name"]);
    let (status, own) = call
        .send(
            Method::GET,
            &format!("/api/users/{alice}"),
            Some(&token),
            None,
        )
        .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(keys(&own), public);
    let text = own.to_string();
    for secret in ["9000000", "performance", "argon2", "password", "roles"] {
        assert!(!text.contains(secret), "{secret} leaked: {text}");
    }
    let (_, patched) = call
        .send(
            Method::PATCH,
            "/api/users/me",
            Some(&token),
            Some(json!({"display_name": "A"})),
        )
        .await;
    assert_eq!(keys(&patched), public);
    let (_, order) = call
        .send(
            Method::POST,
            "/api/orders",
            Some(&token),
            Some(json!({"item": "pen", "quantity": 1})),
        )
        .await;
    assert_eq!(keys(&order), set(&["id", "state"]));
    app.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn non_admins_get_403_on_every_admin_route_and_nothing_is_created() {
    let app = TestApp::start().await;
    let call = Call {
        client: Client::new(),
        app: &app,
    };
    let body =
        json!({"username": "eve", "password": "correct horse battery", "display_name": "Eve"});
    for roles in [&["user"][..], &[], &["support", "auditor"]] {
        let token = app.token("5", roles);
        let (status, _) = call
            .send(
                Method::POST,
                "/api/admin/users",
                Some(&token),
                Some(body.clone()),
            )
            .await;
        assert_eq!(status, StatusCode::FORBIDDEN, "{roles:?}");
    }
    assert!(app.store.user_by_name("eve").await.ok().flatten().is_none());
    app.stop().await;
}

#[tokio::test]
async fn the_deprecated_v1_user_route_answers_like_v2_with_its_headers() {
    let app = TestApp::start().await;
    let client = Client::new();
    let token = app.token("1", &["user"]);
    let v2 = client
        .get(app.url("/api/users/1"))
        .bearer_auth(&token)
        .send()
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    assert!(v2.headers().get("deprecation").is_none());
    let v2_body = v2.text().await.unwrap_or_else(|e| panic!("{e}"));
    assert!(v2_body.contains("\"username\""), "{v2_body}");
    let v1 = client
        .get(app.url("/api/v1/users/1"))
        .bearer_auth(&token)
        .send()
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(v1.status(), StatusCode::OK);
    let header = |name: &str| {
        v1.headers()
            .get(name)
            .and_then(|v| v.to_str().ok())
            .map(str::to_owned)
    };
    // Deprecated on 2026-11-24, sunset on 2027-06-30.
    assert_eq!(header("deprecation").as_deref(), Some("@1795478400"));
    assert_eq!(
        header("sunset").as_deref(),
        Some("Wed, 30 Jun 2027 00:00:00 GMT")
    );
    assert_eq!(
        header("link").as_deref(),
        Some("</api/users/1>; rel=\"successor-version\"")
    );
    assert_eq!(v1.text().await.unwrap_or_else(|e| panic!("{e}")), v2_body);
    // Refusals carry the headers too, and ownership holds.
    let other = client
        .get(app.url("/api/v1/users/2"))
        .bearer_auth(&token)
        .send()
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(other.status(), StatusCode::FORBIDDEN);
    assert!(other.headers().contains_key("sunset"));
    app.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_token_that_outlived_its_user_cannot_place_orders() {
    let app = TestApp::start().await;
    let call = Call {
        client: Client::new(),
        app: &app,
    };
    // Signed by the app, for an id no user has (deleted since, say).
    let orphan = app.token("987654", &["user"]);
    let (status, problem) = call
        .send(
            Method::POST,
            "/api/orders",
            Some(&orphan),
            Some(json!({"item": "book", "quantity": 1})),
        )
        .await;
    assert_eq!(status, StatusCode::FORBIDDEN, "{problem}");
    assert_eq!(problem["detail"], "this caller cannot own orders");
    app.stop().await;
}
