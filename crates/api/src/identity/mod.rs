//! Identity: login and the second factor, step-up and password change
//! (`auth`), sessions, accounts (`users`), roles, grants, API tokens, and
//! WebAuthn security keys and passkeys. Secrets in requests (passwords,
//! codes) are never printed by `Debug`; secrets in responses (session and
//! API tokens, TOTP secrets, recovery codes) are shown once and never
//! printed either.
//!
//! Every type is also reachable from here (`identity::LoginResponse`).

pub mod auth;
pub mod grants;
pub mod roles;
pub mod sessions;
pub mod tokens;
pub mod users;
pub mod webauthn;

pub use auth::*;
pub use grants::*;
pub use roles::*;
pub use sessions::*;
pub use tokens::*;
pub use users::*;
pub use webauthn::*;
