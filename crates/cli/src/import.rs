//! `proximadb import`: vectors from .fvecs, .npy, .parquet or JSON lines into
//! a collection, in batches, with a progress bar.

use std::fs::File;
use std::io::{BufRead, BufReader, Read};
use std::path::Path;

use arrow_array::cast::AsArray;
use arrow_array::types::Float32Type;
use arrow_array::{Array, RecordBatch};
use indicatif::{ProgressBar, ProgressStyle};
use serde_json::{Value, json};

use crate::remote::Remote;

/// Records as they are read: id, vector, metadata.
pub(crate) type Row = (String, Vec<f32>, Value);

/// All rows of a file, by its extension. Files without ids get their row numbers.
pub(crate) fn read_rows(path: &Path) -> Result<Vec<Row>, String> {
    let ext = path.extension().and_then(|e| e.to_str()).unwrap_or_default();
    let with_numbers = |vectors: Vec<Vec<f32>>| {
        vectors.into_iter().enumerate().map(|(i, v)| (i.to_string(), v, json!({}))).collect::<Vec<Row>>()
    };
    match ext {
        "fvecs" => Ok(with_numbers(read_fvecs(path)?)),
        "npy" => Ok(with_numbers(read_npy(path)?)),
        "jsonl" | "ndjson" => read_jsonl(path),
        "parquet" => read_parquet(path),
        other => Err(format!("{}: unknown format `.{other}`; use .fvecs, .npy, .parquet or .jsonl", path.display())),
    }
}

fn open(path: &Path) -> Result<File, String> {
    File::open(path).map_err(|e| format!("{}: {e}", path.display()))
}

/// TEXMEX: per row a little-endian i32 dimension, then that many f32.
pub(crate) fn read_fvecs(path: &Path) -> Result<Vec<Vec<f32>>, String> {
    let mut bytes = Vec::new();
    open(path)?.read_to_end(&mut bytes).map_err(|e| format!("{}: {e}", path.display()))?;
    let mut rows = Vec::new();
    let mut at = 0;
    while at < bytes.len() {
        let dim = bytes.get(at..at + 4).map(|b| i32::from_le_bytes(b.try_into().expect("4")) as usize);
        let dim = dim.filter(|&d| d > 0 && at + 4 + d * 4 <= bytes.len());
        let dim = dim.ok_or_else(|| format!("{}: truncated or bad row at byte {at}", path.display()))?;
        rows.push(
            bytes[at + 4..at + 4 + dim * 4]
                .chunks_exact(4)
                .map(|c| f32::from_le_bytes(c.try_into().expect("4")))
                .collect(),
        );
        at += 4 + dim * 4;
    }
    Ok(rows)
}

/// NumPy `.npy`, version 1–3: a 2-D little-endian float32 (`<f4`) array in C order.
fn read_npy(path: &Path) -> Result<Vec<Vec<f32>>, String> {
    let mut bytes = Vec::new();
    open(path)?.read_to_end(&mut bytes).map_err(|e| format!("{}: {e}", path.display()))?;
    let bad = |why: &str| format!("{}: {why}", path.display());
    if bytes.get(..6) != Some(b"\x93NUMPY") {
        return Err(bad("not a .npy file"));
    }
    let (header_len, start) = match bytes.get(6) {
        Some(1) => (u16::from_le_bytes([bytes[8], bytes[9]]) as usize, 10),
        Some(2 | 3) => (u32::from_le_bytes(bytes[8..12].try_into().expect("4")) as usize, 12),
        _ => return Err(bad("unknown .npy version")),
    };
    let header = std::str::from_utf8(bytes.get(start..start + header_len).ok_or_else(|| bad("truncated header"))?)
        .map_err(|_| bad("header is not text"))?;
    if !header.contains("'descr': '<f4'") || header.contains("'fortran_order': True") {
        return Err(bad("only little-endian float32 (<f4) arrays in C order are supported"));
    }
    let shape = header.split("'shape': (").nth(1).and_then(|s| s.split(')').next()).ok_or_else(|| bad("no shape"))?;
    let dims: Vec<usize> = shape.split(',').filter_map(|d| d.trim().parse().ok()).collect();
    let [rows, dim] = dims[..] else { return Err(bad("the array must be 2-D (rows × dimension)")) };
    let data = &bytes[start + header_len..];
    if data.len() != rows * dim * 4 {
        return Err(bad("data length does not match the shape"));
    }
    Ok(data
        .chunks_exact(dim * 4)
        .map(|row| row.chunks_exact(4).map(|c| f32::from_le_bytes(c.try_into().expect("4"))).collect())
        .collect())
}

