//! Hybrid queries through the real binary: every new route and each of its
//! statuses (with a check that a refused request changed nothing), and
//! relations and learning events that survive kill -9 once acknowledged.

use proxima_tests::http::{self, Response};
use proxima_tests::server::ServerProcess;
use serde_json::{Value, json};

const BIN: &str = env!("CARGO_BIN_EXE_proximadb");

fn call(addr: &str, method: &str, path: &str, body: Option<Value>) -> Response {
    http::json(addr, method, path, body.as_ref())
}

/// `movies`: 30 records m0..m29 in three genres, each linked to the next two.
fn movies(addr: &str) {
    let config = json!({"name": "movies", "dimension": 3, "metric": "cosine", "index": {"type": "flat"},
        "fields": [{"name": "genre", "type": "string"}]});
    assert_eq!(call(addr, "POST", "/v1/collections", Some(config)).status, 201);
    let genres = ["drama", "comedy", "horror"];
    let vectors: Vec<Value> = (0..30)
        .map(|i| {
            json!({"id": format!("m{i}"), "vector": [1.0, i as f32 / 10.0, (i % 7) as f32 / 7.0],
            "metadata": {"genre": genres[i % 3]}})
        })
        .collect();
    let r = call(addr, "POST", "/v1/collections/movies/vectors", Some(json!({"vectors": vectors})));
    assert_eq!(r.status, 200, "{}", r.body);
    let edges: Vec<Value> = (0..30)
        .flat_map(|i| {
            [1, 2].map(|d| {
                json!({"from": format!("m{i}"), "to": format!("m{}", (i + d) % 30),
                "type": "SIMILAR_TO", "weight": 1.0 / d as f32})
            })
        })
        .collect();
    let r = call(addr, "POST", "/v1/collections/movies/relations", Some(json!({"upsert": edges})));
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(r.json()["upserted"], 60);
}

fn related(addr: &str, id: &str, query: &str) -> Vec<String> {
    let r = call(addr, "GET", &format!("/v1/collections/movies/vectors/{id}/relations{query}"), None);
    assert_eq!(r.status, 200, "{}", r.body);
    r.json()["relations"].as_array().unwrap().iter().map(|n| n["id"].as_str().unwrap().to_string()).collect()
}

