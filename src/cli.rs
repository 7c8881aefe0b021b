//! The command line: every command, its options, and an example in its `--help`.

use std::path::PathBuf;

use clap::{Args, Parser, Subcommand};

use crate::script;
use crate::template::{Impact, Status};

/// crier: tell customers what is going on, on every channel, in approved words.
#[derive(Debug, Parser)]
#[command(
    name = "crier",
    version,
    about = "Tell customers what is going on when the product is down: one approved source, every channel, the call script.",
    after_help = "Start with `crier init DIR`, then `crier check` and `crier preview update`.\n\
                  Exit codes: 0 ok, 1 failed, 2 bad input (nothing was sent)."
)]
pub struct Cli {
    /// The project's crier.toml (default: ./crier.toml).
    #[arg(long, global = true, env = "CRIER_CONFIG", value_name = "PATH")]
    pub config: Option<PathBuf>,

    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Write a working project: crier.toml, the five approved kinds, layouts, a file channel,
    /// example channels and a sample audience.
    #[command(after_help = "Example:\n  crier init status-comms && cd status-comms && crier check")]
    Init(InitArgs),

    /// Check everything: config, channels, secrets, every kind rendered for every configured
    /// channel with each slot's example. Lists every problem; exit 2 if any.
    #[command(after_help = "Example:\n  crier check\n  crier check --json")]
    Check(CheckArgs),

    /// Show a kind rendered for every channel type (configured or not), with sample values
    /// for any slot you do not set.
    #[command(
        after_help = "Examples:\n  crier preview update --set progress=\"We found the cause and are deploying a fix.\"\n  crier preview outage-notice --title \"Checkout is failing\" --channel slack\n  crier preview update --out out/"
    )]
    Preview(PreviewArgs),

    /// Record that NAME approved the wording of KIND as it is now (file and layouts).
    #[command(after_help = "Example:\n  crier approve update --by \"Dana Ortiz (Comms)\"")]
    Approve(ApproveArgs),

    /// List every kind as approved, changed since approval, or never approved.
    #[command(after_help = "Example:\n  crier approvals\n  crier approvals --json")]
    Approvals(JsonArgs),

    /// Send an approved kind to every customer channel: preflight, plan, send, report.
    /// Re-running the same command continues it and never sends anything twice.
    #[command(
        after_help = "Examples:\n  crier blast outage-notice --incident INC-42 --title \"Checkout is failing\" --set affected=\"complete a checkout\" --set next_update=\"in 30 minutes\"\n  crier blast update --incident INC-42 --set progress=\"We found the cause.\" --set next_update=\"in 30 minutes\" --channels email,ops-slack --yes\n  crier blast update --incident INC-42 --set progress=\"…\" --set next_update=15:30 --dry-run"
    )]
    Blast(BlastArgs),

    /// Show what was sent for an incident's latest update: counts per channel and state,
    /// failures with their reasons, rows of the audience that could not be used.
    #[command(after_help = "Examples:\n  crier status INC-42\n  crier status --json")]
    Status(StatusArgs),

    /// Incidents and their timelines: every update, who approved and sent it, and what it
    /// reached on each channel.
    #[command(
        subcommand,
        after_help = "Examples:\n  crier incident list\n  crier incident show INC-42\n  crier incident show INC-42 --json"
    )]
    Incident(IncidentCommand),

    /// Schedule a blast for later (read in the company's time zone), list schedules, or cancel
    /// one. The preflight runs now and again when due; `crier worker` or `crier run-due` sends it.
    #[command(
        args_conflicts_with_subcommands = true,
        after_help = "Examples:\n  crier schedule follow-up --incident INC-42 --at \"tomorrow 10:00\" --set summary_of_cause=\"…\" --set changes=\"…\"\n  crier schedule update --incident INC-42 --at +30m --set progress=\"…\" --set next_update=\"in 30 minutes\"\n  crier schedule list\n  crier schedule cancel 3"
    )]
    Schedule(ScheduleArgs),

    /// Run continuously: send due schedules, finish retries of finished blasts, remind the
    /// people on duty of promised updates. Stops cleanly on SIGTERM or Ctrl-C.
    #[command(
        after_help = "Examples:\n  crier worker\n  crier worker --metrics 127.0.0.1:9101\n\nA systemd unit and a cron line are in the README."
    )]
    Worker(WorkerArgs),

    /// One pass of `crier worker`, for cron or a systemd timer; safe while a worker runs.
    #[command(
        after_help = "Example (cron, every minute):\n  * * * * * cd /srv/status-comms && crier run-due"
    )]
    RunDue(WorkerArgs),

    /// Serve the public status page (`/`), its JSON (`/v1/status.json`), `/maintenance` and
    /// `/healthz` until SIGTERM or Ctrl-C.
    #[command(after_help = "Examples:\n  crier serve\n  crier serve --listen 0.0.0.0:8080")]
    Serve(ServeArgs),

    /// Turn the maintenance page on or off: `/` shows it and `/maintenance` answers 503 with
    /// `Retry-After`, for a load balancer to point at.
    #[command(
        after_help = "Examples:\n  crier maintenance on --incident INC-42\n  crier maintenance off"
    )]
    Maintenance(MaintenanceArgs),

    /// Write the status page (`index.html`) and `status.json` as static files, to host
    /// anywhere when your own servers are down.
    #[command(after_help = "Example:\n  crier page --out site/")]
    Page(PageArgs),

    /// Stop all sending (for one incident, or everything) within a second, from any terminal.
    #[command(after_help = "Examples:\n  crier halt INC-42\n  crier halt")]
    Halt(ScopeArgs),

    /// Lift a halt and finish sending the incident's latest update.
    #[command(after_help = "Examples:\n  crier resume INC-42\n  crier resume")]
    Resume(ScopeArgs),

    /// Send again what failed for good, after you fixed the cause (a wrong address, a full
    /// mailbox, an expired token).
    #[command(after_help = "Example:\n  crier retry INC-42 --failed")]
    Retry(RetryArgs),

    /// The look-back report of one incident for the post-incident review: time to the first
    /// notice, every update with what it reached per channel and its failures, whether each
    /// promised update came on time, the follow-up, totals per channel.
    #[command(
        after_help = "Examples:\n  crier report INC-42 > INC-42-report.md\n  crier report INC-42 --format html > INC-42-report.html\n  crier report INC-42 --format json"
    )]
    Report(ReportArgs),

    /// Print the call script support staff read aloud, from the same source as the message.
    #[command(
        after_help = "Examples:\n  crier script --incident INC-42\n  crier script update --set progress=\"We found the cause.\" --set next_update=\"in 30 minutes\"\n  crier script outage-notice --title \"Checkout is failing\" --set affected=\"complete a checkout\" --set next_update=\"in 30 minutes\" --format html > script.html"
    )]
    Script(ScriptArgs),
}

