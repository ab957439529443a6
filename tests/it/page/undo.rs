//! Undo from the page's history: an import made over HTTP is listed with
//! an undo button; after one of its rows is changed behind its back, the
//! confirmed undo is refused and the service's reason is shown in the row,
//! with the choice to undo the other rows; taken, the rows the import left
//! as they were are deleted, the changed one kept, the row shows undone.

use fantoccini::Locator;

use super::browser;
use crate::api::{sheet_bytes, spawn_app};

#[tokio::test]
async fn undo_from_the_history_shows_a_refusal_in_place_then_undoes_the_rest() {
    let Some(b) = browser("undo_from_the_history_shows_a_refusal_in_place", 1280, 800).await else {
        return;
    };
    let app = spawn_app().await;
    let r = app
        .upload("/upload", "three.xlsx", sheet_bytes(3, "u"))
        .await;
    assert_eq!(r.status(), 200);
    assert_eq!(app.db.count().await, 3);
    app.db
        .execute("UPDATE businesses SET category = 'Edited' WHERE name = 'u biz 1'")
        .await;

    b.open(&app).await;
    let row = "[data-testid=history-row]";
    b.until(&format!(
        "!!document.querySelector('{row} [data-testid=undo]')"
    ))
    .await;
    b.c()
        .find(Locator::Css(&format!("{row} [data-testid=undo]")))
        .await
        .unwrap()
        .click()
        .await
        .unwrap();
    b.c()
        .find(Locator::Css(&format!("{row} [data-testid=undo-confirm]")))
        .await
        .unwrap()
        .click()
        .await
        .unwrap();
    b.until(&format!(
        "!!document.querySelector('{row} [data-testid=undo-force]')"
    ))
    .await;
    let refused = b
        .js(&format!(
            "document.querySelector('{row} [data-testid=undo-outcome]').textContent"
        ))
        .await;
    let refused = refused.as_str().unwrap();
    assert!(refused.starts_with("Not undone: "), "{refused}");
    assert!(
        refused.contains("changed"),
        "the service's reason: {refused}"
    );
    assert_eq!(app.db.count().await, 3, "a refused undo changes nothing");

    b.c()
        .find(Locator::Css(&format!("{row} [data-testid=undo-force]")))
        .await
        .unwrap()
        .click()
        .await
        .unwrap();
    b.until(&format!(
        "[...document.querySelectorAll('{row}')].some(r => r.textContent.includes('undone') \
         && (r.querySelector('[data-testid=undo-outcome]') || {{}}).textContent \
            === 'Undone: 2 rows deleted, 0 restored, 1 changed since left as they are.')"
    ))
    .await;
    let left = app.db.query("SELECT name, category FROM businesses").await;
    assert_eq!(
        left,
        vec![vec![Some("u biz 1".into()), Some("Edited".into())]],
        "the edited row is kept"
    );
    b.close().await;
}