#[test]
fn every_hybrid_route_and_its_statuses() {
    let dir = tempfile::tempdir().unwrap();
    let server = ServerProcess::start(BIN, dir.path(), &[], &[]);
    let addr = server.addr.as_str();
    movies(addr);
    assert_eq!(related(addr, "m0", ""), ["m1", "m2"]);
    assert_eq!(related(addr, "m0", "?depth=2&direction=out"), ["m1", "m2", "m3", "m4"]);
    assert_eq!(related(addr, "m0", "?direction=in&types=SIMILAR_TO"), ["m29", "m28"]);

    // Each strategy answers, naming itself, with score components.
    for (body, strategy) in [
        (json!({"vector": [1, 0.5, 0.2], "k": 3}), "vector_only"),
        (json!({"start_ids": ["m5"], "k": 3, "depth": 2}), "graph_only"),
        (json!({"vector": [1, 0.5, 0.2], "start_ids": ["m5"], "k": 3}), "hybrid_parallel"),
        (
            json!({"strategy": "hybrid_sequential", "vector": [1, 0.5, 0.2], "start_ids": ["m5"], "k": 3,
            "include_related": true}),
            "hybrid_sequential",
        ),
    ] {
        let r = call(addr, "POST", "/v1/collections/movies/query", Some(body.clone()));
        assert_eq!(r.status, 200, "{body}: {}", r.body);
        let answer = r.json();
        assert_eq!(answer["strategy"], strategy, "{answer}");
        assert_eq!(answer["hits"].as_array().unwrap().len(), 3, "{answer}");
        assert!(answer["reason"].as_str().is_some_and(|r| !r.is_empty()));
        assert!(answer["legs"].as_array().unwrap().iter().any(|l| l["name"] == "plan"));
        assert!(answer["hits"][0]["components"].is_object());
    }
    let only = json!({"strategy": "cached_only", "vector": [1, 0.5, 0.2], "start_ids": ["m5"], "k": 3});
    let cached = call(addr, "POST", "/v1/collections/movies/query", Some(only)).json();
    assert_eq!(cached["strategy"], "cached_only");
    assert!(cached.get("cache_miss").is_none(), "{cached}");
    let plan = call(
        addr,
        "POST",
        "/v1/collections/movies/query-estimate",
        Some(json!({"vector": [1, 0.5, 0.2], "start_ids": ["m5"], "k": 3, "budget_ms": 1000})),
    );
    assert_eq!(plan.status, 200, "{}", plan.body);
    assert!(plan.json()["candidates"].as_array().unwrap().len() == 3, "{}", plan.body);
    let estimate =
        call(addr, "POST", "/v1/collections/movies/query-estimate", Some(json!({"vector": [1, 0, 0], "k": 3})));
    assert_eq!(estimate.status, 200, "a plain search still gets its estimate: {}", estimate.body);
    assert!(estimate.json().get("candidates").is_none());

    // Users: a neutral profile, a policy, events that teach it.
    let neutral = call(addr, "GET", "/v1/users/ann/policy", None);
    assert_eq!((neutral.status, neutral.json()["version"].clone()), (200, json!(0)));
    let policy = json!({"preferences": [{"field": "genre", "value": "comedy", "boost": 0.5}], "blend": 0.4});
    let r = call(addr, "PUT", "/v1/users/ann/policy", Some(policy));
    assert_eq!(r.status, 200, "{}", r.body);
    let events = json!({"collection": "movies", "events": [{"id": "m3", "event": "like"}, {"id": "m4", "event": "dwell", "value": 40}]});
    let r = call(addr, "POST", "/v1/users/ann/events", Some(events));
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(r.json()["liked"]["movies"], json!(["m3"]));
    let r = call(addr, "POST", "/v1/collections/movies/query", Some(json!({"user": "ann", "k": 3})));
    assert_eq!((r.status, r.json()["strategy"].clone()), (200, json!("graph_only")), "{}", r.body);

    // Bad input: a 4xx naming the problem, and nothing changed.
    let edges_before = related(addr, "m0", "?depth=3&fan_out=64");
    let profile_before = call(addr, "GET", "/v1/users/ann/policy", None).json();
    for (method, path, body, status, needle) in [
        ("POST", "/v1/collections/movies/query", json!({"strategy": "fastest", "k": 3}), 422, "strategy"),
        ("POST", "/v1/collections/movies/query", json!({"start_ids": ["m1"], "depth": 4}), 400, "depth"),
        ("POST", "/v1/collections/movies/query", json!({"start_ids": ["m1"], "fan_out": 1000}), 400, "fan_out"),
        ("POST", "/v1/collections/movies/query", json!({"start_ids": ["ghost"]}), 404, "ghost"),
        ("POST", "/v1/collections/movies/query", json!({"k": 3}), 400, "empty query"),
        (
            "POST",
            "/v1/collections/movies/query",
            json!({"direction": "sideways", "start_ids": ["m1"]}),
            422,
            "sideways",
        ),
        ("POST", "/v1/collections/nope/query", json!({"start_ids": ["m1"]}), 404, "nope"),
        (
            "POST",
            "/v1/collections/movies/relations",
            json!({"upsert": [{"from": "m1", "to": "m2", "type": "T", "weight": 2}]}),
            400,
            "weight",
        ),
        (
            "POST",
            "/v1/collections/movies/relations",
            json!({"upsert": [{"from": "m1", "to": "m1", "type": "T"}]}),
            400,
            "itself",
        ),
        ("POST", "/v1/collections/movies/relations", json!({"upsert": [], "bogus": 1}), 422, "bogus"),
        (
            "PUT",
            "/v1/users/ann/policy",
            json!({"preferences": [{"field": "mood", "value": "x", "boost": 0.1}]}),
            400,
            "mood",
        ),
        (
            "PUT",
            "/v1/users/ann/policy",
            json!({"preferences": [{"field": "genre", "value": 1, "boost": 0.1}]}),
            400,
            "declared",
        ),
        ("PUT", "/v1/users/ann/policy", json!({"blend": 3}), 400, "blend"),
        ("PUT", "/v1/users/bad%20name/policy", json!({}), 400, "user"),
        (
            "POST",
            "/v1/users/ann/events",
            json!({"collection": "movies", "events": [{"id": "m1", "event": "like"}, {"id": "ghost", "event": "like"}]}),
            404,
            "ghost",
        ),
        (
            "POST",
            "/v1/users/ann/events",
            json!({"collection": "movies", "events": [{"id": "m1", "event": "dwell"}]}),
            400,
            "dwell",
        ),
        ("POST", "/v1/users/ann/events", json!({"collection": "movies", "events": []}), 400, "events"),
    ] {
        let r = call(addr, method, path, Some(body.clone()));
        assert_eq!(r.status, status, "{method} {path} {body}: {}", r.body);
        assert!(r.body.contains(needle), "{method} {path} {body}: {}", r.body);
    }
    for (query, needle) in
        [("?depth=0", "depth"), ("?direction=up", "up"), ("?types=a%20b", "relation type"), ("?bogus=1", "bogus")]
    {
        let r = call(addr, "GET", &format!("/v1/collections/movies/vectors/m0/relations{query}"), None);
        assert_eq!(r.status, 400, "{query}: {}", r.body);
        assert!(r.body.contains(needle), "{query}: {}", r.body);
    }
    let r = call(addr, "GET", "/v1/collections/movies/vectors/ghost/relations", None);
    assert_eq!(r.status, 404, "{}", r.body);
    let missing = json!({"upsert": [{"from": "m1", "to": "ghost", "type": "T"}]});
    let r = call(addr, "POST", "/v1/collections/movies/relations", Some(missing));
    assert_eq!((r.status, r.json()["errors"][0]["index"].clone()), (200, json!(0)), "{}", r.body);
    assert_eq!(related(addr, "m0", "?depth=3&fan_out=64"), edges_before, "no refused change reached the edges");
    assert_eq!(call(addr, "GET", "/v1/users/ann/policy", None).json(), profile_before, "nor the profile");

    let metrics = call(addr, "GET", "/metrics", None).body;
    for strategy in ["vector_only", "graph_only", "hybrid_parallel", "hybrid_sequential", "cached_only"] {
        assert!(
            metrics.contains(&format!("proximadb_query_total{{strategy=\"{strategy}\"}}")),
            "{strategy}: {metrics}"
        );
    }
}

