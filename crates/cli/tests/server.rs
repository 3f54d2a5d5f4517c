//! The real `proximadb` binary over HTTP: lifecycle, every error status with a
//! check that nothing changed, kill -9 durability, and the README's quick start.

use proxima_tests::http::{self, Response};
use proxima_tests::server::ServerProcess;
use serde_json::{Value, json};

const BIN: &str = env!("CARGO_BIN_EXE_proximadb");

fn start(dir: &std::path::Path) -> ServerProcess {
    ServerProcess::start(BIN, dir, &[], &[])
}

fn call(addr: &str, method: &str, path: &str, body: Option<Value>) -> Response {
    http::json(addr, method, path, body.as_ref())
}

fn create_docs(addr: &str) {
    let config = json!({"name": "docs", "dimension": 4, "metric": "cosine",
        "fields": [{"name": "year", "type": "int"}], "index": {"type": "hnsw", "m": 8, "ef_construction": 64}});
    let r = call(addr, "POST", "/v1/collections", Some(config));
    assert_eq!(r.status, 201, "{}", r.body);
}

/// Runs `serve` with `config`; it must refuse to start. Returns what it said.
fn refused_at_start(config: &std::path::Path, data_dir: &std::path::Path) -> String {
    let out = std::process::Command::new(BIN)
        .args(["serve", "--bind", "127.0.0.1:0", "--config"])
        .arg(config)
        .arg("--data-dir")
        .arg(data_dir)
        .output()
        .unwrap();
    assert!(!out.status.success(), "the server started with {}", config.display());
    String::from_utf8_lossy(&out.stderr).into_owned()
}

fn live_records(addr: &str) -> u64 {
    let r = call(addr, "GET", "/v1/collections/docs", None);
    assert_eq!(r.status, 200, "{}", r.body);
    r.json()["stats"]["live_records"].as_u64().expect("live_records")
}

#[test]
fn lifecycle_over_http() {
    let dir = tempfile::tempdir().unwrap();
    let server = start(dir.path());
    let addr = server.addr.as_str();
    assert_eq!(call(addr, "GET", "/healthz", None).status, 200);
    assert_eq!(call(addr, "GET", "/readyz", None).status, 200);
    create_docs(addr);
    let listed = call(addr, "GET", "/v1/collections", None).json();
    assert_eq!(listed["collections"][0]["name"], "docs");
    let vectors = json!({"vectors": [
        {"id": "a", "vector": [1.0, 0.0, 0.0, 0.0], "metadata": {"year": 2001}},
        {"id": "b", "vector": [0.9, 0.1, 0.0, 0.0], "metadata": {"year": 1999}},
        {"id": "c", "vector": [0.0, 1.0, 0.0, 0.0], "metadata": {"year": 2005}},
    ]});
    let r = call(addr, "POST", "/v1/collections/docs/vectors", Some(vectors));
    assert_eq!((r.status, r.json()["count"].as_u64()), (200, Some(3)), "{}", r.body);
    let got = call(addr, "GET", "/v1/collections/docs/vectors/b", None);
    assert_eq!(got.json()["record"]["metadata"]["year"], 1999, "{}", got.body);

    let query = json!({"vector": [1.0, 0.0, 0.0, 0.0], "k": 2, "include_metadata": true,
        "filter": {"gt": {"field": "year", "value": 2000}}});
    let hits = call(addr, "POST", "/v1/collections/docs/search", Some(query.clone())).json();
    let ids: Vec<&str> = hits["hits"].as_array().unwrap().iter().map(|h| h["id"].as_str().unwrap()).collect();
    assert_eq!(ids, vec!["a", "c"], "{hits}");
    assert_eq!(hits["hits"][0]["metadata"]["year"], 2001);
    assert!(hits["performance"]["distance_computations"].as_u64().unwrap() >= 2);
    // `year` is declared: the payload index answers the filter and counts its rows exactly.
    let plans = hits["performance"]["plans"].as_array().unwrap();
    assert!(plans.iter().all(|p| p["filter"] == "payload_index"), "{hits}");
    assert_eq!(plans.iter().map(|p| p["matching_rows"].as_u64().unwrap()).sum::<u64>(), 2, "{hits}");
    let estimate = call(addr, "POST", "/v1/collections/docs/query-estimate", Some(query)).json();
    assert_eq!(estimate["valid"], true, "{estimate}");
    assert_eq!(estimate["matching_rows"], 2, "{estimate}");
    assert!(estimate["methods"].as_object().is_some_and(|m| !m.is_empty()), "{estimate}");

    assert_eq!(call(addr, "DELETE", "/v1/collections/docs/vectors/a", None).status, 200);
    assert_eq!(call(addr, "GET", "/v1/collections/docs/vectors/a", None).status, 404);
    assert_eq!(call(addr, "POST", "/v1/collections/docs/flush", None).status, 204);
    let compacted = call(addr, "POST", "/v1/collections/docs/compact", None);
    assert_eq!(compacted.status, 200, "{}", compacted.body);
    assert_eq!(live_records(addr), 2);
    assert_eq!(call(addr, "DELETE", "/v1/collections/docs", None).status, 204);
    assert_eq!(call(addr, "GET", "/v1/collections/docs", None).status, 404);
    assert!(server.terminate(), "SIGTERM ends the server cleanly");
}

