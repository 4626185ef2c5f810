//! Registration, login, refresh, logout and the optional second factor.
//!
//! Login answers the same status and body, in about the same time, whether
//! the username is unknown, the password wrong or the one-time code
//! missing; failures are throttled per account and per client address.

use garde::Validate;
use secrecy::SecretString;
use secure_api_runtime::auth::TotpSecret;
use secure_api_runtime::auth::password::{MAX_PASSWORD_CHARS, MIN_PASSWORD_CHARS};
use secure_api_runtime::auth::sessions::TokenPair;
use secure_api_runtime::observe::audit;
use secure_api_runtime::prelude::*;
use serde::{Deserialize, Serialize};

use super::{internal, printable};
use crate::auth::Auth;
use crate::store::{Store, StoreError, User};

/// The issuer shown by authenticator apps.
pub const TOTP_ISSUER: &str = "secure-api example";

/// Mounts the authentication routes.
pub fn mount(app: SecureApp) -> SecureApp {
    app.service(register)
        .service(login)
        .service(refresh)
        .service(logout)
        .service(enrol_totp)
        .service(confirm_totp)
}

/// A new account.
#[derive(Debug, Deserialize, Validate, Input)]
#[serde(deny_unknown_fields)]
pub struct Register {
    #[garde(length(min = 3, max = 32), pattern(r"^[a-z0-9_.-]+$"))]
    #[input(example = "new.reader")]
    username: String,
    // The policy's length, which the document shows; its other rules
    // (common, username, symbol) run in the handler, which names the rule.
    #[garde(length(chars, min = MIN_PASSWORD_CHARS, max = MAX_PASSWORD_CHARS))]
    #[input(example = "plum orchard at first light")]
    password: String,
    #[garde(length(chars, min = 1, max = 64), custom(printable))]
    #[input(example = "New Reader")]
    display_name: String,
}

/// Creates an account with the `user` role.
#[post("/api/auth/register")]
#[registered(owner = "identity", lifecycle = production)]
#[public]
#[limit("20/minute", key = ip, body = "4KiB")]
#[expose(id, username, display_name)]
pub async fn register(
    body: web::Json<Register>,
    auth: web::Data<Auth>,
    store: web::Data<Store>,
) -> Result<Created<User>, Problem> {
    let Register {
        username,
        password,
        display_name,
    } = body.into_inner();
    auth.policy.check(&password, Some(&username))?;
    let hash = auth.passwords.hash(SecretString::from(password)).await?;
    match store
        .create_user(&username, &display_name, &hash, &["user".to_owned()])
        .await
    {
        Ok(user) => Ok(Created(user)),
        Err(StoreError::UsernameTaken) => Err(Problem::conflict("the username is taken")),
        Err(e) => Err(internal(&e)),
    }
}

/// Credentials; `totp` only for accounts with the second factor on.
#[derive(Debug, Deserialize, Validate, Input)]
#[serde(deny_unknown_fields)]
pub struct Login {
    #[garde(length(min = 1, max = 64))]
    username: String,
    #[garde(length(min = 1, max = 1024))]
    password: String,
    #[serde(default)]
    #[garde(length(max = 16))]
    totp: Option<String>,
}

/// The one answer for every failed login.
fn bad_credentials() -> Problem {
    Problem::unauthorized("the username, password or one-time code is not correct")
}

/// Signs in: a fresh access token and a new refresh-token family.
#[post("/api/auth/login")]
#[registered(owner = "identity", lifecycle = production)]
#[public]
#[limit("20/minute", key = ip, body = "4KiB")]
pub async fn login(
    req: HttpRequest,
    body: web::Json<Login>,
    auth: web::Data<Auth>,
    store: web::Data<Store>,
) -> Result<web::Json<TokenPair>, Problem> {
    let Login {
        username,
        password,
        totp,
    } = body.into_inner();
    let ip = auth
        .security
        .client_ip(&req)
        .unwrap_or(std::net::IpAddr::V4(std::net::Ipv4Addr::UNSPECIFIED));
    auth.throttle.check(&username, ip).await?;
    let user = store
        .user_by_name(&username)
        .await
        .map_err(|e| internal(&e))?;
    let verified = auth
        .passwords
        .verify(
            SecretString::from(password.clone()),
            user.as_ref().map(|u| u.password_hash.as_str()),
        )
        .await?;
    let user = match user {
        Some(user) if verified.matches && second_factor(&store, &user, totp.as_deref()).await? => {
            user
        }
        _ => {
            auth.throttle.failed(&username, ip).await;
            audit_login(&username, false);
            return Err(bad_credentials());
        }
    };
    auth.throttle.succeeded(&username).await;
    audit_login(&username, true);
    if verified.needs_rehash {
        // Best effort: the login stands even if the new hash is not stored.
        match auth.passwords.hash(SecretString::from(password)).await {
            Ok(hash) => {
                if let Err(e) = store.set_password_hash(user.id, &hash).await {
                    tracing::warn!(target: "example_app", error = %e, "rehash not stored");
                }
            }
            Err(e) => tracing::warn!(target: "example_app", error = %e, "rehash failed"),
        }
    }
    let pair = auth
        .sessions
        .start(&user.id.to_string(), &user.roles)
        .await?;
    Ok(web::Json(pair))
}

