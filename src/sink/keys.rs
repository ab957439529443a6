//! The service's API keys (`sheetpipe keys`, `serve --auth required`) and
//! the `owner` of each import, in sheetpipe's own tables on every backend
//! (MySQL's in `sink::mysql::keys`), so that every instance sharing the
//! database sees the same keys and a revocation at once.
//!
//! A key is `sp_` and 64 hex digits: 256 bits from the operating system's
//! random source. The table keeps only its SHA-256. A plain fast hash is
//! enough here — unlike a password, a 256-bit random key cannot be guessed
//! by trying candidates against a stolen hash, so a slow hash (bcrypt,
//! argon2) would buy nothing and cost every request its time. The hash
//! being an exact, indexed column also lets a request be checked against
//! the table with one lookup, so a revoked key stops working on the next
//! request, on every instance (no cache).
//!
//! Revoking keeps the key's row (`revoked_at` set): its name stays taken,
//! because the imports it made name it as their owner, and a new key of the
//! same name would inherit them.

use rand::RngCore;
use sha2::{Digest, Sha256};
use tokio_postgres::types::ToSql;

use super::imports::pg_error;
use super::{DbError, Sink};

/// What a key may do. Each role may do everything the one before it may.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Role {
    /// List imports, read their status, events and reject reports.
    Reader,
    /// Also upload, cancel and undo imports.
    Importer,
    /// Also every other key's imports, and `/metrics` when it is admin-only.
    Admin,
}

impl Role {
    /// Every role, least first.
    pub const ALL: [Role; 3] = [Role::Reader, Role::Importer, Role::Admin];

    /// The role's name as stored and typed.
    pub fn as_str(self) -> &'static str {
        match self {
            Role::Reader => "reader",
            Role::Importer => "importer",
            Role::Admin => "admin",
        }
    }

    /// A role by name.
    pub fn parse(s: &str) -> Option<Role> {
        Role::ALL.into_iter().find(|r| r.as_str() == s)
    }

    /// Whether this role may do what `needed` may.
    pub fn covers(self, needed: Role) -> bool {
        self >= needed
    }
}

impl std::fmt::Display for Role {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A key as `keys list` shows it (never the key itself, which is not kept).
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct ApiKey {
    /// Its unique name, logged with every request it makes.
    pub name: String,
    /// What it may do.
    pub role: Role,
    /// When it was created (RFC 3339).
    pub created_at: String,
    /// When it was revoked, if it was.
    pub revoked_at: Option<String>,
}

impl serde::Serialize for Role {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(self.as_str())
    }
}

/// The prefix of every key (so that secret scanners and people know one).
pub const KEY_PREFIX: &str = "sp_";

/// A fresh random key: `sp_` and 64 hex digits (256 bits).
pub fn generate_key() -> String {
    let mut bytes = [0u8; 32];
    rand::rngs::OsRng.fill_bytes(&mut bytes);
    format!("{KEY_PREFIX}{}", hex(&bytes))
}

/// The SHA-256 of a key, lowercase hex: what the table keeps.
pub fn key_hash(key: &str) -> String {
    hex(&Sha256::digest(key.as_bytes()))
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// The longest key name.
pub const MAX_NAME: usize = 64;

/// Checks a key name: 1 to [`MAX_NAME`] characters of `A-Z a-z 0-9 . _ -`,
/// so that it is safe in every log line and URL.
pub fn check_name(name: &str) -> Result<(), String> {
    let ok = (1..=MAX_NAME).contains(&name.len())
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'_' | b'-'));
    if ok {
        Ok(())
    } else {
        Err(format!(
            "invalid key name {name:?}: use 1 to {MAX_NAME} characters of A-Z a-z 0-9 . _ -"
        ))
    }
}

/// PostgreSQL: true when the keys table and the `owner` column exist.
const PG_PRESENT: &str = "SELECT to_regclass('api_keys') IS NOT NULL AND EXISTS (SELECT 1 FROM \
     information_schema.columns WHERE table_schema = current_schema() \
     AND table_name = 'imports' AND column_name = 'owner')";

/// PostgreSQL DDL, idempotent; run after the `imports` table exists.
const POSTGRES: &str = "
CREATE TABLE IF NOT EXISTS api_keys (
    name        TEXT PRIMARY KEY,
    role        TEXT NOT NULL,
    key_sha256  TEXT NOT NULL UNIQUE,
    created_at  TIMESTAMPTZ NOT NULL,
    revoked_at  TIMESTAMPTZ
);
ALTER TABLE imports ADD COLUMN IF NOT EXISTS owner TEXT;
CREATE INDEX IF NOT EXISTS idx_imports_owner_seq ON imports (owner, seq);
";