#[test]
fn bad_requests_get_4xx_and_change_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let server = ServerProcess::start(BIN, dir.path(), &[], &[]);
    let addr = server.addr.as_str();
    create_docs(addr);
    let seed = json!({"vectors": [{"id": "keep", "vector": [1.0, 2.0, 3.0, 4.0], "metadata": {"year": 2000}}]});
    assert_eq!(call(addr, "POST", "/v1/collections/docs/vectors", Some(seed)).status, 200);
    let before = call(addr, "GET", "/v1/collections/docs/vectors/keep", None).body;

    let upsert = "/v1/collections/docs/vectors";
    let search = "/v1/collections/docs/search";
    let cases: Vec<(&str, &str, Value, u16)> = vec![
        // A batch with one bad record is refused whole: "ok" must not appear.
        (
            "POST",
            upsert,
            json!({"vectors": [{"id": "ok", "vector": [1, 1, 1, 1]}, {"id": "bad", "vector": [1, 2, 3]}]}),
            400,
        ),
        ("POST", upsert, json!({"vectors": [{"id": "inf", "vector": [1e39, 0, 0, 0]}]}), 400),
        ("POST", upsert, json!({"vectors": [{"id": "zero", "vector": [0, 0, 0, 0]}]}), 400),
        (
            "POST",
            upsert,
            json!({"vectors": [{"id": "typed", "vector": [1, 0, 0, 0], "metadata": {"year": "old"}}]}),
            400,
        ),
        ("POST", upsert, json!({"vectors": "nope"}), 422),
        ("POST", upsert, json!({"vectors": []}), 400),
        ("POST", "/v1/collections/nope/vectors", json!({"vectors": [{"id": "x", "vector": [1, 0, 0, 0]}]}), 404),
        ("POST", search, json!({"vector": [1, 0, 0], "k": 1}), 400),
        ("POST", search, json!({"vector": [1, 0, 0, 0], "k": 0}), 400),
        ("POST", search, json!({"vector": [1, 0, 0, 0], "k": 1_000_000}), 400),
        ("POST", search, json!({"vector": [1, 0, 0, 0], "k": 1, "timeout_ms": 0}), 400),
        (
            "POST",
            search,
            json!({"vector": [1, 0, 0, 0], "k": 1, "filter": {"eq": {"field": "year", "value": "x"}}}),
            400,
        ),
        ("POST", search, json!({"vector": [1, 0, 0, 0], "k": 1, "filter": {"near": {"field": "year"}}}), 422),
        ("POST", "/v1/collections", json!({"name": "docs", "dimension": 4}), 409),
        ("POST", "/v1/collections", json!({"name": "bad/name", "dimension": 4}), 400),
        ("POST", "/v1/collections", json!({"name": "d0", "dimension": 0}), 400),
        // Settings the engine or index would refuse later are refused at creation.
        (
            "POST",
            "/v1/collections",
            json!({"name": "h0", "dimension": 4, "index": {"type": "hnsw", "m": 0, "ef_construction": 0}}),
            400,
        ),
        (
            "POST",
            "/v1/collections",
            json!({"name": "h1", "dimension": 4, "index": {"type": "hnsw", "m": 16, "ef_construction": 0}}),
            400,
        ),
        ("POST", "/v1/collections", json!({"name": "i0", "dimension": 4, "index": {"type": "ivf", "nlist": 0}}), 400),
        ("POST", "/v1/collections", json!({"name": "f0", "dimension": 4, "fsync": {"interval_ms": 0}}), 400),
        ("POST", "/v1/collections", json!({"name": "t0", "dimension": 4, "default_ttl_secs": 0}), 400),
        ("DELETE", "/v1/collections/docs/vectors/missing", Value::Null, 404),
    ];
    for (method, path, body, status) in cases {
        let body = (!body.is_null()).then_some(body);
        let r = call(addr, method, path, body.clone());
        assert_eq!(r.status, status, "{method} {path} {body:?}: {}", r.body);
        let error = r.json();
        assert!(error["error"]["code"].is_string() && error["error"]["message"].is_string(), "{}", r.body);
    }
    let raw = |headers: &[(&str, &str)], body: &[u8]| http::request(addr, "POST", upsert, headers, Some(body)).unwrap();
    let json_type = [("Content-Type", "application/json")];
    assert_eq!(raw(&json_type, b"{\"vectors\": [").status, 400, "malformed JSON");
    assert_eq!(raw(&json_type, b"{\"vectors\": [{\"id\": \"n\", \"vector\": [NaN, 0, 0, 0]}]}").status, 400, "NaN");
    assert_eq!(raw(&[], b"{}").status, 415, "no content type");
    let huge = format!(
        "{{\"vectors\": [{{\"id\": \"big\", \"vector\": [1,0,0,0], \"metadata\": {{\"blob\": \"{}\"}}}}]}}",
        "x".repeat(70 << 20)
    );
    assert_eq!(raw(&json_type, huge.as_bytes()).status, 413, "oversized body");

    assert_eq!(call(addr, "GET", "/v1/collections/docs/vectors/keep", None).body, before);
    for id in ["ok", "bad", "inf", "zero", "typed", "x", "n", "big"] {
        assert_eq!(call(addr, "GET", &format!("/v1/collections/docs/vectors/{id}"), None).status, 404, "{id}");
    }
    assert_eq!(live_records(addr), 1);
    let names: Vec<String> = call(addr, "GET", "/v1/collections", None).json()["collections"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["name"].as_str().unwrap().to_string())
        .collect();
    assert_eq!(names, vec!["docs"]);
}

#[test]
fn acknowledged_upserts_survive_kill_9() {
    let dir = tempfile::tempdir().unwrap();
    let server = start(dir.path());
    create_docs(&server.addr);
    let mut acked = Vec::new();
    for batch in 0..20 {
        let vectors: Vec<Value> = (0..50)
            .map(|i| json!({"id": format!("v{batch}-{i}"), "vector": [1.0 + i as f32, batch as f32, 1.0, 0.5]}))
            .collect();
        let r = call(&server.addr, "POST", "/v1/collections/docs/vectors", Some(json!({"vectors": vectors})));
        assert_eq!(r.status, 200, "{}", r.body);
        acked.extend((0..50).map(|i| format!("v{batch}-{i}")));
        if batch == 10 {
            assert_eq!(call(&server.addr, "POST", "/v1/collections/docs/flush", None).status, 204);
        }
    }
    server.kill_hard();
    let server = start(dir.path());
    for id in &acked {
        let r = call(&server.addr, "GET", &format!("/v1/collections/docs/vectors/{id}"), None);
        assert_eq!(r.status, 200, "{id} was acknowledged before kill -9 but is gone: {}", r.body);
    }
    assert_eq!(live_records(&server.addr), acked.len() as u64);
}

