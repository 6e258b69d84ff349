//! The `eris` command: `serve`, `migrate`, `openapi`.

use std::process::ExitCode;

use clap::{CommandFactory, FromArgMatches, Parser, Subcommand};
use tokio::net::TcpListener;

use eris::actions::ActionContext;
use eris::api::{self, AppState};
use eris::config::{self, DatabaseArgs, ServeArgs};
use eris::db::{self, Db, PoolOptions};
use eris::executor::Executor;
use eris::executor::misarch::MisarchRuntime;
use eris::scheduler::{Scheduler, SchedulerConfig};
use eris::wakeups::Wakeups;
use eris::webhooks::delivery::Deliverer;
use eris::worker::{Worker, WorkerConfig};
use tokio_util::sync::CancellationToken;

#[derive(Debug, Parser)]
#[command(name = "eris", version, about = "Schedules and runs chaos trials, and keeps their records for audit.")]
struct Cli {
    /// Log filter, e.g. `info` or `info,eris=debug`.
    #[arg(long, env = "ERIS_LOG", value_name = "FILTER", default_value = config::DEFAULT_LOG, global = true)]
    log: String,

    /// Log format: `json` (one object per line) or `pretty`. Default: pretty on a terminal, JSON otherwise.
    #[arg(long, env = "ERIS_LOG_FORMAT", value_name = "FORMAT", global = true)]
    log_format: Option<String>,

    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Apply pending database migrations, then serve the API.
    Serve(Box<ServeArgs>),
    /// Apply pending database migrations and exit.
    Migrate(DatabaseArgs),
    /// Print the OpenAPI document of the API (JSON).
    Openapi,
    /// Manage API tokens, straight in the database (how the first admin token is made).
    #[command(subcommand)]
    Token(TokenCommand),
    /// The emergency stop of the whole deployment, straight in the database: works when the API does not.
    #[command(subcommand)]
    Safety(SafetyCommand),
    /// Serve a small shop to run chaos trials against on this machine: a health route, business routes whose
    /// latency and error rate its own `/faults` API changes (docs/trials.md#the-demo-target).
    DemoTarget {
        /// Address and port the demo target listens on.
        #[arg(long, env = "ERIS_DEMO_BIND", default_value = "127.0.0.1:9000")]
        bind: std::net::SocketAddr,
    },
}

#[derive(Debug, Subcommand)]
enum TokenCommand {
    /// Create a token and print its text, which is shown this once.
    Create {
        #[command(flatten)]
        database: DatabaseArgs,
        /// Who or what uses the token (letters, digits, '.', '_', '-', '@'); unique.
        #[arg(long)]
        name: String,
        /// read, write or admin.
        #[arg(long)]
        scope: eris::auth::Scope,
        /// When the token stops working, RFC 3339 (e.g. 2027-06-30T00:00:00Z); default: never.
        #[arg(long, value_name = "INSTANT")]
        expires_at: Option<chrono::DateTime<chrono::Utc>>,
    },
    /// List the tokens (never their text).
    List {
        #[command(flatten)]
        database: DatabaseArgs,
    },
    /// Revoke a token, by id or name.
    Revoke {
        #[command(flatten)]
        database: DatabaseArgs,
        /// The token's id or name.
        token: String,
    },
}

#[derive(Debug, Subcommand)]
enum SafetyCommand {
    /// Engage the emergency stop: stop every trial at once (running ones with their clean-up) and let none start
    /// until it is released (docs/safety.md).
    Engage {
        #[command(flatten)]
        database: DatabaseArgs,
        /// Why, shown on every trial it stops and every start it refuses.
        #[arg(long)]
        reason: String,
    },
    /// Release the emergency stop: trials may start again.
    Release {
        #[command(flatten)]
        database: DatabaseArgs,
    },
    /// Print the emergency stop's state (JSON).
    Status {
        #[command(flatten)]
        database: DatabaseArgs,
    },
}

fn main() -> ExitCode {
    // A variable set to an empty value counts as unset: its default applies.
    let matches = eris::setting_parsers::empty_variables_unset(Cli::command()).get_matches();
    let cli = Cli::from_arg_matches(&matches).unwrap_or_else(|error| error.exit());
    match run(cli) {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            eprintln!("eris: {error:#}");
            ExitCode::FAILURE
        }
    }
}

