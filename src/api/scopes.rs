//! The access each route needs, as the route declares it in its `#[utoipa::path]`:
//! `security(("bearer" = ["read"]))` (or `write`, `admin`) for a route of `/api/v1`, `security(())` for one that is
//! called without credentials (health probes, metrics, the MiSArch callbacks).
//!
//! The guard ([`super::auth::guard`]), the API document ([`super::auth::document`]) and the tests read this one
//! table, built from the document when the router is. A route that declares nothing, names an unknown scope, or is a
//! public route of `/api/v1` stops the router from being built, so a new route cannot get a scope by accident.

use std::collections::BTreeMap;

use axum::http::Method;
use utoipa::openapi::OpenApi;

use crate::auth::Scope;

/// The name of the security scheme a guarded route declares.
pub const BEARER: &str = "bearer";
/// Every route under this prefix needs a credential: the guard authenticates and audits it.
const GUARDED_PREFIX: &str = "/api/v1/";

/// What one route needs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Access {
    /// No credential (`security(())`).
    Public,
    /// A bearer credential with at least this scope.
    Scoped(Scope),
}

/// Why the routes' declarations cannot be used.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DeclarationError {
    #[error(
        "{method} {route} declares no access: add security((\"bearer\" = [\"read\"|\"write\"|\"admin\"])) to its \
         #[utoipa::path], or security(()) if it is called without credentials"
    )]
    Undeclared { method: String, route: String },
    #[error("{method} {route} declares {declared}; a route declares one bearer scope (read, write or admin) or none")]
    Unusable { method: String, route: String, declared: String },
    #[error("{method} {route} is under /api/v1 but declares no credential; every /api/v1 route needs a scope")]
    PublicUnderApi { method: String, route: String },
}

/// The access of every operation of the API document: `(method, route template)` → [`Access`].
#[derive(Debug, Clone, Default)]
pub struct RouteScopes(BTreeMap<(String, String), Access>);

impl RouteScopes {
    /// Reads every operation's declared security.
    pub fn from_document(document: &OpenApi) -> Result<Self, DeclarationError> {
        let mut table = BTreeMap::new();
        for (route, item) in &document.paths.paths {
            let operations = [
                (Method::GET, &item.get),
                (Method::PUT, &item.put),
                (Method::POST, &item.post),
                (Method::DELETE, &item.delete),
                (Method::PATCH, &item.patch),
            ];
            for (method, operation) in operations {
                let Some(operation) = operation else { continue };
                let access = declared_access(&method, route, operation.security.as_deref())?;
                table.insert((method.to_string(), route.clone()), access);
            }
        }
        Ok(Self(table))
    }

    /// What `method` on `route` (a route template, as axum's `MatchedPath` gives it) needs. `None` for a route the
    /// document does not describe. HEAD is GET's. A method the route does not serve needs the route's highest scope
    /// before the caller is told 405, so its methods are not told to those who may use none of them.
    pub fn access(&self, method: &Method, route: &str) -> Option<Access> {
        let method = if method == Method::HEAD { Method::GET } else { method.clone() };
        if let Some(access) = self.0.get(&(method.to_string(), route.to_owned())) {
            return Some(*access);
        }
        self.0.iter().filter(|((_, known), _)| known == route).map(|(_, access)| *access).max_by_key(|access| {
            match access {
                Access::Public => None,
                Access::Scoped(scope) => Some(*scope),
            }
        })
    }

    /// Every operation: `(method, route template, access)`, in route order.
    pub fn iter(&self) -> impl Iterator<Item = (&str, &str, Access)> {
        self.0.iter().map(|((method, route), access)| (method.as_str(), route.as_str(), *access))
    }

    /// Whether a route that the document does not describe may be reached without a credential: Swagger UI and the
    /// document itself may; an undocumented `/api/v1` route is a defect, refused rather than left open.
    pub fn undocumented_is_public(route: &str) -> bool {
        !route.starts_with(GUARDED_PREFIX)
    }
}

