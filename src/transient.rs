//! What is tried again because it may well work a moment later:
//! - transient database errors (the database busy or locked, no connection free in the pool), within milliseconds
//!   and with a bounded backoff, by the scheduler, the worker and the MiSArch callbacks: one busy moment must not
//!   cost a fire (whose slow path waits 30 s), a lease or a component's callback. Only an error that outlasts the
//!   backoff goes on to the caller. Each retry is counted in `eris_db_retries_total`.
//! - an update that read a row, checked the change outside the database and found the row changed when it wrote
//!   (a fire, another request): it starts over from a new read, a few times.

use std::future::Future;
use std::time::Duration;

use crate::error::{CONCURRENT_UPDATE, ErrorKind, Result};
use crate::telemetry;

/// The pauses before each retry: about half a second in all.
const BACKOFF_MS: [u64; 6] = [5, 10, 20, 50, 100, 250];

/// Who retries, the label of the retry counter.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Retrier {
    Scheduler,
    Worker,
    Callback,
}

impl Retrier {
    pub const ALL: [Retrier; 3] = [Retrier::Scheduler, Retrier::Worker, Retrier::Callback];

    pub fn as_str(self) -> &'static str {
        match self {
            Retrier::Scheduler => "scheduler",
            Retrier::Worker => "worker",
            Retrier::Callback => "callback",
        }
    }
}

/// Runs `attempt`, and again after each transient error, until it succeeds, fails otherwise, or the backoff is used
/// up. `attempt` must be safe to repeat: a transient error means its transaction did not commit.
pub async fn retry<T, F, Fut>(retrier: Retrier, mut attempt: F) -> Result<T>
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Result<T>>,
{
    for pause in BACKOFF_MS {
        match attempt().await {
            Err(error) if error.kind == ErrorKind::Unavailable => {
                telemetry::db_retry(retrier.as_str());
                tracing::debug!(retrier = retrier.as_str(), "transient database error, retrying: {}", error.message);
                tokio::time::sleep(Duration::from_millis(pause)).await;
            }
            other => return other,
        }
    }
    attempt().await
}

/// How often an update runs in all when the row keeps changing between its read and its write.
const UPDATE_ATTEMPTS: usize = 3;

/// Runs `attempt` (a read, a check and a conditional write) again while its write finds the row changed since the
/// read, [`UPDATE_ATTEMPTS`] times in all; then the `409 concurrent_update` goes to the caller.
pub async fn retry_concurrent_update<T, F, Fut>(mut attempt: F) -> Result<T>
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Result<T>>,
{
    for _ in 1..UPDATE_ATTEMPTS {
        match attempt().await {
            Err(error) if error.code == CONCURRENT_UPDATE => continue,
            other => return other,
        }
    }
    attempt().await
}

#[cfg(test)]
mod tests {
    use std::cell::Cell;

    use super::*;
    use crate::error::Error;

    #[test]
    fn each_retrier_has_its_series() {
        let labels: Vec<&str> = Retrier::ALL.iter().map(|retrier| retrier.as_str()).collect();
        assert_eq!(labels, telemetry::DB_RETRIERS);
    }

    #[tokio::test]
    async fn transient_errors_are_retried_and_others_are_not() {
        let calls = Cell::new(0);
        let busy_twice = retry(Retrier::Scheduler, || {
            calls.set(calls.get() + 1);
            let call = calls.get();
            async move { if call <= 2 { Err(Error::unavailable("the database is busy")) } else { Ok(call) } }
        });
        assert_eq!(busy_twice.await, Ok(3));

        calls.set(0);
        let invalid = retry(Retrier::Worker, || {
            calls.set(calls.get() + 1);
            async { Err::<(), _>(Error::internal("a defect")) }
        });
        assert_eq!(invalid.await.unwrap_err().code, "internal_error");
        assert_eq!(calls.get(), 1, "a lasting error is not retried");

        calls.set(0);
        let always_busy = retry(Retrier::Callback, || {
            calls.set(calls.get() + 1);
            async { Err::<(), _>(Error::unavailable("the database is busy")) }
        });
        assert_eq!(always_busy.await.unwrap_err().code, "database_unavailable");
        assert_eq!(calls.get(), BACKOFF_MS.len() + 1, "the backoff is bounded");
    }

    #[tokio::test]
    async fn a_concurrent_update_starts_over_a_few_times() {
        let calls = Cell::new(0);
        let changed_once = retry_concurrent_update(|| {
            calls.set(calls.get() + 1);
            let call = calls.get();
            async move { if call == 1 { Err(Error::conflict(CONCURRENT_UPDATE, "changed")) } else { Ok(call) } }
        });
        assert_eq!(changed_once.await, Ok(2));
        calls.set(0);
        let always_changed = retry_concurrent_update(|| {
            calls.set(calls.get() + 1);
            async { Err::<(), _>(Error::conflict(CONCURRENT_UPDATE, "changed")) }
        });
        assert_eq!(always_changed.await.unwrap_err().code, CONCURRENT_UPDATE);
        assert_eq!(calls.get(), UPDATE_ATTEMPTS);
    }
}
