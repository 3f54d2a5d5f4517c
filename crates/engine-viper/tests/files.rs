//! VIPER's files from the outside: pyarrow reads a flushed segment, row-group
//! statistics prune filtered scans, and damaged or missing files are named in
//! a `Corrupted` error instead of being skipped.

use std::path::{Path, PathBuf};
use std::process::Command;

use proxima_core::{CollectionConfig, DistanceMetric, ErrorKind, FieldType, Filter, VectorRecord};
use proxima_engine::{VectorStorage, WriteBatch, candidate_rows};
use proxima_engine_viper::{VectorCompression, ViperConfig, ViperEngine};
use proxima_tests::service_var;

fn config(dir: &Path) -> ViperConfig {
    ViperConfig { row_group_rows: 10, ..ViperConfig::local(dir) }
}

fn records(n: u64) -> Vec<VectorRecord> {
    (0..n)
        .map(|i| {
            VectorRecord::new(format!("doc-{i:03}"), (0..6).map(|d| i as f32 + d as f32 / 8.0).collect())
                .with_metadata(serde_json::json!({"year": 1950 + i, "title": format!("t{i}")}))
        })
        .collect()
}

fn collection() -> CollectionConfig {
    CollectionConfig::new("books", 6).with_metric(DistanceMetric::Euclidean).with_field("year", FieldType::Int)
}

fn segment_files(dir: &Path) -> Vec<PathBuf> {
    let mut files: Vec<PathBuf> = std::fs::read_dir(dir.join("books"))
        .unwrap()
        .flatten()
        .map(|e| e.path())
        .filter(|p| p.extension().is_some_and(|x| x == "parquet"))
        .collect();
    files.sort();
    files
}

async fn written(dir: &Path) -> ViperEngine {
    written_with(config(dir)).await
}