fn declared_access(
    method: &Method,
    route: &str,
    security: Option<&[utoipa::openapi::security::SecurityRequirement]>,
) -> Result<Access, DeclarationError> {
    let (method_name, route_name) = (method.to_string(), route.to_owned());
    let Some(requirements) = security else {
        return Err(DeclarationError::Undeclared { method: method_name, route: route_name });
    };
    // A requirement's fields are private in utoipa; its JSON form is `{"bearer": ["read"]}`, or `{}` for none.
    let requirements = serde_json::to_value(requirements).unwrap_or_default();
    let unusable = || DeclarationError::Unusable {
        method: method.to_string(),
        route: route.to_owned(),
        declared: requirements.to_string(),
    };
    let access = match requirements.as_array().map(Vec::as_slice) {
        Some([only]) if only.as_object().is_some_and(|object| object.is_empty()) => Access::Public,
        Some([only]) => {
            let scopes = only.get(BEARER).and_then(|scopes| scopes.as_array()).ok_or_else(unusable)?;
            let [scope] = scopes.as_slice() else { return Err(unusable()) };
            let scope = scope.as_str().and_then(|name| name.parse::<Scope>().ok()).ok_or_else(unusable)?;
            if only.as_object().is_some_and(|object| object.len() != 1) {
                return Err(unusable());
            }
            Access::Scoped(scope)
        }
        _ => return Err(unusable()),
    };
    if access == Access::Public && route.starts_with(GUARDED_PREFIX) {
        return Err(DeclarationError::PublicUnderApi { method: method_name, route: route_name });
    }
    Ok(access)
}

#[cfg(test)]
mod tests {
    use utoipa::openapi::path::{HttpMethod, OperationBuilder, PathItem, PathsBuilder};
    use utoipa::openapi::security::SecurityRequirement;
    use utoipa::openapi::{OpenApiBuilder, ResponsesBuilder};

    use super::*;

    fn document(route: &str, security: Option<Vec<SecurityRequirement>>) -> OpenApi {
        let mut operation = OperationBuilder::new().responses(ResponsesBuilder::new().build());
        if let Some(security) = security {
            operation = operation.securities(Some(security));
        }
        let paths = PathsBuilder::new().path(route, PathItem::new(HttpMethod::Post, operation.build())).build();
        OpenApiBuilder::new().paths(paths).build()
    }

    #[test]
    fn declared_scopes_are_read_per_operation() {
        let scoped = document("/api/v1/thing", Some(vec![SecurityRequirement::new(BEARER, ["admin"])]));
        let table = RouteScopes::from_document(&scoped).unwrap();
        assert_eq!(table.access(&Method::POST, "/api/v1/thing"), Some(Access::Scoped(Scope::Admin)));
        // A method the route does not serve needs its highest scope; an unknown route is not in the table.
        assert_eq!(table.access(&Method::DELETE, "/api/v1/thing"), Some(Access::Scoped(Scope::Admin)));
        assert_eq!(table.access(&Method::POST, "/api/v1/other"), None);

        let public = document("/trigger", Some(vec![SecurityRequirement::default()]));
        let table = RouteScopes::from_document(&public).unwrap();
        assert_eq!(table.access(&Method::POST, "/trigger"), Some(Access::Public));
    }

    #[test]
    fn a_route_that_declares_nothing_or_nonsense_is_refused() {
        let undeclared = RouteScopes::from_document(&document("/api/v1/new", None)).unwrap_err();
        assert!(matches!(undeclared, DeclarationError::Undeclared { .. }));
        assert!(undeclared.to_string().contains("POST /api/v1/new declares no access"), "{undeclared}");

        let unknown = document("/api/v1/new", Some(vec![SecurityRequirement::new(BEARER, ["superuser"])]));
        assert!(matches!(RouteScopes::from_document(&unknown), Err(DeclarationError::Unusable { .. })));
        let two = document("/api/v1/new", Some(vec![SecurityRequirement::new(BEARER, ["read", "write"])]));
        assert!(matches!(RouteScopes::from_document(&two), Err(DeclarationError::Unusable { .. })));
        let other_scheme = document("/api/v1/new", Some(vec![SecurityRequirement::new("basic", ["read"])]));
        assert!(matches!(RouteScopes::from_document(&other_scheme), Err(DeclarationError::Unusable { .. })));

        let open = document("/api/v1/new", Some(vec![SecurityRequirement::default()]));
        assert!(matches!(RouteScopes::from_document(&open), Err(DeclarationError::PublicUnderApi { .. })));
    }
}
