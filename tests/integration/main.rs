//! Integration tests: the real `crier` binary and the library, on projects made by `crier init`.

mod blast_file;
mod errors;
mod preview;
mod safety;
mod snapshots;
mod support;
