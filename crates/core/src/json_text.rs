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
        let text = serde_json::to_string(value).map_err(serde::ser::Error::custom)?;
        serializer.serialize_str(&text)
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
