//! Administration: every route here requires the `admin` role.

use garde::Validate;
use secure_api_runtime::prelude::*;
use serde::Deserialize;

use secrecy::SecretString;
use secure_api_runtime::auth::password::{MAX_PASSWORD_CHARS, MIN_PASSWORD_CHARS};

use super::{internal, printable};
use crate::auth::Auth;
use crate::store::{Store, StoreError};

/// The roles an administrator may grant.
pub const GRANTABLE_ROLES: [&str; 2] = ["user", "admin"];

/// Mounts the administration routes.
pub fn mount(app: SecureApp) -> SecureApp {
    app.service(create_user)
}

/// A user created by an administrator.
#[derive(Debug, Deserialize, Validate, Input)]
#[serde(deny_unknown_fields)]
pub struct NewUser {
    #[garde(length(min = 3, max = 32), pattern(r"^[a-z0-9_.-]+$"))]
    #[input(example = "new.clerk")]
    username: String,
    // The policy's length; its other rules run in the handler.
    #[garde(length(chars, min = MIN_PASSWORD_CHARS, max = MAX_PASSWORD_CHARS))]
    #[input(example = "quince jam on the top shelf")]
    password: String,
    #[garde(length(chars, min = 1, max = 64), custom(printable))]
    #[input(example = "New Clerk")]
    display_name: String,
    #[serde(default)]
    #[garde(length(min = 1), custom(grantable))]
    #[input(example = ["user"])]
    roles: Option<Vec<String>>,
}

fn grantable(value: &Option<Vec<String>>, _: &()) -> garde::Result {
    match value {
        Some(roles) if roles.iter().any(|r| !GRANTABLE_ROLES.contains(&r.as_str())) => {
            Err(garde::Error::new("lists one or more of `user`, `admin`"))
        }
        _ => Ok(()),
    }
}

/// Creates a user.
#[post("/api/admin/users")]
#[registered(owner = "accounts", lifecycle = production)]
#[roles(admin)]
#[expose(id, username, display_name)]
pub async fn create_user(
    body: web::Json<NewUser>,
    store: web::Data<Store>,
    auth: web::Data<Auth>,
) -> Result<Created<crate::store::User>, Problem> {
    let NewUser {
        username,
        password,
        display_name,
        roles,
    } = body.into_inner();
    let roles = roles.unwrap_or_else(|| vec!["user".to_owned()]);
    auth.policy.check(&password, Some(&username))?;
    let hash = auth.passwords.hash(SecretString::from(password)).await?;
    match store
        .create_user(&username, &display_name, &hash, &roles)
        .await
    {
        Ok(user) => Ok(Created(user)),
        Err(StoreError::UsernameTaken) => Err(Problem::conflict("the username is taken")),
        Err(e) => Err(internal(&e)),
    }
}
