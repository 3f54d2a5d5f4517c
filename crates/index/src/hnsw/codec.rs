//! The HNSW file: magic `PXHNSW02`, a header of u32s, the level bytes, the
//! layer-0 array, the upper-layer offsets and lists, the codes if the graph
//! keeps them (a flag, then [`Sq8`]'s ranges, codes and norms), the row of
//! each node if it was renumbered (a flag, then the rows), and a crc32c.
//! Arrays are 4-byte aligned, so the layout can be mapped as it is. Files of
//! the first version (`PXHNSW01`, no codes section) still load, walking on the rows.

use proxima_core::Result;

use super::{Hnsw, HnswParams, MAX_M};
use crate::Distance;
use crate::Sq8;
use crate::bytes::{Reader, Writer};
use crate::visited::VisitedPool;

/// The current format.
pub(crate) const MAGIC: &[u8; 8] = b"PXHNSW02";
/// The format before codes: read, never written.
pub(crate) const MAGIC_V1: &[u8; 8] = b"PXHNSW01";
const NO_ENTRY: u32 = u32::MAX;

impl Hnsw {
    /// The graph as bytes ([`Hnsw::from_bytes`] loads them without rebuilding).
    pub fn to_bytes(&self) -> Vec<u8> {
        let mut w = Writer::new(MAGIC, self.memory_bytes() + 64);
        w.metric(self.metric);
        w.u32(self.dimension as u32);
        w.u32(self.len() as u32);
        w.u32(self.params.m as u32);
        w.u32(self.params.ef_construction as u32);
        w.u64(self.params.seed);
        let (entry, top) = self.entry.map_or((NO_ENTRY, 0), |(e, t)| (e, t as u32));
        w.u32(entry);
        w.u32(top);
        w.u32(self.upper.len() as u32);
        w.padded_bytes(&self.levels);
        w.u32s(&self.level0);
        w.u32s(&self.upper_offsets);
        w.u32s(&self.upper);
        w.u32(self.codes.is_some().into());
        if let Some(codes) = &self.codes {
            codes.write(&mut w);
        }
        w.u32(self.rows.is_some().into());
        if let Some(rows) = &self.rows {
            w.u32s(rows);
        }
        w.finish()
    }

    /// Loads a graph written by [`Hnsw::to_bytes`], checking its checksum and
    /// every id and count, so a damaged file gives `Corrupted` and never a panic later.
    pub fn from_bytes(bytes: &[u8]) -> Result<Self> {
        let version1 = bytes.get(..8) == Some(&MAGIC_V1[..]);
        let mut r = Reader::open(bytes, if version1 { MAGIC_V1 } else { MAGIC }, "hnsw index")?;
        let metric = r.metric()?;
        let dimension = r.u32()? as usize;
        let len = r.u32()? as usize;
        let m = r.u32()? as usize;
        let ef_construction = r.u32()? as usize;
        let seed = r.u64()?;
        let (entry, top) = (r.u32()?, r.u32()?);
        let upper_len = r.u32()? as usize;
        if !(2..=MAX_M).contains(&m) || dimension == 0 {
            return Err(r.corrupt("bad parameters"));
        }
        let levels = r.padded_bytes(len)?;
        let level0 = r.u32s(len * (2 * m + 1))?;
        let upper_offsets = r.u32s(len + 1)?;
        let upper = r.u32s(upper_len)?;
        let entry = match entry {
            NO_ENTRY if len == 0 => None,
            e if (e as usize) < len && top == levels[e as usize] as u32 => Some((e, top as u8)),
            _ => return Err(r.corrupt("bad entry point")),
        };
        let lists_ok = |lists: &[u32], stride: usize| {
            lists
                .chunks_exact(stride)
                .all(|l| (l[0] as usize) < stride && l[1..=l[0] as usize].iter().all(|&n| (n as usize) < len))
        };
        let offsets_ok = upper_offsets.first() == Some(&0)
            && upper_offsets.last() == Some(&(upper_len as u32))
            && upper_offsets
                .windows(2)
                .zip(&levels)
                .all(|(w, &l)| w[1].checked_sub(w[0]) == Some(l as u32 * (m as u32 + 1)));
        if !offsets_ok || !lists_ok(&level0, 2 * m + 1) || !lists_ok(&upper, m + 1) {
            return Err(r.corrupt("neighbour lists out of range"));
        }
        let codes = match if version1 { 0 } else { r.u32()? } {
            0 => None,
            1 => Some(Box::new(Sq8::read(&mut r, metric, dimension, len)?)),
            _ => return Err(r.corrupt("bad codes flag")),
        };
        let rows = match if version1 { 0 } else { r.u32()? } {
            0 => None,
            1 => Some(r.u32s(len)?),
            _ => return Err(r.corrupt("bad renumbering flag")),
        };
        if let Some(rows) = &rows {
            let mut seen = vec![false; len];
            let permutation =
                rows.iter().all(|&row| (row as usize) < len && !std::mem::replace(&mut seen[row as usize], true));
            if !permutation {
                return Err(r.corrupt("node rows are not a permutation"));
            }
        }
        r.finish()?;
        Ok(Hnsw {
            params: HnswParams { m, ef_construction, seed },
            metric,
            distance: Distance::new(metric),
            dimension,
            levels,
            level0,
            upper_offsets,
            upper,
            entry,
            codes,
            rows,
            visited: VisitedPool::default(),
        })
    }
}
