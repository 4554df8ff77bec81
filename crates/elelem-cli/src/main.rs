//! `elelem`: the gateway and command line of Elelem (see `elelem --help`).

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Parser, Subcommand};
use elelem_cli::commands::{self, batch, chat, keys, models, stats};
use elelem_cli::config::{BudgetSection, Config};
use elelem_cli::gateway::{self, Gateway};

/// The program's allocator (see the measurements in BENCHMARKS.md, "Session
/// 7: serve").
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

#[derive(Debug, Parser)]
#[command(
    name = "elelem",
    version,
    about = "One API over many LLM providers: an OpenAI-compatible gateway and a command line"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Serve the OpenAI-compatible gateway.
    Serve {
        /// The configuration file.
        #[arg(long, default_value = "elelem.toml")]
        config: PathBuf,
        /// The address to listen on (overrides `[gateway] listen`).
        #[arg(long)]
        listen: Option<String>,
        /// The threads answering requests (overrides `[gateway] workers`;
        /// default: one per core).
        #[arg(long)]
        workers: Option<usize>,
    },
    /// Ask a model once.
    Chat {
        /// `provider:model` (or `virtual:...`).
        model: String,
        /// The user message.
        prompt: String,
        /// A system message.
        #[arg(long)]
        system: Option<String>,
        /// Ask for JSON (parsed and printed pretty).
        #[arg(long)]
        json: bool,
        /// A JSON schema file the answer must satisfy (implies --json).
        #[arg(long)]
        schema: Option<PathBuf>,
        /// Print the answer as it arrives.
        #[arg(long)]
        stream: bool,
        /// Tags the cost is counted under.
        #[arg(long = "tag")]
        tags: Vec<String>,
        /// The configuration file (default: ./elelem.toml if present).
        #[arg(long)]
        config: Option<PathBuf>,
    },
    /// List the catalogue's models.
    Models {
        /// Only this provider's.
        #[arg(long)]
        provider: Option<String>,
        /// Only models with native JSON schema output.
        #[arg(long)]
        json_schema: bool,
        /// Only models that take images.
        #[arg(long)]
        vision: bool,
        /// JSON instead of a table.
        #[arg(long)]
        json: bool,
        /// The configuration file (default: ./elelem.toml if present).
        #[arg(long)]
        config: Option<PathBuf>,
    },
    /// Spend and calls read from a ledger.
    Stats {
        /// The ledger: a SQLite file or a postgres:// URL.
        #[arg(long)]
        ledger: String,
        /// Only this tag's calls.
        #[arg(long)]
        tag: Option<String>,
        /// Only calls from this UTC day on (YYYY-MM-DD).
        #[arg(long)]
        since: Option<String>,
        /// Group by model, provider, tag or day.
        #[arg(long, value_enum)]
        by: Option<stats::GroupBy>,
        /// The Python Elelem statistics dictionary as JSON.
        #[arg(long, conflicts_with = "csv")]
        json: bool,
        /// CSV.
        #[arg(long)]
        csv: bool,
    },
    /// Answer a JSON-lines file of requests.
    Batch {
        /// The requests: one OpenAI chat body per line.
        input: PathBuf,
        /// Where the answers go (one JSON line per request, as they finish).
        #[arg(long)]
        out: PathBuf,
        /// Requests in flight at once.
        #[arg(long, default_value_t = 4)]
        concurrency: usize,
        /// Stop starting requests once this many dollars would be passed.
        #[arg(long)]
        budget: Option<String>,
        /// Skip the lines already answered in --out.
        #[arg(long)]
        resume: bool,
        /// The configuration file (default: ./elelem.toml if present).
        #[arg(long)]
        config: Option<PathBuf>,
    },
    /// Gateway keys in the PostgreSQL ledger's database (for gateways with
    /// `[gateway] database_keys = true`).
    Keys {
        #[command(subcommand)]
        action: KeysAction,
    },
    /// Print the SHA-256 of a gateway key, for `[[keys]] sha256 = ...`.
    KeyHash {
        /// The key.
        secret: String,
    },
}

/// Where the keys are: `--db`, else the configuration's `[ledger] postgres`.
#[derive(Debug, clap::Args)]
struct KeysDb {
    /// The PostgreSQL database (`postgres://...` or `host=... dbname=...`).
    #[arg(long)]
    db: Option<String>,
    /// The configuration file whose `[ledger] postgres` to use without --db
    /// (default: ./elelem.toml if present).
    #[arg(long)]
    config: Option<PathBuf>,
}

