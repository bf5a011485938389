//! The command line (clap): serve, migrate, import, lab, user, audit verify.

use std::net::TcpListener;
use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Args, Parser, Subcommand};

use crate::config::StorageSettings;
use crate::db::schema::labs;
use crate::db::Db;
use crate::domain::terms::Role;
use crate::error::AppError;
use crate::service::auth::{self, CurrentUser};
use crate::service::import::{self, ImportKind, ImportOptions};
use crate::with_tx;

/// coallab: laboratory information system for coal quality supervision.
#[derive(Parser, Debug)]
#[command(name = "coallab", version, about)]
pub struct Cli {
    #[command(flatten)]
    storage: StorageArgs,
    #[command(subcommand)]
    command: Command,
}

#[derive(Args, Debug)]
struct StorageArgs {
    /// Directory for the SQLite database file.
    #[arg(long, global = true, env = "COALLAB_DATA_DIR", default_value = "data")]
    data_dir: PathBuf,
    /// postgres://user@host/db for PostgreSQL; unset = SQLite file in the data directory.
    #[arg(long, global = true, env = "DATABASE_URL", hide_env_values = true)]
    database_url: Option<String>,
}

/// `coallab demo …`.
#[derive(Subcommand, Debug)]
enum DemoCommand {
    /// Generate N samples of M suppliers into an empty database (bulk; prints a JSON summary).
    Generate(crate::service::generate_cli::GenerateArgs),
}

#[derive(Subcommand, Debug)]
enum Command {
    /// Run the HTTP server (migrates first; an empty database gets the demo county unless --no-demo).
    Serve {
        /// Address to listen on.
        #[arg(long, env = "COALLAB_BIND", default_value = "127.0.0.1:8080")]
        bind: String,
        /// Do not load the demo county into an empty database.
        #[arg(long)]
        no_demo: bool,
        /// HTTP worker threads (default: number of CPUs).
        #[arg(long, env = "COALLAB_WORKERS")]
        workers: Option<usize>,
        /// Database connections in the pool.
        #[arg(long, env = "COALLAB_POOL_SIZE", default_value_t = 16)]
        pool_size: u32,
        /// Timeouts, body size and rate limits (OPS, issue 9).
        #[command(flatten)]
        limits: crate::ops::settings::ServeLimits,
    },
    /// Apply pending database migrations and exit.
    Migrate,
    /// Import a CSV file (UTF-8 or GBK), all or nothing: jurisdictions, suppliers, limit-sets, calendar, samples.
    Import {
        /// What the file holds.
        kind: String,
        /// The CSV file.
        file: PathBuf,
        /// Calendar code for calendar files.
        #[arg(long, default_value = "cn")]
        calendar: String,
        /// The user the import is recorded as (samples need a technician or reviewer of a lab).
        #[arg(long, default_value = "admin")]
        user: String,
    },
    /// Labs.
    Lab {
        #[command(subcommand)]
        command: LabCommand,
    },
    /// Users and API tokens.
    User {
        #[command(subcommand)]
        command: UserCommand,
    },
    /// The audit trail.
    Audit {
        #[command(subcommand)]
        command: AuditCommand,
    },
    /// Load the demo county into an empty database (`demo generate`: data at scale).
    Demo {
        #[command(subcommand)]
        command: Option<DemoCommand>,
    },
    /// Statistics of one supplier's released final results on one parameter (JSON).
    Stats(crate::service::stats_cli::StatsArgs),
    /// Draw one supplier's quality chart to an SVG or PNG file.
    Chart(crate::service::stats_cli::ChartArgs),
    /// Reports: turnaround time (TAT) and overdue stages, as JSON or CSV.
    Report {
        #[command(subcommand)]
        command: crate::service::reports_cli::ReportCommand,
    },
    /// Take a consistent copy of the database while servers run (SQLite: VACUUM INTO; PostgreSQL: pg_dump).
    Backup {
        /// The backup file to write (must not exist).
        file: PathBuf,
    },
    /// Restore a backup into the configured database (stop the servers first).
    Restore {
        /// The backup file (SQLite copy or pg_dump custom format).
        file: PathBuf,
        /// Overwrite a database that is not empty.
        #[arg(long)]
        force: bool,
    },
    /// Retained-sample retention periods.
    Retention {
        #[command(subcommand)]
        command: crate::ops::cli::RetentionCommand,
    },
}