/// Replays every `curl` line of the README's quick start against a real server.
#[test]
fn readme_quick_start_works() {
    let readme = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/../../README.md")).unwrap();
    let section = readme.split("## Quick start").nth(1).expect("README has a Quick start section");
    let section = section.split("\n## ").next().unwrap();
    let dir = tempfile::tempdir().unwrap();
    let server = start(dir.path());
    let mut last = None;
    let mut replayed = 0;
    for line in section.lines().filter(|l| l.trim_start().starts_with("curl ")) {
        let (method, path, body) = parse_curl(line);
        let r = call(&server.addr, &method, &path, body);
        assert!(r.status < 300, "{line}\n→ {} {}", r.status, r.body);
        last = Some(r.json());
        replayed += 1;
    }
    assert!(replayed >= 3, "the quick start shows create, upsert and search");
    let hits = last.unwrap();
    assert!(!hits["hits"].as_array().expect("the last command is a search").is_empty(), "{hits}");
}

/// `curl -s -X METHOD http://127.0.0.1:5678/PATH [-H ...] [-d 'JSON']` → parts.
fn parse_curl(line: &str) -> (String, String, Option<Value>) {
    let method = line.split("-X ").nth(1).and_then(|s| s.split_whitespace().next()).unwrap_or("GET").to_string();
    let url = line.split_whitespace().find(|w| w.starts_with("http://")).expect("a URL");
    let path = url.splitn(4, '/').nth(3).map(|p| format!("/{p}")).expect("a path");
    let body = line.split("-d '").nth(1).map(|rest| {
        let text = rest.rsplit_once('\'').expect("closing quote").0;
        serde_json::from_str(text).unwrap_or_else(|e| panic!("README body is not JSON ({e}): {text}"))
    });
    (method, path, body)
}

#[test]
fn api_keys_guard_everything_but_healthz() {
    let dir = tempfile::tempdir().unwrap();
    let keys = "reader-key-0123456789:read,writer-key-0123456789:write,admin-key-01234567890:admin";
    let server = ServerProcess::start(BIN, dir.path(), &[], &[("PROXIMADB_API_KEYS", keys)]);
    let addr = server.addr.as_str();
    let with = |key: &str, method: &str, path: &str, body: Option<Value>| {
        let bytes = body.map(|b| serde_json::to_vec(&b).unwrap());
        let auth = format!("Bearer {key}");
        let headers = [("Content-Type", "application/json"), ("Authorization", auth.as_str())];
        http::request(addr, method, path, &headers, bytes.as_deref()).unwrap()
    };
    assert_eq!(call(addr, "GET", "/healthz", None).status, 200, "healthz needs no key");
    assert_eq!(call(addr, "GET", "/v1/collections", None).status, 401, "no key");
    assert_eq!(call(addr, "GET", "/metrics", None).status, 401, "metrics are guarded too");
    assert_eq!(with("reader-key-0123456789x", "GET", "/v1/collections", None).status, 401, "wrong key");
    let config = json!({"name": "docs", "dimension": 2});
    assert_eq!(with("writer-key-0123456789", "POST", "/v1/collections", Some(config.clone())).status, 403);
    assert_eq!(
        with("reader-key-0123456789", "GET", "/v1/collections", None).json()["collections"],
        json!([]),
        "refused creates changed nothing"
    );
    assert_eq!(with("admin-key-01234567890", "POST", "/v1/collections", Some(config)).status, 201);
    let upsert = json!({"vectors": [{"id": "a", "vector": [1, 0]}]});
    assert_eq!(with("reader-key-0123456789", "POST", "/v1/collections/docs/vectors", Some(upsert.clone())).status, 403);
    assert_eq!(with("writer-key-0123456789", "POST", "/v1/collections/docs/vectors", Some(upsert)).status, 200);
    let search = json!({"vector": [1, 0], "k": 1});
    let found = with("reader-key-0123456789", "POST", "/v1/collections/docs/search", Some(search));
    assert_eq!(found.json()["hits"][0]["id"], "a", "{}", found.body);
    let via_header =
        http::request(addr, "GET", "/v1/collections/docs", &[("x-api-key", "reader-key-0123456789")], None).unwrap();
    assert_eq!(via_header.status, 200);
}

#[test]
fn metrics_export_per_route_latency_histograms() {
    let dir = tempfile::tempdir().unwrap();
    let server = start(dir.path());
    let addr = server.addr.as_str();
    create_docs(addr);
    for _ in 0..3 {
        call(addr, "GET", "/v1/collections/docs", None);
    }
    call(addr, "GET", "/v1/collections/missing", None);
    let text = call(addr, "GET", "/metrics", None).body;
    let line = |needle: &str| {
        text.lines().find(|l| l.contains(needle)).unwrap_or_else(|| panic!("no `{needle}` in\n{text}")).to_string()
    };
    let count = line("_count{method=\"GET\",route=\"/v1/collections/{name}\",status=\"200\"}");
    assert!(count.ends_with(" 3"), "{count}");
    line("_count{method=\"GET\",route=\"/v1/collections/{name}\",status=\"404\"}");
    line("_bucket{method=\"POST\",route=\"/v1/collections\",status=\"201\",le=\"+Inf\"} 1");
    assert!(text.contains("# TYPE proximadb_http_request_duration_seconds histogram"));
    assert!(!text.contains("route=\"/v1/collections/docs\""), "raw paths never become labels");
    // Two reads of one record: L1 missed the first and answered the second.
    call(addr, "POST", "/v1/collections/docs/vectors", Some(json!({"vectors": [{"id": "m", "vector": [1, 2, 3, 4]}]})));
    call(addr, "GET", "/v1/collections/docs/vectors/m", None);
    call(addr, "GET", "/v1/collections/docs/vectors/m", None);
    let text = call(addr, "GET", "/metrics", None).body;
    assert!(text.contains("proximadb_cache_hits_total{layer=\"l1\"} 1"), "{text}");
    assert!(text.contains("proximadb_cache_misses_total{layer=\"l1\"} 1"), "{text}");
}

