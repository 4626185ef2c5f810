//! The configuration: `NAME=value` lines as the environment, and the same
//! bytes as the TOML file under it. Every outcome is a configuration or a
//! list of problems, never a panic.

#![no_main]

use libfuzzer_sys::fuzz_target;
use secure_api_runtime::SecurityConfig;

fuzz_target!(|data: &[u8]| {
    let text = String::from_utf8_lossy(data);
    let vars: Vec<(String, String)> = text
        .lines()
        .filter_map(|line| line.split_once('='))
        .map(|(name, value)| (name.trim().to_owned(), value.to_owned()))
        .collect();
    // A generated dev key stays in memory: the fuzzer writes no files.
    let in_memory = |name: &str| (name == "SECURE_API_DEV_KEY_FILE").then(String::new);
    let lookup = |name: &str| {
        in_memory(name).or_else(|| {
            vars.iter()
                .find(|(key, _)| key == name)
                .map(|(_, value)| value.clone())
        })
    };
    if let Err(error) = SecurityConfig::from_lookup(lookup) {
        assert!(!error.problems.is_empty());
    }
    let file = std::env::temp_dir().join(format!("secure-api-fuzz-{}.toml", std::process::id()));
    if std::fs::write(&file, data).is_ok() {
        if let Err(error) = SecurityConfig::from_file_and_lookup(Some(&file), in_memory) {
            assert!(!error.problems.is_empty());
        }
    }
});
