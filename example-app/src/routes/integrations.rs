//! Calls out and calls in: fetching metadata from a URL a client supplied,
//! and receiving signed payment webhooks.

use actix_web::http::header::HeaderMap;
use garde::Validate;
use secure_api_runtime::outbound::SafeClient;
use secure_api_runtime::prelude::*;
use serde::{Deserialize, Serialize};

use super::internal;
use crate::store::Store;

/// Mounts the integration routes.
pub fn mount(app: SecureApp) -> SecureApp {
    app.service(fetch_metadata).service(payment_webhook)
}

/// The URL to fetch.
#[derive(Debug, Deserialize, Validate, Input)]
#[serde(deny_unknown_fields)]
pub struct FetchRequest {
    #[garde(length(min = 1, max = 2048))]
    url: String,
}

/// What an allowed upstream must answer: exactly these fields, validated.
#[derive(Debug, Deserialize, Validate, Input)]
#[serde(deny_unknown_fields)]
pub struct Metadata {
    #[garde(length(chars, min = 1, max = 200), custom(super::printable))]
    title: String,
    #[serde(default)]
    #[garde(inner(length(chars, max = 1000)))]
    description: Option<String>,
}

/// The fetched metadata, as answered.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct FetchedMetadata {
    /// The URL that was fetched.
    pub url: String,
    /// Its title.
    pub title: String,
    /// Its description, if any.
    pub description: Option<String>,
}

impl SerializeWhole for FetchedMetadata {}

/// Fetches `{title, description}` from a URL on the `FETCH_ALLOWED_HOSTS`
/// allowlist: 400 for a URL the client may not make the server call, 502
/// when an allowed upstream fails or answers something else.
#[post("/api/fetch-metadata")]
#[registered(owner = "integrations", lifecycle = production)]
#[authenticated]
#[limit("30/minute", body = "4KiB")]
pub async fn fetch_metadata(
    body: web::Json<FetchRequest>,
    client: web::Data<SafeClient>,
) -> Result<web::Json<FetchedMetadata>, Problem> {
    let FetchRequest { url } = body.into_inner();
    let metadata: Metadata = client.get_json(&url).await?;
    Ok(web::Json(FetchedMetadata {
        url,
        title: metadata.title,
        description: metadata.description,
    }))
}

/// What a payment delivery reports.
#[derive(Clone, Copy, Debug, Deserialize, PartialEq, Eq, utoipa::ToSchema)]
pub enum PaymentEventType {
    /// The payment went through.
    #[serde(rename = "payment.succeeded")]
    Succeeded,
    /// The payment failed.
    #[serde(rename = "payment.failed")]
    Failed,
}

impl PaymentEventType {
    fn name(self) -> &'static str {
        match self {
            Self::Succeeded => "payment.succeeded",
            Self::Failed => "payment.failed",
        }
    }
}

/// A payment delivery's body, parsed only once its signature holds.
#[derive(Debug, Deserialize, Validate, Input)]
#[serde(deny_unknown_fields)]
pub struct PaymentEvent {
    #[serde(rename = "type")]
    #[garde(skip)]
    kind: PaymentEventType,
    #[garde(range(min = 1))]
    order_id: i64,
    #[garde(range(min = 0))]
    amount: i64,
}

/// Receives a payment delivery signed with `PAYMENT_WEBHOOK_SECRET`
/// (Standard Webhooks): 202 once recorded, even for an unknown order;
/// 401 for a bad or stale signature; a re-delivery of a processed id
/// answers 202 again without recording it twice.
#[post("/api/webhooks/payment")]
#[registered(owner = "integrations", lifecycle = production)]
#[webhook(secret = "PAYMENT_WEBHOOK_SECRET")]
#[limit("600/minute", body = "16KiB")]
pub async fn payment_webhook(
    req: HttpRequest,
    body: web::Json<PaymentEvent>,
    store: web::Data<Store>,
) -> Result<HttpResponse, Problem> {
    let id = delivery_id(req.headers());
    store
        .record_payment_event(id, body.kind.name(), body.order_id, body.amount)
        .await
        .map_err(|e| internal(&e))?;
    Ok(HttpResponse::Accepted().json(serde_json::json!({ "status": "accepted" })))
}

/// The `webhook-id` the guard verified.
fn delivery_id(headers: &HeaderMap) -> &str {
    headers
        .get("webhook-id")
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default()
}
