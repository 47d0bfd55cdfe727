//! `hoody-daemon serve`: set up logging, the listener, the token and the runtime, then hand over
//! to the daemon's loop and the API.

use std::path::Path;

use super::{ConsoleFormatArg, ServeArgs, exit};
use crate::api::{self, AccessConfig, Listen, Listener, Tokens};
use crate::daemon::{self, DaemonConfig, Ending};
use crate::supervisor::console::ConsoleFormat;

/// The environment variable that may hold the API token.
pub const TOKEN_VARIABLE: &str = "HOODY_DAEMON_TOKEN";

pub fn serve(args: ServeArgs) -> u8 {
    // Before any thread exists, so that every thread inherits it: the loop reads SIGCHLD from
    // a signalfd (`supervisor::ChildSignal`), which only hears a signal no thread takes.
    if let Err(error) = crate::supervisor::block_child_signal() {
        eprintln!("hoody-daemon: cannot block SIGCHLD: {error}");
        return exit::ERROR;
    }
    init_logging();
    let runtime = match tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
    {
        Ok(runtime) => runtime,
        Err(error) => {
            eprintln!("hoody-daemon: cannot start the runtime: {error}");
            return exit::ERROR;
        }
    };
    match runtime.block_on(run(args)) {
        Ok(Ending::Graceful) => exit::OK,
        Ok(Ending::Forced) => exit::ERROR,
        Err(message) => {
            tracing::error!("{message}");
            eprintln!("hoody-daemon: {message}");
            exit::ERROR
        }
    }
}

fn init_logging() {
    let filter = tracing_subscriber::EnvFilter::try_from_env("HOODY_DAEMON_LOG")
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info"));
    let _ = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()))
        .with_target(false)
        .try_init();
}

/// The token, from `--token-file` or the environment; `None` when neither gives one.
pub fn load_token(token_file: Option<&Path>) -> Result<Option<String>, String> {
    if let Some(path) = token_file {
        let text = std::fs::read_to_string(path)
            .map_err(|error| format!("cannot read the token file {}: {error}", path.display()))?;
        let token = text.trim().to_string();
        if token.is_empty() {
            return Err(format!("the token file {} is empty", path.display()));
        }
        return Ok(Some(token));
    }
    Ok(std::env::var(TOKEN_VARIABLE)
        .ok()
        .map(|token| token.trim().to_string())
        .filter(|token| !token.is_empty()))
}

async fn run(args: ServeArgs) -> Result<Ending, String> {
    let listen = Listen::parse(&args.listen)?;
    let token = load_token(args.token_file.as_deref())?;
    let mut tokens = match &args.tokens_file {
        Some(path) => Tokens::load(path)?,
        None => Tokens::default(),
    };
    if let Some(token) = &token {
        tokens.add_admin(token)?;
    }
    if tokens.is_empty() && !listen.is_loopback() {
        return Err(format!(
            "refusing to listen on {listen} without a token: the API can run any command as any user; set {TOKEN_VARIABLE}, --token-file or --tokens-file, or listen on 127.0.0.1"
        ));
    }
    for origin in &args.allow_origins {
        if !origin.contains("://") {
            return Err(format!(
                "--allow-origin {origin:?}: an origin is scheme://host[:port], as a browser sends it (https://dash.example)"
            ));
        }
    }
    let metadata = std::fs::metadata(&args.programs_dir).map_err(|error| {
        format!(
            "the programs folder {} cannot be used: {error}",
            args.programs_dir.display()
        )
    })?;
    if !metadata.is_dir() {
        return Err(format!("{} is not a folder", args.programs_dir.display()));
    }
    // Absolute folders: log paths given to programs (quick-starts' logs above all) and the
    // `file` the API shows must not depend on where they are read from.
    let absolute = |path: &Path| std::path::absolute(path).unwrap_or_else(|_| path.to_path_buf());
    let mut config = DaemonConfig::beside(&absolute(&args.programs_dir));
    if let Some(state_dir) = args.state_dir {
        config.state_dir = absolute(&state_dir);
    }
    if let Some(log_dir) = args.log_dir {
        config.log_dir = absolute(&log_dir);
    }
    config.logs = crate::supervisor::LogSettings {
        timestamps: args.log_timestamps,
        console: match (args.log_console, args.log_console_format) {
            (_, Some(ConsoleFormatArg::Json)) => Some(ConsoleFormat::Json),
            (_, Some(ConsoleFormatArg::Plain)) | (true, None) => Some(ConsoleFormat::Plain),
            (false, None) => None,
        },
        budget: args.log_budget,
    };
    config.metrics_compat = args.metrics_compat.unwrap_or_default();
    config.cgroups = !args.no_cgroups;
    // One daemon per folder, before anything else: a second daemon says who holds them.
    let locks = daemon::Locks::take(&config.state_dir, &config.programs_dir)
        .map_err(|error| error.to_string())?;
    let listener = Listener::bind(&listen)
        .await
        .map_err(|error| format!("cannot listen on {listen}: {error}"))?;
    let shown = match listener.local_addr() {
        Some(address) => format!("http://{address}"),
        None => listen.to_string(),
    };
    let (daemon, handle) = daemon::start(config.clone(), locks)
        .await
        .map_err(|error| error.to_string())?;
    tracing::info!(
        listen = %shown,
        programs = %config.programs_dir.display(),
        state = %config.state_dir.display(),
        logs = %config.log_dir.display(),
        auth = if tokens.is_empty() { "peer" } else { "token" },
        pid = std::process::id(),
        "hoody-daemon {} serving",
        env!("CARGO_PKG_VERSION")
    );
    // Where a client (the tests, a script) finds the API when the port was chosen by the system.
    let address_file = config.state_dir.join("api.address");
    if let Err(error) = crate::store::write_atomic(&address_file, &format!("{shown}\n")) {
        tracing::warn!(%error, "cannot write {}", address_file.display());
    }
    let lookup_tcp_peers = tokens.is_empty();
    let access = AccessConfig {
        allow_origins: args.allow_origins.clone(),
        allow_hosts: args.allow_hosts.clone(),
        listen: match &listen {
            Listen::Tcp(_) => listener.local_addr(),
            Listen::Unix(_) => None,
        },
        tokens,
    };
    api::serve_on_thread(listener, api::router(handle, access), lookup_tcp_peers)
        .map_err(|error| format!("cannot start the API thread: {error}"))?;
    let ending = daemon.run().await.map_err(|error| error.to_string());
    if let Listen::Unix(path) = &listen {
        let _ = std::fs::remove_file(path);
    }
    tracing::info!(?ending, "hoody-daemon stopped");
    ending
}
