//! Segment files: a `Chunk` as Parquet and back, with row-group statistics as zones.

use std::io::Write;
use std::sync::Arc;

use arrow_array::builder::{BooleanBuilder, Float64Builder, Int64Builder, StringBuilder};
use arrow_array::{Array, ArrayRef, FixedSizeListArray, Float32Array, RecordBatch, StringArray, UInt64Array};
use arrow_buffer::{Buffer, ScalarBuffer};
use arrow_schema::{DataType, Field, Schema};
use bytes::Bytes;
use parquet::arrow::ArrowWriter;
use parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder;
use parquet::arrow::arrow_writer::{ArrowColumnChunk, ArrowRowGroupWriterFactory, compute_leaves};
use parquet::basic::{Compression, ZstdLevel};
use parquet::column::writer::ColumnCloseResult;
use parquet::errors::ParquetError;
use parquet::file::metadata::ParquetMetaData;
use parquet::file::properties::{EnabledStatistics, WriterProperties};
use parquet::file::statistics::Statistics;
use parquet::schema::types::{ColumnDescPtr, ColumnPath};
use proxima_core::filter::lookup;
use proxima_core::{CollectionConfig, Error, FieldType, Metadata, Result};
use proxima_engine::Zone;
use proxima_engine::state::Chunk;
use serde_json::Value;

use crate::config::VectorCompression;
use crate::vector_column;

/// The Parquet column of a declared field: `f_` and the path with `.` as `__`.
pub(crate) fn field_column(name: &str) -> String {
    format!("f_{}", name.replace('.', "__"))
}

fn schema(config: &CollectionConfig) -> Arc<Schema> {
    let item = Arc::new(Field::new("item", DataType::Float32, false));
    let mut fields = vec![
        Field::new("id", DataType::Utf8, false),
        Field::new("seq", DataType::UInt64, false),
        Field::new("vector", DataType::FixedSizeList(item, config.dimension as i32), false),
        Field::new("metadata", DataType::Utf8, false),
        Field::new("expires_at", DataType::UInt64, true),
    ];
    for f in &config.fields {
        let ty = match f.ty {
            FieldType::String => DataType::Utf8,
            FieldType::Int => DataType::Int64,
            FieldType::Float => DataType::Float64,
            FieldType::Bool => DataType::Boolean,
        };
        fields.push(Field::new(field_column(&f.name), ty, true));
    }
    Arc::new(Schema::new(fields))
}

fn typed_column(chunk: &Chunk, name: &str, ty: FieldType) -> ArrayRef {
    let values = chunk.metadata.iter().map(|m| lookup(m, name));
    match ty {
        FieldType::String => {
            let mut b = StringBuilder::new();
            values.for_each(|v| b.append_option(v.and_then(Value::as_str)));
            Arc::new(b.finish())
        }
        FieldType::Int => {
            let mut b = Int64Builder::new();
            values.for_each(|v| b.append_option(v.and_then(Value::as_i64)));
            Arc::new(b.finish())
        }
        FieldType::Float => {
            let mut b = Float64Builder::new();
            values.for_each(|v| b.append_option(v.and_then(Value::as_f64)));
            Arc::new(b.finish())
        }
        FieldType::Bool => {
            let mut b = BooleanBuilder::new();
            values.for_each(|v| b.append_option(v.and_then(Value::as_bool)));
            Arc::new(b.finish())
        }
    }
}

/// The chunk's vectors as an Arrow buffer over the chunk's own memory (the
/// buffer holds the chunk), instead of a copy of every vector for each flush.
fn shared_vectors(chunk: &Arc<Chunk>) -> ScalarBuffer<f32> {
    struct Vectors(Arc<Chunk>);
    impl AsRef<[u8]> for Vectors {
        fn as_ref(&self) -> &[u8] {
            let values = self.0.vectors.as_slice();
            // SAFETY: the pointer and byte length are those of `values`, which
            // lives as long as `self`; f32 has no padding, so every byte is
            // initialised. A shared chunk is never changed in place (the state
            // copies it first, `Arc::make_mut`), so the bytes stay as read.
            unsafe { std::slice::from_raw_parts(values.as_ptr().cast::<u8>(), std::mem::size_of_val(values)) }
        }
    }
    let values = chunk.vectors.len();
    ScalarBuffer::new(Buffer::from(Bytes::from_owner(Vectors(Arc::clone(chunk)))), 0, values)
}

