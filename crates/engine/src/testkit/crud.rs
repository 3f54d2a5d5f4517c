//! Cases on creating collections and on each write operation.

use proxima_core::{DistanceMetric, ErrorKind, Metadata, VectorRecord, now_unix_secs};
use serde_json::json;

use super::{CaseResult, EngineHarness, config, current_rows, ensure, expect_kind, record};
use crate::WriteBatch;

/// Create, duplicate create, list, drop, and operations on a dropped collection.
pub async fn collections_lifecycle(h: &dyn EngineHarness) -> CaseResult {
    let e = h.open(None).await?;
    let c = config("lifecycle", 4);
    e.create_collection(&c).await?;
    expect_kind(e.create_collection(&c).await, ErrorKind::AlreadyExists, "duplicate create")?;
    expect_kind(e.create_collection(&config("bad/name", 4)).await, ErrorKind::InvalidArgument, "bad name")?;
    expect_kind(e.create_collection(&config("zero-dim", 0)).await, ErrorKind::InvalidArgument, "zero dimension")?;
    let listed = e.list_collections().await?;
    ensure!(listed.contains(&c), "list_collections lacks the created config: {listed:?}");
    ensure!(!listed.iter().any(|l| l.name == "zero-dim"), "a refused collection was created");
    e.drop_collection("lifecycle").await?;
    expect_kind(e.drop_collection("lifecycle").await, ErrorKind::NotFound, "second drop")?;
    expect_kind(
        e.write("lifecycle", WriteBatch::from(vec![record(1, 4)])).await,
        ErrorKind::NotFound,
        "write after drop",
    )?;
    expect_kind(e.read_view("lifecycle").await.map(|_| ()), ErrorKind::NotFound, "view after drop")?;
    e.create_collection(&c).await?;
    ensure!(current_rows(&*e, "lifecycle").await?.is_empty(), "a re-created collection kept old data");
    Ok(())
}

/// Upserted records come back from `get`; missing ids are `None`.
pub async fn upsert_then_get(h: &dyn EngineHarness) -> CaseResult {
    let e = h.open(None).await?;
    e.create_collection(&config("upsert_get", 8)).await?;
    let records: Vec<_> = (0..20).map(|i| record(i, 8)).collect();
    e.write("upsert_get", WriteBatch::from(records.clone())).await?;
    let mut ids: Vec<String> = records.iter().map(|r| r.id.clone()).collect();
    ids.push("missing".into());
    let got = e.get("upsert_get", &ids).await?;
    ensure!(got.len() == ids.len(), "get returned {} results for {} ids", got.len(), ids.len());
    for (r, g) in records.iter().zip(&got) {
        let g = g.as_ref().ok_or_else(|| super::CaseError(format!("{} missing", r.id)))?;
        ensure!(g.record == *r, "get({}) = {:?}, wrote {:?}", r.id, g.record, r);
    }
    ensure!(got[20].is_none(), "get of a missing id returned {:?}", got[20]);
    ensure!(e.stats("upsert_get").await?.live_records == 20, "stats miscount live records");
    Ok(())
}

/// Under cosine, the stored vector is the unit vector.
pub async fn cosine_vectors_are_stored_normalised(h: &dyn EngineHarness) -> CaseResult {
    let e = h.open(None).await?;
    e.create_collection(&config("cosine", 2).with_metric(DistanceMetric::Cosine)).await?;
    e.write("cosine", WriteBatch::new().upsert(VectorRecord::new("a", vec![3.0, 4.0]))).await?;
    let got = e.get("cosine", &["a".into()]).await?.remove(0).map(|r| r.record.vector);
    ensure!(got == Some(vec![0.6, 0.8]), "stored {got:?}, expected [0.6, 0.8]");
    expect_kind(
        e.write("cosine", WriteBatch::new().upsert(VectorRecord::new("z", vec![0.0, 0.0]))).await,
        ErrorKind::InvalidArgument,
        "zero vector under cosine",
    )
}

/// A second upsert of an id replaces the first everywhere.
pub async fn overwrite_keeps_newest(h: &dyn EngineHarness) -> CaseResult {
    let e = h.open(None).await?;
    e.create_collection(&config("overwrite", 4)).await?;
    e.write("overwrite", WriteBatch::from(vec![record(1, 4)])).await?;
    e.flush("overwrite").await?;
    let newer = VectorRecord::new("id1", vec![9.0; 4]).with_metadata(json!({"v": 2}));
    let receipt = e.write("overwrite", WriteBatch::new().upsert(newer.clone())).await?;
    let got = e.get("overwrite", &["id1".into()]).await?.remove(0);
    ensure!(got.as_ref().map(|g| (&g.record, g.seq)) == Some((&newer, receipt.last_seq)), "get returned {got:?}");
    let rows = current_rows(&*e, "overwrite").await?;
    ensure!(rows.len() == 1 && rows["id1"].vector == vec![9.0; 4], "view rows after overwrite: {rows:?}");
    Ok(())
}