#[test]
fn batch_execute_snapshots_and_analytics_over_http() {
    let dir = tempfile::tempdir().unwrap();
    let server = start(dir.path());
    let addr = server.addr.as_str();
    create_docs(addr);
    let ops = json!({"operations": [
        {"upsert": {"id": "a", "vector": [1, 0, 0, 0], "metadata": {"year": 2001}}},
        {"upsert": {"id": "b", "vector": [1, 0]}},
        {"restore": {"id": "a"}},
        {"upsert": {"id": "c", "vector": [0, 1, 0, 0]}},
    ]});
    let result = call(addr, "POST", "/v1/collections/docs/batch-execute", Some(ops)).json();
    assert_eq!((result["succeeded"].as_u64(), result["failed"].as_u64()), (Some(2), Some(2)), "{result}");
    let indexes: Vec<u64> = result["errors"].as_array().unwrap().iter().map(|e| e["index"].as_u64().unwrap()).collect();
    assert_eq!(indexes, vec![1, 2]);

    let snap = call(addr, "POST", "/v1/collections/docs/snapshots", Some(json!({"name": "s1"})));
    assert_eq!(snap.status, 201, "{}", snap.body);
    assert_eq!(snap.json()["records"], 2);
    call(addr, "DELETE", "/v1/collections/docs/vectors/a", None);
    call(
        addr,
        "POST",
        "/v1/collections/docs/vectors",
        Some(json!({"vectors": [{"id": "late", "vector": [0, 0, 1, 0]}]})),
    );
    let listed = call(addr, "GET", "/v1/collections/docs/snapshots", None).json();
    assert_eq!(listed["snapshots"][0]["name"], "s1");
    let restored = call(addr, "POST", "/v1/collections/docs/snapshots/s1/restore", None);
    assert_eq!(restored.status, 200, "{}", restored.body);
    assert_eq!(call(addr, "GET", "/v1/collections/docs/vectors/a", None).status, 200);
    assert_eq!(call(addr, "GET", "/v1/collections/docs/vectors/late", None).status, 404);
    let copy = call(addr, "POST", "/v1/collections/docs/snapshots/s1/restore", Some(json!({"target": "docs-copy"})));
    assert_eq!(copy.json()["restored_into"], "docs-copy", "{}", copy.body);
    assert_eq!(call(addr, "GET", "/v1/collections/docs-copy/vectors/c", None).status, 200);
    assert_eq!(call(addr, "DELETE", "/v1/collections/docs/snapshots/s1", None).status, 204);
    assert_eq!(call(addr, "DELETE", "/v1/collections/docs/snapshots/s1", None).status, 404);

    // Computed searches (a cached answer is counted as `search_cached`).
    for _ in 0..3 {
        call(
            addr,
            "POST",
            "/v1/collections/docs/search",
            Some(json!({"vector": [1, 0, 0, 0], "k": 1, "cache": "bypass"})),
        );
    }
    call(addr, "POST", "/v1/collections/docs/search", Some(json!({"vector": [0, 1, 0, 0], "k": 1})));
    call(addr, "POST", "/v1/collections/docs/search", Some(json!({"vector": [0, 1, 0, 0], "k": 1})));
    let analytics = call(addr, "GET", "/v1/analytics?collection=docs", None).json();
    let search = &analytics["collections"]["docs"]["search"];
    assert_eq!(search["count"], 4, "three bypassing the cache, one missing it: {analytics}");
    assert!(search["p99_ms"].as_f64().unwrap() >= search["p50_ms"].as_f64().unwrap());
    assert!(analytics["engines"]["viper"]["search"]["count"].as_u64().unwrap() >= 3);
    assert_eq!(analytics["collections"]["docs"]["search_cached"]["count"], 1, "{analytics}");
    assert_eq!(call(addr, "GET", "/v1/analytics?collection=nope", None).status, 404);
}

#[test]
fn openapi_document_describes_every_route_with_schemas_from_the_types() {
    let dir = tempfile::tempdir().unwrap();
    let server = start(dir.path());
    let doc = call(&server.addr, "GET", "/openapi.json", None).json();
    assert_eq!(doc["openapi"], "3.1.0");
    let paths = doc["paths"].as_object().unwrap();
    for (path, method) in [
        ("/v1/collections", "post"),
        ("/v1/collections/{name}/vectors", "post"),
        ("/v1/collections/{name}/search", "post"),
        ("/v1/collections/{name}/query-estimate", "post"),
        ("/v1/collections/{name}/batch-execute", "post"),
        ("/v1/collections/{name}/snapshots/{snapshot}/restore", "post"),
        ("/v1/analytics", "get"),
        ("/v1/cache", "get"),
        ("/v1/cache", "delete"),
        ("/v1/collections/{name}/query", "post"),
        ("/v1/collections/{name}/relations", "post"),
        ("/v1/collections/{name}/vectors/{id}/relations", "get"),
        ("/v1/users/{user}/policy", "put"),
        ("/v1/users/{user}/events", "post"),
    ] {
        assert!(paths[path][method].is_object(), "{method} {path} missing");
    }
    let schemas = doc["components"]["schemas"].as_object().unwrap();
    for name in [
        "CollectionConfig",
        "SearchRequest",
        "Filter",
        "VectorRecord",
        "SearchAnswer",
        "WriteOp",
        "BatchResult",
        "LayerReport",
        "QueryRequest",
        "QueryResponse",
        "UserPolicy",
        "Edge",
    ] {
        assert!(schemas.contains_key(name), "schema {name} missing: {:?}", schemas.keys().collect::<Vec<_>>());
    }
    // The schema follows the type: SearchRequest's fields, with k required.
    let search = &schemas["SearchRequest"];
    assert!(search["properties"]["filter"].is_object() && search["properties"]["accuracy"].is_object(), "{search}");
    assert!(search["required"].as_array().unwrap().contains(&json!("k")));
    // Every documented path answers something other than the router's 404 for unknown routes.
    for (path, item) in paths {
        let concrete = path.replace("{name}", "nope").replace("{id}", "x").replace("{snapshot}", "s");
        for method in item.as_object().unwrap().keys() {
            let r = call(&server.addr, &method.to_uppercase(), &concrete, None);
            let routed = r.status != 404 || r.json()["error"].is_object();
            assert!(routed, "{method} {path} is documented but not routed");
        }
    }
}

