//! A small API built only with secure-api: the reference to copy from.
//!
//! `cargo run -p example-app` serves it on `127.0.0.1:8080` in dev mode with
//! SQLite; see the README for the routes and the environment it reads.

pub mod auth;
pub mod routes;
pub mod settings;
pub mod store;

use std::net::TcpListener;
use std::path::Path;
use std::sync::Arc;

use actix_web::dev::Server;
use actix_web::{HttpServer, web};
use secure_api_runtime::openapi;
use secure_api_runtime::outbound::SafeClient;
use secure_api_runtime::page::PageConfig;
use secure_api_runtime::policy::Quota;
use secure_api_runtime::webhook::WebhookKeys;
use secure_api_runtime::{RoleHierarchy, SecureApp, SecurityConfig};

use crate::auth::Auth;
use crate::store::Store;

/// The outbound client and the webhook keys, one per process (the keys'
/// replay cache and the client's circuit breakers are shared by every
/// worker).
#[derive(Clone, Debug)]
pub struct Integrations {
    /// The client `/api/fetch-metadata` calls out with.
    pub fetch: SafeClient,
    /// The keys of `/api/webhooks/payment`; without them every delivery is
    /// refused.
    pub payment_webhook: Option<WebhookKeys>,
}

impl Integrations {
    /// `https` calls to `allowed_hosts` only, with the default rules, and
    /// the payment webhook's keys.
    pub fn new(
        allowed_hosts: &[String],
        payment_webhook: Option<WebhookKeys>,
    ) -> Result<Self, String> {
        let fetch = SafeClient::builder()
            .allow_hosts(allowed_hosts)
            .build()
            .map_err(|e| format!("FETCH_ALLOWED_HOSTS: {e}"))?;
        Ok(Self {
            fetch,
            payment_webhook,
        })
    }
}

/// The application with every route mounted.
pub fn app(
    security: SecurityConfig,
    store: Store,
    auth: web::Data<Auth>,
    integrations: &Integrations,
) -> SecureApp {
    let mut app = SecureApp::new(security);
    if let Some(keys) = &integrations.payment_webhook {
        app = app.webhook("PAYMENT_WEBHOOK_SECRET", keys.clone());
    }
    let app = app
        .role_hierarchy(RoleHierarchy::new().role("admin", ["user"]))
        .default_limit(&[Quota::per_minute(200)])
        .app_data(PageConfig {
            default_limit: 20,
            max_limit: routes::MAX_SEARCH_LIMIT,
        })
        .app_data(web::Data::new(store))
        .app_data(auth)
        .app_data(web::Data::new(integrations.fetch.clone()));
    let app = mount_routes(app);
    let spec = routes::OpenApiJson(openapi::to_json(&openapi_document(&app)));
    app.app_data(web::Data::new(spec))
}

/// The OpenAPI 3.1 document of `app`'s routes, with a security scheme for
/// each OpenID issuer configured.
pub fn openapi_document(app: &SecureApp) -> utoipa::openapi::OpenApi {
    app.openapi("secure-api example", env!("CARGO_PKG_VERSION"))
}

/// The example's OpenAPI document as served at `/openapi.json` and
/// committed in `example-app/openapi.json`.
pub fn openapi_json(security: SecurityConfig) -> String {
    openapi::to_json(&openapi_document(&mount_routes(SecureApp::new(security))))
}

/// The roles the example's routes may ask for: a route asking for another
/// stops the app from being built.
pub const ROLES: &[&str] = &["admin", "user"];

/// Mounts every route of the example on `app`: what `example-app routes`
/// lists and what the server serves.
pub fn mount_routes(app: SecureApp) -> SecureApp {
    let app = app
        .roles(ROLES)
        .service(routes::health)
        .service(routes::openapi)
        .service(routes::get_user)
        .service(routes::get_user_v1)
        .service(routes::update_me)
        .service(routes::search)
        .service(routes::orders::create_order)
        .service(routes::orders::validate_order)
        .service(routes::orders::execute_order)
        .service(routes::orders::orders_report);
    let app = if app.security().serves_docs() {
        app.service(routes::docs).service(routes::docs_asset)
    } else {
        app
    };
    routes::integrations::mount(routes::admin::mount(routes::auth::mount(app)))
}

pub use auth::ensure_admin;

/// Starts serving on `listener`, over TLS when `tls` is given. Slow
/// clients are cut off on every request of a connection
/// ([`secure_api_runtime::server::harden`]): a request head must arrive
/// within 5 s (a later one within 5 s of keep-alive plus 5 s), a body at 240
/// bytes/s or more after 5 s.
pub fn serve(
    security: SecurityConfig,
    store: Store,
    auth: Auth,
    integrations: Integrations,
    listener: TcpListener,
    tls: Option<rustls::ServerConfig>,
) -> std::io::Result<Server> {
    let auth = web::Data::new(auth);
    let server = secure_api_runtime::server::harden(HttpServer::new(move || {
        app(security.clone(), store.clone(), auth.clone(), &integrations).into_app()
    }));
    let server = match tls {
        Some(config) => server.listen_rustls_0_23(listener, config)?,
        None => server.listen(listener)?,
    };
    Ok(server.run())
}

/// A TLS server configuration from PEM files: the certificate chain at
/// `cert` and the private key at `key`; `ring` provides the cryptography.
pub fn tls_config(cert: &Path, key: &Path) -> Result<rustls::ServerConfig, String> {
    use rustls::pki_types::pem::PemObject as _;
    use rustls::pki_types::{CertificateDer, PrivateKeyDer};

    let chain = CertificateDer::pem_file_iter(cert)
        .and_then(|certs| certs.collect::<Result<Vec<_>, _>>())
        .map_err(|e| format!("TLS_CERT {}: {e}", cert.display()))?;
    if chain.is_empty() {
        return Err(format!("TLS_CERT {}: no certificate found", cert.display()));
    }
    let key =
        PrivateKeyDer::from_pem_file(key).map_err(|e| format!("TLS_KEY {}: {e}", key.display()))?;
    rustls::ServerConfig::builder_with_provider(Arc::new(rustls::crypto::ring::default_provider()))
        .with_safe_default_protocol_versions()
        .map_err(|e| format!("TLS: {e}"))?
        .with_no_client_auth()
        .with_single_cert(chain, key)
        .map_err(|e| format!("TLS_CERT/TLS_KEY: {e}"))
}