#[test]
fn acknowledged_relations_and_events_survive_kill_9() {
    let dir = tempfile::tempdir().unwrap();
    let server = ServerProcess::start(BIN, dir.path(), &[], &[]);
    movies(&server.addr);
    for i in 0..20 {
        let edge =
            json!({"upsert": [{"from": format!("m{i}"), "to": format!("m{}", (i + 10) % 30), "type": "SEQUEL_OF"}]});
        assert_eq!(call(&server.addr, "POST", "/v1/collections/movies/relations", Some(edge)).status, 200);
        let like = json!({"collection": "movies", "events": [{"id": format!("m{i}"), "event": "like"}]});
        assert_eq!(call(&server.addr, "POST", "/v1/users/zed/events", Some(like)).status, 200);
    }
    let before = call(&server.addr, "GET", "/v1/users/zed/policy", None).json();
    server.kill_hard();
    let server = ServerProcess::start(BIN, dir.path(), &[], &[]);
    for i in 0..20 {
        let reached = related(&server.addr, &format!("m{i}"), "?types=SEQUEL_OF");
        assert_eq!(reached, [format!("m{}", (i + 10) % 30)], "edge {i} was acknowledged before kill -9");
    }
    assert_eq!(call(&server.addr, "GET", "/v1/users/zed/policy", None).json(), before);
    assert_eq!(before["events"], 20);
}

#[test]
fn relations_in_postgresql_through_the_binary() {
    let Some(url) = proxima_tests::service_url("POSTGRES") else { return };
    let nanos = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_nanos();
    let relations = format!("{url}?table_prefix=bin{}_{nanos}_", std::process::id());
    let dir = tempfile::tempdir().unwrap();
    let env = [("PROXIMADB_RELATIONS_URL", relations.as_str())];
    let server = ServerProcess::start(BIN, dir.path(), &[], &env);
    movies(&server.addr);
    let like = json!({"collection": "movies", "events": [{"id": "m7", "event": "like"}]});
    assert_eq!(call(&server.addr, "POST", "/v1/users/pg/events", Some(like)).status, 200);
    server.kill_hard();
    // The embedded store under the data directory never saw these edges.
    let embedded = ServerProcess::start(BIN, dir.path(), &[], &[]);
    assert!(related(&embedded.addr, "m0", "").is_empty());
    embedded.kill_hard();
    let server = ServerProcess::start(BIN, dir.path(), &[], &env);
    assert_eq!(related(&server.addr, "m0", ""), ["m1", "m2"]);
    let answer = call(&server.addr, "POST", "/v1/collections/movies/query", Some(json!({"user": "pg", "k": 2}))).json();
    let ids: Vec<&str> = answer["hits"].as_array().unwrap().iter().map(|h| h["id"].as_str().unwrap()).collect();
    assert_eq!(ids, ["m8", "m9"], "{answer}");
}
