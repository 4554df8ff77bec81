//! The command line's subcommands (other than `serve`): `chat`, `models`,
//! `stats`, `batch` and `keys`, and what they share.

pub mod batch;
pub mod chat;
pub mod keys;
pub mod models;
pub mod stats;
pub mod table;

use std::path::Path;

use elelem::{Elelem, Usd};

use crate::client::{self, Shared};
use crate::config::Config;

/// The configuration of a command: `--config FILE` if given, else
/// `elelem.toml` in the current directory if there is one, else the defaults
/// (keys from the environment and `~/.config/elelem/keys`).
pub fn load_config(path: Option<&Path>) -> Result<Config, String> {
    match path {
        Some(path) => Config::load(path).map_err(|e| e.to_string()),
        None if Path::new("elelem.toml").is_file() => {
            Config::load("elelem.toml").map_err(|e| e.to_string())
        }
        None => Ok(Config::default()),
    }
}

/// The client of a command, recording into the configured ledger.
pub fn open_client(config: &Config) -> Result<(Elelem, Shared), String> {
    let shared = Shared::open(config).map_err(|e| e.to_string())?;
    let elelem = client::build(config, &shared).map_err(|e| e.to_string())?;
    Ok((elelem, shared))
}

/// Dollars for people: exact, without trailing zeros, at least two decimals.
///
/// ```
/// use elelem_cli::commands::dollars;
/// assert_eq!(dollars("0.000012".parse().unwrap()), "$0.000012");
/// assert_eq!(dollars("3".parse().unwrap()), "$3.00");
/// assert_eq!(dollars("-1.5".parse().unwrap()), "-$1.50");
/// ```
pub fn dollars(amount: Usd) -> String {
    let text = amount.to_string();
    let (sign, digits) = match text.strip_prefix('-') {
        Some(rest) => ("-", rest.to_owned()),
        None => ("", text),
    };
    let mut digits = digits.trim_end_matches('0').to_owned();
    if let Some(dot) = digits.find('.') {
        while digits.len() - dot - 1 < 2 {
            digits.push('0');
        }
    }
    format!("{sign}{digits}")
}

/// An error message on one line.
pub fn one_line(text: &str) -> String {
    text.split_whitespace().collect::<Vec<_>>().join(" ")
}
