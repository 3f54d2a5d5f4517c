//! Damage in the middle of the log is refused with `Corrupted`; a torn tail is
//! cut off; what lies past a segment's end mark is never read.

use std::fs::OpenOptions;
use std::io::{Seek, SeekFrom, Write};
use std::os::unix::fs::FileExt;
use std::path::{Path, PathBuf};

use proxima_core::{ErrorKind, FsyncPolicy};
use proxima_wal::{Wal, WalOptions};

type Record = (u64, Vec<f32>);

const OPTIONS: WalOptions = WalOptions { segment_bytes: 1 << 20, fsync: FsyncPolicy::Always };

/// The zeros written after every frame (a header's worth): the end of a segment's frames.
const END_MARK: u64 = 24;

/// Where the frames of a segment written in one go end: before its end mark.
fn frames_end(path: &Path) -> u64 {
    let len = std::fs::metadata(path).unwrap().len();
    assert_eq!(&std::fs::read(path).unwrap()[(len - END_MARK) as usize..], &[0; END_MARK as usize], "an end mark");
    len - END_MARK
}

/// Record `i`: the one each test's batch `i` holds.
fn record(i: u64) -> Record {
    (i, vec![i as f32; 16])
}

/// A log in `dir` with batches `0..batches`, one record each.
fn log_with(dir: &Path, options: WalOptions, batches: u64) -> Wal<Record> {
    let wal = Wal::<Record>::open(dir, options).unwrap();
    for i in 0..batches {
        wal.append(&[record(i)]).unwrap();
    }
    wal
}

fn write_log(dir: &Path, batches: u64) -> PathBuf {
    drop(log_with(dir, OPTIONS, batches));
    dir.join(format!("{:020}.wal", 1))
}

fn replayed(dir: &Path) -> proxima_core::Result<Vec<u64>> {
    let wal = Wal::<Record>::open(dir, OPTIONS)?;
    let mut seqs = Vec::new();
    wal.replay(1, |seq, (i, _)| {
        assert_eq!(seq, i + 1);
        seqs.push(seq);
        Ok(())
    })?;
    Ok(seqs)
}

fn flip_byte(path: &Path, offset: u64) {
    let mut f = OpenOptions::new().read(true).write(true).open(path).unwrap();
    let mut byte = [0u8];
    f.seek(SeekFrom::Start(offset)).unwrap();
    std::io::Read::read_exact(&mut f, &mut byte).unwrap();
    f.seek(SeekFrom::Start(offset)).unwrap();
    f.write_all(&[byte[0] ^ 0x5a]).unwrap();
}

#[test]
fn flipped_byte_mid_log_is_corrupted_with_file_and_offset() {
    let dir = tempfile::tempdir().unwrap();
    let path = write_log(dir.path(), 10);
    let len = std::fs::metadata(&path).unwrap().len();
    let frame = frames_end(&path) / 10;
    for offset in [frame * 3 + 2, frame * 4 + 30, frame * 5 + 21] {
        let copy = tempfile::tempdir().unwrap();
        std::fs::copy(&path, copy.path().join(path.file_name().unwrap())).unwrap();
        let target = copy.path().join(path.file_name().unwrap());
        flip_byte(&target, offset);
        let err = replayed(copy.path()).unwrap_err();
        assert_eq!(err.kind(), ErrorKind::Corrupted, "offset {offset}: {err}");
        assert!(err.context("file").unwrap().ends_with(".wal"));
        let reported: u64 = err.context("offset").unwrap().parse().unwrap();
        assert!(reported <= offset && offset < reported + frame, "offset {offset} reported as {reported}");
        // Refusing must not have modified the file.
        assert_eq!(std::fs::metadata(&target).unwrap().len(), len);
    }
}

