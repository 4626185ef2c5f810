//! Access tokens from OpenID providers, through actix: a real provider
//! (`oidc-provider` on Node.js, started per test from
//! `scripts/oidc/provider.js`) for discovery, every algorithm, scopes,
//! roles and key rotation; a stand-in key server for what a real provider
//! will not do on purpose (fail, answer garbage, publish odd keys, count
//! the fetches a flood of unknown `kid`s causes).

use std::io::{BufRead as _, BufReader, Read as _, Write as _};
use std::net::TcpListener;
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use actix_web::http::StatusCode;
use actix_web::http::header::{AUTHORIZATION, RETRY_AFTER, WWW_AUTHENTICATE};
use actix_web::test::{TestRequest, call_service, init_service, read_body};
use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use jsonwebtoken::{Algorithm, EncodingKey, Header};
use secure_api_runtime::auth::{JwtKey, TokenError};
use secure_api_runtime::prelude::*;
use serde_json::{Value, json};

const AUDIENCE: &str = "https://orders.example.test";
const OWN_SECRET: &[u8] = b"oidc tests' own secret, 32 bytes or more";

#[get("/api/reports/orders")]
#[registered(owner = "tests", lifecycle = production)]
#[scopes("reports:read")]
async fn report(me: Principal) -> String {
    format!(
        "{} {} {}",
        me.sub,
        me.issuer.unwrap_or_default(),
        me.scopes.join(" ")
    )
}

#[get("/api/reports/audit")]
#[registered(owner = "tests", lifecycle = production)]
#[roles(auditor)]
#[scopes("reports:read")]
async fn audit(me: Principal) -> String {
    me.roles.join(" ")
}

#[get("/api/me")]
#[registered(owner = "tests", lifecycle = production)]
#[authenticated]
async fn whoami(me: Principal) -> String {
    me.sub
}

// ---------------------------------------------------------------- provider

/// The real provider, stopped (its standard input closed, then killed)
/// when dropped.
struct Provider {
    child: Child,
    issuer: String,
    kids: Value,
}

impl Provider {
    fn start() -> Self {
        let script = std::env::var("SECURE_API_TEST_OIDC_PROVIDER").unwrap_or_else(|_| {
            format!("{}/../scripts/oidc/provider.js", env!("CARGO_MANIFEST_DIR"))
        });
        let modules = std::path::Path::new(&script).with_file_name("node_modules");
        assert!(
            modules.is_dir(),
            "{} is missing: run the tests with scripts/test.sh, which installs the OpenID provider (npm ci in scripts/oidc)",
            modules.display()
        );
        let mut child = Command::new("node")
            .arg(&script)
            .arg(AUDIENCE)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .unwrap_or_else(|e| panic!("node {script}: {e}"));
        let stdout = child.stdout.take().expect("piped stdout");
        let mut line = String::new();
        BufReader::new(stdout)
            .read_line(&mut line)
            .expect("the provider's first line");
        let ready: Value = serde_json::from_str(&line)
            .unwrap_or_else(|e| panic!("the provider said `{line}`: {e}"));
        Self {
            child,
            issuer: ready["issuer"].as_str().expect("issuer").to_owned(),
            kids: ready["kids"].clone(),
        }
    }

    /// A client-credentials access token of `client`, asking for `scope`.
    async fn token(&self, client: &str, scope: &str) -> String {
        let answer: Value = reqwest::Client::new()
            .post(format!("{}/token", self.issuer))
            .basic_auth(client, Some(format!("secret-{client}")))
            .form(&[("grant_type", "client_credentials"), ("scope", scope)])
            .send()
            .await
            .expect("token request")
            .json()
            .await
            .expect("token answer");
        answer["access_token"]
            .as_str()
            .unwrap_or_else(|| panic!("no access token: {answer}"))
            .to_owned()
    }

