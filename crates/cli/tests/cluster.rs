//! Cluster mode with real processes: two `proximadb` nodes over one S3
//! prefix (moto) and one PostgreSQL catalogue, from `cargo xtask services up`.
//! Reads are answered everywhere, writes reach the lease holder however they
//! arrive, and when the holder dies by kill -9 the other node takes over with
//! every acknowledged write.

use std::path::Path;
use std::time::{Duration, Instant};

use proxima_tests::http;
use proxima_tests::server::{ServerProcess, free_port, refused_start};
use proxima_tests::{Proxy, host_port, service_url, service_var};
use serde_json::{Value, json};

const BIN: &str = env!("CARGO_BIN_EXE_proximadb");
const LEASE_MS: u64 = 3_000;
const CONVERGED: Duration = Duration::from_secs(5);

fn unique(what: &str) -> String {
    let nanos = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_nanos();
    format!("{what}{}x{nanos}", std::process::id())
}

/// What the nodes of one cluster share.
struct Shared {
    viper_root: String,
    env: Vec<(String, String)>,
    relations: String,
    /// Extra settings every node gets (a `[cache]` section).
    extra: String,
}

impl Shared {
    /// Followers polling every 100 ms, the answer cache in memory, the
    /// catalogue on PostgreSQL.
    fn new() -> Option<Self> {
        Self::polling_every(100, String::new())
    }

    /// [`Shared::new`] with the catalogue on DynamoDB.
    fn on_dynamodb() -> Option<Self> {
        let endpoint = service_url("DYNAMODB")?;
        let mut shared = Self::new()?;
        let (_, url) = shared.env.iter_mut().find(|(k, _)| k == "PROXIMADB_METADATA_URL").expect("a catalogue URL");
        *url = format!("dynamodb://us-east-1/{}?endpoint={endpoint}", unique("cluster-"));
        Some(shared)
    }

    /// [`Shared::new`] with VIPER flushing every `flush_rows` rows.
    fn flushing_every(flush_rows: usize) -> Option<Self> {
        let mut shared = Self::new()?;
        shared.viper_root.push_str(&format!("&flush_rows={flush_rows}"));
        Some(shared)
    }

    fn polling_every(follow_interval_ms: u64, extra: String) -> Option<Self> {
        let postgres = service_url("POSTGRES")?;
        let s3 = service_url("S3").expect("S3 beside PostgreSQL in the services env");
        let bucket = service_var("PROXIMA_TEST_S3_BUCKET").expect("bucket in the services env");
        let prefix = unique("cluster");
        let mut env: Vec<(String, String)> = ["AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_REGION"]
            .iter()
            .map(|k| (k.to_string(), service_var(k).unwrap_or_else(|| panic!("{k} in the services env"))))
            .collect();
        env.push(("PROXIMADB_METADATA_URL".into(), format!("{postgres}?table_prefix={prefix}_")));
        Some(Self {
            viper_root: format!(
                "s3://{bucket}/{prefix}?endpoint={s3}&log=object&follow=true&follow_interval_ms={follow_interval_ms}"
            ),
            relations: format!("{postgres}?table_prefix={prefix}_rel_"),
            env,
            extra,
        })
    }

    fn config(&self, dir: &Path, cluster: &str) -> String {
        let path = dir.join("proximadb.toml");
        let text = format!(
            "[storage.roots]\nviper = \"{}&wal_dir={}\"\n[relations]\nurl = \"{}\"\n{}\n{cluster}",
            self.viper_root,
            dir.join("wal").display(),
            self.relations,
            self.extra,
        );
        std::fs::write(&path, text).unwrap();
        path.display().to_string()
    }

    fn env(&self) -> Vec<(&str, &str)> {
        self.env.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect()
    }

    /// Node `id` on `port`, its own data directory (which holds nothing the other needs).
    fn start(&self, id: &str, port: u16, dir: &Path) -> ServerProcess {
        self.start_reaching_the_catalogue_at(id, port, dir, None)
    }

