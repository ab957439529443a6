//! The check of an undo: the rows an import touched, as they are now,
//! locked, against the hashes and digests its entries recorded.

use std::collections::HashMap;

use mysql_async::prelude::Queryable;
use mysql_async::{Conn, Params};

use super::apply::{db, located, parts, Hash, Loc, Meta, Touched};
use super::TableInfo;
use crate::sink::ddl::quote_table_mysql;
use crate::sink::undo::UndoError;

/// Each locator's row as it is now, locked: the hashes its entries need.
pub(super) async fn current(
    c: &mut Conn,
    info: &TableInfo,
    meta: &Meta,
    order: &[Loc],
    touched: &HashMap<Loc, Touched>,
) -> Result<HashMap<Loc, Vec<Hash>>, UndoError> {
    let json = touched
        .values()
        .any(|t| matches!(t.hash, Some(Hash::Json(_))));
    let digest = touched
        .values()
        .any(|t| matches!(t.hash, Some(Hash::Digest(_))));
    let mut now = HashMap::with_capacity(order.len());
    let locs: Vec<&Loc> = order.iter().collect();
    let hashes = format!(
        "{}, {}",
        if json {
            format!("HEX({})", info.hash(&meta.columns, "t."))
        } else {
            "NULL".into()
        },
        if digest {
            info.digest(&meta.columns, "t.")
        } else {
            "NULL".into()
        }
    );
    for (filter, values) in located(info, meta, &locs) {
        let sql = format!(
            "SELECT {}, {hashes} FROM {} AS t WHERE {filter} FOR UPDATE",
            info.json(&meta.locator, "t."),
            quote_table_mysql(&meta.table)
        );
        let rows: Vec<(String, Option<String>, Option<String>)> =
            c.exec(sql, Params::Positional(values)).await.map_err(db)?;
        for (loc, j, d) in rows {
            let Some(loc) = parts(&loc) else { continue };
            let hashes = j.map(Hash::Json).into_iter().chain(d.map(Hash::Digest));
            now.insert(loc, hashes.collect());
        }
    }
    Ok(now)
}