fn to_record_batch(chunk: &Arc<Chunk>, config: &CollectionConfig) -> Result<RecordBatch> {
    let schema = schema(config);
    let arrow =
        |e: arrow_schema::ArrowError| Error::internal("cannot build the segment's Arrow columns").with_source(e);
    let item = Arc::new(Field::new("item", DataType::Float32, false));
    let values = Float32Array::new(shared_vectors(chunk), None);
    let vectors = FixedSizeListArray::try_new(item, config.dimension as i32, Arc::new(values), None).map_err(arrow)?;
    let mut metadata = StringBuilder::with_capacity(chunk.len(), chunk.len() * 2);
    for m in &chunk.metadata {
        // Most records carry no metadata: no serialiser and no string for those.
        if m.is_empty() {
            metadata.append_value("{}");
        } else {
            metadata.append_value(serde_json::to_string(m).unwrap_or_default());
        }
    }
    let mut columns: Vec<ArrayRef> = vec![
        Arc::new(StringArray::from_iter_values(&chunk.ids)),
        Arc::new(UInt64Array::from(chunk.seqs.clone())),
        Arc::new(vectors),
        Arc::new(metadata.finish()),
        Arc::new(UInt64Array::from(chunk.expires_at.clone())),
    ];
    columns.extend(config.fields.iter().map(|f| typed_column(chunk, &f.name, f.ty)));
    RecordBatch::try_new(schema, columns).map_err(arrow)
}

/// How a segment file is laid out (row groups, the vector column's codec)
/// and how many threads encode it.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Layout {
    pub(crate) row_group_rows: usize,
    pub(crate) vectors: VectorCompression,
    pub(crate) threads: Encoders,
}

/// The threads that encode a file's row groups.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Encoders {
    /// Every core: someone waits for the file (an explicit flush, a writer
    /// held back by a flush backlog, a compaction under the collection's lock).
    AllCores,
    /// All cores but one: a background flush, beside writers filling the
    /// next buffer. On two cores a second encoding thread slowed them more
    /// than it sped the flush (docs/perf-journal.md).
    LeaveOneCore,
}

impl Encoders {
    fn count(self) -> usize {
        let cores = std::thread::available_parallelism().map_or(1, usize::from);
        match self {
            Self::AllCores => cores,
            Self::LeaveOneCore => (cores - 1).max(1),
        }
    }
}

/// Encodes a chunk as a Parquet file into `sink` (the file itself, locally, so
/// a flush holds no second copy of the segment); returns its zones.
pub(crate) fn encode(
    chunk: &Arc<Chunk>,
    config: &CollectionConfig,
    layout: Layout,
    sink: &mut (dyn Write + Send),
) -> Result<Vec<Zone>> {
    let row_group_rows = layout.row_group_rows;
    let batch = to_record_batch(chunk, config)?;
    let vector_values = ColumnPath::from(vec!["vector".to_string(), "list".to_string(), "item".to_string()]);
    let props = WriterProperties::builder()
        .set_compression(Compression::ZSTD(ZstdLevel::default()))
        .set_max_row_group_row_count(Some(row_group_rows))
        // The vector column's pages are written by `vector_column`, not
        // through the writer Arrow makes for it: that one is made bare.
        .set_column_dictionary_enabled(vector_values.clone(), false)
        .set_column_statistics_enabled(vector_values.clone(), EnabledStatistics::None)
        // Ids and sequence numbers are unique: a dictionary would only be
        // built and thrown away.
        .set_column_dictionary_enabled(ColumnPath::from("id"), false)
        .set_column_dictionary_enabled(ColumnPath::from("seq"), false)
        // Row-group bounds of ids are kept for other readers; per-page bounds
        // (a string comparison per id) serve no lookup of ours.
        .set_column_statistics_enabled(ColumnPath::from("id"), EnabledStatistics::Chunk)
        // Bounds of JSON text order nothing anyone filters on (declared fields
        // have typed columns for that).
        .set_column_statistics_enabled(ColumnPath::from("metadata"), EnabledStatistics::None)
        .build();
    let parquet = |e: ParquetError| Error::internal("cannot write the segment's Parquet").with_source(e);
    // `ArrowWriter` sets the file up (schema, the Arrow schema in the footer for
    // other readers); the row groups are encoded on `layout.threads` and appended in order.
    let writer = ArrowWriter::try_new(sink, batch.schema(), Some(props)).map_err(parquet)?;
    let (mut file, factory) = writer.into_serialized_writer().map_err(parquet)?;
    let schema = file.schema_descr();
    let leaf = schema.columns().iter().position(|c| c.path() == &vector_values);
    let leaf = leaf.ok_or_else(|| Error::internal("the segment schema has no vector column"))?;
    let vectors = VectorLeaf {
        values: chunk.vectors.as_slice(),
        dimension: config.dimension as usize,
        leaf,
        descr: schema.column(leaf),
        compression: layout.vectors,
    };
    for columns in encode_row_groups(&batch, &vectors, &factory, layout)? {
        let mut row_group = file.next_row_group().map_err(parquet)?;
        for column in columns {
            match column {
                Encoded::Arrow(column) => column.append_to_row_group(&mut row_group).map_err(parquet)?,
                Encoded::Vectors(bytes, close) => row_group.append_column(&bytes, close).map_err(parquet)?,
            }
        }
        row_group.close().map_err(parquet)?;
    }
    // Writes the footer and flushes the writer's buffer into the sink.
    let metadata = file.finish().map_err(parquet)?;
    Ok(zones(&metadata, config))
}

