//! Random batches with random segment sizes replay exactly as written, from any sequence.

use proptest::prelude::*;
use proxima_core::FsyncPolicy;
use proxima_wal::{Wal, WalOptions};

type Record = (String, Vec<f32>);

fn record() -> impl Strategy<Value = Record> {
    ("[a-z0-9]{0,12}", prop::collection::vec(-1e6f32..1e6, 0..8))
}

fn replay_all(wal: &Wal<Record>, from: u64) -> Vec<(u64, Record)> {
    let mut out = Vec::new();
    wal.replay(from, |seq, r| {
        out.push((seq, r));
        Ok(())
    })
    .unwrap();
    out
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(48))]

    #[test]
    fn replay_returns_every_batch_in_order(
        batches in prop::collection::vec(prop::collection::vec(record(), 0..20), 1..30),
        segment_bytes in 64u64..4096,
        from_frac in 0.0f64..1.0,
    ) {
        let dir = tempfile::tempdir().unwrap();
        let options = WalOptions { segment_bytes, fsync: FsyncPolicy::None };
        let mut expected = Vec::new();
        {
            let wal = Wal::<Record>::open(dir.path(), options).unwrap();
            for batch in &batches {
                let range = wal.append(batch).unwrap();
                prop_assert_eq!(range.last + 1 - range.first, batch.len() as u64);
                for (i, r) in batch.iter().enumerate() {
                    expected.push((range.first + i as u64, r.clone()));
                }
            }
            prop_assert_eq!(replay_all(&wal, 1), expected.clone());
        }
        let wal = Wal::<Record>::open(dir.path(), options).unwrap();
        prop_assert_eq!(wal.next_seq(), expected.len() as u64 + 1);
        prop_assert_eq!(replay_all(&wal, 1), expected.clone());
        let from = 1 + (from_frac * expected.len() as f64) as u64;
        let tail: Vec<_> = expected.iter().filter(|(s, _)| *s >= from).cloned().collect();
        prop_assert_eq!(replay_all(&wal, from), tail.clone());

        // Truncating below `from` keeps every record at or above it.
        wal.truncate_before(from).unwrap();
        prop_assert_eq!(replay_all(&wal, from), tail);
        drop(wal);
        let reopened = Wal::<Record>::open(dir.path(), options).unwrap();
        prop_assert_eq!(reopened.next_seq(), expected.len() as u64 + 1);
    }
}

#[test]
fn truncation_keeps_sequence_numbers_going() {
    let dir = tempfile::tempdir().unwrap();
    let options = WalOptions { segment_bytes: 128, fsync: FsyncPolicy::Always };
    let wal = Wal::<Record>::open(dir.path(), options).unwrap();
    for i in 0..10 {
        wal.append(&[(format!("r{i}"), vec![i as f32; 4])]).unwrap();
    }
    wal.truncate_before(11).unwrap();
    assert!(replay_all(&wal, 1).is_empty());
    drop(wal);
    let wal = Wal::<Record>::open(dir.path(), options).unwrap();
    assert_eq!(wal.next_seq(), 11, "an emptied log must not reuse sequence numbers");
    assert_eq!(wal.append(&[("next".into(), vec![])]).unwrap().first, 11);
}

#[test]
fn concurrent_appenders_get_disjoint_contiguous_ranges() {
    let dir = tempfile::tempdir().unwrap();
    let options = WalOptions { segment_bytes: 4096, fsync: FsyncPolicy::Always };
    let wal = Wal::<Record>::open(dir.path(), options).unwrap();
    let mut ranges = std::thread::scope(|s| {
        let handles: Vec<_> = (0..8)
            .map(|t| {
                let wal = &wal;
                s.spawn(move || {
                    (0..25)
                        .map(|i| wal.append(&[(format!("{t}-{i}"), vec![1.0]), (String::new(), vec![])]).unwrap())
                        .collect::<Vec<_>>()
                })
            })
            .collect();
        handles.into_iter().flat_map(|h| h.join().unwrap()).collect::<Vec<_>>()
    });
    ranges.sort_by_key(|r| r.first);
    for (i, r) in ranges.iter().enumerate() {
        assert_eq!(r.first, 1 + 2 * i as u64);
        assert_eq!(r.last, r.first + 1);
    }
    assert_eq!(replay_all(&wal, 1).len(), 400);
}

