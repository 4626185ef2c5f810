//! Sign-in for an application's own users: register, login, refresh and
//! logout, with argon2id passwords, throttled logins and rotating refresh
//! tokens kept in memory.

use std::collections::HashMap;
use std::net::{IpAddr, Ipv4Addr};
use std::sync::{Mutex, PoisonError};

use garde::Validate;
use secrecy::SecretString;
use secure_api_runtime::auth::{
    Argon2Params, LoginThrottle, MemoryTokenStore, PasswordPolicy, Passwords, Sessions,
};
use secure_api_runtime::prelude::*;
use serde::Deserialize;

/// A row of the application's own user table.
#[derive(Clone)]
struct User {
    sub: String,
    password_hash: String,
    roles: Vec<String>,
}

struct Auth {
    users: Mutex<HashMap<String, User>>,
    passwords: Passwords,
    policy: PasswordPolicy,
    throttle: LoginThrottle,
    sessions: Sessions<MemoryTokenStore>,
    security: SecurityConfig,
}

impl Auth {
    fn new(security: SecurityConfig) -> Result<Self, String> {
        Ok(Self {
            users: Mutex::default(),
            passwords: Passwords::new(Argon2Params::default())?,
            policy: PasswordPolicy::default(),
            throttle: LoginThrottle::for_config(&security),
            sessions: Sessions::new(security.clone(), MemoryTokenStore::new()),
            security,
        })
    }

    fn user(&self, find: impl Fn(&(&String, &User)) -> bool) -> Option<User> {
        let users = self.users.lock().unwrap_or_else(PoisonError::into_inner);
        users.iter().find(find).map(|(_, user)| user.clone())
    }
}

#[derive(Deserialize, Validate, Input)]
#[serde(deny_unknown_fields)]
struct Credentials {
    #[garde(length(chars, min = 3, max = 64))]
    username: String,
    #[garde(length(max = 1024))]
    password: String,
}

#[derive(Deserialize, Validate, Input)]
#[serde(deny_unknown_fields)]
struct RefreshToken {
    #[garde(length(min = 1, max = 128))]
    refresh_token: String,
}

#[post("/api/auth/register")]
#[registered(owner = "identity", lifecycle = production)]
#[public]
#[limit("20/minute", key = ip, body = "4KiB")]
async fn register(
    body: web::Json<Credentials>,
    auth: web::Data<Auth>,
) -> Result<HttpResponse, Problem> {
    let Credentials { username, password } = body.into_inner();
    auth.policy.check(&password, Some(&username))?;
    let password_hash = auth.passwords.hash(SecretString::from(password)).await?;
    let mut users = auth.users.lock().unwrap_or_else(PoisonError::into_inner);
    if users.contains_key(&username) {
        return Err(Problem::conflict("the username is taken"));
    }
    let sub = (users.len() + 1).to_string();
    let roles = vec!["user".to_owned()];
    users.insert(
        username,
        User {
            sub,
            password_hash,
            roles,
        },
    );
    Ok(HttpResponse::Created().finish())
}

#[post("/api/auth/login")]
#[registered(owner = "identity", lifecycle = production)]
#[public]
#[limit("20/minute", key = ip, body = "4KiB")]
async fn login(
    req: HttpRequest,
    body: web::Json<Credentials>,
    auth: web::Data<Auth>,
) -> Result<web::Json<TokenPair>, Problem> {
    let Credentials { username, password } = body.into_inner();
    let client = auth.security.client_ip(&req);
    let client = client.unwrap_or(IpAddr::V4(Ipv4Addr::UNSPECIFIED));
    auth.throttle.check(&username, client).await?;
    let user = auth.user(|(name, _)| **name == username);
    let hash = user.as_ref().map(|user| user.password_hash.as_str());
    // An unknown username costs the same time as a wrong password.
    let verified = auth
        .passwords
        .verify(SecretString::from(password), hash)
        .await?;
    match user {
        Some(user) if verified.matches => {
            auth.throttle.succeeded(&username).await;
            Ok(web::Json(
                auth.sessions.start(&user.sub, &user.roles).await?,
            ))
        }
        _ => {
            auth.throttle.failed(&username, client).await;
            Err(Problem::unauthorized(
                "the username or password is not correct",
            ))
        }
    }
}