/// What the vector column of each row group is encoded from.
struct VectorLeaf<'a> {
    values: &'a [f32],
    dimension: usize,
    /// Its place among the file's leaf columns.
    leaf: usize,
    descr: ColumnDescPtr,
    compression: VectorCompression,
}

/// One encoded column chunk of a row group.
enum Encoded {
    Arrow(ArrowColumnChunk),
    /// The vectors, encoded by [`vector_column::encode`].
    Vectors(Bytes, ColumnCloseResult),
}

/// Encodes each row group's column chunks, the row groups spread over
/// `layout.threads`.
fn encode_row_groups(
    batch: &RecordBatch,
    vectors: &VectorLeaf<'_>,
    factory: &ArrowRowGroupWriterFactory,
    layout: Layout,
) -> Result<Vec<Vec<Encoded>>> {
    let row_group_rows = layout.row_group_rows.max(1);
    let groups = batch.num_rows().div_ceil(row_group_rows);
    let threads = layout.threads.count().min(groups).max(1);
    let encode_group = |index: usize| -> parquet::errors::Result<Vec<Encoded>> {
        let start = index * row_group_rows;
        let len = row_group_rows.min(batch.num_rows() - start);
        let rows = batch.slice(start, len);
        let writers = factory.create_column_writers(index)?;
        // Every column of ours has one leaf, so writers and columns pair up.
        if writers.len() != rows.num_columns() {
            return Err(ParquetError::General("a segment column with more than one leaf".into()));
        }
        let mut encoded = Vec::with_capacity(writers.len());
        for (leaf, (mut writer, column)) in writers.into_iter().zip(rows.columns()).enumerate() {
            if leaf == vectors.leaf {
                let values = &vectors.values[start * vectors.dimension..(start + len) * vectors.dimension];
                let (bytes, close) =
                    vector_column::encode(values, vectors.dimension, vectors.descr.clone(), vectors.compression)?;
                encoded.push(Encoded::Vectors(bytes, close));
                continue;
            }
            let field = &rows.schema_ref().fields()[leaf];
            for leaf in compute_leaves(field, column)? {
                writer.write(&leaf)?;
            }
            encoded.push(Encoded::Arrow(writer.close()?));
        }
        Ok(encoded)
    };
    let encoded: Vec<Vec<(usize, parquet::errors::Result<Vec<Encoded>>)>> = std::thread::scope(|scope| {
        let workers: Vec<_> = (0..threads)
            .map(|t| scope.spawn(move || (t..groups).step_by(threads).map(|i| (i, encode_group(i))).collect()))
            .collect();
        workers.into_iter().map(|w| w.join().expect("a Parquet encoding thread panicked")).collect()
    });
    let mut ordered: Vec<(usize, parquet::errors::Result<Vec<Encoded>>)> = encoded.into_iter().flatten().collect();
    ordered.sort_by_key(|(i, _)| *i);
    ordered
        .into_iter()
        .map(|(_, columns)| columns.map_err(|e| Error::internal("cannot write the segment's Parquet").with_source(e)))
        .collect()
}

