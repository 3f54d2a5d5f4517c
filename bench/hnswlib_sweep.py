#!/usr/bin/env python3
"""hnswlib's unfiltered ef sweep on a saved index, to set beside ProximaDB's
figures in the same sitting without rebuilding either graph.

usage: hnswlib_sweep.py DATA_DIR OUT.json [--build-threads N] [--queries N]

DATA_DIR is made by ../shared/bench/glove50.sh; the index is the one
`filtered_hnswlib.py` caches beside the data (M 16, ef_construction 200), or
built here if missing. The procedure is peers.sh's: one query thread, k 10, a
warm-up over 1,000 queries, then the median of three timed passes. Run it with
the peers' virtualenv (`$HOME/.cache/proximadb-bench/venv/bin/python`).
`--build-threads N` first times a build with N threads (not saved), to set
beside `ann --build-threads N`; `--queries N` keeps the first N queries.
"""
import json
import os
import sys
import time

import hnswlib
import numpy as np

from texmex import hnswlib_index, read_vecs

K = 10
EFS = [10, 20, 40, 80, 120, 200, 400]


def main():
    data, out = sys.argv[1], sys.argv[2]
    base = read_vecs(os.path.join(data, "base.fvecs"), np.float32)
    queries = read_vecs(os.path.join(data, "query.fvecs"), np.float32)
    truth = read_vecs(os.path.join(data, "gt.ivecs"), np.int32)[:, :K]
    if "--queries" in sys.argv:
        n = int(sys.argv[sys.argv.index("--queries") + 1])
        queries, truth = queries[:n], truth[:n]
    rows, dim = base.shape
    result = {"engine": "hnswlib", "version": "0.8"}
    if "--build-threads" in sys.argv:
        threads = int(sys.argv[sys.argv.index("--build-threads") + 1])
        fresh = hnswlib.Index(space="ip", dim=dim)
        fresh.init_index(max_elements=rows, M=16, ef_construction=200)
        started = time.perf_counter()
        fresh.add_items(base, np.arange(rows), num_threads=threads)
        secs = time.perf_counter() - started
        print(f"hnswlib: built with {threads} thread(s) in {secs:.1f} s", file=sys.stderr)
        result["build_s"] = {str(threads): secs}
        saved = os.path.join(data, "hnswlib-m16-ef200.bin")
        if not os.path.exists(saved):
            fresh.save_index(saved)
        del fresh
    index = hnswlib_index(data, base)
    index.set_num_threads(1)
    points = []
    for ef in EFS:
        index.set_ef(ef)
        index.knn_query(queries[:1000], k=K, num_threads=1)
        walls = []
        for _ in range(3):
            started = time.perf_counter()
            labels, _ = index.knn_query(queries, k=K, num_threads=1)
            walls.append(time.perf_counter() - started)
        walls.sort()
        recall = np.mean([len(set(l) & set(t)) / K for l, t in zip(labels, truth)])
        qps = len(queries) / walls[1]
        print(f"hnswlib: ef {ef:4} recall@10 {recall:.4f} qps {qps:.0f}", file=sys.stderr)
        points.append({"ef": ef, "recall10": float(recall), "qps": qps})
    with open(out, "w") as f:
        json.dump({**result, "points": points}, f, indent=1)


main()
