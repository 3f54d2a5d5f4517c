//! Input validation shared by every entry point. Each check returns
//! [`ErrorKind::InvalidArgument`](crate::ErrorKind::InvalidArgument) with a
//! message naming what is wrong, so bad input is refused before anything changes.

use crate::{CollectionConfig, Error, Result, SearchRequest, VectorRecord, filter};

/// Longest record id, in bytes.
pub const MAX_ID_BYTES: usize = 512;
/// Largest metadata object, serialised as JSON, in bytes.
pub const MAX_METADATA_BYTES: usize = 64 * 1024;
/// Largest `k` a search may ask for.
pub const MAX_K: usize = 10_000;
/// Largest vector dimension.
pub const MAX_DIMENSION: u32 = 65_536;
/// Longest collection name.
pub const MAX_COLLECTION_NAME: usize = 128;

/// A collection name: 1–128 ASCII letters, digits, `_`, `-`, `.`, not starting with `.`.
pub fn collection_name(name: &str) -> Result<()> {
    let ok_chars = name.bytes().all(|b| b.is_ascii_alphanumeric() || matches!(b, b'_' | b'-' | b'.'));
    if name.is_empty() || name.len() > MAX_COLLECTION_NAME || !ok_chars || name.starts_with('.') {
        return Err(Error::invalid(format!(
            "collection name `{name}` must be 1-{MAX_COLLECTION_NAME} ASCII letters, digits, `_`, `-` or `.`, not starting with `.`"
        )));
    }
    Ok(())
}

/// The config's name, dimension and declared fields.
pub fn collection_config(config: &CollectionConfig) -> Result<()> {
    collection_name(&config.name)?;
    if config.dimension == 0 || config.dimension > MAX_DIMENSION {
        return Err(Error::invalid(format!("dimension must be in 1..={MAX_DIMENSION}, got {}", config.dimension)));
    }
    let mut engines = std::collections::HashSet::new();
    if config.partitions.iter().any(|e| !engines.insert(e.as_str())) {
        return Err(Error::invalid(format!("partitions name an engine twice: {}", config.partitions.join(", "))));
    }
    if !config.partitions.is_empty() && config.engine.as_deref() != config.partitions.first().map(String::as_str) {
        return Err(Error::invalid("a partitioned collection's engine must be its first partition"));
    }
    config.index.validate()?;
    if let crate::FsyncPolicy::IntervalMs(ms) = config.fsync
        && !crate::FSYNC_INTERVAL_MS.contains(&ms)
    {
        return Err(Error::invalid(format!("fsync interval_ms must be in {:?}, got {ms}", crate::FSYNC_INTERVAL_MS)));
    }
    if config.default_ttl_secs == Some(0) {
        return Err(Error::invalid(
            "default_ttl_secs must be at least 1 (0 would expire every record as it is written)",
        ));
    }
    let mut names = std::collections::HashSet::new();
    for field in &config.fields {
        if field.name.is_empty() || field.name.split('.').any(str::is_empty) {
            return Err(Error::invalid(format!("declared field `{}` is not a dotted path", field.name)));
        }
        if !names.insert(field.name.as_str()) {
            return Err(Error::invalid(format!("field `{}` is declared twice", field.name)));
        }
    }
    Ok(())
}

/// A record id: non-empty, at most [`MAX_ID_BYTES`], no control characters.
pub fn record_id(id: &str) -> Result<()> {
    if id.is_empty() {
        return Err(Error::invalid("record id is empty"));
    }
    if id.len() > MAX_ID_BYTES {
        return Err(Error::invalid(format!("record id is {} bytes; the limit is {MAX_ID_BYTES}", id.len())));
    }
    if id.chars().any(char::is_control) {
        return Err(Error::invalid("record id contains control characters"));
    }
    Ok(())
}