#[test]
fn truncated_tail_is_cut_and_the_log_reopens() {
    let dir = tempfile::tempdir().unwrap();
    let path = write_log(dir.path(), 10);
    let len = frames_end(&path);
    let frame = len / 10;
    // Cut the last frame at several points, including inside its header.
    for cut in [len - 1, len - frame + 10, len - frame + 3] {
        let copy = tempfile::tempdir().unwrap();
        let target = copy.path().join(path.file_name().unwrap());
        std::fs::copy(&path, &target).unwrap();
        OpenOptions::new().write(true).open(&target).unwrap().set_len(cut).unwrap();
        assert_eq!(replayed(copy.path()).unwrap(), (1..=9).collect::<Vec<_>>());
        assert_eq!(std::fs::metadata(&target).unwrap().len(), len - frame, "the torn frame is cut off");
        let wal = Wal::<Record>::open(copy.path(), OPTIONS).unwrap();
        assert_eq!(wal.append(&[(9, vec![])]).unwrap().first, 10, "appends continue after the cut");
    }
}

#[test]
fn bytes_past_the_end_mark_are_never_read_but_garbage_in_its_place_is_corrupted() {
    let dir = tempfile::tempdir().unwrap();
    let path = write_log(dir.path(), 4);
    let end = frames_end(&path);
    // Zeros or anything else past the end mark: a spare's or a recycled segment's tail.
    for tail in [[0u8; 100], [7u8; 100]] {
        let mut f = OpenOptions::new().append(true).open(&path).unwrap();
        f.write_all(&tail).unwrap();
        drop(f);
        assert_eq!(replayed(dir.path()).unwrap(), vec![1, 2, 3, 4]);
    }
    // Garbage where the next frame's header would start is damage.
    OpenOptions::new().write(true).open(&path).unwrap().write_all_at(&[7u8; 100], end).unwrap();
    assert_eq!(replayed(dir.path()).unwrap_err().kind(), ErrorKind::Corrupted);
}

#[test]
fn damage_in_an_older_segment_is_never_treated_as_a_tear() {
    let dir = tempfile::tempdir().unwrap();
    let options = WalOptions { segment_bytes: 300, fsync: FsyncPolicy::Always };
    drop(log_with(dir.path(), options, 20));
    let first = dir.path().join(format!("{:020}.wal", 1));
    let len = frames_end(&first);
    OpenOptions::new().write(true).open(&first).unwrap().set_len(len - 5).unwrap();
    let err = Wal::<Record>::open(dir.path(), options).unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Corrupted);
}

#[test]
fn a_missing_segment_is_corrupted() {
    let dir = tempfile::tempdir().unwrap();
    let options = WalOptions { segment_bytes: 300, fsync: FsyncPolicy::Always };
    drop(log_with(dir.path(), options, 20));
    let mut segments: Vec<_> = std::fs::read_dir(dir.path()).unwrap().map(|e| e.unwrap().path()).collect();
    segments.sort();
    assert!(segments.len() >= 3);
    std::fs::remove_file(&segments[1]).unwrap();
    assert_eq!(Wal::<Record>::open(dir.path(), options).unwrap_err().kind(), ErrorKind::Corrupted);
}

#[test]
fn a_torn_last_frame_before_zeros_or_stale_bytes_is_cut() {
    // A segment made from a spare or recycled: the frame being written when the
    // machine died is followed by zeros or a recycled segment's old frames, not
    // by the end of the file.
    for stale in [0u8, 0x3c] {
        let dir = tempfile::tempdir().unwrap();
        let path = write_log(dir.path(), 4);
        let end = frames_end(&path);
        flip_byte(&path, end - 1);
        OpenOptions::new().write(true).open(&path).unwrap().write_all_at(&[stale; 4096], end).unwrap();
        assert_eq!(replayed(dir.path()).unwrap(), vec![1, 2, 3], "stale byte {stale}");
    }
}

