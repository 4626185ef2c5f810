//! The SQL [`TokenStore`]: one code path through sqlx's `Any` driver for
//! SQLite (the embedded default) and PostgreSQL, with its schema applied at
//! start.

use sqlx::AnyPool;
use sqlx::any::AnyPoolOptions;
use sqlx::{Executor as _, Row as _};

use super::sessions::RefreshRecord;
use super::sessions::{FamilyOf, Rotation, StoreError, TokenHash, TokenStore};

/// The schema, one statement list per version, applied in order once each.
const SCHEMA: [(i64, &[&str]); 1] = [(
    1,
    &[
        "CREATE TABLE secure_api_refresh_tokens (
            hash TEXT PRIMARY KEY,
            family TEXT NOT NULL,
            sub TEXT NOT NULL,
            issued_at BIGINT NOT NULL,
            expires_at BIGINT NOT NULL,
            used_at BIGINT,
            revoked_at BIGINT
        )",
        "CREATE INDEX secure_api_refresh_tokens_family ON secure_api_refresh_tokens (family)",
        "CREATE INDEX secure_api_refresh_tokens_expiry ON secure_api_refresh_tokens (expires_at)",
        "CREATE TABLE secure_api_denied_tokens (
            jti TEXT PRIMARY KEY,
            expires_at BIGINT NOT NULL
        )",
    ],
)];

/// Refresh tokens that expired this long ago are deleted (by the SQL store
/// at every insert, by the in-memory one at its cap): until then, a spent
/// token presented again is still recognised as reuse.
pub(super) const KEEP_EXPIRED_SECS: u64 = 24 * 60 * 60;

/// Refresh tokens and denied access tokens in SQLite or PostgreSQL.
///
/// Shares the application's pool (and so its database); its tables are
/// prefixed `secure_api_`. Rotation is one transaction whose first
/// statement is the compare-and-set `UPDATE`, so concurrent rotations of
/// one token serialize on its row in both databases.
#[derive(Clone, Debug)]
pub struct SqlTokenStore {
    pool: AnyPool,
}

/// Opens an `Any` pool for a `sqlite:` or `postgres:` URL: SQLite files are
/// created when missing and use write-ahead logging.
///
/// # Errors
///
/// An unsupported scheme or a connection failure.
pub async fn connect_any(url: &str, max_connections: u32) -> Result<AnyPool, sqlx::Error> {
    sqlx::any::install_default_drivers();
    let sqlite = url.starts_with("sqlite:");
    if !sqlite && !url.starts_with("postgres://") && !url.starts_with("postgresql://") {
        return Err(sqlx::Error::Configuration(
            "the database URL must start with `sqlite:` or `postgres://`".into(),
        ));
    }
    let memory = url.contains(":memory:");
    let url = if sqlite && !memory && !url.contains('?') {
        format!("{url}?mode=rwc")
    } else {
        url.to_owned()
    };
    AnyPoolOptions::new()
        .max_connections(if memory { 1 } else { max_connections })
        .after_connect(move |conn, _| {
            Box::pin(async move {
                if sqlite && !memory {
                    conn.execute("PRAGMA journal_mode = WAL; PRAGMA busy_timeout = 5000")
                        .await?;
                }
                Ok(())
            })
        })
        .connect(&url)
        .await
}

fn secs(value: u64) -> i64 {
    i64::try_from(value).unwrap_or(i64::MAX)
}

impl SqlTokenStore {
    /// Uses `pool`, applying the schema.
    pub async fn new(pool: AnyPool) -> Result<Self, StoreError> {
        sqlx::query(
            "CREATE TABLE IF NOT EXISTS secure_api_schema (version BIGINT PRIMARY KEY, applied_at BIGINT NOT NULL)",
        )
        .execute(&pool)
        .await?;
        for (version, statements) in SCHEMA {
            let mut tx = pool.begin().await?;
            let applied = sqlx::query("SELECT 1 FROM secure_api_schema WHERE version = $1")
                .bind(version)
                .fetch_optional(&mut *tx)
                .await?
                .is_some();
            if applied {
                continue;
            }
            for statement in statements {
                sqlx::query(statement).execute(&mut *tx).await?;
            }
            sqlx::query("INSERT INTO secure_api_schema (version, applied_at) VALUES ($1, $2)")
                .bind(version)
                .bind(secs(crate::util::now_secs()))
                .execute(&mut *tx)
                .await?;
            tx.commit().await?;
        }
        Ok(Self { pool })
    }

