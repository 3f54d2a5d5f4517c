#![doc = include_str!("../README.md")]
#![deny(missing_docs)]

mod frame;
#[cfg(feature = "object-store")]
mod object;
mod segment;
mod spare;
mod wal;

#[cfg(feature = "object-store")]
pub use object::{ClaimedLog, ObjectLog};
pub use wal::{SeqRange, SyncPoint, Wal, WalOptions, WalStats};
