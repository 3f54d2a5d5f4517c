//! Cases on read views, segments, the index hook, compaction and checkpoints.

use proxima_core::{ErrorKind, VectorRecord};
use std::sync::Arc;

use super::{
    CaseError, CaseResult, EngineHarness, Model, Rng, RowCountIndex, config, current_rows, ensure, expect_kind,
    random_batch, record, snapshot, write_both,
};
use crate::{CompactionPolicy, WriteBatch};

/// A view taken before writes never shows them; a view taken after does.
pub async fn view_is_isolated_from_later_writes(h: &dyn EngineHarness) -> CaseResult {
    let e = h.open(None).await?;
    e.create_collection(&config("isolation", 4)).await?;
    e.write("isolation", WriteBatch::from((0..10).map(|i| record(i, 4)).collect::<Vec<_>>())).await?;
    e.flush("isolation").await?;
    e.write("isolation", WriteBatch::from(vec![record(10, 4)])).await?;
    let old_view = e.read_view("isolation").await?;
    let old_rows = snapshot(&*old_view)?;
    let old_seq = old_view.seq();
    e.write(
        "isolation",
        WriteBatch::new()
            .upsert(VectorRecord::new("id1", vec![0.5; 4]))
            .delete("id2")
            .soft_delete("id3")
            .upsert(record(11, 4))
            .update_metadata("id10", Default::default()),
    )
    .await?;
    e.flush("isolation").await?;
    e.compact("isolation", &CompactionPolicy { min_dead_ratio: 0.0, small_segment_rows: usize::MAX }).await?;
    ensure!(snapshot(&*old_view)? == old_rows, "an old view changed after later writes and compaction");
    ensure!(old_view.seq() == old_seq, "an old view's sequence moved");
    let new_rows = current_rows(&*e, "isolation").await?;
    ensure!(new_rows["id1"].vector == vec![0.5; 4], "new view misses the overwrite");
    ensure!(!new_rows.contains_key("id2") && !new_rows.contains_key("id3"), "new view shows deleted records");
    ensure!(new_rows.contains_key("id11") && new_rows.len() == 10, "new view has {} rows", new_rows.len());
    Ok(())
}

/// Segment rows agree with `get`, and live counts with stats.
pub async fn segments_expose_contiguous_rows(h: &dyn EngineHarness) -> CaseResult {
    let e = h.open(None).await?;
    e.create_collection(&config("segments", 16)).await?;
    for chunk in 0..3u64 {
        e.write("segments", WriteBatch::from((0..50).map(|i| record(chunk * 50 + i, 16)).collect::<Vec<_>>())).await?;
        e.flush("segments").await?;
    }
    e.write("segments", WriteBatch::from(vec![record(999, 16)])).await?;
    let view = e.read_view("segments").await?;
    ensure!(view.live_count() == 151, "view has {} live rows, expected 151", view.live_count());
    for segment in view.segments() {
        ensure!(segment.dimension() == 16, "segment dimension {}", segment.dimension());
        for row in segment.live().ones() {
            let got = e.get("segments", &[segment.id(row).to_string()]).await?.remove(0);
            let got = got.ok_or_else(|| CaseError(format!("live row {} not found by get", segment.id(row))))?;
            ensure!(got.record.vector == segment.vector(row), "row vector of {} differs from get", segment.id(row));
            ensure!(got.seq == segment.seq(row), "row sequence of {} differs from get", segment.id(row));
            ensure!(&got.record.metadata == segment.metadata(row), "row metadata of {} differs", segment.id(row));
        }
    }
    Ok(())
}

/// Sealed segments carry the bytes the index hook built for them.
pub async fn index_hook_runs_on_sealed_segments(h: &dyn EngineHarness) -> CaseResult {
    let e = h.open(Some(Arc::new(RowCountIndex))).await?;
    e.create_collection(&config("index_hook", 4)).await?;
    e.write("index_hook", WriteBatch::from((0..25).map(|i| record(i, 4)).collect::<Vec<_>>())).await?;
    e.flush("index_hook").await?;
    let view = e.read_view("index_hook").await?;
    let sealed: Vec<_> = view.segments().iter().filter(|s| s.sealed() && !s.is_empty()).collect();
    ensure!(!sealed.is_empty(), "no sealed segment after flush");
    for s in sealed {
        let expected = (s.len() as u64).to_le_bytes();
        ensure!(s.index_bytes() == Some(&expected[..]), "segment {} index bytes {:?}", s.segment_id(), s.index_bytes());
    }
    Ok(())
}