async fn written_with(config: ViperConfig) -> ViperEngine {
    let engine = ViperEngine::open(config, None).await.unwrap();
    engine.create_collection(&collection()).await.unwrap();
    engine.write("books", WriteBatch::from(records(100))).await.unwrap();
    engine.flush("books").await.unwrap();
    engine
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pyarrow_reads_a_flushed_segment() {
    let Some(python) = service_var("PROXIMA_TEST_PYTHON") else { return };
    // The layout docs/engines.md promises: zstd, byte-stream-split floats by
    // default; plain, uncompressed floats on request.
    for (vectors, codec, encoding) in
        [(VectorCompression::Zstd, "ZSTD", "BYTE_STREAM_SPLIT"), (VectorCompression::None, "UNCOMPRESSED", "PLAIN")]
    {
        let dir = tempfile::tempdir().unwrap();
        let _engine = written_with(ViperConfig { vector_compression: vectors, ..config(dir.path()) }).await;
        let columns = pyarrow_reads_what_was_written(&python, dir.path());
        let vector_column = &columns["vector.list.item"];
        assert_eq!(vector_column["compression"], codec, "{vector_column}");
        assert!(vector_column["encodings"].as_array().unwrap().iter().any(|e| e == encoding), "{vector_column}");
        assert_eq!(columns["id"]["compression"], "ZSTD", "{vectors:?}: other columns stay zstd");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pyarrow_reads_vector_pages_bit_for_bit() {
    let Some(python) = service_var("PROXIMA_TEST_PYTHON") else { return };
    // 768-d rows: a row group of 1,000 is 3 MB of floats, several data pages
    // (VIPER writes the vector pages itself), and the last group is short.
    let (rows, dimension) = (2_500u64, 768usize);
    let value = |row: u64, d: usize| ((row * 7_919 + d as u64 * 104_729) % 20_011) as f32 / 997.0 - 10.0;
    for vectors in [VectorCompression::Zstd, VectorCompression::None] {
        let dir = tempfile::tempdir().unwrap();
        let config =
            ViperConfig { row_group_rows: 1_000, vector_compression: vectors, ..ViperConfig::local(dir.path()) };
        let engine = ViperEngine::open(config, None).await.unwrap();
        let collection = CollectionConfig::new("books", dimension as u32).with_metric(DistanceMetric::Euclidean);
        engine.create_collection(&collection).await.unwrap();
        let batch: Vec<VectorRecord> = (0..rows)
            .map(|i| VectorRecord::new(format!("doc-{i:04}"), (0..dimension).map(|d| value(i, d)).collect()))
            .collect();
        engine.write("books", WriteBatch::from(batch)).await.unwrap();
        engine.flush("books").await.unwrap();
        let files = segment_files(dir.path());
        assert_eq!(files.len(), 1);
        let script = r#"
import sys
import pyarrow.parquet as pq
f = pq.ParquetFile(sys.argv[1])
assert [f.metadata.row_group(i).num_rows for i in range(f.num_row_groups)] == [1000, 1000, 500]
values = f.read().column("vector").combine_chunks().flatten()
# The floats' own buffer (little-endian f32), without numpy.
data = values.buffers()[1].to_pybytes()
sys.stdout.buffer.write(data[values.offset * 4:(values.offset + len(values)) * 4])
"#;
        let out = Command::new(&python).args(["-c", script]).arg(&files[0]).output().expect("python runs");
        assert!(out.status.success(), "pyarrow failed: {}", String::from_utf8_lossy(&out.stderr));
        let expected: Vec<u8> =
            (0..rows).flat_map(|i| (0..dimension).flat_map(move |d| value(i, d).to_le_bytes())).collect();
        assert_eq!(out.stdout.len(), expected.len(), "{vectors:?}");
        let first_difference = out.stdout.iter().zip(&expected).position(|(a, b)| a != b);
        assert_eq!(first_difference, None, "{vectors:?}: pyarrow read other floats than were written");
    }
}

/// Reads the one segment file under `dir` with pyarrow, checks its contents,
/// and returns each column's compression and encodings.
fn pyarrow_reads_what_was_written(python: &str, dir: &Path) -> serde_json::Value {
    let files = segment_files(dir);
    assert_eq!(files.len(), 1);
    let script = r#"
import json, sys
import pyarrow.parquet as pq
t = pq.read_table(sys.argv[1])
print(json.dumps({
    "rows": t.num_rows,
    "columns": t.column_names,
    "ids": t.column("id").to_pylist(),
    "vectors": t.column("vector").to_pylist(),
    "years": t.column("f_year").to_pylist(),
    "row_groups": pq.ParquetFile(sys.argv[1]).num_row_groups,
    "columns_meta": {
        c.path_in_schema: {"compression": c.compression, "encodings": list(c.encodings)}
        for c in (pq.ParquetFile(sys.argv[1]).metadata.row_group(0).column(i)
                  for i in range(pq.ParquetFile(sys.argv[1]).metadata.num_columns))
    },
}))
"#;
    let out = Command::new(python).args(["-c", script]).arg(&files[0]).output().expect("python runs");
    assert!(out.status.success(), "pyarrow failed: {}", String::from_utf8_lossy(&out.stderr));
    let got: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let expected = records(100);
    assert_eq!(got["rows"], 100);
    assert_eq!(got["row_groups"], 10);
    assert_eq!(got["columns"], serde_json::json!(["id", "seq", "vector", "metadata", "expires_at", "f_year"]));
    let ids: Vec<String> = serde_json::from_value(got["ids"].clone()).unwrap();
    assert_eq!(ids, expected.iter().map(|r| r.id.clone()).collect::<Vec<_>>());
    let vectors: Vec<Vec<f32>> = serde_json::from_value(got["vectors"].clone()).unwrap();
    assert_eq!(vectors, expected.iter().map(|r| r.vector.clone()).collect::<Vec<_>>());
    assert_eq!(got["years"][42], 1992);
    got["columns_meta"].clone()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn row_group_statistics_prune_filtered_scans_after_reopen() {
    let dir = tempfile::tempdir().unwrap();
    drop(written(dir.path()).await);
    let engine = ViperEngine::open(config(dir.path()), None).await.unwrap();
    let view = engine.read_view("books").await.unwrap();
    let segment = view.segments().iter().find(|s| !s.zones().is_empty()).expect("a segment with zones");
    assert_eq!(segment.zones().len(), 10, "one zone per row group");
    let filter = Filter::gt("year", 2035); // years 2036..=2049: the last two row groups
    let candidates = candidate_rows(segment.zones(), segment.len(), &filter).expect("zones rule rows out");
    assert_eq!(candidates.count_ones(), 20);
    for row in 0..segment.len() {
        let matches = filter.matches(segment.metadata(row));
        assert!(!matches || candidates.get(row), "row {row} matches but was pruned");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn damaged_or_missing_segment_files_are_corrupted_errors() {
    let dir = tempfile::tempdir().unwrap();
    drop(written(dir.path()).await);
    let file = segment_files(dir.path()).remove(0);
    let bytes = std::fs::read(&file).unwrap();

    std::fs::write(&file, &bytes[..bytes.len() / 2]).unwrap();
    let err = ViperEngine::open(config(dir.path()), None).await.unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Corrupted, "{err}");
    assert!(err.context("file").unwrap().ends_with(file.file_name().unwrap().to_str().unwrap()), "{err}");

    std::fs::remove_file(&file).unwrap();
    let err = ViperEngine::open(config(dir.path()), None).await.unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Corrupted, "{err}");
    assert!(err.to_string().contains("missing"), "{err}");

    std::fs::write(&file, &bytes).unwrap();
    let engine = ViperEngine::open(config(dir.path()), None).await.unwrap();
    assert_eq!(engine.stats("books").await.unwrap().live_records, 100, "the restored file opens again");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn orphan_files_from_an_interrupted_flush_are_removed() {
    let dir = tempfile::tempdir().unwrap();
    drop(written(dir.path()).await);
    let orphan = dir.path().join("books/seg-0000009999.parquet");
    std::fs::write(&orphan, b"half a file").unwrap();
    let engine = ViperEngine::open(config(dir.path()), None).await.unwrap();
    assert!(!orphan.exists(), "an unreferenced segment file survived open");
    assert_eq!(engine.stats("books").await.unwrap().live_records, 100);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn decoded_vectors_stay_within_the_memory_budget() {
    let dir = tempfile::tempdir().unwrap();
    let config = ViperConfig { resident_budget_bytes: 0, ..config(dir.path()) };
    let engine = ViperEngine::open(config.clone(), None).await.unwrap();
    engine.create_collection(&collection()).await.unwrap();
    engine.write("books", WriteBatch::from(records(100))).await.unwrap();
    engine.flush("books").await.unwrap();
    assert_eq!(engine.resident_vector_bytes("books").await.unwrap(), 0, "flushed vectors stayed in memory");

    // A view decodes what it needs and keeps it while held.
    let view = engine.read_view("books").await.unwrap();
    assert_eq!(view.live_count(), 100);
    let row = view.segments()[0].vector(42).to_vec();
    assert_eq!(row, records(100)[42].vector);
    assert!(engine.resident_vector_bytes("books").await.unwrap() > 0, "a held view lost its vectors");
    drop(view);

    // Point reads decode the one segment they need, then it is evicted again.
    let got = engine.get("books", &["doc-007".to_string()]).await.unwrap().remove(0).unwrap();
    assert_eq!(got.record.vector, records(100)[7].vector);
    assert_eq!(engine.resident_vector_bytes("books").await.unwrap(), 0);

    // Reopening with a budget decodes once and evicts at once.
    drop(engine);
    let engine = ViperEngine::open(config, None).await.unwrap();
    assert_eq!(engine.resident_vector_bytes("books").await.unwrap(), 0);
    assert_eq!(
        engine.get("books", &["doc-099".to_string()]).await.unwrap()[0].as_ref().unwrap().record.vector,
        records(100)[99].vector
    );
}

fn manifest(dir: &Path) -> serde_json::Value {
    serde_json::from_slice(&std::fs::read(dir.join("books/manifest.json")).unwrap()).unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn each_manifest_replacement_adds_one_to_its_version() {
    let dir = tempfile::tempdir().unwrap();
    let version = || manifest(dir.path())["version"].as_u64().unwrap();
    let engine = written(dir.path()).await;
    let first = version();
    engine.write("books", WriteBatch::from(records(3))).await.unwrap();
    engine.flush("books").await.unwrap();
    assert_eq!(version(), first + 1, "a flush called by the user");
    drop(engine);

    // A background flush (the buffer reached `flush_rows`) stores the manifest
    // without the collection's lock, by another path.
    let engine = ViperEngine::open(ViperConfig { flush_rows: 5, ..config(dir.path()) }, None).await.unwrap();
    let flushed = manifest(dir.path())["flushed_seq"].as_u64().unwrap();
    engine.write("books", WriteBatch::from(records(5))).await.unwrap();
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
    while manifest(dir.path())["flushed_seq"].as_u64().unwrap() == flushed {
        assert!(std::time::Instant::now() < deadline, "no background flush within 10 s");
        tokio::time::sleep(std::time::Duration::from_millis(10)).await;
    }
    assert_eq!(version(), first + 2, "a background flush");
    assert_eq!(engine.stats("books").await.unwrap().live_records, 100);
}

/// Waits until the manifest's `flushed_seq` reaches `seq`; false after 10 s.
async fn flushed_to(dir: &Path, seq: u64) -> bool {
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
    while manifest(dir)["flushed_seq"].as_u64().unwrap() < seq {
        if std::time::Instant::now() > deadline {
            return false;
        }
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
    true
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_buffer_that_stops_growing_is_flushed_when_old() {
    let dir = tempfile::tempdir().unwrap();
    let quick = || ViperConfig { flush_interval_ms: 200, ..config(dir.path()) };
    let engine = ViperEngine::open(quick(), None).await.unwrap();
    engine.create_collection(&collection()).await.unwrap();
    let last = engine.write("books", WriteBatch::from(records(3))).await.unwrap().last_seq;
    assert!(segment_files(dir.path()).is_empty());
    assert!(flushed_to(dir.path(), last).await, "a buffer with no write after it was never flushed");
    assert_eq!(segment_files(dir.path()).len(), 1);

    // A buffer the log replays at open is flushed the same way.
    let last = engine.write("books", WriteBatch::from(records(5))).await.unwrap().last_seq;
    drop(engine);
    let engine = ViperEngine::open(quick(), None).await.unwrap();
    assert!(flushed_to(dir.path(), last).await, "a replayed buffer was never flushed");
    assert_eq!(engine.stats("books").await.unwrap().live_records, 5);
}

/// The Parquet columns of a segment file.
fn columns(path: &Path) -> Vec<String> {
    use parquet::file::reader::FileReader;
    let reader = parquet::file::reader::SerializedFileReader::new(std::fs::File::open(path).unwrap()).unwrap();
    reader.metadata().file_metadata().schema_descr().columns().iter().map(|c| c.path().string()).collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_field_declared_later_is_a_typed_column_of_later_segments() {
    let dir = tempfile::tempdir().unwrap();
    let engine = ViperEngine::open(config(dir.path()), None).await.unwrap();
    let undeclared = CollectionConfig::new("books", 6).with_metric(DistanceMetric::Euclidean);
    engine.create_collection(&undeclared).await.unwrap();
    engine.write("books", WriteBatch::from(records(10))).await.unwrap();
    engine.flush("books").await.unwrap();
    let year = proxima_core::FieldSpec { name: "year".into(), ty: FieldType::Int };
    assert!(engine.declare_field("books", year).await.unwrap());
    engine.write("books", WriteBatch::from(vec![records(11).pop().unwrap()])).await.unwrap();
    engine.flush("books").await.unwrap();
    let files = segment_files(dir.path());
    assert_eq!(files.len(), 2, "{files:?}");
    assert!(!columns(&files[0]).contains(&"f_year".to_string()), "the older file has no typed column");
    assert!(columns(&files[1]).contains(&"f_year".to_string()), "{:?}", columns(&files[1]));
}
