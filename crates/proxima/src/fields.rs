//! Declaring a metadata field on a collection that already holds records:
//! each engine holding it checks its records and stores the field, then the
//! catalogue names it.

use proxima_core::{Error, ErrorKind, FieldSpec, Result};

use crate::Proxima;

/// Attempts at the catalogue update when a concurrent change of the entry wins.
const CATALOGUE_ATTEMPTS: usize = 3;

impl Proxima {
    /// Declares `field` on an existing collection: from now on writes are
    /// checked against its type, filters on it are answered from payload
    /// indexes, and Parquet segments written later carry it as a typed column.
    /// `Ok(false)` when it is declared already with that type.
    ///
    /// Refused (`InvalidArgument`, nothing changed) while a live or
    /// soft-deleted record holds a value of another type. Writes wait while
    /// the records are checked. A partitioned collection is declared one
    /// partition at a time: when a later partition refuses, the earlier ones
    /// already check the field, and declaring it again once the record is
    /// fixed completes it.
    pub async fn declare_field(&self, collection: &str, field: FieldSpec) -> Result<bool> {
        let gate = self.gates.of(collection);
        let _writes_wait = gate.write().await;
        let (holders, mut config) = self.holders(collection).await?;
        if !config.declare(field.clone())? {
            return Ok(false);
        }
        for (i, (_, engine)) in holders.iter().enumerate() {
            // Partitions before `i` check the field already.
            let declared_on = |e: Error| if i == 0 { e } else { e.with_context("partitions_declared", i) };
            engine.declare_field(collection, field.clone()).await.map_err(declared_on)?;
        }
        let value = serde_json::to_value(&config).map_err(|e| Error::internal(format!("config to JSON: {e}")))?;
        for attempt in 1..=CATALOGUE_ATTEMPTS {
            let mut entry =
                self.catalogue().get(collection).await?.ok_or_else(|| {
                    Error::not_found(format!("`{collection}` was dropped while a field was declared"))
                })?;
            entry.config = value.clone();
            match self.catalogue().update(entry).await {
                // A description or figures changed meanwhile: apply ours to the newer entry.
                Err(e) if e.kind() == ErrorKind::Conflict && attempt < CATALOGUE_ATTEMPTS => continue,
                other => {
                    other?;
                    break;
                }
            }
        }
        self.remember(config);
        Ok(true)
    }
}
