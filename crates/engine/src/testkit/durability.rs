//! Cases for persistent engines: reopen and unflushed-write recovery.

use super::{CaseResult, EngineHarness, Model, Rng, config, current_rows, ensure, random_batch, record, write_both};
use crate::WriteBatch;

/// Everything — records, deletions, soft deletions, configs, sequences — survives a reopen.
pub async fn reopen_preserves_everything(h: &dyn EngineHarness) -> CaseResult {
    let (rows, last_seq, c) = {
        let e = h.open(None).await?;
        let c = config("reopen", 6).with_field("i", proxima_core::FieldType::Int);
        e.create_collection(&c).await?;
        e.write("reopen", WriteBatch::from((0..40).map(|i| record(i, 6)).collect::<Vec<_>>())).await?;
        e.flush("reopen").await?;
        e.write("reopen", WriteBatch::new().delete("id1").soft_delete("id2").upsert(record(100, 6))).await?;
        e.write("reopen", WriteBatch::new().update_metadata("id3", Default::default())).await?;
        (current_rows(&*e, "reopen").await?, e.stats("reopen").await?.last_seq, c)
    };
    let e = h.open(None).await?;
    ensure!(e.list_collections().await?.contains(&c), "collection config lost on reopen");
    ensure!(current_rows(&*e, "reopen").await? == rows, "rows differ after reopen");
    ensure!(e.stats("reopen").await?.last_seq == last_seq, "last_seq differs after reopen");
    let r = e.write("reopen", WriteBatch::new().restore("id2")).await?;
    ensure!(r.first_seq > last_seq, "sequence numbers went back after reopen: {} <= {last_seq}", r.first_seq);
    ensure!(e.get("reopen", &["id2".into()]).await?[0].is_some(), "soft deletion not restorable after reopen");
    Ok(())
}

/// Acknowledged writes that were never flushed are recovered from the log.
pub async fn unflushed_writes_survive_reopen(h: &dyn EngineHarness) -> CaseResult {
    let rows = {
        let e = h.open(None).await?;
        e.create_collection(&config("unflushed", 4)).await?;
        for i in 0..10 {
            e.write("unflushed", WriteBatch::from(vec![record(i, 4)])).await?;
        }
        e.write("unflushed", WriteBatch::new().delete("id0")).await?;
        current_rows(&*e, "unflushed").await?
        // The engine is dropped without flush or close, as after a crash.
    };
    let e = h.open(None).await?;
    ensure!(current_rows(&*e, "unflushed").await? == rows, "unflushed acknowledged writes were lost");
    Ok(())
}

/// Random workloads interleaved with reopens agree with the model.
pub async fn random_operations_survive_reopens(h: &dyn EngineHarness) -> CaseResult {
    let c = config("random_reopen", 3);
    h.open(None).await?.create_collection(&c).await?;
    let mut model = Model::new(c);
    let mut rng = Rng::new(0xc0ffee);
    for round in 0..5 {
        let e = h.open(None).await?;
        ensure!(
            current_rows(&*e, "random_reopen").await? == model.visible(),
            "round {round}: state differs after reopen"
        );
        for _ in 0..30 {
            let batch = random_batch(&mut rng, &model, 3);
            write_both(&*e, &mut model, "random_reopen", batch).await?;
            if rng.below(10) == 0 {
                e.flush("random_reopen").await?;
            }
        }
    }
    Ok(())
}
