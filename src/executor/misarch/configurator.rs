//! Changes to the configurator's variables: one after another within a service, each awaited before the next (see
//! `components::ServiceChanges` for why), the services side by side.

use std::future::Future;

use chrono::Utc;
use futures_util::future::join_all;

use super::Run;
use super::error::RunError;
use super::transport::Stoppable;
use crate::executor::record::{Acknowledged, TrialRecord};
use crate::misarch::components::{Component, ServiceChanges};

/// What became of a batch of changes: every change is tried, so one that fails does not keep a later reset from
/// being made.
#[derive(Default)]
pub(super) struct Applied {
    pub acknowledged: Vec<Acknowledged>,
    pub errors: Vec<RunError>,
}

impl<S, F> Run<'_, S>
where
    S: Fn(TrialRecord) -> F,
    F: Future<Output = ()>,
{
    pub(super) async fn change_variables(
        &self,
        phase: usize,
        services: &[ServiceChanges],
        stoppable: Stoppable,
    ) -> Applied {
        let sequences = services.iter().map(|service| self.change_service(phase, service, stoppable));
        let mut applied = Applied::default();
        for one in join_all(sequences).await {
            applied.acknowledged.extend(one.acknowledged);
            applied.errors.extend(one.errors);
        }
        applied.acknowledged.sort_by_key(|change| change.at);
        applied
    }

    async fn change_service(&self, phase: usize, service: &ServiceChanges, stoppable: Stoppable) -> Applied {
        let mut applied = Applied::default();
        for change in &service.changes {
            let call = match self.component_call(Component::Configurator, change.request.clone()) {
                Ok(call) => call,
                Err(error) => {
                    applied.errors.push(error);
                    break;
                }
            };
            match self.expect_success(phase, &call, true, stoppable).await {
                Ok(_) => applied.acknowledged.push(Acknowledged {
                    service: service.service.clone(),
                    variable: change.variable.to_owned(),
                    at: Utc::now(),
                }),
                Err(error) => applied.errors.push(error),
            }
        }
        applied
    }
}
