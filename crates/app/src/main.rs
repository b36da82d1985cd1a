//! The `roster` binary: parses the command line and runs it.

use clap::Parser;

/// jemalloc with background threads returns freed pages to the system within seconds of a
/// burst, even while the server then sits idle; glibc's malloc and mimalloc kept most of a
/// burst's memory resident (measured in `docs/operations.md`, "Memory"). It also serves C
/// code's `malloc` (SQLite's row values): glibc's arenas and consolidation were a tenth of a
/// SQLite page's CPU.
#[global_allocator]
static ALLOCATOR: tikv_jemallocator::Jemalloc = tikv_jemallocator::Jemalloc;

#[tokio::main]
async fn main() -> std::process::ExitCode {
    let cli = app::cli::Cli::parse();
    app::telemetry::init(cli.log_format());
    // One TLS stack (rustls on ring) for every client in the process.
    let _ = rustls::crypto::ring::default_provider().install_default();
    match app::cli::run(cli).await {
        Ok(()) => std::process::ExitCode::SUCCESS,
        // Client commands have printed their reasons already; the error holds the code.
        Err(error) if error.is::<roster_cli::Exit>() => {
            let code = error
                .downcast_ref::<roster_cli::Exit>()
                .map_or(1, |exit| exit.code);
            std::process::ExitCode::from(code)
        }
        Err(error) => {
            eprintln!("roster: {error:#}");
            std::process::ExitCode::FAILURE
        }
    }
}