/// With `[storage] engines` naming LSM and mmap, collections placed on each
/// take writes and searches over HTTP and keep acknowledged writes across kill -9.
#[test]
fn lsm_and_mmap_collections_over_http_survive_kill_9() {
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("proximadb.toml");
    std::fs::write(&config, "[storage]\nengines = [\"viper\", \"lsm\", \"mmap\"]\n").unwrap();
    let config = config.to_string_lossy().into_owned();
    let server = ServerProcess::start(BIN, &dir.path().join("data"), &["--config", &config], &[]);
    for engine in ["lsm", "mmap"] {
        let r = call(
            &server.addr,
            "POST",
            "/v1/collections",
            Some(json!({"name": engine, "dimension": 3, "metric": "euclidean", "engine": engine})),
        );
        assert_eq!(r.status, 201, "{}", r.body);
        let vectors: Vec<Value> =
            (0..40).map(|i| json!({"id": format!("{engine}{i}"), "vector": [i as f32, 1.0, 0.0]})).collect();
        let r =
            call(&server.addr, "POST", &format!("/v1/collections/{engine}/vectors"), Some(json!({"vectors": vectors})));
        assert_eq!(r.status, 200, "{}", r.body);
    }
    server.kill_hard();
    let server = ServerProcess::start(BIN, &dir.path().join("data"), &["--config", &config], &[]);
    for engine in ["lsm", "mmap"] {
        let r = call(&server.addr, "GET", &format!("/v1/collections/{engine}"), None);
        assert_eq!(r.status, 200, "{}", r.body);
        assert_eq!(r.json()["stats"]["live_records"], 40, "{engine}: {}", r.body);
        assert_eq!(r.json()["config"]["engine"], engine, "{}", r.body);
        let r = call(
            &server.addr,
            "POST",
            &format!("/v1/collections/{engine}/search"),
            Some(json!({"vector": [7.2, 1.0, 0.0], "k": 2})),
        );
        assert_eq!(r.status, 200, "{}", r.body);
        let hits = r.json()["hits"].clone();
        let ids: Vec<&str> = hits.as_array().unwrap().iter().map(|h| h["id"].as_str().unwrap()).collect();
        assert_eq!(ids, [format!("{engine}7"), format!("{engine}8")], "{engine}");
    }
}

#[test]
fn catalogue_descriptions_listing_and_engines_over_http() {
    let dir = tempfile::tempdir().unwrap();
    let server = start(dir.path());
    let addr = server.addr.as_str();
    create_docs(addr);
    assert_eq!(call(addr, "POST", "/v1/collections", Some(json!({"name": "images", "dimension": 8}))).status, 201);
    let engines = call(addr, "GET", "/v1/engines", None).json();
    let viper = engines["engines"].as_array().unwrap().iter().find(|e| e["name"] == "viper").expect("viper").clone();
    assert_eq!((viper["default"].clone(), viper["collections"].clone()), (json!(true), json!(["docs", "images"])));
    assert_eq!(viper["capabilities"]["persistent"], true);

    let listed = |query: &str| -> Vec<String> {
        let r = call(addr, "GET", &format!("/v1/collections{query}"), None);
        assert_eq!(r.status, 200, "{query}: {}", r.body);
        r.json()["collections"].as_array().unwrap().iter().map(|c| c["name"].as_str().unwrap().to_string()).collect()
    };
    let version = call(addr, "GET", "/v1/collections?prefix=docs", None).json()["collections"][0]["version"].clone();
    let patch = json!({"description": "news articles", "tags": ["text", "prod"], "owner": "ann",
        "access_pattern": "hot", "version": version});
    let r = call(addr, "PATCH", "/v1/collections/docs", Some(patch.clone()));
    assert_eq!(r.status, 200, "{}", r.body);
    let described = r.json();
    assert_eq!((described["owner"].clone(), described["access_pattern"].clone()), (json!("ann"), json!("hot")));
    assert_eq!(described["dimension"], 4, "the config is flattened beside the description");
    let before = call(addr, "GET", "/v1/collections?prefix=docs", None).body;
    for (body, status, needle) in [
        (patch.clone(), 409, "version"),
        (json!({"access_pattern": "lukewarm", "version": described["version"]}), 400, "lukewarm"),
        (json!({"tags": [""], "version": described["version"]}), 400, "tag"),
        (json!({"colour": "red", "version": described["version"]}), 422, "colour"),
        (json!({"owner": "bob"}), 422, "version"),
    ] {
        let r = call(addr, "PATCH", "/v1/collections/docs", Some(body.clone()));
        assert_eq!(r.status, status, "{body}: {}", r.body);
        assert!(r.body.contains(needle), "{body}: {}", r.body);
    }
    assert_eq!(call(addr, "PATCH", "/v1/collections/nope", Some(json!({"version": 1}))).status, 404);
    assert_eq!(call(addr, "GET", "/v1/collections?prefix=docs", None).body, before, "refused changes change nothing");

    assert_eq!(listed("?tag=prod"), ["docs"]);
    assert_eq!(listed("?tag=prod,text"), ["docs"]);
    assert!(listed("?tag=prod,video").is_empty());
    assert_eq!(listed("?owner=ann"), ["docs"]);
    assert_eq!(listed("?prefix=im"), ["images"]);
    assert_eq!(listed("?q=news"), ["docs"]);
    let first = call(addr, "GET", "/v1/collections?limit=1", None).json();
    let cursor = first["next_cursor"].as_str().expect("a second page").to_string();
    assert_eq!(listed(&format!("?limit=1&cursor={cursor}")), ["images"]);
    for bad in ["?limit=0", "?bogus=1"] {
        assert_eq!(call(addr, "GET", &format!("/v1/collections{bad}"), None).status, 400, "{bad}");
    }
}

