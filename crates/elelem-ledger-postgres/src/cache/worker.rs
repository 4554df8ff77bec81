//! The cache's thread: owns the connection (the `postgres` client must never run
//! on the caller's async runtime) and carries out commands in the order sent, so
//! an answer stored before its key is unlocked is visible to whoever locks it next.

use std::sync::mpsc::{Receiver, Sender};
use std::time::Duration;

use tokio::sync::oneshot;

use super::sql::{self, Conn};
use crate::LedgerError;

/// What the cache asks of its thread.
pub(crate) enum Command {
    /// Read a live entry's compressed body.
    Get(
        String,
        oneshot::Sender<Result<Option<Vec<u8>>, LedgerError>>,
    ),
    /// Store an entry and evict beyond the cap; answers the evicted count.
    Put {
        key: String,
        body: Vec<u8>,
        ttl: Option<Duration>,
        max_bytes: u64,
        reply: oneshot::Sender<Result<u64, LedgerError>>,
    },
    /// Take a key's advisory lock without waiting.
    TryLock(i64, oneshot::Sender<Result<bool, LedgerError>>),
    /// Release a key's advisory lock (nobody waits for it).
    Unlock(i64),
    /// Stop.
    Close(Sender<Result<(), LedgerError>>),
}

/// The thread's connection, made again when the server closed it.
struct Worker {
    conn: Option<Conn>,
    params: String,
}

impl Worker {
    fn conn(&mut self) -> Result<&mut Conn, LedgerError> {
        if self.conn.as_ref().is_none_or(Conn::is_closed) {
            self.conn = None;
            self.conn = Some(sql::connect(&self.params)?);
        }
        self.conn.as_mut().ok_or(LedgerError::Closed)
    }

    /// Runs `op` on the connection, dropping the connection when it failed (a
    /// broken session is replaced at the next command).
    fn with<T>(
        &mut self,
        op: impl FnOnce(&mut Conn) -> Result<T, LedgerError>,
    ) -> Result<T, LedgerError> {
        let outcome = self.conn().and_then(op);
        if outcome.is_err() && self.conn.as_ref().is_some_and(Conn::is_closed) {
            self.conn = None;
        }
        outcome
    }
}

/// Runs until closed or every sender is gone.
pub(crate) fn run(conn: Conn, params: String, commands: Receiver<Command>) {
    let mut worker = Worker {
        conn: Some(conn),
        params,
    };
    for command in commands {
        match command {
            Command::Get(key, reply) => {
                let _ = reply.send(worker.with(|c| c.get(&key)));
            }
            Command::Put {
                key,
                body,
                ttl,
                max_bytes,
                reply,
            } => {
                let _ = reply.send(worker.with(|c| c.put(&key, &body, ttl, max_bytes)));
            }
            Command::TryLock(lock, reply) => {
                let taken = worker.with(|c| c.try_lock(lock));
                if let Err(Ok(true)) = reply.send(taken) {
                    // The caller stopped waiting: nobody will release it.
                    let _ = worker.with(|c| c.unlock(lock));
                }
            }
            Command::Unlock(lock) => {
                if let Err(error) = worker.with(|c| c.unlock(lock)) {
                    tracing::warn!(%error, "response cache: releasing a key's lock failed (a closed session releases it anyway)");
                }
            }
            Command::Close(reply) => {
                let _ = reply.send(Ok(()));
                return;
            }
        }
    }
}
