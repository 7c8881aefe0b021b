//! The `crier` binary: parse the command line, run the command, map the outcome to an exit code.

use std::process::ExitCode;

use clap::Parser;

fn main() -> ExitCode {
    let cli = crier::cli::Cli::parse();
    match crier::cmd::run(cli) {
        Ok(code) => code,
        Err(error) => crier::cmd::report(&error),
    }
}