#[test]
fn moves_rebalance_and_routing_from_the_config() {
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("proximadb.toml");
    let routing = "[storage]\nengines = [\"viper\", \"lsm\"]\n\n[routing]\nrules = [{ priority = 1, condition = { dimension_range = { min = 8, max = 8 } }, engine = \"lsm\" }]\n";
    std::fs::write(&config, routing).unwrap();
    let config = config.to_string_lossy().into_owned();
    let server = ServerProcess::start(BIN, &dir.path().join("data"), &["--config", &config], &[]);
    let addr = server.addr.as_str();
    let engine_of = |name: &str| -> String {
        let engines = call(addr, "GET", "/v1/engines", None).json();
        let holder = engines["engines"]
            .as_array()
            .unwrap()
            .iter()
            .find(|e| e["collections"].as_array().unwrap().iter().any(|c| c == name));
        holder.map(|e| e["name"].as_str().unwrap().to_string()).unwrap_or_default()
    };
    assert_eq!(call(addr, "POST", "/v1/collections", Some(json!({"name": "wide", "dimension": 8}))).status, 201);
    assert_eq!(engine_of("wide"), "lsm", "the configured rule placed it");
    assert_eq!(call(addr, "POST", "/v1/collections", Some(json!({"name": "a", "dimension": 4}))).status, 201);
    let vectors: Vec<Value> =
        (0..50).map(|i| json!({"id": format!("v{i}"), "vector": [1.0, i as f32, 0.5, 0.1]})).collect();
    assert_eq!(call(addr, "POST", "/v1/collections/a/vectors", Some(json!({"vectors": vectors}))).status, 200);

    let dry = call(addr, "POST", "/v1/collections/a/move", Some(json!({"to": "lsm", "dry_run": true})));
    assert_eq!(dry.status, 200, "{}", dry.body);
    assert_eq!((dry.json()["records"].clone(), dry.json()["dry_run"].clone()), (json!(50), json!(true)));
    assert_eq!(engine_of("a"), "viper", "a dry run moves nothing");
    let moved = call(addr, "POST", "/v1/collections/a/move", Some(json!({"to": "lsm"})));
    assert_eq!(moved.status, 200, "{}", moved.body);
    assert_eq!(moved.json()["from"], "viper");
    assert!(moved.json()["spot_checked"].as_u64().unwrap() > 0, "{}", moved.body);
    assert_eq!(engine_of("a"), "lsm");
    assert_eq!(call(addr, "GET", "/v1/collections/a/vectors/v7", None).status, 200);
    for (path, body, status) in [
        ("/v1/collections/a/move", json!({"to": "nosuch"}), 400),
        ("/v1/collections/nope/move", json!({"to": "lsm"}), 404),
        ("/v1/collections/a/move", json!({"dry_run": true}), 422),
    ] {
        let r = call(addr, "POST", path, Some(body.clone()));
        assert_eq!(r.status, status, "{path} {body}: {}", r.body);
    }
    assert_eq!(engine_of("a"), "lsm", "refused moves change nothing");
    // Rebalancing applies the rules to what exists: `a` (no rule) goes home to the default engine.
    let r = call(addr, "POST", "/v1/rebalance", None);
    assert_eq!(r.status, 200, "{}", r.body);
    let moves: Vec<(String, String)> = r.json()["moves"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| (m["collection"].as_str().unwrap().to_string(), m["to"].as_str().unwrap().to_string()))
        .collect();
    assert_eq!(moves, [("a".to_string(), "viper".to_string())]);
    assert_eq!(engine_of("a"), "viper");
    drop(server);

    // A rule naming an engine that is not open stops the server at start-up.
    let bad = dir.path().join("bad.toml");
    std::fs::write(
        &bad,
        "[routing]\nrules = [{ priority = 1, condition = { size_at_least = 1 }, engine = \"mmap\" }]\n",
    )
    .unwrap();
    let said = refused_at_start(&bad, &dir.path().join("other"));
    assert!(said.contains("`mmap`"), "{said}");
}

