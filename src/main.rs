//! The `crier` binary: parse the command line, run the command, map the outcome to an exit code.

use std::process::ExitCode;

use clap::Parser;

/// jemalloc: a blast allocates and frees on several threads (render, HTTP, journal); glibc's
/// allocator spent about 12% of a webhook blast's instructions there (BENCHMARKS.md).
#[global_allocator]
static ALLOCATOR: tikv_jemallocator::Jemalloc = tikv_jemallocator::Jemalloc;

/// jemalloc's options, read once at start: freed memory goes back to the system after 1 s
/// instead of 10 s, which kept an email blast's peak at about 91 MB instead of 72 MB (same CPU).
#[unsafe(export_name = "_rjem_malloc_conf")]
static MALLOC_CONF: &[u8; 37] = b"dirty_decay_ms:1000,muzzy_decay_ms:0\0";

fn main() -> ExitCode {
    // `crier incident list | head`: when the reader goes away, crier ends quietly, as `cat`
    // does, instead of panicking on the closed pipe. Sockets are not affected: Rust sends on
    // them with MSG_NOSIGNAL.
    #[cfg(unix)]
    // SAFETY: called first, before any thread exists; SIG_DFL is a valid disposition.
    unsafe {
        libc::signal(libc::SIGPIPE, libc::SIG_DFL);
    }
    let cli = crier::cli::Cli::parse();
    match crier::cmd::run(cli) {
        Ok(code) => code,
        Err(error) => crier::cmd::report(&error),
    }
}
