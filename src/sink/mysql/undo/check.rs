//! The check of an undo: the rows an import touched, as they are now,
//! locked, against the hashes and digests its entries recorded. Rows found
//! by a single integer locator and recorded with digests (every append and
//! upsert) are checked [`SUMMED`] at a time by one statement that returns
//! only their count and the SHA-256 of their digests in id order, computed
//! by the server and compared with the same sum of the recorded digests;
//! a part whose sum differs, and every other row, is read row by row.

use std::collections::HashMap;

use mysql_async::prelude::Queryable;
use mysql_async::{Conn, Params};

use sha2::{Digest as _, Sha256};

use super::apply::{db, located, parts, First, Hash, Loc, Meta, Touched};
use super::{between, long_group_concat, runs, TableInfo};
use crate::sink::ddl::{quote_ident_mysql, quote_table_mysql};
use crate::sink::undo::UndoError;

/// Rows per statement of the summed check.
const SUMMED: usize = 10_000;

/// Whether each locator of `order` (by position) still holds its row as
/// the import left it, every row checked locked (`FOR UPDATE`); a locator
/// skip-existing left alone is not checked (`false`).
pub(super) async fn intact(
    c: &mut Conn,
    info: &TableInfo,
    meta: &Meta,
    order: &[Loc],
    touched: &HashMap<Loc, Touched>,
) -> Result<Vec<bool>, UndoError> {
    let mut ok = vec![false; order.len()];
    let integer = matches!(meta.locator.as_slice(), [one] if info.integer(one));
    let (mut summed, mut each): (Vec<(i128, usize)>, Vec<usize>) = (Vec::new(), Vec::new());
    for (i, loc) in order.iter().enumerate() {
        let t = &touched[loc];
        match &t.hash {
            _ if t.first == First::Leave => {}
            None => {}
            Some(Hash::Digest(_)) if integer => match loc[0].parse::<i128>() {
                Ok(id) => summed.push((id, i)),
                Err(_) => each.push(i),
            },
            Some(_) => each.push(i),
        }
    }
    summed.sort_unstable();
    if !summed.is_empty() {
        // A part's GROUP_CONCAT: 33 bytes a row.
        long_group_concat(c).await.map_err(db)?;
    }
    let col = format!("t.{}", quote_ident_mysql(&meta.locator[0]));
    for part in summed.chunks(SUMMED) {
        let mut sum = Sha256::new();
        for (n, &(_, i)) in part.iter().enumerate() {
            if let Some(Hash::Digest(d)) = &touched[&order[i]].hash {
                if n > 0 {
                    sum.update(b",");
                }
                sum.update(d.as_bytes());
            }
        }
        let want = crate::source::digest::hex(&sum.finalize());
        let ids: Vec<i128> = part.iter().map(|&(id, _)| id).collect();
        let (filter, values) = between(&col, &runs(&ids));
        let sql = format!(
            "SELECT COUNT(*), SHA2(GROUP_CONCAT({} ORDER BY {col} SEPARATOR ','), 256) \
             FROM {} AS t WHERE {filter} FOR UPDATE",
            info.digest(&meta.columns, "t."),
            quote_table_mysql(&meta.table)
        );
        let got: Option<(u64, Option<String>)> = c
            .exec_first(sql, Params::Positional(values))
            .await
            .map_err(db)?;
        if got == Some((part.len() as u64, Some(want))) {
            part.iter().for_each(|&(_, i)| ok[i] = true);
        } else {
            each.extend(part.iter().map(|&(_, i)| i));
        }
    }
    let locs: Vec<&Loc> = each.iter().map(|&i| &order[i]).collect();
    let now = current(c, info, meta, &locs, touched).await?;
    for i in each {
        let want = touched[&order[i]].hash.as_ref();
        ok[i] = want.is_some_and(|w| now.get(&order[i]).is_some_and(|h| h.contains(w)));
    }
    Ok(ok)
}

/// Each of `locs`' rows as it is now, locked: the hashes its entries need.
async fn current(
    c: &mut Conn,
    info: &TableInfo,
    meta: &Meta,
    locs: &[&Loc],
    touched: &HashMap<Loc, Touched>,
) -> Result<HashMap<Loc, Vec<Hash>>, UndoError> {
    if locs.is_empty() {
        return Ok(HashMap::new());
    }
    let json = touched
        .values()
        .any(|t| matches!(t.hash, Some(Hash::Json(_))));
    let digest = touched
        .values()
        .any(|t| matches!(t.hash, Some(Hash::Digest(_))));
    let mut now = HashMap::with_capacity(locs.len());
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
    for (filter, values) in located(info, meta, locs) {
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
