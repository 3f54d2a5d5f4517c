//! Qdrant point ids (unsigned integers or UUIDs) and ProximaDB's string ids.
//!
//! An integer id `n` is stored as the string `n`; a UUID as its lowercase,
//! hyphenated form. Back the other way, an id that is a canonical unsigned
//! integer is answered as a number, anything else as a string.

use serde_json::Value;

use crate::envelope::Failure;

/// The stored id of a Qdrant point id.
pub(crate) fn to_stored(id: &Value) -> Result<String, Failure> {
    match id {
        Value::Number(n) => n
            .as_u64()
            .map(|n| n.to_string())
            .ok_or_else(|| Failure::bad(format!("Bad request: point id {n} is not an unsigned integer"))),
        Value::String(s) => uuid(s)
            .ok_or_else(|| Failure::bad(format!("Bad request: point id `{s}` is not a UUID or an unsigned integer"))),
        other => Err(Failure::bad(format!("Bad request: point id {other} is not a UUID or an unsigned integer"))),
    }
}

/// The Qdrant id of a stored id.
pub(crate) fn to_qdrant(id: &str) -> Value {
    match id.parse::<u64>() {
        Ok(n) if n.to_string() == id => Value::from(n),
        _ => Value::from(id),
    }
}

/// A UUID in any of the forms Qdrant accepts (hyphenated or 32 hex digits), hyphenated and lowercase.
fn uuid(text: &str) -> Option<String> {
    let hex: String = match text.len() {
        36 if [8, 13, 18, 23].iter().all(|&i| text.as_bytes()[i] == b'-') => {
            text.chars().filter(|c| *c != '-').collect()
        }
        32 => text.to_string(),
        _ => return None,
    };
    if hex.len() != 32 || !hex.bytes().all(|b| b.is_ascii_hexdigit()) {
        return None;
    }
    let hex = hex.to_ascii_lowercase();
    Some(format!("{}-{}-{}-{}-{}", &hex[..8], &hex[8..12], &hex[12..16], &hex[16..20], &hex[20..]))
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn ids_round_trip_and_bad_ones_are_refused() {
        assert_eq!(to_stored(&json!(42)).unwrap(), "42");
        assert_eq!(to_qdrant("42"), json!(42));
        let u = "5C56C793-69F3-4FBF-87E6-C4BF54C28C26";
        assert_eq!(to_stored(&json!(u)).unwrap(), u.to_lowercase());
        assert_eq!(to_stored(&json!("5c56c79369f34fbf87e6c4bf54c28c26")).unwrap(), u.to_lowercase());
        assert_eq!(to_qdrant(&u.to_lowercase()), json!(u.to_lowercase()));
        assert_eq!(to_qdrant("007"), json!("007"), "not canonical: stays a string");
        for bad in [json!(-1), json!(1.5), json!("doc-1"), json!(null), json!([1])] {
            assert!(to_stored(&bad).is_err(), "{bad}");
        }
    }
}
