//! The vector column of one row group, written page by page from the chunk's
//! contiguous floats.
//!
//! Arrow's writer treats a `FixedSizeList<Float32>` as any nested column: it
//! builds definition and repetition levels value by value, gathers the floats
//! through a list of their indices (8 bytes per 4-byte float), and compresses
//! with zstd at a level, no other parameter of it settable. Vectors never hold
//! a null, so here:
//! - each page's levels are written as runs directly: one value starting each
//!   row, then `dimension - 1` continuing it; every value defined;
//! - the floats are split into their four byte streams (`BYTE_STREAM_SPLIT`)
//!   straight from the chunk;
//! - zstd runs at level 1 with its match search accelerated
//!   ([`ZSTD_TARGET_LENGTH`]) and Huffman-coded literals kept on (zstd turns
//!   them off under acceleration unless told). Split float bytes hold few
//!   matches and compress by their byte frequencies: on 1 MiB pages this
//!   compresses a little better than plain level 1 at 2-2.7x its speed
//!   (GloVe 0.836 against 0.842 of raw, 2,139 against 799 MB/s: the
//!   `vector_zstd` example), and a 50-d ingest's CPU per vector fell by 30%
//!   (docs/perf-journal.md).
//!
//! The pages are ordinary Parquet v1 data pages, any reader reads them.

use bytes::Bytes;
use parquet::basic::{Compression, Encoding, PageType, ZstdLevel};
use parquet::column::page::{CompressedPage, Page, PageWriter};
use parquet::column::writer::ColumnCloseResult;
use parquet::errors::{ParquetError, Result};
use parquet::file::metadata::{ColumnChunkMetaData, OffsetIndexBuilder, PageEncodingStats};
use parquet::file::writer::{SerializedPageWriter, TrackedWrite};
use parquet::schema::types::ColumnDescPtr;
use zstd_safe::{CCtx, CParameter, ParamSwitch};

use crate::config::VectorCompression;

/// Values per data page: about a MiB, parquet's default page size, and whole rows.
const PAGE_BYTES: usize = 1 << 20;

/// zstd's `targetLength` for the fast strategy: how quickly the match search
/// skips ahead where it finds nothing. 16 is slower, 256 no faster (the
/// `vector_zstd` example, on GloVe and on the benches' values).
const ZSTD_TARGET_LENGTH: u32 = 64;

/// Encodes `values` (rows of `dimension` floats) as one column chunk of the
/// leaf `descr`; append it to the row group with `append_column`.
pub(crate) fn encode(
    values: &[f32],
    dimension: usize,
    descr: ColumnDescPtr,
    compression: VectorCompression,
) -> Result<(Bytes, ColumnCloseResult)> {
    let dimension = dimension.max(1);
    let (encoding, codec, mut zstd) = match compression {
        VectorCompression::Zstd => {
            (Encoding::BYTE_STREAM_SPLIT, Compression::ZSTD(ZstdLevel::default()), Some(zstd()?))
        }
        VectorCompression::None => (Encoding::PLAIN, Compression::UNCOMPRESSED, None),
    };
    let levels = Levels::new(&descr, dimension)?;
    let rows_per_page = (PAGE_BYTES / (dimension * 4)).max(1);
    let mut sink = TrackedWrite::new(Vec::with_capacity(values.len() * 4));
    let mut offsets = OffsetIndexBuilder::new();
    let (mut pages, mut compressed_size, mut uncompressed_size) = (0, 0, 0);
    let mut body = Vec::new();
    {
        let mut writer = SerializedPageWriter::new(&mut sink);
        for page in values.chunks(rows_per_page * dimension) {
            let rows = page.len() / dimension;
            body.clear();
            levels.write(&mut body, rows);
            let buf = match &mut zstd {
                Some(cctx) => {
                    split_streams(&mut body, page);
                    compress(cctx, &body)?
                }
                None => {
                    body.extend(page.iter().flat_map(|v| v.to_le_bytes()));
                    Bytes::copy_from_slice(&body)
                }
            };
            let num_values = u32::try_from(page.len()).map_err(|_| ParquetError::General("page too large".into()))?;
            let page = Page::DataPage {
                buf,
                num_values,
                encoding,
                def_level_encoding: Encoding::RLE,
                rep_level_encoding: Encoding::RLE,
                statistics: None,
            };
            let spec = writer.write_page(CompressedPage::new(page, body.len()))?;
            offsets.append_offset_and_size(spec.offset as i64, spec.compressed_size as i32);
            offsets.append_row_count(rows as i64);
            compressed_size += spec.compressed_size as u64;
            uncompressed_size += spec.uncompressed_size as u64;
            pages += 1;
        }
        writer.close()?;
    }
    let metadata = ColumnChunkMetaData::builder(descr)
        .set_compression(codec)
        .set_encodings(vec![Encoding::RLE, encoding])
        .set_page_encoding_stats(vec![PageEncodingStats { page_type: PageType::DATA_PAGE, encoding, count: pages }])
        .set_total_compressed_size(compressed_size as i64)
        .set_total_uncompressed_size(uncompressed_size as i64)
        .set_num_values(values.len() as i64)
        .set_data_page_offset(0)
        .build()?;
    let close = ColumnCloseResult {
        bytes_written: compressed_size,
        rows_written: (values.len() / dimension) as u64,
        metadata,
        bloom_filter: None,
        column_index: None,
        offset_index: Some(offsets.build()),
    };
    Ok((Bytes::from(sink.into_inner()?), close))
}