#[derive(Subcommand, Debug)]
enum LabCommand {
    /// Add a lab.
    Add {
        /// Short code, used as the prefix of sample codes.
        code: String,
        /// Name.
        #[arg(long)]
        name: String,
        /// IANA time zone.
        #[arg(long, default_value = "Asia/Shanghai")]
        timezone: String,
    },
}

#[derive(Subcommand, Debug)]
enum UserCommand {
    /// Add a user.
    Add {
        /// Login name.
        username: String,
        /// technician, reviewer, regulator, auditor or admin.
        #[arg(long)]
        role: String,
        /// Lab code (technicians and reviewers).
        #[arg(long)]
        lab: Option<String>,
        /// Display name.
        #[arg(long)]
        name: Option<String>,
    },
    /// Issue an API token for a user (printed once).
    Token {
        /// Login name.
        username: String,
        /// Days until it expires.
        #[arg(long, default_value_t = 90)]
        days: i64,
        /// Expiry instead of --days: a date (YYYY-MM-DD, midnight UTC) or an RFC 3339 instant.
        #[arg(long, conflicts_with = "days")]
        expires: Option<String>,
    },
    /// Set a user's password, read from standard input (at least 12 characters); ends the
    /// user's browser sessions.
    Passwd {
        /// Login name.
        username: String,
    },
    /// Revoke every API token of a user and end their browser sessions.
    RevokeTokens {
        /// Login name.
        username: String,
    },
    /// Disable a user (their tokens stop working).
    Disable {
        /// Login name.
        username: String,
    },
}

#[derive(Subcommand, Debug)]
enum AuditCommand {
    /// Recompute the SHA-256 chain and report the first broken link (exit 1 when broken).
    Verify,
}

fn init_tracing() {
    let filter = tracing_subscriber::EnvFilter::try_from_env("COALLAB_LOG")
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info"));
    let json = std::env::var("COALLAB_LOG_FORMAT").is_ok_and(|v| v == "json");
    // Colours only on a terminal: a log file or journal gets plain text.
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()))
        .with_writer(std::io::stderr);
    let _ = if json {
        builder.json().try_init()
    } else {
        builder.try_init()
    };
}

/// Entry point of the binary.
pub fn main() -> ExitCode {
    let cli = Cli::parse();
    if !matches!(cli.command, Command::Serve { .. }) {
        quiet_on_closed_pipe();
    }
    init_tracing();
    match run(cli) {
        Ok(code) => code,
        Err(e) => {
            eprintln!("coallab: {e}");
            ExitCode::from(2)
        }
    }
}

/// A command whose output goes into a pipe that closes early (`coallab report … | head`) ends
/// quietly, as Unix tools do, instead of panicking on the failed write: the default action of
/// SIGPIPE, which Rust's runtime sets to ignore. Never for `serve`, where a client closing its
/// connection must not end the server.
fn quiet_on_closed_pipe() {
    #[cfg(unix)]
    // SAFETY: setting a signal's disposition to its default, once, before any thread starts.
    unsafe {
        libc::signal(libc::SIGPIPE, libc::SIG_DFL);
    }
}

fn storage(args: &StorageArgs) -> StorageSettings {
    StorageSettings {
        data_dir: args.data_dir.clone(),
        database_url: args.database_url.clone(),
    }
}

fn user_by_name(db: &Db, username: &str) -> Result<CurrentUser, AppError> {
    db.read(|tx| crate::service::users_admin::user_by_name(tx, username))
}

