//! The `crier` binary: parse the command line, run the command, map the outcome to an exit code.

use std::process::ExitCode;

use clap::Parser;

/// jemalloc: a blast allocates and frees on several threads (render, HTTP, journal); glibc's
/// allocator spent about 12% of a webhook blast's instructions there (BENCHMARKS.md).
#[global_allocator]
static ALLOCATOR: tikv_jemallocator::Jemalloc = tikv_jemallocator::Jemalloc;

fn main() -> ExitCode {
    let cli = crier::cli::Cli::parse();
    match crier::cmd::run(cli) {
        Ok(code) => code,
        Err(error) => crier::cmd::report(&error),
    }
}