    /// [`Shared::start`], the node reaching the catalogue at `catalogue`
    /// (`host:port`, a proxy) instead of directly.
    fn start_reaching_the_catalogue_at(
        &self,
        id: &str,
        port: u16,
        dir: &Path,
        catalogue: Option<&str>,
    ) -> ServerProcess {
        let cluster =
            format!("[cluster]\nnode_id = \"{id}\"\nadvertise = \"http://127.0.0.1:{port}\"\nlease_ms = {LEASE_MS}\n");
        let config = self.config(dir, &cluster);
        let mut env = self.env.clone();
        if let Some(catalogue) = catalogue {
            let (_, url) = env.iter_mut().find(|(k, _)| k == "PROXIMADB_METADATA_URL").expect("a catalogue URL");
            *url = url.replacen(&host_port(url), catalogue, 1);
        }
        let env: Vec<(&str, &str)> = env.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
        ServerProcess::start_on(BIN, &format!("127.0.0.1:{port}"), dir, &["--config", &config], &env)
    }
}

/// A node of its own: the process, its data directory, its port.
struct Node {
    process: ServerProcess,
    _dir: tempfile::TempDir,
}

impl Node {
    fn start(shared: &Shared, id: &str) -> Self {
        let dir = tempfile::tempdir().unwrap();
        Self { process: shared.start(id, free_port(), dir.path()), _dir: dir }
    }

    fn addr(&self) -> &str {
        &self.process.addr
    }
}

/// Writes `ids` one request each through `addr`, retrying a 503 (no writer
/// reachable yet) for up to five leases; every write must end acknowledged.
/// Returns how long that took.
fn write_until_acknowledged(addr: &str, ids: &[String]) -> Duration {
    let started = Instant::now();
    for id in ids {
        let deadline = Instant::now() + Duration::from_millis(LEASE_MS * 5);
        loop {
            let r = upsert(addr, &[id.as_str()]);
            if r.status == 200 {
                break;
            }
            assert_eq!(r.status, 503, "{}", r.body);
            assert!(Instant::now() < deadline, "{id} was never acknowledged through {addr}: {}", r.body);
            std::thread::sleep(Duration::from_millis(100));
        }
    }
    started.elapsed()
}

/// Nodes `a` and `b` of one cluster, and collection `shared`, which `a`
/// created and so writes.
struct Nodes {
    a: ServerProcess,
    b: ServerProcess,
    dir_a: tempfile::TempDir,
    port_a: u16,
    dir_b: tempfile::TempDir,
}

impl Nodes {
    fn start(shared: &Shared) -> Self {
        let (dir_a, dir_b) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
        let (port_a, port_b) = (free_port(), free_port());
        let a = shared.start("a", port_a, dir_a.path());
        let b = shared.start("b", port_b, dir_b.path());
        let config = json!({"name": "shared", "dimension": 3, "index": {"type": "flat"}});
        let r = http::json(&a.addr, "POST", "/v1/collections", Some(&config));
        assert_eq!(r.status, 201, "{}", r.body);
        Self { a, b, dir_a, port_a, dir_b }
    }
}

fn upsert(addr: &str, ids: &[&str]) -> http::Response {
    try_upsert(addr, ids).expect("the node answers")
}

/// An upsert of `ids` into `shared`; `Err` when the node does not answer.
fn try_upsert(addr: &str, ids: &[&str]) -> std::io::Result<http::Response> {
    let json = [("Content-Type", "application/json")];
    http::request(addr, "POST", "/v1/collections/shared/vectors", &json, Some(&body(ids)))
}

/// The ids of `wanted` the node at `addr` has.
fn present(addr: &str, wanted: &[&str]) -> Vec<String> {
    wanted
        .iter()
        .filter(|id| http::json(addr, "GET", &format!("/v1/collections/shared/vectors/{id}"), None).status == 200)
        .map(|id| id.to_string())
        .collect()
}

/// Waits until `done` says so, failing with `still()` after `within`;
/// returns how long it took.
fn eventually(within: Duration, mut done: impl FnMut() -> bool, still: impl Fn() -> String) -> Duration {
    let started = Instant::now();
    while !done() {
        assert!(started.elapsed() < within, "after {within:?}: {}", still());
        std::thread::sleep(Duration::from_millis(50));
    }
    started.elapsed()
}

