//! Integration tests: one binary, real parts only — a real PostgreSQL (a
//! fresh database per test, dropped after), real SQLite files, real .xlsx
//! files written by rust_xlsxwriter, the real `sheetpipe` binary.
//!
//! PostgreSQL comes from `SHEETPIPE_TEST_PG` (default
//! `postgres://postgres@127.0.0.1:5432/postgres`). When it is unreachable the
//! PostgreSQL tests fail: they are never skipped.
//!
//! MariaDB/MySQL comes from `SHEETPIPE_TEST_MYSQL` (default
//! `mysql://root@127.0.0.1:3306/`). In CI (`CI=true`) its tests fail when it
//! is unreachable; elsewhere each prints one line saying it was skipped.

mod accounting;
mod any_table;
mod api;
mod bench;
mod cli;
mod column_types;
mod copy;
mod core_values;
mod corpus;
mod corpus_backends;
mod corpus_bounds;
mod declared;
mod deployment;
mod did_you_mean;
mod faults;
mod first_hour;
mod first_pass;
mod formats;
mod fuzz_smoke;
mod helpers;
mod history;
mod hostile;
mod introspect;
mod isolation;
mod kill_modes;
mod memory;
mod mode_history;
mod modes;
mod mysql;
mod mysql_db;
mod mysql_digest;
mod mysql_faults;
mod mysql_history;
mod mysql_modes;
mod mysql_replace;
mod mysql_types;
mod mysql_undo;
mod options;
mod output;
mod page;
mod pool;
mod progress;
mod rejects_xlsx;
mod repo;
mod strategies;
mod tables;
mod typed_cells;
mod typed_copy;
mod typed_sqlite;
mod undo;
mod undo_values;
mod unheaded;
mod values;
mod xlsx_reader;