fn run(cli: Cli) -> Result<ExitCode, AppError> {
    let settings = storage(&cli.storage);
    match cli.command {
        Command::Serve {
            bind,
            no_demo,
            workers,
            pool_size,
            limits,
        } => {
            // Every wrong setting, one line each, before anything is opened (OPS, issue 9).
            crate::ops::settings::validate_serve(&bind, pool_size, workers, &settings, &limits)?;
            let listener = TcpListener::bind(&bind)
                .map_err(|e| AppError::Config(format!("cannot listen on {bind}: {e}")))?;
            let db = settings.open(pool_size)?;
            if !no_demo && crate::service::demo::is_empty(&db)? {
                let summary = crate::service::demo::seed(&db, chrono::Utc::now())?;
                println!("{summary}");
            }
            // Close samples whose appeal window passed, now and every minute (PEOPLE, issue 4).
            crate::service::appeal_close::spawn_periodic(
                db.clone(),
                std::time::Duration::from_secs(60),
            )
            .map_err(|e| AppError::Config(format!("cannot start the appeal-window job: {e}")))?;
            let addr = listener
                .local_addr()
                .map_err(|e| AppError::Config(e.to_string()))?;
            println!(
                "coallab listening on http://{addr} ({})",
                if matches!(db, Db::Pg(_)) {
                    "PostgreSQL"
                } else {
                    "SQLite"
                }
            );
            let workers = workers.unwrap_or_else(|| {
                std::thread::available_parallelism()
                    .map(|n| n.get())
                    .unwrap_or(2)
            });
            let rt = actix_web::rt::System::new();
            rt.block_on(async move {
                let server = crate::server::start_with(db, listener, workers, &limits)
                    .map_err(|e| AppError::Config(e.to_string()))?;
                server.await.map_err(|e| AppError::Config(e.to_string()))
            })?;
            tracing::info!("coallab stopped: in-flight requests finished, HTTP workers and their database pool closed");
            Ok(ExitCode::SUCCESS)
        }
        Command::Migrate => {
            let db = settings.open(1)?;
            println!(
                "migrations current ({} embedded)",
                crate::db::migrate::embedded_count()
            );
            drop(db);
            Ok(ExitCode::SUCCESS)
        }
        Command::Import {
            kind,
            file,
            calendar,
            user,
        } => {
            let kind: ImportKind = kind.parse()?;
            let bytes = std::fs::read(&file)
                .map_err(|e| AppError::Config(format!("cannot read {}: {e}", file.display())))?;
            let db = settings.open(2)?;
            let user = user_by_name(&db, &user)?;
            let progress = crate::ops::progress::for_stderr("import", "rows");
            let report = import::import_with_progress(
                &db,
                &user,
                kind,
                &bytes,
                &ImportOptions {
                    calendar_code: calendar,
                },
                chrono::Utc::now(),
                progress.as_ref(),
            )?;
            progress.finish();
            println!("{}", serde_json::to_string(&report).unwrap_or_default());
            Ok(ExitCode::SUCCESS)
        }
        Command::Lab {
            command:
                LabCommand::Add {
                    code,
                    name,
                    timezone,
                },
        } => {
            timezone
                .parse::<chrono_tz::Tz>()
                .map_err(|_| AppError::Config(format!("unknown time zone '{timezone}'")))?;
            // The code starts every sample code of the lab ("DEMO-2026-000313") and appears in
            // paths: the characters of a supplier code, at most 32 (the column's limit).
            if code.len() > 32 || crate::service::reference::check_code("lab code", &code).is_err()
            {
                return Err(AppError::invalid(
                    "invalid_value",
                    format!("lab code '{}' must be 1–32 characters of letters, digits, '-', '_' or '.', starting with a letter or digit", code.escape_debug()),
                ));
            }
            crate::service::text_input::single_line("lab name", &name, 200)?;
            let db = settings.open(1)?;
            db.transaction(|tx| {
                let now = chrono::Utc::now().timestamp_millis();
                // In any letter case: 'demo-2026-000318' beside 'DEMO-2026-000318' would read as
                // one lab's samples. (A handful of labs: no index needed on this CLI path.)
                let taken: Option<String> = with_tx!(tx, |c| labs::table
                    .filter(
                        crate::service::reference::lower(labs::code).eq(code.to_ascii_lowercase())
                    )
                    .select(labs::code)
                    .first(c)
                    .optional())?;
                crate::service::reference::refuse_taken("lab code", &code, taken, "lab")?;
                with_tx!(tx, |c| diesel::insert_into(labs::table)
                    .values((
                        labs::code.eq(&code),
                        labs::name.eq(&name),
                        labs::timezone.eq(&timezone),
                        labs::created_at.eq(now)
                    ))
                    .execute(c))?;
                crate::service::audit::append(
                    tx,
                    now,
                    crate::service::audit::NewEvent {
                        actor: "cli".into(),
                        action: "lab.add".into(),
                        entity: "lab".into(),
                        entity_id: code.clone(),
                        ..Default::default()
                    },
                )?;
                Ok(())
            })?;
            println!("lab {code} added");
            Ok(ExitCode::SUCCESS)
        }
        Command::User { command } => user_command(&settings, command),
        Command::Audit {
            command: AuditCommand::Verify,
        } => {
            let db = settings.open_existing(1)?;
            let report = crate::service::audit::verify(&db)?;
            println!(
                "{}",
                serde_json::to_string_pretty(&report).unwrap_or_default()
            );
            Ok(if report.ok {
                ExitCode::SUCCESS
            } else {
                ExitCode::from(1)
            })
        }
        Command::Backup { file } => crate::ops::cli::backup(&settings, &file),
        Command::Restore { file, force } => crate::ops::cli::restore(&settings, &file, force),
        Command::Retention { command } => crate::ops::cli::retention(&settings, command),
        Command::Report { command } => crate::service::reports_cli::run(&settings, command),
        Command::Stats(args) => crate::service::stats_cli::stats(&settings, args),
        Command::Chart(args) => crate::service::stats_cli::chart(&settings, args),
        Command::Demo {
            command: Some(DemoCommand::Generate(args)),
        } => crate::service::generate_cli::run(&settings, &args),
        Command::Demo { command: None } => {
            let db = settings.open(2)?;
            if !crate::service::demo::is_empty(&db)? {
                return Err(AppError::Config(
                    "the database is not empty; the demo county loads only into an empty database"
                        .into(),
                ));
            }
            println!("{}", crate::service::demo::seed(&db, chrono::Utc::now())?);
            Ok(ExitCode::SUCCESS)
        }
    }
}