#[post("/api/auth/refresh")]
#[registered(owner = "identity", lifecycle = production)]
#[public]
#[limit("60/minute", key = ip, body = "4KiB")]
async fn refresh(
    body: web::Json<RefreshToken>,
    auth: web::Data<Auth>,
) -> Result<web::Json<TokenPair>, Problem> {
    let rotated = auth.sessions.refresh(&body.refresh_token).await?;
    // Roles are read again, so a change takes effect at the next refresh.
    let Some(user) = auth.user(|(_, user)| user.sub == rotated.sub) else {
        auth.sessions.revoke(&body.refresh_token).await?;
        return Err(Problem::unauthorized("the refresh token is not valid"));
    };
    Ok(web::Json(auth.sessions.pair(rotated, &user.roles)?))
}

#[post("/api/auth/logout")]
#[registered(owner = "identity", lifecycle = production)]
#[authenticated]
#[limit(body = "4KiB")]
async fn logout(
    me: Principal,
    body: web::Json<RefreshToken>,
    auth: web::Data<Auth>,
) -> Result<HttpResponse, Problem> {
    auth.sessions.end(&me, &body.refresh_token).await?;
    Ok(HttpResponse::NoContent().finish())
}

fn app(auth: web::Data<Auth>) -> SecureApp {
    SecureApp::new(auth.security.clone())
        .app_data(auth)
        .service(register)
        .service(login)
        .service(refresh)
        .service(logout)
}

#[actix_web::main]
async fn main() -> std::io::Result<()> {
    tracing_subscriber::fmt().init();
    let security = SecurityConfig::from_env().map_err(std::io::Error::other)?;
    let auth = web::Data::new(Auth::new(security).map_err(std::io::Error::other)?);
    HttpServer::new(move || app(auth.clone()).into_app())
        .bind(("127.0.0.1", 8080))?
        .run()
        .await
}

#[cfg(test)]
mod tests {
    use actix_web::test::{TestRequest, call_service, init_service, read_body_json};
    use serde_json::json;

    use super::*;

    #[actix_web::test]
    async fn register_login_refresh_and_logout() {
        let security = SecurityConfig::builder(Mode::Dev)
            .generated_key()
            .build()
            .expect("config");
        let auth = web::Data::new(Auth::new(security).expect("argon2 parameters"));
        let app = init_service(app(auth).into_app()).await;
        let post = |uri: &str, body: serde_json::Value| TestRequest::post().uri(uri).set_json(body);
        let ada = json!({ "username": "ada", "password": "correct horse battery staple" });

        let registered = call_service(&app, post("/api/auth/register", ada.clone()).to_request());
        assert_eq!(registered.await.status(), StatusCode::CREATED);
        let wrong = json!({ "username": "ada", "password": "not her password at all" });
        let refused = call_service(&app, post("/api/auth/login", wrong).to_request()).await;
        assert_eq!(refused.status(), StatusCode::UNAUTHORIZED);
        let signed_in = call_service(&app, post("/api/auth/login", ada).to_request()).await;
        assert_eq!(signed_in.status(), StatusCode::OK);
        let first: serde_json::Value = read_body_json(signed_in).await;

        let spent = json!({ "refresh_token": first["refresh_token"] });
        let refreshed = call_service(&app, post("/api/auth/refresh", spent).to_request()).await;
        assert_eq!(refreshed.status(), StatusCode::OK);
        let pair: serde_json::Value = read_body_json(refreshed).await;

        let bearer = format!(
            "Bearer {}",
            pair["access_token"].as_str().unwrap_or_default()
        );
        let sign_out = || {
            let body = json!({ "refresh_token": pair["refresh_token"] });
            post("/api/auth/logout", body).insert_header(("authorization", bearer.clone()))
        };
        let ended = call_service(&app, sign_out().to_request()).await;
        assert_eq!(ended.status(), StatusCode::NO_CONTENT);
        // The access token is denied and the session's refresh token is dead.
        let again = call_service(&app, sign_out().to_request()).await;
        assert_eq!(again.status(), StatusCode::UNAUTHORIZED);
        let dead = json!({ "refresh_token": pair["refresh_token"] });
        let refused = call_service(&app, post("/api/auth/refresh", dead).to_request()).await;
        assert_eq!(refused.status(), StatusCode::UNAUTHORIZED);
    }
}
