//! Test support shared by the end-to-end suites: start the example app on a
//! loopback port and speak HTTP to it.

use std::net::TcpListener;
use std::path::PathBuf;
use std::time::{Duration, Instant};

use actix_web::dev::ServerHandle;
use example_app::store::Store;
use secure_api_runtime::auth::JwtKey;
use secure_api_runtime::{Mode, SecurityConfig};

/// The HS256 secret the test app signs with.
pub const TEST_SECRET: &[u8] = b"end-to-end test secret, 32 bytes or more";

/// The password of the `admin` user the test app creates.
pub const ADMIN_PASSWORD: &str = "admin password for tests";

/// A running example app.
#[derive(Debug)]
pub struct TestApp {
    /// `http://127.0.0.1:PORT`
    pub base: String,
    /// The security configuration the app runs with.
    pub security: SecurityConfig,
    /// The app's store, for setting up and checking data behind the API.
    pub store: Store,
    handle: ServerHandle,
    database: PathBuf,
}

impl TestApp {
    /// Starts the example app on a free loopback port with a fresh SQLite
    /// database and waits until it answers `/health`.
    pub async fn start() -> Self {
        let security = SecurityConfig::builder(Mode::Dev)
            .key(JwtKey::hs256(TEST_SECRET.to_vec()))
            .build()
            .unwrap_or_else(|e| panic!("test configuration: {e}"));
        let database = std::env::temp_dir().join(format!(
            "secure-api-e2e-{}-{}.db",
            std::process::id(),
            unique()
        ));
        let store = Store::open(&format!("sqlite://{}", database.display()))
            .await
            .unwrap_or_else(|e| panic!("test database: {e}"));
        example_app::ensure_admin(&store, ADMIN_PASSWORD.to_owned())
            .await
            .unwrap_or_else(|e| panic!("admin user: {e}"));
        let listener =
            TcpListener::bind("127.0.0.1:0").unwrap_or_else(|e| panic!("loopback port: {e}"));
        let base = format!(
            "http://{}",
            listener.local_addr().unwrap_or_else(|e| panic!("{e}"))
        );
        let server = example_app::serve(security.clone(), store.clone(), listener)
            .unwrap_or_else(|e| panic!("serve: {e}"));
        let handle = server.handle();
        tokio::spawn(server);
        let app = Self {
            base,
            security,
            store,
            handle,
            database,
        };
        app.wait_ready().await;
        app
    }

    async fn wait_ready(&self) {
        let deadline = Instant::now() + Duration::from_secs(20);
        let client = reqwest::Client::new();
        while Instant::now() < deadline {
            if let Ok(response) = client.get(self.url("/health")).send().await
                && response.status().is_success()
            {
                return;
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        panic!("the example app did not answer /health within 20 s");
    }

    /// The absolute URL of `path`.
    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base)
    }

    /// A valid access token for `sub` with `roles`.
    pub fn token(&self, sub: &str, roles: &[&str]) -> String {
        let roles: Vec<String> = roles.iter().map(|r| (*r).to_owned()).collect();
        self.security
            .issue_access_token(sub, &roles)
            .map(|t| t.token)
            .unwrap_or_else(|e| panic!("token: {e}"))
    }

    /// Stops the server and removes its database.
    pub async fn stop(self) {
        self.handle.stop(true).await;
        for suffix in ["", "-wal", "-shm"] {
            let _ = std::fs::remove_file(format!("{}{suffix}", self.database.display()));
        }
    }
}

fn unique() -> u128 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_nanos())
}