fn stat_value(stats: &Statistics) -> Option<(Value, Value)> {
    match stats {
        Statistics::Int64(s) => Some((Value::from(*s.min_opt()?), Value::from(*s.max_opt()?))),
        Statistics::Double(s) => Some((Value::from(*s.min_opt()?), Value::from(*s.max_opt()?))),
        Statistics::ByteArray(s) => {
            let (lo, hi) = (s.min_opt()?.as_utf8().ok()?, s.max_opt()?.as_utf8().ok()?);
            Some((Value::from(lo), Value::from(hi)))
        }
        _ => None,
    }
}

/// Row-group min/max of the declared fields, as zones.
fn zones(metadata: &ParquetMetaData, config: &CollectionConfig) -> Vec<Zone> {
    let mut start = 0usize;
    metadata
        .row_groups()
        .iter()
        .map(|rg| {
            let rows = start..start + rg.num_rows() as usize;
            start = rows.end;
            let bounds = config
                .fields
                .iter()
                .filter_map(|f| {
                    let column = field_column(&f.name);
                    let chunk = rg.columns().iter().find(|c| c.column_path().string() == column)?;
                    Some((f.name.clone(), stat_value(chunk.statistics()?)?))
                })
                .collect();
            Zone { rows, bounds }
        })
        .collect()
}

/// Decodes a segment file written by [`encode`] (or any file with the same columns).
pub(crate) fn decode(bytes: Bytes, config: &CollectionConfig, segment_id: u64) -> Result<Chunk> {
    let bad = |what: String| Error::corrupted(format!("segment file is not readable: {what}"));
    let builder = ParquetRecordBatchReaderBuilder::try_new(bytes).map_err(|e| bad(e.to_string()))?;
    let zones = zones(builder.metadata(), config);
    let reader = builder.build().map_err(|e| bad(e.to_string()))?;
    let dimension = config.dimension as usize;
    let mut chunk = Chunk::new(segment_id, dimension);
    for batch in reader {
        let batch = batch.map_err(|e| bad(e.to_string()))?;
        let column = |name: &str| batch.column_by_name(name).ok_or_else(|| bad(format!("no `{name}` column")));
        let ids = column("id")?.as_any().downcast_ref::<StringArray>().ok_or_else(|| bad("`id` is not utf8".into()))?;
        let seqs =
            column("seq")?.as_any().downcast_ref::<UInt64Array>().ok_or_else(|| bad("`seq` is not u64".into()))?;
        let vectors = column("vector")?
            .as_any()
            .downcast_ref::<FixedSizeListArray>()
            .ok_or_else(|| bad("`vector` is not a fixed-size list".into()))?;
        if vectors.value_length() as usize != dimension {
            return Err(bad(format!("vectors have dimension {}, expected {dimension}", vectors.value_length())));
        }
        let values = vectors
            .values()
            .as_any()
            .downcast_ref::<Float32Array>()
            .ok_or_else(|| bad("vector values are not f32".into()))?;
        let metadata = column("metadata")?
            .as_any()
            .downcast_ref::<StringArray>()
            .ok_or_else(|| bad("`metadata` is not utf8".into()))?;
        let expires = column("expires_at")?
            .as_any()
            .downcast_ref::<UInt64Array>()
            .ok_or_else(|| bad("`expires_at` is not u64".into()))?;
        let offset = vectors.offset() * dimension;
        chunk.vectors.extend_from_slice(&values.values()[offset..offset + vectors.len() * dimension]);
        for row in 0..batch.num_rows() {
            chunk.ids.push(ids.value(row).to_string());
            chunk.seqs.push(seqs.value(row));
            let m: Metadata = serde_json::from_str(metadata.value(row)).map_err(|e| bad(format!("metadata: {e}")))?;
            chunk.metadata.push(m);
            chunk.expires_at.push(expires.is_valid(row).then(|| expires.value(row)));
        }
    }
    chunk.zones = zones;
    Ok(chunk)
}

