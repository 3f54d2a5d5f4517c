//! The Qdrant-compatible API driven by the real `qdrant-client` (pinned in
//! `cargo xtask services up`), checked against `/v1` and brute force by
//! `qdrant/client_suite.py`; and the API's error shape over raw HTTP.

use proxima_tests::http::{self, Response};
use proxima_tests::server::ServerProcess;
use serde_json::{Value, json};

const BIN: &str = env!("CARGO_BIN_EXE_proximadb");

fn call(addr: &str, method: &str, path: &str, body: Option<Value>) -> Response {
    http::json(addr, method, path, body.as_ref())
}

#[test]
fn the_real_qdrant_client_works_against_the_binary() {
    let Some(python) = proxima_tests::service_var("PROXIMA_TEST_QDRANT_PYTHON") else { return };
    let dir = tempfile::tempdir().unwrap();
    let server = ServerProcess::start(BIN, &dir.path().join("data"), &[], &[]);
    let suite = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/qdrant/client_suite.py");
    let out = std::process::Command::new(python).arg(suite).arg(format!("http://{}", server.addr)).output().unwrap();
    let said = format!("{}{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr));
    assert!(out.status.success(), "{said}");
    assert!(said.contains("every check passed"), "{said}");
}

#[test]
fn errors_use_qdrants_shape_and_change_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let server = ServerProcess::start(BIN, &dir.path().join("data"), &[], &[]);
    let addr = server.addr.as_str();
    let root = call(addr, "GET", "/", None);
    assert_eq!(root.status, 200);
    assert_eq!(root.json()["version"], proxima_qdrant::COMPATIBLE_VERSION);
    let create = json!({"vectors": {"size": 3, "distance": "Dot"}});
    let r = call(addr, "PUT", "/collections/q", Some(create));
    assert_eq!((r.status, r.json()["result"].clone(), r.json()["status"].clone()), (200, json!(true), json!("ok")));
    for (method, path, body, status) in [
        ("PUT", "/collections/q/points", json!({"points": [{"id": -1, "vector": [1, 2, 3]}]}), 400),
        ("PUT", "/collections/q/points", json!({"points": [{"id": "not-a-uuid", "vector": [1, 2, 3]}]}), 400),
        ("PUT", "/collections/q/points", json!({"points": [{"id": 1, "vector": [1, 2]}]}), 400),
        ("PUT", "/collections/q/points", json!({"nope": []}), 400),
        ("POST", "/collections/q/points/query", json!({"query": [1, 2, 3], "prefetch": []}), 400),
        ("POST", "/collections/q/points/query", json!({"query": {"discover": {}}}), 400),
        ("POST", "/collections/q/points/recommend", json!({}), 400),
        ("POST", "/collections/q/points/scroll", json!({"limit": 0}), 400),
        ("POST", "/collections/absent/points/query", json!({"query": [1, 2, 3]}), 404),
        ("PUT", "/collections/q2", json!({"vectors": {"size": 3, "distance": "Manhattan"}}), 400),
        ("PUT", "/collections/q2", json!({"vectors": {"size": 3, "distance": "Dot"}, "replication_factor": 2}), 400),
    ] {
        let r = call(addr, method, path, Some(body.clone()));
        assert_eq!(r.status, status, "{method} {path} {body}: {}", r.body);
        assert!(r.json()["status"]["error"].as_str().is_some_and(|e| !e.is_empty()), "{}", r.body);
    }
    let headers = [("Content-Type", "application/json")];
    let malformed = http::request(addr, "PUT", "/collections/q/points", &headers, Some(b"{not json")).unwrap();
    assert_eq!(malformed.status, 400, "{}", malformed.body);
    let count = call(addr, "POST", "/collections/q/points/count", Some(json!({})));
    assert_eq!(count.json()["result"]["count"], 0, "nothing was written");
    let exists = call(addr, "GET", "/collections/q2/exists", None);
    assert_eq!(exists.json()["result"]["exists"], false, "refused creations create nothing");
}

#[test]
fn the_status_is_yellow_until_the_graph_is_built() {
    let dir = tempfile::tempdir().unwrap();
    let server = ServerProcess::start(BIN, &dir.path().join("data"), &[], &[]);
    let addr = server.addr.as_str();
    let create = json!({"vectors": {"size": 4, "distance": "Cosine"}});
    assert_eq!(call(addr, "PUT", "/collections/g", Some(create)).status, 200);
    // Enough points for a graph (2,000 and more), waiting in the write buffer.
    let points: Vec<Value> = (0..2_500)
        .map(|i| json!({"id": i, "vector": [1.0, (i % 97) as f32, (i % 13) as f32, (i % 7) as f32]}))
        .collect();
    assert_eq!(call(addr, "PUT", "/collections/g/points?wait=true", Some(json!({"points": points}))).status, 200);
    let info = |field: &str| call(addr, "GET", "/collections/g", None).json()["result"][field].clone();
    assert_eq!((info("status"), info("indexed_vectors_count")), (json!("yellow"), json!(0)));

    assert_eq!(call(addr, "POST", "/v1/collections/g/flush", None).status, 204);
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(120);
    while info("status") != "green" {
        assert!(std::time::Instant::now() < deadline, "the graph was never built");
        std::thread::sleep(std::time::Duration::from_millis(100));
    }
    assert_eq!(info("indexed_vectors_count"), json!(2_500));
}
