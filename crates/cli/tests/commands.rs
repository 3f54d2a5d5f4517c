//! The CLI's commands against a real server: import from every format,
//! search, collections, backup/restore, catalogue migration and bench.

use std::path::{Path, PathBuf};
use std::process::Command;

use proxima_tests::http;
use proxima_tests::server::ServerProcess;
use serde_json::{Value, json};

const BIN: &str = env!("CARGO_BIN_EXE_proximadb");

/// Runs `proximadb ARGS --url http://ADDR`; returns stdout, panicking with stderr on failure.
fn cli(addr: &str, args: &[&str]) -> String {
    let url = format!("http://{addr}");
    let out = Command::new(BIN).args(args).args(["--url", &url]).output().expect("run proximadb");
    assert!(out.status.success(), "proximadb {args:?} failed:\n{}", String::from_utf8_lossy(&out.stderr));
    String::from_utf8(out.stdout).unwrap()
}

fn vectors(n: usize, dim: usize) -> Vec<Vec<f32>> {
    (0..n)
        .map(|i| (0..dim).map(|j| ((i * 31 + j * 7) % 23) as f32 + 1.0 + i as f32 * (j as f32 + 1.0) / 997.0).collect())
        .collect()
}

/// TEXMEX rows: a little-endian i32 length, then the values' 4 little-endian bytes each.
fn write_vecs<T: Copy>(path: &Path, rows: &[Vec<T>], le_bytes: fn(T) -> [u8; 4]) {
    let mut bytes = Vec::new();
    for r in rows {
        bytes.extend((r.len() as i32).to_le_bytes());
        r.iter().for_each(|x| bytes.extend(le_bytes(*x)));
    }
    std::fs::write(path, bytes).unwrap();
}

fn write_fvecs(path: &Path, rows: &[Vec<f32>]) {
    write_vecs(path, rows, f32::to_le_bytes);
}

fn write_ivecs(path: &Path, rows: &[Vec<u32>]) {
    write_vecs(path, rows, u32::to_le_bytes);
}

fn write_npy(path: &Path, rows: &[Vec<f32>]) {
    let header = format!("{{'descr': '<f4', 'fortran_order': False, 'shape': ({}, {}), }}", rows.len(), rows[0].len());
    let mut header = header.into_bytes();
    while (10 + header.len() + 1) % 64 != 0 {
        header.push(b' ');
    }
    header.push(b'\n');
    let mut bytes = b"\x93NUMPY\x01\x00".to_vec();
    bytes.extend((header.len() as u16).to_le_bytes());
    bytes.extend(header);
    rows.iter().flatten().for_each(|x| bytes.extend(x.to_le_bytes()));
    std::fs::write(path, bytes).unwrap();
}

fn live(addr: &str, collection: &str) -> u64 {
    http::json(addr, "GET", &format!("/v1/collections/{collection}"), None).json()["stats"]["live_records"]
        .as_u64()
        .unwrap()
}

fn find_parquet(dir: &Path) -> Option<PathBuf> {
    for entry in std::fs::read_dir(dir).ok()?.flatten() {
        let path = entry.path();
        if path.is_dir() {
            if let Some(found) = find_parquet(&path) {
                return Some(found);
            }
        } else if path.extension().is_some_and(|e| e == "parquet") {
            return Some(path);
        }
    }
    None
}

