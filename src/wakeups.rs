//! How the API, the scheduler and the worker wake each other: in-process signals. Each loop also polls slowly as a
//! fallback, which is how a change made through another replica is noticed.

use std::sync::Arc;

use tokio::sync::Notify;

#[derive(Debug, Default, Clone)]
pub struct Wakeups {
    /// A schedule was created or changed: its next fire may be earlier than the scheduler's sleep.
    pub scheduler: Arc<Notify>,
    /// A trial was queued or a stop requested.
    pub worker: Arc<Notify>,
    /// A webhook delivery was queued.
    pub webhooks: Arc<Notify>,
}

impl Wakeups {
    pub fn schedules_changed(&self) {
        // notify_one keeps a permit when nobody waits, so a signal sent while the loop is busy is not lost.
        self.scheduler.notify_one();
    }

    pub fn trial_queued(&self) {
        self.worker.notify_one();
    }

    pub fn webhooks_queued(&self) {
        self.webhooks.notify_one();
    }
}
