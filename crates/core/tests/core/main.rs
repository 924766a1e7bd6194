//! The service layer's integration tests, one test binary: the audit log
//! (`audit`), identity and access (`identity`), the keyring (`keys`), and
//! the invariants every action keeps, controls, concurrency and upgrades
//! (`service`); on both engines. Fixtures the tests read are in
//! `tests/fixtures/`.

#![allow(clippy::unwrap_used, clippy::panic, reason = "tests")]
#![allow(clippy::indexing_slicing, reason = "tests")]
#![allow(clippy::too_many_lines, reason = "a scenario reads best as one flow")]

mod audit;
mod identity;
mod keys;
mod service;
mod support;
mod vault;
