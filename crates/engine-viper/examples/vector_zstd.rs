//! zstd settings for the vector column's pages, compared on the same pages:
//! compressed size against raw, and single-thread speed. `src/vector_column.rs`
//! takes its `targetLength` from this.
//!
//! `cargo run --release -p proxima-engine-viper --example vector_zstd -- [FILE.fvecs]`
//!
//! Without a file it uses the benches' hash-derived 50-d values. Pages are
//! ~1 MiB of floats, byte-stream split, as VIPER writes them.

#![allow(clippy::print_stdout, reason = "a report for a person to read")]

use std::time::Instant;

use zstd_safe::{CCtx, CParameter, ParamSwitch};

#[path = "../benches/common/mod.rs"]
#[allow(dead_code, reason = "only the values are used here")]
mod common;

const PAGE_FLOATS: usize = 1 << 18;

fn main() {
    let values = match std::env::args().nth(1) {
        Some(path) => fvecs(&std::fs::read(&path).expect("readable .fvecs file")),
        None => (0..64 * PAGE_FLOATS as u64 / 50).flat_map(|row| (0..50).map(move |d| common::value(row, d))).collect(),
    };
    let pages: Vec<Vec<u8>> = values.chunks(PAGE_FLOATS).map(split).collect();
    let raw: usize = pages.iter().map(Vec::len).sum();
    println!("{} pages, {raw} bytes", pages.len());
    for (name, target_length, literals) in [
        ("level 1 (parquet's default)", None, false),
        ("level 1, targetLength 16, literals on", Some(16), true),
        ("level 1, targetLength 64, literals on", Some(64), true),
        ("level 1, targetLength 256, literals on", Some(256), true),
        ("level 1, targetLength 64 (literals as zstd chooses)", Some(64), false),
    ] {
        let mut cctx = CCtx::create();
        cctx.set_parameter(CParameter::CompressionLevel(1)).expect("level");
        if let Some(t) = target_length {
            cctx.set_parameter(CParameter::TargetLength(t)).expect("targetLength");
        }
        if literals {
            cctx.set_parameter(CParameter::LiteralCompressionMode(ParamSwitch::Enable)).expect("literals");
        }
        let mut out = Vec::with_capacity(zstd_safe::compress_bound(PAGE_FLOATS * 4));
        let start = Instant::now();
        let mut compressed = 0;
        for page in &pages {
            compressed += cctx.compress2(&mut out, page).expect("compresses");
        }
        let seconds = start.elapsed().as_secs_f64();
        println!("{name}: {:.3} of raw, {:.0} MB/s", compressed as f64 / raw as f64, raw as f64 / seconds / 1e6);
    }
}

/// TEXMEX `.fvecs`: per row a little-endian i32 dimension, then that many f32.
fn fvecs(bytes: &[u8]) -> Vec<f32> {
    let dimension = i32::from_le_bytes(bytes[..4].try_into().expect("a header")) as usize;
    bytes
        .chunks_exact(4 * (dimension + 1))
        .flat_map(|row| row[4..].chunks_exact(4).map(|b| f32::from_le_bytes(b.try_into().expect("4 bytes"))))
        .collect()
}

/// BYTE_STREAM_SPLIT: every float's first byte, then every second byte, ...
fn split(values: &[f32]) -> Vec<u8> {
    (0..4).flat_map(|k| values.iter().map(move |v| v.to_le_bytes()[k])).collect()
}
