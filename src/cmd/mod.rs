//! One module per command, each with one `run`. Commands print data on stdout and
//! progress and problems on stderr, and return the exit code.

mod approvals;
mod approve;
mod blast;
mod check;
pub(crate) mod deliver;
mod halt;
mod incident;
mod init;
mod preview;
mod report;
mod retry;
mod schedule;
mod script;
mod serve;
mod status;
mod worker;

use std::path::Path;
use std::process::ExitCode;

use crate::cli::{Cli, Command, SampleArgs};
use crate::config;
use crate::diag::{Diagnostic, Invalid};
use crate::project::Project;
use crate::template::Incident;

/// Run the command `cli` names. `Err` is printed by `main`: [`Invalid`] exits 2, anything else 1.
pub fn run(cli: Cli) -> anyhow::Result<ExitCode> {
    let config = cli.config.as_deref();
    match cli.command {
        Command::Init(args) => init::run(&args),
        Command::Check(args) => check::run(config, &args),
        Command::Preview(args) => preview::run(config, &args),
        Command::Approve(args) => approve::run(config, &args),
        Command::Approvals(args) => approvals::run(config, &args),
        Command::Report(args) => report::run(config, &args),
        Command::Script(args) => script::run(config, &args),
        Command::Blast(args) => blast::run(config, &args),
        Command::Status(args) => status::run(config, &args),
        Command::Incident(command) => incident::run(config, &command),
        Command::Schedule(args) => schedule::run(config, &args),
        Command::Worker(args) => worker::run(config, worker::Mode::Forever, &args),
        Command::RunDue(args) => worker::run(config, worker::Mode::Once, &args),
        Command::Serve(args) => serve::serve(config, &args),
        Command::Maintenance(args) => serve::maintenance(config, &args),
        Command::Page(args) => serve::page(config, &args),
        Command::Halt(args) => halt::halt(config, &args),
        Command::Resume(args) => halt::resume(config, &args),
        Command::Retry(args) => retry::run(config, &args),
    }
}

/// The async runtime of commands that use the store or the network.
pub fn runtime() -> anyhow::Result<tokio::runtime::Runtime> {
    Ok(tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?)
}

/// Who is running this command, for the timeline and the audit log.
pub fn actor() -> String {
    std::env::var("CRIER_ACTOR")
        .or_else(|_| std::env::var("USER"))
        .unwrap_or_else(|_| "unknown".into())
}

/// The exit code for bad input: nothing was sent.
pub const BAD_INPUT: u8 = 2;

/// Load the project named by `--config` / `CRIER_CONFIG` / `./crier.toml`.
pub fn load_project(explicit: Option<&Path>) -> Result<Project, Invalid> {
    let path = config::locate(explicit)?;
    Project::load(&path).map_err(Invalid)
}

/// The current time, or `CRIER_NOW` (RFC 3339) when set, to rehearse or to test at a fixed time.
pub fn now() -> Result<jiff::Timestamp, Invalid> {
    match std::env::var("CRIER_NOW") {
        Ok(v) => v.parse().map_err(|e| {
            Invalid::from(
                Diagnostic::new(format!("`CRIER_NOW={v}` is not an RFC 3339 time: {e}"))
                    .hint("use a time like `2026-11-26T14:05:00Z`, or unset `CRIER_NOW`"),
            )
        }),
        Err(_) => Ok(jiff::Timestamp::now()),
    }
}

/// The stand-in incident for `preview` and `script`.
pub fn sample_incident(args: &SampleArgs, now: jiff::Timestamp) -> Incident {
    let mut incident = Incident::sample(Some(&args.title), now);
    incident.status = args.status;
    incident.impact = args.impact;
    incident
}

/// Print `error` for the operator and return its exit code: 2 for bad input (every problem
/// listed, then how many), 1 for anything else (the whole chain of causes).
pub fn report(error: &anyhow::Error) -> ExitCode {
    if let Some(Invalid(problems)) = error.downcast_ref::<Invalid>() {
        eprintln!("{problems}");
        let n = problems.len();
        if n > 1 {
            eprintln!("\n{n} problems; nothing was sent. Fix them and run the command again.");
        }
        ExitCode::from(BAD_INPUT)
    } else {
        eprintln!("error: {error:#}");
        ExitCode::FAILURE
    }
}

/// The operator's `--set` values checked against `kind`'s slots.
pub fn slot_values(
    project: &Project,
    kind: &crate::template::Kind,
    sets: &[String],
    fill: crate::template::Fill,
    now: jiff::Timestamp,
) -> Result<crate::template::SlotValues, Invalid> {
    let given = crate::template::slots::parse_assignments(sets).map_err(Invalid)?;
    crate::template::slots::resolve(&kind.name, &kind.slots, &given, fill, project.clock(now))
        .map_err(Invalid)
}

/// The warning `preview` and `script` print for wording that is not approved as it is.
pub fn approval_banner(kind: &str, state: &crate::template::ApprovalState) -> Option<String> {
    (!state.is_approved()).then(|| {
        format!(
            "NOT APPROVED: `{kind}` ({}). This is a preview; `crier blast` refuses it until `crier approve {kind} --by NAME`.",
            state.label()
        )
    })
}

/// One kind in a list: `ok ` when approved as it is now, `!! ` when not.
pub fn approval_line(kind: &str, state: &crate::template::ApprovalState) -> String {
    let mark = if state.is_approved() { "ok " } else { "!! " };
    format!("{mark} {kind:<20} {}", state.label())
}

/// What `check` and `approvals` say when some kinds are not approved.
pub fn unapproved_note(count: usize) -> String {
    let (kinds, them) = match count {
        1 => ("1 kind is".to_string(), "it"),
        n => (format!("{n} kinds are"), "them"),
    };
    format!(
        "{kinds} not approved as written; `crier blast` refuses {them} until `crier approve KIND --by NAME`."
    )
}

/// Flags a caller sets up once: stop on Ctrl-C / SIGTERM.
pub fn stop_on_signals() -> std::sync::Arc<std::sync::atomic::AtomicBool> {
    stop_on_signals_saying(
        "stopping: finishing the messages in flight; run the same command again to continue",
    )
}

/// [`stop_on_signals`], printing `message` when a signal comes.
pub fn stop_on_signals_saying(
    message: &'static str,
) -> std::sync::Arc<std::sync::atomic::AtomicBool> {
    let stop = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    let flag = stop.clone();
    tokio::spawn(async move {
        let ctrl_c = tokio::signal::ctrl_c();
        #[cfg(unix)]
        {
            let mut term =
                tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())
                    .expect("SIGTERM can be watched");
            tokio::select! {
                _ = ctrl_c => {}
                _ = term.recv() => {}
            }
        }
        #[cfg(not(unix))]
        let _ = ctrl_c.await;
        flag.store(true, std::sync::atomic::Ordering::Relaxed);
        eprintln!("\n{message}");
    });
    stop
}
