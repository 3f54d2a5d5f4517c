//! Serde glue for vectors inside binary formats.
//!
//! In human-readable formats (the JSON API) a vector stays a list of numbers.
//! In binary ones (bincode in the write-ahead log and the LSM's runs) it travels
//! as one byte string of little-endian `f32`s: one copy, instead of a serialiser
//! call per component (that serialiser was 2–3% of an ingest profile's CPU at
//! 50-d).

use serde::de::Visitor;
use serde::{Deserialize, Deserializer, Serialize, Serializer};

/// Serialises `vector` as a list (human-readable formats) or as bytes.
pub fn serialize<S: Serializer>(vector: &[f32], serializer: S) -> Result<S::Ok, S::Error> {
    if serializer.is_human_readable() {
        return vector.serialize(serializer);
    }
    #[cfg(target_endian = "little")]
    {
        // The floats' own memory is their little-endian bytes: no copy to make
        // (the copy and its allocation were ~2% of a 50-d ingest's CPU).
        // SAFETY: the pointer and length are those of `vector`, borrowed for
        // this call; f32 has no padding, so every byte is initialised, and u8
        // has no alignment to meet.
        let bytes = unsafe { std::slice::from_raw_parts(vector.as_ptr().cast::<u8>(), std::mem::size_of_val(vector)) };
        serializer.serialize_bytes(bytes)
    }
    #[cfg(not(target_endian = "little"))]
    {
        let bytes: Vec<u8> = vector.iter().flat_map(|x| x.to_le_bytes()).collect();
        serializer.serialize_bytes(&bytes)
    }
}

/// The inverse of [`serialize`].
pub fn deserialize<'de, D: Deserializer<'de>>(deserializer: D) -> Result<Vec<f32>, D::Error> {
    if deserializer.is_human_readable() {
        Vec::<f32>::deserialize(deserializer)
    } else {
        deserializer.deserialize_bytes(BytesVisitor)
    }
}

struct BytesVisitor;

impl Visitor<'_> for BytesVisitor {
    type Value = Vec<f32>;

    fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("a byte string of little-endian f32 values")
    }

    fn visit_bytes<E: serde::de::Error>(self, bytes: &[u8]) -> Result<Vec<f32>, E> {
        if !bytes.len().is_multiple_of(4) {
            return Err(E::invalid_length(bytes.len(), &self));
        }
        Ok(bytes.chunks_exact(4).map(|b| f32::from_le_bytes([b[0], b[1], b[2], b[3]])).collect())
    }

    fn visit_byte_buf<E: serde::de::Error>(self, bytes: Vec<u8>) -> Result<Vec<f32>, E> {
        self.visit_bytes(&bytes)
    }
}

#[cfg(test)]
mod tests {
    use crate::VectorRecord;

    fn config() -> bincode::config::Configuration {
        bincode::config::standard()
    }

    #[test]
    fn binary_formats_carry_vectors_as_bytes_and_json_as_lists() {
        let record = VectorRecord::new("a", vec![1.5, -0.0, f32::MIN_POSITIVE, 3.0e38]);
        let binary = bincode::serde::encode_to_vec(&record, config()).unwrap();
        let (back, _): (VectorRecord, usize) = bincode::serde::decode_from_slice(&binary, config()).unwrap();
        assert_eq!(back, record);
        assert_eq!(back.vector[1].to_bits(), (-0.0f32).to_bits(), "bit-exact, sign of zero included");
        // The four floats are one 16-byte string, not four varint-framed values.
        let le: Vec<u8> = record.vector.iter().flat_map(|x| x.to_le_bytes()).collect();
        assert!(binary.windows(16).any(|w| w == le.as_slice()));
        let json = serde_json::to_value(&record).unwrap();
        // JSON is unchanged: the same list a plain `Vec<f32>` gives.
        assert_eq!(json["vector"], serde_json::to_value(&record.vector).unwrap());
        assert_eq!(json["vector"].as_array().map(Vec::len), Some(4));
        let back: VectorRecord = serde_json::from_value(json).unwrap();
        assert_eq!(back, record);
    }

    #[test]
    fn a_byte_string_of_the_wrong_length_is_refused() {
        // Five bytes cannot be f32s: a damaged record is an error, not a short vector.
        let mut bytes = bincode::serde::encode_to_vec(VectorRecord::new("a", vec![1.0]), config()).unwrap();
        let at = bytes.iter().position(|b| *b == 4).unwrap(); // the byte string's length prefix
        bytes[at] = 5;
        bytes.push(0);
        let decoded: Result<(VectorRecord, usize), _> = bincode::serde::decode_from_slice(&bytes, config());
        assert!(decoded.is_err());
    }
}
