//! The one way both subcommands learn that they should stop: SIGTERM (service managers) or
//! SIGINT (a terminal).

use anyhow::Context as _;
use tokio::signal::unix::{signal, Signal, SignalKind};

pub struct Shutdown {
    terminate: Signal,
    interrupt: Signal,
}

impl Shutdown {
    /// Call first thing: until the handlers are installed, SIGTERM kills the process outright.
    pub fn install() -> anyhow::Result<Shutdown> {
        Ok(Shutdown {
            terminate: signal(SignalKind::terminate()).context("cannot watch SIGTERM")?,
            interrupt: signal(SignalKind::interrupt()).context("cannot watch SIGINT")?,
        })
    }

    /// Resolves on the first SIGTERM or SIGINT, with the signal's name.
    pub async fn requested(&mut self) -> &'static str {
        tokio::select! {
            _ = self.terminate.recv() => "SIGTERM",
            _ = self.interrupt.recv() => "SIGINT",
        }
    }
}
