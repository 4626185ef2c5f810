//! The webhook replay store: delivery ids already accepted, so a replayed
//! delivery is refused. In memory each key set keeps its own ids (shared by
//! its clones); with Redis, an id accepted by any instance is a replay on
//! every other.

use crate::shared::Shared;
use crate::webhook::{WebhookError, WebhookKeys};

/// Delivery ids, in this process or in the fleet's Redis.
#[derive(Debug)]
pub(crate) struct Replays {
    redis: Option<Shared>,
}

impl Replays {
    pub(crate) fn new(redis: Option<Shared>) -> Self {
        Self { redis }
    }

    /// Records the delivery `id` of the webhook at `scope` (its route),
    /// verified by `keys` at `now`: an error when it was seen before, or
    /// when the store cannot decide and fails closed.
    pub(crate) async fn first_delivery(
        &self,
        scope: &str,
        id: &str,
        keys: &WebhookKeys,
        now: u64,
    ) -> Result<(), ReplayRefused> {
        if let Some(shared) = &self.redis {
            match shared.first_delivery(scope, id, keys.replay_window()).await {
                Ok(true) => return Ok(()),
                Ok(false) => return Err(ReplayRefused::Webhook(WebhookError::Replayed)),
                Err(error) => shared
                    .unavailable("webhook replay cache", &error)
                    .map_err(ReplayRefused::Unavailable)?,
            }
        }
        keys.remember(id, now).map_err(ReplayRefused::Webhook)
    }
}

/// Why a delivery id was not accepted.
#[derive(Debug)]
pub(crate) enum ReplayRefused {
    /// A replay, or a full cache.
    Webhook(WebhookError),
    /// The shared store could not be asked and fails closed: this answer.
    Unavailable(crate::problem::Problem),
}
