//! Trial statuses, with Kallisti's names: one type used by the API, the database, the worker and webhooks.

use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use crate::error::{Error, Result};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, ToSchema)]
pub enum TrialStatus {
    /// Queued; waits for the worker.
    Scheduled,
    #[serde(rename = "In Progress")]
    InProgress,
    Succeeded,
    /// A step, an expectation, a goal or the infrastructure failed; the record says which.
    Failed,
    /// A pre-step (health gate) failed.
    Aborted,
    /// A template parameter is missing.
    Invalid,
    /// A stop was requested while the trial ran; the worker is stopping it.
    #[serde(rename = "Stop Initiated")]
    StopInitiated,
    Stopped,
}

impl TrialStatus {
    pub const ALL: [Self; 8] = [
        Self::Scheduled,
        Self::InProgress,
        Self::Succeeded,
        Self::Failed,
        Self::Aborted,
        Self::Invalid,
        Self::StopInitiated,
        Self::Stopped,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Self::Scheduled => "Scheduled",
            Self::InProgress => "In Progress",
            Self::Succeeded => "Succeeded",
            Self::Failed => "Failed",
            Self::Aborted => "Aborted",
            Self::Invalid => "Invalid",
            Self::StopInitiated => "Stop Initiated",
            Self::Stopped => "Stopped",
        }
    }

    /// Reads a status as stored or as given in `?status=`.
    pub fn from_name(name: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|status| status.as_str() == name)
    }

    pub fn parse(stored: &str) -> Result<Self> {
        Self::from_name(stored).ok_or_else(|| Error::internal(format!("stored trial status '{stored}' is unknown")))
    }

    /// Whether the trial has ended (its record no longer changes).
    pub fn is_final(self) -> bool {
        matches!(self, Self::Succeeded | Self::Failed | Self::Aborted | Self::Invalid | Self::Stopped)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_round_trip_through_text_and_json() {
        for status in TrialStatus::ALL {
            assert_eq!(TrialStatus::from_name(status.as_str()), Some(status));
            assert_eq!(serde_json::to_value(status).unwrap(), status.as_str());
        }
        assert_eq!(TrialStatus::from_name("in progress"), None);
    }
}