/// A vector of the collection's dimension with only finite values.
pub fn vector(values: &[f32], dimension: u32) -> Result<()> {
    if values.len() != dimension as usize {
        return Err(Error::invalid(format!(
            "vector has dimension {}, the collection expects {dimension}",
            values.len()
        )));
    }
    // One pass without an early exit, which the compiler vectorises; the
    // position is looked for only in a vector that has a bad value.
    if !values.iter().fold(true, |finite, x| finite & x.is_finite())
        && let Some(pos) = values.iter().position(|x| !x.is_finite())
    {
        return Err(Error::invalid(format!(
            "vector value at position {pos} is {} (NaN and infinity are refused)",
            values[pos]
        )));
    }
    Ok(())
}

/// Metadata within the size cap whose declared fields have their declared types.
pub fn metadata(metadata: &crate::Metadata, config: &CollectionConfig) -> Result<()> {
    let size = encoded_len(metadata);
    if size > MAX_METADATA_BYTES {
        return Err(Error::invalid(format!("metadata is {size} bytes; the limit is {MAX_METADATA_BYTES}")));
    }
    for field in &config.fields {
        match filter::lookup(metadata, &field.name) {
            Some(v) if !v.is_null() && !field.ty.accepts(v) => {
                return Err(Error::invalid(format!(
                    "metadata field `{}` is declared {:?} but holds {v}",
                    field.name, field.ty
                ))
                .with_context("field", &field.name));
            }
            _ => {}
        }
    }
    Ok(())
}

/// The length of `metadata` as JSON, counted without building the string.
fn encoded_len(metadata: &crate::Metadata) -> usize {
    if metadata.is_empty() {
        return 2; // `{}`: the usual case, with no serialiser at all
    }
    struct Count(usize);
    impl std::io::Write for Count {
        fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
            self.0 += buf.len();
            Ok(buf.len())
        }
        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }
    let mut count = Count(0);
    match serde_json::to_writer(&mut count, metadata) {
        Ok(()) => count.0,
        Err(_) => usize::MAX,
    }
}

/// A whole record against its collection.
pub fn record(record: &VectorRecord, config: &CollectionConfig) -> Result<()> {
    record_id(&record.id)?;
    vector(&record.vector, config.dimension).map_err(|e| e.with_context("id", &record.id))?;
    metadata(&record.metadata, config).map_err(|e| e.with_context("id", &record.id))
}

/// `k` in `1..=MAX_K`.
pub fn k(k: usize) -> Result<()> {
    if k == 0 || k > MAX_K {
        return Err(Error::invalid(format!("k must be in 1..={MAX_K}, got {k}")));
    }
    Ok(())
}

