#![doc = include_str!("../README.md")]
#![deny(missing_docs)]

mod codec;
mod field;
mod index;
mod postings;

pub use index::{Answer, PayloadIndex};
