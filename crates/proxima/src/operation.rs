//! Operations as values: what a queue, an RPC layer or a script hands the
//! coordinator, executed by one entry point.

use proxima_core::{CollectionConfig, Result, SearchRequest, VectorRecord};
use proxima_engine::{CollectionStats, StoredRecord, WriteBatch, WriteReceipt};
use serde::{Deserialize, Serialize};

use crate::{Proxima, SearchStrategy, UnifiedSearchResponse};

/// The coordinator: [`Proxima`] under the name the design uses.
pub type VectorStorageCoordinator = Proxima;

/// One operation on the database.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case", tag = "op")]
pub enum VectorOperation {
    /// Create a collection (placed by the routing strategy unless it names engines).
    CreateCollection {
        /// Its config.
        config: CollectionConfig,
        /// Records it is expected to hold, for size-based routing.
        #[serde(default)]
        expected_records: u64,
    },
    /// Drop a collection.
    DropCollection {
        /// Its name.
        collection: String,
    },
    /// Apply a write batch.
    Write {
        /// The collection.
        collection: String,
        /// The operations.
        batch: WriteBatch,
    },
    /// Insert or replace records.
    Upsert {
        /// The collection.
        collection: String,
        /// The records.
        records: Vec<VectorRecord>,
    },
    /// Delete records.
    Delete {
        /// The collection.
        collection: String,
        /// Their ids.
        ids: Vec<String>,
    },
    /// Read records by id.
    Get {
        /// The collection.
        collection: String,
        /// Their ids.
        ids: Vec<String>,
    },
    /// Search.
    Search {
        /// The collection.
        collection: String,
        /// The query.
        request: SearchRequest,
        /// Where it goes.
        #[serde(default)]
        strategy: SearchStrategy,
    },
    /// Seal write buffers.
    Flush {
        /// The collection.
        collection: String,
    },
    /// Figures about a collection.
    Stats {
        /// The collection.
        collection: String,
    },
}

/// What an operation returned.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "snake_case", tag = "outcome")]
pub enum OperationOutcome {
    /// The collection as created.
    Created(CollectionConfig),
    /// Done, nothing to return.
    Done,
    /// A write's sequence numbers.
    Written(WriteReceipt),
    /// Records, in the order asked.
    Records(Vec<Option<StoredRecord>>),
    /// Search hits.
    Hits(UnifiedSearchResponse),
    /// Figures.
    Stats(CollectionStats),
}

impl Proxima {
    /// Routes `operation` to the engines holding its collection and runs it
    /// there; latencies and outcomes go to the analytics, flush figures to the catalogue.
    pub async fn execute_operation(&self, operation: VectorOperation) -> Result<OperationOutcome> {
        Ok(match operation {
            VectorOperation::CreateCollection { config, expected_records } => {
                OperationOutcome::Created(self.create_collection_sized(config, expected_records).await?)
            }
            VectorOperation::DropCollection { collection } => {
                self.drop_collection(&collection).await?;
                OperationOutcome::Done
            }
            VectorOperation::Write { collection, batch } => {
                OperationOutcome::Written(self.write(&collection, batch).await?)
            }
            VectorOperation::Upsert { collection, records } => {
                OperationOutcome::Written(self.upsert(&collection, records).await?)
            }
            VectorOperation::Delete { collection, ids } => {
                OperationOutcome::Written(self.delete(&collection, ids).await?)
            }
            VectorOperation::Get { collection, ids } => OperationOutcome::Records(self.get(&collection, &ids).await?),
            VectorOperation::Search { collection, request, strategy } => {
                OperationOutcome::Hits(self.unified_search(&collection, request, &strategy).await?)
            }
            VectorOperation::Flush { collection } => {
                self.flush(&collection).await?;
                OperationOutcome::Done
            }
            VectorOperation::Stats { collection } => OperationOutcome::Stats(self.stats(&collection).await?),
        })
    }
}