/// SQLite DDL, idempotent; run after the `owner` column was added
/// (`sink::upkeep`).
pub(super) const SQLITE: &str = "
CREATE TABLE IF NOT EXISTS api_keys (
    name        TEXT PRIMARY KEY,
    role        TEXT NOT NULL,
    key_sha256  TEXT NOT NULL UNIQUE,
    created_at  TEXT NOT NULL,
    revoked_at  TEXT
);
CREATE INDEX IF NOT EXISTS idx_imports_owner ON imports (owner);
";

/// Creates the keys table and the `owner` column on PostgreSQL when they
/// are missing (DDL takes table locks even when it changes nothing, so it
/// runs only then, under the schema's advisory lock).
pub(super) async fn ensure_postgres(client: &tokio_postgres::Client) -> Result<(), DbError> {
    let present = client.query_one(PG_PRESENT, &[]).await.map_err(pg_error)?;
    if present.get::<_, bool>(0) {
        return Ok(());
    }
    client
        .batch_execute(&format!(
            "BEGIN; SELECT pg_advisory_xact_lock(7158234); {POSTGRES} COMMIT;"
        ))
        .await
        .map_err(pg_error)
}

const PG_TS: &str = "'YYYY-MM-DD\"T\"HH24:MI:SS.MS\"Z\"'";

fn role_of(s: &str) -> Result<Role, DbError> {
    Role::parse(s).ok_or_else(|| DbError::new(format!("api_keys: unknown role {s:?}")))
}

impl Sink {
    /// Stores a new key (its hash); `Ok(false)` when a key of that name
    /// exists or existed (names of revoked keys stay taken).
    pub async fn create_key(
        &self,
        name: &str,
        role: Role,
        hash: &str,
        at: &str,
    ) -> Result<bool, DbError> {
        const PG: &str = "INSERT INTO api_keys (name, role, key_sha256, created_at) \
             VALUES ($1, $2, $3, $4::text::timestamptz) ON CONFLICT DO NOTHING";
        const LITE: &str = "INSERT INTO api_keys (name, role, key_sha256, created_at) \
             VALUES (?1, ?2, ?3, ?4) ON CONFLICT DO NOTHING";
        let role = role.as_str();
        match self {
            Sink::Postgres(s) => {
                let c = s.connection().await?;
                let params: [&(dyn ToSql + Sync); 4] = [&name, &role, &hash, &at];
                Ok(c.execute(PG, &params).await.map_err(pg_error)? == 1)
            }
            Sink::Sqlite(s) => {
                let p = [name, role, hash, at].map(str::to_string);
                s.with_conn(move |c| c.execute(LITE, p).map(|n| n == 1))
                    .await
            }
            Sink::Mysql(s) => super::mysql::keys::create(s, name, role, hash, at).await,
        }
    }

