//! The thread that owns a blocking PostgreSQL connection (the `postgres` crate
//! cannot run inside an async runtime) and the channel of commands it serves:
//! the budget store's (the ledger's is `elelem_core`'s `BatchedSink`).

use std::sync::mpsc::{channel, Receiver, Sender};
use std::sync::{Mutex, PoisonError};
use std::thread::JoinHandle;

use crate::LedgerError;

/// A connection's thread, taking commands of type `C`.
#[derive(Debug)]
pub(crate) struct ConnectionThread<C> {
    name: &'static str,
    commands: Sender<C>,
    thread: Mutex<Option<JoinHandle<()>>>,
}

impl<C: Send + 'static> ConnectionThread<C> {
    /// Starts thread `name`, connects from it with `connect` and waits for the
    /// outcome; the thread then runs `serve` on the connection and the commands.
    pub fn spawn<Connection>(
        name: &'static str,
        connect: impl FnOnce() -> Result<Connection, LedgerError> + Send + 'static,
        serve: impl FnOnce(Connection, Receiver<C>) + Send + 'static,
    ) -> Result<Self, LedgerError> {
        let (commands, receiver) = channel();
        let (connected, connection) = channel();
        let thread = std::thread::Builder::new()
            .name(name.to_owned())
            .spawn(move || match connect() {
                Ok(conn) => {
                    let _ = connected.send(Ok(()));
                    serve(conn, receiver);
                }
                Err(error) => {
                    let _ = connected.send(Err(error));
                }
            })
            .map_err(|e| LedgerError::WriterThread(e.to_string()))?;
        match connection.recv() {
            Ok(Ok(())) => Ok(ConnectionThread {
                name,
                commands,
                thread: Mutex::new(Some(thread)),
            }),
            Ok(Err(error)) => {
                let _ = thread.join();
                Err(error)
            }
            Err(_) => Err(LedgerError::WriterThread(format!(
                "the thread {name} stopped while connecting"
            ))),
        }
    }

    /// A sender of commands that outlives a borrow of the thread (for a guard
    /// that sends its release when dropped).
    pub fn sender(&self) -> Sender<C> {
        self.commands.clone()
    }

    /// Queues a command; [`LedgerError::Closed`] once the thread has stopped.
    pub fn send(&self, command: C) -> Result<(), LedgerError> {
        self.commands.send(command).map_err(|_| LedgerError::Closed)
    }

    /// Sends a command carrying a reply channel and waits for the reply.
    pub fn ask<T>(
        &self,
        command: impl FnOnce(Sender<Result<T, LedgerError>>) -> C,
    ) -> Result<T, LedgerError> {
        let (ack, answer) = channel();
        self.send(command(ack))?;
        answer.recv().map_err(|_| LedgerError::Closed)?
    }

    /// Asks the thread to finish with `close`, then waits for it to stop; closing
    /// a closed thread is fine.
    pub fn close(
        &self,
        close: impl FnOnce(Sender<Result<(), LedgerError>>) -> C,
    ) -> Result<(), LedgerError> {
        let outcome = self.ask(close);
        let handle = self
            .thread
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .take();
        if let Some(handle) = handle {
            handle.join().map_err(|_| {
                LedgerError::WriterThread(format!("the thread {} panicked", self.name))
            })?;
        }
        match outcome {
            Err(LedgerError::Closed) => Ok(()),
            other => other,
        }
    }

    /// Whether the thread has not been closed yet.
    pub fn is_running(&mut self) -> bool {
        self.thread
            .get_mut()
            .unwrap_or_else(PoisonError::into_inner)
            .is_some()
    }
}