#[derive(Debug, Args)]
pub struct BlastArgs {
    /// The message kind: a file name in templates/ without `.toml`.
    pub kind: String,
    /// The incident this update belongs to, like `INC-42` (created on first use).
    #[arg(long, value_name = "ID")]
    pub incident: String,
    /// The incident's title, in the customer's terms (required for a new incident).
    #[arg(long)]
    pub title: Option<String>,
    /// Set the incident's status.
    #[arg(long, value_enum)]
    pub status: Option<Status>,
    /// Set the incident's impact.
    #[arg(long, value_enum)]
    pub impact: Option<Impact>,
    /// A slot value, NAME=VALUE; repeat for each slot. Unset slots use their default.
    #[arg(long = "set", value_name = "NAME=VALUE")]
    pub sets: Vec<String>,
    /// Only recipients in this segment (the `segments` column of the audience).
    #[arg(long, value_name = "SEGMENT")]
    pub audience: Option<String>,
    /// Only these channels (names of files in channels/), comma-separated. Default: every
    /// customer channel.
    #[arg(long, value_delimiter = ',', value_name = "NAMES")]
    pub channels: Option<Vec<String>>,
    /// When the next customer update is due (`90s`, `30m`, `2h`); fills the kind's
    /// `next_update` slot. Default: `--set next_update=…` or the slot's default, else
    /// `[promises] default` (60m) from now, which then fills the slot.
    #[arg(long, value_name = "DURATION")]
    pub next_update_in: Option<String>,
    /// A slot value of the follow-up this resolution schedules, NAME=VALUE; repeat for each.
    #[arg(long = "follow-up-set", value_name = "NAME=VALUE")]
    pub follow_up_sets: Vec<String>,
    /// Do not schedule the follow-up when this resolves the incident.
    #[arg(long)]
    pub no_follow_up: bool,
    /// Check everything and show what would be sent; send nothing.
    #[arg(long)]
    pub dry_run: bool,
    /// Write the journal (one row per message) and stop; `crier resume ID` sends it later.
    #[arg(long, conflicts_with = "dry_run")]
    pub plan_only: bool,
    /// Write the journal and leave the sending to `crier worker`: every worker on this
    /// journal sends it (on PostgreSQL, several at once, each its own share).
    #[arg(long, conflicts_with_all = ["dry_run", "plan_only"])]
    pub enqueue_only: bool,
    /// Read the whole audience first and send nothing if any row cannot be used or any
    /// address is refused (without it, those are skipped and reported, and the rest is sent).
    #[arg(long)]
    pub strict: bool,
    /// Do not ask for confirmation.
    #[arg(long, short = 'y')]
    pub yes: bool,
}

