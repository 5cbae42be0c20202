//! Any bytes as `gpu-loss eval --backend cpu` arguments (see ../eval_argv.rs), run in process
//! through the command's own entry point: a result or a typed error, never a panic.
//! tests/cli.rs replays the corpus through the binary.
#![no_main]

#[allow(dead_code)]
#[path = "../../src/cli/mod.rs"]
mod cli;
#[path = "../eval_argv.rs"]
mod eval_argv;

use clap::Parser;
use libfuzzer_sys::fuzz_target;
use std::sync::Once;

static SETUP: Once = Once::new();

fuzz_target!(|data: &[u8]| {
    SETUP.call_once(|| {
        let dir = std::env::temp_dir().join(format!("gpu-loss-fuzz-{}", std::process::id()));
        eval_argv::fixtures(&dir);
        // Relative paths, the only ones the arguments may hold, land in the scratch folder.
        std::env::set_current_dir(&dir).expect("the scratch folder");
    });
    // Each run starts from the same files, so a crash reproduces alone.
    eval_argv::fixtures(std::path::Path::new("."));
    if let Ok(args) = cli::Args::try_parse_from(eval_argv::argv(data)) {
        if let Err(e) = cli::run(args) {
            assert_eq!(e.to_string().lines().count(), 1, "{e}");
        }
    }
});
