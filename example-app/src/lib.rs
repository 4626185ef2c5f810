//! A small API built only with secure-api: the reference to copy from.
//!
//! `cargo run -p example-app` serves it on `127.0.0.1:8080` in dev mode with
//! SQLite; see the README for the routes and the environment it reads.

pub mod password;
pub mod routes;
pub mod settings;
pub mod store;

use std::net::TcpListener;
use std::time::Duration;

use actix_web::dev::Server;
use actix_web::{HttpServer, web};
use secure_api_runtime::page::PageConfig;
use secure_api_runtime::policy::Quota;
use secure_api_runtime::{RoleHierarchy, SecureApp, SecurityConfig};

use crate::store::{Store, StoreError};

/// The application with every route mounted.
pub fn app(security: SecurityConfig, store: Store) -> SecureApp {
    let app = SecureApp::new(security)
        .role_hierarchy(RoleHierarchy::new().role("admin", ["user"]))
        .default_limit(&[Quota::per_minute(200)])
        .app_data(PageConfig {
            default_limit: 20,
            max_limit: routes::MAX_SEARCH_LIMIT,
        })
        .app_data(web::Data::new(store))
        .service(routes::health)
        .service(routes::get_user)
        .service(routes::update_me)
        .service(routes::search)
        .service(routes::orders::create_order)
        .service(routes::orders::validate_order)
        .service(routes::orders::execute_order);
    routes::admin::mount(app)
}

/// Creates the `admin` user with role `admin` if it does not exist yet.
pub async fn ensure_admin(store: &Store, password: String) -> Result<(), String> {
    if store
        .user_by_name("admin")
        .await
        .map_err(|e| e.to_string())?
        .is_some()
    {
        return Ok(());
    }
    password::check_length(&password).map_err(|rule| format!("EXAMPLE_ADMIN_PASSWORD: {rule}"))?;
    let hash = password::hash(password).await.map_err(|p| p.to_string())?;
    match store
        .create_user("admin", "Administrator", &hash, &["admin".to_owned()])
        .await
    {
        Ok(_) | Err(StoreError::UsernameTaken) => Ok(()),
        Err(e) => Err(e.to_string()),
    }
}

/// How long a client may take to send a request's head.
pub const REQUEST_HEAD_TIMEOUT: Duration = Duration::from_secs(5);

/// Starts serving on `listener`. Slow clients are cut off: the request head
/// must arrive within [`REQUEST_HEAD_TIMEOUT`], idle keep-alive connections
/// close after 30 s.
pub fn serve(
    security: SecurityConfig,
    store: Store,
    listener: TcpListener,
) -> std::io::Result<Server> {
    let server = HttpServer::new(move || app(security.clone(), store.clone()).into_app())
        .client_request_timeout(REQUEST_HEAD_TIMEOUT)
        .client_disconnect_timeout(Duration::from_secs(1))
        .keep_alive(Duration::from_secs(30))
        .listen(listener)?
        .run();
    Ok(server)
}
