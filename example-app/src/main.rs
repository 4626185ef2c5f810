//! `example-app` serves the example API; `example-app token --sub 1 --roles user`
//! prints a signed access token (dev mode only).

use std::net::TcpListener;
use std::process::ExitCode;

use example_app::auth::Auth;
use example_app::settings::Settings;
use example_app::store::Store;
use secure_api_runtime::Mode;

const USAGE: &str = "usage:
  example-app                                   serve the API (BIND, DATABASE_URL, SECURE_API_*, TLS_CERT/TLS_KEY from the environment)
  example-app check-config                      check the configuration; prints the verdict, exits non-zero on a problem
  example-app openapi                           print the OpenAPI 3.1 document (as served at /openapi.json)
  example-app routes                            print the route inventory: method, path, owner, lifecycle, access, limits, state
  example-app token --sub ID [--roles a,b] [--ttl SECONDS]
                                                print an access token signed with the configured key (dev mode only)";

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let settings = match Settings::from_env() {
        Ok(settings) => settings,
        Err(e) => {
            for problem in &e.problems {
                eprintln!("configuration: {problem}");
            }
            if args.first().map(String::as_str) == Some("check-config") {
                println!("configuration refused: {} problem(s)", e.problems.len());
            }
            return ExitCode::FAILURE;
        }
    };
    let serving = matches!(args.first().map(String::as_str), None | Some("serve"));
    let mut production_problems = settings.production_problems();
    if args.first().map(String::as_str) == Some("check-config") {
        // Serving checks the address it really listens on, once bound.
        production_problems.extend(settings.bind_problems());
    }
    if !production_problems.is_empty()
        && (serving || args.first().map(String::as_str) == Some("check-config"))
    {
        for problem in &production_problems {
            eprintln!("configuration: {problem}");
        }
        if !serving {
            println!(
                "configuration refused: {} problem(s)",
                production_problems.len()
            );
        }
        return ExitCode::FAILURE;
    }
    let result = match args.first().map(String::as_str) {
        None | Some("serve") => serve(settings),
        Some("token") => token(&settings, &args[1..]),
        Some("check-config") => {
            let mode = match settings.security.mode() {
                Mode::Dev => "dev",
                Mode::Prod => "prod",
            };
            println!("configuration OK ({mode} mode)");
            Ok(())
        }
        Some("openapi") => {
            print!("{}", example_app::openapi_json(settings.security.clone()));
            Ok(())
        }
        Some("routes") => {
            let app = example_app::mount_routes(secure_api_runtime::SecureApp::new(
                settings.security.clone(),
            ));
            print!("{}", app.route_table());
            Ok(())
        }
        Some("-h" | "--help" | "help") => {
            println!("{USAGE}");
            Ok(())
        }
        Some(other) => Err(format!("unknown command `{other}`\n{USAGE}")),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(message) => {
            eprintln!("{message}");
            ExitCode::FAILURE
        }
    }
}

fn token(settings: &Settings, args: &[String]) -> Result<(), String> {
    if settings.security.mode() != Mode::Dev {
        return Err(
            "`token` is for dev mode only: production tokens come from /api/auth/login".to_owned(),
        );
    }
    let mut sub = None;
    let mut roles = Vec::new();
    let mut ttl = None;
    let mut args = args.iter();
    while let Some(flag) = args.next() {
        let value = args
            .next()
            .ok_or_else(|| format!("`{flag}` needs a value\n{USAGE}"))?;
        match flag.as_str() {
            "--sub" => sub = Some(value.clone()),
            "--roles" => {
                roles = value
                    .split(',')
                    .filter(|r| !r.is_empty())
                    .map(str::to_owned)
                    .collect()
            }
            "--ttl" => {
                ttl = Some(
                    value
                        .parse::<u64>()
                        .map_err(|_| format!("`--ttl` takes whole seconds, not `{value}`"))?,
                )
            }
            _ => return Err(format!("unknown option `{flag}`\n{USAGE}")),
        }
    }
    let sub = sub.ok_or_else(|| format!("`--sub` is required\n{USAGE}"))?;
    let issued = match ttl {
        Some(secs) => settings.security.issue_access_token_with_ttl(
            &sub,
            &roles,
            std::time::Duration::from_secs(secs),
        ),
        None => settings.security.issue_access_token(&sub, &roles),
    }
    .map_err(|e| format!("cannot sign a token: {e}"))?;
    println!("{}", issued.token);
    Ok(())
}

fn serve(settings: Settings) -> Result<(), String> {
    let _logs = settings.telemetry.init_logging();
    actix_web::rt::System::new().block_on(async move {
        if let Some(metrics) = settings.telemetry.metrics_server()? {
            actix_web::rt::spawn(metrics);
        }
        let tls = match &settings.tls {
            Some((cert, key)) => Some(example_app::tls_config(cert, key)?),
            None => None,
        };
        let listener = TcpListener::bind(&settings.bind)
            .map_err(|e| format!("cannot listen on {}: {e}", settings.bind))?;
        let address = listener.local_addr().map_err(|e| e.to_string())?;
        settings
            .security
            .check_bind(&[address])
            .map_err(|e| format!("configuration: {e}"))?;
        let store = Store::open(&settings.database_url)
            .await
            .map_err(|e| e.to_string())?;
        let auth = Auth::new(settings.security.clone(), &store, settings.auth).await?;
        let integrations = example_app::Integrations::new(
            &settings.fetch_allowed_hosts,
            settings.payment_webhook.clone(),
        )?;
        if let Some(password) = settings.admin_password.clone() {
            example_app::ensure_admin(&store, &auth, password).await?;
        }
        let mode = match settings.security.mode() {
            Mode::Dev => "dev",
            Mode::Prod => "prod",
        };
        let scheme = if tls.is_some() { "https" } else { "http" };
        tracing::info!(
            target: "example_app",
            "serving on {scheme}://{} in {mode} mode; database {}; access tokens signed with {}",
            settings.bind,
            secure_api_runtime::config::redact_url(&settings.database_url),
            settings.key_origin
        );
        example_app::serve(settings.security, store, auth, integrations, listener, tls)
            .map_err(|e| e.to_string())?
            .await
            .map_err(|e| e.to_string())
    })
}
