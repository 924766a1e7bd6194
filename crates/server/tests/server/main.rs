//! The HTTP interface's integration tests, one test binary: the API end to
//! end on a real server (`http`), and the keyring over HTTP with the proof
//! that no key leaves (`keys`).

#![allow(clippy::unwrap_used, clippy::expect_used, reason = "tests")]
#![allow(clippy::panic, clippy::indexing_slicing, reason = "tests")]
#![allow(clippy::too_many_lines, reason = "a scenario reads best as one flow")]

mod http;
mod keys;
