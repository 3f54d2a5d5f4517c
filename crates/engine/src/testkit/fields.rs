//! Cases on declaring a field on a collection that already holds records.

use proxima_core::{CollectionConfig, ErrorKind, FieldSpec, FieldType, VectorRecord};
use serde_json::json;

use super::{CaseResult, EngineHarness, config, current_rows, ensure, expect_kind, record};
use crate::{VectorStorage, WriteBatch};

fn int(name: &str) -> FieldSpec {
    FieldSpec { name: name.into(), ty: FieldType::Int }
}

async fn config_of(e: &dyn VectorStorage, name: &str) -> Result<CollectionConfig, super::CaseError> {
    let listed = e.list_collections().await?;
    listed.into_iter().find(|c| c.name == name).ok_or_else(|| super::CaseError(format!("`{name}` is not listed")))
}

/// A later declaration is refused, changing nothing, while a live or
/// soft-deleted record holds another type; accepted once none does (a deleted
/// one does not count). Writes are then checked against it; declaring it again
/// changes nothing, and with another type is refused.
pub async fn fields_declared_later(h: &dyn EngineHarness) -> CaseResult {
    let e = h.open(None).await?;
    e.create_collection(&config("later", 4)).await?;
    e.write("later", WriteBatch::from((0..30).map(|i| record(i, 4)).collect::<Vec<_>>())).await?;
    e.flush("later").await?;
    let odd = VectorRecord::new("odd", vec![1.0; 4]).with_metadata(json!({"i": 2.5}));
    e.write("later", WriteBatch::from(vec![odd, record(30, 4)])).await?;
    let rows = current_rows(&*e, "later").await?;

    expect_kind(e.declare_field("later", int("i")).await, ErrorKind::InvalidArgument, "a live record holds 2.5")?;
    e.write("later", WriteBatch::new().soft_delete("odd")).await?;
    expect_kind(e.declare_field("later", int("i")).await, ErrorKind::InvalidArgument, "a soft-deleted one does")?;
    ensure!(config_of(&*e, "later").await?.fields.is_empty(), "a refused declaration changed the config");
    e.write("later", WriteBatch::new().restore("odd")).await?;
    ensure!(current_rows(&*e, "later").await? == rows, "a refused declaration changed the rows");

    e.write("later", WriteBatch::new().delete("odd")).await?;
    ensure!(e.declare_field("later", int("i")).await?, "the declaration was refused with no record against it");
    ensure!(!e.declare_field("later", int("i")).await?, "declaring a field again changed something");
    let as_string = FieldSpec { name: "i".into(), ty: FieldType::String };
    expect_kind(e.declare_field("later", as_string).await, ErrorKind::InvalidArgument, "another type")?;
    expect_kind(e.declare_field("later", int("a..b")).await, ErrorKind::InvalidArgument, "not a dotted path")?;
    expect_kind(e.declare_field("missing", int("i")).await, ErrorKind::NotFound, "an unknown collection")?;
    ensure!(config_of(&*e, "later").await?.fields == vec![int("i")], "the config does not show the field");

    let mistyped = VectorRecord::new("x", vec![1.0; 4]).with_metadata(json!({"i": "seven"}));
    expect_kind(
        e.write("later", WriteBatch::from(vec![mistyped])).await,
        ErrorKind::InvalidArgument,
        "a mistyped write",
    )?;
    e.write("later", WriteBatch::from(vec![record(31, 4)])).await?;
    e.flush("later").await?;
    let after = current_rows(&*e, "later").await?;
    ensure!(after.len() == rows.len() && !after.contains_key("odd"), "rows were lost across the declaration");
    Ok(())
}

/// A declared field survives a reopen, before and after a flush.
pub async fn declared_fields_survive_reopen(h: &dyn EngineHarness) -> CaseResult {
    {
        let e = h.open(None).await?;
        e.create_collection(&config("declared", 4)).await?;
        e.write("declared", WriteBatch::from((0..10).map(|i| record(i, 4)).collect::<Vec<_>>())).await?;
        e.declare_field("declared", int("i")).await?;
        // Dropped without a flush, as after a crash.
    }
    for round in ["before a flush", "after a flush"] {
        let e = h.open(None).await?;
        ensure!(config_of(&*e, "declared").await?.fields == vec![int("i")], "the field was lost on reopen {round}");
        let mistyped = VectorRecord::new("x", vec![1.0; 4]).with_metadata(json!({"i": true}));
        expect_kind(e.write("declared", WriteBatch::from(vec![mistyped])).await, ErrorKind::InvalidArgument, round)?;
        ensure!(current_rows(&*e, "declared").await?.len() == 10, "rows were lost on reopen {round}");
        e.flush("declared").await?;
    }
    Ok(())
}
