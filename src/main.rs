//! The `gpu-loss` command. With no arguments it runs `report`.

mod cli;

use clap::Parser;
use std::process::ExitCode;

fn main() -> ExitCode {
    let args = cli::Args::parse();
    match cli::run(args) {
        Ok(code) => code,
        Err(e) => {
            eprintln!("gpu-loss: {e}");
            ExitCode::from(2)
        }
    }
}
