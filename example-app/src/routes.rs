//! The example's routes. Each declares who may call it; the framework
//! refuses to compile one that does not.

use actix_web::http::StatusCode;
use secure_api_runtime::prelude::*;
use serde::{Deserialize, Serialize};

use crate::password;
use crate::store::{Store, StoreError, User};

/// The roles an administrator may grant.
pub const GRANTABLE_ROLES: [&str; 2] = ["user", "admin"];

/// What anyone may see of a user.
#[derive(Debug, Serialize)]
pub struct PublicUser {
    id: i64,
    username: String,
    display_name: String,
}

impl From<User> for PublicUser {
    fn from(user: User) -> Self {
        Self {
            id: user.id,
            username: user.username,
            display_name: user.display_name,
        }
    }
}

/// Liveness.
#[get("/health")]
#[public]
pub async fn health() -> HttpResponse {
    HttpResponse::Ok().json(serde_json::json!({ "status": "ok" }))
}

/// A user's own profile.
#[get("/api/users/{user_id}")]
#[owner(user_id)]
pub async fn get_user(
    user_id: web::Path<i64>,
    store: web::Data<Store>,
) -> Result<web::Json<PublicUser>, Problem> {
    match store.user(user_id.into_inner()).await {
        Ok(Some(user)) => Ok(web::Json(user.into())),
        Ok(None) => Err(Problem::not_found()),
        Err(e) => Err(internal(&e)),
    }
}

/// A user created by an administrator.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NewUser {
    username: String,
    password: String,
    display_name: String,
    #[serde(default)]
    roles: Option<Vec<String>>,
}

/// Creates a user (administrators only).
#[roles(admin)]
#[post("/api/admin/users")]
pub async fn create_user(
    body: web::Json<NewUser>,
    store: web::Data<Store>,
) -> Result<HttpResponse, Problem> {
    let NewUser {
        username,
        password,
        display_name,
        roles,
    } = body.into_inner();
    let roles = roles.unwrap_or_else(|| vec!["user".to_owned()]);
    validate_new_user(&username, &password, &display_name, &roles)?;
    let hash = password::hash(password).await?;
    match store
        .create_user(&username, &display_name, &hash, &roles)
        .await
    {
        Ok(user) => Ok(HttpResponse::Created().json(PublicUser::from(user))),
        Err(StoreError::UsernameTaken) => {
            Err(Problem::new(StatusCode::CONFLICT).with_detail("the username is taken"))
        }
        Err(e) => Err(internal(&e)),
    }
}

fn validate_new_user(
    username: &str,
    password: &str,
    display_name: &str,
    roles: &[String],
) -> Result<(), Problem> {
    let unprocessable =
        |detail: &str| Problem::new(StatusCode::UNPROCESSABLE_ENTITY).with_detail(detail);
    let username_ok = (3..=32).contains(&username.len())
        && username
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b"_.-".contains(&b));
    if !username_ok {
        return Err(unprocessable(
            "`username` is 3 to 32 characters of a-z, 0-9, `_`, `.` and `-`",
        ));
    }
    let display_chars = display_name.chars().count();
    if !(1..=64).contains(&display_chars) || display_name.chars().any(char::is_control) {
        return Err(unprocessable(
            "`display_name` is 1 to 64 printable characters",
        ));
    }
    password::check_length(password).map_err(unprocessable)?;
    if roles.is_empty() || roles.iter().any(|r| !GRANTABLE_ROLES.contains(&r.as_str())) {
        return Err(unprocessable(
            "`roles` lists one or more of `user`, `admin`",
        ));
    }
    Ok(())
}

/// Logs a server-side failure and answers a 500 that says nothing more.
pub(crate) fn internal(error: &dyn std::fmt::Display) -> Problem {
    tracing::error!(target: "example_app", error = %error, "request failed");
    Problem::new(StatusCode::INTERNAL_SERVER_ERROR)
}
