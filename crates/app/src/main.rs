//! The `roster` binary: parses the command line and runs it.

use clap::Parser;

#[tokio::main]
async fn main() -> std::process::ExitCode {
    let cli = app::cli::Cli::parse();
    app::telemetry::init();
    // One TLS stack (rustls on ring) for every client in the process.
    let _ = rustls::crypto::ring::default_provider().install_default();
    match app::cli::run(cli).await {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(error) => {
            eprintln!("roster: {error:#}");
            std::process::ExitCode::FAILURE
        }
    }
}
