"""TEXMEX files (`.fvecs`/`.ivecs`) and the hnswlib index the scripts here share."""
import os

import hnswlib
import numpy as np


def read_vecs(path, dtype):
    """Rows of a TEXMEX file: per row a little-endian int32 length, then the values."""
    raw = np.fromfile(path, dtype=np.int32)
    dim = raw[0]
    return raw.reshape(-1, dim + 1)[:, 1:].view(dtype).copy()


def hnswlib_index(data, base):
    """hnswlib (M 16, ef_construction 200) over `base`, cached beside the data."""
    rows, dim = base.shape
    index = hnswlib.Index(space="ip", dim=dim)
    saved = os.path.join(data, "hnswlib-m16-ef200.bin")
    if os.path.exists(saved):
        index.load_index(saved, max_elements=rows)
    else:
        index.init_index(max_elements=rows, M=16, ef_construction=200, random_seed=100)
        index.set_num_threads(2)
        index.add_items(base, np.arange(rows))
        index.save_index(saved)
    return index