#[derive(Debug, Args)]
pub struct ScheduleArgs {
    #[command(subcommand)]
    pub command: Option<ScheduleCommand>,
    #[command(flatten)]
    pub new: NewScheduleArgs,
}

#[derive(Debug, Subcommand)]
pub enum ScheduleCommand {
    /// Every schedule with its kind, incident, due time and state (pending, sending, sent,
    /// cancelled, failed).
    #[command(after_help = "Examples:\n  crier schedule list\n  crier schedule list --json")]
    List(ScheduleListArgs),
    /// Call off a pending schedule.
    #[command(after_help = "Example:\n  crier schedule cancel 3")]
    Cancel(CancelArgs),
}

#[derive(Debug, Args)]
pub struct NewScheduleArgs {
    /// The message kind: a file name in templates/ without `.toml`.
    pub kind: Option<String>,
    /// The incident it belongs to.
    #[arg(long, value_name = "ID")]
    pub incident: Option<String>,
    /// When: `tomorrow 10:00`, `next monday 09:00`, `in 24h`, `+2h` or RFC 3339, in the
    /// company's time zone.
    #[arg(long, value_name = "WHEN")]
    pub at: Option<String>,
    /// A slot value, NAME=VALUE; repeat for each slot.
    #[arg(long = "set", value_name = "NAME=VALUE")]
    pub sets: Vec<String>,
    /// Only recipients in this segment.
    #[arg(long, value_name = "SEGMENT")]
    pub audience: Option<String>,
    /// Only these channels, comma-separated. Default: every customer channel when it is due.
    #[arg(long, value_delimiter = ',', value_name = "NAMES")]
    pub channels: Option<Vec<String>>,
}

#[derive(Debug, Args)]
pub struct ScheduleListArgs {
    /// Only this incident's schedules.
    #[arg(long, value_name = "ID")]
    pub incident: Option<String>,
    /// Print the result as JSON on stdout.
    #[arg(long)]
    pub json: bool,
}

#[derive(Debug, Args)]
pub struct CancelArgs {
    /// The schedule's id, as `crier schedule list` shows it.
    pub id: i64,
}

#[derive(Debug, Args)]
pub struct WorkerArgs {
    /// Also serve `/metrics` (the journal's counts and this worker's own attempts) and
    /// `/healthz` on this address, for Prometheus to scrape each worker.
    #[arg(long, value_name = "ADDR")]
    pub metrics: Option<std::net::SocketAddr>,
}

#[derive(Debug, Args)]
pub struct ServeArgs {
    /// Address and port to listen on (default: `[server] listen`, 127.0.0.1:8080).
    #[arg(long, value_name = "ADDR")]
    pub listen: Option<std::net::SocketAddr>,
}

#[derive(Debug, Args)]
pub struct MaintenanceArgs {
    /// `on` or `off`.
    pub switch: Switch,
    /// The incident whose latest update the maintenance page shows (default: the open one
    /// started last).
    #[arg(long, value_name = "ID")]
    pub incident: Option<String>,
}

/// On or off.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Switch {
    On,
    Off,
}

#[derive(Debug, Args)]
pub struct PageArgs {
    /// The folder to write `index.html` and `status.json` into (created if missing).
    #[arg(long, value_name = "DIR")]
    pub out: PathBuf,
}

#[derive(Debug, Args)]
pub struct StatusArgs {
    /// The incident (default: the one updated last).
    pub incident: Option<String>,
    /// Print the result as JSON on stdout.
    #[arg(long)]
    pub json: bool,
}

