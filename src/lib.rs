//! # sheetpipe
//!
//! Imports spreadsheets (.xlsx, .xlsm, .xls, .xlsb, .ods, .csv/.tsv) into PostgreSQL
//! or an embedded SQLite file — streaming, exactly counted, and safe.
//!
//! Every import is one pipeline; a *strategy* (sequential, concurrent,
//! batch, copy) only picks the writer kind, the unit size and the number of
//! writers:
//!
//! ```text
//!  file ──► source ──► record ──► batcher ──► writers ──► sink
//!  (magic   (streaming  (header    (units)     (N tasks,   PostgreSQL
//!   bytes)   reader)     mapping,              one conn     SQLite
//!                        validation)           each)
//!        └──── progress (atomics) ──── CancellationToken per import ────┘
//! ```
//!
//! * [`source`] reads one sheet as rows, with [`source::Limits`] enforced.
//! * [`record`] maps headers onto the target's [`model::TableSchema`] and
//!   turns cells into a [`model::Record`] of typed values or a
//!   [`model::Rejection`].
//! * [`pipeline`] runs the stages with bounded channels and returns an
//!   [`pipeline::ImportReport`] whose counts are exact.
//! * [`sink`] owns the database: schema, INSERT, multi-row INSERT, COPY.
//!
//! The CLI ([`cli`]) and the HTTP service ([`http`]) only translate
//! arguments and requests into these calls.
//!
//! ```no_run
//! # async fn demo() -> anyhow::Result<()> {
//! use sheetpipe::{pipeline, sink};
//! let sink = sink::Sink::connect(&sink::DatabaseUrl::parse(None)?).await?;
//! let plan = pipeline::Plan::new(pipeline::Method::Batch, None, None);
//! let report = pipeline::run(
//!     pipeline::ImportJob::new("businesses.xlsx"),
//!     &plan,
//!     &sink,
//!     &pipeline::Control::default(),
//! )
//! .await;
//! println!("{} inserted, {} rejected", report.inserted, report.rejected);
//! # Ok(()) }
//! ```

pub mod bench;
pub mod cli;
#[doc(hidden)]
pub mod fuzzing;
pub mod generate;
pub mod http;
pub mod model;
pub mod pipeline;
pub mod record;
pub mod rejects;
pub mod rejects_xlsx;
pub mod sink;
pub mod source;
#[doc(hidden)]
pub mod testkit;