/// Waits until the node at `addr` has every one of `wanted`; returns how long that took.
fn converges(addr: &str, wanted: &[&str], within: Duration) -> Duration {
    let has_all = || present(addr, wanted).len() == wanted.len();
    eventually(within, has_all, || format!("{addr} has {:?} of {wanted:?}", present(addr, wanted)))
}

#[test]
fn two_nodes_share_collections_and_survive_the_writer_dying() {
    let Some(shared) = Shared::new() else { return };
    two_nodes_share_collections_and_survive_the_writer_dying_on(&shared);
}

#[test]
fn two_nodes_over_a_dynamodb_catalogue_share_collections_and_survive_the_writer_dying() {
    let Some(shared) = Shared::on_dynamodb() else { return };
    two_nodes_share_collections_and_survive_the_writer_dying_on(&shared);
}

fn two_nodes_share_collections_and_survive_the_writer_dying_on(shared: &Shared) {
    let Nodes { a, b, dir_a, port_a, dir_b: _dir_b } = Nodes::start(shared);
    assert_eq!(upsert(&a.addr, &["a1", "a2"]).status, 200);
    let status = http::json(&b.addr, "GET", "/v1/cluster", None);
    assert_eq!(status.status, 200, "{}", status.body);
    let nodes: Vec<Value> = status.json()["nodes"].as_array().expect("nodes").clone();
    let ids: Vec<&str> = nodes.iter().filter_map(|n| n["holder"].as_str()).collect();
    assert_eq!(ids, ["a", "b"], "both nodes registered: {}", status.body);
    let a_says = &nodes[0]["positions"][0];
    assert_eq!((a_says["collection"].as_str(), a_says["writes"].as_bool()), (Some("shared"), Some(true)), "{status:?}");
    let lease = &status.json()["leases"][0];
    assert_eq!(
        (lease["collection"].as_str(), lease["holder"].as_str()),
        (Some("shared"), Some("a")),
        "{}",
        status.body
    );

    // B answers reads (the collection's config from the shared catalogue).
    // Ready means caught up: B has what A acknowledged as soon as /readyz answers.
    assert_eq!(http::json(&b.addr, "GET", "/readyz", None).status, 200);
    assert_eq!(present(&b.addr, &["a1", "a2"]), ["a1", "a2"]);
    let search = json!({"vector": [1.0, 0.0, 0.5], "k": 1});
    let found = http::json(&b.addr, "POST", "/v1/collections/shared/search", Some(&search));
    assert_eq!(found.json()["hits"][0]["id"], "a1", "{}", found.body);

    // Both nodes report where they are in the collection.
    let position = |addr: &str| http::json(addr, "GET", "/v1/cluster", None).json()["positions"][0].clone();
    let (at_a, at_b) = (position(&a.addr), position(&b.addr));
    assert_eq!((at_a["writes"].as_bool(), at_b["writes"].as_bool()), (Some(true), Some(false)), "{at_a} {at_b}");
    assert_eq!(at_a["applied_seq"], at_b["applied_seq"], "B applied what A wrote: {at_a} {at_b}");

    // A write to B is sent to A: one answer, and A has it at once. B sees
    // it by its next poll: the target is a second after the
    // acknowledgement (a follower polls every 100 ms here); the bound is
    // wider for a loaded machine.
    let r = upsert(&b.addr, &["b1"]);
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(present(&a.addr, &["b1"]), ["b1"]);
    let took = converges(&b.addr, &["b1"], CONVERGED);
    eprintln!("B answered with b1 {took:?} after its acknowledgement (polling every 100 ms)");
    // The Qdrant-compatible API's writes are sent on too.
    let point = json!({"points": [{"id": 7, "vector": [0.5, 0.5, 0.5], "payload": {"via": "qdrant"}}]});
    let r = http::json(&b.addr, "PUT", "/collections/shared/points?wait=true", Some(&point));
    assert_eq!(r.status, 200, "{}", r.body);
    let counted = http::json(&a.addr, "POST", "/collections/shared/points/count", Some(&json!({"exact": true})));
    assert_eq!(counted.json()["result"]["count"], 4, "A, the writer, took the point: {}", counted.body);

    // A refused write, forwarded, is refused by the writer, with its 400.
    let bad = http::json(
        &b.addr,
        "POST",
        "/v1/collections/shared/vectors",
        Some(&json!({"vectors": [{"id": "x", "vector": [1.0]}]})),
    );
    assert_eq!(bad.status, 400, "{}", bad.body);

    // A dies with acknowledged writes only in its log objects (never flushed).
    assert_eq!(upsert(&a.addr, &["a3"]).status, 200);
    a.kill_hard();
    // B takes over once A's lease lapses; until then a write gets a 503.
    let deadline = Instant::now() + Duration::from_millis(LEASE_MS * 5);
    let taken = loop {
        let r = upsert(&b.addr, &["b2"]);
        if r.status == 200 || Instant::now() > deadline {
            break r;
        }
        assert_eq!(r.status, 503, "{}", r.body);
        std::thread::sleep(Duration::from_millis(100));
    };
    assert_eq!(taken.status, 200, "B never took the collection over: {}", taken.body);
    assert_eq!(present(&b.addr, &["a1", "a2", "b1", "a3", "b2"]).len(), 5, "an acknowledged write was lost");
    let status = http::json(&b.addr, "GET", "/v1/cluster", None).json();
    assert_eq!(status["held"][0]["collection"], "shared", "{status}");
    assert!(status["held"][0]["epoch"].as_u64() >= Some(2), "{status}");
    let cli = std::process::Command::new(BIN)
        .args(["cluster", "--url", &format!("http://{}", b.addr)])
        .output()
        .expect("run proximadb cluster");
    let printed: Value = serde_json::from_slice(&cli.stdout).expect("the CLI prints the status as JSON");
    assert_eq!(printed["node"]["node_id"], "b", "{printed}");

    // A comes back as a follower; its writes now go to B.
    let a = shared.start("a", port_a, dir_a.path());
    converges(&a.addr, &["a1", "a2", "b1", "a3", "b2"], CONVERGED);
    assert_eq!(upsert(&a.addr, &["a4"]).status, 200);
    assert_eq!(present(&b.addr, &["a4"]), ["a4"], "B, the writer, took it");
    assert_eq!(http::json(&a.addr, "DELETE", "/v1/collections/shared", None).status, 204);
    b.kill_hard();
    a.kill_hard();
}

