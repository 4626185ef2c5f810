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
fn every_body_and_query_schema_lists_exactly_the_fields_serde_reads() {
    let security = SecurityConfig::builder(Mode::Dev)
        .generated_key()
        .build()
        .unwrap_or_else(|e| panic!("{e}"));
    let app = example_app::mount_routes(secure_api_runtime::SecureApp::new(security));
    let drift = secure_api_runtime::openapi::schema::drift(&app.routes());
    assert!(drift.is_empty(), "{drift:#?}");
    // And the check sees something: every route that reads a body or a
    // query has one.
    let spec = generated();
    let bodies = spec["paths"]
        .as_object()
        .into_iter()
        .flat_map(|paths| paths.values())
        .flat_map(|item| item.as_object().into_iter().flat_map(|ops| ops.values()))
        .filter(|op| op["requestBody"].is_object())
        .count();
    assert_eq!(bodies, 10);
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
    assert_eq!(spec["paths"].as_object().map(|p| p.len()), Some(21));
}

#[test]
fn projected_answers_are_described_by_their_fields_types_shape_and_status() {
    let spec = generated();
    let answer = |path: &str, method: &str, status: &str| {
        spec["paths"][path][method]["responses"][status]["content"]["application/json"]["schema"]
            .clone()
    };
    let user = serde_json::json!({
        "type": "object",
        "additionalProperties": false,
        "properties": {
            "id": { "type": "integer", "format": "int64" },
            "username": { "type": "string" },
            "display_name": { "type": "string" },
        },
        "required": ["id", "username", "display_name"],
    });
    assert_eq!(answer("/api/users/{user_id}", "get", "200"), user);
    let page = answer("/api/search", "get", "200");
    assert_eq!(page["properties"]["items"]["items"], user);
    assert_eq!(page["properties"]["has_more"]["type"], "boolean");
    assert_eq!(
        page["required"],
        serde_json::json!(["items", "limit", "offset", "has_more"])
    );
    // `Created` is 201, `Accepted` 202, `NoContent` 204; an enum field has
    // its values.
    let order = answer("/api/orders", "post", "201");
    assert_eq!(
        order["properties"]["state"]["enum"],
        serde_json::json!(["draft", "validated", "executed"])
    );
    assert_eq!(
        answer("/api/orders/{order_id}/execute", "post", "202"),
        order
    );
    let responses = |path: &str, method: &str| spec["paths"][path][method]["responses"].clone();
    assert!(responses("/api/auth/logout", "post")["204"].is_object());
    assert_eq!(
        responses("/api/auth/logout", "post")["204"]["content"],
        Value::Null
    );
    // A type sent whole is described by its own schema.
    let tokens = answer("/api/auth/login", "post", "200");
    assert_eq!(tokens["properties"]["access_token"]["type"], "string");
    // A body built by hand has no declared status or shape.
    assert!(responses("/health", "get")["default"].is_object());
    assert!(responses("/health", "get")["200"].is_null());
}