/// True when the account has no second factor, or `code` is its current,
/// unused code.
async fn second_factor(store: &Store, user: &User, code: Option<&str>) -> Result<bool, Problem> {
    let Some((secret, last_step)) = store.totp(user.id).await.map_err(|e| internal(&e))? else {
        return Ok(true);
    };
    let Some(code) = code else { return Ok(false) };
    let now = secure_api_runtime::auth::sessions::now_secs();
    let Some(step) = TotpSecret::from_base32(&secret).verify(code, now, last_step) else {
        return Ok(false);
    };
    store
        .use_totp_step(user.id, step)
        .await
        .map_err(|e| internal(&e))
}

/// The login's decision, for the request's audit event.
fn audit_login(username: &str, allowed: bool) {
    audit::account(username);
    if allowed {
        audit::allowed("login");
    } else {
        audit::refused("login", "bad_credentials");
    }
}

/// A refresh token presented to rotate or to end a session.
#[derive(Debug, Deserialize, Validate, Input)]
#[serde(deny_unknown_fields)]
pub struct RefreshBody {
    #[garde(length(min = 1, max = 128))]
    refresh_token: String,
}

/// Rotates a refresh token: a new pair; the presented token is spent, and
/// presenting it again revokes the whole family.
#[post("/api/auth/refresh")]
#[registered(owner = "identity", lifecycle = production)]
#[public]
#[limit("60/minute", key = ip, body = "4KiB")]
pub async fn refresh(
    body: web::Json<RefreshBody>,
    auth: web::Data<Auth>,
    store: web::Data<Store>,
) -> Result<web::Json<TokenPair>, Problem> {
    let rotated = auth.sessions.refresh(&body.refresh_token).await?;
    // Roles are read again, so a change takes effect at the next refresh.
    let user = match rotated.sub.parse::<i64>() {
        Ok(id) => store.user(id).await.map_err(|e| internal(&e))?,
        Err(_) => None,
    };
    let Some(user) = user else {
        auth.sessions.revoke(&body.refresh_token).await?;
        return Err(Problem::unauthorized("the refresh token is not valid"));
    };
    Ok(web::Json(auth.sessions.pair(rotated, &user.roles)?))
}

/// Ends the session: the refresh token's family is revoked and the access
/// token stops working at once.
#[post("/api/auth/logout")]
#[registered(owner = "identity", lifecycle = production)]
#[authenticated]
#[limit(body = "4KiB")]
pub async fn logout(
    me: Principal,
    body: web::Json<RefreshBody>,
    auth: web::Data<Auth>,
) -> Result<NoContent, Problem> {
    auth.sessions.end(&me, &body.refresh_token).await?;
    Ok(NoContent)
}

/// The secret to load into an authenticator app, shown once.
#[derive(Serialize, utoipa::ToSchema)]
pub struct TotpEnrolment {
    /// Base32 secret.
    pub secret: String,
    /// The `otpauth://` URI (for a QR code).
    pub otpauth_uri: String,
}

impl SerializeWhole for TotpEnrolment {}

impl std::fmt::Debug for TotpEnrolment {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("TotpEnrolment([redacted])")
    }
}

/// Starts turning on the second factor; needs a login from the last few
/// minutes. It takes effect once a code is confirmed.
#[post("/api/auth/totp")]
#[registered(owner = "identity", lifecycle = production)]
#[authenticated(fresh)]
pub async fn enrol_totp(
    me: Principal,
    store: web::Data<Store>,
) -> Result<web::Json<TotpEnrolment>, Problem> {
    let id: i64 = me.sub_as()?;
    let user = store
        .user(id)
        .await
        .map_err(|e| internal(&e))?
        .ok_or_else(Problem::not_found)?;
    let secret = TotpSecret::generate().map_err(|e| internal(&e))?;
    store
        .set_totp_pending(id, secret.expose_base32())
        .await
        .map_err(|e| internal(&e))?;
    Ok(web::Json(TotpEnrolment {
        secret: secret.expose_base32().to_owned(),
        otpauth_uri: secret.otpauth_uri(TOTP_ISSUER, &user.username),
    }))
}

/// A code from the authenticator app.
#[derive(Debug, Deserialize, Validate, Input)]
#[serde(deny_unknown_fields)]
pub struct TotpCode {
    #[garde(length(min = 6, max = 6))]
    code: String,
}

/// Confirms the second factor with a first code; from then on, login
/// needs a code.
#[post("/api/auth/totp/confirm")]
#[registered(owner = "identity", lifecycle = production)]
#[authenticated(fresh)]
pub async fn confirm_totp(
    me: Principal,
    body: web::Json<TotpCode>,
    store: web::Data<Store>,
) -> Result<NoContent, Problem> {
    let id: i64 = me.sub_as()?;
    let pending = store.totp_pending(id).await.map_err(|e| internal(&e))?;
    let not_confirmed =
        || Problem::unprocessable("code", "is not the current code of the pending secret");
    let Some(pending) = pending else {
        return Err(Problem::conflict(
            "no second factor is waiting for confirmation",
        ));
    };
    let now = secure_api_runtime::auth::sessions::now_secs();
    let step = TotpSecret::from_base32(&pending)
        .verify(&body.code, now, None)
        .ok_or_else(not_confirmed)?;
    if store
        .confirm_totp(id, &pending, step)
        .await
        .map_err(|e| internal(&e))?
    {
        Ok(NoContent)
    } else {
        Err(not_confirmed())
    }
}
