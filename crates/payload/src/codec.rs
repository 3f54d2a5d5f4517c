//! The stored form: `PXPAY001`, the row count, each field (name, type,
//! present rows, postings), then a CRC-32C of everything before it.

use std::collections::BTreeMap;

use proxima_core::{Error, Result};
use roaring::RoaringBitmap;

use crate::PayloadIndex;
use crate::field::{FieldIndex, Float, Values};
use crate::postings::Postings;

const MAGIC: &[u8; 8] = b"PXPAY001";

impl PayloadIndex {
    /// The index as bytes.
    pub fn to_bytes(&self) -> Vec<u8> {
        let mut out = Writer(MAGIC.to_vec());
        out.u32(self.rows);
        out.u32(self.fields.len() as u32);
        for (name, field) in &self.fields {
            out.bytes(name.as_bytes());
            out.bitmap(&field.present);
            match &field.values {
                Values::Str(p) => out.postings(0, p, |o, k| o.bytes(k.as_bytes())),
                Values::Int(p) => out.postings(1, p, |o, k| o.0.extend_from_slice(&k.to_le_bytes())),
                Values::Float(p) => out.postings(2, p, |o, k| o.0.extend_from_slice(&k.0.to_le_bytes())),
                Values::Bool(p) => out.postings(3, p, |o, k| o.0.push(u8::from(*k))),
            }
        }
        let crc = crc32c::crc32c(&out.0);
        out.u32(crc);
        out.0
    }

    /// Reads bytes written by [`PayloadIndex::to_bytes`]; damaged bytes are `Corrupted`.
    pub fn from_bytes(bytes: &[u8]) -> Result<Self> {
        let corrupt = |why: &str| Error::corrupted(format!("payload index: {why}"));
        let (body, crc) = bytes.split_at_checked(bytes.len().saturating_sub(4)).ok_or_else(|| corrupt("truncated"))?;
        if body.get(..8) != Some(&MAGIC[..]) {
            return Err(corrupt("unknown format"));
        }
        if crc.len() != 4 || crc32c::crc32c(body).to_le_bytes() != crc {
            return Err(corrupt("checksum mismatch"));
        }
        let mut input = Reader(&body[8..]);
        let rows = input.u32()?;
        let mut fields = BTreeMap::new();
        for _ in 0..input.u32()? {
            let name = input.string()?;
            let present = input.bitmap()?;
            let values = match input.u8()? {
                0 => Values::Str(input.postings(Reader::string)?),
                1 => Values::Int(input.postings(|r| Ok(i64::from_le_bytes(r.array()?)))?),
                2 => Values::Float(input.postings(|r| Ok(Float(f64::from_le_bytes(r.array()?))))?),
                3 => Values::Bool(input.postings(|r| Ok(r.u8()? != 0))?),
                _ => return Err(corrupt("unknown field type")),
            };
            fields.insert(name, FieldIndex { present, values });
        }
        if !input.0.is_empty() {
            return Err(corrupt("trailing bytes"));
        }
        Ok(PayloadIndex { rows, fields })
    }
}

struct Writer(Vec<u8>);

impl Writer {
    fn u32(&mut self, n: u32) {
        self.0.extend_from_slice(&n.to_le_bytes());
    }

    fn bytes(&mut self, b: &[u8]) {
        self.u32(b.len() as u32);
        self.0.extend_from_slice(b);
    }

    fn bitmap(&mut self, rows: &RoaringBitmap) {
        self.u32(rows.serialized_size() as u32);
        rows.serialize_into(&mut self.0).expect("writing to a Vec");
    }

    fn postings<K>(&mut self, ty: u8, postings: &Postings<K>, key: impl Fn(&mut Self, &K)) {
        self.0.push(ty);
        match postings {
            Postings::Inverted(map) => {
                self.0.push(0);
                self.u32(map.len() as u32);
                for (k, rows) in map {
                    key(self, k);
                    self.bitmap(rows);
                }
            }
            Postings::Sorted { keys, rows, .. } => {
                self.0.push(1);
                self.u32(keys.len() as u32);
                for (k, row) in keys.iter().zip(rows) {
                    key(self, k);
                    self.u32(*row);
                }
            }
        }
    }
}

struct Reader<'a>(&'a [u8]);

impl Reader<'_> {
    fn take(&mut self, n: usize) -> Result<&[u8]> {
        let (head, rest) = self.0.split_at_checked(n).ok_or_else(|| Error::corrupted("payload index: truncated"))?;
        self.0 = rest;
        Ok(head)
    }

    fn array<const N: usize>(&mut self) -> Result<[u8; N]> {
        Ok(self.take(N)?.try_into().expect("N bytes"))
    }

    fn u8(&mut self) -> Result<u8> {
        Ok(self.array::<1>()?[0])
    }

    fn u32(&mut self) -> Result<u32> {
        Ok(u32::from_le_bytes(self.array()?))
    }

    fn string(&mut self) -> Result<String> {
        let n = self.u32()? as usize;
        String::from_utf8(self.take(n)?.to_vec()).map_err(|_| Error::corrupted("payload index: a name is not UTF-8"))
    }

    fn bitmap(&mut self) -> Result<RoaringBitmap> {
        let n = self.u32()? as usize;
        RoaringBitmap::deserialize_from(self.take(n)?)
            .map_err(|e| Error::corrupted(format!("payload index: a bitmap is damaged: {e}")))
    }

    fn postings<K: Ord + Clone>(&mut self, key: impl Fn(&mut Self) -> Result<K>) -> Result<Postings<K>> {
        let shape = self.u8()?;
        let n = self.u32()? as usize;
        // Lengths come from the file: bound them by the bytes left before allocating.
        if n > self.0.len() {
            return Err(Error::corrupted("payload index: a length runs past the end"));
        }
        match shape {
            0 => {
                let mut map = BTreeMap::new();
                for _ in 0..n {
                    let k = key(self)?;
                    map.insert(k, self.bitmap()?);
                }
                Ok(Postings::Inverted(map))
            }
            1 => {
                let (mut keys, mut rows) = (Vec::with_capacity(n), Vec::with_capacity(n));
                for _ in 0..n {
                    keys.push(key(self)?);
                    rows.push(self.u32()?);
                }
                if keys.windows(2).any(|w| w[0] > w[1]) {
                    return Err(Error::corrupted("payload index: postings out of order"));
                }
                Ok(Postings::sorted(keys, rows))
            }
            _ => Err(Error::corrupted("payload index: unknown postings shape")),
        }
    }
}
