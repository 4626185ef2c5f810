//! Test support shared by the end-to-end suites: start the example app on a
//! loopback port and speak HTTP to it.

use std::net::TcpListener;
use std::path::PathBuf;
use std::time::{Duration, Instant};

use actix_web::dev::ServerHandle;
use example_app::Integrations;
use example_app::auth::{Auth, AuthOptions};
use example_app::store::Store;
use secure_api_runtime::auth::JwtKey;
use secure_api_runtime::outbound::SafeClient;
use secure_api_runtime::shared::Shared;
use secure_api_runtime::webhook::WebhookKeys;
use secure_api_runtime::{Mode, SecurityConfig};

/// The HS256 secret the test app signs with.
pub const TEST_SECRET: &[u8] = b"end-to-end test secret, 32 bytes or more";

/// The password of the `admin` user the test app creates.
pub const ADMIN_PASSWORD: &str = "plum tree at dusk, for tests";

/// The Standard Webhooks secret of the test app's payment webhook.
pub const TEST_WEBHOOK_SECRET: &str = "whsec_dGVzdCB3ZWJob29rIHNlY3JldCwgbm90IGZvciBwcm9kdWN0aW9u";

/// The test app's integrations: an outbound client that may call nothing,
/// or `fetch` when given, and the payment webhook keyed with
/// [`TEST_WEBHOOK_SECRET`].
/// A problem body without its `request_id`: what two answers that must be
/// indistinguishable share (each names its own request).
pub fn without_request_id(mut body: serde_json::Value) -> serde_json::Value {
    if let Some(members) = body.as_object_mut() {
        members.remove("request_id");
    }
    body
}

pub fn integrations(fetch: Option<SafeClient>) -> Integrations {
    let keys = WebhookKeys::standard(TEST_WEBHOOK_SECRET)
        .unwrap_or_else(|e| panic!("test webhook secret: {e}"));
    let mut integrations =
        Integrations::new(&[], Some(keys)).unwrap_or_else(|e| panic!("integrations: {e}"));
    if let Some(fetch) = fetch {
        integrations.fetch = fetch;
    }
    integrations
}

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
    /// The SQLite file to remove at the end (empty for PostgreSQL).
    database: PathBuf,
    url_of_database: String,
}

impl TestApp {
    /// Starts the example app on a free loopback port with a fresh SQLite
    /// database and waits until it answers `/health`.
    pub async fn start() -> Self {
        Self::start_with(AuthOptions::default()).await
    }

    /// Like [`TestApp::start`], with `fetch` as the outbound client.
    pub async fn start_with_fetch(fetch: SafeClient) -> Self {
        Self::start_full(AuthOptions::default(), integrations(Some(fetch))).await
    }

    /// Like [`TestApp::start`], with other password settings.
    pub async fn start_with(options: AuthOptions) -> Self {
        Self::start_full(options, integrations(None)).await
    }

    async fn start_full(options: AuthOptions, integrations: Integrations) -> Self {
        let database = std::env::temp_dir().join(format!(
            "secure-api-e2e-{}-{}.db",
            std::process::id(),
            unique()
        ));
        let url = format!("sqlite://{}", database.display());
        Self::launch(database, &url, options, integrations, None).await
    }

