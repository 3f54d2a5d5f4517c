//! SIGKILL a writer mid-append at random points: every acknowledged record
//! replays, whole batches only, and nothing past the one batch in flight. The
//! writer truncates the log as it goes (keeping its last batches), as an engine
//! does after a flush, so kills also land in truncations, segment recycling and
//! spare fills.
//!
//! The test re-runs its own binary as the writer (the child role is selected by
//! an environment variable), so no helper binary is needed.

use std::io::Write;
use std::path::Path;
use std::time::Duration;

use proxima_core::FsyncPolicy;
use proxima_tests::crash;
use proxima_wal::{Wal, WalOptions};

const CHILD_DIR_VAR: &str = "PROXIMA_WAL_CRASH_CHILD_DIR";
const TEST_NAME: &str = "acknowledged_records_survive_sigkill";
const OPTIONS: WalOptions = WalOptions { segment_bytes: 16 << 10, fsync: FsyncPolicy::Always };

/// `(batch id, index in batch, batch size, values)`; every field derives from the batch id.
type Record = (u64, u32, u32, Vec<f32>);

fn batch_len(batch: u64) -> u32 {
    1 + (batch % 37) as u32
}

fn values(batch: u64, idx: u32) -> Vec<f32> {
    (0..50).map(|d| (batch * 1000 + u64::from(idx)) as f32 + d as f32 * 0.5).collect()
}

fn make_batch(batch: u64) -> Vec<Record> {
    let n = batch_len(batch);
    (0..n).map(|i| (batch, i, n, values(batch, i))).collect()
}

/// Batches the writer keeps in its log when it truncates.
const KEPT_BATCHES: usize = 10;

/// Replays the log and checks its shape; returns the batch ids, in order.
fn recovered_batches(dir: &Path) -> Vec<u64> {
    let wal = Wal::<Record>::open(dir, OPTIONS).expect("a crashed log must reopen cleanly");
    let mut expected_seq = None;
    let mut batches: Vec<u64> = Vec::new();
    let mut in_batch = 0;
    wal.replay(1, |seq, (batch, idx, n, vals)| {
        // Truncation starts the log at a batch's first record.
        assert_eq!(seq, expected_seq.unwrap_or(seq), "sequence numbers are contiguous");
        assert!(expected_seq.is_some() || idx == 0, "the log starts in the middle of batch {batch}");
        expected_seq = Some(seq + 1);
        assert_eq!(n, batch_len(batch), "record of batch {batch} has a wrong size field");
        assert_eq!(vals, values(batch, idx), "record {batch}/{idx} replayed with wrong values");
        if idx == 0 {
            assert_eq!(in_batch, 0, "batch before {batch} was replayed partially");
            if let Some(last) = batches.last() {
                assert_eq!(batch, last + 1, "batches are replayed in order without gaps");
            }
            batches.push(batch);
        }
        assert_eq!(idx, in_batch, "records of batch {batch} are in order");
        in_batch = if idx + 1 == n { 0 } else { idx + 1 };
        Ok(())
    })
    .expect("replay");
    assert_eq!(in_batch, 0, "the last batch was replayed partially");
    batches
}

fn child_writer(dir: &Path) -> ! {
    let wal = Wal::<Record>::open(dir, OPTIONS).expect("child open");
    let mut next = 0;
    // The first sequence number of each batch still in the log, oldest first.
    let mut starts = std::collections::VecDeque::new();
    wal.replay(1, |seq, (batch, idx, ..)| {
        next = batch + 1;
        if idx == 0 {
            starts.push_back(seq);
        }
        Ok(())
    })
    .expect("child replay");
    let mut out = std::io::stdout().lock();
    loop {
        starts.push_back(wal.append(&make_batch(next)).expect("child append").first);
        writeln!(out, "ACK {next}").and_then(|_| out.flush()).expect("child stdout");
        next += 1;
        if starts.len() > 2 * KEPT_BATCHES {
            starts.drain(..starts.len() - KEPT_BATCHES);
            wal.truncate_before(starts[0]).expect("child truncate");
        }
    }
}

#[test]
fn acknowledged_records_survive_sigkill() {
    if let Ok(dir) = std::env::var(CHILD_DIR_VAR) {
        child_writer(Path::new(&dir));
    }
    let seed = crash::seed();
    let mut rng = crash::Rng(seed);
    let dir = tempfile::tempdir().unwrap();
    let mut acked_total = 0u64;
    for iteration in 0..crash::iterations() {
        let run_for = Duration::from_millis(5 + rng.below(60));
        let acked: Vec<u64> = crash::kill_child_after(TEST_NAME, CHILD_DIR_VAR, dir.path(), run_for)
            .iter()
            .filter_map(|a| a.parse().ok())
            .collect();
        acked_total += acked.len() as u64;

        let batches = recovered_batches(dir.path());
        let ctx = format!("seed {seed}, iteration {iteration}");
        if let Some(last_acked) = acked.last() {
            assert!(batches.contains(last_acked), "{ctx}: acknowledged batch {last_acked} lost");
            let last = *batches.last().unwrap();
            assert!(last <= last_acked + 1, "{ctx}: replayed batch {last} beyond the one in flight");
            // The writer truncates below its last KEPT_BATCHES batches only.
            assert!(batches.len() >= KEPT_BATCHES.min(*last_acked as usize + 1), "{ctx}: truncated too far");
        }
        // Batches below the log's first one were truncated, not lost.
        let first = batches.first().copied().unwrap_or(0);
        for id in acked.iter().filter(|id| **id >= first) {
            assert!(batches.binary_search(id).is_ok(), "{ctx}: acknowledged batch {id} lost");
        }
    }
    assert!(acked_total > 0, "the child never acknowledged a write; the test proved nothing");
}