#[test]
fn interval_policy_appends_and_replays() {
    let dir = tempfile::tempdir().unwrap();
    let options = WalOptions { segment_bytes: 1 << 20, fsync: FsyncPolicy::IntervalMs(5) };
    let wal = Wal::<Record>::open(dir.path(), options).unwrap();
    wal.append(&[("a".into(), vec![1.0])]).unwrap();
    wal.sync().unwrap();
    drop(wal);
    let wal = Wal::<Record>::open(dir.path(), options).unwrap();
    assert_eq!(replay_all(&wal, 1), vec![(1, ("a".to_string(), vec![1.0]))]);
}

#[test]
fn records_with_json_metadata_round_trip() {
    use proxima_core::VectorRecord;
    let dir = tempfile::tempdir().unwrap();
    let options = WalOptions { segment_bytes: 1 << 20, fsync: FsyncPolicy::None };
    let record = VectorRecord::new("a", vec![1.0, 2.0])
        .with_metadata(serde_json::json!({"nested": {"list": [1, "two", null, 3.5]}, "flag": true}));
    {
        let wal = Wal::<VectorRecord>::open(dir.path(), options).unwrap();
        wal.append(std::slice::from_ref(&record)).unwrap();
    }
    let wal = Wal::<VectorRecord>::open(dir.path(), options).unwrap();
    let mut replayed = Vec::new();
    wal.replay(1, |_, r| {
        replayed.push(r);
        Ok(())
    })
    .unwrap();
    assert_eq!(replayed, vec![record]);
}

#[test]
fn every_append_is_durable_under_always() {
    let dir = tempfile::tempdir().unwrap();
    let options = WalOptions { segment_bytes: 1 << 20, fsync: FsyncPolicy::Always };
    let wal = Wal::<Record>::open(dir.path(), options).unwrap();
    std::thread::scope(|s| {
        for t in 0..4 {
            let wal = &wal;
            s.spawn(move || (0..20).for_each(|i| assert!(wal.append(&[(format!("{t}-{i}"), vec![])]).is_ok())));
        }
    });
    let stats = wal.stats();
    assert_eq!(stats.frames, 80);
    // Group commit may cover several frames with one fsync, but never zero.
    assert!(stats.syncs >= 1 && stats.syncs <= stats.frames, "{stats:?}");
}

#[test]
fn advance_moves_the_log_past_a_checkpoint() {
    let dir = tempfile::tempdir().unwrap();
    let options = WalOptions { segment_bytes: 128, fsync: FsyncPolicy::Always };
    let wal = Wal::<Record>::open(dir.path(), options).unwrap();
    for i in 0..5 {
        wal.append(&[(format!("r{i}"), vec![1.0; 8])]).unwrap();
    }
    wal.advance_to(100).unwrap();
    wal.advance_to(50).unwrap(); // never backwards
    assert_eq!(wal.next_seq(), 100);
    assert_eq!(wal.append(&[("x".into(), vec![])]).unwrap().first, 100);
    drop(wal);
    let wal = Wal::<Record>::open(dir.path(), options).unwrap();
    assert_eq!(replay_all(&wal, 1), vec![(100, ("x".to_string(), vec![]))]);
}

#[test]
fn a_log_directory_is_opened_once_at_a_time() {
    let dir = tempfile::tempdir().unwrap();
    let options = WalOptions { segment_bytes: 1 << 20, fsync: FsyncPolicy::None };
    let first = Wal::<Record>::open(dir.path(), options).unwrap();
    let err = Wal::<Record>::open(dir.path(), options).unwrap_err();
    assert_eq!(err.kind(), proxima_core::ErrorKind::Unavailable, "{err}");
    first.append(&[("a".into(), vec![])]).unwrap();
    drop(first);
    let again = Wal::<Record>::open(dir.path(), options).unwrap();
    assert_eq!(again.next_seq(), 2);
}