#[test]
fn engine_parameters_in_the_config_reach_the_engines() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let config = dir.path().join("proximadb.toml");
    let roots = format!(
        "[storage]\nengines = [\"viper\", \"lsm\", \"mmap\"]\n\n[storage.roots]\nlsm = \"{0}/lsm?memtable_bytes=2048&l0_compaction_trigger=1000&l0_stall_runs=1000\"\nmmap = \"{0}/mmap?checkpoint_ops=1000\"\n",
        dir.path().display()
    );
    std::fs::write(&config, roots).unwrap();
    let config = config.to_string_lossy().into_owned();
    let server = ServerProcess::start(BIN, &data, &["--config", &config], &[]);
    let r =
        call(&server.addr, "POST", "/v1/collections", Some(json!({"name": "tiny", "dimension": 3, "engine": "lsm"})));
    assert_eq!(r.status, 201, "{}", r.body);
    for batch in 0..10 {
        let vectors: Vec<Value> =
            (0..20).map(|i| json!({"id": format!("r{batch}-{i}"), "vector": [1.0, i as f32, batch as f32]})).collect();
        assert_eq!(
            call(&server.addr, "POST", "/v1/collections/tiny/vectors", Some(json!({"vectors": vectors}))).status,
            200
        );
    }
    // A 2 KiB memtable is written out many times over 200 records; the default (32 MiB) never would be.
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(30);
    loop {
        let segments =
            call(&server.addr, "GET", "/v1/collections/tiny", None).json()["stats"]["segments"].as_u64().unwrap();
        if segments > 2 {
            break;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "memtable_bytes did not reach the LSM engine: {segments} segments"
        );
        std::thread::sleep(std::time::Duration::from_millis(100));
    }
    drop(server);
    // A parameter the engine does not know stops the server, named.
    let bad = dir.path().join("bad.toml");
    std::fs::write(
        &bad,
        format!(
            "[storage]\nengines = [\"viper\", \"mmap\"]\n\n[storage.roots]\nmmap = \"{}/m?checkpoint=5\"\n",
            dir.path().display()
        ),
    )
    .unwrap();
    let said = refused_at_start(&bad, &dir.path().join("other"));
    assert!(said.contains("`checkpoint`"), "{said}");
}

#[test]
fn partitioned_collections_over_http_with_merge_strategies() {
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("proximadb.toml");
    std::fs::write(&config, "[storage]\nengines = [\"viper\", \"lsm\", \"mmap\"]\n").unwrap();
    let config = config.to_string_lossy().into_owned();
    let server = ServerProcess::start(BIN, &dir.path().join("data"), &["--config", &config], &[]);
    let addr = server.addr.as_str();
    let create = json!({"name": "split", "dimension": 3, "metric": "euclidean", "engine": "viper", "partitions": ["viper", "lsm"]});
    let r = call(addr, "POST", "/v1/collections", Some(create));
    assert_eq!(r.status, 201, "{}", r.body);
    let vectors: Vec<Value> = (0..60).map(|i| json!({"id": format!("p{i}"), "vector": [i as f32, 0.0, 1.0]})).collect();
    assert_eq!(call(addr, "POST", "/v1/collections/split/vectors", Some(json!({"vectors": vectors}))).status, 200);
    let engines = call(addr, "GET", "/v1/engines", None).json();
    let holding =
        engines["engines"].as_array().unwrap().iter().filter(|e| e["collections"] == json!(["split"])).count();
    assert_eq!(holding, 2, "both partitions listed: {engines}");
    for merge in [
        json!("max"),
        json!({"reciprocal_rank_fusion": {"k": 60}}),
        json!({"score_weighted": {"weights": {"lsm": 1.0}}}),
    ] {
        let body = json!({"vector": [10.2, 0.0, 1.0], "k": 3, "merge": merge, "engine_timeout_ms": 5000});
        let r = call(addr, "POST", "/v1/collections/split/unified-search", Some(body));
        assert_eq!(r.status, 200, "{merge}: {}", r.body);
        let answer = r.json();
        assert_eq!(answer["partial"], false, "{answer}");
        assert_eq!(answer["engines"].as_array().unwrap().len(), 2);
        assert!(answer["engines"].as_array().unwrap().iter().all(|e| e["status"] == "answered"), "{answer}");
        assert_eq!(answer["hits"].as_array().unwrap().len(), 3, "{answer}");
    }
    let best = call(
        addr,
        "POST",
        "/v1/collections/split/unified-search",
        Some(json!({"vector": [10.2, 0.0, 1.0], "k": 1, "merge": "max"})),
    );
    assert_eq!(best.json()["hits"][0]["id"], "p10");
    let one = call(
        addr,
        "POST",
        "/v1/collections/split/unified-search",
        Some(json!({"vector": [10.2, 0.0, 1.0], "k": 3, "max_engines": 1})),
    );
    assert_eq!(one.json()["partial"], true, "{}", one.body);
    for body in [
        json!({"vector": [1, 0, 1], "k": 3, "max_engines": 0}),
        json!({"vector": [1, 0], "k": 3}),
        json!({"vector": [1, 0, 1], "k": 3, "merge": "median"}),
    ] {
        let r = call(addr, "POST", "/v1/collections/split/unified-search", Some(body.clone()));
        assert!(r.status == 400 || r.status == 422, "{body}: {}", r.body);
    }

    // Snapshots cover every partition.
    assert_eq!(call(addr, "POST", "/v1/collections/split/snapshots", Some(json!({"name": "s1"}))).status, 201);
    assert_eq!(call(addr, "DELETE", "/v1/collections/split/vectors/p10", None).status, 200);
    let r = call(addr, "POST", "/v1/collections/split/snapshots/s1/restore", None);
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(call(addr, "GET", "/v1/collections/split/vectors/p10", None).status, 200);
    assert_eq!(call(addr, "GET", "/v1/collections/split", None).json()["stats"]["live_records"], 60);

    // One partition moves; the other stays.
    for (body, status) in [
        (json!({"to": "mmap"}), 400),
        (json!({"to": "mmap", "from": "nosuch"}), 400),
        (json!({"to": "viper", "from": "lsm"}), 400),
    ] {
        let r = call(addr, "POST", "/v1/collections/split/move", Some(body.clone()));
        assert_eq!(r.status, status, "{body}: {}", r.body);
    }
    let r = call(addr, "POST", "/v1/collections/split/move", Some(json!({"to": "mmap", "from": "lsm"})));
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!((r.json()["from"].clone(), r.json()["to"].clone()), (json!("lsm"), json!("mmap")));
    let engines = call(addr, "GET", "/v1/engines", None).json();
    let holders: Vec<&str> = engines["engines"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|e| e["collections"] == json!(["split"]))
        .map(|e| e["name"].as_str().unwrap())
        .collect();
    assert_eq!(holders, ["mmap", "viper"], "{engines}");
    for i in [0, 1, 2, 33, 59] {
        let r = call(addr, "GET", &format!("/v1/collections/split/vectors/p{i}"), None);
        assert_eq!(r.status, 200, "p{i}: {}", r.body);
    }
}