#[test]
fn import_search_collections_and_backups() {
    let dir = tempfile::tempdir().unwrap();
    let server = ServerProcess::start(BIN, &dir.path().join("data"), &[], &[]);
    let addr = server.addr.as_str();
    let rows = vectors(300, 8);

    let fvecs = dir.path().join("v.fvecs");
    write_fvecs(&fvecs, &rows);
    cli(addr, &["import", "--collection", "from-fvecs", "--file", fvecs.to_str().unwrap(), "--batch", "64"]);
    assert_eq!(live(addr, "from-fvecs"), 300);

    let npy = dir.path().join("v.npy");
    write_npy(&npy, &rows);
    cli(addr, &["import", "--collection", "from-npy", "--file", npy.to_str().unwrap(), "--metric", "euclidean"]);
    assert_eq!(live(addr, "from-npy"), 300);
    let same = http::json(addr, "GET", "/v1/collections/from-npy/vectors/17", None).json();
    let stored: Vec<f32> = serde_json::from_value(same["record"]["vector"].clone()).unwrap();
    assert_eq!(stored, rows[17], "euclidean keeps vectors as given");

    let jsonl = dir.path().join("v.jsonl");
    let lines: Vec<String> = rows
        .iter()
        .enumerate()
        .map(|(i, v)| json!({"id": format!("doc-{i}"), "vector": v, "metadata": {"n": i}}).to_string())
        .collect();
    std::fs::write(&jsonl, lines.join("\n")).unwrap();
    cli(addr, &["import", "--collection", "from-jsonl", "--file", jsonl.to_str().unwrap()]);
    assert_eq!(live(addr, "from-jsonl"), 300);

    // VIPER's own segment files are plain Parquet: import one into a new collection.
    assert_eq!(http::json(addr, "POST", "/v1/collections/from-jsonl/flush", None).status, 204);
    let parquet = find_parquet(&dir.path().join("data")).expect("a flushed segment file");
    cli(addr, &["import", "--collection", "from-parquet", "--file", parquet.to_str().unwrap()]);
    assert_eq!(live(addr, "from-parquet"), 300);
    let copied = http::json(addr, "GET", "/v1/collections/from-parquet/vectors/doc-5", None).json();
    assert_eq!(copied["record"]["metadata"]["n"], 5, "ids and metadata travel with the file");

    let query = serde_json::to_string(&rows[42]).unwrap();
    let filter = r#"{"lt": {"field": "n", "value": 10}}"#;
    let hits: Value = serde_json::from_str(&cli(
        addr,
        &["search", "--collection", "from-jsonl", "--vector", &query, "--k", "3", "--filter", filter],
    ))
    .unwrap();
    let hits = hits.as_array().unwrap();
    assert_eq!(hits.len(), 3);
    assert!(hits.iter().all(|h| h["metadata"]["n"].as_u64().unwrap() < 10), "{hits:?}");
    let exact: Value =
        serde_json::from_str(&cli(addr, &["search", "--collection", "from-jsonl", "--vector", &query, "--k", "1"]))
            .unwrap();
    assert_eq!(exact[0]["id"], "doc-42");
    let queries = dir.path().join("queries.jsonl");
    let picked = [7usize, 42, 199];
    let lines: Vec<String> = picked.iter().map(|&i| serde_json::to_string(&rows[i]).unwrap()).collect();
    std::fs::write(&queries, lines.join("\n")).unwrap();
    let batch =
        cli(addr, &["search", "--collection", "from-jsonl", "--vectors", queries.to_str().unwrap(), "--k", "1"]);
    let firsts: Vec<Value> =
        batch.lines().map(|l| serde_json::from_str::<Value>(l).unwrap()[0]["id"].clone()).collect();
    assert_eq!(firsts, picked.iter().map(|i| json!(format!("doc-{i}"))).collect::<Vec<_>>());

    cli(addr, &["collections", "create", "made", "--dimension", "3", "--field", "year:int"]);
    let declared: Value =
        serde_json::from_str(&cli(addr, &["collections", "declare", "made", "meta.city:string"])).unwrap();
    assert_eq!(
        (declared["declared"].clone(), declared["fields"].clone()),
        (json!(true), json!([{"name": "year", "type": "int"}, {"name": "meta.city", "type": "string"}]))
    );
    let url = format!("http://{addr}");
    let refused =
        Command::new(BIN).args(["collections", "declare", "made", "year:date", "--url", &url]).output().unwrap();
    assert!(!refused.status.success() && String::from_utf8_lossy(&refused.stderr).contains("date"));
    let listed: Value = serde_json::from_str(&cli(addr, &["collections", "list"])).unwrap();
    assert_eq!(listed["collections"].as_array().unwrap().len(), 5);
    cli(addr, &["collections", "delete", "made"]);
    assert_eq!(http::json(addr, "GET", "/v1/collections/made", None).status, 404);

    cli(addr, &["backup", "--collection", "from-fvecs", "--name", "before"]);
    http::json(addr, "DELETE", "/v1/collections/from-fvecs/vectors/3", None);
    cli(addr, &["restore", "--collection", "from-fvecs", "--name", "before"]);
    assert_eq!(live(addr, "from-fvecs"), 300);

    let failed = Command::new(BIN)
        .args(["import", "--collection", "x", "--file", "/nonexistent.fvecs", "--url", &format!("http://{addr}")])
        .output()
        .unwrap();
    assert!(!failed.status.success());
    assert!(String::from_utf8_lossy(&failed.stderr).contains("/nonexistent.fvecs"));
}