#[test]
fn cluster_mode_refuses_what_cannot_be_shared() {
    let Some(shared) = Shared::new() else { return };
    let dir = tempfile::tempdir().unwrap();
    let cluster = "[cluster]\nnode_id = \"a\"\nadvertise = \"http://127.0.0.1:1\"\n";
    let env = shared.env();

    // The embedded catalogue keeps no leases.
    let config = shared.config(dir.path(), cluster);
    let alone: Vec<(&str, &str)> = env.iter().copied().filter(|(k, _)| *k != "PROXIMADB_METADATA_URL").collect();
    let said = refused_start(BIN, dir.path(), &["--config", &config], &alone);
    assert!(said.contains("cannot keep writer leases"), "{said}");

    // A VIPER whose log stays on this node's disk.
    let local = dir.path().join("local.toml");
    std::fs::write(&local, format!("[relations]\nurl = \"{}\"\n{cluster}", shared.relations)).unwrap();
    let said = refused_start(BIN, dir.path(), &["--config", &local.display().to_string()], &env);
    assert!(said.contains("log=object&follow=true"), "{said}");

    // A bucket that is not there.
    let missing = dir.path().join("missing.toml");
    let root = shared.viper_root.replacen("s3://", "s3://no-such-bucket-", 1);
    std::fs::write(
        &missing,
        format!("[storage.roots]\nviper = \"{root}\"\n[relations]\nurl = \"{}\"\n{cluster}", shared.relations),
    )
    .unwrap();
    let said = refused_start(BIN, dir.path(), &["--config", &missing.display().to_string()], &env);
    assert!(said.contains("no-such-bucket"), "{said}");

    // Two nodes with one id.
    let port = free_port();
    let first = shared.start("twin", port, dir.path());
    let other_dir = tempfile::tempdir().unwrap();
    let twin = shared.config(
        other_dir.path(),
        &format!("[cluster]\nnode_id = \"twin\"\nadvertise = \"http://127.0.0.1:{}\"\n", free_port()),
    );
    let said = refused_start(BIN, other_dir.path(), &["--config", &twin], &env);
    assert!(said.contains("node id `twin` is in use"), "{said}");
    drop(first);

    // A bad [cluster] section.
    let bad = dir.path().join("bad.toml");
    std::fs::write(&bad, "[cluster]\nnode_id = \"a\"\nadvertise = \"127.0.0.1:1\"\n").unwrap();
    let said = refused_start(BIN, dir.path(), &["--config", &bad.display().to_string()], &env);
    assert!(said.contains("advertise"), "{said}");
}

