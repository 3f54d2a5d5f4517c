//! The little-endian byte layout shared by index files: an 8-byte magic, the
//! body, and a crc32c of everything before it.

use proxima_core::{DistanceMetric, Error, Result};

/// Appends values to an index file.
pub(crate) struct Writer {
    buf: Vec<u8>,
}

impl Writer {
    pub(crate) fn new(magic: &[u8; 8], capacity: usize) -> Self {
        let mut buf = Vec::with_capacity(capacity + 12);
        buf.extend_from_slice(magic);
        Self { buf }
    }

    pub(crate) fn u32(&mut self, v: u32) {
        self.buf.extend_from_slice(&v.to_le_bytes());
    }

    pub(crate) fn u64(&mut self, v: u64) {
        self.buf.extend_from_slice(&v.to_le_bytes());
    }

    pub(crate) fn u32s(&mut self, vs: &[u32]) {
        self.buf.reserve(vs.len() * 4);
        vs.iter().for_each(|v| self.u32(*v));
    }

    pub(crate) fn f32s(&mut self, vs: &[f32]) {
        self.buf.reserve(vs.len() * 4);
        vs.iter().for_each(|v| self.buf.extend_from_slice(&v.to_le_bytes()));
    }

    /// Bytes, zero-padded to a multiple of four so the arrays after them stay aligned.
    pub(crate) fn padded_bytes(&mut self, bytes: &[u8]) {
        self.buf.extend_from_slice(bytes);
        self.buf.resize(self.buf.len().next_multiple_of(4), 0);
    }

    pub(crate) fn metric(&mut self, metric: DistanceMetric) {
        self.u32(match metric {
            DistanceMetric::Cosine => 0,
            DistanceMetric::Dot => 1,
            DistanceMetric::Euclidean => 2,
        });
    }

    /// The file, checksum appended.
    pub(crate) fn finish(mut self) -> Vec<u8> {
        let crc = crc32c::crc32c(&self.buf);
        self.u32(crc);
        self.buf
    }
}

/// Reads an index file written by [`Writer`], checking bounds as it goes.
pub(crate) struct Reader<'a> {
    body: &'a [u8],
    at: usize,
    what: &'static str,
}

impl<'a> Reader<'a> {
    /// Checks the magic and the checksum.
    pub(crate) fn open(bytes: &'a [u8], magic: &[u8; 8], what: &'static str) -> Result<Self> {
        if bytes.len() < 12 || &bytes[..8] != magic {
            return Err(Error::corrupted(format!("{what}: not an index of this kind (bad magic)")));
        }
        let (body, crc) = bytes.split_at(bytes.len() - 4);
        let stored = u32::from_le_bytes(crc.try_into().expect("4 bytes"));
        if crc32c::crc32c(body) != stored {
            return Err(Error::corrupted(format!("{what}: checksum mismatch")));
        }
        Ok(Self { body, at: 8, what })
    }

    fn take(&mut self, n: usize) -> Result<&'a [u8]> {
        let end = self.at.checked_add(n).filter(|&e| e <= self.body.len());
        let end = end.ok_or_else(|| self.corrupt("truncated"))?;
        let out = &self.body[self.at..end];
        self.at = end;
        Ok(out)
    }

    pub(crate) fn corrupt(&self, why: &str) -> Error {
        Error::corrupted(format!("{}: {why}", self.what))
    }

    pub(crate) fn u32(&mut self) -> Result<u32> {
        Ok(u32::from_le_bytes(self.take(4)?.try_into().expect("4 bytes")))
    }

    pub(crate) fn u64(&mut self) -> Result<u64> {
        Ok(u64::from_le_bytes(self.take(8)?.try_into().expect("8 bytes")))
    }

    pub(crate) fn u32s(&mut self, n: usize) -> Result<Vec<u32>> {
        let raw = self.take(n.checked_mul(4).ok_or_else(|| self.corrupt("length overflow"))?)?;
        Ok(raw.chunks_exact(4).map(|c| u32::from_le_bytes(c.try_into().expect("4 bytes"))).collect())
    }

    pub(crate) fn f32s(&mut self, n: usize) -> Result<Vec<f32>> {
        let raw = self.take(n.checked_mul(4).ok_or_else(|| self.corrupt("length overflow"))?)?;
        Ok(raw.chunks_exact(4).map(|c| f32::from_le_bytes(c.try_into().expect("4 bytes"))).collect())
    }

    pub(crate) fn padded_bytes(&mut self, n: usize) -> Result<Vec<u8>> {
        let raw = self.take(n.next_multiple_of(4))?;
        Ok(raw[..n].to_vec())
    }

    pub(crate) fn metric(&mut self) -> Result<DistanceMetric> {
        match self.u32()? {
            0 => Ok(DistanceMetric::Cosine),
            1 => Ok(DistanceMetric::Dot),
            2 => Ok(DistanceMetric::Euclidean),
            other => Err(self.corrupt(&format!("unknown metric {other}"))),
        }
    }

    /// Fails unless every byte was read.
    pub(crate) fn finish(self) -> Result<()> {
        if self.at == self.body.len() { Ok(()) } else { Err(self.corrupt("trailing bytes")) }
    }
}
