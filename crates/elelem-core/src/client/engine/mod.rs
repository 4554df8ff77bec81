//! The attempt engine: one call plan, one pure ladder and one loop for every
//! operation (see the [`client`](crate::client) module documentation for the
//! pipeline's steps by name).

mod ladder;
mod operation;
mod plan;
mod record;
mod resolved;
mod run;

pub(crate) use operation::{error_in_answer, Finished, Fixed, Fixing, Operation, Refused};
pub(crate) use plan::{check_vision, prompt_estimate, target, CallPlan, Entry, Target};
pub(crate) use record::Settlement;
pub(crate) use resolved::ResolvedTargets;
pub(crate) use run::{run, run_in_span};
