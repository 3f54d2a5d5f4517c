//! The answer cache through the real binary: a repeated search is answered
//! by L1, a write makes it unreachable before it is acknowledged, `only`
//! says it missed, `GET /v1/cache` reports each layer, `DELETE /v1/cache`
//! invalidates a collection, and bad cache settings stop the server at start.

use proxima_tests::http::{self, Response};
use proxima_tests::server::ServerProcess;
use serde_json::{Value, json};

const BIN: &str = env!("CARGO_BIN_EXE_proximadb");

fn call(addr: &str, method: &str, path: &str, body: Option<Value>) -> Response {
    http::json(addr, method, path, body.as_ref())
}

#[test]
fn searches_and_reads_through_the_cache() {
    let dir = tempfile::tempdir().unwrap();
    let server = ServerProcess::start(BIN, dir.path(), &[], &[]);
    let addr = server.addr.as_str();
    let r = call(addr, "POST", "/v1/collections", Some(json!({"name": "docs", "dimension": 3, "metric": "euclidean"})));
    assert_eq!(r.status, 201, "{}", r.body);
    let vectors = json!({"vectors": [{"id": "a", "vector": [1.0, 0.0, 0.0]}, {"id": "b", "vector": [0.0, 1.0, 0.0]}]});
    assert_eq!(call(addr, "POST", "/v1/collections/docs/vectors", Some(vectors)).status, 200);

    let query = json!({"vector": [0.9, 0.1, 0.0], "k": 1});
    let first = call(addr, "POST", "/v1/collections/docs/search", Some(query.clone())).json();
    assert_eq!(first["performance"]["cache"]["missed"], json!(["l1"]), "{first}");
    assert!(first["performance"]["cache"].get("answered_by").is_none(), "{first}");
    let second = call(addr, "POST", "/v1/collections/docs/search", Some(query.clone())).json();
    assert_eq!(second["performance"]["cache"]["answered_by"], "l1", "{second}");
    assert_eq!(second["hits"], first["hits"]);

    // A closer record: acknowledged, so no cached answer may leave it out.
    let closer = json!({"vectors": [{"id": "c", "vector": [0.9, 0.1, 0.0]}]});
    assert_eq!(call(addr, "POST", "/v1/collections/docs/vectors", Some(closer)).status, 200);
    let mut only = query.clone();
    only["cache"] = json!("only");
    let missed = call(addr, "POST", "/v1/collections/docs/search", Some(only.clone())).json();
    assert_eq!(missed["cache_miss"], true, "{missed}");
    assert_eq!(missed["hits"], json!([]));
    let fresh = call(addr, "POST", "/v1/collections/docs/search", Some(query.clone())).json();
    assert_eq!(fresh["hits"][0]["id"], "c", "{fresh}");
    let cached = call(addr, "POST", "/v1/collections/docs/search", Some(only)).json();
    assert_eq!(cached["hits"][0]["id"], "c", "{cached}");

    assert_eq!(call(addr, "GET", "/v1/collections/docs/vectors/a?cache=only", None).status, 404);
    assert_eq!(call(addr, "GET", "/v1/collections/docs/vectors/a", None).status, 200);
    assert_eq!(call(addr, "GET", "/v1/collections/docs/vectors/a?cache=only", None).status, 200);
    assert_eq!(call(addr, "GET", "/v1/collections/docs/vectors/a?cache=sometimes", None).status, 400);

    let layers = call(addr, "GET", "/v1/cache", None).json();
    assert_eq!(layers["layers"][0]["layer"], "l1", "{layers}");
    assert_eq!(layers["layers"][0]["state"], "healthy", "{layers}");
    assert!(layers["layers"][0]["hits"].as_u64().unwrap() >= 3, "{layers}");

    assert_eq!(call(addr, "DELETE", "/v1/cache", None).status, 400, "the collection is required");
    assert_eq!(call(addr, "DELETE", "/v1/cache?collection=nope", None).status, 404);
    assert_eq!(call(addr, "DELETE", "/v1/cache?collection=docs", None).status, 204);
    assert_eq!(call(addr, "GET", "/v1/collections/docs/vectors/a?cache=only", None).status, 404, "invalidated");

    let ready = call(addr, "GET", "/readyz", None).json();
    assert_eq!(ready["cache"][0]["layer"], "l1", "{ready}");
    assert!(server.terminate());
}

#[test]
fn bad_cache_settings_stop_the_server_at_start() {
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("proximadb.toml");
    for (text, named) in [("[cache]\nl1_max_bytes = 0\n", "l1_max_bytes"), ("[cache]\nbackplane = true\n", "redis_url")]
    {
        std::fs::write(&config, text).unwrap();
        let out = std::process::Command::new(BIN)
            .args(["serve", "--bind", "127.0.0.1:0", "--data-dir"])
            .arg(dir.path().join("data"))
            .arg("--config")
            .arg(&config)
            .output()
            .unwrap();
        assert!(!out.status.success());
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(stderr.contains(named), "{text}: {stderr}");
    }
}