    /// Every key, revoked ones included, by name.
    pub async fn list_keys(&self) -> Result<Vec<ApiKey>, DbError> {
        let rows: Vec<(String, String, String, Option<String>)> = match self {
            Sink::Postgres(s) => {
                let sql = format!(
                    "SELECT name, role, to_char(created_at AT TIME ZONE 'UTC', {PG_TS}), \
                     to_char(revoked_at AT TIME ZONE 'UTC', {PG_TS}) FROM api_keys ORDER BY name"
                );
                let c = s.connection().await?;
                let rows = c.query(&sql, &[]).await.map_err(pg_error)?;
                rows.iter()
                    .map(|r| (r.get(0), r.get(1), r.get(2), r.get(3)))
                    .collect()
            }
            Sink::Sqlite(s) => {
                s.with_conn(|c| {
                    let mut stmt = c.prepare(
                        "SELECT name, role, created_at, revoked_at FROM api_keys ORDER BY name",
                    )?;
                    let rows = stmt
                        .query_map([], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?)))?
                        .collect::<Result<Vec<_>, _>>()?;
                    Ok(rows)
                })
                .await?
            }
            Sink::Mysql(s) => super::mysql::keys::list(s).await?,
        };
        rows.into_iter()
            .map(|(name, role, created_at, revoked_at)| {
                Ok(ApiKey {
                    name,
                    role: role_of(&role)?,
                    created_at,
                    revoked_at,
                })
            })
            .collect()
    }

    /// Revokes the key `name` at `at`: `Ok(true)` when a live key was
    /// revoked, `Ok(false)` when there is no live key of that name.
    pub async fn revoke_key(&self, name: &str, at: &str) -> Result<bool, DbError> {
        const PG: &str = "UPDATE api_keys SET revoked_at = $2::text::timestamptz \
             WHERE name = $1 AND revoked_at IS NULL";
        const LITE: &str =
            "UPDATE api_keys SET revoked_at = ?2 WHERE name = ?1 AND revoked_at IS NULL";
        match self {
            Sink::Postgres(s) => {
                let c = s.connection().await?;
                Ok(c.execute(PG, &[&name, &at]).await.map_err(pg_error)? == 1)
            }
            Sink::Sqlite(s) => {
                let p = [name, at].map(str::to_string);
                s.with_conn(move |c| c.execute(LITE, p).map(|n| n == 1))
                    .await
            }
            Sink::Mysql(s) => super::mysql::keys::revoke(s, name, at).await,
        }
    }

    /// The live (not revoked) key whose SHA-256 is `hash`: its name and role.
    /// Read from the table on every call, so a revocation counts at once.
    pub async fn find_key(&self, hash: &str) -> Result<Option<(String, Role)>, DbError> {
        const PG: &str =
            "SELECT name, role FROM api_keys WHERE key_sha256 = $1 AND revoked_at IS NULL";
        const LITE: &str =
            "SELECT name, role FROM api_keys WHERE key_sha256 = ?1 AND revoked_at IS NULL";
        let found: Option<(String, String)> = match self {
            Sink::Postgres(s) => {
                let c = s.connection().await?;
                let rows = c.query(PG, &[&hash]).await.map_err(pg_error)?;
                rows.first().map(|r| (r.get(0), r.get(1)))
            }
            Sink::Sqlite(s) => {
                let h = hash.to_string();
                s.with_conn(move |c| {
                    let mut stmt = c.prepare_cached(LITE)?;
                    let mut rows = stmt.query_map([h], |r| Ok((r.get(0)?, r.get(1)?)))?;
                    rows.next().transpose()
                })
                .await?
            }
            Sink::Mysql(s) => super::mysql::keys::find(s, hash).await?,
        };
        found
            .map(|(name, role)| Ok((name, role_of(&role)?)))
            .transpose()
    }

    /// The owner (key name) of import `id`: `None` when there is no such
    /// import, `Some(None)` for one made without a key (the CLI, or a
    /// service with `--auth off`).
    pub async fn import_owner(&self, id: &str) -> Result<Option<Option<String>>, DbError> {
        const PG: &str = "SELECT owner FROM imports WHERE id = $1";
        const LITE: &str = "SELECT owner FROM imports WHERE id = ?1";
        match self {
            Sink::Postgres(s) => {
                let c = s.connection().await?;
                let rows = c.query(PG, &[&id]).await.map_err(pg_error)?;
                Ok(rows.first().map(|r| r.get(0)))
            }
            Sink::Sqlite(s) => {
                let id = id.to_string();
                s.with_conn(move |c| {
                    let mut stmt = c.prepare_cached(LITE)?;
                    let mut rows = stmt.query_map([id], |r| r.get(0))?;
                    rows.next().transpose()
                })
                .await
            }
            Sink::Mysql(s) => super::mysql::keys::owner(s, id).await,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sink::DatabaseUrl;

    #[test]
    fn keys_are_256_random_bits_and_only_their_hash_is_kept() {
        let a = generate_key();
        assert!(a.starts_with(KEY_PREFIX));
        assert_eq!(a.len(), KEY_PREFIX.len() + 64);
        assert_ne!(a, generate_key());
        assert_eq!(key_hash(&a).len(), 64);
        assert_ne!(key_hash(&a), a[KEY_PREFIX.len()..]);
    }

    #[test]
    fn roles_are_ordered_and_names_are_safe_to_log() {
        assert!(Role::Admin.covers(Role::Importer));
        assert!(Role::Importer.covers(Role::Reader));
        assert!(!Role::Reader.covers(Role::Importer));
        assert_eq!(Role::parse("importer"), Some(Role::Importer));
        assert_eq!(Role::parse("root"), None);
        assert!(check_name("ci-uploader.2").is_ok());
        for bad in ["", "a b", "x=1", "é", &"a".repeat(65)] {
            assert!(check_name(bad).is_err(), "{bad:?}");
        }
    }

    #[tokio::test]
    async fn sqlite_keys_are_created_found_listed_and_revoked() {
        let dir = tempfile::tempdir().unwrap();
        let sink = Sink::connect(&DatabaseUrl::Sqlite(dir.path().join("k.db")))
            .await
            .unwrap();
        let key = generate_key();
        let at = crate::sink::imports::now();
        assert!(sink
            .create_key("ci", Role::Importer, &key_hash(&key), &at)
            .await
            .unwrap());
        let again = generate_key();
        assert!(!sink
            .create_key("ci", Role::Admin, &key_hash(&again), &at)
            .await
            .unwrap());
        let found = sink.find_key(&key_hash(&key)).await.unwrap();
        assert_eq!(found, Some(("ci".to_string(), Role::Importer)));
        assert_eq!(sink.find_key(&key_hash(&again)).await.unwrap(), None);
        assert!(sink.revoke_key("ci", &at).await.unwrap());
        assert!(!sink.revoke_key("ci", &at).await.unwrap());
        assert_eq!(sink.find_key(&key_hash(&key)).await.unwrap(), None);
        let keys = sink.list_keys().await.unwrap();
        assert_eq!(keys.len(), 1);
        assert_eq!(keys[0].revoked_at.as_deref(), Some(at.as_str()));
        assert_eq!(sink.import_owner("nope").await.unwrap(), None);
    }
}