/// A search request: vector, k, ef/accuracy ranges and the filter.
pub fn search_request(request: &SearchRequest, config: &CollectionConfig) -> Result<()> {
    vector(&request.vector, config.dimension)?;
    k(request.k)?;
    if request.ef.is_some_and(|ef| ef == 0 || ef > 100_000) {
        return Err(Error::invalid("ef must be in 1..=100000"));
    }
    if request.nprobe == Some(0) {
        return Err(Error::invalid("nprobe must be positive"));
    }
    if request.timeout_ms == Some(0) {
        return Err(Error::invalid("timeout_ms must be positive"));
    }
    if let Some(a) = request.accuracy
        && !(a > 0.0 && a <= 1.0)
    {
        return Err(Error::invalid(format!("accuracy must be in (0, 1], got {a}")));
    }
    if let Some(f) = &request.filter {
        f.validate(config)?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;
    use crate::{ErrorKind, FieldType, IndexConfig};

    fn config() -> CollectionConfig {
        CollectionConfig::new("docs", 3).with_field("year", FieldType::Int)
    }

    fn is_invalid<T: std::fmt::Debug>(r: Result<T>) -> bool {
        r.is_err_and(|e| e.kind() == ErrorKind::InvalidArgument)
    }

    #[test]
    fn settings_an_engine_would_refuse_later_are_refused_at_creation() {
        let with = |f: &dyn Fn(&mut CollectionConfig)| {
            let mut c = config();
            f(&mut c);
            collection_config(&c)
        };
        let message = |r: Result<()>| r.unwrap_err().message().to_string();
        assert!(
            message(with(&|c| c.index = IndexConfig::Hnsw { m: 0, ef_construction: 0 }))
                .contains("hnsw m must be in 2..=64, got 0")
        );
        assert!(
            message(with(&|c| c.index = IndexConfig::Hnsw { m: 16, ef_construction: 20_000 }))
                .contains("ef_construction")
        );
        assert!(message(with(&|c| c.index = IndexConfig::Ivf { nlist: 0 })).contains("ivf nlist"));
        assert!(message(with(&|c| c.fsync = crate::FsyncPolicy::IntervalMs(0))).contains("interval_ms"));
        assert!(message(with(&|c| c.default_ttl_secs = Some(0))).contains("default_ttl_secs"));
        assert!(with(&|c| c.index = IndexConfig::Hnsw { m: 64, ef_construction: 10_000 }).is_ok());
        assert!(with(&|c| c.fsync = crate::FsyncPolicy::IntervalMs(20)).is_ok());
    }

    #[test]
    fn records_are_checked_field_by_field() {
        let c = config();
        assert!(record(&VectorRecord::new("a", vec![1.0, 2.0, 3.0]), &c).is_ok());
        assert!(is_invalid(record(&VectorRecord::new("a", vec![1.0, 2.0]), &c)));
        assert!(is_invalid(record(&VectorRecord::new("a", vec![1.0, f32::NAN, 3.0]), &c)));
        assert!(is_invalid(record(&VectorRecord::new("a", vec![1.0, f32::INFINITY, 3.0]), &c)));
        assert!(is_invalid(record(&VectorRecord::new("", vec![1.0, 2.0, 3.0]), &c)));
        assert!(is_invalid(record(&VectorRecord::new("x".repeat(MAX_ID_BYTES + 1), vec![1.0, 2.0, 3.0]), &c)));
        assert!(is_invalid(record(&VectorRecord::new("a\n", vec![1.0, 2.0, 3.0]), &c)));
        let big =
            VectorRecord::new("a", vec![1.0, 2.0, 3.0]).with_metadata(json!({"blob": "x".repeat(MAX_METADATA_BYTES)}));
        assert!(is_invalid(record(&big, &c)));
        let mistyped = VectorRecord::new("a", vec![1.0, 2.0, 3.0]).with_metadata(json!({"year": "1999"}));
        assert!(is_invalid(record(&mistyped, &c)));
    }

    #[test]
    fn metadata_size_is_its_json_length() {
        for value in [json!({}), json!({"a": 1}), json!({"tags": ["x", "y"], "nested": {"q": "é\"\n"}})] {
            let serde_json::Value::Object(m) = value else { unreachable!() };
            assert_eq!(encoded_len(&m), serde_json::to_vec(&m).unwrap().len());
        }
        // Exactly at the limit is allowed; one byte more is not.
        let at_limit = |extra: usize| {
            let blob = "x".repeat(MAX_METADATA_BYTES - r#"{"b":""}"#.len() + extra);
            VectorRecord::new("a", vec![1.0, 2.0, 3.0]).with_metadata(json!({ "b": blob }))
        };
        assert!(record(&at_limit(0), &config()).is_ok());
        assert!(is_invalid(record(&at_limit(1), &config())));
    }

    #[test]
    fn searches_and_configs_are_checked() {
        let c = config();
        assert!(search_request(&SearchRequest::new(vec![0.0; 3], 10), &c).is_ok());
        assert!(is_invalid(search_request(&SearchRequest::new(vec![0.0; 3], 0), &c)));
        assert!(is_invalid(search_request(&SearchRequest::new(vec![0.0; 3], MAX_K + 1), &c)));
        assert!(is_invalid(search_request(&SearchRequest::new(vec![0.0; 4], 1), &c)));
        let mut r = SearchRequest::new(vec![0.0; 3], 1);
        r.accuracy = Some(1.5);
        assert!(is_invalid(search_request(&r, &c)));
        assert!(is_invalid(collection_name("")));
        assert!(is_invalid(collection_name("a/b")));
        assert!(is_invalid(collection_name(".hidden")));
        assert!(is_invalid(CollectionConfig::new("ok", 0).validate()));
        assert!(is_invalid(config().with_field("year", FieldType::Float).validate()));
    }
}
