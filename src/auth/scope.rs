//! What a principal may do. Scopes are ordered: `admin` includes `write`, which includes `read`.

use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

/// `read`: every GET. `write`: create, change and delete experiments and schedules; run and stop trials.
/// `admin`: everything, plus purging, tokens and the audit log.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum Scope {
    Read,
    Write,
    Admin,
}

impl Scope {
    pub const ALL: [Scope; 3] = [Scope::Read, Scope::Write, Scope::Admin];

    pub fn as_str(self) -> &'static str {
        match self {
            Scope::Read => "read",
            Scope::Write => "write",
            Scope::Admin => "admin",
        }
    }

    /// Whether a principal with this scope may do what `needed` guards.
    pub fn allows(self, needed: Scope) -> bool {
        self >= needed
    }
}

impl std::fmt::Display for Scope {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A name that is not a scope.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("'{0}' is not a scope: use read, write or admin")]
pub struct UnknownScope(pub String);

impl std::str::FromStr for Scope {
    type Err = UnknownScope;

    fn from_str(text: &str) -> Result<Self, Self::Err> {
        match text.trim().to_ascii_lowercase().as_str() {
            "read" => Ok(Scope::Read),
            "write" => Ok(Scope::Write),
            "admin" => Ok(Scope::Admin),
            other => Err(UnknownScope(other.to_owned())),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn scopes_include_the_lower_ones() {
        assert!(Scope::Admin.allows(Scope::Write) && Scope::Admin.allows(Scope::Read));
        assert!(Scope::Write.allows(Scope::Read) && !Scope::Write.allows(Scope::Admin));
        assert!(!Scope::Read.allows(Scope::Write));
        assert_eq!("Admin".parse::<Scope>(), Ok(Scope::Admin));
        assert!("root".parse::<Scope>().unwrap_err().to_string().contains("'root'"));
    }
}
