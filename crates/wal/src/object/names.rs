//! Object names: the sequence range and the epoch of the writer that put it,
//! so replay and truncation choose objects from a listing alone.

use proxima_core::{Error, Result};

const SUFFIX: &str = ".log";

/// What an object's name says about it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub(crate) struct ObjectName {
    pub(crate) first_seq: u64,
    pub(crate) last_seq: u64,
    pub(crate) epoch: u64,
}

impl ObjectName {
    /// `<first_seq>-<last_seq>-<epoch>.log`, zero-padded so names sort by sequence.
    pub(crate) fn file(&self) -> String {
        format!("{:020}-{:020}-{:020}{SUFFIX}", self.first_seq, self.last_seq, self.epoch)
    }

    /// Parses a file name; `None` for a name that is not an object of the log.
    pub(crate) fn parse(file: &str) -> Result<Option<Self>> {
        let Some(stem) = file.strip_suffix(SUFFIX) else { return Ok(None) };
        let parts: Vec<&str> = stem.split('-').collect();
        let numbers: Option<Vec<u64>> = parts.iter().map(|p| p.parse().ok()).collect();
        match numbers.as_deref() {
            Some(&[first_seq, last_seq, epoch]) if first_seq <= last_seq => {
                Ok(Some(Self { first_seq, last_seq, epoch }))
            }
            _ => Err(Error::corrupted("unexpected object in the log's directory").with_context("object", file)),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_round_trip_and_sort_by_sequence() {
        let a = ObjectName { first_seq: 9, last_seq: 12, epoch: 3 };
        let b = ObjectName { first_seq: 13, last_seq: 13, epoch: 2 };
        assert_eq!(ObjectName::parse(&a.file()).unwrap(), Some(a));
        assert!(a.file() < b.file());
        assert_eq!(ObjectName::parse("WRITER").unwrap(), None);
        assert!(ObjectName::parse("12-x-3.log").is_err());
        assert!(ObjectName::parse("12-3-3.log").is_err(), "a range that ends before it starts");
    }
}
