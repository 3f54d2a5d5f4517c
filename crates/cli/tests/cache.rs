//! The answer cache through the real binary: a repeated search is answered
//! by L1, a write makes it unreachable before it is acknowledged, `only`
//! says it missed, `GET /v1/cache` reports each layer, `DELETE /v1/cache`
//! invalidates a collection, bad cache settings stop the server at start, and
//! a Redis L2 that dies mid-run leaves searches answered and is used again
//! when it comes back.

use proxima_tests::http::{self, Response};
use proxima_tests::server::ServerProcess;
use serde_json::{Value, json};

const BIN: &str = env!("CARGO_BIN_EXE_proximadb");

fn call(addr: &str, method: &str, path: &str, body: Option<Value>) -> Response {
    http::json(addr, method, path, body.as_ref())
}

/// `docs` (3-d, Euclidean) holding `a` and `b`.
fn create_docs(addr: &str) {
    let r = call(addr, "POST", "/v1/collections", Some(json!({"name": "docs", "dimension": 3, "metric": "euclidean"})));
    assert_eq!(r.status, 201, "{}", r.body);
    let vectors = json!({"vectors": [{"id": "a", "vector": [1.0, 0.0, 0.0]}, {"id": "b", "vector": [0.0, 1.0, 0.0]}]});
    assert_eq!(call(addr, "POST", "/v1/collections/docs/vectors", Some(vectors)).status, 200);
}

#[test]
fn searches_and_reads_through_the_cache() {
    let dir = tempfile::tempdir().unwrap();
    let server = ServerProcess::start(BIN, dir.path(), &[], &[]);
    let addr = server.addr.as_str();
    create_docs(addr);

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

/// Searches the query until `answered` says the answer came from `layer`; false after 10 s.
fn answered_by(addr: &str, query: &Value, layer: Option<&str>) -> bool {
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
    while std::time::Instant::now() < deadline {
        let r = call(addr, "POST", "/v1/collections/docs/search", Some(query.clone()));
        assert_eq!(r.status, 200, "{}", r.body);
        if r.json()["performance"]["cache"]["answered_by"].as_str() == layer {
            return true;
        }
        std::thread::sleep(std::time::Duration::from_millis(200));
    }
    false
}

#[test]
fn a_redis_that_dies_leaves_searches_answered_and_is_used_again_when_it_returns() {
    let Some(redis_server) = proxima_tests::service_var("PROXIMA_TEST_REDIS_SERVER") else { return };
    let mut redis = proxima_tests::redis::RedisProcess::start(&redis_server);
    let dir = tempfile::tempdir().unwrap();
    let url = redis.url();
    // L1 forgets after a second, so that repeats reach L2.
    let env = [("PROXIMADB_CACHE_REDIS_URL", url.as_str()), ("PROXIMADB_CACHE_L1_TTL_SECONDS", "1")];
    let server = ServerProcess::start(BIN, dir.path(), &[], &env);
    let addr = server.addr.as_str();
    create_docs(addr);
    let query = json!({"vector": [0.9, 0.1, 0.0], "k": 1});
    let computed = call(addr, "POST", "/v1/collections/docs/search", Some(query.clone())).json();
    std::thread::sleep(std::time::Duration::from_millis(1_100));
    assert!(answered_by(addr, &query, Some("l2")), "L2 never answered once L1 forgot");

    redis.stop();
    std::thread::sleep(std::time::Duration::from_millis(1_100));
    let started = std::time::Instant::now();
    let r = call(addr, "POST", "/v1/collections/docs/search", Some(query.clone()));
    assert_eq!(r.status, 200, "a dead L2 is a miss, not an error: {}", r.body);
    assert_eq!(r.json()["hits"], computed["hits"]);
    assert!(started.elapsed() < std::time::Duration::from_secs(2), "bounded by L2's timeout: {:?}", started.elapsed());
    let layers = call(addr, "GET", "/v1/cache", None).json();
    let l2 = layers["layers"].as_array().unwrap().iter().find(|l| l["layer"] == "l2").expect("l2 reported").clone();
    assert_ne!(l2["state"], "healthy", "{layers}");
    assert_eq!(call(addr, "GET", "/readyz", None).status, 200, "the server stays ready without its cache");

    redis.resume();
    assert!(answered_by(addr, &query, Some("l2")), "L2 was not used again after Redis came back");
    assert!(server.terminate());
}
