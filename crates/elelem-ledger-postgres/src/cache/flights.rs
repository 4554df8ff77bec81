//! Single flight inside one process: the first lookup of a key leads, identical
//! lookups wait for it to finish (then look again) instead of each going to the
//! database.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, PoisonError};

use tokio::sync::watch;

/// The keys being answered by this process, each with the channel its waiters
/// watch (it closes when the leader finishes).
#[derive(Debug, Default)]
pub(crate) struct Flights {
    running: Mutex<HashMap<String, watch::Receiver<()>>>,
}

/// The lead of one key's flight; dropping it ends the flight.
#[derive(Debug)]
pub(crate) struct Lead {
    flights: Arc<Flights>,
    key: String,
    // Held only to be dropped: waiters see the channel close.
    _done: watch::Sender<()>,
}

impl Drop for Lead {
    fn drop(&mut self) {
        self.flights
            .running
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .remove(&self.key);
    }
}

/// Whether a lookup leads its key's flight or waits for another one.
pub(crate) enum Turn {
    /// This lookup answers the key.
    Lead(Lead),
    /// Another lookup of this process answers it: wait for the channel to close.
    Wait(watch::Receiver<()>),
}

impl Flights {
    /// Joins the flight of `key`, leading it when there is none.
    pub fn join(self: &Arc<Self>, key: &str) -> Turn {
        let mut running = self.running.lock().unwrap_or_else(PoisonError::into_inner);
        if let Some(waiting) = running.get(key) {
            return Turn::Wait(waiting.clone());
        }
        let (done, waiting) = watch::channel(());
        running.insert(key.to_owned(), waiting);
        Turn::Lead(Lead {
            flights: self.clone(),
            key: key.to_owned(),
            _done: done,
        })
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::panic)]
    use super::*;

    #[tokio::test]
    async fn one_leads_others_wait_until_it_is_dropped() {
        let flights = Arc::new(Flights::default());
        let Turn::Lead(lead) = flights.join("k") else {
            panic!("the first lookup leads");
        };
        let Turn::Wait(mut waiting) = flights.join("k") else {
            panic!("the second waits");
        };
        assert!(matches!(flights.join("other"), Turn::Lead(_)));
        drop(lead);
        assert!(waiting.changed().await.is_err(), "the flight ended");
        assert!(
            matches!(flights.join("k"), Turn::Lead(_)),
            "a new flight can start"
        );
    }
}
