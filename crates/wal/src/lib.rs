#![doc = include_str!("../README.md")]
#![deny(missing_docs)]

mod frame;
mod segment;
mod spare;
mod wal;

pub use wal::{SeqRange, SyncPoint, Wal, WalOptions, WalStats};
