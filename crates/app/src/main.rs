//! The `roster` binary: parses the command line and runs it.

use clap::Parser;

/// mimalloc returns freed pages to the system soon after a burst (glibc's malloc keeps
/// per-thread arenas that stay resident), so memory goes back near idle after load.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

#[tokio::main]
async fn main() -> std::process::ExitCode {
    let cli = app::cli::Cli::parse();
    app::telemetry::init();
    // One TLS stack (rustls on ring) for every client in the process.
    let _ = rustls::crypto::ring::default_provider().install_default();
    match app::cli::run(cli).await {
        Ok(()) => std::process::ExitCode::SUCCESS,
        // Client commands have printed their reasons already; the error holds the code.
        Err(error) if error.is::<app::client_cli::Exit>() => {
            let code = error
                .downcast_ref::<app::client_cli::Exit>()
                .map_or(1, |exit| exit.code);
            std::process::ExitCode::from(code)
        }
        Err(error) => {
            eprintln!("roster: {error:#}");
            std::process::ExitCode::FAILURE
        }
    }
}
