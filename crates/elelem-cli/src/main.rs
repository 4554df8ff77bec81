//! `elelem`: the gateway and command line of Elelem (see `elelem --help`).

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Parser, Subcommand};
use elelem_cli::config::Config;
use elelem_cli::gateway::{self, Gateway};

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
    },
    /// Print the SHA-256 of a gateway key, for `[[keys]] sha256 = ...`.
    KeyHash {
        /// The key.
        secret: String,
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
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(runtime) => runtime,
        Err(error) => return fail(format!("cannot start the async runtime: {error}")),
    };
    match runtime.block_on(run(cli.command)) {
        Ok(code) => code,
        Err(message) => fail(message),
    }
}

fn fail(message: String) -> ExitCode {
    eprintln!("elelem: {message}");
    ExitCode::FAILURE
}

async fn run(command: Command) -> Result<ExitCode, String> {
    match command {
        Command::Serve { config, listen } => {
            let loaded = Config::load(&config).map_err(|e| e.to_string())?;
            let listen = listen.unwrap_or_else(|| loaded.gateway.listen.clone());
            let gateway = Gateway::new(loaded, Some(config)).map_err(|e| e.to_string())?;
            gateway::run(gateway, &listen).await?;
            Ok(ExitCode::SUCCESS)
        }
        Command::KeyHash { secret } => {
            println!("{}", gateway::sha256_hex(&secret));
            Ok(ExitCode::SUCCESS)
        }
    }
}