fn user_command(settings: &StorageSettings, command: UserCommand) -> Result<ExitCode, AppError> {
    let db = settings.open(1)?;
    let now = chrono::Utc::now().timestamp_millis();
    match command {
        UserCommand::Add {
            username,
            role,
            lab,
            name,
        } => {
            let role = Role::from_code(&role).map_err(|e| AppError::Config(e.to_string()))?;
            db.transaction(|tx| {
                crate::service::users_admin::add_user(
                    tx,
                    "cli",
                    &username,
                    name.as_deref().unwrap_or(&username),
                    role,
                    lab.as_deref(),
                    now,
                )
            })?;
            println!("user {username} added");
        }
        UserCommand::Passwd { username } => {
            let user = user_by_name(&db, &username)?;
            let password = crate::service::users::read_password(std::io::stdin().lock())?;
            db.transaction(|tx| {
                crate::service::users::set_password(tx, user.id, &username, &password, "cli", now)
            })?;
            println!("password of {username} set");
        }
        UserCommand::RevokeTokens { username } => {
            let user = user_by_name(&db, &username)?;
            let n = db.transaction(|tx| {
                crate::service::users::revoke_tokens(tx, user.id, &username, "cli", now)
            })?;
            println!("{n} token(s) of {username} revoked; sessions ended");
        }
        UserCommand::Token {
            username,
            days,
            expires,
        } => {
            if !(1..=3650).contains(&days) {
                return Err(AppError::Config("--days must be between 1 and 3650".into()));
            }
            let expires_at = match &expires {
                Some(t) => crate::service::users::parse_expiry(t, now)?,
                None => now + days * 86_400_000,
            };
            let user = user_by_name(&db, &username)?;
            let token = db.transaction(|tx| {
                let t = auth::issue_token(tx, user.id, "cli", expires_at, now)?;
                crate::service::audit::append(
                    tx,
                    now,
                    crate::service::audit::NewEvent {
                        actor: "cli".into(),
                        action: "token.issue".into(),
                        entity: "user".into(),
                        entity_id: username.clone(),
                        ..Default::default()
                    },
                )?;
                Ok(t)
            })?;
            println!("{token}");
        }
        UserCommand::Disable { username } => {
            db.transaction(|tx| {
                crate::service::users_admin::disable_user(tx, "cli", &username, now)
            })?;
            println!("user {username} disabled");
        }
    }
    Ok(ExitCode::SUCCESS)
}
