//! The runtime a blocking client owns, and the one rule for using it: never from
//! inside another async runtime.

use std::future::Future;

use elelem_core::ElelemError;

/// The number of runtime worker threads by default: they only drive sockets and
/// timers, the calls themselves run on the calling threads.
pub(crate) const DEFAULT_WORKER_THREADS: usize = 2;

/// A multi-threaded Tokio runtime shared by a blocking client and its clones and
/// streams. It is shut down in the background when the last of them is dropped,
/// which is also safe inside an async runtime.
#[derive(Debug)]
pub(crate) struct OwnedRuntime {
    runtime: Option<tokio::runtime::Runtime>,
}

impl OwnedRuntime {
    /// A runtime with `workers` worker threads (at least one).
    pub(crate) fn new(workers: usize) -> Result<OwnedRuntime, ElelemError> {
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(workers.max(1))
            .thread_name("elelem-blocking")
            .enable_all()
            .build()
            .map_err(|e| ElelemError::Config {
                reason: format!("the blocking client could not start its runtime: {e}"),
            })?;
        Ok(OwnedRuntime {
            runtime: Some(runtime),
        })
    }

    /// Runs `future` to completion on the calling thread, or refuses when the
    /// thread is inside an async runtime (blocking there would stall it).
    pub(crate) fn block_on<F: Future>(
        &self,
        operation: &'static str,
        future: F,
    ) -> Result<F::Output, ElelemError> {
        refuse_inside_async(operation)?;
        match &self.runtime {
            Some(runtime) => Ok(runtime.block_on(future)),
            None => Err(ElelemError::Config {
                reason: "the blocking client's runtime has shut down".into(),
            }),
        }
    }

    /// Enters the runtime's context (for work that needs it, such as building a
    /// client or dropping a stream) without blocking.
    pub(crate) fn enter(&self) -> Option<tokio::runtime::EnterGuard<'_>> {
        self.runtime.as_ref().map(tokio::runtime::Runtime::enter)
    }
}

impl Drop for OwnedRuntime {
    fn drop(&mut self) {
        if let Some(runtime) = self.runtime.take() {
            runtime.shutdown_background();
        }
    }
}

/// An error when the calling thread runs inside an async runtime.
pub(crate) fn refuse_inside_async(operation: &'static str) -> Result<(), ElelemError> {
    match tokio::runtime::Handle::try_current() {
        Ok(_) => Err(ElelemError::BlockingInAsyncContext { operation }),
        Err(_) => Ok(()),
    }
}
