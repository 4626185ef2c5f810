//! Dev mode without a secret: the generated key is kept in a file and
//! survives a restart, and the app says at start where its key lives.

use secure_api_runtime::prelude::*;

mod support;

#[get("/health")]
#[registered(owner = "tests", lifecycle = production)]
#[public]
async fn health() -> &'static str {
    "ok"
}

fn scratch(name: &str) -> std::path::PathBuf {
    let dir = std::env::temp_dir().join(format!("secure-api-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap_or_else(|e| panic!("{e}"));
    dir
}

#[test]
fn a_kept_key_survives_a_restart_and_the_start_names_its_file() {
    let dir = scratch("kept-key");
    let path = dir.join("app.dev-key");
    let start = || {
        SecurityConfig::builder(Mode::Dev)
            .dev_key_file(&path)
            .build()
            .unwrap_or_else(|e| panic!("{e}"))
    };
    let first = start();
    let token = first
        .issue_access_token("7", &[])
        .map(|t| t.token)
        .unwrap_or_default();
    let log = support::Log::default();
    let logging = log.capture();
    let restarted = start();
    let _app = SecureApp::new(restarted.clone()).service(health).into_app();
    drop(logging);
    assert_eq!(
        restarted.verify_access_token(&token).map(|p| p.sub).ok(),
        Some("7".to_owned())
    );
    let text = log.text();
    assert!(
        text.contains("kept in this file") && text.contains(&path.display().to_string()),
        "{text}"
    );
    let _ = std::fs::remove_dir_all(dir);
}

#[test]
fn a_key_in_memory_only_is_a_warning_at_start() {
    let log = support::Log::default();
    let logging = log.capture();
    let security = SecurityConfig::builder(Mode::Dev)
        .generated_key()
        .build()
        .unwrap_or_else(|e| panic!("{e}"));
    for _ in 0..2 {
        // Once per configuration, not once per worker.
        let _app = SecureApp::new(security.clone()).service(health).into_app();
    }
    drop(logging);
    let text = log.text();
    assert_eq!(text.matches("held in memory only").count(), 1, "{text}");
    assert!(text.contains("WARN"), "{text}");
}

#[test]
fn two_processes_starting_at_once_agree_on_one_key() {
    let dir = scratch("racing-key");
    let path = dir.join("app.dev-key");
    let starts: Vec<_> = (0..8)
        .map(|_| {
            let path = path.clone();
            std::thread::spawn(move || {
                SecurityConfig::builder(Mode::Dev)
                    .dev_key_file(path)
                    .build()
                    .unwrap_or_else(|e| panic!("{e}"))
            })
        })
        .collect();
    let configs: Vec<SecurityConfig> = starts
        .into_iter()
        .map(|start| start.join().unwrap_or_else(|_| panic!("a start panicked")))
        .collect();
    let token = configs[0]
        .issue_access_token("1", &[])
        .map(|t| t.token)
        .unwrap_or_default();
    for config in &configs {
        assert!(config.verify_access_token(&token).is_ok());
    }
    let left: Vec<_> = std::fs::read_dir(&dir)
        .map(|entries| {
            entries
                .filter_map(Result::ok)
                .map(|e| e.file_name())
                .collect()
        })
        .unwrap_or_default();
    assert_eq!(
        left,
        [std::ffi::OsString::from("app.dev-key")],
        "no staged files left"
    );
    let _ = std::fs::remove_dir_all(dir);
}