impl KeysDb {
    fn url(&self) -> Result<String, String> {
        if let Some(db) = &self.db {
            return Ok(db.clone());
        }
        let config = commands::load_config(self.config.as_deref())?;
        config.postgres_url().map(str::to_owned).ok_or_else(|| {
            "give the keys' database with --db postgres://... (or `[ledger] postgres` in the configuration)".to_owned()
        })
    }
}

#[derive(Debug, Subcommand)]
enum KeysAction {
    /// Create a key; it is printed once (only its SHA-256 is stored).
    Add {
        /// The key's name (never reused).
        name: String,
        /// A tag added to every request of the key (repeatable).
        #[arg(long = "tag")]
        tags: Vec<String>,
        /// A model the key may use, exact or `prefix*` (repeatable; none: all).
        #[arg(long = "model")]
        models: Vec<String>,
        /// The key's budget in dollars (`"20.00"`).
        #[arg(long)]
        budget: Option<String>,
        /// The budget's window: total, day or month.
        #[arg(long)]
        budget_window: Option<String>,
        /// The most requests per minute.
        #[arg(long)]
        rpm: Option<u32>,
        #[command(flatten)]
        db: KeysDb,
    },
    /// List the keys (names and settings; never a key).
    List {
        /// JSON instead of a table.
        #[arg(long)]
        json: bool,
        #[command(flatten)]
        db: KeysDb,
    },
    /// Revoke a key: every gateway refuses it from its next read of the
    /// database (`keys_poll_secs`, or SIGHUP).
    Revoke {
        /// The key's name.
        name: String,
        #[command(flatten)]
        db: KeysDb,
    },
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_env("ELELEM_LOG")
                .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("warn")),
        )
        .with_writer(std::io::stderr)
        .init();
    let result = match cli.command {
        Command::Serve {
            config,
            listen,
            workers,
        } => serve(config, listen, workers),
        command => runtime(None).and_then(|runtime| runtime.block_on(run(command))),
    };
    match result {
        Ok(code) => code,
        Err(message) => fail(message),
    }
}

/// The async runtime: `workers` worker threads, or one per core. Its threads
/// are named `elelem-runtime`.
fn runtime(workers: Option<usize>) -> Result<tokio::runtime::Runtime, String> {
    let mut builder = tokio::runtime::Builder::new_multi_thread();
    builder.thread_name("elelem-runtime");
    if let Some(workers) = workers {
        builder.worker_threads(workers);
    }
    builder
        .enable_all()
        .build()
        .map_err(|error| format!("cannot start the async runtime: {error}"))
}

/// `elelem serve`: the configuration is read before the runtime starts, since
/// it says how many worker threads the runtime has.
fn serve(
    config: PathBuf,
    listen: Option<String>,
    workers: Option<usize>,
) -> Result<ExitCode, String> {
    let loaded = Config::load(&config).map_err(|e| e.to_string())?;
    let workers = loaded.gateway.worker_threads(workers)?;
    let listen = listen.unwrap_or_else(|| loaded.gateway.listen.clone());
    runtime(Some(workers))?.block_on(async move {
        let gateway = Gateway::new(loaded, Some(config)).map_err(|e| e.to_string())?;
        tracing::info!(workers, "gateway worker threads");
        gateway::run(gateway, &listen).await?;
        Ok(ExitCode::SUCCESS)
    })
}

fn fail(message: String) -> ExitCode {
    eprintln!("elelem: {}", commands::one_line(&message));
    ExitCode::FAILURE
}