/// One JSON object per line: `{"id": .., "vector": [..], "metadata": {..}}`.
fn read_jsonl(path: &Path) -> Result<Vec<Row>, String> {
    let mut rows = Vec::new();
    for (n, line) in BufReader::new(open(path)?).lines().enumerate() {
        let line = line.map_err(|e| format!("{}: {e}", path.display()))?;
        if line.trim().is_empty() {
            continue;
        }
        let bad = |why: String| format!("{}:{}: {why}", path.display(), n + 1);
        let value: Value = serde_json::from_str(&line).map_err(|e| bad(e.to_string()))?;
        let id = match &value["id"] {
            Value::String(s) => s.clone(),
            Value::Number(x) => x.to_string(),
            Value::Null => n.to_string(),
            other => return Err(bad(format!("id must be a string or number, got {other}"))),
        };
        let vector: Vec<f32> =
            serde_json::from_value(value["vector"].clone()).map_err(|e| bad(format!("vector: {e}")))?;
        let metadata = if value["metadata"].is_null() { json!({}) } else { value["metadata"].clone() };
        rows.push((id, vector, metadata));
    }
    Ok(rows)
}

/// Parquet with a `vector` column (fixed-size or variable list of float32) and
/// optionally an `id` (string) and a `metadata` (JSON string) column — what VIPER writes.
fn read_parquet(path: &Path) -> Result<Vec<Row>, String> {
    let bad = |why: String| format!("{}: {why}", path.display());
    let reader = parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder::try_new(open(path)?)
        .and_then(|b| b.build())
        .map_err(|e| bad(e.to_string()))?;
    let mut rows = Vec::new();
    for batch in reader {
        let batch: RecordBatch = batch.map_err(|e| bad(e.to_string()))?;
        let vectors = batch.column_by_name("vector").ok_or_else(|| bad("no `vector` column".into()))?;
        let ids = batch.column_by_name("id").and_then(|c| c.as_string_opt::<i32>().cloned());
        let metadata = batch.column_by_name("metadata").and_then(|c| c.as_string_opt::<i32>().cloned());
        for i in 0..batch.num_rows() {
            let values = if let Some(list) = vectors.as_fixed_size_list_opt() {
                list.value(i)
            } else if let Some(list) = vectors.as_list_opt::<i32>() {
                list.value(i)
            } else {
                return Err(bad("`vector` must be a list of float32".into()));
            };
            let floats =
                values.as_primitive_opt::<Float32Type>().ok_or_else(|| bad("`vector` must hold float32".into()))?;
            let id = ids.as_ref().map_or_else(|| (rows.len()).to_string(), |c| c.value(i).to_string());
            let meta = match metadata.as_ref().filter(|c| c.is_valid(i)) {
                Some(c) => serde_json::from_str(c.value(i)).map_err(|e| bad(format!("metadata of row {i}: {e}")))?,
                None => json!({}),
            };
            rows.push((id, floats.values().to_vec(), meta));
        }
    }
    Ok(rows)
}

/// Creates `collection` if absent (dimension from the data), then upserts every row.
pub(crate) fn import(
    remote: &Remote,
    collection: &str,
    rows: &[Row],
    metric: &str,
    batch: usize,
) -> Result<(), String> {
    let dimension = rows.first().map(|r| r.1.len()).ok_or("the file holds no vectors")?;
    if !remote.has_collection(collection)? {
        let config = json!({"name": collection, "dimension": dimension, "metric": metric});
        remote.call("POST", "/v1/collections", Some(&config))?;
    }
    let bar = ProgressBar::new(rows.len() as u64);
    bar.set_style(
        ProgressStyle::with_template("{bar:40} {pos}/{len} vectors  {per_sec}  ETA {eta}")
            .map_err(|e| e.to_string())?,
    );
    let path = format!("/v1/collections/{collection}/vectors");
    for chunk in rows.chunks(batch.max(1)) {
        let vectors: Vec<Value> =
            chunk.iter().map(|(id, v, m)| json!({"id": id, "vector": v, "metadata": m})).collect();
        remote.call("POST", &path, Some(&json!({"vectors": vectors})))?;
        bar.inc(chunk.len() as u64);
    }
    bar.finish();
    Ok(())
}
