//! Live state: one store per kind of shared state (quotas, the token
//! denylist, webhook replay ids, idempotency keys), each built once from the
//! configuration, in this process's memory or on the fleet's Redis. Callers
//! use one API whichever it is; nothing outside this module and
//! [`crate::shared`] mentions Redis.
//!
//! A request's quotas and its denylist lookup are collected in its
//! [`Decisions`] as the pipeline's steps run: in memory each is decided at
//! once; with Redis they are decided together by [`Stores::settle`], in one
//! round trip, shared with the other requests that settle at that moment.

pub(crate) mod denylist;
pub(crate) mod idempotency;
pub(crate) mod quota;
pub(crate) mod replay;

use std::fmt;
use std::sync::Arc;

use crate::limit::{Key, Limiter};
use crate::problem::{Problem, Refusal, TOKEN_REQUIRED};
use crate::shared::{Decided, Shared};

/// Every store of the process, shared by all workers.
pub(crate) struct Stores {
    pub(crate) quotas: quota::Quotas,
    pub(crate) denylist: denylist::Denylist,
    pub(crate) replays: replay::Replays,
    pub(crate) idempotency: idempotency::IdempotencyStore,
    redis: Option<Shared>,
}

impl fmt::Debug for Stores {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Stores")
            .field("redis", &self.redis)
            .finish_non_exhaustive()
    }
}

/// What one request asks of the stores, collected by the pipeline's steps
/// and decided by [`Stores::settle`] (with Redis; in memory nothing waits).
#[derive(Debug, Default)]
pub(crate) struct Decisions {
    quotas: Vec<(Arc<Limiter>, Key)>,
    token: Option<Box<str>>,
}

impl Stores {
    /// The stores, in memory, or on `redis` when the fleet shares one.
    pub(crate) fn new(redis: Option<Shared>) -> Self {
        Self {
            quotas: quota::Quotas::default(),
            denylist: denylist::Denylist::new(redis.clone()),
            replays: replay::Replays::new(redis.clone()),
            idempotency: idempotency::IdempotencyStore::new(redis.clone()),
            redis,
        }
    }

    /// The Redis shared by every instance, when configured.
    pub(crate) fn redis(&self) -> Option<&Shared> {
        self.redis.as_ref()
    }

    /// Counts the request against `limiter`'s quotas for `key`: decided now
    /// in memory; with Redis, when the request's decisions settle.
    pub(crate) fn count(
        &self,
        decisions: &mut Decisions,
        limiter: &Arc<Limiter>,
        key: Key,
    ) -> Result<(), Refusal> {
        if !limiter.has_quotas() {
            return Ok(());
        }
        if self.redis.is_some() {
            decisions.quotas.push((Arc::clone(limiter), key));
            return Ok(());
        }
        limiter
            .check(&key)
            .map_err(|problem| Refusal::new(problem, "limit", "quota_used_up"))
    }

    /// Refuses an access token this process knows as revoked; with Redis,
    /// the fleet's denylist is asked when the request's decisions settle.
    pub(crate) fn check_token(&self, decisions: &mut Decisions, jti: &str) -> Result<(), Refusal> {
        if self.denylist.is_revoked_here(jti) {
            return Err(revoked());
        }
        if self.redis.is_some() {
            decisions.token = Some(jti.into());
        }
        Ok(())
    }

    /// Decides what the request's steps collected, in their order, in one
    /// round trip to Redis. When Redis cannot be reached, the configured
    /// [`Unavailable`](crate::shared::Unavailable) choice applies: this
    /// instance's own quotas and denylist, or a 503.
    pub(crate) async fn settle(&self, decisions: &mut Decisions) -> Result<(), Refusal> {
        let Some(shared) = &self.redis else {
            return Ok(());
        };
        let staged = std::mem::take(&mut decisions.quotas);
        let token = decisions.token.take();
        if staged.is_empty() && token.is_none() {
            return Ok(());
        }
        let quotas: Vec<(String, u64, u64)> = staged
            .iter()
            .flat_map(|(limiter, key)| limiter.gcra(key))
            .collect();
        match shared.decide(quotas, token.as_deref()).await {
            Ok(Decided::Allowed) => Ok(()),
            Ok(Decided::Denied) => Err(revoked()),
            Ok(Decided::Refused(mut index, wait)) => {
                for (limiter, _) in &staged {
                    if index < limiter.quota_count() {
                        return Err(Refusal::new(
                            limiter.refused(index, wait),
                            "limit",
                            "quota_used_up",
                        ));
                    }
                    index -= limiter.quota_count();
                }
                Err(Refusal::new(
                    Problem::new(actix_web::http::StatusCode::TOO_MANY_REQUESTS),
                    "limit",
                    "quota_used_up",
                ))
            }
            Err(error) => {
                let rule = if staged.is_empty() {
                    "authentication"
                } else {
                    "limit"
                };
                shared
                    .unavailable("rate limits and token denylist", &error)
                    .map_err(|problem| Refusal::new(problem, rule, "shared_store_unavailable"))?;
                for (limiter, key) in &staged {
                    limiter
                        .check(key)
                        .map_err(|problem| Refusal::new(problem, "limit", "quota_used_up"))?;
                }
                Ok(())
            }
        }
    }
}

fn revoked() -> Refusal {
    Refusal::new(
        Problem::unauthorized(TOKEN_REQUIRED),
        "authentication",
        "revoked",
    )
}
