//! The one way both subcommands learn that they should stop: SIGTERM (service managers) or
//! SIGINT (a terminal) cancels one root token, of which every task that stops on the signal
//! holds a clone or a child.

use anyhow::Context as _;
use tokio::signal::unix::{signal, Signal, SignalKind};
use tokio_util::sync::CancellationToken;

pub struct Shutdown {
    terminate: Signal,
    interrupt: Signal,
    root: CancellationToken,
}

impl Shutdown {
    /// Call first thing: until the handlers are installed, SIGTERM kills the process outright.
    pub fn install() -> anyhow::Result<Shutdown> {
        Ok(Shutdown {
            terminate: signal(SignalKind::terminate()).context("cannot watch SIGTERM")?,
            interrupt: signal(SignalKind::interrupt()).context("cannot watch SIGINT")?,
            root: CancellationToken::new(),
        })
    }

    /// The token the signal cancels: give tasks a clone, or a child when they may also be
    /// stopped on their own.
    pub fn token(&self) -> CancellationToken {
        self.root.clone()
    }

    /// Resolves on the first SIGTERM or SIGINT, with the signal's name, once the root token is
    /// cancelled.
    pub async fn requested(&mut self) -> &'static str {
        let name = tokio::select! {
            _ = self.terminate.recv() => "SIGTERM",
            _ = self.interrupt.recv() => "SIGINT",
        };
        self.root.cancel();
        name
    }
}
