//! Test databases on MySQL/MariaDB: created per test, dropped after; rows
//! read back as text.

use mysql_async::prelude::Queryable;

/// The server's admin URL (ends in `/`).
pub fn admin_url() -> String {
    std::env::var("SHEETPIPE_TEST_MYSQL").unwrap_or_else(|_| "mysql://root@127.0.0.1:3306/".into())
}

async fn admin() -> Option<mysql_async::Conn> {
    match mysql_async::Conn::from_url(admin_url()).await {
        Ok(c) => Some(c),
        Err(e) if std::env::var("CI").is_ok_and(|v| v == "true") => {
            panic!(
                "MariaDB at {} is unreachable in CI ({e}); .ci/run starts it",
                admin_url()
            )
        }
        Err(e) => {
            eprintln!("skipped: MariaDB at {} is unreachable ({e})", admin_url());
            None
        }
    }
}

/// Creates database `name`; its URL, or `None` when skipped.
pub async fn create(name: &str) -> Option<String> {
    let mut c = admin().await?;
    c.query_drop(format!("CREATE DATABASE `{name}` CHARACTER SET utf8mb4"))
        .await
        .expect("create test database");
    let base = admin_url();
    let (scheme, rest) = base
        .split_once("://")
        .expect("SHEETPIPE_TEST_MYSQL is a URL");
    let host = rest.split('/').next().unwrap_or_default();
    Some(format!("{scheme}://{host}/{name}"))
}

/// A connection to `url` (a test database).
pub async fn connect(url: &str) -> mysql_async::Conn {
    mysql_async::Conn::from_url(url)
        .await
        .expect("connect mysql")
}

/// Rows of `sql` as text (NULL → None).
pub async fn query(url: &str, sql: &str) -> Vec<Vec<Option<String>>> {
    let mut c = connect(url).await;
    c.query_drop("SET time_zone = '+00:00'").await.unwrap();
    let rows: Vec<mysql_async::Row> = c.query(sql).await.expect("query");
    rows.into_iter()
        .map(|r| {
            (0..r.len())
                .map(|i| match r.as_ref(i).unwrap() {
                    mysql_async::Value::NULL => None,
                    mysql_async::Value::Bytes(b) => Some(String::from_utf8_lossy(b).into_owned()),
                    other => Some(other.as_sql(true)),
                })
                .collect()
        })
        .collect()
}

/// Drops database `name` (from Drop: on a thread with its own runtime).
pub fn drop_database(name: String) {
    let _ = std::thread::spawn(move || {
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap();
        rt.block_on(async {
            if let Ok(mut c) = mysql_async::Conn::from_url(admin_url()).await {
                let _ = c
                    .query_drop(format!("DROP DATABASE IF EXISTS `{name}`"))
                    .await;
            }
        });
    })
    .join();
}