    /// Publishes new keys, which sign from now on; answers the new kids.
    async fn rotate(&mut self) -> Value {
        let answer: Value = reqwest::Client::new()
            .post(format!("{}/__test/rotate", self.issuer))
            .send()
            .await
            .expect("rotate")
            .json()
            .await
            .expect("rotate answer");
        self.kids = answer["kids"].clone();
        self.kids.clone()
    }
}

impl Drop for Provider {
    fn drop(&mut self) {
        drop(self.child.stdin.take());
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn kid_of(token: &str) -> String {
    jsonwebtoken::decode_header(token)
        .ok()
        .and_then(|h| h.kid)
        .expect("a kid")
}

fn config(issuer: &str, tune: impl FnOnce(Builder) -> Builder) -> SecurityConfig {
    tune(
        SecurityConfig::builder(Mode::Dev)
            .key(JwtKey::hs256(OWN_SECRET.to_vec()))
            .oidc_issuer(issuer)
            .oidc_audience(AUDIENCE)
            .oidc_roles_claim("realm_access.roles"),
    )
    .build()
    .unwrap_or_else(|e| panic!("{e}"))
}

type Builder = secure_api_runtime::config::SecurityConfigBuilder;

fn app(security: SecurityConfig) -> SecureApp {
    SecureApp::new(security)
        .service(report)
        .service(audit)
        .service(whoami)
}

async fn get(
    service: &impl actix_web::dev::Service<
        actix_http::Request,
        Response = actix_web::dev::ServiceResponse<impl actix_web::body::MessageBody>,
        Error = actix_web::Error,
    >,
    path: &str,
    token: &str,
) -> (StatusCode, actix_web::http::header::HeaderMap, String) {
    let response = call_service(
        service,
        TestRequest::get()
            .uri(path)
            .insert_header((AUTHORIZATION, format!("Bearer {token}")))
            .to_request(),
    )
    .await;
    let status = response.status();
    let headers = response.headers().clone();
    let body = String::from_utf8_lossy(&read_body(response).await).into_owned();
    (status, headers, body)
}

#[actix_web::test]
async fn a_real_providers_tokens_are_accepted_for_every_algorithm_beside_the_apps_own() {
    let provider = Provider::start();
    let security = config(&provider.issuer, |b| b);
    let own = security
        .issue_access_token("7", &[])
        .expect("own token")
        .token;
    let service = init_service(app(security.clone()).into_app()).await;
    for client in [
        "reports",
        "reports-rs256",
        "reports-ps256",
        "reports-es384",
        "reports-eddsa",
    ] {
        let token = provider.token(client, "reports:read").await;
        // The first request waits for the keys the start began to fetch.
        let (status, _, body) = get(&service, "/api/reports/orders", &token).await;
        assert_eq!(status, StatusCode::OK, "{client}: {body}");
        assert_eq!(
            body,
            format!("{client} {} reports:read", provider.issuer),
            "{client}"
        );
        let principal = security.verify_access_token(&token).expect("verified");
        assert_eq!(principal.issuer.as_deref(), Some(provider.issuer.as_str()));
    }
    // Roles from Keycloak's `realm_access.roles`, through `#[roles]`.
    let reports = provider.token("reports", "reports:read").await;
    let (status, _, roles) = get(&service, "/api/reports/audit", &reports).await;
    assert_eq!((status, roles.as_str()), (StatusCode::OK, "auditor"));
    let other = provider.token("reports-rs256", "reports:read").await;
    let (status, _, _) = get(&service, "/api/reports/audit", &other).await;
    assert_eq!(status, StatusCode::FORBIDDEN, "no auditor role");
    // The application's own token keeps working beside the provider's.
    let (status, _, body) = get(&service, "/api/me", &own).await;
    assert_eq!((status, body.as_str()), (StatusCode::OK, "7"));
}

#[actix_web::test]
async fn a_token_without_the_scope_is_refused_with_insufficient_scope() {
    let provider = Provider::start();
    let security = config(&provider.issuer, |b| b);
    let service = init_service(app(security.clone()).into_app()).await;
    let token = provider.token("basic", "orders:read").await;
    let (status, headers, body) = get(&service, "/api/reports/orders", &token).await;
    assert_eq!(status, StatusCode::FORBIDDEN, "{body}");
    assert_eq!(
        headers.get(WWW_AUTHENTICATE).and_then(|v| v.to_str().ok()),
        Some("Bearer error=\"insufficient_scope\", scope=\"reports:read\"")
    );
    assert!(body.contains("scope"), "{body}");
    // Authenticated routes without a scope rule still take it.
    let (status, _, body) = get(&service, "/api/me", &token).await;
    assert_eq!((status, body.as_str()), (StatusCode::OK, "basic"));
    // The app's own tokens carry no scope.
    let own = security
        .issue_access_token("7", &[])
        .expect("own token")
        .token;
    let (status, _, _) = get(&service, "/api/reports/orders", &own).await;
    assert_eq!(status, StatusCode::FORBIDDEN);
}

#[actix_web::test]
async fn the_first_token_signed_with_a_rotated_key_is_served() {
    let mut provider = Provider::start();
    // A refresh far away: only the unknown kid can cause the fetch.
    let service = init_service(
        app(config(&provider.issuer, |b| {
            b.oidc_refresh(Duration::from_secs(3600))
                .oidc_refetch_cooldown(Duration::from_secs(1))
        }))
        .into_app(),
    )
    .await;
    let before = provider.token("reports", "reports:read").await;
    let (status, _, _) = get(&service, "/api/reports/orders", &before).await;
    assert_eq!(status, StatusCode::OK);
    let kids = provider.rotate().await;
    let after = provider.token("reports", "reports:read").await;
    assert_eq!(Some(kid_of(&after).as_str()), kids["ES256"].as_str());
    assert_ne!(kid_of(&before), kid_of(&after), "the key rotated");
    tokio::time::sleep(Duration::from_millis(1100)).await;
    let (status, _, body) = get(&service, "/api/reports/orders", &after).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    // The old key is still published, so its tokens still pass.
    let (status, _, _) = get(&service, "/api/reports/orders", &before).await;
    assert_eq!(status, StatusCode::OK);
}

#[actix_web::test]
async fn tokens_for_another_audience_or_issuer_are_refused() {
    let provider = Provider::start();
    let token = provider.token("reports", "reports:read").await;
    // This API is not the token's audience.
    let elsewhere = config(&provider.issuer, |b| {
        b.oidc_audience("https://other.example.test")
    });
    let service = init_service(app(elsewhere.clone()).into_app()).await;
    let (status, _, _) = get(&service, "/api/reports/orders", &token).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    assert_eq!(
        elsewhere.verify_access_token(&token).map(|p| p.sub),
        Err(TokenError::WrongIssuerOrAudience)
    );
    // An issuer that is not configured: its tokens go to the app's own keys.
    let (standin, _) = StandIn::start(Answer::Good);
    let unconfigured = config(&standin.issuer(), |b| b);
    assert_eq!(
        unconfigured.verify_access_token(&token).map(|p| p.sub),
        Err(TokenError::UnknownKey)
    );
    // RFC 9068 access tokens pass when they are required.
    let strict = config(&provider.issuer, |b| b.oidc_require_at_jwt(true));
    let service = init_service(app(strict).into_app()).await;
    let (status, _, body) = get(&service, "/api/reports/orders", &token).await;
    assert_eq!(status, StatusCode::OK, "{body}");
}

// ---------------------------------------------------------------- stand-in

/// What the stand-in's key set answers.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Answer {
    /// The good key, with odd keys around it.
    Good,
    /// 500.
    Down,
    /// 200 with a body that is not a key set.
    Garbage,
    /// 200 with a key set of another key, padded past the size cap.
    Huge,
    /// No answer for longer than the fetch timeout.
    Hang,
}

/// A key server that serves discovery and a key set holding one ES256 key
/// (kid `standin`) among keys it must ignore, counts the key set's fetches,
/// and fails on demand.
struct StandIn {
    port: u16,
    mode: Arc<Mutex<Answer>>,
    fetches: Arc<AtomicUsize>,
    cache_control: Arc<Mutex<Option<&'static str>>>,
    signing: EncodingKey,
}

impl StandIn {
    fn start(mode: Answer) -> (Self, Arc<AtomicUsize>) {
        let key = rcgen::KeyPair::generate().expect("P-256 key");
        let raw = key.public_key_raw();
        let (x, y) = (
            URL_SAFE_NO_PAD.encode(&raw[1..33]),
            URL_SAFE_NO_PAD.encode(&raw[33..65]),
        );
        let signing = EncodingKey::from_ec_pem(key.serialize_pem().as_bytes()).expect("pem");
        let listener = TcpListener::bind("127.0.0.1:0").expect("bind");
        let port = listener.local_addr().expect("addr").port();
        let issuer = format!("http://127.0.0.1:{port}");
        let mode = Arc::new(Mutex::new(mode));
        let fetches = Arc::new(AtomicUsize::new(0));
        let cache_control = Arc::new(Mutex::new(None::<&'static str>));
        let keys_value = json!({"keys": [
            {"kty": "oct", "k": "c2VjcmV0", "kid": "shared"},
            {"kty": "RSA", "n": "AQAB", "e": "AQAB", "kid": "too-small"},
            {"kty": "EC", "crv": "P-256", "use": "enc", "kid": "encryption", "x": x, "y": y},
            {"kty": "OKP", "crv": "X448", "x": "AAAA", "kid": "unknown-curve"},
            {"kty": "ML-DSA", "kid": "future", "pub": "AAAA"},
            {"kty": "EC", "crv": "P-256", "alg": "ES256", "use": "sig", "kid": "standin", "x": x, "y": y},
        ]});
        let keys = keys_value.to_string();
        let discovery = json!({"issuer": issuer, "jwks_uri": format!("{issuer}/jwks")}).to_string();
        let (thread_mode, thread_fetches, thread_cache) = (
            Arc::clone(&mode),
            Arc::clone(&fetches),
            Arc::clone(&cache_control),
        );
        // A usable set, but of another key: taken, it would refuse the
        // stand-in's tokens, so only the size cap keeps the good keys.
        let mut other = keys_value["keys"][5].clone();
        other["kid"] = "other".into();
        let huge = json!({"keys": [other], "padding": "x".repeat(300 * 1024)}).to_string();
        std::thread::spawn(move || {
            for stream in listener.incoming() {
                let Ok(mut stream) = stream else { continue };
                let (mode, fetches, cache, keys, huge, discovery) = (
                    Arc::clone(&thread_mode),
                    Arc::clone(&thread_fetches),
                    Arc::clone(&thread_cache),
                    keys.clone(),
                    huge.clone(),
                    discovery.clone(),
                );
                std::thread::spawn(move || {
                    let (thread_mode, thread_fetches, thread_cache) = (mode, fetches, cache);
                    let mut head = [0u8; 2048];
                    let read = stream.read(&mut head).unwrap_or(0);
                    let request = String::from_utf8_lossy(&head[..read]).into_owned();
                    let path = request.split_whitespace().nth(1).unwrap_or("/").to_owned();
                    let mode = *thread_mode.lock().expect("mode");
                    let (status, body) = if path == "/.well-known/openid-configuration" {
                        ("200 OK", discovery)
                    } else if path == "/jwks" {
                        thread_fetches.fetch_add(1, Ordering::SeqCst);
                        match mode {
                            Answer::Good => ("200 OK", keys.clone()),
                            Answer::Down => ("500 Internal Server Error", "{}".to_owned()),
                            Answer::Garbage => ("200 OK", "<html>maintenance</html>".to_owned()),
                            Answer::Huge => ("200 OK", huge),
                            Answer::Hang => {
                                std::thread::sleep(Duration::from_secs(6));
                                ("200 OK", keys)
                            }
                        }
                    } else {
                        ("404 Not Found", String::new())
                    };
                    let cache = thread_cache
                        .lock()
                        .expect("cache")
                        .map(|v| format!("cache-control: {v}\r\n"))
                        .unwrap_or_default();
                    let _ = write!(
                        stream,
                        "HTTP/1.1 {status}\r\ncontent-type: application/json\r\n{cache}content-length: {}\r\nconnection: close\r\n\r\n{body}",
                        body.len()
                    );
                });
            }
        });
        let counter = Arc::clone(&fetches);
        (
            Self {
                port,
                mode,
                fetches,
                cache_control,
                signing,
            },
            counter,
        )
    }

    fn issuer(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }

    fn set(&self, mode: Answer) {
        *self.mode.lock().expect("mode") = mode;
    }

    fn fetches(&self) -> usize {
        self.fetches.load(Ordering::SeqCst)
    }

    /// A token signed by the stand-in's key, with `header` and `claims`
    /// over good defaults.
    fn sign(&self, header: impl FnOnce(&mut Header), claims: Value) -> String {
        let mut head = Header::new(Algorithm::ES256);
        head.kid = Some("standin".to_owned());
        head.typ = Some("at+jwt".to_owned());
        header(&mut head);
        let now = now();
        let mut body = json!({
            "iss": self.issuer(), "sub": "svc", "aud": AUDIENCE,
            "exp": now + 300, "iat": now, "scope": "reports:read",
        });
        for (name, value) in claims.as_object().cloned().unwrap_or_default() {
            if value.is_null() {
                body.as_object_mut().map(|b| b.remove(&name));
            } else {
                body[name] = value;
            }
        }
        jsonwebtoken::encode(&head, &body, &self.signing).expect("signed")
    }
}

fn now() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or_default()
}

fn standin_config(standin: &StandIn, cooldown: u64) -> SecurityConfig {
    config(&standin.issuer(), |b| {
        b.oidc_refetch_cooldown(Duration::from_secs(cooldown))
            .oidc_require_at_jwt(true)
    })
}

#[actix_web::test]
async fn odd_keys_in_the_set_are_ignored_and_each_bad_token_is_refused_with_its_reason() {
    let (standin, _) = StandIn::start(Answer::Good);
    let security = standin_config(&standin, 60);
    let service = init_service(app(security.clone()).into_app()).await;
    let good = standin.sign(|_| {}, json!({}));
    let (status, _, body) = get(&service, "/api/reports/orders", &good).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    // Array audiences, `scp` arrays, no `jti` (Entra's tokens carry none).
    let entra = standin.sign(
        |_| {},
        json!({"aud": ["https://graph.example.test", AUDIENCE], "scope": null, "scp": ["reports:read"]}),
    );
    assert_eq!(
        get(&service, "/api/reports/orders", &entra).await.0,
        StatusCode::OK
    );
    let other_key = EncodingKey::from_ec_pem(
        rcgen::KeyPair::generate()
            .expect("key")
            .serialize_pem()
            .as_bytes(),
    )
    .expect("pem");
    let forged = {
        let mut head = Header::new(Algorithm::ES256);
        head.kid = Some("standin".to_owned());
        head.typ = Some("at+jwt".to_owned());
        // A key of the attacker's, offered by URL: never fetched, never used.
        head.jku = Some("https://attacker.example/jwks".to_owned());
        let now = now();
        jsonwebtoken::encode(
            &head,
            &json!({"iss": standin.issuer(), "sub": "svc", "aud": AUDIENCE, "exp": now + 300, "iat": now}),
            &other_key,
        )
        .expect("signed")
    };
    let hs256 = {
        // Key confusion: HS256 "signed" with the public key's bytes.
        let mut head = Header::new(Algorithm::HS256);
        head.kid = Some("standin".to_owned());
        head.typ = Some("at+jwt".to_owned());
        jsonwebtoken::encode(
            &head,
            &json!({"iss": standin.issuer(), "sub": "svc", "aud": AUDIENCE, "exp": now() + 300}),
            &EncodingKey::from_secret(b"standin"),
        )
        .expect("signed")
    };
    let unsigned = {
        let header = URL_SAFE_NO_PAD.encode(br#"{"alg":"none","typ":"at+jwt","kid":"standin"}"#);
        let claims = URL_SAFE_NO_PAD.encode(
            json!({"iss": standin.issuer(), "sub": "svc", "aud": AUDIENCE, "exp": now() + 300})
                .to_string(),
        );
        format!("{header}.{claims}.")
    };
    let cases = [
        (forged, TokenError::BadSignature),
        (hs256, TokenError::AlgorithmNotAllowed),
        (unsigned, TokenError::Malformed),
        (
            standin.sign(|_| {}, json!({"exp": now() - 120})),
            TokenError::Expired,
        ),
        (
            standin.sign(|_| {}, json!({"nbf": now() + 600})),
            TokenError::NotYetValid,
        ),
        (
            standin.sign(|_| {}, json!({"iat": now() + 600})),
            TokenError::NotYetValid,
        ),
        (
            standin.sign(|_| {}, json!({"sub": null})),
            TokenError::BadClaims,
        ),
        (
            standin.sign(|_| {}, json!({"sub": ""})),
            TokenError::BadClaims,
        ),
        (
            standin.sign(|_| {}, json!({"aud": null})),
            TokenError::BadClaims,
        ),
        (
            standin.sign(
                |_| {},
                json!({"roles": "x", "realm_access": {"roles": [1, 2]}}),
            ),
            TokenError::BadClaims,
        ),
        // An ID token: its audience is the client, not this API.
        (
            standin.sign(
                |h| h.typ = Some("JWT".to_owned()),
                json!({"aud": "reports-client", "nonce": "n-0S6_WzA2Mj"}),
            ),
            TokenError::NotAnAccessToken,
        ),
        (
            standin.sign(|_| {}, json!({"aud": "reports-client", "nonce": "n"})),
            TokenError::WrongIssuerOrAudience,
        ),
        (
            standin.sign(|h| h.kid = Some("shared".to_owned()), json!({})),
            TokenError::UnknownKey,
        ),
        (
            standin.sign(|h| h.kid = Some("encryption".to_owned()), json!({})),
            TokenError::UnknownKey,
        ),
    ];
    for (token, reason) in cases {
        let (status, headers, body) = get(&service, "/api/reports/orders", &token).await;
        assert_eq!(status, StatusCode::UNAUTHORIZED, "{reason:?}: {body}");
        assert!(body.contains("bearer access token"), "{body}");
        assert!(headers.contains_key(WWW_AUTHENTICATE));
        assert_eq!(
            security
                .verify_access_token(&token)
                .map_err(|e| e.reason())
                .map(|p| p.sub),
            Err(reason.reason()),
            "{reason:?} ({})",
            reason.reason()
        );
    }
}

#[actix_web::test]
async fn a_provider_down_at_start_answers_503_then_its_keys_load_without_a_restart() {
    let (standin, _) = StandIn::start(Answer::Down);
    let security = standin_config(&standin, 1);
    let service = init_service(app(security).into_app()).await;
    let token = standin.sign(|_| {}, json!({}));
    let (status, headers, body) = get(&service, "/api/reports/orders", &token).await;
    assert_eq!(status, StatusCode::SERVICE_UNAVAILABLE, "{body}");
    assert_eq!(
        headers.get(RETRY_AFTER).and_then(|v| v.to_str().ok()),
        Some("1")
    );
    standin.set(Answer::Good);
    tokio::time::sleep(Duration::from_millis(1100)).await;
    let (status, _, body) = get(&service, "/api/reports/orders", &token).await;
    assert_eq!(status, StatusCode::OK, "{body}");
}

#[actix_web::test]
async fn a_provider_that_fails_later_leaves_the_last_good_keys_in_use() {
    let (standin, _) = StandIn::start(Answer::Good);
    // Refreshed every second, as the answer's Cache-Control asks.
    *standin.cache_control.lock().expect("cache") = Some("public, max-age=1");
    let security = config(&standin.issuer(), |b| {
        b.oidc_refetch_cooldown(Duration::from_secs(1))
    });
    let service = init_service(app(security).into_app()).await;
    let token = standin.sign(|_| {}, json!({}));
    assert_eq!(
        get(&service, "/api/reports/orders", &token).await.0,
        StatusCode::OK
    );
    for mode in [Answer::Down, Answer::Garbage, Answer::Huge, Answer::Hang] {
        standin.set(mode);
        let before = standin.fetches();
        // A hanging fetch ends at its timeout (4 s) first.
        let wait = if mode == Answer::Hang { 5500 } else { 2500 };
        tokio::time::sleep(Duration::from_millis(wait)).await;
        assert!(standin.fetches() > before, "refreshed on max-age");
        let fresh = standin.sign(|_| {}, json!({"jti": format!("{mode:?}-{before}")}));
        let (status, _, body) = get(&service, "/api/reports/orders", &fresh).await;
        assert_eq!(status, StatusCode::OK, "{body}");
    }
}

#[actix_web::test]
async fn keys_are_per_issuer() {
    let (first, _) = StandIn::start(Answer::Good);
    let (second, _) = StandIn::start(Answer::Good);
    let security = config(&first.issuer(), |b| b.oidc_issuer(second.issuer()));
    let service = init_service(app(security.clone()).into_app()).await;
    for standin in [&first, &second] {
        let token = standin.sign(|_| {}, json!({}));
        let (status, _, body) = get(&service, "/api/reports/orders", &token).await;
        assert_eq!(status, StatusCode::OK, "{body}");
        assert!(body.contains(&standin.issuer()), "{body}");
    }
    // Signed by the second issuer's key, claiming the first: the first's
    // key (same kid) does not verify it, and the second's is not tried.
    let crossed = second.sign(|_| {}, json!({"iss": first.issuer()}));
    let (status, _, _) = get(&service, "/api/reports/orders", &crossed).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    assert_eq!(
        security.verify_access_token(&crossed).map(|p| p.sub),
        Err(TokenError::BadSignature)
    );
    // The OpenAPI document names each issuer's scheme, with the scopes.
    let routes = app(security.clone()).routes();
    let spec: Value = serde_json::from_str(&secure_api_runtime::openapi::to_json(
        &secure_api_runtime::openapi::document_for("t", "1", &routes, &security),
    ))
    .expect("json");
    let schemes = &spec["components"]["securitySchemes"];
    assert_eq!(
        schemes["oidc"],
        json!({"type": "openIdConnect", "openIdConnectUrl": format!("{}/.well-known/openid-configuration", first.issuer())})
    );
    assert_eq!(
        schemes["oidc_2"]["openIdConnectUrl"],
        format!("{}/.well-known/openid-configuration", second.issuer())
    );
    assert_eq!(
        spec["paths"]["/api/reports/orders"]["get"]["security"],
        json!([{"bearer": ["reports:read"]}, {"oidc": ["reports:read"]}, {"oidc_2": ["reports:read"]}])
    );
}

#[actix_web::test]
async fn a_flood_of_unknown_kids_causes_at_most_one_fetch_per_cooldown() {
    let (standin, fetches) = StandIn::start(Answer::Good);
    let security = standin_config(&standin, 60);
    let service = init_service(app(security).into_app()).await;
    let good = standin.sign(|_| {}, json!({}));
    assert_eq!(
        get(&service, "/api/reports/orders", &good).await.0,
        StatusCode::OK
    );
    let loaded = fetches.load(Ordering::SeqCst);
    assert_eq!(loaded, 1, "one fetch at start");
    for i in 0..100 {
        let random = standin.sign(|h| h.kid = Some(format!("random-{i}")), json!({}));
        let (status, _, _) = get(&service, "/api/reports/orders", &random).await;
        assert_eq!(status, StatusCode::UNAUTHORIZED);
    }
    assert_eq!(
        fetches.load(Ordering::SeqCst),
        loaded + 1,
        "a hundred unknown kids, one fetch"
    );
}

#[actix_web::test]
async fn the_protected_resource_metadata_names_the_issuers_and_every_401_points_to_it() {
    let (standin, _) = StandIn::start(Answer::Good);
    let service = init_service(app(standin_config(&standin, 60)).into_app()).await;
    let response = call_service(
        &service,
        TestRequest::get()
            .uri("/.well-known/oauth-protected-resource")
            .to_request(),
    )
    .await;
    assert_eq!(response.status(), StatusCode::OK);
    let metadata: Value = serde_json::from_slice(&read_body(response).await).expect("json");
    assert_eq!(
        metadata,
        json!({
            "resource": AUDIENCE,
            "authorization_servers": [standin.issuer()],
            "scopes_supported": ["reports:read"],
            "bearer_methods_supported": ["header"],
        })
    );
    let response = call_service(
        &service,
        TestRequest::get()
            .uri("/api/me")
            .insert_header(("host", "api.example.test"))
            .to_request(),
    )
    .await;
    assert_eq!(response.status(), StatusCode::UNAUTHORIZED);
    assert_eq!(
        response
            .headers()
            .get(WWW_AUTHENTICATE)
            .and_then(|v| v.to_str().ok()),
        Some(
            "Bearer resource_metadata=\"http://api.example.test/.well-known/oauth-protected-resource\""
        )
    );
}

#[test]
fn issuers_need_an_audience_and_https_in_production() {
    let refused = |builder: Builder| builder.build().expect_err("refused").to_string();
    let text = refused(
        SecurityConfig::builder(Mode::Dev)
            .generated_key()
            .oidc_issuer("http://127.0.0.1:1"),
    );
    assert!(text.contains("SECURE_API_OIDC_AUDIENCE"), "{text}");
    let text = refused(
        SecurityConfig::builder(Mode::Prod)
            .key(JwtKey::hs256(OWN_SECRET.to_vec()))
            .oidc_issuer("http://idp.example.test")
            .oidc_audience(AUDIENCE),
    );
    assert!(
        text.contains("SECURE_API_OIDC_ISSUERS") && text.contains("production needs https"),
        "{text}"
    );
    // From the environment: prod with issuers and no secret of its own.
    let config = SecurityConfig::from_lookup(|name| {
        match name {
            "SECURE_API_MODE" => Some("prod"),
            "SECURE_API_OIDC_ISSUERS" => Some("https://login.example.test/realms/orders"),
            "SECURE_API_OIDC_AUDIENCE" => Some(AUDIENCE),
            "SECURE_API_OIDC_ROLES_CLAIM" => Some("realm_access.roles"),
            _ => None,
        }
        .map(str::to_owned)
    })
    .expect("provider tokens only");
    assert_eq!(
        config.oidc_issuers(),
        ["https://login.example.test/realms/orders"]
    );
    assert!(
        config.issue_access_token("1", &[]).is_err(),
        "nothing to sign with"
    );
    let error = SecurityConfig::from_lookup(|name| match name {
        "SECURE_API_OIDC_ISSUERS" => Some("http://127.0.0.1:1".to_owned()),
        "SECURE_API_DEV_KEY_FILE" => Some(String::new()),
        _ => None,
    })
    .expect_err("no audience")
    .to_string();
    assert!(error.contains("SECURE_API_OIDC_AUDIENCE"), "{error}");
}
