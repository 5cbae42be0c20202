//! Command-line interface: subcommands and their arguments.

mod adapters;
mod eval;
mod list;
mod report;

use clap::{Parser, Subcommand};
use gpu_loss::Result;
use std::process::ExitCode;

#[derive(Parser, Debug)]
#[command(
    name = "gpu-loss",
    version,
    about = "Loss functions as WGSL compute kernels, checked against a float64 reference"
)]
pub struct Args {
    #[command(subcommand)]
    command: Option<Command>,
}

#[derive(Subcommand, Debug)]
enum Command {
    /// Every loss on every adapter against the CPU reference: errors, pass/fail, time, GB/s,
    /// beside the adapter's own buffer-copy bandwidth (the default command).
    Report(report::ReportArgs),
    /// The adapters wgpu finds, with the features and limits that matter here.
    Adapters,
    /// One loss on tensors from .npy files, on a GPU or the float64 reference; JSON on stdout.
    Eval(eval::EvalArgs),
    /// The catalogue: each loss's tensors, parameters and reductions.
    List(list::ListArgs),
}

pub fn run(args: Args) -> Result<ExitCode> {
    match args
        .command
        .unwrap_or(Command::Report(report::ReportArgs::default()))
    {
        Command::Report(a) => report::run(&a),
        Command::Adapters => adapters::run(),
        Command::Eval(a) => eval::run(&a),
        Command::List(a) => list::run(&a),
    }
}
