//! A new table's column types on the page: the inferred types are shown
//! in a select per column, one is changed, the review shows the CREATE
//! TABLE with it, and the import creates the table with that type.

use fantoccini::Locator;
use serde_json::json;

use super::browser;
use crate::api::spawn_app;
use crate::helpers::{write_xlsx, X};

#[tokio::test]
async fn a_new_columns_type_is_changed_on_the_page_and_the_table_has_it() {
    let Some(b) = browser("a_new_columns_type_is_changed_on_the_page", 1280, 800).await else {
        return;
    };
    let app = spawn_app().await;
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("stock.xlsx");
    write_xlsx(
        &path,
        &[
            vec![X::S("Item"), X::S("Qty"), X::S("Code")],
            vec![X::S("nut"), X::N(1.0), X::S("A1")],
            vec![X::S("bolt"), X::N(20.0), X::S("B2")],
        ],
    );
    b.open(&app).await;
    let new = b
        .js("document.getElementById('table').lastElementChild.value")
        .await;
    b.choose(new.as_str().unwrap(), &path).await;
    let qty = "select[data-type-header=\"Qty\"]";
    assert_eq!(
        b.js(&format!("document.querySelector('{qty}').value"))
            .await,
        "integer",
        "the inferred type is shown"
    );
    let offered = b
        .js(&format!(
            "[...document.querySelector('{qty}').options].map(o => o.value)"
        ))
        .await;
    for t in ["text", "bigint", "numeric", "date", "boolean"] {
        assert!(offered.as_array().unwrap().contains(&json!(t)), "{offered}");
    }
    b.c()
        .find(Locator::Css(qty))
        .await
        .unwrap()
        .select_by_value("bigint")
        .await
        .unwrap();
    b.shot("7-new-table").await;
    b.review().await;
    let ddl = b.text("review-ddl").await;
    assert!(ddl.contains("\"qty\" bigint"), "{ddl}");
    b.import().await;
    assert_eq!(b.text("result-inserted").await, "2");
    let types = app
        .db
        .query(
            "SELECT column_name, data_type FROM information_schema.columns \
             WHERE table_name = 'stock' ORDER BY ordinal_position",
        )
        .await;
    assert_eq!(
        types,
        vec![
            vec![Some("item".into()), Some("text".into())],
            vec![Some("qty".into()), Some("bigint".into())],
            vec![Some("code".into()), Some("text".into())],
        ]
    );
    let qtys = app.db.query("SELECT qty FROM stock ORDER BY qty").await;
    assert_eq!(qtys, vec![vec![Some("1".into())], vec![Some("20".into())]]);
    b.close().await;
}
