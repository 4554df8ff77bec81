//! [`RandomFaults`]: a seeded share of chat requests answered with a fault
//! instead of the scripted answer, counted, so a soak test can compare its
//! client's totals with what the server really served.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Mutex, PoisonError};

use crate::ScriptedResponse;

/// Answers `percent` % of chat requests (chosen by a seeded generator) with one
/// of `faults` (in turn), the others as scripted; counts both.
///
/// ```
/// use std::sync::Arc;
/// use elelem_testkit::{wire, RandomFaults};
/// let faults = Arc::new(RandomFaults::new(10, 42, vec![wire::server_error(500)]));
/// assert_eq!((faults.served_faults(), faults.served_answers()), (0, 0));
/// ```
#[derive(Debug)]
pub struct RandomFaults {
    percent: u64,
    faults: Vec<ScriptedResponse>,
    rng: Mutex<(u64, usize)>,
    served_faults: AtomicU64,
    served_answers: AtomicU64,
}

impl RandomFaults {
    /// `percent` (at most 100) of requests get a fault from `faults`; `seed`
    /// makes the choice repeatable. No faults given: every answer is scripted.
    pub fn new(percent: u8, seed: u64, faults: Vec<ScriptedResponse>) -> RandomFaults {
        RandomFaults {
            percent: u64::from(percent.min(100)),
            faults,
            rng: Mutex::new((seed | 1, 0)),
            served_faults: AtomicU64::new(0),
            served_answers: AtomicU64::new(0),
        }
    }

    /// Requests answered with a fault so far.
    pub fn served_faults(&self) -> u64 {
        self.served_faults.load(Ordering::SeqCst)
    }

    /// Requests answered as scripted so far.
    pub fn served_answers(&self) -> u64 {
        self.served_answers.load(Ordering::SeqCst)
    }

    /// The fault to answer this request with, if it gets one (else counted as
    /// answered as scripted).
    pub(crate) fn pick(&self) -> Option<ScriptedResponse> {
        let fault = {
            let mut state = self.rng.lock().unwrap_or_else(PoisonError::into_inner);
            let (x, turn) = &mut *state;
            // xorshift64*
            *x ^= *x >> 12;
            *x ^= *x << 25;
            *x ^= *x >> 27;
            let draw = x.wrapping_mul(0x2545_F491_4F6C_DD1D) % 100;
            if draw < self.percent && !self.faults.is_empty() {
                let fault = self.faults[*turn % self.faults.len()].clone();
                *turn += 1;
                Some(fault)
            } else {
                None
            }
        };
        match &fault {
            Some(_) => self.served_faults.fetch_add(1, Ordering::SeqCst),
            None => self.served_answers.fetch_add(1, Ordering::SeqCst),
        };
        fault
    }
}