    async fn launch(
        database: PathBuf,
        url: &str,
        options: AuthOptions,
        integrations: Integrations,
        shared: Option<Shared>,
    ) -> Self {
        let mut security =
            SecurityConfig::builder(Mode::Dev).key(JwtKey::hs256(TEST_SECRET.to_vec()));
        if let Some(shared) = shared {
            security = security.shared(shared);
        }
        let security = security
            .build()
            .unwrap_or_else(|e| panic!("test configuration: {e}"));
        let store = Store::open(url)
            .await
            .unwrap_or_else(|e| panic!("test database: {e}"));
        let auth = Auth::new(security.clone(), &store, options)
            .await
            .unwrap_or_else(|e| panic!("auth services: {e}"));
        example_app::ensure_admin(&store, &auth, ADMIN_PASSWORD.to_owned())
            .await
            .unwrap_or_else(|e| panic!("admin user: {e}"));
        let listener =
            TcpListener::bind("127.0.0.1:0").unwrap_or_else(|e| panic!("loopback port: {e}"));
        let base = format!(
            "http://{}",
            listener.local_addr().unwrap_or_else(|e| panic!("{e}"))
        );
        let server = example_app::serve(
            security.clone(),
            store.clone(),
            auth,
            integrations,
            listener,
            None,
        )
        .unwrap_or_else(|e| panic!("serve: {e}"));
        let handle = server.handle();
        tokio::spawn(server);
        let app = Self {
            base,
            security,
            store,
            handle,
            database,
            url_of_database: url.to_owned(),
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

    /// Like [`TestApp::start`], on a new database of the PostgreSQL server
    /// named by `SECURE_API_TEST_POSTGRES_URL` (which `scripts/test.sh`
    /// starts).
    pub async fn start_postgres() -> Self {
        let url = postgres_database().await;
        Self::launch(
            PathBuf::new(),
            &url,
            AuthOptions::default(),
            integrations(None),
            None,
        )
        .await
    }

    /// An instance of a fleet: the example app on the database at
    /// `database_url`, sharing limits, revocations and webhook replays
    /// through `shared`. Several such apps on one database and one Redis
    /// behave as instances behind a load balancer.
    pub async fn start_instance(database_url: &str, shared: Shared) -> Self {
        Self::launch(
            PathBuf::new(),
            database_url,
            AuthOptions::default(),
            integrations(None),
            Some(shared),
        )
        .await
    }

    /// Sends `method path` with an optional bearer token and JSON body; the
    /// status and the JSON answer (`Null` when there is none). Every refusal
    /// must be `application/problem+json`.
    pub async fn send(
        &self,
        client: &reqwest::Client,
        method: reqwest::Method,
        path: &str,
        token: Option<&str>,
        body: Option<serde_json::Value>,
    ) -> (reqwest::StatusCode, serde_json::Value) {
        let mut request = client.request(method, self.url(path));
        if let Some(token) = token {
            request = request.bearer_auth(token);
        }
        if let Some(body) = body {
            request = request.json(&body);
        }
        let response = request
            .send()
            .await
            .unwrap_or_else(|e| panic!("{path}: {e}"));
        let status = response.status();
        let content_type = response
            .headers()
            .get("content-type")
            .and_then(|v| v.to_str().ok())
            .unwrap_or("")
            .to_owned();
        let body: serde_json::Value = response.json().await.unwrap_or(serde_json::Value::Null);
        if !status.is_success() {
            assert_eq!(
                content_type, "application/problem+json",
                "{path}: {status} {body}"
            );
        }
        (status, body)
    }

    /// Stops the server and starts it again on the same database with a new
    /// process state (limits, caches, revocations in memory), as a restart
    /// of the binary would.
    pub async fn restart(self) -> Self {
        self.handle.stop(true).await;
        Self::launch(
            self.database,
            &self.url_of_database,
            AuthOptions::default(),
            integrations(None),
            None,
        )
        .await
    }

    /// Stops the server and removes its database.
    pub async fn stop(self) {
        self.handle.stop(true).await;
        if self.database.as_os_str().is_empty() {
            return;
        }
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

/// Defines a test per database for each named `async fn case(app: TestApp)`:
/// `sqlite::case` on a fresh SQLite file and `postgres::case` on a fresh
/// PostgreSQL database. The same application code runs on both.
#[macro_export]
macro_rules! on_both_databases {
    ($($case:ident),* $(,)?) => {
        mod sqlite {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $case() {
                    super::$case($crate::TestApp::start().await).await;
                }
            )*
        }
        mod postgres {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $case() {
                    super::$case($crate::TestApp::start_postgres().await).await;
                }
            )*
        }
    };
}

/// A new, empty database on the PostgreSQL server named by
/// `SECURE_API_TEST_POSTGRES_URL` (which `scripts/test.sh` starts): its URL.
pub async fn postgres_database() -> String {
    let admin = std::env::var("SECURE_API_TEST_POSTGRES_URL").unwrap_or_else(|_| {
        panic!(
            "SECURE_API_TEST_POSTGRES_URL is not set: run the tests with scripts/test.sh, \
             which starts PostgreSQL"
        )
    });
    let name = format!("secure_api_e2e_{}_{}", std::process::id(), unique());
    let pool = secure_api_runtime::auth::connect_any(&admin, 1)
        .await
        .unwrap_or_else(|e| panic!("PostgreSQL at {admin}: {e}"));
    sqlx::query(&format!("CREATE DATABASE {name}"))
        .execute(&pool)
        .await
        .unwrap_or_else(|e| panic!("CREATE DATABASE {name}: {e}"));
    pool.close().await;
    match admin.rsplit_once('/') {
        Some((server, _)) => format!("{server}/{name}"),
        None => panic!("SECURE_API_TEST_POSTGRES_URL has no database name: {admin}"),
    }
}

/// A Redis server of a test's own, on a free loopback port, stopped when
/// dropped (or earlier, to test what happens when Redis goes away).
#[derive(Debug)]
pub struct RedisServer {
    child: Option<std::process::Child>,
    port: u16,
}

impl RedisServer {
    /// Starts `redis-server` (`SECURE_API_TEST_REDIS_SERVER`, which
    /// `scripts/test.sh` provides) without persistence and waits until it
    /// accepts connections.
    pub fn start() -> Self {
        let binary = std::env::var("SECURE_API_TEST_REDIS_SERVER").unwrap_or_else(|_| {
            panic!(
                "SECURE_API_TEST_REDIS_SERVER is not set: run the tests with scripts/test.sh, \
                 which installs redis-server"
            )
        });
        let port = TcpListener::bind("127.0.0.1:0")
            .and_then(|l| l.local_addr())
            .map(|a| a.port())
            .unwrap_or_else(|e| panic!("free port: {e}"));
        let child = std::process::Command::new(&binary)
            .args([
                "--port",
                &port.to_string(),
                "--bind",
                "127.0.0.1",
                "--save",
                "",
                "--appendonly",
                "no",
            ])
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .spawn()
            .unwrap_or_else(|e| panic!("{binary}: {e}"));
        let deadline = Instant::now() + Duration::from_secs(10);
        while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
            assert!(
                Instant::now() < deadline,
                "redis-server did not start in 10 s"
            );
            std::thread::sleep(Duration::from_millis(20));
        }
        Self {
            child: Some(child),
            port,
        }
    }

    /// `redis://127.0.0.1:PORT/`
    pub fn url(&self) -> String {
        format!("redis://127.0.0.1:{}/", self.port)
    }

    /// Stops the server now.
    pub fn stop(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

impl Drop for RedisServer {
    fn drop(&mut self) {
        self.stop();
    }
}
