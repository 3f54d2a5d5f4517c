#![doc = include_str!("../README.md")]
#![deny(missing_docs)]

mod batch;
mod cache;
mod estimate;
mod handler;
mod indexer;
mod merge;
mod payload;
mod plan;

pub use cache::IndexCache;
pub use estimate::QueryEstimate;
pub use handler::{PerformanceInfo, SearchContext, SearchResponse, VectorSearchHandler};
pub use indexer::SegmentIndexer;
pub use merge::{Candidate, merge_candidates};
pub use plan::{FLAT_MAX_ROWS, FilterSource, Method, SegmentPlan, ef_for_accuracy, nprobe_for_accuracy};