#[test]
fn migrate_metadata_copies_and_verifies() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let server = ServerProcess::start(BIN, &data, &[], &[]);
    for name in ["a", "b"] {
        let r = http::json(&server.addr, "POST", "/v1/collections", Some(&json!({"name": name, "dimension": 4})));
        assert_eq!(r.status, 201);
    }
    // The embedded catalogue is locked while the server runs.
    assert!(server.terminate());
    let from = format!("file://{}", data.join("meta").display());
    let to = format!("sqlite://{}", dir.path().join("catalogue.db").display());
    let out = Command::new(BIN).args(["migrate-metadata", "--from", &from, "--to", &to, "--verify"]).output().unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let report: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!((report["written"].as_u64(), report["verified"].as_bool()), (Some(2), Some(true)), "{report}");
    let again =
        Command::new(BIN).args(["migrate-metadata", "--from", &from, "--to", &to, "--dry-run"]).output().unwrap();
    let plan: Value = serde_json::from_slice(&again.stdout).unwrap();
    assert_eq!(plan["plan"], json!([["a", "unchanged"], ["b", "unchanged"]]), "{plan}");
}

#[test]
fn bench_reports_recall_and_latency_per_concurrency() {
    let dir = tempfile::tempdir().unwrap();
    let server = ServerProcess::start(BIN, &dir.path().join("data"), &[], &[]);
    let data = dir.path().join("tiny");
    std::fs::create_dir_all(&data).unwrap();
    let base = vectors(500, 6);
    let queries: Vec<Vec<f32>> = (0..20).map(|i| base[i * 7].clone()).collect();
    // Ground truth by brute force under cosine.
    let unit = |v: &[f32]| {
        let n = v.iter().map(|x| x * x).sum::<f32>().sqrt();
        v.iter().map(|x| x / n).collect::<Vec<f32>>()
    };
    let truth: Vec<Vec<u32>> = queries
        .iter()
        .map(|q| {
            let q = unit(q);
            let mut scored: Vec<(f32, u32)> = base
                .iter()
                .enumerate()
                .map(|(i, v)| (unit(v).iter().zip(&q).map(|(a, b)| a * b).sum::<f32>(), i as u32))
                .collect();
            scored.sort_by(|a, b| b.0.total_cmp(&a.0).then(a.1.cmp(&b.1)));
            scored.iter().take(10).map(|s| s.1).collect()
        })
        .collect();
    write_fvecs(&data.join("base.fvecs"), &base);
    write_fvecs(&data.join("query.fvecs"), &queries);
    write_ivecs(&data.join("gt.ivecs"), &truth);
    let out = dir.path().join("bench.json");
    cli(
        &server.addr,
        &["bench", "--data", data.to_str().unwrap(), "--concurrency", "1,3", "--out", out.to_str().unwrap()],
    );
    let levels: Value = serde_json::from_slice(&std::fs::read(&out).unwrap()).unwrap();
    let levels = levels.as_array().unwrap();
    assert_eq!(levels.len(), 2);
    for level in levels {
        assert_eq!(level["queries"], 20);
        // The planner scans this small collection exactly; allow for float ties at the cut.
        assert!(level["recall10"].as_f64().unwrap() >= 0.9, "{level}");
        assert!(level["p99_ms"].as_f64().unwrap() >= level["p50_ms"].as_f64().unwrap());
    }
}