/// A delete hides the record from `get` and views and records a tombstone.
pub async fn delete_hides_record(h: &dyn EngineHarness) -> CaseResult {
    let e = h.open(None).await?;
    e.create_collection(&config("delete", 4)).await?;
    e.write("delete", WriteBatch::from(vec![record(1, 4), record(2, 4)])).await?;
    e.flush("delete").await?;
    let receipt = e.write("delete", WriteBatch::new().delete("id1").delete("never-existed")).await?;
    ensure!(receipt.last_seq == receipt.first_seq + 1, "a delete of a missing id still takes a sequence number");
    ensure!(e.get("delete", &["id1".into()]).await?[0].is_none(), "deleted record still returned by get");
    let view = e.read_view("delete").await?;
    let rows = super::snapshot(&*view)?;
    ensure!(rows.keys().collect::<Vec<_>>() == ["id2"], "view rows after delete: {:?}", rows.keys());
    ensure!(
        view.tombstones().iter().any(|t| t.id == "id1" && t.seq == receipt.first_seq),
        "no tombstone for id1 at {}: {:?}",
        receipt.first_seq,
        view.tombstones()
    );
    e.write("delete", WriteBatch::from(vec![record(1, 4)])).await?;
    ensure!(e.get("delete", &["id1".into()]).await?[0].is_some(), "re-inserting a deleted id failed");
    Ok(())
}

/// Soft delete hides a record; restore brings the same record back.
pub async fn soft_delete_and_restore(h: &dyn EngineHarness) -> CaseResult {
    let e = h.open(None).await?;
    e.create_collection(&config("soft", 4)).await?;
    e.write("soft", WriteBatch::from(vec![record(1, 4), record(2, 4)])).await?;
    let before = e.get("soft", &["id1".into()]).await?.remove(0);
    e.flush("soft").await?;
    e.write("soft", WriteBatch::new().soft_delete("id1")).await?;
    ensure!(e.get("soft", &["id1".into()]).await?[0].is_none(), "soft-deleted record returned by get");
    let view = e.read_view("soft").await?;
    ensure!(!super::snapshot(&*view)?.contains_key("id1"), "soft-deleted record live in a view");
    ensure!(view.tombstones().iter().any(|t| t.id == "id1"), "soft delete left no tombstone");
    let stats = e.stats("soft").await?;
    ensure!(stats.live_records == 1 && stats.soft_deleted_records == 1, "stats after soft delete: {stats:?}");
    expect_kind(
        e.write("soft", WriteBatch::new().soft_delete("id1")).await,
        ErrorKind::NotFound,
        "second soft delete",
    )?;
    expect_kind(
        e.write("soft", WriteBatch::new().restore("id2")).await,
        ErrorKind::NotFound,
        "restore of a live record",
    )?;
    e.write("soft", WriteBatch::new().restore("id1")).await?;
    let after = e.get("soft", &["id1".into()]).await?.remove(0);
    ensure!(
        after.as_ref().map(|r| &r.record) == before.as_ref().map(|r| &r.record),
        "restore returned {after:?}, had {before:?}"
    );
    ensure!(current_rows(&*e, "soft").await?.contains_key("id1"), "restored record not live in a view");
    Ok(())
}

/// A metadata update replaces the metadata and keeps the vector.
pub async fn update_metadata_keeps_vector(h: &dyn EngineHarness) -> CaseResult {
    let e = h.open(None).await?;
    e.create_collection(&config("update_md", 4)).await?;
    e.write("update_md", WriteBatch::from(vec![record(1, 4)])).await?;
    e.flush("update_md").await?;
    let metadata: Metadata = json!({"color": "red"}).as_object().cloned().unwrap_or_default();
    let receipt = e.write("update_md", WriteBatch::new().update_metadata("id1", metadata.clone())).await?;
    let got = e.get("update_md", &["id1".into()]).await?.remove(0);
    let got = got.ok_or_else(|| super::CaseError("updated record missing".into()))?;
    ensure!(got.record.metadata == metadata, "metadata after update: {:?}", got.record.metadata);
    ensure!(got.record.vector == record(1, 4).vector, "update changed the vector");
    ensure!(got.seq == receipt.first_seq, "update did not take a new sequence number");
    let rows = current_rows(&*e, "update_md").await?;
    ensure!(rows.len() == 1 && rows["id1"].metadata == metadata, "view after update: {rows:?}");
    expect_kind(
        e.write("update_md", WriteBatch::new().update_metadata("nope", Metadata::new())).await,
        ErrorKind::NotFound,
        "update of a missing id",
    )
}