#[test]
fn a_paused_writer_is_deposed_and_its_writes_go_to_the_next() {
    let Some(shared) = Shared::new() else { return };
    let Nodes { a, b, dir_a: _dir_a, port_a: _, dir_b: _dir_b } = Nodes::start(&shared);
    assert_eq!(upsert(&a.addr, &["a1"]).status, 200);

    // A stops (SIGSTOP) past its lease; B takes the collection over.
    a.pause();
    std::thread::sleep(Duration::from_millis(LEASE_MS + 500));
    let r = upsert(&b.addr, &["b1"]);
    assert_eq!(r.status, 200, "{}", r.body);
    let status = http::json(&b.addr, "GET", "/v1/cluster", None).json();
    assert_eq!(status["held"][0]["collection"], "shared", "{status}");

    // A write that reached A while it was stopped is answered when it
    // resumes: A finds its lease gone and sends the write to B.
    let addr_a = a.addr.clone();
    let queued = std::thread::spawn(move || upsert(&addr_a, &["queued"]));
    std::thread::sleep(Duration::from_millis(300));
    a.resume();
    let r = queued.join().unwrap();
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(present(&b.addr, &["a1", "b1", "queued"]).len(), 3, "B, the writer, has every acknowledged write");
    converges(&a.addr, &["a1", "b1", "queued"], CONVERGED);
    let status = http::json(&a.addr, "GET", "/v1/cluster", None).json();
    assert_eq!(status["held"], json!([]), "A gave its lease up: {status}");
    assert_eq!(http::json(&b.addr, "DELETE", "/v1/collections/shared", None).status, 204);
}

#[test]
fn followers_hear_of_writes_on_the_backplane_without_polling() {
    let Some(redis) = service_url("REDIS") else { return };
    let cache = format!("[cache]\nredis_url = \"{redis}\"\nbackplane = true\n");
    // Followers would poll once a minute: only the backplane can tell them in time.
    let Some(shared) = Shared::polling_every(60_000, cache) else { return };
    let Nodes { a, b, dir_a: _dir_a, port_a: _, dir_b: _dir_b } = Nodes::start(&shared);
    // B opened before the collection existed: the backplane tells it of the creation too.
    assert_eq!(upsert(&a.addr, &["a1", "a2"]).status, 200);
    converges(&b.addr, &["a1", "a2"], CONVERGED);
    // Both nodes name the data alike, so an answer A computed is B's to read from L2.
    let search = |addr: &str, cache: &str| {
        let query = json!({"vector": [1.0, 0.5, 0.5], "k": 2, "cache": cache});
        let r = http::json(addr, "POST", "/v1/collections/shared/search", Some(&query));
        assert_eq!(r.status, 200, "{}", r.body);
        r.json()
    };
    let computed = search(&a.addr, "use");
    assert!(computed["performance"]["cache"]["answered_by"].is_null(), "{computed}");
    let mut from_l2 = Value::Null;
    eventually(
        CONVERGED,
        || {
            from_l2 = search(&b.addr, "only");
            from_l2["performance"]["cache"]["answered_by"] == "l2"
        },
        || "B never read A's answer from L2".to_string(),
    );
    assert_eq!(from_l2["hits"], computed["hits"]);
    // Cached on B, then changed on A: B's cached answer goes with B's refresh.
    let seq_at = |addr: &str| {
        let r = http::request(addr, "GET", "/v1/collections/shared/vectors/a1", &[], None).unwrap();
        assert_eq!(r.status, 200, "{}", r.body);
        r.json()["seq"].as_u64().expect("a sequence number")
    };
    let before = seq_at(&b.addr);
    assert_eq!(seq_at(&b.addr), before, "the second read, from B's cache");
    assert_eq!(upsert(&b.addr, &["a1"]).status, 200, "an overwrite, sent on to A");
    eventually(CONVERGED, || seq_at(&b.addr) != before, || format!("B still answers a1 as of sequence {before}"));
}