    /// Opens (creating a SQLite file if needed) the database at `url`.
    pub async fn open_url(url: &str) -> Result<Self, StoreError> {
        Self::new(connect_any(url, 8).await?).await
    }
}

impl TokenStore for SqlTokenStore {
    async fn insert(&self, record: &RefreshRecord) -> Result<(), StoreError> {
        sqlx::query("DELETE FROM secure_api_refresh_tokens WHERE expires_at < $1")
            .bind(secs(record.issued_at.saturating_sub(KEEP_EXPIRED_SECS)))
            .execute(&self.pool)
            .await?;
        sqlx::query(
            "INSERT INTO secure_api_refresh_tokens (hash, family, sub, issued_at, expires_at) VALUES ($1, $2, $3, $4, $5)",
        )
        .bind(record.hash.to_hex())
        .bind(&record.family)
        .bind(&record.sub)
        .bind(secs(record.issued_at))
        .bind(secs(record.expires_at))
        .execute(&self.pool)
        .await?;
        Ok(())
    }

    async fn rotate(
        &self,
        presented: &TokenHash,
        next: &TokenHash,
        now: u64,
        expires_at: u64,
    ) -> Result<Rotation, StoreError> {
        let presented = presented.to_hex();
        let mut tx = self.pool.begin().await?;
        let claimed = sqlx::query(
            "UPDATE secure_api_refresh_tokens SET used_at = $1
             WHERE hash = $2 AND used_at IS NULL AND revoked_at IS NULL AND expires_at > $1
             RETURNING family, sub",
        )
        .bind(secs(now))
        .bind(&presented)
        .fetch_optional(&mut *tx)
        .await?;
        if let Some(row) = claimed {
            let family: String = row.try_get("family")?;
            let sub: String = row.try_get("sub")?;
            sqlx::query(
                "INSERT INTO secure_api_refresh_tokens (hash, family, sub, issued_at, expires_at) VALUES ($1, $2, $3, $4, $5)",
            )
            .bind(next.to_hex())
            .bind(&family)
            .bind(&sub)
            .bind(secs(now))
            .bind(secs(expires_at))
            .execute(&mut *tx)
            .await?;
            tx.commit().await?;
            return Ok(Rotation::Rotated { sub });
        }
        tx.rollback().await?;
        let row = sqlx::query(
            "SELECT family, sub, used_at, revoked_at FROM secure_api_refresh_tokens WHERE hash = $1",
        )
        .bind(&presented)
        .fetch_optional(&self.pool)
        .await?;
        let Some(row) = row else {
            return Ok(Rotation::Unknown);
        };
        let used: Option<i64> = row.try_get("used_at")?;
        let revoked: Option<i64> = row.try_get("revoked_at")?;
        if used.is_none() && revoked.is_none() {
            return Ok(Rotation::Expired);
        }
        let family: String = row.try_get("family")?;
        let sub: String = row.try_get("sub")?;
        self.revoke_family(&family, now).await?;
        Ok(Rotation::Reused { sub, family })
    }

    async fn family_of(&self, token: &TokenHash) -> Result<Option<FamilyOf>, StoreError> {
        let row = sqlx::query("SELECT family, sub FROM secure_api_refresh_tokens WHERE hash = $1")
            .bind(token.to_hex())
            .fetch_optional(&self.pool)
            .await?;
        match row {
            None => Ok(None),
            Some(row) => Ok(Some(FamilyOf {
                family: row.try_get("family")?,
                sub: row.try_get("sub")?,
            })),
        }
    }

