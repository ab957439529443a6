//! The importer page in a real headless Chromium (Debian's `chromium` and
//! `chromium-driver`, driven over WebDriver by fantoccini), against the
//! service on a real socket and a fresh PostgreSQL database: upload →
//! match → review → import → result, a workbook full of markup that runs
//! nothing, the API key prompt, and a phone-width viewport.
//!
//! Without `/usr/bin/chromedriver` each test prints one `skipped …` line
//! and passes, except under `CI=true`, where it fails. With
//! `SHEETPIPE_SCREENSHOTS=1` the main flow saves a screenshot of each step
//! into `docs/page/` (the README shows them).

use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use fantoccini::{Client, ClientBuilder, Locator};
use serde_json::{json, Value};
use sheetpipe::http::auth::AuthMode;
use sheetpipe::sink::keys::Role;

use crate::api::{spawn_app, spawn_app_with, TestApp};
use crate::helpers::{write_xlsx, TestDb, X};

mod new_table;
mod progress;
mod undo;

const CHROMEDRIVER: &str = "/usr/bin/chromedriver";
const CHROMIUM: &str = "/usr/bin/chromium";

/// A chromedriver of this test's own, and one browser session on it.
struct Browser {
    client: Option<Client>,
    driver: Child,
    _profile: tempfile::TempDir,
}

impl Drop for Browser {
    fn drop(&mut self) {
        // Only the chromedriver this test started (it ends its browsers).
        let _ = self.driver.kill();
        let _ = self.driver.wait();
    }
}