fn run(cli: Cli) -> anyhow::Result<()> {
    let filter = config::log_filter(&cli.log)?;
    let json = match cli.log_format.as_deref().map(str::trim) {
        Some("json") => true,
        Some("pretty") => false,
        None | Some("") => !std::io::IsTerminal::is_terminal(&std::io::stderr()),
        Some(other) => anyhow::bail!("ERIS_LOG_FORMAT (--log-format): '{other}' is not 'json' or 'pretty'"),
    };
    let logs = tracing_subscriber::fmt().with_env_filter(filter).with_writer(std::io::stderr);
    if json {
        // Span fields (trial, experiment, schedule, request_id) go into every line of the span.
        logs.json().with_current_span(true).with_span_list(false).init();
    } else {
        logs.init();
    }
    match cli.command {
        Command::Openapi => {
            println!("{}", api::openapi().to_pretty_json()?);
            Ok(())
        }
        Command::Migrate(args) => {
            let url = args.resolve()?;
            report_migrations(&url, db::migrate(&url)?);
            Ok(())
        }
        Command::Token(command) => {
            tokio::runtime::Builder::new_current_thread().enable_all().build()?.block_on(token(command))
        }
        Command::Safety(command) => {
            tokio::runtime::Builder::new_current_thread().enable_all().build()?.block_on(safety(command))
        }
        Command::DemoTarget { bind } => tokio::runtime::Builder::new_multi_thread()
            .enable_all()
            .build()?
            .block_on(eris::demo_target::serve(bind, shutdown_signal())),
        Command::Serve(args) => {
            let config = args.resolve()?;
            tokio::runtime::Builder::new_multi_thread().enable_all().build()?.block_on(serve(config))
        }
    }
}

fn report_migrations(url: &db::DatabaseUrl, applied: Vec<String>) {
    if applied.is_empty() {
        tracing::info!(database = %url.display(), "database schema is up to date");
    }
    for name in applied {
        tracing::info!(database = %url.display(), migration = %name, "applied migration");
    }
}

/// The database of a command that works on it directly (`eris token`, `eris safety`), migrated, and who acts:
/// `cli:<login user>`.
fn open_database(database: &DatabaseArgs) -> anyhow::Result<(Db, String)> {
    let url = database.resolve()?;
    report_migrations(&url, db::migrate(&url)?);
    let db = Db::connect(url, PoolOptions::default())?;
    Ok((db, format!("cli:{}", std::env::var("USER").unwrap_or_else(|_| "unknown".into()))))
}

/// `eris safety …`: the same rules as `/api/v1/emergency-stop`, acting as `cli:<login user>`, audited like the API.
/// The `stopped` webhooks of the queued trials it stops are queued for the experiments' own `notify` targets;
/// `eris serve` delivers them.
async fn safety(command: SafetyCommand) -> anyhow::Result<()> {
    use eris::safety;
    let database = match &command {
        SafetyCommand::Engage { database, .. }
        | SafetyCommand::Release { database }
        | SafetyCommand::Status { database } => database,
    };
    let (db, actor) = open_database(database)?;
    let state = match command {
        SafetyCommand::Engage { reason, .. } => {
            let body = serde_json::to_vec(&serde_json::json!({"reason": reason}))?;
            let engaged = safety::engage(&db, &actor, &reason, Default::default()).await;
            audit_cli(&db, &actor, "emergency-stop.engage", "eris safety engage", None, &body, &engaged).await;
            let (state, stopped) = engaged?;
            match stopped {
                Some(stopped) => eprintln!(
                    "emergency stop engaged: {} queued trial(s) stopped, {} running trial(s) stopping",
                    stopped.queued, stopped.running
                ),
                None => eprintln!("the emergency stop already holds; nothing changed"),
            }
            state
        }
        SafetyCommand::Release { .. } => {
            let released = safety::release(&db, &actor).await;
            audit_cli(&db, &actor, "emergency-stop.release", "eris safety release", None, &[], &released).await;
            let (state, released) = released?;
            eprintln!("{}", if released { "emergency stop released" } else { "the emergency stop did not hold" });
            state
        }
        SafetyCommand::Status { .. } => safety::find(&db).await?,
    };
    println!("{}", serde_json::to_string(&state)?);
    Ok(())
}

