//! `proximadb`: the server and the command line.

mod config;

use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;

use clap::{Parser, Subcommand};
use proxima::Proxima;

/// ProximaDB, a vector database.
#[derive(Debug, Parser)]
#[command(version, about)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Runs the REST server.
    Serve {
        /// Address to listen on [default: 127.0.0.1:5678].
        #[arg(long, env = "PROXIMADB_BIND")]
        bind: Option<String>,
        /// Where data lives [default: ./proximadb-data].
        #[arg(long, env = "PROXIMADB_DATA_DIR")]
        data_dir: Option<PathBuf>,
        /// A TOML configuration file (see docs/operations.md).
        #[arg(long, env = "PROXIMADB_CONFIG")]
        config: Option<PathBuf>,
    },
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_env("PROXIMADB_LOG")
                .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info")),
        )
        .with_writer(std::io::stderr)
        .init();
    let runtime = match tokio::runtime::Builder::new_multi_thread().enable_all().build() {
        Ok(runtime) => runtime,
        Err(e) => {
            tracing::error!(error = %e, "cannot start the runtime");
            return ExitCode::FAILURE;
        }
    };
    let result = runtime.block_on(async {
        match cli.command {
            Command::Serve { bind, data_dir, config } => serve(bind, data_dir, config).await,
        }
    });
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            tracing::error!("{e}");
            ExitCode::FAILURE
        }
    }
}

async fn serve(bind: Option<String>, data_dir: Option<PathBuf>, config: Option<PathBuf>) -> Result<(), String> {
    let settings = config::Settings::load(config.as_deref(), bind, data_dir)?;
    let db = Proxima::open(settings.database.clone()).await.map_err(|e| format!("cannot open the database: {e}"))?;
    let listener = tokio::net::TcpListener::bind(&settings.bind)
        .await
        .map_err(|e| format!("cannot listen on {}: {e}", settings.bind))?;
    let addr = listener.local_addr().map_err(|e| e.to_string())?;
    // Tests and scripts read the bound address (the port may be 0 = any) from this line.
    eprintln!("proximadb listening on http://{addr}");
    proxima_server::serve(listener, Arc::new(db), settings.server, proxima_server::shutdown_signal())
        .await
        .map_err(|e| format!("server failed: {e}"))
}