#[test]
fn relations_import_show_and_query() {
    let dir = tempfile::tempdir().unwrap();
    let server = ServerProcess::start(BIN, &dir.path().join("data"), &[], &[]);
    let addr = server.addr.as_str();
    let jsonl: String = (0..20)
        .map(|i| format!("{}\n", json!({"id": format!("r{i}"), "vector": [1.0, i as f32, 0.5], "metadata": {}})))
        .collect();
    let file = dir.path().join("records.jsonl");
    std::fs::write(&file, jsonl).unwrap();
    cli(addr, &["import", "--collection", "rel", "--file", file.to_str().unwrap()]);
    let mut edges: String = (0..19)
        .map(|i| format!("{}\n\n", json!({"from": format!("r{i}"), "to": format!("r{}", i + 1), "type": "NEXT"})))
        .collect();
    edges.push_str(&format!("{}\n", json!({"from": "r0", "to": "ghost", "type": "NEXT"})));
    let edges_file = dir.path().join("edges.jsonl");
    std::fs::write(&edges_file, edges).unwrap();
    let url = format!("http://{addr}");
    let args = ["relations", "import", "--collection", "rel", "--file", edges_file.to_str().unwrap(), "--batch", "7"];
    let out = Command::new(BIN).args(args).args(["--url", &url]).output().unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success(), "a refused edge fails the command: {stderr}");
    assert!(
        stderr.contains("stored 19 edges, refused 1") && stderr.contains("line 39") && stderr.contains("ghost"),
        "{stderr}"
    );
    let shown: Value =
        serde_json::from_str(&cli(addr, &["relations", "show", "--collection", "rel", "--id", "r0", "--depth", "3"]))
            .unwrap();
    let ids: Vec<&str> = shown.as_array().unwrap().iter().map(|n| n["id"].as_str().unwrap()).collect();
    assert_eq!(ids, ["r1", "r2", "r3"]);
    let answer: Value = serde_json::from_str(&cli(
        addr,
        &["query", "--collection", "rel", "--start-ids", "r5", "--depth", "2", "--k", "5", "--types", "NEXT"],
    ))
    .unwrap();
    assert_eq!(answer["strategy"], "graph_only", "{answer}");
    let ids: Vec<&str> = answer["hits"].as_array().unwrap().iter().map(|h| h["id"].as_str().unwrap()).collect();
    assert_eq!(ids, ["r6", "r7"]);
    let answer: Value = serde_json::from_str(&cli(
        addr,
        &[
            "query",
            "--collection",
            "rel",
            "--vector",
            "[1, 3, 0.5]",
            "--start-ids",
            "r5",
            "--k",
            "3",
            "--budget-ms",
            "500",
        ],
    ))
    .unwrap();
    assert_eq!(answer["hits"].as_array().unwrap().len(), 3, "{answer}");
    assert!(answer["reason"].as_str().unwrap().contains("budget"), "{answer}");
    let merged: Value = serde_json::from_str(&cli(
        addr,
        &["search", "--collection", "rel", "--vector", "[1, 3, 0.5]", "--k", "2", "--merge", "max"],
    ))
    .unwrap();
    assert_eq!((merged["partial"].clone(), merged["hits"].as_array().unwrap().len()), (json!(false), 2), "{merged}");
    assert_eq!(merged["engines"][0]["status"], "answered");
}

#[test]
fn collections_describe_list_by_tag_and_engines() {
    let dir = tempfile::tempdir().unwrap();
    let server = ServerProcess::start(BIN, &dir.path().join("data"), &[], &[]);
    let addr = server.addr.as_str();
    cli(addr, &["collections", "create", "notes", "--dimension", "3"]);
    cli(addr, &["collections", "create", "pics", "--dimension", "3"]);
    let described: Value = serde_json::from_str(&cli(
        addr,
        &["collections", "describe", "notes", "--tags", "text,prod", "--owner", "ann b"],
    ))
    .unwrap();
    assert_eq!(described["owner"], "ann b");
    let page: Value = serde_json::from_str(&cli(addr, &["collections", "list", "--tag", "prod"])).unwrap();
    let names: Vec<&str> =
        page["collections"].as_array().unwrap().iter().map(|c| c["name"].as_str().unwrap()).collect();
    assert_eq!(names, ["notes"]);
    let page: Value = serde_json::from_str(&cli(addr, &["collections", "list", "--owner", "ann b"])).unwrap();
    assert_eq!(page["collections"].as_array().unwrap().len(), 1);
    let engines: Value = serde_json::from_str(&cli(addr, &["collections", "engines"])).unwrap();
    assert!(
        engines["engines"]
            .as_array()
            .unwrap()
            .iter()
            .any(|e| e["name"] == "viper" && e["collections"] == json!(["notes", "pics"]))
    );
}
