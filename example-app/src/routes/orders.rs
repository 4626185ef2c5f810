//! Orders, owned by the user who placed them. Someone else's order and a
//! missing one look the same: 404.

use std::borrow::Cow;

use garde::Validate;
use secure_api_runtime::prelude::*;
use serde::Deserialize;

use super::{internal, printable};
use crate::store::{Order, OrderState, Store, StoreError};

impl Owned for Order {
    type Source = web::Data<Store>;

    async fn load(id: &str, store: &web::Data<Store>) -> Result<Option<Self>, Problem> {
        let Ok(id) = id.parse::<i64>() else {
            return Ok(None);
        };
        store.order(id).await.map_err(|e| internal(&e))
    }

    fn owner(&self) -> Cow<'_, str> {
        Cow::Owned(self.owner_id.to_string())
    }
}

/// An order as a client places it.
#[derive(Debug, Deserialize, Validate, Input)]
#[serde(deny_unknown_fields)]
pub struct NewOrder {
    #[garde(length(chars, min = 1, max = 100), custom(printable))]
    #[input(example = "a box of pencils")]
    item: String,
    #[garde(range(min = 1, max = 1000))]
    #[input(example = 2)]
    quantity: i64,
}

/// The orders report: how many orders there are.
#[derive(Debug, serde::Serialize)]
pub struct OrdersReport {
    /// Orders in every state.
    pub orders: i64,
}

/// Reports how many orders there are, to a client whose token (from an
/// OpenID provider, usually a service's client-credentials token) grants
/// the `reports:read` scope.
#[get("/api/reports/orders")]
#[registered(owner = "orders", lifecycle = production)]
#[scopes("reports:read")]
#[expose(orders)]
pub async fn orders_report(store: web::Data<Store>) -> Result<OrdersReport, Problem> {
    store
        .count_orders()
        .await
        .map(|orders| OrdersReport { orders })
        .map_err(|e| internal(&e))
}

/// Places a draft order for the caller.
#[post("/api/orders")]
#[registered(owner = "orders", lifecycle = production)]
#[authenticated]
#[expose(id, state)]
pub async fn create_order(
    me: Principal,
    body: web::Json<NewOrder>,
    store: web::Data<Store>,
) -> Result<Created<Order>, Problem> {
    let owner: i64 = me
        .sub
        .parse()
        .map_err(|_| Problem::forbidden("this caller cannot own orders"))?;
    store
        .create_order(owner, &body.item, body.quantity)
        .await
        .map(Created)
        .map_err(|e| match e {
            // A valid token whose user is gone.
            StoreError::UnknownUser => Problem::forbidden("this caller cannot own orders"),
            e => internal(&e),
        })
}

/// Moves the caller's draft order to validated.
#[post("/api/orders/{order_id}/validate")]
#[registered(owner = "orders", lifecycle = production)]
#[owner(order_id, resource = Order)]
#[state_requires(order_id, Order: Draft => Validated)]
#[expose(id, state)]
pub async fn validate_order(
    me: Principal,
    order: Checked<Order>,
    transition: Transition<OrderState>,
    store: web::Data<Store>,
) -> Result<Order, Problem> {
    let mut order = order.into_inner();
    match store.transition_order(order.id, transition, &me.sub).await {
        Ok(true) => {
            order.state = transition.to;
            Ok(order)
        }
        Ok(false) => Err(Problem::conflict("the order changed state meanwhile")),
        Err(e) => Err(internal(&e)),
    }
}

/// Carries out the caller's validated order, once: a retry with the same
/// `Idempotency-Key` gets the first answer back.
#[post("/api/orders/{order_id}/execute")]
#[registered(owner = "orders", lifecycle = production)]
#[owner(order_id, resource = Order)]
#[state_requires(order_id, Order: Validated => Executed)]
#[idempotent]
#[expose(id, state)]
pub async fn execute_order(
    me: Principal,
    order: Checked<Order>,
    transition: Transition<OrderState>,
    store: web::Data<Store>,
) -> Result<Accepted<Order>, Problem> {
    let mut order = order.into_inner();
    match store.transition_order(order.id, transition, &me.sub).await {
        Ok(true) => {
            order.state = transition.to;
            Ok(Accepted(order))
        }
        Ok(false) => Err(Problem::conflict("the order changed state meanwhile")),
        Err(e) => Err(internal(&e)),
    }
}