    async fn revoke_family(&self, family: &str, now: u64) -> Result<(), StoreError> {
        sqlx::query(
            "UPDATE secure_api_refresh_tokens SET revoked_at = $1 WHERE family = $2 AND revoked_at IS NULL",
        )
        .bind(secs(now))
        .bind(family)
        .execute(&self.pool)
        .await?;
        Ok(())
    }

    async fn deny(&self, jti: &str, exp: u64) -> Result<(), StoreError> {
        sqlx::query("DELETE FROM secure_api_denied_tokens WHERE expires_at < $1")
            .bind(secs(crate::util::now_secs()))
            .execute(&self.pool)
            .await?;
        sqlx::query(
            "INSERT INTO secure_api_denied_tokens (jti, expires_at) VALUES ($1, $2) ON CONFLICT (jti) DO NOTHING",
        )
        .bind(jti)
        .bind(secs(exp))
        .execute(&self.pool)
        .await?;
        Ok(())
    }

    async fn denied(&self, now: u64) -> Result<Vec<(String, u64)>, StoreError> {
        let rows = sqlx::query(
            "SELECT jti, expires_at FROM secure_api_denied_tokens WHERE expires_at >= $1",
        )
        .bind(secs(now))
        .fetch_all(&self.pool)
        .await?;
        rows.iter()
            .map(|row| {
                let jti: String = row.try_get("jti")?;
                let exp: i64 = row.try_get("expires_at")?;
                Ok((jti, u64::try_from(exp).unwrap_or(0)))
            })
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn hash(byte: u8) -> TokenHash {
        TokenHash([byte; 32])
    }

    /// An in-memory store holding token 1 of family `f`, for subject 7,
    /// issued at 1,000 and expiring at 2,000.
    async fn store_with_one_token() -> SqlTokenStore {
        let store = SqlTokenStore::open_url("sqlite::memory:")
            .await
            .expect("test setup");
        store
            .insert(&RefreshRecord {
                hash: hash(1),
                family: "f".to_owned(),
                sub: "7".to_owned(),
                issued_at: 1_000,
                expires_at: 2_000,
            })
            .await
            .expect("test setup");
        store
    }

    #[tokio::test]
    async fn rotation_is_single_use_and_reuse_revokes_the_family() {
        let store = store_with_one_token().await;
        assert_eq!(
            store
                .rotate(&hash(1), &hash(2), 1_100, 2_100)
                .await
                .expect("test setup"),
            Rotation::Rotated {
                sub: "7".to_owned()
            }
        );
        assert_eq!(
            store
                .rotate(&hash(1), &hash(3), 1_200, 2_200)
                .await
                .expect("test setup"),
            Rotation::Reused {
                sub: "7".to_owned(),
                family: "f".to_owned()
            }
        );
        // The newest token of the family died with it.
        assert!(matches!(
            store
                .rotate(&hash(2), &hash(4), 1_300, 2_300)
                .await
                .expect("test setup"),
            Rotation::Reused { .. }
        ));
        assert_eq!(
            store
                .rotate(&hash(9), &hash(5), 1_300, 2_300)
                .await
                .expect("test setup"),
            Rotation::Unknown
        );
    }

    #[tokio::test]
    async fn expired_tokens_do_not_rotate_and_denials_reload() {
        let store = store_with_one_token().await;
        assert_eq!(
            store
                .rotate(&hash(1), &hash(2), 2_000, 3_000)
                .await
                .expect("test setup"),
            Rotation::Expired
        );
        store.deny("old", 10).await.expect("test setup");
        store.deny("live", u64::MAX / 2).await.expect("test setup");
        store.deny("live", u64::MAX / 2).await.expect("test setup");
        let denied = store.denied(100).await.expect("test setup");
        assert_eq!(denied, vec![("live".to_owned(), u64::MAX / 2)]);
        // Applying the schema twice is harmless.
        SqlTokenStore::new(store.pool.clone())
            .await
            .expect("test setup");
    }
}
