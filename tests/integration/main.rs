//! Integration tests: the real `crier` binary and the library, on projects made by `crier init`.

mod blast_email;
mod blast_file;
mod blast_http;
mod browser;
mod control;
mod crash;
mod errors;
mod hostile;
mod http_support;
mod layers;
mod network;
mod postgres;
mod preview;
mod promises;
mod report;
mod safety;
mod schedules;
mod secrets;
mod server;
mod shared;
mod smtp_server;
mod snapshots;
mod support;
mod workers;