/// `eris token …`: the same rules as `/api/v1/token`, acting as `cli:<login user>`, audited like the API.
async fn token(command: TokenCommand) -> anyhow::Result<()> {
    use eris::auth::tokens;
    let database = match &command {
        TokenCommand::Create { database, .. }
        | TokenCommand::List { database }
        | TokenCommand::Revoke { database, .. } => database,
    };
    let (db, actor) = open_database(database)?;
    match command {
        TokenCommand::Create { name, scope, expires_at, .. } => {
            let input = tokens::TokenInput { name, scope, expires_at };
            let body = serde_json::to_vec(&input)?;
            let created = tokens::create(&db, input, &actor).await;
            audit_cli(
                &db,
                &actor,
                "token.create",
                "eris token create",
                created.as_ref().ok().map(|t| t.info.id.to_string()),
                &body,
                &created,
            )
            .await;
            let created = created?;
            eprintln!(
                "created token '{}' ({}, scope {}); its text is shown this once:",
                created.info.name, created.info.id, created.info.scope
            );
            println!("{}", created.token);
        }
        TokenCommand::List { .. } => {
            let mut page = db::page::PageRequest { limit: 1000, after: None };
            loop {
                let listed = tokens::list(&db, page.clone()).await?;
                for token in &listed.items {
                    println!("{}", serde_json::to_string(token)?);
                }
                match listed.next {
                    Some(next) => page.after = Some(next),
                    None => break,
                }
            }
        }
        TokenCommand::Revoke { token, .. } => {
            let revoked = tokens::revoke(&db, &token, &actor).await;
            let target = revoked.as_ref().ok().map(|t| t.id.to_string());
            audit_cli(&db, &actor, "token.delete", "eris token revoke", target, &[], &revoked).await;
            let revoked = revoked?;
            eprintln!("revoked token '{}' ({})", revoked.name, revoked.id);
        }
    }
    Ok(())
}

/// Appends the audit entry of a change made with `eris token` or `eris safety`; `command` is what was run.
async fn audit_cli<T>(
    db: &Db,
    actor: &str,
    action: &str,
    command: &str,
    target_id: Option<String>,
    body: &[u8],
    result: &eris::error::Result<T>,
) {
    let status: u16 = match result {
        Ok(_) => 200,
        Err(error) => eris::api::errors::ApiError::from(error.clone()).status.as_u16(),
    };
    let entry = eris::audit::AuditEntry {
        id: uuid::Uuid::new_v4(),
        at: eris::time::now(),
        actor: actor.to_owned(),
        action: action.to_owned(),
        method: "CLI".to_owned(),
        path: command.to_owned(),
        target_id,
        body_sha256: eris::audit::body_digest(body),
        status,
        outcome: eris::audit::Outcome::of_status(status),
        request_id: None,
    };
    if let Err(error) = eris::audit::append(db, entry).await {
        eprintln!("eris: warning: cannot append to the audit log: {error}");
    }
}