/// The browser, or `None` (after one `skipped` line) when chromedriver is
/// not installed outside CI.
async fn browser(test: &str, width: u32, height: u32) -> Option<Browser> {
    if !Path::new(CHROMEDRIVER).exists() {
        if std::env::var("CI").is_ok_and(|v| v == "true") {
            panic!("{CHROMEDRIVER} is missing: .ci/run installs chromium and chromium-driver");
        }
        eprintln!("skipped page::{test}: {CHROMEDRIVER} is not installed (apt-get install chromium chromium-driver)");
        return None;
    }
    let port = TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let driver = Command::new(CHROMEDRIVER)
        .arg(format!("--port={port}"))
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("start chromedriver");
    let profile = tempfile::tempdir().unwrap();
    let mut b = Browser {
        client: None,
        driver,
        _profile: profile,
    };
    let args = [
        "--headless".to_string(),
        "--no-sandbox".into(),
        "--disable-background-networking".into(),
        "--disable-component-update".into(),
        "--disable-sync".into(),
        "--disable-dev-shm-usage".into(),
        format!("--window-size={width},{height}"),
        format!("--user-data-dir={}", b._profile.path().display()),
    ];
    let mut caps = serde_json::Map::new();
    let mut options = json!({ "binary": CHROMIUM, "args": args });
    if width < 500 {
        // A desktop window is at least 500px wide: emulate a phone's screen.
        options["mobileEmulation"] = json!({
            "deviceMetrics": { "width": width, "height": height, "pixelRatio": 1.0 }
        });
    }
    caps.insert("goog:chromeOptions".into(), options);
    let url = format!("http://127.0.0.1:{port}");
    let connector = hyper_util::client::legacy::connect::HttpConnector::new();
    // chromedriver takes a moment to listen: retry until it answers.
    let mut last = None;
    for _ in 0..200 {
        match ClientBuilder::new(connector.clone())
            .capabilities(caps.clone())
            .connect(&url)
            .await
        {
            Ok(c) => {
                b.client = Some(c);
                return Some(b);
            }
            Err(e) => last = Some(e.to_string()),
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    panic!("chromedriver never gave a session: {last:?}");
}

impl Browser {
    fn c(&self) -> &Client {
        self.client.as_ref().unwrap()
    }

    /// Evaluates `expr` in the page.
    async fn js(&self, expr: &str) -> Value {
        self.c()
            .execute(&format!("return ({expr});"), vec![])
            .await
            .unwrap()
    }

    /// Waits until `expr` is true in the page (a readiness wait: it
    /// asserts nothing about time, and gives up after a few minutes).
    async fn until(&self, expr: &str) {
        for _ in 0..3000 {
            if self.js(expr).await == json!(true) {
                return;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        let body = self.js("document.body.innerText").await;
        panic!("the page never reached {expr}; it shows:\n{body}");
    }

    async fn testid(&self, id: &str) -> fantoccini::elements::Element {
        self.c()
            .find(Locator::Css(&format!("[data-testid={id:?}]")))
            .await
            .unwrap_or_else(|e| panic!("no [data-testid={id}]: {e}"))
    }

    async fn text(&self, id: &str) -> String {
        self.testid(id).await.text().await.unwrap()
    }

    /// Opens the page and waits for it to have loaded the tables.
    async fn open(&self, app: &TestApp) {
        self.c().goto(&app.url("/")).await.unwrap();
        self.until("document.body.dataset.ready === 'true'").await;
    }

    /// Picks `file` in the file input and waits for the matching step.
    async fn choose(&self, table: &str, file: &Path) {
        self.testid("table-select")
            .await
            .select_by_value(table)
            .await
            .unwrap();
        self.testid("file-input")
            .await
            .send_keys(&file.display().to_string())
            .await
            .unwrap();
        self.until("!document.getElementById('match').hidden").await;
    }

    /// Goes on to the review and waits for the dry run's counts.
    async fn review(&self) {
        self.testid("to-review").await.click().await.unwrap();
        self.until("document.getElementById('review-summary').textContent.includes('rejected')")
            .await;
    }

    /// Starts the import and waits for its result.
    async fn import(&self) {
        self.testid("start-import").await.click().await.unwrap();
        self.until("!document.getElementById('result').hidden")
            .await;
    }

    /// Saves a screenshot as docs/page/{name}.png when asked to.
    async fn shot(&self, name: &str) {
        if std::env::var_os("SHEETPIPE_SCREENSHOTS").is_none() {
            return;
        }
        let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("docs/page");
        std::fs::create_dir_all(&dir).unwrap();
        let png = self.c().screenshot().await.unwrap();
        std::fs::write(dir.join(format!("{name}.png")), png).unwrap();
    }

    async fn close(mut self) {
        if let Some(c) = self.client.take() {
            c.close().await.unwrap();
        }
    }
}

/// An .xlsx with a title row, aliased headers (Company, E-Mail, Tel, Town)
/// and one our matching does not know (Info), three good rows and one with
/// a bad email.
fn customers(dir: &Path) -> PathBuf {
    let path = dir.join("customers.xlsx");
    let s = |v: &'static str| X::S(v);
    write_xlsx(
        &path,
        &[
            vec![s("Customers 2024")],
            vec![s("Company"), s("E-Mail"), s("Tel"), s("Town"), s("Info")],
            vec![
                s("Acme"),
                s("info@acme.example"),
                s("555 1234"),
                s("Oslo"),
                s("anvils"),
            ],
            vec![
                s("Bolt"),
                s("bolt@bolt.example"),
                s("555 2345"),
                s("Rome"),
                s("screws"),
            ],
            vec![
                s("Cog"),
                s("not-an-email"),
                s("555 3456"),
                s("Lima"),
                s("gears"),
            ],
            vec![
                s("Dyno"),
                s("d@dyno.example"),
                s("555 4567"),
                s("Kyiv"),
                s("motors"),
            ],
        ],
    );
    path
}

#[tokio::test]
async fn a_person_uploads_matches_reviews_and_imports_in_the_browser() {
    let Some(b) = browser("a_person_uploads_matches_reviews_and_imports", 1280, 800).await else {
        return;
    };
    let app = spawn_app().await;
    let dir = tempfile::tempdir().unwrap();
    let file = customers(dir.path());
    b.open(&app).await;
    b.shot("1-choose").await;
    b.choose("businesses", &file).await;
    let rows = b
        .c()
        .find_all(Locator::Css("[data-testid=mapping-row]"))
        .await
        .unwrap();
    assert_eq!(rows.len(), 5);
    let value = |h: &str| format!("document.querySelector('select[data-header=\"{h}\"]').value");
    assert_eq!(b.js(&value("Company")).await, "name", "alias");
    assert_eq!(b.js(&value("E-Mail")).await, "email");
    assert_eq!(b.js(&value("Info")).await, "-", "unknown: ignored");
    // Change one match: Info fills description.
    b.c()
        .find(Locator::Css("select[data-header=\"Info\"]"))
        .await
        .unwrap()
        .select_by_value("description")
        .await
        .unwrap();
    b.shot("2-match").await;

    b.review().await;
    let summary = b.text("review-summary").await;
    assert!(
        summary.contains("4 rows checked: 3 valid, 1 will be rejected"),
        "{summary}"
    );
    let bad = b
        .c()
        .find(Locator::Css("td.invalid"))
        .await
        .expect("the bad email is marked");
    let title = bad.attr("title").await.unwrap().unwrap();
    assert!(title.contains("email"), "{title}");
    assert!(bad.text().await.unwrap().starts_with("not-an-email"));
    assert_eq!(bad.attr("tabindex").await.unwrap().as_deref(), Some("0"));
    let described = bad.attr("aria-describedby").await.unwrap().unwrap();
    let reason = b
        .js(&format!(
            "document.getElementById('{described}').textContent"
        ))
        .await;
    assert_eq!(reason, json!(title), "the reason is read on focus too");
    b.shot("3-review").await;

    b.import().await;
    assert_eq!(b.text("result-inserted").await, "3");
    assert_eq!(b.text("result-rejected").await, "1");
    assert_eq!(b.js("document.getElementById('progress').value").await, 100);
    b.shot("4-import").await;
    assert_eq!(app.db.count().await, 3);
    let described = app
        .db
        .query("SELECT name, description FROM businesses ORDER BY name")
        .await;
    assert_eq!(
        described[0],
        vec![Some("Acme".into()), Some("anvils".into())]
    );

    // The download link is the import's reject report.
    let href = b
        .testid("rejects-download")
        .await
        .attr("href")
        .await
        .unwrap()
        .unwrap();
    let id = href
        .trim_start_matches("/imports/")
        .trim_end_matches("/rejects.xlsx")
        .to_string();
    let got = app.get(&href).await.bytes().await.unwrap();
    let kept = std::fs::read(app.data_dir.path().join(format!("rejects/{id}.xlsx"))).unwrap();
    assert_eq!(got.as_ref(), kept.as_slice());

    // The page offers what the service's contract (/openapi.json) has:
    // every re-import mode (`mode` is a parameter of POST /imports) and
    // undo (POST /imports/{id}/undo), which takes the import's rows back.
    assert_eq!(
        b.js("document.querySelector('#result [data-testid=undo]').hidden")
            .await,
        json!(false),
        "undo is not offered although the contract has its route"
    );
    // Undo asks first, in place; nothing is undone before the answer.
    b.c()
        .find(Locator::Css("#result [data-testid=undo]"))
        .await
        .unwrap()
        .click()
        .await
        .unwrap();
    b.until("!!document.querySelector('#undo-box [data-testid=undo-confirm]')")
        .await;
    assert_eq!(app.db.count().await, 3, "undone before it was confirmed");
    b.c()
        .find(Locator::Css("#undo-box [data-testid=undo-confirm]"))
        .await
        .unwrap()
        .click()
        .await
        .unwrap();
    let outcome =
        "(document.querySelector('#undo-box [data-testid=undo-outcome]') || {}).textContent";
    b.until(&format!("({outcome} || '').startsWith('Undone')"))
        .await;
    let said = b.js(outcome).await;
    assert!(said.as_str().unwrap().contains("3 rows deleted"), "{said}");
    assert_eq!(app.db.count().await, 0, "undo removed the import's rows");
    // The history, refreshed, shows the import undone.
    b.until(
        "[...document.querySelectorAll('[data-testid=history-row]')].some(r => \
         r.querySelector('[data-testid=undo-outcome]') && r.textContent.includes('undone') \
         && r.textContent.includes('customers.xlsx'))",
    )
    .await;
    assert_eq!(
        b.js("[...document.getElementById('mode').options].filter(o => !o.disabled).map(o => o.value)")
            .await,
        json!(["append", "upsert", "skip-existing", "replace"])
    );
    b.until("document.querySelectorAll('[data-testid=history-row]').length >= 2")
        .await;
    b.shot("5-history").await;
    b.close().await;
}

#[tokio::test]
async fn a_workbook_full_of_markup_runs_nothing_and_shows_it_as_text() {
    let Some(b) = browser("a_workbook_full_of_markup_runs_nothing", 1280, 800).await else {
        return;
    };
    let app = spawn_app().await;
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("markup.xlsx");
    const IMG: &str = "<img src=x onerror=\"window.__pwned=1\">";
    const LINK: &str = "javascript:window.__pwned=2";
    write_xlsx(
        &path,
        &[
            vec![X::S("name"), X::S("email"), X::S(IMG)],
            vec![
                X::S(IMG),
                X::S(LINK),
                X::S("<script>window.__pwned=3</script>"),
            ],
        ],
    );
    b.open(&app).await;
    b.choose("businesses", &path).await;
    let header = b
        .c()
        .find(Locator::Css("[data-testid=mapping-row]:nth-child(3) th"))
        .await
        .unwrap();
    assert_eq!(header.text().await.unwrap(), format!("{IMG} (C)"));
    b.review().await;
    let grid = b
        .js("document.getElementById('review-rows').textContent")
        .await;
    assert!(grid.as_str().unwrap().contains(IMG), "{grid}");
    assert!(grid.as_str().unwrap().contains(LINK), "{grid}");
    assert_eq!(
        b.js("document.querySelectorAll('img, script:not([src]), a[href^=javascript]').length")
            .await,
        0
    );
    assert_eq!(b.js("window.__pwned === undefined").await, true);
    b.close().await;
}

#[tokio::test]
async fn with_keys_on_the_page_asks_for_one_and_works_with_it() {
    let Some(b) = browser("with_keys_on_the_page_asks_for_one", 1280, 800).await else {
        return;
    };
    let app = spawn_app_with(TestDb::postgres().await, |c| {
        c.auth.mode = AuthMode::Required;
    })
    .await;
    let key = crate::api::auth::key(&app, "page", Role::Importer).await;
    b.c().goto(&app.url("/")).await.unwrap();
    b.until("!document.getElementById('auth').hidden").await;
    assert_eq!(b.js("document.cookie").await, "");
    b.testid("api-key").await.send_keys(&key).await.unwrap();
    b.testid("api-key-save").await.click().await.unwrap();
    b.until("document.body.dataset.ready === 'true'").await;
    let dir = tempfile::tempdir().unwrap();
    b.choose("businesses", &customers(dir.path())).await;
    b.review().await;
    b.import().await;
    assert_eq!(b.text("result-inserted").await, "3");
    assert_eq!(app.db.count().await, 3);
    let owners = app.db.query("SELECT DISTINCT owner FROM imports").await;
    assert_eq!(
        owners,
        vec![vec![Some("page".to_string())]],
        "sent with the key"
    );
    b.close().await;
}

#[tokio::test]
async fn at_phone_width_the_page_has_no_horizontal_overflow() {
    let Some(b) = browser(
        "at_phone_width_the_page_has_no_horizontal_overflow",
        390,
        844,
    )
    .await
    else {
        return;
    };
    let app = spawn_app().await;
    let dir = tempfile::tempdir().unwrap();
    b.open(&app).await;
    b.choose("businesses", &customers(dir.path())).await;
    b.review().await;
    let (scroll, inner) = (
        b.js("document.documentElement.scrollWidth").await,
        b.js("window.innerWidth").await,
    );
    assert!(
        inner.as_u64().unwrap() <= 400,
        "a phone-width viewport: {inner}"
    );
    assert!(
        scroll.as_u64().unwrap() <= inner.as_u64().unwrap(),
        "the page is {scroll}px wide in a {inner}px viewport"
    );
    b.shot("6-phone").await;
    b.close().await;
}

#[tokio::test]
async fn a_new_table_is_named_on_the_page_and_created_by_the_import() {
    let Some(b) = browser("a_new_table_is_named_on_the_page", 1280, 800).await else {
        return;
    };
    let app = spawn_app().await;
    let dir = tempfile::tempdir().unwrap();
    b.open(&app).await;
    // The last option is "New table…".
    let new = b
        .js("document.getElementById('table').lastElementChild.value")
        .await;
    b.choose(new.as_str().unwrap(), &customers(dir.path()))
        .await;
    assert_eq!(
        b.js("document.getElementById('new-name').value").await,
        "customers"
    );
    let name = b
        .c()
        .find(Locator::Css("input[data-new-header=\"Company\"]"))
        .await
        .unwrap();
    assert_eq!(
        name.prop("value").await.unwrap().as_deref(),
        Some("company")
    );
    name.clear().await.unwrap();
    name.send_keys("firm").await.unwrap();
    b.c()
        .find(Locator::Css("input[data-keep-header=\"Info\"]"))
        .await
        .unwrap()
        .click()
        .await
        .unwrap();
    b.review().await;
    b.import().await;
    assert_eq!(
        b.text("result-inserted").await,
        "4",
        "no rules on a new table"
    );
    assert_eq!(
        app.db.column_names("customers").await,
        ["firm", "e_mail", "tel", "town"]
    );
    let firms = app
        .db
        .query("SELECT firm FROM customers ORDER BY firm")
        .await;
    assert_eq!(firms[0][0].as_deref(), Some("Acme"));
    b.close().await;
}