#[cfg(test)]
mod tests {
    use proxima_core::FieldType;
    use serde_json::json;

    use super::*;

    #[test]
    fn round_trips_and_reports_row_group_bounds() {
        let config =
            CollectionConfig::new("c", 3).with_field("year", FieldType::Int).with_field("tag", FieldType::String);
        let mut chunk = Chunk::new(7, 3);
        for i in 0..10u64 {
            let m = json!({"year": 2000 + i, "tag": format!("t{i}"), "x": [1, 2]}).as_object().cloned().unwrap();
            chunk.push(format!("id{i}"), i + 1, &[i as f32, 0.5, -1.0], m, (i % 2 == 0).then_some(99));
        }
        let chunk = Arc::new(chunk);
        for (vectors, vector_codec) in [
            (VectorCompression::Zstd, Compression::ZSTD(ZstdLevel::default())),
            (VectorCompression::None, Compression::UNCOMPRESSED),
        ] {
            let mut file = Vec::new();
            let zones =
                encode(&chunk, &config, Layout { row_group_rows: 4, vectors, threads: Encoders::AllCores }, &mut file)
                    .unwrap();
            let bytes = Bytes::from(file);
            assert_eq!(zones.len(), 3);
            assert_eq!(zones[1].rows, 4..8);
            assert_eq!(zones[1].bounds["year"], (json!(2004), json!(2007)));
            assert_eq!(zones[2].bounds["tag"], (json!("t8"), json!("t9")));
            let file = ParquetRecordBatchReaderBuilder::try_new(bytes.clone()).unwrap();
            for row_group in file.metadata().row_groups() {
                let codec = |path: &str| {
                    let column = row_group.columns().iter().find(|c| c.column_path().string() == path);
                    column.expect("the column is in the file").compression()
                };
                assert_eq!(codec("vector.list.item"), vector_codec, "{vectors:?}");
                assert_eq!(codec("id"), Compression::ZSTD(ZstdLevel::default()), "{vectors:?}");
            }
            let decoded = decode(bytes, &config, 7).unwrap();
            assert_eq!(decoded, Chunk { zones, ..(*chunk).clone() });
        }
    }

    #[test]
    fn vectors_round_trip_across_row_groups_and_level_runs() {
        // Row groups of 300 rows: more than one call's worth of levels (256
        // rows) each, and a short last group.
        let config = CollectionConfig::new("c", 7);
        let mut chunk = Chunk::new(1, 7);
        for i in 0..1_000u64 {
            let vector: Vec<f32> = (0..7).map(|d| (i * 7 + d) as f32 * 0.25 - 3.0).collect();
            chunk.push(format!("v{i}"), i + 1, &vector, Metadata::new(), None);
        }
        let chunk = Arc::new(chunk);
        for vectors in [VectorCompression::Zstd, VectorCompression::None] {
            let mut file = Vec::new();
            let zones = encode(
                &chunk,
                &config,
                Layout { row_group_rows: 300, vectors, threads: Encoders::LeaveOneCore },
                &mut file,
            )
            .unwrap();
            let bytes = Bytes::from(file);
            let reader = ParquetRecordBatchReaderBuilder::try_new(bytes.clone()).unwrap();
            let groups = reader.metadata().row_groups();
            assert_eq!(groups.iter().map(|g| g.num_rows()).collect::<Vec<_>>(), [300, 300, 300, 100]);
            for group in groups {
                let column = group.columns().iter().find(|c| c.column_path().string() == "vector.list.item").unwrap();
                assert_eq!(column.num_values(), group.num_rows() * 7, "{vectors:?}");
            }
            let decoded = decode(bytes, &config, 1).unwrap();
            assert_eq!(decoded, Chunk { zones, ..(*chunk).clone() }, "{vectors:?}");
        }
    }

    #[test]
    fn garbage_is_corrupted() {
        let config = CollectionConfig::new("c", 3);
        let err = decode(Bytes::from_static(b"not parquet at all"), &config, 1).unwrap_err();
        assert_eq!(err.kind(), proxima_core::ErrorKind::Corrupted);
    }
}
