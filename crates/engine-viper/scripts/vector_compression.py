#!/usr/bin/env python3
"""How much VIPER's vector column encodings shrink vectors, with pyarrow.

Writes the same vectors as a `FixedSizeList<Float32>` column the ways VIPER
can (`vector_compression=zstd`: BYTE_STREAM_SPLIT under zstd level 1;
`none`: PLAIN, uncompressed) and the ones it chose against (PLAIN under zstd,
and zstd's fast level -1),
and prints each file's size against the raw floats. docs/benchmarks.md and
docs/engines.md quote its figures.

VIPER writes its vector pages itself (src/vector_column.rs), with zstd
parameters pyarrow cannot set; `--segments` measures those files: the vector
column's compressed bytes in every segment under a collection's directory,
against its raw floats.

    python vector_compression.py DIR/base.fvecs [ROWS]   # real vectors (.fvecs)
    python vector_compression.py --hashed [ROWS]         # the benches' hash-derived values
    python vector_compression.py --segments COLLECTION_DIR

Needs numpy and pyarrow (`cargo xtask services up` installs both into
~/.cache/proximadb-bench/venv, or any environment with them).
"""

import os
import sys
import tempfile

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq


def fvecs(path, rows):
    raw = np.fromfile(path, dtype=np.int32)
    dim = int(raw[0])
    return raw.view(np.float32).reshape(-1, dim + 1)[:rows, 1:].copy()


def hashed(rows, dim=50):
    """The values of benches/common/mod.rs: a hash of (row, component) in [-1, 1)."""
    row = np.arange(rows, dtype=np.uint64)[:, None]
    component = np.arange(dim, dtype=np.uint64)[None, :]
    with np.errstate(over="ignore"):
        x = ((row << np.uint64(12)) | component) * np.uint64(0x9E3779B97F4A7C15)
    x ^= x >> np.uint64(29)
    return ((x % np.uint64(20_000)).astype(np.float32) / np.float32(10_000)) - np.float32(1)


def size(vectors, **options):
    column = pa.FixedSizeListArray.from_arrays(pa.array(vectors.ravel()), vectors.shape[1])
    with tempfile.TemporaryDirectory() as dir:
        path = os.path.join(dir, "v.parquet")
        pq.write_table(pa.table({"vector": column}), path, use_dictionary=False, write_statistics=False, **options)
        return os.path.getsize(path)


def segments(dir):
    """VIPER's own files: the vector column's compressed bytes against its raw floats."""
    compressed = raw = 0
    for name in sorted(os.listdir(dir)):
        if not name.endswith(".parquet"):
            continue
        metadata = pq.ParquetFile(os.path.join(dir, name)).metadata
        for g in range(metadata.num_row_groups):
            group = metadata.row_group(g)
            for c in range(group.num_columns):
                column = group.column(c)
                if column.path_in_schema == "vector.list.item":
                    compressed += column.total_compressed_size
                    raw += column.num_values * 4
    print(f"VIPER segments in {dir}: vector column {compressed} bytes, {compressed / raw:.3f} of {raw} raw")


def main():
    args = sys.argv[1:]
    if not args:
        sys.exit(__doc__)
    if args[0] == "--segments":
        return segments(args[1])
    if args[0] == "--hashed":
        vectors = hashed(int(args[1]) if len(args) > 1 else 200_000)
    else:
        vectors = fvecs(args[0], int(args[1]) if len(args) > 1 else 200_000)
    raw = vectors.nbytes
    print(f"{vectors.shape[0]} vectors of {vectors.shape[1]} floats, {raw} bytes raw")
    for name, options in [
        ("zstd (BYTE_STREAM_SPLIT, level 1)", dict(compression="zstd", compression_level=1, use_byte_stream_split=True)),
        ("BYTE_STREAM_SPLIT under zstd level -1", dict(compression="zstd", compression_level=-1, use_byte_stream_split=True)),
        ("PLAIN under zstd level 1", dict(compression="zstd", compression_level=1)),
        ("none (PLAIN, uncompressed)", dict(compression="none")),
    ]:
        print(f"{name}: {size(vectors, **options) / raw:.3f} of raw")


if __name__ == "__main__":
    main()
