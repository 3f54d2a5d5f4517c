//! Moving a collection between engines, and re-applying the routing policy to
//! existing collections.
//!
//! A move copies the collection at one sequence number (the source engine's
//! checkpoint, which keeps sequence numbers), restores it on the target, then
//! switches the catalogue's assignment. Writes wait at the collection's gate
//! while this runs, so none is lost or left behind on the source; searches keep
//! running on the source (which is complete, as no write can land) until the
//! switch, then run on the target. A partitioned collection moves one
//! partition at a time the same way.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use proxima_core::{Error, ErrorKind, Result};
use serde::Serialize;
use tokio::sync::RwLock;

use crate::Proxima;

/// Per-collection gates: writes hold them shared, a move holds one exclusively.
#[derive(Debug, Default)]
pub(crate) struct Gates(Mutex<HashMap<String, Arc<RwLock<()>>>>);

impl Gates {
    pub(crate) fn of(&self, collection: &str) -> Arc<RwLock<()>> {
        let mut gates = self.0.lock().unwrap_or_else(|e| e.into_inner());
        match gates.get(collection) {
            Some(gate) => gate.clone(),
            None => gates.entry(collection.to_string()).or_default().clone(),
        }
    }
}

/// Records compared between source and target before a move switches over.
const SPOT_CHECKS: usize = 32;

/// One collection moved (or, with `dry_run`, that would be).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
pub struct Move {
    /// The collection.
    pub collection: String,
    /// Where it was.
    pub from: String,
    /// Where it is now.
    pub to: String,
    /// Live records; the target held as many as the source before the switch.
    pub records: u64,
    /// Records read on both sides and found equal before the switch.
    pub spot_checked: usize,
    /// Nothing was moved: this is what would happen.
    pub dry_run: bool,
}

impl Proxima {
    /// Moves `collection` to the engine `to`; afterwards the catalogue routes
    /// everything there and the source holds nothing of it.
    pub async fn migrate_collection(&self, collection: &str, to: &str) -> Result<Move> {
        self.move_collection(collection, to, false).await
    }

    /// [`Proxima::migrate_collection`], or with `dry_run` only the checks and
    /// what would move. Before the catalogue switches, the target must hold as
    /// many live records as the source and up to 32 records read on both sides
    /// must be equal; otherwise the target copy is dropped and the source stays.
    /// A partitioned collection moves one partition at a time: see
    /// [`Proxima::move_partition`].
    pub async fn move_collection(&self, collection: &str, to: &str, dry_run: bool) -> Result<Move> {
        self.move_holder(collection, None, to, dry_run).await
    }

    /// Moves the partition of `collection` held by engine `from` to engine
    /// `to`, which must not hold another of its partitions. Ids keep their
    /// partition: only the engine behind it changes.
    pub async fn move_partition(&self, collection: &str, from: &str, to: &str, dry_run: bool) -> Result<Move> {
        self.move_holder(collection, Some(from), to, dry_run).await
    }

