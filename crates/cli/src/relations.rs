//! `proximadb relations import`: edges from JSON lines into a collection, in
//! batches, with a progress bar; edges the server refuses are reported.

use std::io::BufRead;
use std::path::Path;

use indicatif::{ProgressBar, ProgressStyle};
use serde_json::{Value, json};

use crate::remote::Remote;

/// Edges refused by the server (an endpoint missing), with their line numbers.
pub(crate) struct Imported {
    pub(crate) stored: usize,
    pub(crate) refused: Vec<String>,
}

/// Reads `{"from", "to", "type", "weight"?}` per line (blank lines skipped).
pub(crate) fn read_edges(path: &Path) -> Result<Vec<(usize, Value)>, String> {
    let file = std::fs::File::open(path).map_err(|e| format!("{}: {e}", path.display()))?;
    let mut edges = Vec::new();
    for (i, line) in std::io::BufReader::new(file).lines().enumerate() {
        let line = line.map_err(|e| format!("{}: {e}", path.display()))?;
        if line.trim().is_empty() {
            continue;
        }
        let edge: Value =
            serde_json::from_str(&line).map_err(|e| format!("{}:{}: not JSON: {e}", path.display(), i + 1))?;
        edges.push((i + 1, edge));
    }
    Ok(edges)
}

pub(crate) fn import(
    remote: &Remote,
    collection: &str,
    edges: &[(usize, Value)],
    batch: usize,
) -> Result<Imported, String> {
    let bar = ProgressBar::new(edges.len() as u64);
    bar.set_style(
        ProgressStyle::with_template("{bar:40} {pos}/{len} edges  {per_sec}  ETA {eta}").map_err(|e| e.to_string())?,
    );
    let path = format!("/v1/collections/{collection}/relations");
    let mut imported = Imported { stored: 0, refused: Vec::new() };
    for chunk in edges.chunks(batch.max(1)) {
        let upsert: Vec<&Value> = chunk.iter().map(|(_, e)| e).collect();
        let first_line = chunk.first().map_or(0, |(line, _)| *line);
        let answer = remote
            .call("POST", &path, Some(&json!({"upsert": upsert})))
            .map_err(|e| format!("edges from line {first_line}: {e}"))?;
        imported.stored += answer["upserted"].as_u64().unwrap_or(0) as usize;
        for error in answer["errors"].as_array().into_iter().flatten() {
            let line = error["index"].as_u64().and_then(|i| chunk.get(i as usize)).map_or(0, |(line, _)| *line);
            imported.refused.push(format!("line {line}: {}", error["message"].as_str().unwrap_or("refused")));
        }
        bar.inc(chunk.len() as u64);
    }
    bar.finish();
    Ok(imported)
}
