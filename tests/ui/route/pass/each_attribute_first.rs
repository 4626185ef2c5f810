use std::borrow::Cow;

use secure_api_runtime::prelude::*;

#[derive(Clone, Copy, PartialEq, Eq, StateMachine)]
#[transitions(Draft => Validated)]
enum OrderState {
    Draft,
    Validated,
}

struct Order {
    owner_id: String,
    state: OrderState,
}

struct Note {
    id: i64,
    body: String,
}

impl Owned for Order {
    type Source = ();

    async fn load(_id: &str, _source: &()) -> Result<Option<Self>, Problem> {
        Ok(None)
    }

    fn owner(&self) -> Cow<'_, str> {
        Cow::Borrowed(&self.owner_id)
    }
}

impl Stateful for Order {
    type State = OrderState;

    fn state(&self) -> OrderState {
        self.state
    }
}

// Each attribute in turn is the first one the compiler expands.

#[registered(owner = "tests", lifecycle = production)]
#[get("/registered-first")]
#[public]
async fn registered_first() -> &'static str {
    "ok"
}

#[webhook(secret = "TEST_WEBHOOK")]
#[post("/webhook-first")]
#[registered(owner = "tests", lifecycle = production)]
async fn webhook_first(body: web::Bytes) -> String {
    body.len().to_string()
}

#[public]
#[registered(owner = "tests", lifecycle = production)]
#[get("/public-first")]
async fn public_first() -> &'static str {
    "ok"
}

#[authenticated]
#[registered(owner = "tests", lifecycle = production)]
#[get("/authenticated-first")]
async fn authenticated_first(me: Principal) -> String {
    me.sub
}

#[roles(admin)]
#[registered(owner = "tests", lifecycle = production)]
#[get("/roles-first")]
async fn roles_first() -> &'static str {
    "ok"
}

#[limit("10/minute")]
#[registered(owner = "tests", lifecycle = production)]
#[get("/limit-first")]
#[public]
async fn limit_first() -> &'static str {
    "ok"
}

#[idempotent]
#[registered(owner = "tests", lifecycle = production)]
#[post("/idempotent-first")]
#[authenticated]
async fn idempotent_first() -> &'static str {
    "ok"
}

#[expose(id, body)]
#[registered(owner = "tests", lifecycle = production)]
#[get("/notes/latest")]
#[public]
async fn expose_first() -> Note {
    Note { id: 1, body: "first".to_owned() }
}

#[state_requires(order_id, Order: Draft => Validated)]
#[owner(order_id, resource = Order)]
#[post("/api/orders/{order_id}/validate")]
#[registered(owner = "tests", lifecycle = production)]
async fn state_first(order: Checked<Order>, _move: Transition<OrderState>) -> String {
    order.owner_id.clone()
}

#[owner(order_id, resource = Order)]
#[registered(owner = "tests", lifecycle = production)]
#[get("/api/orders/{order_id}")]
async fn owner_first(order: Checked<Order>) -> String {
    order.state.name().to_owned()
}

fn main() {
    let security = SecurityConfig::builder(Mode::Dev).generated_key().build().expect("configuration");
    let keys = secure_api_runtime::webhook::WebhookKeys::hex_signature(b"test").expect("keys");
    let app = SecureApp::new(security)
        .webhook("TEST_WEBHOOK", keys)
        .service(registered_first)
        .service(webhook_first)
        .service(public_first)
        .service(authenticated_first)
        .service(roles_first)
        .service(limit_first)
        .service(idempotent_first)
        .service(expose_first)
        .service(state_first)
        .service(owner_first);
    assert_eq!(app.routes().len(), 10);
    let _ = app.into_app();
}