/// Records past their expiry are invisible to `get` and views.
pub async fn expired_records_are_invisible(h: &dyn EngineHarness) -> CaseResult {
    let e = h.open(None).await?;
    e.create_collection(&config("expiry", 2)).await?;
    let now = now_unix_secs();
    let mut old = VectorRecord::new("old", vec![1.0, 2.0]);
    old.expires_at = Some(now - 10);
    let mut fresh = VectorRecord::new("fresh", vec![1.0, 2.0]);
    fresh.expires_at = Some(now + 3600);
    e.write("expiry", WriteBatch::new().upsert(old).upsert(fresh)).await?;
    let got = e.get("expiry", &["old".into(), "fresh".into()]).await?;
    ensure!(got[0].is_none() && got[1].is_some(), "get with expiry: {got:?}");
    let rows = current_rows(&*e, "expiry").await?;
    ensure!(rows.keys().collect::<Vec<_>>() == ["fresh"], "visible rows: {:?}", rows.keys());
    expect_kind(
        e.write("expiry", WriteBatch::new().update_metadata("old", Metadata::new())).await,
        ErrorKind::NotFound,
        "update of an expired record",
    )
}

/// A batch with any bad operation is refused whole: the earlier valid operations are not applied.
pub async fn bad_input_changes_nothing(h: &dyn EngineHarness) -> CaseResult {
    let e = h.open(None).await?;
    let c = config("bad_input", 3).with_field("year", proxima_core::FieldType::Int);
    e.create_collection(&c).await?;
    e.write("bad_input", WriteBatch::from(vec![record(0, 3)])).await?;
    let before = current_rows(&*e, "bad_input").await?;
    let last_seq = e.stats("bad_input").await?.last_seq;
    let good = || WriteBatch::new().upsert(record(1, 3)).delete("id0");
    let cases: Vec<(&str, WriteBatch, ErrorKind)> = vec![
        ("wrong dimension", good().upsert(VectorRecord::new("x", vec![1.0; 4])), ErrorKind::InvalidArgument),
        ("NaN", good().upsert(VectorRecord::new("x", vec![1.0, f32::NAN, 0.0])), ErrorKind::InvalidArgument),
        ("infinity", good().upsert(VectorRecord::new("x", vec![f32::INFINITY, 0.0, 0.0])), ErrorKind::InvalidArgument),
        ("empty id", good().upsert(VectorRecord::new("", vec![1.0; 3])), ErrorKind::InvalidArgument),
        ("long id", good().upsert(VectorRecord::new("x".repeat(10_000), vec![1.0; 3])), ErrorKind::InvalidArgument),
        (
            "mistyped field",
            good().upsert(VectorRecord::new("x", vec![1.0; 3]).with_metadata(json!({"year": "nineteen"}))),
            ErrorKind::InvalidArgument,
        ),
        ("update of missing id", good().update_metadata("ghost", Metadata::new()), ErrorKind::NotFound),
        ("restore of live id", good().upsert(record(5, 3)).restore("id5"), ErrorKind::NotFound),
    ];
    for (what, batch, kind) in cases {
        expect_kind(e.write("bad_input", batch).await, kind, what)?;
        let after = current_rows(&*e, "bad_input").await?;
        ensure!(after == before, "refused batch ({what}) changed the collection: {:?}", after.keys());
        ensure!(e.stats("bad_input").await?.last_seq == last_seq, "refused batch ({what}) consumed sequence numbers");
    }
    expect_kind(e.write("no_such_collection", good()).await, ErrorKind::NotFound, "unknown collection")?;
    Ok(())
}

/// Receipts are increasing and contiguous, and records carry their receipt's sequence.
pub async fn sequence_numbers_increase(h: &dyn EngineHarness) -> CaseResult {
    let e = h.open(None).await?;
    e.create_collection(&config("seq", 2)).await?;
    let mut last = 0;
    for i in 0..10u64 {
        let batch = WriteBatch::from((0..=i).map(|j| record(i * 100 + j, 2)).collect::<Vec<_>>());
        let r = e.write("seq", batch).await?;
        ensure!(r.first_seq > last, "receipt {r:?} does not follow {last}");
        ensure!(r.last_seq - r.first_seq == i, "receipt {r:?} does not give one sequence per operation");
        let got = e.get("seq", &[format!("id{}", i * 100 + i)]).await?.remove(0);
        ensure!(got.map(|g| g.seq) == Some(r.last_seq), "record does not carry its receipt's sequence");
        last = r.last_seq;
    }
    let view = e.read_view("seq").await?;
    ensure!(view.seq() >= last, "view at {} misses writes up to {last}", view.seq());
    ensure!(e.stats("seq").await?.last_seq == last, "stats last_seq disagrees with receipts");
    Ok(())
}
