//! The `gpu-loss` command. With no arguments it runs `report`.

mod cli;

use clap::error::ErrorKind;
use clap::Parser;
use std::process::ExitCode;

fn main() -> ExitCode {
    let args = match cli::Args::try_parse() {
        Ok(args) => args,
        Err(e) if e.use_stderr() => {
            // Any problem is one line on stderr: clap's first, without its usage block.
            let text = e.to_string();
            let first = text.lines().next().unwrap_or_default();
            let what = first.strip_prefix("error: ").unwrap_or(first);
            let hint = match e.kind() {
                ErrorKind::InvalidSubcommand | ErrorKind::MissingSubcommand => "",
                _ => " (see --help)",
            };
            eprintln!("gpu-loss: {what}{hint}");
            return ExitCode::from(2);
        }
        Err(e) => e.exit(), // --help, --version
    };
    match cli::run(args) {
        Ok(code) => code,
        Err(e) => {
            eprintln!("gpu-loss: {e}");
            ExitCode::from(2)
        }
    }
}
