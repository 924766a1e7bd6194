//! The identity domain's routes: logging in and the session's own factors
//! (`auth`), accounts, grants, roles, tokens and tenant access (`users`),
//! and WebAuthn ceremonies and credentials (`webauthn`).

pub mod auth;
pub mod users;
pub mod webauthn;
