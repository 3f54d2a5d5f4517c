//! `--walks-only`: the graph's walk variants side by side, interleaved pass
//! by pass so that a noisy machine slows each of them alike: on 8-bit codes
//! (what a build makes), on codes with the nodes renumbered breadth-first,
//! and on the f32 rows.

use proxima_index::Hnsw;
use serde_json::{Value, json};

use crate::{EFS, K, recall};

pub(crate) fn compare(graph: &Hnsw, base: &[f32], dim: usize, queries: &[f32], truth: &[Vec<u32>]) -> Value {
    let copy = || Hnsw::from_bytes(&graph.to_bytes()).expect("a graph reloads");
    let mut renumbered = copy();
    renumbered.reorder();
    let mut on_rows = copy();
    on_rows.drop_codes();
    let variants = [("codes", graph), ("codes, renumbered", &renumbered), ("rows", &on_rows)];
    let pass = |g: &Hnsw, ef: usize| -> (f64, Vec<Vec<u32>>) {
        let started = std::time::Instant::now();
        let found =
            queries.chunks_exact(dim).map(|q| g.search(base, q, K, ef, &|_| true).0.iter().map(|n| n.row).collect());
        let found: Vec<Vec<u32>> = found.collect();
        (started.elapsed().as_secs_f64(), found)
    };
    let mut points = Vec::new();
    for ef in EFS {
        for (_, g) in &variants {
            for q in queries.chunks_exact(dim).take(1_000) {
                std::hint::black_box(g.search(base, q, K, ef, &|_| true));
            }
        }
        let mut walls = vec![Vec::new(); variants.len()];
        let mut recalls = vec![0.0; variants.len()];
        for _ in 0..3 {
            for (i, (_, g)) in variants.iter().enumerate() {
                let (wall, found) = pass(g, ef);
                walls[i].push(wall);
                recalls[i] = recall(&found, truth);
            }
        }
        let qps: Vec<f64> = walls
            .iter_mut()
            .map(|w| {
                w.sort_by(f64::total_cmp);
                truth.len() as f64 / w[1]
            })
            .collect();
        let shown: Vec<String> = variants
            .iter()
            .zip(&qps)
            .zip(&recalls)
            .map(|(((name, _), q), r)| format!("{name}: {q:.0} qps, recall {r:.4}"))
            .collect();
        eprintln!("ann: ef {ef:4}  {}", shown.join("  |  "));
        let by_name: serde_json::Map<String, Value> = variants
            .iter()
            .zip(qps.iter().zip(&recalls))
            .map(|((name, _), (q, r))| (name.to_string(), json!({"qps": q, "recall10": r})))
            .collect();
        points.push(json!({"ef": ef, "variants": by_name}));
    }
    json!({"engine": "proximadb", "walks": points})
}
