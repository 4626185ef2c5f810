//! The webhook delivery store: ids being processed and ids processed, so
//! that a delivery runs its handler once. In memory each key set keeps its
//! own ids (shared by its clones); with Redis, an id claimed or processed
//! on any instance is known to every other.
//!
//! An id is claimed before the handler runs (for as long as it could pass
//! the timestamp check), marked processed with the handler's 2xx status
//! (kept [`PROCESSED_IDS_KEPT`]), or freed when the handler fails.

use crate::shared::{Shared, keys};
use crate::webhook::{Delivery, PROCESSED_IDS_KEPT, WebhookError, WebhookKeys};

/// The value of a claimed id in Redis; a processed id holds its status.
const RUNNING: &[u8] = b"running";

/// Delivery ids, in this process or in the fleet's Redis.
#[derive(Debug)]
pub(crate) struct Replays {
    redis: Option<Shared>,
}

/// A delivery id this request claimed: marked processed or freed once the
/// handler has answered.
#[derive(Debug)]
pub(crate) struct ClaimedDelivery {
    scope: &'static str,
    id: String,
    keys: WebhookKeys,
    /// Claimed in Redis (else in this process, without Redis or failing open).
    shared: bool,
}

impl Replays {
    pub(crate) fn new(redis: Option<Shared>) -> Self {
        Self { redis }
    }

    /// What is known of the delivery `id` of the webhook at `scope` (its
    /// route), verified by `webhook_keys` at `now`; when nothing, it is claimed for
    /// this request. An error when the store is full or cannot decide and
    /// fails closed.
    pub(crate) async fn claim(
        &self,
        scope: &'static str,
        id: &str,
        webhook_keys: &WebhookKeys,
        now: u64,
    ) -> Result<(Delivery, Option<ClaimedDelivery>), ReplayRefused> {
        let claimed = |shared| ClaimedDelivery {
            scope,
            id: id.to_owned(),
            keys: webhook_keys.clone(),
            shared,
        };
        if let Some(shared) = &self.redis {
            let key = keys::webhook(scope, id);
            let known = async {
                if shared
                    .set_new(&key, RUNNING, webhook_keys.replay_window())
                    .await?
                {
                    return Ok(Delivery::First);
                }
                // Gone between the two calls: freed or forgotten a moment
                // ago; the sender retries.
                Ok(match shared.get(&key).await? {
                    Some(value) => std::str::from_utf8(&value)
                        .ok()
                        .and_then(|status| status.parse().ok())
                        .map_or(Delivery::Running, Delivery::Answered),
                    None => Delivery::Running,
                })
            };
            match known.await {
                Ok(Delivery::First) => return Ok((Delivery::First, Some(claimed(true)))),
                Ok(known) => return Ok((known, None)),
                Err(error) => shared
                    .unavailable("webhook replay cache", &error)
                    .map_err(ReplayRefused::Unavailable)?,
            }
        }
        match webhook_keys
            .claim(id, now)
            .map_err(ReplayRefused::Webhook)?
        {
            Delivery::First => Ok((Delivery::First, Some(claimed(false)))),
            known => Ok((known, None)),
        }
    }

    /// The handler answered: a 2xx spends the id (kept with its status), a
    /// failure frees it for the sender's retry.
    pub(crate) async fn finish(&self, claimed: &ClaimedDelivery, status: Option<u16>) {
        let processed = status.filter(|status| (200..300).contains(status));
        let shared = match &self.redis {
            Some(shared) if claimed.shared => shared,
            _ => {
                match processed {
                    Some(status) => {
                        claimed
                            .keys
                            .answered(&claimed.id, status, crate::util::now_secs())
                    }
                    None => claimed.keys.release(&claimed.id),
                }
                return;
            }
        };
        let key = keys::webhook(claimed.scope, &claimed.id);
        let outcome = match processed {
            Some(status) => {
                shared
                    .set(&key, status.to_string().as_bytes(), PROCESSED_IDS_KEPT)
                    .await
            }
            None => match shared.get(&key).await {
                Ok(Some(value)) if value == RUNNING => shared.delete(&key).await,
                Ok(_) => Ok(()),
                Err(error) => Err(error),
            },
        };
        if let Err(error) = outcome {
            // The claim expires on its own; a retry before then answers 409.
            tracing::warn!(target: "secure_api", error = %error, "a webhook delivery's outcome was not recorded in Redis");
        }
    }
}

/// Why a delivery id was not accepted.
#[derive(Debug)]
pub(crate) enum ReplayRefused {
    /// A full cache.
    Webhook(WebhookError),
    /// The shared store could not be asked and fails closed: this answer.
    Unavailable(crate::problem::Problem),
}