#[test]
fn segments_recycled_by_truncation_replay_and_reopen() {
    let dir = tempfile::tempdir().unwrap();
    let options = WalOptions { segment_bytes: 4096, fsync: FsyncPolicy::Always };
    let wal = Wal::<Record>::open(dir.path(), options).unwrap();
    let mut kept_from = 1;
    for i in 0..600u64 {
        wal.append(&[record(i)]).unwrap();
        if i % 50 == 49 {
            // As an engine does after a flush: everything but the last 20 is elsewhere.
            kept_from = i + 1 - 20;
            wal.truncate_before(kept_from).unwrap();
        }
    }
    let stats = wal.stats();
    assert!(stats.segments_recycled > 0, "no truncation recycled a segment: {stats:?}");
    assert!(stats.segments_from_spares > 0, "{stats:?}");
    drop(wal);
    // What a crash mid-recycling leaves (a kept segment, a half-made spare) is
    // not part of the log, and an open removes it.
    let leftovers = [dir.path().join("00000000000000000007.wal.recyclable"), dir.path().join("next-segment.tmp")];
    for leftover in &leftovers {
        std::fs::write(leftover, [0x5a; 300]).unwrap();
    }
    // Recycled segments hold old frames past their end marks; none of them replays.
    let wal = Wal::<Record>::open(dir.path(), options).unwrap();
    assert!(leftovers.iter().all(|l| !l.exists()), "leftovers removed at open");
    let mut seqs = Vec::new();
    wal.replay(kept_from, |seq, (i, values)| {
        assert_eq!((seq, (i, values)), (i + 1, record(i)));
        seqs.push(seq);
        Ok(())
    })
    .unwrap();
    assert_eq!(seqs, (kept_from..=600).collect::<Vec<_>>());
    // Appends after the reopen continue the sequence and replay.
    assert_eq!(wal.append(&[(600, vec![600.0; 16])]).unwrap().first, 601);
    drop(wal);
    let wal = Wal::<Record>::open(dir.path(), options).unwrap();
    let mut last = 0;
    wal.replay(kept_from, |seq, _| {
        last = seq;
        Ok(())
    })
    .unwrap();
    assert_eq!(last, 601);
}

#[test]
fn segments_made_from_spares_replay_and_reopen() {
    let dir = tempfile::tempdir().unwrap();
    let options = WalOptions { segment_bytes: 4096, fsync: FsyncPolicy::Always };
    let wal = log_with(dir.path(), options, 400);
    let from_spares = wal.stats().segments_from_spares;
    assert!(from_spares > 0, "no roll found its spare ready in ~40 rolls");
    drop(wal);
    // Closed segments keep their zero-filled remainders; all of them replay.
    let zero_tailed = std::fs::read_dir(dir.path())
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "wal"))
        .filter(|p| std::fs::read(p).unwrap().ends_with(&[0u8; 64]))
        .count();
    assert!(zero_tailed > 0);
    assert_eq!(replayed(dir.path()).unwrap(), (1..=400).collect::<Vec<_>>());
    // Appends after the reopen continue the sequence.
    let wal = Wal::<Record>::open(dir.path(), options).unwrap();
    assert_eq!(wal.append(&[(400, vec![])]).unwrap().first, 401);
}

#[test]
fn a_recycled_spare_reads_as_an_empty_segment_before_its_first_frame() {
    // Truncation keeps a segment, the next spare is made from it, and a
    // truncation rolls the active segment onto it; the log closes before any
    // frame is written there.
    let dir = tempfile::tempdir().unwrap();
    let options = WalOptions { segment_bytes: 4096, fsync: FsyncPolicy::Always };
    let wal = Wal::<Record>::open(dir.path(), options).unwrap();
    let mut n = 0u64;
    let mut rolled_onto_recycled = false;
    for _ in 0..200 {
        // Past half a segment, so a spare is started.
        for _ in 0..30 {
            wal.append(&[record(n)]).unwrap();
            n += 1;
        }
        let recycled = wal.stats().segments_recycled;
        wal.truncate_before(wal.next_seq()).unwrap();
        if wal.stats().segments_recycled > recycled {
            rolled_onto_recycled = true;
            break;
        }
    }
    assert!(rolled_onto_recycled, "{:?}", wal.stats());
    let next = wal.next_seq();
    drop(wal);
    let wal = Wal::<Record>::open(dir.path(), options).expect("the old frames of the recycled segment are not read");
    assert_eq!(wal.next_seq(), next);
    assert_eq!(wal.append(&[(n, vec![])]).unwrap().first, next);
}
