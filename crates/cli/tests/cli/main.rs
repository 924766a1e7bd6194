//! The `rempart` binary's integration tests, one test binary: as a user
//! runs it (`cli`), the audit log end to end (`audit`), and several
//! replicas on one database (`replicas`), the customer-data vault
//! (`vault`).

#![allow(clippy::unwrap_used, clippy::expect_used, reason = "tests")]
#![allow(clippy::panic, clippy::indexing_slicing, reason = "tests")]
#![allow(clippy::too_many_lines, reason = "a scenario reads best as one flow")]

mod audit;
mod cli;
mod replicas;
mod vault;
