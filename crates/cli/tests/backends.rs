//! The binary carries every catalogue and S3: started against the real
//! PostgreSQL, MongoDB-wire and DynamoDB/S3 servers from `cargo xtask
//! services up`, it creates a collection, writes, dies by kill -9, restarts
//! and reads back.

use proxima_tests::http;
use proxima_tests::server::ServerProcess;
use proxima_tests::{service_url, service_var};
use serde_json::json;

const BIN: &str = env!("CARGO_BIN_EXE_proximadb");

fn unique(what: &str) -> String {
    let nanos = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_nanos();
    format!("{what}{}x{nanos}", std::process::id())
}

/// Creates, writes, kills, restarts and reads back with the same `args` and `env`.
fn survives_a_restart(args: &[&str], env: &[(&str, &str)]) {
    let dir = tempfile::tempdir().unwrap();
    let server = ServerProcess::start(BIN, dir.path(), args, env);
    let config = json!({"name": "kept", "dimension": 3, "index": {"type": "flat"}});
    let r = http::json(&server.addr, "POST", "/v1/collections", Some(&config));
    assert_eq!(r.status, 201, "{}", r.body);
    let vectors = json!({"vectors": [{"id": "a", "vector": [1, 0, 0]}, {"id": "b", "vector": [0, 1, 0]}]});
    let r = http::json(&server.addr, "POST", "/v1/collections/kept/vectors", Some(&vectors));
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(http::json(&server.addr, "POST", "/v1/collections/kept/flush", None).status, 204);
    server.kill_hard();
    let server = ServerProcess::start(BIN, dir.path(), args, env);
    let r = http::json(&server.addr, "GET", "/v1/collections/kept/vectors/b", None);
    assert_eq!(r.status, 200, "{}", r.body);
    let found =
        http::json(&server.addr, "POST", "/v1/collections/kept/search", Some(&json!({"vector": [1, 0, 0], "k": 1})));
    assert_eq!(found.json()["hits"][0]["id"], "a", "{}", found.body);
    assert_eq!(http::json(&server.addr, "DELETE", "/v1/collections/kept", None).status, 204);
}

#[test]
fn the_binary_runs_on_a_postgresql_catalogue() {
    let Some(url) = service_url("POSTGRES") else { return };
    let metadata = format!("{url}?table_prefix={}_", unique("bin"));
    survives_a_restart(&[], &[("PROXIMADB_METADATA_URL", &metadata)]);
}

#[test]
fn the_binary_runs_on_a_mongodb_catalogue() {
    let Some(url) = service_url("MONGODB") else { return };
    let metadata = format!("{url}/{}?directConnection=true", unique("bin"));
    survives_a_restart(&[], &[("PROXIMADB_METADATA_URL", &metadata)]);
}

#[test]
fn the_binary_runs_on_a_dynamodb_catalogue_and_viper_on_s3() {
    let Some(endpoint) = service_url("DYNAMODB") else { return };
    let s3 = service_url("S3").expect("S3 beside DynamoDB in the services env");
    let bucket = service_var("PROXIMA_TEST_S3_BUCKET").expect("bucket in the services env");
    let metadata = format!("dynamodb://us-east-1/{}?endpoint={endpoint}", unique("bin-"));
    let credentials: Vec<(String, String)> = ["AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_REGION"]
        .iter()
        .map(|k| (k.to_string(), service_var(k).unwrap_or_else(|| panic!("{k} in the services env"))))
        .collect();
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("proximadb.toml");
    let wal = dir.path().join("wal");
    std::fs::write(
        &config,
        format!(
            "[storage.roots]\nviper = \"s3://{bucket}/{}?endpoint={s3}&wal_dir={}\"\n",
            unique("bin-"),
            wal.display()
        ),
    )
    .unwrap();
    let mut env: Vec<(&str, &str)> = credentials.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
    env.push(("PROXIMADB_METADATA_URL", &metadata));
    let config = config.display().to_string();
    survives_a_restart(&["--config", &config], &env);
}
