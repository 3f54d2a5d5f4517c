//! The byte form of an entry, for the layers that store bytes (L2, L3):
//! checksummed, so a damaged value is a miss and never a wrong answer.
//!
//! `"PXC1"`, crc32c (LE u32) of the rest, expiry in unix ms (LE u64, 0 for
//! none), the key, the tags (a LE u32 count, then each), the value; every
//! string and the value as a LE u32 length and its bytes.

use bytes::Bytes;

use crate::CacheEntry;

const MAGIC: &[u8; 4] = b"PXC1";

/// Encodes an entry.
pub(crate) fn encode(entry: &CacheEntry) -> Vec<u8> {
    let mut body = Vec::with_capacity(entry.weight() as usize + 32);
    body.extend_from_slice(&entry.expires_at_ms.unwrap_or(0).to_le_bytes());
    put(&mut body, entry.key.as_bytes());
    body.extend_from_slice(&(entry.tags.len() as u32).to_le_bytes());
    for tag in &entry.tags {
        put(&mut body, tag.as_bytes());
    }
    put(&mut body, &entry.value);
    let mut out = Vec::with_capacity(body.len() + 8);
    out.extend_from_slice(MAGIC);
    out.extend_from_slice(&crc32c::crc32c(&body).to_le_bytes());
    out.extend_from_slice(&body);
    out
}

fn put(out: &mut Vec<u8>, bytes: &[u8]) {
    out.extend_from_slice(&(bytes.len() as u32).to_le_bytes());
    out.extend_from_slice(bytes);
}

/// Decodes an entry; `None` for anything damaged or truncated.
pub(crate) fn decode(bytes: &[u8]) -> Option<CacheEntry> {
    let body = bytes.strip_prefix(MAGIC)?;
    let (crc, body) = body.split_first_chunk::<4>()?;
    if u32::from_le_bytes(*crc) != crc32c::crc32c(body) {
        return None;
    }
    let mut reader = Reader(body);
    let expires = u64::from_le_bytes(*reader.take_array::<8>()?);
    let key = String::from_utf8(reader.take_sized()?.to_vec()).ok()?;
    let count = u32::from_le_bytes(*reader.take_array::<4>()?);
    let mut tags = Vec::with_capacity(count.min(1_024) as usize);
    for _ in 0..count {
        tags.push(String::from_utf8(reader.take_sized()?.to_vec()).ok()?);
    }
    let value = Bytes::copy_from_slice(reader.take_sized()?);
    reader.0.is_empty().then_some(CacheEntry { key, value, tags, expires_at_ms: (expires != 0).then_some(expires) })
}

struct Reader<'a>(&'a [u8]);

impl<'a> Reader<'a> {
    fn take_array<const N: usize>(&mut self) -> Option<&'a [u8; N]> {
        let (head, rest) = self.0.split_first_chunk::<N>()?;
        self.0 = rest;
        Some(head)
    }

    fn take_sized(&mut self) -> Option<&'a [u8]> {
        let len = u32::from_le_bytes(*self.take_array::<4>()?) as usize;
        let (head, rest) = (self.0.get(..len)?, self.0.get(len..)?);
        self.0 = rest;
        Some(head)
    }
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use super::*;

    proptest! {
        #[test]
        fn entries_round_trip(key in ".{0,40}", value in proptest::collection::vec(any::<u8>(), 0..200),
                              tags in proptest::collection::vec("[a-z]{0,8}", 0..4), expiry in proptest::option::of(1u64..)) {
            let entry = CacheEntry { key, value: Bytes::from(value), tags, expires_at_ms: expiry };
            prop_assert_eq!(decode(&encode(&entry)), Some(entry));
        }

        #[test]
        fn any_damage_is_refused(flip in 0usize..60, bit in 0u8..8) {
            let entry = CacheEntry::new("collection/v3/query", b"answer bytes".to_vec()).with_tag("docs");
            let mut bytes = encode(&entry);
            let at = flip % bytes.len();
            bytes[at] ^= 1 << bit;
            prop_assert_eq!(decode(&bytes), None);
        }

        #[test]
        fn truncations_are_refused(keep in 0usize..40) {
            let bytes = encode(&CacheEntry::new("k", b"value".to_vec()).with_tag("t"));
            prop_assert_eq!(decode(&bytes[..keep.min(bytes.len() - 1)]), None);
        }
    }
}
