//! An experiment's `collect` list, read when the trial has ended: one Prometheus range query per collector over
//! the whole trial. A series that cannot be read says why in the record and changes nothing else: the verdict is
//! the steps' and goals'.

use std::time::Duration;

use chrono::{DateTime, Utc};
use futures_util::future::join_all;

use super::record::CollectedSeries;
use crate::actions::{ActionContext, prometheus};
use crate::experiments::Collector;

/// Each collector's series from `from` to `to`, side by side.
pub(super) async fn read(
    ctx: &ActionContext,
    collectors: &[Collector],
    from: DateTime<Utc>,
    to: DateTime<Utc>,
) -> Vec<CollectedSeries> {
    join_all(collectors.iter().map(|collector| async move {
        let step = Duration::from_secs_f64(collector.interval);
        let read = prometheus::range(ctx, collector.url.as_ref(), &collector.query, from, to, step).await;
        let (series, error) = match read {
            Ok(series) => (Some(series), None),
            Err(error) => (None, Some(error)),
        };
        CollectedSeries {
            name: collector.name.clone(),
            query: collector.query.clone(),
            from,
            to,
            interval_secs: collector.interval,
            series,
            error,
        }
    }))
    .await
}
