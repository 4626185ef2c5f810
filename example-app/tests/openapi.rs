//! The committed `example-app/openapi.json` is the document the code
//! generates: a route added, removed or changed without updating it fails
//! here.

use secure_api_runtime::{Mode, SecurityConfig};
use serde_json::Value;

const COMMITTED: &str = include_str!("../openapi.json");

fn generated() -> Value {
    let security = SecurityConfig::builder(Mode::Dev)
        .generated_key()
        .build()
        .unwrap_or_else(|e| panic!("{e}"));
    serde_json::from_str(&example_app::openapi_json(security)).unwrap_or_else(|e| panic!("{e}"))
}

#[test]
fn the_committed_spec_matches_the_code() {
    let committed: Value = serde_json::from_str(COMMITTED).unwrap_or_else(|e| panic!("{e}"));
    assert!(
        committed == generated(),
        "example-app/openapi.json is out of date: regenerate it with\n  cargo run -q -p example-app -- openapi > example-app/openapi.json"
    );
}

#[test]
fn the_spec_carries_security_lifecycle_and_policy() {
    let spec = generated();
    assert_eq!(spec["openapi"], "3.1.0");
    let op = |path: &str, method: &str| spec["paths"][path][method].clone();
    let bearer = serde_json::json!([{ "bearer": [] }]);
    assert_eq!(op("/api/users/{user_id}", "get")["security"], bearer);
    assert_eq!(
        op("/api/users/{user_id}", "get")["parameters"][0]["in"],
        "path"
    );
    assert_eq!(
        op("/health", "get")["security"],
        Value::Null,
        "public routes need no token"
    );
    assert_eq!(op("/api/v1/users/{user_id}", "get")["deprecated"], true);
    assert_eq!(
        op("/api/v1/users/{user_id}", "get")["x-sunset"],
        "2027-06-30"
    );
    assert_eq!(
        op("/api/admin/users", "post")["x-roles"],
        serde_json::json!({ "any": ["admin"] })
    );
    assert_eq!(
        op("/api/search", "get")["x-limits"],
        "30/minute; 5/second per user"
    );
    let execute = op("/api/orders/{order_id}/execute", "post");
    assert_eq!(execute["x-state"]["from"], "Validated");
    assert!(
        execute["parameters"]
            .as_array()
            .is_some_and(|p| p.iter().any(|p| p["name"] == "Idempotency-Key"))
    );
    let webhook = op("/api/webhooks/payment", "post");
    assert_eq!(webhook["security"], Value::Null);
    assert!(
        webhook["parameters"]
            .as_array()
            .is_some_and(|p| p.iter().any(|p| p["name"] == "webhook-signature"))
    );
    assert_eq!(
        op("/api/webhooks/payment", "post")["x-owner"],
        "integrations"
    );
    let report = op("/api/reports/orders", "get");
    assert_eq!(
        report["security"],
        serde_json::json!([{"bearer": ["reports:read"]}])
    );
    assert_eq!(report["x-access"], "scopes(reports:read)");
    assert_eq!(spec["paths"].as_object().map(|p| p.len()), Some(19));
}

#[test]
fn projected_answers_are_described_by_their_fields_and_shape() {
    let spec = generated();
    let answer = |path: &str, method: &str| {
        spec["paths"][path][method]["responses"]["2XX"]["content"]["application/json"]["schema"]
            .clone()
    };
    let user = serde_json::json!({
        "type": "object",
        "additionalProperties": false,
        "properties": { "id": {}, "username": {}, "display_name": {} },
        "required": ["id", "username", "display_name"],
    });
    assert_eq!(answer("/api/users/{user_id}", "get"), user);
    let page = answer("/api/search", "get");
    assert_eq!(page["properties"]["items"]["items"], user);
    assert_eq!(page["properties"]["has_more"]["type"], "boolean");
    assert_eq!(
        page["required"],
        serde_json::json!(["items", "limit", "offset", "has_more"])
    );
    // A body built by hand has no declared shape.
    assert_eq!(answer("/health", "get"), Value::Null);
}