fn zstd() -> Result<CCtx<'static>> {
    let mut cctx = CCtx::try_create().ok_or_else(|| ParquetError::General("cannot create a zstd context".into()))?;
    for parameter in [
        CParameter::CompressionLevel(ZstdLevel::default().compression_level()),
        CParameter::TargetLength(ZSTD_TARGET_LENGTH),
        CParameter::LiteralCompressionMode(ParamSwitch::Enable),
    ] {
        cctx.set_parameter(parameter).map_err(zstd_error)?;
    }
    Ok(cctx)
}

fn compress(cctx: &mut CCtx<'_>, body: &[u8]) -> Result<Bytes> {
    let mut out = Vec::with_capacity(zstd_safe::compress_bound(body.len()));
    cctx.compress2(&mut out, body).map_err(zstd_error)?;
    Ok(Bytes::from(out))
}

fn zstd_error(code: zstd_safe::ErrorCode) -> ParquetError {
    ParquetError::General(format!("zstd: {}", zstd_safe::get_error_name(code)))
}

/// Appends the floats' byte streams: every float's first byte, then every
/// second byte, and so on (`BYTE_STREAM_SPLIT`).
fn split_streams(out: &mut Vec<u8>, values: &[f32]) {
    let n = values.len();
    let start = out.len();
    out.resize(start + 4 * n, 0);
    let (s0, rest) = out[start..].split_at_mut(n);
    let (s1, rest) = rest.split_at_mut(n);
    let (s2, s3) = rest.split_at_mut(n);
    for (i, v) in values.iter().enumerate() {
        let [b0, b1, b2, b3] = v.to_le_bytes();
        (s0[i], s1[i], s2[i], s3[i]) = (b0, b1, b2, b3);
    }
}

/// A page's levels in the RLE/bit-packed hybrid (v1 pages: each set behind
/// its 4-byte length).
struct Levels {
    /// One row's repetition levels, as runs; empty when the column repeats nothing.
    row_repetitions: Vec<u8>,
    /// The definition level of every value (all are defined); none when 0.
    defined: Option<u8>,
    dimension: usize,
}

impl Levels {
    fn new(descr: &ColumnDescPtr, dimension: usize) -> Result<Self> {
        let level = |l: i16| {
            u8::try_from(l).map_err(|_| ParquetError::General(format!("vector column level {l} out of range")))
        };
        let (max_rep, max_def) = (level(descr.max_rep_level())?, level(descr.max_def_level())?);
        let mut row_repetitions = Vec::new();
        if max_rep > 0 {
            run(&mut row_repetitions, 1, 0);
            if dimension > 1 {
                run(&mut row_repetitions, dimension - 1, max_rep);
            }
        }
        Ok(Self { row_repetitions, defined: (max_def > 0).then_some(max_def), dimension })
    }

    fn write(&self, out: &mut Vec<u8>, rows: usize) {
        if !self.row_repetitions.is_empty() {
            let len = self.row_repetitions.len() * rows;
            out.extend_from_slice(&(len as u32).to_le_bytes());
            for _ in 0..rows {
                out.extend_from_slice(&self.row_repetitions);
            }
        }
        if let Some(level) = self.defined {
            // The run's length goes first: written after the run, into its place.
            let start = out.len();
            out.extend_from_slice(&[0; 4]);
            run(out, rows * self.dimension, level);
            let len = (out.len() - start - 4) as u32;
            out[start..start + 4].copy_from_slice(&len.to_le_bytes());
        }
    }
}

/// One RLE run: `count` times `value` (a level of at most 8 bits: one byte).
fn run(out: &mut Vec<u8>, count: usize, value: u8) {
    let mut header = (count as u64) << 1;
    while header >= 0x80 {
        out.push(header as u8 | 0x80);
        header >>= 7;
    }
    out.push(header as u8);
    out.push(value);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn runs_are_uleb128_headers_then_the_value() {
        let mut out = Vec::new();
        run(&mut out, 1, 0);
        run(&mut out, 49, 1);
        run(&mut out, 300, 1);
        // 300 << 1 = 600 = 0b100_1011000: low seven bits first, continuation bit set.
        assert_eq!(out, [2, 0, 98, 1, 0xD8, 0x04, 1]);
    }

    #[test]
    fn streams_hold_each_byte_of_every_float_in_turn() {
        let values = [1.0f32, -2.5, 3.25];
        let mut out = vec![9];
        split_streams(&mut out, &values);
        let bytes: Vec<[u8; 4]> = values.iter().map(|v| v.to_le_bytes()).collect();
        let expected: Vec<u8> =
            std::iter::once(9).chain((0..4).flat_map(|k| bytes.iter().map(move |b| b[k]))).collect();
        assert_eq!(out, expected);
    }
}
