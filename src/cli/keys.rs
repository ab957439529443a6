//! `sheetpipe keys create|list|revoke`: the service's API keys, kept
//! (hashed) in the database every `serve` instance shares (see
//! `sink::keys`). A key is printed once, by `create`, and never again.

use std::process::ExitCode;

use clap::{Args, Subcommand, ValueEnum};

use crate::sink::keys::{check_name, generate_key, key_hash, Role};
use crate::sink::{DatabaseUrl, Sink};

/// The `keys` subcommands.
#[derive(Debug, Subcommand)]
pub enum KeysCommand {
    /// Create a key and print it (once: only its SHA-256 is stored).
    Create(CreateArgs),
    /// List the keys (names, roles, dates; never the keys).
    List(ListArgs),
    /// Revoke a key: it stops working on the next request, on every instance.
    Revoke(RevokeArgs),
}

/// Where the keys are.
#[derive(Debug, Args)]
pub struct DbArgs {
    /// The service's database: postgres://…, mysql://… or sqlite://path
    /// (default: ./sheetpipe.db).
    #[arg(long, env = "DATABASE_URL")]
    pub database_url: Option<String>,
}

/// `--role` values.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum RoleArg {
    /// List imports, read their status, events and reject reports.
    Reader,
    /// Also upload, cancel and undo its own imports.
    Importer,
    /// Everything, every key's imports included.
    Admin,
}

/// Arguments of `keys create`.
#[derive(Debug, Args)]
pub struct CreateArgs {
    /// A unique name (A-Z a-z 0-9 . _ -, up to 64): logged with each request.
    #[arg(long)]
    pub name: String,
    /// What the key may do.
    #[arg(long, value_enum)]
    pub role: RoleArg,
    /// The database.
    #[command(flatten)]
    pub db: DbArgs,
}

/// Arguments of `keys list`.
#[derive(Debug, Args)]
pub struct ListArgs {
    /// Print JSON (`{"keys": [{"name", "role", "created_at", "revoked_at"}]}`).
    #[arg(long)]
    pub json: bool,
    /// The database.
    #[command(flatten)]
    pub db: DbArgs,
}

/// Arguments of `keys revoke`.
#[derive(Debug, Args)]
pub struct RevokeArgs {
    /// The key's name.
    pub name: String,
    /// The database.
    #[command(flatten)]
    pub db: DbArgs,
}

fn fail(code: u8, message: impl std::fmt::Display) -> ExitCode {
    eprintln!("error: {message}");
    ExitCode::from(code)
}

async fn connect(db: &DbArgs) -> Result<(Sink, String), ExitCode> {
    let url = DatabaseUrl::parse(db.database_url.as_deref()).map_err(|e| fail(2, e))?;
    match Sink::connect(&url).await {
        Ok(s) => Ok((s, url.redacted())),
        Err(e) => Err(fail(5, format!("{e} ({})", url.redacted()))),
    }
}

/// Runs a `keys` subcommand: exit 0, 2 for a bad name (taken, unknown,
/// malformed), 5 when the database fails.
pub async fn run(cmd: KeysCommand) -> ExitCode {
    match cmd {
        KeysCommand::Create(a) => create(a).await,
        KeysCommand::List(a) => list(a).await,
        KeysCommand::Revoke(a) => revoke(a).await,
    }
}

async fn create(args: CreateArgs) -> ExitCode {
    if let Err(e) = check_name(&args.name) {
        return fail(2, e);
    }
    let role = match args.role {
        RoleArg::Reader => Role::Reader,
        RoleArg::Importer => Role::Importer,
        RoleArg::Admin => Role::Admin,
    };
    let (sink, db) = match connect(&args.db).await {
        Ok(c) => c,
        Err(code) => return code,
    };
    let key = generate_key();
    let at = crate::sink::imports::now();
    match sink
        .create_key(&args.name, role, &key_hash(&key), &at)
        .await
    {
        Ok(true) => {
            println!("{key}");
            eprintln!(
                "Created the {role} key {} in {db}. This is the only time it is shown: \
                 only its SHA-256 is stored. Send it as `Authorization: Bearer KEY`.",
                args.name
            );
            ExitCode::SUCCESS
        }
        Ok(false) => fail(
            2,
            format!(
                "a key named {} exists or existed (a revoked key's name stays taken, as its \
                 imports name it); pick another name",
                args.name
            ),
        ),
        Err(e) => fail(5, e),
    }
}

async fn list(args: ListArgs) -> ExitCode {
    let (sink, _) = match connect(&args.db).await {
        Ok(c) => c,
        Err(code) => return code,
    };
    let keys = match sink.list_keys().await {
        Ok(k) => k,
        Err(e) => return fail(5, e),
    };
    if args.json {
        println!("{}", serde_json::json!({ "keys": keys }));
        return ExitCode::SUCCESS;
    }
    if keys.is_empty() {
        println!("No API keys. Create one with `sheetpipe keys create --name NAME --role ROLE`.");
        return ExitCode::SUCCESS;
    }
    let width = keys.iter().map(|k| k.name.len()).max().unwrap_or(4).max(4);
    println!("{:width$}  {:8}  {:24}  REVOKED", "NAME", "ROLE", "CREATED");
    for k in &keys {
        println!(
            "{:width$}  {:8}  {:24}  {}",
            k.name,
            k.role.as_str(),
            k.created_at,
            k.revoked_at.as_deref().unwrap_or("-")
        );
    }
    ExitCode::SUCCESS
}

async fn revoke(args: RevokeArgs) -> ExitCode {
    let (sink, _) = match connect(&args.db).await {
        Ok(c) => c,
        Err(code) => return code,
    };
    let at = crate::sink::imports::now();
    match sink.revoke_key(&args.name, &at).await {
        Ok(true) => {
            eprintln!(
                "Revoked the key {}: it stops working on its next request.",
                args.name
            );
            ExitCode::SUCCESS
        }
        Ok(false) => match sink.list_keys().await {
            Ok(keys) if keys.iter().any(|k| k.name == args.name) => {
                eprintln!("The key {} was already revoked.", args.name);
                ExitCode::SUCCESS
            }
            Ok(_) => fail(2, format!("no key named {}", args.name)),
            Err(e) => fail(5, e),
        },
        Err(e) => fail(5, e),
    }
}