#[test]
fn fields_declared_on_an_existing_collection_over_http() {
    let dir = tempfile::tempdir().unwrap();
    let server = start(dir.path());
    let addr = server.addr.as_str();
    assert_eq!(call(addr, "POST", "/v1/collections", Some(json!({"name": "docs", "dimension": 4}))).status, 201);
    let vectors = json!({"vectors": [
        {"id": "a", "vector": [1.0, 0.0, 0.0, 0.0], "metadata": {"kind": "cat"}},
        {"id": "b", "vector": [0.0, 1.0, 0.0, 0.0], "metadata": {"kind": 3}},
    ]});
    assert_eq!(call(addr, "POST", "/v1/collections/docs/vectors", Some(vectors)).status, 200);
    let fields = || call(addr, "GET", "/v1/collections/docs", None).json()["config"]["fields"].clone();
    let declare = |body: Value| call(addr, "POST", "/v1/collections/docs/fields", Some(body));
    let kind = json!({"name": "kind", "type": "string"});

    for (body, status, needle) in [
        (kind.clone(), 400, "`b`"),
        (json!({"name": "kind", "type": "date"}), 422, "date"),
        (json!({"name": "kind"}), 422, "type"),
        (json!({"name": "kind", "type": "string", "unique": true}), 422, "unique"),
        (json!({"name": "a..b", "type": "string"}), 400, "dotted path"),
    ] {
        let r = declare(body.clone());
        assert_eq!(r.status, status, "{body}: {}", r.body);
        assert!(r.body.contains(needle), "{body}: {}", r.body);
    }
    assert_eq!(call(addr, "POST", "/v1/collections/nope/fields", Some(kind.clone())).status, 404);
    assert_eq!(fields(), json!([]), "refused declarations change nothing");

    assert_eq!(call(addr, "DELETE", "/v1/collections/docs/vectors/b", None).status, 200);
    let r = declare(kind.clone());
    assert_eq!((r.status, r.json()), (200, json!({"declared": true, "fields": [kind.clone()]})), "{}", r.body);
    assert_eq!(declare(kind.clone()).json()["declared"], false);
    assert_eq!(declare(json!({"name": "kind", "type": "int"})).status, 400);
    let mistyped = json!({"vectors": [{"id": "c", "vector": [0.0, 0.0, 1.0, 0.0], "metadata": {"kind": 5}}]});
    assert_eq!(call(addr, "POST", "/v1/collections/docs/vectors", Some(mistyped)).status, 400);

    server.kill_hard();
    let server = start(dir.path());
    let addr = server.addr.as_str();
    assert_eq!(call(addr, "GET", "/v1/collections/docs", None).json()["config"]["fields"], json!([kind]));
    let search = json!({"vector": [1.0, 0.0, 0.0, 0.0], "k": 5, "filter": {"eq": {"field": "kind", "value": "cat"}}});
    let hits = call(addr, "POST", "/v1/collections/docs/search", Some(search)).json()["hits"].clone();
    assert_eq!(hits.as_array().map(|h| h.iter().map(|h| h["id"].clone()).collect::<Vec<_>>()), Some(vec![json!("a")]));
}

#[test]
fn search_batches_over_http() {
    let dir = tempfile::tempdir().unwrap();
    let server = start(dir.path());
    let addr = server.addr.as_str();
    create_docs(addr);
    let vectors: Vec<Value> =
        (0..50).map(|i| json!({"id": format!("v{i}"), "vector": [1.0 + i as f32, 0.5, i as f32 / 7.0, 1.0]})).collect();
    assert_eq!(call(addr, "POST", "/v1/collections/docs/vectors", Some(json!({"vectors": vectors}))).status, 200);
    let searches: Vec<Value> = (0..5).map(|i| json!({"vector": [1.0, i as f32, 0.5, 0.25], "k": 3})).collect();
    let r = call(addr, "POST", "/v1/collections/docs/search/batch", Some(json!({"searches": searches.clone()})));
    assert_eq!(r.status, 200, "{}", r.body);
    let results = r.json()["results"].clone();
    for (i, search) in searches.iter().enumerate() {
        let single = call(addr, "POST", "/v1/collections/docs/search", Some(search.clone())).json();
        let ids = |hits: &Value| hits.as_array().unwrap().iter().map(|h| h["id"].clone()).collect::<Vec<_>>();
        assert_eq!(ids(&results[i]["hits"]), ids(&single["hits"]), "search {i}");
    }
    let mut bad = searches.clone();
    bad[3]["vector"] = json!([1.0, 2.0]);
    for (body, status, needle) in [
        (json!({"searches": bad}), 400, "search: 3"),
        (json!({"searches": []}), 400, "1 to 10000"),
        (json!({"searches": searches.clone(), "cache": "use"}), 422, "cache"),
    ] {
        let r = call(addr, "POST", "/v1/collections/docs/search/batch", Some(body.clone()));
        assert_eq!(r.status, status, "{body}: {}", r.body);
        assert!(r.body.contains(needle), "{body}: {}", r.body);
    }
    let r = call(addr, "POST", "/v1/collections/nope/search/batch", Some(json!({"searches": searches})));
    assert_eq!(r.status, 404);
}
