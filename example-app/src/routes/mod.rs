//! The example's routes. Each declares who may call it and what it may
//! send back; the framework refuses to compile one that does not.

pub mod admin;
pub mod auth;
pub mod integrations;
pub mod orders;

use garde::Validate;
use secure_api_runtime::prelude::*;
use serde::Deserialize;

use crate::store::{Store, User};

/// Liveness.
#[get("/health")]
#[registered(owner = "platform", lifecycle = production)]
#[public]
pub async fn health() -> HttpResponse {
    HttpResponse::Ok().json(serde_json::json!({ "status": "ok" }))
}

/// The OpenAPI document, as served.
#[derive(Debug)]
pub struct OpenApiJson(pub String);

/// The OpenAPI 3.1 document of every route, generated from the inventory.
#[get("/openapi.json")]
#[registered(owner = "platform", lifecycle = production)]
#[public]
pub async fn openapi(spec: web::Data<OpenApiJson>) -> HttpResponse {
    HttpResponse::Ok()
        .content_type("application/json")
        .body(spec.0.clone())
}

/// The API explorer page for `/openapi.json` (Swagger UI, served by the
/// app itself). Mounted in dev mode, and in production with
/// `SECURE_API_DOCS=on`.
#[get("/docs")]
#[registered(owner = "platform", lifecycle = production)]
#[public]
pub async fn docs() -> HttpResponse {
    secure_api_runtime::docs::page("/docs", "/openapi.json")
}

/// The explorer page's scripts and styles; any other name is 404.
#[get("/docs/{asset}")]
#[registered(owner = "platform", lifecycle = production)]
#[public]
pub async fn docs_asset(
    asset: web::Path<secure_api_runtime::docs::AssetName>,
) -> Result<HttpResponse, Problem> {
    secure_api_runtime::docs::asset(&asset).ok_or_else(Problem::not_found)
}

/// A user's own profile: only the public fields, never the password hash,
/// roles, salary or internal note.
#[get("/api/users/{user_id}")]
#[registered(owner = "accounts", lifecycle = production)]
#[owner(user_id)]
#[expose(id, username, display_name)]
pub async fn get_user(user_id: web::Path<i64>, store: web::Data<Store>) -> Result<User, Problem> {
    match store.user(user_id.into_inner()).await {
        Ok(Some(user)) => Ok(user),
        Ok(None) => Err(Problem::not_found()),
        Err(e) => Err(internal(&e)),
    }
}

/// The first version of [`get_user`], kept for old clients until its
/// sunset: the same answer, with `Deprecation`, `Sunset` and a `Link` to
/// its successor.
#[get("/api/v1/users/{user_id}")]
#[registered(owner = "accounts", lifecycle = deprecated(since = "2026-11-24", sunset = "2027-06-30", successor = "/api/users/{user_id}"))]
#[owner(user_id)]
#[expose(id, username, display_name)]
pub async fn get_user_v1(
    user_id: web::Path<i64>,
    store: web::Data<Store>,
) -> Result<User, Problem> {
    match store.user(user_id.into_inner()).await {
        Ok(Some(user)) => Ok(user),
        Ok(None) => Err(Problem::not_found()),
        Err(e) => Err(internal(&e)),
    }
}

/// The most results one search returns.
pub const MAX_SEARCH_LIMIT: u32 = 50;
/// The longest search text considered; longer text is cut.
pub const MAX_SEARCH_CHARS: usize = 128;

/// `?q=&limit=&offset=`; any other parameter is refused (422).
#[derive(Debug, Deserialize, Validate, Input)]
#[serde(deny_unknown_fields)]
pub struct SearchQuery {
    /// Any text: it is cut to [`MAX_SEARCH_CHARS`].
    #[serde(default)]
    #[garde(skip)]
    q: String,
    /// Read and clamped by `PageRequest`; named here so the query may
    /// carry it.
    #[serde(default)]
    #[garde(skip)]
    #[allow(dead_code)]
    limit: Option<u32>,
    /// Read by `PageRequest`, like `limit`.
    #[serde(default)]
    #[garde(skip)]
    #[allow(dead_code)]
    offset: Option<u64>,
}

/// Finds users by name: 30 a minute and 5 a second per user.
#[get("/api/search")]
#[registered(owner = "accounts", lifecycle = production)]
#[authenticated]
#[limit("30/minute; 5/second")]
#[expose(id, username, display_name)]
pub async fn search(
    query: web::Query<SearchQuery>,
    page: PageRequest,
    store: web::Data<Store>,
) -> Result<Page<User>, Problem> {
    let text: String = query.q.chars().take(MAX_SEARCH_CHARS).collect();
    let rows = store
        .search_users(&text, page.lookahead(), page.offset)
        .await
        .map_err(|e| internal(&e))?;
    Ok(Page::from_lookahead(rows, page))
}

/// What a user may change about themselves: only the display name.
#[derive(Debug, Deserialize, Validate, Input)]
#[serde(deny_unknown_fields)]
pub struct UpdateMe {
    #[garde(length(chars, min = 1, max = 64), custom(printable))]
    #[input(example = "Ada L.")]
    display_name: String,
}

/// Updates the caller's own profile.
#[patch("/api/users/me")]
#[registered(owner = "accounts", lifecycle = production)]
#[authenticated]
#[limit(body = "4KiB")]
#[expose(id, username, display_name)]
pub async fn update_me(
    me: Principal,
    body: web::Json<UpdateMe>,
    store: web::Data<Store>,
) -> Result<User, Problem> {
    let id: i64 = me.sub_as()?;
    match store.set_display_name(id, &body.display_name).await {
        Ok(Some(user)) => Ok(user),
        Ok(None) => Err(Problem::not_found()),
        Err(e) => Err(internal(&e)),
    }
}

/// `garde` rule: no control characters.
pub(crate) fn printable(value: &str, _: &()) -> garde::Result {
    if value.chars().any(char::is_control) {
        return Err(garde::Error::new("must not contain control characters"));
    }
    Ok(())
}

/// Logs a server-side failure and answers a 500 that says nothing more.
pub(crate) fn internal(error: &dyn std::fmt::Display) -> Problem {
    tracing::error!(target: "example_app", error = %error, "request failed");
    Problem::internal()
}
