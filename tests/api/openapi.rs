//! The served OpenAPI document (`GET /api/v1/openapi.json`) checked by a real OpenAPI
//! 3.1 validator: `openapi-spec-validator` from PyPI (structure, references, and that
//! every `{param}` of a path is declared as a path parameter). That the document and
//! the mounted routes agree is `api::openapi`'s own unit tests.
//!
//! scripts/test.sh installs the validator into `.cache/openapi-validator` and names it
//! in `OPENAPI_VALIDATOR`; without it the test fails with that instruction instead of
//! silently skipping.

use crate::helpers::*;
use serde_json::Value;
use std::process::Command;

/// Runs the validator on `doc`; `Ok` when it accepts, `Err(its report)` when not.
fn validate(doc: &Value) -> Result<(), String> {
    let dir = tempfile::tempdir().expect("temp dir");
    let path = dir.path().join("openapi.json");
    std::fs::write(&path, serde_json::to_vec(doc).unwrap()).expect("write the document");
    let validator =
        std::env::var("OPENAPI_VALIDATOR").unwrap_or_else(|_| "openapi-spec-validator".into());
    let out = match Command::new(&validator).arg(&path).output() {
        Ok(o) => o,
        Err(e) => panic!(
            "{validator} is needed to validate the OpenAPI document ({e}); run \
             scripts/test.sh, which installs openapi-spec-validator from PyPI into \
             .cache/openapi-validator and sets OPENAPI_VALIDATOR"
        ),
    };
    let report = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    if out.status.success() {
        Ok(())
    } else {
        Err(report)
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_served_document_passes_a_real_openapi_validator() {
    let app = spawn_app(|_| {}).await;
    let (status, doc) = app.get("/api/v1/openapi.json").await;
    assert_eq!(status, 200);
    assert_eq!(doc["openapi"].as_str().map(|v| &v[..3]), Some("3.1"));
    if let Err(report) = validate(&doc) {
        panic!("the served OpenAPI document is invalid:\n{report}");
    }

    // The validator does catch the defect this test is for: a path whose `{id}` is not
    // declared as a parameter (as `PUT /api/v1/agents/{id}` once was).
    let mut broken = doc.clone();
    let op = &mut broken["paths"]["/api/v1/agents/{id}"]["put"];
    assert!(op.is_object(), "the document has PUT /api/v1/agents/{{id}}");
    op.as_object_mut().unwrap().remove("parameters");
    assert!(
        validate(&broken).is_err(),
        "the validator accepted an undeclared path parameter"
    );
}
