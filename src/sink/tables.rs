//! The target table, per backend: introspect an existing one, list the
//! tables a file can be imported into (`GET /tables`), and create one from
//! a schema (`--create`, `--schema`).

use super::introspect::IntrospectError;
use mysql_async::prelude::Queryable;

use super::{ddl, mysql, postgres, sqlite, DbError, Sink};
use crate::model::TableSchema;

impl Sink {
    /// The schema of the existing table `name` (introspected), or why it
    /// cannot be a target: missing (naming the tables that exist) or with
    /// columns of types sheetpipe cannot write.
    pub async fn table_schema(&self, name: &str) -> Result<TableSchema, IntrospectError> {
        match self {
            Sink::Postgres(s) => {
                let client = s.connection().await?;
                postgres::introspect::table_schema(&client, name).await
            }
            Sink::Sqlite(s) => {
                let name = name.to_string();
                s.with_conn_raw(move |c| sqlite::introspect::table_schema(c, &name))
                    .await?
            }
            Sink::Mysql(s) => mysql::introspect::table_schema(&mut s.conn().await?, name).await,
        }
    }

    /// The user's tables (sheetpipe's own are left out), each its schema
    /// or why it cannot be a target.
    pub async fn list_tables(&self) -> Result<Vec<Result<TableSchema, IntrospectError>>, DbError> {
        match self {
            Sink::Postgres(s) => {
                let client = s.connection().await?;
                postgres::introspect::list_tables(&client).await
            }
            Sink::Sqlite(s) => {
                s.with_conn_raw(|c| sqlite::introspect::list_tables(c))
                    .await?
            }
            Sink::Mysql(s) => mysql::introspect::list_tables(&mut s.conn().await?).await,
        }
    }

    /// The CREATE TABLE this backend runs for `table`.
    pub fn create_table_sql(&self, table: &TableSchema) -> String {
        create_table_sql(self.backend(), table)
    }

    /// Creates `table` if it is missing; returns the DDL it ran.
    pub async fn create_table(&self, table: &TableSchema) -> Result<String, DbError> {
        let sql = self.create_table_sql(table);
        match self {
            Sink::Postgres(s) => {
                let client = s.connection().await?;
                client
                    .batch_execute(&sql)
                    .await
                    .map_err(|e| DbError::new(format!("cannot create {}: {e}", table.name)))?;
            }
            Sink::Sqlite(s) => {
                let ddl = sql.clone();
                s.with_conn(move |c| c.execute_batch(&ddl)).await?;
            }
            Sink::Mysql(s) => {
                s.conn()
                    .await?
                    .query_drop(&sql)
                    .await
                    .map_err(|e| DbError::new(format!("cannot create {}: {e}", table.name)))?;
            }
        }
        Ok(sql)
    }
}

/// The CREATE TABLE for `table` in the dialect of `backend` ("postgres",
/// "mysql", else SQLite), so a dry run can show it without a connection.
pub fn create_table_sql(backend: &str, table: &TableSchema) -> String {
    match backend {
        "postgres" => ddl::create_table_postgres(table),
        "mysql" => ddl::create_table_mysql(table),
        _ => ddl::create_table_sqlite(table),
    }
}