/// Compaction removes dead rows and changes no visible data.
pub async fn compaction_keeps_data(h: &dyn EngineHarness) -> CaseResult {
    let e = h.open(None).await?;
    e.create_collection(&config("compaction", 4)).await?;
    for round in 0..4u64 {
        e.write("compaction", WriteBatch::from((0..30).map(|i| record(i + round, 4)).collect::<Vec<_>>())).await?;
        e.flush("compaction").await?;
    }
    e.write("compaction", WriteBatch::new().delete("id0").delete("id1").soft_delete("id2")).await?;
    let before = current_rows(&*e, "compaction").await?;
    let stats_before = e.stats("compaction").await?;
    ensure!(stats_before.dead_rows > 0, "overwrites left no dead rows: {stats_before:?}");
    let report =
        e.compact("compaction", &CompactionPolicy { min_dead_ratio: 0.0, small_segment_rows: usize::MAX }).await?;
    ensure!(report.rows_removed > 0, "compaction removed nothing: {report:?}");
    ensure!(current_rows(&*e, "compaction").await? == before, "compaction changed visible data");
    let stats = e.stats("compaction").await?;
    ensure!(stats.dead_rows < stats_before.dead_rows, "dead rows {} -> {}", stats_before.dead_rows, stats.dead_rows);
    ensure!(stats.live_records == before.len() as u64, "stats.live_records {} vs {}", stats.live_records, before.len());
    e.write("compaction", WriteBatch::new().restore("id2")).await?;
    ensure!(
        e.get("compaction", &["id2".into()]).await?[0].is_some(),
        "a soft-deleted record did not survive compaction"
    );
    Ok(())
}

/// A checkpoint restores exactly the state at which it was taken, in place or as a new collection.
pub async fn checkpoint_and_restore(h: &dyn EngineHarness) -> CaseResult {
    let e = h.open(None).await?;
    e.create_collection(&config("checkpoint", 4)).await?;
    e.write("checkpoint", WriteBatch::from((0..20).map(|i| record(i, 4)).collect::<Vec<_>>())).await?;
    e.write("checkpoint", WriteBatch::new().soft_delete("id3").delete("id4")).await?;
    let at_checkpoint = current_rows(&*e, "checkpoint").await?;
    let dir = tempfile::tempdir().map_err(|err| CaseError(format!("tempdir: {err}")))?;
    e.checkpoint_to("checkpoint", dir.path()).await?;
    e.write("checkpoint", WriteBatch::new().delete("id5").upsert(record(100, 4)).restore("id3")).await?;
    e.restore_from("checkpoint", dir.path()).await?;
    ensure!(current_rows(&*e, "checkpoint").await? == at_checkpoint, "in-place restore is not the checkpoint's state");
    e.write("checkpoint", WriteBatch::new().restore("id3")).await?;
    ensure!(e.get("checkpoint", &["id3".into()]).await?[0].is_some(), "soft deletion not carried by the checkpoint");
    e.restore_from("checkpoint_copy", dir.path()).await?;
    ensure!(current_rows(&*e, "checkpoint_copy").await? == at_checkpoint, "restore into a new collection differs");
    let empty = tempfile::tempdir().map_err(|err| CaseError(format!("tempdir: {err}")))?;
    expect_kind(
        e.restore_from("checkpoint_none", empty.path()).await,
        ErrorKind::NotFound,
        "restore without a checkpoint",
    )
}

/// Random batches, flushes and compactions agree with the model after every step.
pub async fn random_operations_match_model(h: &dyn EngineHarness) -> CaseResult {
    let e = h.open(None).await?;
    let c = config("random_ops", 3);
    e.create_collection(&c).await?;
    let mut model = Model::new(c);
    let mut rng = Rng::new(0x5eed);
    for step in 0..150 {
        let batch = random_batch(&mut rng, &model, 3);
        write_both(&*e, &mut model, "random_ops", batch).await?;
        match rng.below(20) {
            0 => e.flush("random_ops").await?,
            1 => {
                e.compact("random_ops", &CompactionPolicy::default()).await?;
            }
            _ => {}
        }
        let rows = current_rows(&*e, "random_ops").await?;
        ensure!(rows == model.visible(), "step {step}: engine {:?}\n model {:?}", rows.keys(), model.visible().keys());
    }
    Ok(())
}
