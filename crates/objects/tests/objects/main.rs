//! Object storage's integration tests, one test binary: the behaviour every
//! backend must have, run on a local directory and on a real S3-compatible
//! server over TLS (`suite`); keys, configuration, TLS and secrets
//! (`settings`). The S3 server comes from `rempart_testkit::s3`: without
//! it a test is skipped with a message, and under `CI=true` it fails.

#![allow(clippy::unwrap_used, clippy::panic, reason = "tests")]
#![allow(clippy::indexing_slicing, reason = "tests")]
#![allow(clippy::too_many_lines, reason = "a scenario reads best as one flow")]

mod settings;
mod suite;
mod support;
