//! Damage in the middle of the log is refused with `Corrupted`; a torn tail is cut off.

use std::fs::OpenOptions;
use std::io::{Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};

use proxima_core::{ErrorKind, FsyncPolicy};
use proxima_wal::{Wal, WalOptions};

type Record = (u64, Vec<f32>);

const OPTIONS: WalOptions = WalOptions { segment_bytes: 1 << 20, fsync: FsyncPolicy::Always };

fn write_log(dir: &Path, batches: u64) -> PathBuf {
    let wal = Wal::<Record>::open(dir, OPTIONS).unwrap();
    for i in 0..batches {
        wal.append(&[(i, vec![i as f32; 16])]).unwrap();
    }
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
    let frame = len / 10;
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
    let len = std::fs::metadata(&path).unwrap().len();
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
fn zero_filled_tail_is_torn_but_garbage_is_not() {
    let dir = tempfile::tempdir().unwrap();
    let path = write_log(dir.path(), 4);
    let mut f = OpenOptions::new().append(true).open(&path).unwrap();
    f.write_all(&[0u8; 100]).unwrap();
    drop(f);
    assert_eq!(replayed(dir.path()).unwrap(), vec![1, 2, 3, 4]);

    let mut f = OpenOptions::new().append(true).open(&path).unwrap();
    f.write_all(&[7u8; 100]).unwrap();
    drop(f);
    assert_eq!(replayed(dir.path()).unwrap_err().kind(), ErrorKind::Corrupted);
}

#[test]
fn damage_in_an_older_segment_is_never_treated_as_a_tear() {
    let dir = tempfile::tempdir().unwrap();
    let options = WalOptions { segment_bytes: 300, fsync: FsyncPolicy::Always };
    let wal = Wal::<Record>::open(dir.path(), options).unwrap();
    for i in 0..20 {
        wal.append(&[(i, vec![i as f32; 16])]).unwrap();
    }
    drop(wal);
    let first = dir.path().join(format!("{:020}.wal", 1));
    let len = std::fs::metadata(&first).unwrap().len();
    OpenOptions::new().write(true).open(&first).unwrap().set_len(len - 5).unwrap();
    let err = Wal::<Record>::open(dir.path(), options).unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Corrupted);
}

#[test]
fn a_missing_segment_is_corrupted() {
    let dir = tempfile::tempdir().unwrap();
    let options = WalOptions { segment_bytes: 300, fsync: FsyncPolicy::Always };
    let wal = Wal::<Record>::open(dir.path(), options).unwrap();
    for i in 0..20 {
        wal.append(&[(i, vec![i as f32; 16])]).unwrap();
    }
    drop(wal);
    let mut segments: Vec<_> = std::fs::read_dir(dir.path()).unwrap().map(|e| e.unwrap().path()).collect();
    segments.sort();
    assert!(segments.len() >= 3);
    std::fs::remove_file(&segments[1]).unwrap();
    assert_eq!(Wal::<Record>::open(dir.path(), options).unwrap_err().kind(), ErrorKind::Corrupted);
}

#[test]
fn a_torn_last_frame_before_zeros_is_cut() {
    // A segment made from a spare: the frame being written when the machine
    // died is followed by zeros, not by the end of the file.
    let dir = tempfile::tempdir().unwrap();
    let path = write_log(dir.path(), 4);
    let len = std::fs::metadata(&path).unwrap().len();
    flip_byte(&path, len - 1);
    let mut f = OpenOptions::new().append(true).open(&path).unwrap();
    f.write_all(&[0u8; 4096]).unwrap();
    drop(f);
    assert_eq!(replayed(dir.path()).unwrap(), vec![1, 2, 3]);
}

#[test]
fn segments_made_from_spares_replay_and_reopen() {
    let dir = tempfile::tempdir().unwrap();
    let options = WalOptions { segment_bytes: 4096, fsync: FsyncPolicy::Always };
    let wal = Wal::<Record>::open(dir.path(), options).unwrap();
    for i in 0..400 {
        wal.append(&[(i, vec![i as f32; 16])]).unwrap();
    }
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