/// Every command but `serve` (which builds its own runtime: see [`serve`]).
async fn run(command: Command) -> Result<ExitCode, String> {
    match command {
        Command::Serve { .. } => {
            Err("`elelem serve` cannot run inside another runtime; this is a bug".into())
        }
        Command::Chat {
            model,
            prompt,
            system,
            json,
            schema,
            stream,
            tags,
            config,
        } => {
            let config = commands::load_config(config.as_deref())?;
            let (elelem, shared) = commands::open_client(&config)?;
            let args = chat::ChatArgs {
                model,
                prompt,
                system,
                json,
                schema,
                stream,
                tags,
            };
            let result = chat::run(&elelem, &args).await;
            close_ledger(&shared);
            result.map(|()| ExitCode::SUCCESS)
        }
        Command::Models {
            provider,
            json_schema,
            vision,
            json,
            config,
        } => {
            let config = commands::load_config(config.as_deref())?;
            let (elelem, _) = commands::open_client(&config)?;
            let args = models::ModelsArgs {
                provider,
                json_schema,
                vision,
                json,
            };
            print!("{}", models::render(&elelem, &args));
            Ok(ExitCode::SUCCESS)
        }
        Command::Stats {
            ledger,
            tag,
            since,
            by,
            json,
            csv,
        } => {
            let format = match (json, csv) {
                (true, _) => stats::Format::Json,
                (_, true) => stats::Format::Csv,
                _ => stats::Format::Table,
            };
            let args = stats::StatsArgs {
                ledger,
                tag,
                since,
                by,
                format,
            };
            let text = tokio::task::spawn_blocking(move || stats::run(&args))
                .await
                .map_err(|e| e.to_string())??;
            print!("{text}");
            Ok(ExitCode::SUCCESS)
        }
        Command::Batch {
            input,
            out,
            concurrency,
            budget,
            resume,
            config,
        } => {
            let mut config = commands::load_config(config.as_deref())?;
            if let Some(limit) = budget {
                let section = BudgetSection {
                    limit_usd: limit,
                    tag: None,
                    window: None,
                };
                section
                    .budget()
                    .map_err(|e| e.replace("[[budgets]]", "--budget"))?;
                config.budgets.push(section);
            }
            let (elelem, shared) = commands::open_client(&config)?;
            let args = batch::BatchArgs {
                input,
                out: out.clone(),
                concurrency,
                resume,
            };
            let stop = async {
                let _ = tokio::signal::ctrl_c().await;
            };
            let report = batch::run(&elelem, &args, stop).await;
            close_ledger(&shared);
            let report = report?;
            eprintln!(
                "batch: {} answered, {} failed, {} skipped (already answered), spent {} -> {}",
                report.answered,
                report.failed,
                report.skipped,
                commands::dollars(report.spent),
                out.display()
            );
            if report.interrupted {
                return Err(format!(
                    "interrupted: what finished is in {}; run again with --resume to answer the rest",
                    out.display()
                ));
            }
            if report.budget_reached {
                return Err(format!(
                    "the --budget was reached with {} request(s) not answered; raise it and run again with --resume",
                    report.not_started
                ));
            }
            if report.failed > 0 {
                return Err(format!(
                    "{} request(s) failed (their errors are in {}); fix them or run again with --resume to retry",
                    report.failed,
                    out.display()
                ));
            }
            Ok(ExitCode::SUCCESS)
        }
        Command::Keys { action } => {
            let text = tokio::task::spawn_blocking(move || keys_command(action))
                .await
                .map_err(|e| e.to_string())??;
            print!("{text}");
            Ok(ExitCode::SUCCESS)
        }
        Command::KeyHash { secret } => {
            println!("{}", gateway::sha256_hex(&secret));
            Ok(ExitCode::SUCCESS)
        }
    }
}

/// `elelem keys ...`: what to print on stdout.
fn keys_command(action: KeysAction) -> Result<String, String> {
    match action {
        KeysAction::Add {
            name,
            tags,
            models,
            budget,
            budget_window,
            rpm,
            db,
        } => {
            let args = keys::AddArgs {
                name: name.clone(),
                tags,
                models,
                budget,
                budget_window,
                requests_per_minute: rpm,
            };
            let secret = keys::add(&db.url()?, &args)?;
            eprintln!("elelem: added the gateway key {name:?}; it is shown once (only its SHA-256 is stored): keep it now");
            Ok(format!("{secret}\n"))
        }
        KeysAction::List { json, db } => keys::list(&db.url()?, json),
        KeysAction::Revoke { name, db } => {
            keys::revoke(&db.url()?, &name)?;
            eprintln!("elelem: revoked the gateway key {name:?}; gateways refuse it from their next read of the database");
            Ok(String::new())
        }
    }
}

/// Writes what the ledger has queued before the program exits.
fn close_ledger(shared: &elelem_cli::client::Shared) {
    if let Err(error) = shared.close() {
        eprintln!("elelem: the ledger could not be flushed: {error}");
    }
}
