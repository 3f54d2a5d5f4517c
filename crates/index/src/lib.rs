#![doc = include_str!("../README.md")]
#![deny(missing_docs)]

mod bytes;
mod flat;
mod flat_batch;
mod hnsw;
mod ivf;
mod kernels;
mod prefetch;
mod segment;
mod sq8;
mod topk;
mod visited;

pub use flat::{flat_search, flat_search_rows};
pub use flat_batch::{BatchQueries, flat_search_batch};
pub use hnsw::{Hnsw, HnswBuilder, HnswParams, MAX_M, SearchStats};
pub use ivf::{Ivf, IvfParams};
pub use kernels::{Distance, Isa, Kernels, score_of};
pub use segment::{IndexParts, IndexSummary, SegmentIndex};
pub use sq8::{Sq8, Sq8Query};
pub use topk::{Neighbor, TopK};
