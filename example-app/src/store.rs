//! The example's data: users and orders in SQLite or PostgreSQL through
//! sqlx's `Any` driver (one set of queries), with the schema migrations of
//! each database embedded in the binary and applied at start.

use std::borrow::Cow;
use std::future::Future;
use std::pin::Pin;
use std::time::{SystemTime, UNIX_EPOCH};

use secure_api_runtime::auth::connect_any;
use secure_api_runtime::prelude::{StateMachine, Stateful, Transition};
use serde::Serialize;
use sqlx::any::AnyRow;
use sqlx::error::BoxDynError;
use sqlx::migrate::{Migration, MigrationSource, MigrationType, Migrator};
use sqlx::{AnyPool, Row as _};

/// What can go wrong with the store.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// `DATABASE_URL` is not a SQLite or PostgreSQL URL this app can open.
    #[error("DATABASE_URL cannot be opened: {0}")]
    Url(sqlx::Error),
    /// The database failed.
    #[error("database error: {0}")]
    Database(#[from] sqlx::Error),
    /// Applying the schema failed.
    #[error("migration failed: {0}")]
    Migrate(#[from] sqlx::migrate::MigrateError),
    /// The username is taken.
    #[error("the username is taken")]
    UsernameTaken,
    /// No user has this id (a token that outlived its user).
    #[error("no user has this id")]
    UnknownUser,
}

/// A stored user.
#[derive(Clone, Debug)]
pub struct User {
    /// Primary key.
    pub id: i64,
    /// Unique login name.
    pub username: String,
    /// Name shown to others.
    pub display_name: String,
    /// Argon2id PHC string.
    pub password_hash: String,
    /// Roles granted.
    pub roles: Vec<String>,
    /// Salary in cents: internal, never sent to clients.
    pub salary_cents: i64,
    /// A note for staff: internal, never sent to clients.
    pub internal_note: String,
}

/// An order, owned by the user who placed it.
#[derive(Clone, Debug)]
pub struct Order {
    /// Primary key.
    pub id: i64,
    /// The user who placed it.
    pub owner_id: i64,
    /// What was ordered.
    pub item: String,
    /// How many.
    pub quantity: i64,
    /// Where it is in its life.
    pub state: OrderState,
}

/// The life of an order.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, StateMachine, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
#[transitions(Draft => Validated, Validated => Executed)]
pub enum OrderState {
    /// Placed, not yet checked.
    Draft,
    /// Checked by its owner.
    Validated,
    /// Carried out.
    Executed,
}

impl Stateful for Order {
    type State = OrderState;

    fn state(&self) -> OrderState {
        self.state
    }
}

/// Users and orders, in SQLite or PostgreSQL.
#[derive(Clone, Debug)]
pub struct Store {
    pool: AnyPool,
}

/// The embedded migrations for one database kind.
#[derive(Debug)]
struct Embedded(&'static [(i64, &'static str, &'static str)]);

const POSTGRES_MIGRATIONS: [(i64, &str, &str); 6] = [
    (
        1,
        "users",
        include_str!("../migrations/postgres/0001_users.sql"),
    ),
    (
        2,
        "profile_and_orders",
        include_str!("../migrations/postgres/0002_profile_and_orders.sql"),
    ),
    (
        3,
        "order_transitions",
        include_str!("../migrations/postgres/0003_order_transitions.sql"),
    ),
    (
        4,
        "second_factor",
        include_str!("../migrations/postgres/0004_second_factor.sql"),
    ),
    (
        5,
        "payment_events",
        include_str!("../migrations/postgres/0005_payment_events.sql"),
    ),
    (
        6,
        "payment_events_unique",
        include_str!("../migrations/postgres/0006_payment_events_unique.sql"),
    ),
];

const SQLITE_MIGRATIONS: [(i64, &str, &str); 6] = [
    (1, "users", include_str!("../migrations/0001_users.sql")),
    (
        2,
        "profile_and_orders",
        include_str!("../migrations/0002_profile_and_orders.sql"),
    ),
    (
        3,
        "order_transitions",
        include_str!("../migrations/0003_order_transitions.sql"),
    ),
    (
        4,
        "second_factor",
        include_str!("../migrations/0004_second_factor.sql"),
    ),
    (
        5,
        "payment_events",
        include_str!("../migrations/0005_payment_events.sql"),
    ),
    (
        6,
        "payment_events_unique",
        include_str!("../migrations/0006_payment_events_unique.sql"),
    ),
];

impl<'s> MigrationSource<'s> for Embedded {
    fn resolve(
        self,
    ) -> Pin<Box<dyn Future<Output = Result<Vec<Migration>, BoxDynError>> + Send + 's>> {
        Box::pin(async move {
            Ok(self
                .0
                .iter()
                .map(|(version, name, sql)| {
                    Migration::new(
                        *version,
                        Cow::Borrowed(name),
                        MigrationType::Simple,
                        Cow::Borrowed(sql),
                        false,
                    )
                })
                .collect())
        })
    }
}

impl Store {
    /// Opens the database at `url` (`sqlite://file.db`, created if needed,
    /// or `postgres://..`) and applies the schema.
    pub async fn open(url: &str) -> Result<Self, StoreError> {
        let pool = connect_any(url, 8).await.map_err(StoreError::Url)?;
        let migrations: &'static [(i64, &str, &str)] = if url.starts_with("sqlite:") {
            &SQLITE_MIGRATIONS
        } else {
            &POSTGRES_MIGRATIONS
        };
        Migrator::new(Embedded(migrations))
            .await?
            .run(&pool)
            .await?;
        Ok(Self { pool })
    }

    /// The connection pool, shared with the token store.
    pub fn pool(&self) -> &AnyPool {
        &self.pool
    }

    /// Replaces a user's password hash (after a rehash on login).
    pub async fn set_password_hash(&self, id: i64, hash: &str) -> Result<(), StoreError> {
        sqlx::query("UPDATE users SET password_hash = $1 WHERE id = $2")
            .bind(hash)
            .bind(id)
            .execute(&self.pool)
            .await?;
        Ok(())
    }

    /// A user's confirmed TOTP secret and the last step accepted, if the
    /// second factor is on.
    pub async fn totp(&self, id: i64) -> Result<Option<(String, Option<u64>)>, StoreError> {
        let row = sqlx::query("SELECT totp_secret, totp_last_step FROM users WHERE id = $1")
            .bind(id)
            .fetch_optional(&self.pool)
            .await?;
        let Some(row) = row else { return Ok(None) };
        let secret: Option<String> = row.try_get("totp_secret")?;
        let last: Option<i64> = row.try_get("totp_last_step")?;
        Ok(secret.map(|secret| (secret, last.and_then(|l| u64::try_from(l).ok()))))
    }

    /// Records that `step` was used, if no later step was; false on a replay.
    pub async fn use_totp_step(&self, id: i64, step: u64) -> Result<bool, StoreError> {
        let step = i64::try_from(step).unwrap_or(i64::MAX);
        let done = sqlx::query(
            "UPDATE users SET totp_last_step = $1 WHERE id = $2 AND (totp_last_step IS NULL OR totp_last_step < $3)",
        )
        .bind(step)
        .bind(id)
        .bind(step)
        .execute(&self.pool)
        .await?;
        Ok(done.rows_affected() == 1)
    }

    /// Keeps a TOTP secret waiting for its first code.
    pub async fn set_totp_pending(&self, id: i64, secret: &str) -> Result<(), StoreError> {
        sqlx::query("UPDATE users SET totp_pending = $1 WHERE id = $2")
            .bind(secret)
            .bind(id)
            .execute(&self.pool)
            .await?;
        Ok(())
    }

    /// The TOTP secret waiting for its first code.
    pub async fn totp_pending(&self, id: i64) -> Result<Option<String>, StoreError> {
        let row = sqlx::query("SELECT totp_pending FROM users WHERE id = $1")
            .bind(id)
            .fetch_optional(&self.pool)
            .await?;
        match row {
            Some(row) => Ok(row.try_get("totp_pending")?),
            None => Ok(None),
        }
    }

    /// Turns the pending secret on, remembering `step` as used.
    pub async fn confirm_totp(&self, id: i64, secret: &str, step: u64) -> Result<bool, StoreError> {
        let done = sqlx::query(
            "UPDATE users SET totp_secret = totp_pending, totp_pending = NULL, totp_last_step = $1 WHERE id = $2 AND totp_pending = $3",
        )
        .bind(i64::try_from(step).unwrap_or(i64::MAX))
        .bind(id)
        .bind(secret)
        .execute(&self.pool)
        .await?;
        Ok(done.rows_affected() == 1)
    }

    /// Creates a user; [`StoreError::UsernameTaken`] when the name is in use.
    pub async fn create_user(
        &self,
        username: &str,
        display_name: &str,
        password_hash: &str,
        roles: &[String],
    ) -> Result<User, StoreError> {
        let created_at = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map_or(0, |d| d.as_secs());
        let result = sqlx::query(
            "INSERT INTO users (username, display_name, password_hash, roles, created_at) VALUES ($1, $2, $3, $4, $5) RETURNING id",
        )
        .bind(username)
        .bind(display_name)
        .bind(password_hash)
        .bind(roles.join(" "))
        .bind(i64::try_from(created_at).unwrap_or(i64::MAX))
        .fetch_one(&self.pool)
        .await;
        match result {
            Ok(row) => Ok(User {
                id: row.try_get("id")?,
                username: username.to_owned(),
                display_name: display_name.to_owned(),
                password_hash: password_hash.to_owned(),
                roles: roles.to_vec(),
                salary_cents: 0,
                internal_note: String::new(),
            }),
            Err(sqlx::Error::Database(e)) if e.is_unique_violation() => {
                Err(StoreError::UsernameTaken)
            }
            Err(e) => Err(e.into()),
        }
    }

    /// The user with `id`, if any.
    pub async fn user(&self, id: i64) -> Result<Option<User>, StoreError> {
        let row = sqlx::query(
            "SELECT id, username, display_name, password_hash, roles, salary_cents, internal_note FROM users WHERE id = $1",
        )
        .bind(id)
        .fetch_optional(&self.pool)
        .await?;
        Ok(row.map(|row| user_from(&row)))
    }

    /// Sets a user's display name; the updated user, if it exists.
    pub async fn set_display_name(
        &self,
        id: i64,
        display_name: &str,
    ) -> Result<Option<User>, StoreError> {
        sqlx::query("UPDATE users SET display_name = $1 WHERE id = $2")
            .bind(display_name)
            .bind(id)
            .execute(&self.pool)
            .await?;
        self.user(id).await
    }

    /// Sets a user's internal fields (staff only).
    pub async fn set_internal(
        &self,
        id: i64,
        salary_cents: i64,
        internal_note: &str,
    ) -> Result<(), StoreError> {
        sqlx::query("UPDATE users SET salary_cents = $1, internal_note = $2 WHERE id = $3")
            .bind(salary_cents)
            .bind(internal_note)
            .bind(id)
            .execute(&self.pool)
            .await?;
        Ok(())
    }

    /// Places a draft order for `owner_id`.
    pub async fn create_order(
        &self,
        owner_id: i64,
        item: &str,
        quantity: i64,
    ) -> Result<Order, StoreError> {
        let row = sqlx::query(
            "INSERT INTO orders (owner_id, item, quantity, state, created_at) VALUES ($1, $2, $3, 'draft', $4) RETURNING id",
        )
        .bind(owner_id)
        .bind(item)
        .bind(quantity)
        .bind(now())
        .fetch_one(&self.pool)
        .await
        .map_err(|e| match &e {
            sqlx::Error::Database(db) if db.is_foreign_key_violation() => StoreError::UnknownUser,
            _ => StoreError::Database(e),
        })?;
        Ok(Order {
            id: row.try_get("id")?,
            owner_id,
            item: item.to_owned(),
            quantity,
            state: OrderState::Draft,
        })
    }

    /// How many orders there are, in every state.
    pub async fn count_orders(&self) -> Result<i64, StoreError> {
        let row = sqlx::query("SELECT COUNT(*) AS n FROM orders")
            .fetch_one(&self.pool)
            .await?;
        Ok(row.try_get::<i64, _>("n")?)
    }

    /// The order with `id`, if any.
    pub async fn order(&self, id: i64) -> Result<Option<Order>, StoreError> {
        let row =
            sqlx::query("SELECT id, owner_id, item, quantity, state FROM orders WHERE id = $1")
                .bind(id)
                .fetch_optional(&self.pool)
                .await?;
        Ok(row.and_then(|row| order_from(&row)))
    }

    /// Moves an order along `transition` with one compare-and-set
    /// (`UPDATE .. WHERE state = from`), and records who moved it, from where
    /// to where and when, in the same transaction. `false` when it was no
    /// longer in `from` (someone else moved it first): nothing is written.
    pub async fn transition_order(
        &self,
        id: i64,
        transition: Transition<OrderState>,
        actor: &str,
    ) -> Result<bool, StoreError> {
        let mut tx = self.pool.begin().await?;
        let done = sqlx::query("UPDATE orders SET state = $1 WHERE id = $2 AND state = $3")
            .bind(transition.to.name())
            .bind(id)
            .bind(transition.from.name())
            .execute(&mut *tx)
            .await?;
        if done.rows_affected() != 1 {
            return Ok(false);
        }
        sqlx::query("INSERT INTO order_transitions (order_id, actor, from_state, to_state, at) VALUES ($1, $2, $3, $4, $5)")
            .bind(id)
            .bind(actor)
            .bind(transition.from.name())
            .bind(transition.to.name())
            .bind(now())
            .execute(&mut *tx)
            .await?;
        tx.commit().await?;
        Ok(true)
    }

    /// The recorded transitions of an order, oldest first, as
    /// `(actor, from, to)`.
    pub async fn order_transitions(
        &self,
        id: i64,
    ) -> Result<Vec<(String, String, String)>, StoreError> {
        let rows = sqlx::query("SELECT actor, from_state, to_state FROM order_transitions WHERE order_id = $1 ORDER BY id")
            .bind(id)
            .fetch_all(&self.pool)
            .await?;
        Ok(rows
            .iter()
            .map(|r| (r.get("actor"), r.get("from_state"), r.get("to_state")))
            .collect())
    }

    /// Users whose username or display name contains `text`, by id, at most
    /// `limit` of them after skipping `offset`.
    pub async fn search_users(
        &self,
        text: &str,
        limit: u32,
        offset: u64,
    ) -> Result<Vec<User>, StoreError> {
        // `%`, `_` and `\\` in the text match themselves.
        let mut pattern = String::with_capacity(text.len() + 2);
        pattern.push('%');
        for c in text.chars() {
            if matches!(c, '%' | '_' | '\\') {
                pattern.push('\\');
            }
            pattern.push(c);
        }
        pattern.push('%');
        let rows = sqlx::query(
            "SELECT id, username, display_name, password_hash, roles, salary_cents, internal_note FROM users \
             WHERE LOWER(username) LIKE LOWER($1) ESCAPE '\\' OR LOWER(display_name) LIKE LOWER($1) ESCAPE '\\' \
             ORDER BY id LIMIT $2 OFFSET $3",
        )
        .bind(pattern)
        .bind(i64::from(limit))
        .bind(i64::try_from(offset).unwrap_or(i64::MAX))
        .fetch_all(&self.pool)
        .await?;
        Ok(rows.iter().map(user_from).collect())
    }

    /// Records a verified payment delivery (for any order id: unknown orders
    /// are recorded, not acted on). A delivery id already recorded is left
    /// as it is: the table is unique on `webhook_id`, behind the webhook
    /// guard's own once-only rule.
    pub async fn record_payment_event(
        &self,
        webhook_id: &str,
        kind: &str,
        order_id: i64,
        amount: i64,
    ) -> Result<(), StoreError> {
        sqlx::query(
            "INSERT INTO payment_events (webhook_id, kind, order_id, amount, received_at) VALUES ($1, $2, $3, $4, $5) ON CONFLICT (webhook_id) DO NOTHING",
        )
        .bind(webhook_id)
        .bind(kind)
        .bind(order_id)
        .bind(amount)
        .bind(now())
        .execute(&self.pool)
        .await?;
        Ok(())
    }

    /// The recorded payment deliveries, oldest first, as
    /// `(webhook_id, kind, order_id, amount)`.
    pub async fn payment_events(&self) -> Result<Vec<(String, String, i64, i64)>, StoreError> {
        let rows = sqlx::query(
            "SELECT webhook_id, kind, order_id, amount FROM payment_events ORDER BY id",
        )
        .fetch_all(&self.pool)
        .await?;
        rows.iter()
            .map(|r| {
                Ok((
                    r.try_get("webhook_id")?,
                    r.try_get("kind")?,
                    r.try_get("order_id")?,
                    r.try_get("amount")?,
                ))
            })
            .collect()
    }

    /// The user named `username`, if any.
    pub async fn user_by_name(&self, username: &str) -> Result<Option<User>, StoreError> {
        let row = sqlx::query(
            "SELECT id, username, display_name, password_hash, roles, salary_cents, internal_note FROM users WHERE username = $1",
        )
        .bind(username)
        .fetch_optional(&self.pool)
        .await?;
        Ok(row.map(|row| user_from(&row)))
    }
}

fn user_from(row: &AnyRow) -> User {
    let roles: String = row.get("roles");
    User {
        id: row.get("id"),
        username: row.get("username"),
        display_name: row.get("display_name"),
        password_hash: row.get("password_hash"),
        roles: roles.split_whitespace().map(str::to_owned).collect(),
        salary_cents: row.get("salary_cents"),
        internal_note: row.get("internal_note"),
    }
}

/// An order row; `None` (logged) for a state this version does not know.
fn order_from(row: &AnyRow) -> Option<Order> {
    let state: String = row.get("state");
    let Some(state) = OrderState::from_name(&state) else {
        tracing::error!(target: "example_app", state, "an order is in an unknown state");
        return None;
    };
    Some(Order {
        id: row.get("id"),
        owner_id: row.get("owner_id"),
        item: row.get("item"),
        quantity: row.get("quantity"),
        state,
    })
}

fn now() -> i64 {
    let secs = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_secs());
    i64::try_from(secs).unwrap_or(i64::MAX)
}
