//! `nile-reset`: parses the command line and hands over to the library (see src/lib.rs).

use clap::{Parser, Subcommand};
use nile_reset_shim::{send, serve};

#[derive(Parser)]
#[command(name = "nile-reset", version, about)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Serve Nile's reset-password API over HTTP.
    Serve(serve::ServeOptions),
    /// Deliver the emails queued in the nile_reset outbox.
    Send(send::SendOptions),
}

fn main() -> anyhow::Result<()> {
    let cli = Cli::parse();
    let runtime = tokio::runtime::Runtime::new()?;
    match cli.command {
        Command::Serve(options) => runtime.block_on(serve::run(options)),
        Command::Send(options) => runtime.block_on(send::run(options)),
    }
}