#[derive(Debug, Subcommand)]
pub enum IncidentCommand {
    /// Every incident, the most recently started first: status, impact, title, start, updates.
    #[command(after_help = "Examples:\n  crier incident list\n  crier incident list --json")]
    List(ListArgs),
    /// One incident's timeline: each update with its kind, status, values, approved wording,
    /// who sent it and when, and its deliveries per channel.
    #[command(
        after_help = "Examples:\n  crier incident show INC-42\n  crier incident show INC-42 --json"
    )]
    Show(ShowArgs),
}

#[derive(Debug, Args)]
pub struct ListArgs {
    /// Print the result as JSON on stdout.
    #[arg(long)]
    pub json: bool,
}

#[derive(Debug, Args)]
pub struct ShowArgs {
    /// The incident, like `INC-42`.
    pub incident: String,
    /// Print the result as JSON on stdout.
    #[arg(long)]
    pub json: bool,
}

#[derive(Debug, Args)]
pub struct ScopeArgs {
    /// The incident (default: every incident).
    pub incident: Option<String>,
}

#[derive(Debug, Args)]
pub struct RetryArgs {
    /// The incident whose latest update to retry.
    pub incident: String,
    /// Requeue the messages that failed for good (and those skipped as in doubt).
    #[arg(long)]
    pub failed: bool,
    /// Do not ask for confirmation.
    #[arg(long, short = 'y')]
    pub yes: bool,
}

#[derive(Debug, Args)]
pub struct InitArgs {
    /// Folder to create the project in (created if missing; must not hold a crier.toml).
    #[arg(default_value = ".")]
    pub dir: PathBuf,
}

#[derive(Debug, Args)]
pub struct JsonArgs {
    /// Print the result as JSON on stdout.
    #[arg(long)]
    pub json: bool,
}

#[derive(Debug, Args)]
pub struct CheckArgs {
    /// Print the result as JSON on stdout.
    #[arg(long)]
    pub json: bool,
}

/// The facts a rendering stands on when there is no incident yet.
#[derive(Debug, Clone, Args)]
pub struct SampleArgs {
    /// The incident title to render with.
    #[arg(long, default_value = "Checkout is failing")]
    pub title: String,
    /// The incident status to render with.
    #[arg(long, value_enum, default_value = "investigating")]
    pub status: Status,
    /// The incident impact to render with.
    #[arg(long, value_enum, default_value = "major")]
    pub impact: Impact,
    /// A slot value, NAME=VALUE; repeat for each slot. `preview` fills unset slots with their
    /// default, then their example; `script` uses defaults only (staff read it aloud).
    #[arg(long = "set", value_name = "NAME=VALUE")]
    pub sets: Vec<String>,
}

#[derive(Debug, Args)]
pub struct PreviewArgs {
    /// The message kind: a file name in templates/ without `.toml`.
    pub kind: String,
    #[command(flatten)]
    pub sample: SampleArgs,
    /// Show one format only: a channel type, `summary`, or `call-script`.
    #[arg(long, value_name = "TYPE")]
    pub channel: Option<String>,
    /// Write one file per format into DIR instead of printing.
    #[arg(long, value_name = "DIR")]
    pub out: Option<PathBuf>,
    /// Print every format as one JSON object.
    #[arg(long)]
    pub json: bool,
}

#[derive(Debug, Args)]
pub struct ApproveArgs {
    /// The kinds to approve.
    #[arg(required = true)]
    pub kinds: Vec<String>,
    /// Who approves: a name others will recognise.
    #[arg(long, value_name = "NAME")]
    pub by: String,
}

#[derive(Debug, Args)]
pub struct ReportArgs {
    /// The incident, like `INC-42`.
    pub incident: String,
    /// `markdown` (to paste into a review document), `html` (a page to share or print), or
    /// `json`.
    #[arg(long, value_enum, default_value = "markdown")]
    pub format: crate::report::Format,
}

#[derive(Debug, Args)]
pub struct ScriptArgs {
    /// The message kind (with `--incident`: the kind of its latest update).
    #[arg(required_unless_present = "incident")]
    pub kind: Option<String>,
    /// The script of what was really sent: the incident's latest update, its values and time.
    #[arg(long, value_name = "ID")]
    pub incident: Option<String>,
    #[command(flatten)]
    pub sample: SampleArgs,
    /// `text` (80 columns), `markdown`, or `html` (a printable page).
    #[arg(long, value_enum, default_value = "text")]
    pub format: script::Format,
}