async fn serve(config: config::ServeConfig) -> anyhow::Result<()> {
    let url = config.database_url.clone();
    let applied = tokio::task::spawn_blocking(move || db::migrate(&url)).await??;
    report_migrations(&config.database_url, applied);
    let database_url = config.database_url.clone();
    let pool = config.pool;
    let db = tokio::task::spawn_blocking(move || Db::connect(database_url, pool)).await??;
    let listener = TcpListener::bind(config.bind)
        .await
        .map_err(|e| anyhow::anyhow!("ERIS_BIND (--bind): cannot listen on {}: {e}", config.bind))?;

    let wakeups = Wakeups::default();
    let shutdown = CancellationToken::new();
    let scheduler = Scheduler::new(
        db.clone(),
        wakeups.clone(),
        SchedulerConfig {
            misfire_deadline: chrono::Duration::from_std(config.misfire_deadline)?,
            ..SchedulerConfig::default()
        },
    );
    let worker = Worker::new(
        db.clone(),
        wakeups.clone(),
        WorkerConfig { lease_ttl: config.worker_lease, ..WorkerConfig::default() },
        Executor {
            actions: ActionContext {
                chaos_cli: config.chaos_cli.clone(),
                prometheus: config.prometheus_url.clone(),
                configurator: config.misarch.configurator.clone(),
                ..ActionContext::new(config.step_timeout)
            },
            misarch: MisarchRuntime { db: db.clone(), settings: std::sync::Arc::new(config.misarch.clone()) },
        },
    )
    .with_webhooks(config.webhooks.clone());
    if !config.webhooks.targets.is_empty() && config.webhooks.secret.is_none() {
        tracing::warn!("ERIS_WEBHOOK_URLS is set without ERIS_WEBHOOK_SECRET: deliveries are not signed");
    }
    let deliverer = Deliverer::new(db.clone(), config.webhooks.clone(), wakeups.clone());
    let scheduler = tokio::spawn(scheduler.run(shutdown.clone()));
    let worker = tokio::spawn(worker.run(shutdown.clone()));
    let deliverer = tokio::spawn(deliverer.run(shutdown.clone()));
    if config.retention.removes_anything() {
        tracing::info!(policy = ?config.retention, "retention: ended trials the policy no longer keeps are removed");
    }
    let retention = tokio::spawn(eris::retention::run(db.clone(), config.retention.clone(), shutdown.clone()));

    let webhooks = std::sync::Arc::new(config.webhooks.clone());
    let limits = api::Limits {
        max_body_bytes: config.max_body_bytes,
        request_timeout: config.request_timeout,
        callback_max_body_bytes: config.misarch.callback_max_body_bytes,
    };
    let auth = std::sync::Arc::new(config.auth.clone());
    match auth.authenticator.mode() {
        "none" if !config.bind.ip().is_loopback() => tracing::warn!(
            address = %config.bind,
            "ERIS_AUTH=none on a non-loopback address: anyone who reaches eris can run chaos experiments"
        ),
        mode => tracing::info!(mode, "authentication"),
    }
    tracing::info!(sources = ?config.misarch_executor.templates.sources, "MiSArch generator templates");
    let state = AppState {
        db,
        wakeups,
        shutdown: std::sync::Arc::new(shutdown.clone()),
        webhooks,
        auth,
        misarch_executor: std::sync::Arc::new(config.misarch_executor.clone()),
        cors: std::sync::Arc::new(config.cors_origins.clone()),
    };
    let app = api::app(state, limits);
    tracing::info!(
        address = %listener.local_addr()?,
        database = %config.database_url.display(),
        "eris is serving; Swagger UI at /swagger-ui"
    );
    let stopping = shutdown.clone();
    // The peer address is what ERIS_COMPONENT_ALLOW_CIDRS checks.
    let served = axum::serve(listener, app.into_make_service_with_connect_info::<std::net::SocketAddr>())
        .with_graceful_shutdown(async move {
            tokio::select! {
                () = shutdown_signal() => {}
                () = stopping.cancelled() => {}
            }
            stopping.cancel();
        })
        .await;
    // The worker stops a running trial at a safe point, runs its post_steps and records it before it returns.
    shutdown.cancel();
    let (scheduler, worker, deliverer, retention) = tokio::join!(scheduler, worker, deliverer, retention);
    scheduler?;
    worker?;
    deliverer?;
    retention?;
    served?;
    tracing::info!("eris stopped");
    Ok(())
}

/// Resolves on SIGINT (Ctrl-C) or SIGTERM (what Kubernetes and Docker send).
async fn shutdown_signal() {
    let ctrl_c = async {
        if let Err(error) = tokio::signal::ctrl_c().await {
            tracing::error!("cannot listen for Ctrl-C: {error}");
            std::future::pending::<()>().await;
        }
    };
    let terminate = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut signal) => {
                signal.recv().await;
            }
            Err(error) => {
                tracing::error!("cannot listen for SIGTERM: {error}");
                std::future::pending::<()>().await;
            }
        }
    };
    tokio::select! {
        () = ctrl_c => {},
        () = terminate => {},
    }
    tracing::info!("shutting down: finishing the requests in flight and stopping the running trial");
}