#[test]
fn of_three_nodes_one_takes_over_and_the_other_sends_it_its_writes() {
    let Some(shared) = Shared::new() else { return };
    three_nodes_take_over_once_on(&shared);
}

#[test]
fn of_three_nodes_over_a_dynamodb_catalogue_one_takes_over() {
    let Some(shared) = Shared::on_dynamodb() else { return };
    three_nodes_take_over_once_on(&shared);
}

fn three_nodes_take_over_once_on(shared: &Shared) {
    let a = Node::start(shared, "a");
    let (b, c) = (Node::start(shared, "b"), Node::start(shared, "c"));
    let config = json!({"name": "shared", "dimension": 3, "index": {"type": "flat"}});
    assert_eq!(http::json(a.addr(), "POST", "/v1/collections", Some(&config)).status, 201);
    assert_eq!(upsert(a.addr(), &["a1"]).status, 200);
    a.process.kill_hard();

    // Writes arrive at B and C at once; one of them takes the lease, the
    // other sends its writes there.
    let ids = |node: &str| (0..10).map(|i| format!("{node}{i}")).collect::<Vec<_>>();
    let (addr_b, addr_c) = (b.addr().to_string(), c.addr().to_string());
    let to_b = std::thread::spawn(move || write_until_acknowledged(&addr_b, &ids("b")));
    let to_c = std::thread::spawn(move || write_until_acknowledged(&addr_c, &ids("c")));
    to_b.join().unwrap();
    to_c.join().unwrap();

    let holders: Vec<bool> =
        [&b, &c].iter().map(|n| http::json(n.addr(), "GET", "/v1/cluster", None).json()["held"] != json!([])).collect();
    assert_eq!(holders.iter().filter(|h| **h).count(), 1, "exactly one node holds the lease: {holders:?}");
    let mut all: Vec<String> = ids("b").into_iter().chain(ids("c")).collect();
    all.push("a1".into());
    let all: Vec<&str> = all.iter().map(String::as_str).collect();
    converges(b.addr(), &all, CONVERGED);
    converges(c.addr(), &all, CONVERGED);
}

#[test]
fn a_writer_cut_off_from_the_catalogue_stops_and_another_takes_over() {
    let Some(shared) = Shared::new() else { return };
    let postgres = service_url("POSTGRES").expect("PostgreSQL in the services env");
    let mut link = Proxy::start(&host_port(&postgres));
    let (dir_a, port_a) = (tempfile::tempdir().unwrap(), free_port());
    let a = shared.start_reaching_the_catalogue_at("a", port_a, dir_a.path(), Some(&link.addr()));
    let b = Node::start(&shared, "b");
    let config = json!({"name": "shared", "dimension": 3, "index": {"type": "flat"}});
    assert_eq!(http::json(&a.addr, "POST", "/v1/collections", Some(&config)).status, 201);
    assert_eq!(upsert(&a.addr, &["a1", "a2"]).status, 200);

    // A loses the catalogue (S3 and the other node it still reaches). It
    // can renew nothing and answers nothing that needs the catalogue; once
    // its lease lapses, B takes the collection, with A's acknowledged writes.
    link.stop();
    let refused = upsert(&a.addr, &["lost"]);
    assert_eq!(refused.status, 503, "{}", refused.body);
    write_until_acknowledged(b.addr(), &["b1".to_string()]);
    assert_eq!(present(b.addr(), &["a1", "a2", "b1", "lost"]), ["a1", "a2", "b1"]);

    // Back in touch, A follows B and sends it its writes.
    link.resume();
    write_until_acknowledged(&a.addr, &["a3".to_string()]);
    assert_eq!(present(b.addr(), &["a3"]), ["a3"]);
    let status = http::json(&a.addr, "GET", "/v1/cluster", None).json();
    assert_eq!(status["held"], json!([]), "A gave its lease up: {status}");
}

