//! Authenticating a request: an API token or a logged-in session becomes
//! an [`Actor`], from this replica's cache while the auth epoch holds.

use rempart_model::{Action, Outcome};
use rempart_store::TokenRecord;
use secrecy::SecretString;
use time::{Duration, OffsetDateTime};

use crate::kernel::actor::Actor;
use crate::kernel::context::RequestContext;
use crate::kernel::error::ServiceError;
use crate::kernel::gate::{Call, Caller};
use crate::kernel::secret;
use crate::kernel::target::Target;
use crate::service::Rempart;

/// How often a token's "last used" time is written: at most once a minute,
/// so that authenticating a request is not a write every time.
const TOKEN_TOUCH_INTERVAL: Duration = Duration::minutes(1);

impl Rempart {
    /// Resolves a bearer secret (an API token, or a fully logged-in
    /// session) to an actor. An unknown, expired or revoked credential, or
    /// one whose holder is no longer active, is refused and the refusal
    /// recorded with the source address.
    pub async fn authenticate(
        &self,
        ctx: &RequestContext,
        token: &SecretString,
    ) -> Result<Actor, ServiceError> {
        use crate::identity::auth_cache::{Cached, Entry};
        let now = self.kernel.clock.now();
        let key = (secret::fingerprint(token), ctx.source);
        // Read before the lookup: a change committed meanwhile moves the
        // epoch past this one, and the entry is not trusted again. The
        // store leases the read (rempart_store::auth_lease): never older
        // than the last revocation that has returned, on any replica.
        let epoch = self.kernel.auth_epoch().await?;
        let idle = self.identity.config.session_idle();
        if let Some(entry) = self.auth_cache.get(epoch, &key, now, idle) {
            self.touch_if_due(&key, &entry.credential, now).await?;
            return Ok(entry.actor);
        }
        let (actor, credential) = if secret::is_session(token) {
            let (actor, session) = self
                .authenticate_session(ctx, token, &[rempart_store::SessionStage::Full])
                .await?;
            let last_seen_at =
                if now - session.last_seen_at >= crate::identity::SESSION_TOUCH_INTERVAL {
                    now
                } else {
                    session.last_seen_at
                };
            let credential = Cached::Session {
                id: session.id,
                expires_at: session.expires_at,
                last_seen_at,
            };
            (actor, credential)
        } else {
            let (actor, record) = self.authenticate_token(ctx, token, now).await?;
            let credential = Cached::Token {
                id: record.id,
                expires_at: record.expires_at,
                last_used_at: record.last_used_at,
            };
            (actor, credential)
        };
        self.auth_cache.put(
            epoch,
            key,
            Entry {
                actor: actor.clone(),
                credential,
            },
        );
        Ok(actor)
    }

    /// Writes a cached credential's use when the last write is a minute
    /// old (an idle timeout is exact to the minute).
    async fn touch_if_due(
        &self,
        key: &([u8; 32], Option<std::net::IpAddr>),
        credential: &crate::identity::auth_cache::Cached,
        now: OffsetDateTime,
    ) -> Result<(), ServiceError> {
        use crate::identity::auth_cache::Cached;
        match *credential {
            Cached::Token {
                id, last_used_at, ..
            } if last_used_at.is_none_or(|at| now - at >= TOKEN_TOUCH_INTERVAL) => {
                let mut books = self.kernel.bookkeeping().await?;
                books.touch_token(id, now).await?;
                books.commit().await?;
            }
            Cached::Session {
                id, last_seen_at, ..
            } if now - last_seen_at >= crate::identity::SESSION_TOUCH_INTERVAL => {
                let mut books = self.kernel.bookkeeping().await?;
                books.touch_session(id, now).await?;
                books.commit().await?;
            }
            _ => return Ok(()),
        }
        self.auth_cache.touched(key, now);
        Ok(())
    }

    /// The API-token half of [`Rempart::authenticate`], from the database.
    /// Returns the token as it is now stored (its use recorded).
    async fn authenticate_token(
        &self,
        ctx: &RequestContext,
        token: &SecretString,
        now: OffsetDateTime,
    ) -> Result<(Actor, TokenRecord), ServiceError> {
        let hash = secret::fingerprint(token);
        // A read transaction: authenticating does not queue requests
        // behind SQLite's write lock.
        let mut tx = self.kernel.read().await?;
        let found = tx.token_by_hash(&hash).await?;
        let refused = match &found {
            None => Some("unknown token"),
            Some(t) if t.revoked_at.is_some() => Some("the token is revoked"),
            Some(t) if t.expires_at.is_some_and(|at| now >= at) => Some("the token expired"),
            Some(_) => None,
        };
        let found = found.map(|t| (t.principal, t));
        let gone = "the token's holder no longer exists";
        let (mut tx, token_record, principal) = self
            .admit_credential(tx, ctx, Action::AuthToken, found, refused, gone)
            .await?;
        let grants = tx.grants_of(principal.id).await?;
        let grants = match self
            .token_grants(tx.as_mut(), ctx, &token_record, grants)
            .await
        {
            Ok(grants) => grants,
            Err(refusal) => {
                drop(tx);
                let call = Call::new(Caller::Holder(principal.id), ctx, Action::AuthToken)
                    .on(Target::Token(token_record.id));
                self.kernel
                    .record_refusal(call, Outcome::Denied, &refusal.to_string())
                    .await?;
                return Err(refusal);
            }
        };
        drop(tx);
        let mut token_record = token_record;
        if token_record
            .last_used_at
            .is_none_or(|at| now - at >= TOKEN_TOUCH_INTERVAL)
        {
            let mut books = self.kernel.bookkeeping().await?;
            books.touch_token(token_record.id, now).await?;
            books.commit().await?;
            token_record.last_used_at = Some(now);
        }
        let actor = Actor::new(principal.id, principal.name, token_record.id, grants)
            .with_cut(crate::identity::token_cut(&token_record));
        Ok((actor, token_record))
    }
}