#[test]
fn refusals_follow_each_routes_policy() {
    let spec = generated();
    let statuses = |path: &str, method: &str| -> Vec<String> {
        spec["paths"][path][method]["responses"]
            .as_object()
            .map(|r| r.keys().cloned().collect())
            .unwrap_or_default()
    };
    let has =
        |path: &str, method: &str, status: &str| statuses(path, method).iter().any(|s| s == status);
    // A token, an owner, a body with rules, a state, an idempotency key.
    assert!(has("/api/users/{user_id}", "get", "401"));
    assert!(has("/api/users/{user_id}", "get", "404"));
    assert!(!has("/health", "get", "401"));
    assert!(has("/api/orders", "post", "422"));
    assert!(!has("/api/users/{user_id}", "get", "422"));
    assert!(has("/api/orders/{order_id}/execute", "post", "409"));
    assert!(!has("/api/orders", "post", "409"));
    assert!(has("/api/search", "get", "429"));
    // Each refers to a problem+json answer; a 429 carries its headers.
    let too_many = &spec["components"]["responses"]["TooManyRequests"];
    assert_eq!(
        too_many["content"]["application/problem+json"]["schema"]["$ref"],
        "#/components/schemas/Problem"
    );
    assert!(too_many["headers"]["Retry-After"].is_object());
    assert!(too_many["headers"]["RateLimit"].is_object());
    // An `Idempotency-Key` is required where the route says so.
    let execute = &spec["paths"]["/api/orders/{order_id}/execute"]["post"];
    let key = execute["parameters"]
        .as_array()
        .and_then(|p| p.iter().find(|p| p["name"] == "Idempotency-Key"))
        .cloned()
        .unwrap_or_default();
    assert_eq!(
        (key["in"].clone(), key["required"].clone()),
        ("header".into(), true.into())
    );
    // With what the guard accepts of it: 1 to 255 visible ASCII characters.
    assert_eq!(
        key["schema"],
        serde_json::json!({
            "type": "string",
            "minLength": 1,
            "maxLength": 255,
            "pattern": "^[!-~]+$",
        })
    );
    // A created order links to the routes that load an order by its id.
    let links = &spec["paths"]["/api/orders"]["post"]["responses"]["201"]["links"];
    assert_eq!(
        links["validate_order"],
        serde_json::json!({
            "operationId": "validate_order",
            "parameters": { "order_id": "$response.body#/id" },
            "description": "the Order this answer holds",
        })
    );
    assert!(links["execute_order"].is_object());
    // A deprecated route's success says its headers.
    let v1 = &spec["paths"]["/api/v1/users/{user_id}"]["get"]["responses"]["200"]["headers"];
    for header in ["Deprecation", "Sunset", "Link"] {
        assert!(v1[header].is_object(), "{header}");
    }
}

#[test]
fn request_bodies_and_queries_carry_their_rules() {
    let spec = generated();
    let body = |path: &str| {
        spec["paths"][path]["post"]["requestBody"]["content"]["application/json"]["schema"].clone()
    };
    let order = body("/api/orders");
    assert_eq!(order["additionalProperties"], false);
    assert_eq!(order["required"], serde_json::json!(["item", "quantity"]));
    assert_eq!(order["properties"]["quantity"]["minimum"], 1);
    assert_eq!(order["properties"]["quantity"]["maximum"], 1000);
    assert_eq!(order["properties"]["item"]["maxLength"], 100);
    // A bound named by a constant (the password policy's length) and a
    // pattern are shown as well, on both routes that take a new password.
    for path in ["/api/auth/register", "/api/admin/users"] {
        let user = body(path);
        assert_eq!(user["properties"]["password"]["minLength"], 12, "{path}");
        assert_eq!(user["properties"]["password"]["maxLength"], 128, "{path}");
        assert_eq!(
            user["properties"]["username"]["pattern"], "^[a-z0-9_.-]+$",
            "{path}"
        );
    }
    // `#[serde(rename = "type")]` is read as `type`.
    let event = body("/api/webhooks/payment");
    assert!(event["properties"]["type"].is_object(), "{event}");
    let search: Vec<String> = spec["paths"]["/api/search"]["get"]["parameters"]
        .as_array()
        .into_iter()
        .flatten()
        .filter(|p| p["in"] == "query")
        .filter_map(|p| p["name"].as_str().map(str::to_owned))
        .collect();
    assert_eq!(search, ["limit", "offset", "q"]);
}

/// A path parameter read as a number is documented as one; one the handler
/// reads as text (an object id an `Owned` type loads) stays a string; one
/// read as a type with a schema of its own (an asset name) has that schema.
#[test]
fn path_parameters_have_the_type_the_handler_reads() {
    let doc = generated();
    let schema = |path: &str, method: &str| {
        doc["paths"][path][method]["parameters"]
            .as_array()
            .and_then(|parameters| parameters.iter().find(|p| p["in"] == "path"))
            .map(|p| p["schema"].clone())
            .unwrap_or_default()
    };
    assert_eq!(
        schema("/api/users/{user_id}", "get"),
        serde_json::json!({"type": "integer", "format": "int64"})
    );
    assert_eq!(
        schema("/api/orders/{order_id}/execute", "post"),
        serde_json::json!({"type": "string"})
    );
    // The assets' names are listed: any other is 404.
    assert_eq!(
        schema("/docs/{asset}", "get"),
        serde_json::json!({"type": "string", "enum": ["swagger-ui-bundle.js", "swagger-ui.css", "init.js"]})
    );
}
