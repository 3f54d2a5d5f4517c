//! The vector column of one row group, encoded straight from the chunk's
//! contiguous floats.
//!
//! Arrow's writer handles a `FixedSizeList<Float32>` as it would any nested
//! column: it builds definition and repetition levels value by value, then
//! gathers the floats through a list of their indices (8 bytes per 4-byte
//! float). For vectors that never hold a null the levels are the same pattern
//! for every row, so here they are made once and the floats are handed over
//! as the slice they already are. The pages, and so the file, are those of
//! Parquet's own column writer with the same properties.

use bytes::Bytes;
use parquet::column::writer::{ColumnCloseResult, get_column_writer, get_typed_column_writer};
use parquet::data_type::FloatType;
use parquet::errors::Result;
use parquet::file::properties::WriterPropertiesPtr;
use parquet::file::writer::{SerializedPageWriter, TrackedWrite};
use parquet::schema::types::ColumnDescPtr;

/// Rows handed to the column writer per call: their levels are built once.
const ROWS_PER_CALL: usize = 256;

/// Encodes `values` (rows of `dimension` floats) as one column chunk of the
/// leaf `descr`; append it to the row group with `append_column`.
pub(crate) fn encode(
    values: &[f32],
    dimension: usize,
    descr: ColumnDescPtr,
    props: &WriterPropertiesPtr,
) -> Result<(Bytes, ColumnCloseResult)> {
    let levels = Levels::new(&descr, dimension);
    let mut sink = TrackedWrite::new(Vec::with_capacity(values.len() * 4 / 2));
    let close = {
        let pages = SerializedPageWriter::new(&mut sink);
        let mut writer = get_typed_column_writer::<FloatType>(get_column_writer(descr, props.clone(), Box::new(pages)));
        for rows in values.chunks(ROWS_PER_CALL * dimension.max(1)) {
            let (def, rep) = levels.for_values(rows.len());
            writer.write_batch(rows, Some(def), Some(rep))?;
        }
        writer.close()?
    };
    Ok((Bytes::from(sink.into_inner()?), close))
}

/// The levels of `ROWS_PER_CALL` rows of a list column with no nulls: every
/// value defined, and each row's first value starting a new list.
struct Levels {
    def: Vec<i16>,
    rep: Vec<i16>,
}

impl Levels {
    fn new(descr: &ColumnDescPtr, dimension: usize) -> Self {
        let values = ROWS_PER_CALL * dimension;
        let (max_def, max_rep) = (descr.max_def_level(), descr.max_rep_level());
        let rep = (0..values).map(|i| if i % dimension.max(1) == 0 { 0 } else { max_rep }).collect();
        Self { def: vec![max_def; values], rep }
    }

    /// The levels of the first `values` values.
    fn for_values(&self, values: usize) -> (&[i16], &[i16]) {
        (&self.def[..values], &self.rep[..values])
    }
}
