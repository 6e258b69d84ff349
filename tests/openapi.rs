//! The committed OpenAPI document matches the code. To regenerate it after an API change:
//! `UPDATE_OPENAPI=1 cargo test --test openapi` (or `cargo run -- openapi > openapi/openapi.json`).

use std::path::Path;

use eris::api::scopes::Access;

const COMMITTED: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/openapi/openapi.json");

#[test]
fn the_committed_document_matches_the_code() {
    let generated = format!("{}\n", eris::api::openapi().to_pretty_json().expect("the document serializes"));
    if std::env::var_os("UPDATE_OPENAPI").is_some() {
        std::fs::create_dir_all(Path::new(COMMITTED).parent().unwrap()).unwrap();
        std::fs::write(COMMITTED, &generated).expect("write openapi/openapi.json");
        return;
    }
    let committed = std::fs::read_to_string(COMMITTED).unwrap_or_default();
    assert!(
        committed == generated,
        "openapi/openapi.json is out of date with the code; regenerate it with `UPDATE_OPENAPI=1 cargo test --test openapi`"
    );
}

#[test]
fn every_operation_is_described_and_documents_its_errors() {
    let document = serde_json::to_value(eris::api::openapi()).unwrap();
    let paths = document["paths"].as_object().unwrap();
    assert!(paths.len() >= 10, "{:?}", paths.keys());
    for (path, operations) in paths {
        for (method, operation) in operations.as_object().unwrap() {
            let summary = operation["summary"].as_str().unwrap_or_default();
            assert!(!summary.is_empty(), "{method} {path} has no summary");
            let responses = operation["responses"].as_object().unwrap();
            if path.starts_with("/api/v1") {
                assert!(responses.contains_key("400"), "{method} {path} does not document 400");
                assert!(responses.contains_key("503"), "{method} {path} does not document 503");
                if path.contains('{') {
                    assert!(responses.contains_key("404"), "{method} {path} does not document 404");
                }
                if operation.get("requestBody").is_some() {
                    assert!(responses.contains_key("413") && responses.contains_key("415"), "{method} {path}");
                    let example = &operation["requestBody"]["content"]["application/json"]["schema"]["$ref"];
                    assert!(example.is_string(), "{method} {path} body has no schema");
                }
            }
        }
    }
}

/// Swagger UI's "Authorize" button comes from the bearer scheme; every guarded operation names it, its scope, and
/// its 401 and 403 answers, and no unguarded one asks for a credential.
#[test]
fn guarded_operations_document_their_credential_and_scope() {
    let document = serde_json::to_value(eris::api::openapi()).unwrap();
    let scopes = eris::api::route_scopes();
    let scheme = &document["components"]["securitySchemes"]["bearer"];
    assert_eq!((scheme["type"].as_str(), scheme["scheme"].as_str()), (Some("http"), Some("bearer")));
    for (path, operations) in document["paths"].as_object().unwrap() {
        for (method, operation) in operations.as_object().unwrap() {
            let responses = operation["responses"].as_object().unwrap();
            let method_name: axum::http::Method = method.to_uppercase().parse().unwrap();
            match scopes.access(&method_name, path).unwrap() {
                Access::Scoped(scope) => {
                    assert_eq!(operation["security"], serde_json::json!([{"bearer": [scope]}]), "{method} {path}");
                    assert!(responses.contains_key("401") && responses.contains_key("403"), "{method} {path}");
                    let description = operation["description"].as_str().unwrap_or_default();
                    assert!(description.contains(&format!("Needs the `{scope}` scope.")), "{method} {path}");
                }
                Access::Public => {
                    assert_eq!(operation["security"], serde_json::json!([{}]), "{method} {path} needs no credential");
                    assert!(!responses.contains_key("401"), "{method} {path}");
                }
            }
        }
    }
}
