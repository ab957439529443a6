//! The tutorial's `businesses` table, per backend: id, the nine text
//! columns (name NOT NULL), created_at, updated_at, deleted_at (soft
//! delete), and indexes on name, category, email, city, country and
//! deleted_at — named as GORM names them, so the tutorial's own code can
//! share the table. Timestamps default to the time of insert.

/// Column list used by every INSERT and COPY, in `FIELDS` order.
pub const COLUMNS: &str =
    "name, category, phone, email, address, city, country, website, description";

/// PostgreSQL DDL, idempotent.
pub const POSTGRES: &str = "
CREATE TABLE IF NOT EXISTS businesses (
    id          BIGSERIAL PRIMARY KEY,
    name        TEXT NOT NULL,
    category    TEXT,
    phone       TEXT,
    email       TEXT,
    address     TEXT,
    city        TEXT,
    country     TEXT,
    website     TEXT,
    description TEXT,
    created_at  TIMESTAMPTZ NOT NULL DEFAULT now(),
    updated_at  TIMESTAMPTZ NOT NULL DEFAULT now(),
    deleted_at  TIMESTAMPTZ
);
CREATE INDEX IF NOT EXISTS idx_businesses_name ON businesses (name);
CREATE INDEX IF NOT EXISTS idx_businesses_category ON businesses (category);
CREATE INDEX IF NOT EXISTS idx_businesses_email ON businesses (email);
CREATE INDEX IF NOT EXISTS idx_businesses_city ON businesses (city);
CREATE INDEX IF NOT EXISTS idx_businesses_country ON businesses (country);
CREATE INDEX IF NOT EXISTS idx_businesses_deleted_at ON businesses (deleted_at);
";

/// SQLite DDL, idempotent.
pub const SQLITE: &str = "
CREATE TABLE IF NOT EXISTS businesses (
    id          INTEGER PRIMARY KEY AUTOINCREMENT,
    name        TEXT NOT NULL,
    category    TEXT,
    phone       TEXT,
    email       TEXT,
    address     TEXT,
    city        TEXT,
    country     TEXT,
    website     TEXT,
    description TEXT,
    created_at  TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ', 'now')),
    updated_at  TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ', 'now')),
    deleted_at  TEXT
);
CREATE INDEX IF NOT EXISTS idx_businesses_name ON businesses (name);
CREATE INDEX IF NOT EXISTS idx_businesses_category ON businesses (category);
CREATE INDEX IF NOT EXISTS idx_businesses_email ON businesses (email);
CREATE INDEX IF NOT EXISTS idx_businesses_city ON businesses (city);
CREATE INDEX IF NOT EXISTS idx_businesses_country ON businesses (country);
CREATE INDEX IF NOT EXISTS idx_businesses_deleted_at ON businesses (deleted_at);
";

/// `($1, …, $9), ($10, …)` placeholders for `rows` rows (PostgreSQL), or
/// `(?, …), (…)` when `numbered` is false (SQLite).
pub fn values_placeholders(rows: usize, numbered: bool) -> String {
    let mut sql = String::with_capacity(rows * 40);
    for r in 0..rows {
        if r > 0 {
            sql.push_str(", ");
        }
        sql.push('(');
        for c in 0..9 {
            if c > 0 {
                sql.push_str(", ");
            }
            if numbered {
                sql.push('$');
                sql.push_str(&(r * 9 + c + 1).to_string());
            } else {
                sql.push('?');
            }
        }
        sql.push(')');
    }
    sql
}

/// `INSERT INTO businesses (…) VALUES …` for `rows` rows.
pub fn insert_sql(rows: usize, numbered: bool) -> String {
    format!(
        "INSERT INTO businesses ({COLUMNS}) VALUES {}",
        values_placeholders(rows, numbered)
    )
}

#[cfg(test)]
mod tests {
    #[test]
    fn placeholders_number_every_value_of_every_row() {
        assert_eq!(
            super::values_placeholders(2, true),
            "($1, $2, $3, $4, $5, $6, $7, $8, $9), ($10, $11, $12, $13, $14, $15, $16, $17, $18)"
        );
        assert!(super::insert_sql(1, false).ends_with("VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)"));
    }
}
