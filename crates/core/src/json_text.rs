//! Serde glue for JSON values inside binary formats.
//!
//! Binary, non-self-describing formats (bincode in the write-ahead log) cannot
//! carry a `serde_json::Value`, whose deserialisation needs `deserialize_any`.
//! Fields marked `#[serde(with = "proxima_core::json_text")]` stay plain JSON in
//! human-readable formats and travel as JSON text in binary ones.

use serde::de::DeserializeOwned;
use serde::{Deserialize, Deserializer, Serialize, Serializer};

/// Serialises `value` as itself (human-readable formats) or as JSON text.
pub fn serialize<T: Serialize, S: Serializer>(value: &T, serializer: S) -> Result<S::Ok, S::Error> {
    if serializer.is_human_readable() {
        value.serialize(serializer)
    } else {
        // One buffer per thread: the log encodes a JSON text per record.
        thread_local!(static TEXT: std::cell::RefCell<Vec<u8>> = const { std::cell::RefCell::new(Vec::new()) });
        TEXT.with_borrow_mut(|text| {
            text.clear();
            serde_json::to_writer(&mut *text, value).map_err(serde::ser::Error::custom)?;
            let text = std::str::from_utf8(text).map_err(serde::ser::Error::custom)?;
            serializer.serialize_str(text)
        })
    }
}

/// The inverse of [`serialize`].
pub fn deserialize<'de, T: DeserializeOwned, D: Deserializer<'de>>(deserializer: D) -> Result<T, D::Error> {
    if deserializer.is_human_readable() {
        T::deserialize(deserializer)
    } else {
        let text = String::deserialize(deserializer)?;
        serde_json::from_str(&text).map_err(serde::de::Error::custom)
    }
}
