use std::num::NonZeroUsize;
use std::sync::Arc;

use tokio::sync::{Semaphore, SemaphorePermit};
use tonic::Status;

use crate::metrics::Metrics;

/// The server-wide limit on the calls of one service running at once, over
/// all connections: a call beyond it is answered `UNAVAILABLE` at once
/// instead of waiting. The service takes a slot as its handler starts and
/// holds it until its answer is ready; only the services that take slots are
/// limited, so health and reflection stay answerable under load, for probes.
///
/// A semaphore taken in the handler rather than tower's `ConcurrencyLimit`
/// and `LoadShed` with axum's `HandleError` to turn the shedding error into a
/// status: the three layers cost about 900 instructions a call more (56,900
/// against 56,000 at 64 calls in flight, plain release builds, callgrind) to
/// do what one `try_acquire` does here.
///
/// `UNAVAILABLE` rather than tonic's own `RESOURCE_EXHAUSTED` ("Too many active
/// requests for the connection", which would name the wrong cause): the
/// condition is transient and server-wide, gRPC retry policies retry
/// `UNAVAILABLE`, and the marketplaces already answer it with a 503.
#[derive(Debug, Clone)]
pub struct CallSlots {
    free: Arc<Semaphore>,
    limit: usize,
    /// Counts the calls refused, under the name of the service limited.
    metrics: Option<(Metrics, &'static str)>,
}

impl CallSlots {
    /// `limit` slots, not counted in any metrics.
    #[must_use]
    pub fn new(limit: NonZeroUsize) -> Self {
        Self {
            free: Arc::new(Semaphore::new(limit.get())),
            limit: limit.get(),
            metrics: None,
        }
    }

    /// Counts the calls to `service` refused in `metrics`.
    #[must_use]
    pub fn counted(self, metrics: Option<Metrics>, service: &'static str) -> Self {
        Self {
            metrics: metrics.map(|metrics| (metrics, service)),
            ..self
        }
    }

    /// How many calls may run at once.
    #[must_use]
    pub fn limit(&self) -> usize {
        self.limit
    }

    /// A slot for one call, free again when dropped, or the status to refuse
    /// the call with when every slot is taken.
    pub fn take(&self) -> Result<SemaphorePermit<'_>, Status> {
        // The semaphore is never closed: failing means no slot is free.
        self.free.try_acquire().map_err(|_| {
            if let Some((metrics, service)) = &self.metrics {
                metrics.shed(service);
            }
            tracing::debug!("shed: the concurrent call limit is reached");
            Status::unavailable(format!(
                "the server is at its limit of {} concurrent calls; retry with backoff",
                self.limit
            ))
        })
    }
}

#[cfg(test)]
mod tests {
    use tonic::Code;

    use super::*;

    #[test]
    fn a_call_beyond_the_limit_is_refused_until_a_slot_is_free() {
        let slots = CallSlots::new(NonZeroUsize::new(2).unwrap());
        let first = slots.take().unwrap();
        let _second = slots.take().unwrap();
        let refused = slots.take().unwrap_err();
        assert_eq!(refused.code(), Code::Unavailable);
        assert_eq!(
            refused.message(),
            "the server is at its limit of 2 concurrent calls; retry with backoff"
        );
        drop(first);
        assert!(slots.take().is_ok(), "the slot freed is taken again");
    }
}
