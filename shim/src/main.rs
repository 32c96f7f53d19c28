//! `nile-reset`: the companion binary of the nile_reset extension.
//! `serve` answers Nile's reset-password HTTP API; `send` drains the email outbox.

use clap::{Parser, Subcommand};

mod http;
mod sender;

#[derive(Parser)]
#[command(name = "nile-reset", version, about)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Serve Nile's reset-password API over HTTP.
    Serve(http::ServeArgs),
    /// Deliver queued emails from auth.email_outbox.
    Send(sender::SendArgs),
}

fn main() -> anyhow::Result<()> {
    let cli = Cli::parse();
    let runtime = tokio::runtime::Runtime::new()?;
    match cli.command {
        Command::Serve(args) => runtime.block_on(http::serve(args)),
        Command::Send(args) => runtime.block_on(sender::run(args)),
    }
}