#[test]
fn writers_killed_again_and_again_during_ingest_lose_no_acknowledged_write() {
    // Flushes every 60 rows: kills land in group commits, flushes and manifest updates.
    let Some(shared) = Shared::flushing_every(60) else { return };
    let dirs = [tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap()];
    let ports = [free_port(), free_port()];
    let start = |i: usize| shared.start(["a", "b"][i], ports[i], dirs[i].path());
    let mut nodes = [Some(start(0)), Some(start(1))];
    let config = json!({"name": "shared", "dimension": 3, "index": {"type": "flat"}});
    let created = http::json(&nodes[0].as_ref().unwrap().addr, "POST", "/v1/collections", Some(&config));
    assert_eq!(created.status, 201, "{}", created.body);
    let mut acknowledged: Vec<String> = Vec::new();
    let mut rng = proxima_tests::crash::Rng(proxima_tests::crash::seed());
    let mut writer = 0;
    for round in 0..4 {
        // Batches of 20 straight to the writer until it dies.
        let addr = nodes[writer].as_ref().unwrap().addr.clone();
        let ingest = std::thread::spawn(move || {
            let mut acked = Vec::new();
            for batch in 0.. {
                let ids: Vec<String> = (0..20).map(|i| format!("r{round}-{batch}-{i}")).collect();
                let refs: Vec<&str> = ids.iter().map(String::as_str).collect();
                match try_upsert(&addr, &refs) {
                    Ok(r) if r.status == 200 => acked.extend(ids),
                    _ => return acked,
                }
            }
            acked
        });
        std::thread::sleep(Duration::from_millis(200 + rng.below(1_000)));
        nodes[writer].take().unwrap().kill_hard();
        let acked = ingest.join().unwrap();
        assert!(!acked.is_empty(), "round {round}: nothing was acknowledged before the kill");
        acknowledged.extend(acked);

        // The survivor takes over and has every acknowledged write.
        let survivor = 1 - writer;
        let addr = nodes[survivor].as_ref().unwrap().addr.clone();
        let took = write_until_acknowledged(&addr, &[format!("taken-{round}")]);
        eprintln!("round {round}: a write was acknowledged again {took:?} after the kill ({LEASE_MS} ms leases)");
        acknowledged.push(format!("taken-{round}"));
        let wanted: Vec<&str> = acknowledged.iter().map(String::as_str).collect();
        let missing: Vec<&str> = wanted.iter().copied().filter(|id| present(&addr, &[id]).is_empty()).take(5).collect();
        assert!(missing.is_empty(), "round {round}: acknowledged but gone: {missing:?}");
        nodes[writer] = Some(start(writer));
        writer = survivor;
    }
    let last = nodes[1 - writer].as_ref().unwrap().addr.clone();
    assert_eq!(http::json(&last, "GET", "/readyz", None).status, 200);
    let wanted: Vec<&str> = acknowledged.iter().map(String::as_str).collect();
    assert_eq!(present(&last, &wanted).len(), wanted.len(), "the restarted node has every acknowledged write");
}

fn body(ids: &[&str]) -> Vec<u8> {
    let vectors: Vec<Value> =
        ids.iter().enumerate().map(|(i, id)| json!({"id": id, "vector": [1.0, i as f32, 0.5]})).collect();
    serde_json::to_vec(&json!({"vectors": vectors})).unwrap()
}