    async fn move_holder(&self, collection: &str, from: Option<&str>, to: &str, dry_run: bool) -> Result<Move> {
        let target = self.engine_named(to)?;
        let gate = self.gates.of(collection);
        let _writes_wait = gate.write().await;
        let (holders, mut config) = self.holders(collection).await?;
        let held_by = || holders.iter().map(|(n, _)| n.as_str()).collect::<Vec<_>>().join(", ");
        let index = match from {
            None if config.partitions.is_empty() => 0,
            None => {
                return Err(Error::invalid(format!(
                    "`{collection}` is partitioned over {}; name the partition to move by its engine (`from`)",
                    held_by()
                )));
            }
            Some(from) => holders.iter().position(|(n, _)| n == from).ok_or_else(|| {
                Error::invalid(format!("`{collection}` has nothing on engine `{from}`; it is held by {}", held_by()))
            })?,
        };
        let (from, source) = holders[index].clone();
        if from != to && holders.iter().any(|(n, _)| n == to) {
            return Err(Error::invalid(format!(
                "engine `{to}` already holds another partition of `{collection}`; a partition needs an engine of its own"
            )));
        }
        let records = source.stats(collection).await?.live_records;
        let planned = Move {
            collection: collection.into(),
            from: from.clone(),
            to: to.into(),
            records,
            spot_checked: 0,
            dry_run,
        };
        if from == to || dry_run {
            return Ok(planned);
        }
        let dir = self.data_dir.join("migrations").join(format!("{collection}-{}", proxima_core::now_unix_secs()));
        std::fs::create_dir_all(&dir).map_err(|e| Error::io("cannot create the migration directory", e))?;
        let moved = async {
            source.checkpoint_to(collection, &dir).await?;
            target.restore_from(collection, &dir).await?;
            let spot_checked = verify_copy(collection, &*source, &*target).await?;
            // The switch: one catalogue update names the new engine.
            let mut entry = self
                .catalogue()
                .get(collection)
                .await?
                .ok_or_else(|| Error::not_found(format!("`{collection}` was dropped during its move")))?;
            if config.partitions.is_empty() {
                config.engine = Some(to.to_string());
            } else {
                config.partitions[index] = to.to_string();
            }
            entry.config =
                serde_json::to_value(&config).map_err(|e| Error::internal(format!("config to JSON: {e}")))?;
            self.catalogue().update(entry).await?;
            self.remember(config.clone());
            Ok::<_, Error>(spot_checked)
        }
        .await;
        let _ = std::fs::remove_dir_all(&dir);
        let spot_checked = match moved {
            Ok(checked) => checked,
            Err(e) => {
                // The source is untouched and still named by the catalogue; clear the partial copy.
                let _ = target.drop_collection(collection).await;
                return Err(e);
            }
        };
        match source.drop_collection(collection).await {
            Ok(()) => {}
            Err(e) if e.kind() == ErrorKind::NotFound => {}
            Err(e) => tracing::warn!(collection, error = %e, "moved, but the source copy could not be dropped"),
        }
        Ok(Move { spot_checked, ..planned })
    }

    /// Places every existing collection again under the current routing
    /// strategy (sized by its live records) and moves those that belong elsewhere.
    pub async fn rebalance_collections(&self) -> Result<Vec<Move>> {
        let mut moves = Vec::new();
        for config in self.list_collections().await? {
            if !config.partitions.is_empty() {
                continue; // spread by id over fixed engines; nothing to move
            }
            let live = self.stats(&config.name).await?.live_records;
            let current = config.engine.clone().unwrap_or_else(|| self.default_engine().to_string());
            let mut unplaced = config.clone();
            unplaced.engine = None;
            let wanted = self.place_for(&unplaced, live, crate::routing::PlacementOperation::Rebalance).await?;
            if wanted != current {
                moves.push(self.migrate_collection(&config.name, &wanted).await?);
            }
        }
        Ok(moves)
    }
}

/// Compares the copy with its source: live counts, then up to `SPOT_CHECKS`
/// records spread over the source's segments. Returns how many were compared.
async fn verify_copy(
    collection: &str,
    source: &dyn proxima_engine::VectorStorage,
    target: &dyn proxima_engine::VectorStorage,
) -> Result<usize> {
    let (had, has) = (source.stats(collection).await?.live_records, target.stats(collection).await?.live_records);
    if had != has {
        return Err(Error::internal(format!("the copy of `{collection}` holds {has} live records, the source {had}")));
    }
    let view = source.read_view(collection).await?;
    let rows: usize = view.segments().iter().map(|s| s.live().count_ones()).sum();
    let step = (rows / SPOT_CHECKS).max(1);
    let ids: Vec<String> = view
        .segments()
        .iter()
        .flat_map(|s| s.live().ones().map(move |row| s.id(row).to_string()))
        .step_by(step)
        .take(SPOT_CHECKS)
        .collect();
    let (before, after) = (source.get(collection, &ids).await?, target.get(collection, &ids).await?);
    for ((id, a), b) in ids.iter().zip(&before).zip(&after) {
        let same = match (a, b) {
            (Some(a), Some(b)) => a.record == b.record,
            (None, None) => true,
            _ => false,
        };
        if !same {
            return Err(Error::internal(format!("the copy of `{collection}` differs from its source at `{id}`")));
        }
    }
    Ok(ids.len())
}
