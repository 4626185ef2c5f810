//! The example's data: users in SQLite through sqlx, with the schema
//! migrations embedded in the binary and applied at start.

use std::borrow::Cow;
use std::future::Future;
use std::pin::Pin;
use std::str::FromStr;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use secure_api_runtime::prelude::{StateMachine, Stateful, Transition};
use serde::Serialize;
use sqlx::error::BoxDynError;
use sqlx::migrate::{Migration, MigrationSource, MigrationType, Migrator};
use sqlx::sqlite::{SqliteConnectOptions, SqliteJournalMode, SqlitePool, SqlitePoolOptions};
use sqlx::{Row as _, sqlite::SqliteRow};

/// What can go wrong with the store.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// `DATABASE_URL` is not a SQLite URL this app can open.
    #[error("DATABASE_URL is not a valid SQLite URL: {0}")]
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
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, StateMachine)]
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

/// Users, in SQLite.
#[derive(Clone, Debug)]
pub struct Store {
    pool: SqlitePool,
}

#[derive(Debug)]
struct Embedded;

const MIGRATIONS: [(i64, &str, &str); 4] = [
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
];

impl<'s> MigrationSource<'s> for Embedded {
    fn resolve(
        self,
    ) -> Pin<Box<dyn Future<Output = Result<Vec<Migration>, BoxDynError>> + Send + 's>> {
        Box::pin(async {
            Ok(MIGRATIONS
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
    /// Opens (creating if needed) the database at `url` and applies the schema.
    pub async fn open(url: &str) -> Result<Self, StoreError> {
        let options = SqliteConnectOptions::from_str(url)
            .map_err(StoreError::Url)?
            .create_if_missing(true)
            .journal_mode(SqliteJournalMode::Wal)
            .busy_timeout(Duration::from_secs(5));
        let pool = SqlitePoolOptions::new()
            .max_connections(8)
            .connect_with(options)
            .await?;
        Migrator::new(Embedded).await?.run(&pool).await?;
        Ok(Self { pool })
    }

    /// The connection pool, shared with the token store.
    pub fn pool(&self) -> &SqlitePool {
        &self.pool
    }

    /// Replaces a user's password hash (after a rehash on login).
    pub async fn set_password_hash(&self, id: i64, hash: &str) -> Result<(), StoreError> {
        sqlx::query("UPDATE users SET password_hash = ? WHERE id = ?")
            .bind(hash)
            .bind(id)
            .execute(&self.pool)
            .await?;
        Ok(())
    }

    /// A user's confirmed TOTP secret and the last step accepted, if the
    /// second factor is on.
    pub async fn totp(&self, id: i64) -> Result<Option<(String, Option<u64>)>, StoreError> {
        let row = sqlx::query("SELECT totp_secret, totp_last_step FROM users WHERE id = ?")
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
            "UPDATE users SET totp_last_step = ? WHERE id = ? AND (totp_last_step IS NULL OR totp_last_step < ?)",
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
        sqlx::query("UPDATE users SET totp_pending = ? WHERE id = ?")
            .bind(secret)
            .bind(id)
            .execute(&self.pool)
            .await?;
        Ok(())
    }

    /// The TOTP secret waiting for its first code.
    pub async fn totp_pending(&self, id: i64) -> Result<Option<String>, StoreError> {
        let row = sqlx::query("SELECT totp_pending FROM users WHERE id = ?")
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
            "UPDATE users SET totp_secret = totp_pending, totp_pending = NULL, totp_last_step = ? WHERE id = ? AND totp_pending = ?",
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
            "INSERT INTO users (username, display_name, password_hash, roles, created_at) VALUES (?, ?, ?, ?, ?)",
        )
        .bind(username)
        .bind(display_name)
        .bind(password_hash)
        .bind(roles.join(" "))
        .bind(i64::try_from(created_at).unwrap_or(i64::MAX))
        .execute(&self.pool)
        .await;
        match result {
            Ok(done) => Ok(User {
                id: done.last_insert_rowid(),
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
            "SELECT id, username, display_name, password_hash, roles, salary_cents, internal_note FROM users WHERE id = ?",
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
        sqlx::query("UPDATE users SET display_name = ? WHERE id = ?")
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
        sqlx::query("UPDATE users SET salary_cents = ?, internal_note = ? WHERE id = ?")
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
        let done = sqlx::query(
            "INSERT INTO orders (owner_id, item, quantity, state, created_at) VALUES (?, ?, ?, 'draft', ?)",
        )
        .bind(owner_id)
        .bind(item)
        .bind(quantity)
        .bind(now())
        .execute(&self.pool)
        .await?;
        Ok(Order {
            id: done.last_insert_rowid(),
            owner_id,
            item: item.to_owned(),
            quantity,
            state: OrderState::Draft,
        })
    }

    /// The order with `id`, if any.
    pub async fn order(&self, id: i64) -> Result<Option<Order>, StoreError> {
        let row =
            sqlx::query("SELECT id, owner_id, item, quantity, state FROM orders WHERE id = ?")
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
        let done = sqlx::query("UPDATE orders SET state = ? WHERE id = ? AND state = ?")
            .bind(transition.to.name())
            .bind(id)
            .bind(transition.from.name())
            .execute(&mut *tx)
            .await?;
        if done.rows_affected() != 1 {
            return Ok(false);
        }
        sqlx::query("INSERT INTO order_transitions (order_id, actor, from_state, to_state, at) VALUES (?, ?, ?, ?, ?)")
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
        let rows = sqlx::query("SELECT actor, from_state, to_state FROM order_transitions WHERE order_id = ? ORDER BY id")
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
             WHERE username LIKE ?1 ESCAPE '\\' OR display_name LIKE ?1 ESCAPE '\\' ORDER BY id LIMIT ?2 OFFSET ?3",
        )
        .bind(pattern)
        .bind(i64::from(limit))
        .bind(i64::try_from(offset).unwrap_or(i64::MAX))
        .fetch_all(&self.pool)
        .await?;
        Ok(rows.iter().map(user_from).collect())
    }

    /// The user named `username`, if any.
    pub async fn user_by_name(&self, username: &str) -> Result<Option<User>, StoreError> {
        let row = sqlx::query(
            "SELECT id, username, display_name, password_hash, roles, salary_cents, internal_note FROM users WHERE username = ?",
        )
        .bind(username)
        .fetch_optional(&self.pool)
        .await?;
        Ok(row.map(|row| user_from(&row)))
    }
}

fn user_from(row: &SqliteRow) -> User {
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
fn order_from(row: &SqliteRow) -> Option<Order> {
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
