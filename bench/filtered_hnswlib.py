#!/usr/bin/env python3
"""hnswlib with its filter callback on the filters of `cargo xtask bench ann --filtered`.

usage: filtered_hnswlib.py DATA_DIR OUT.json

DATA_DIR is made by ../shared/bench/glove50.sh (TEXMEX files). Builds hnswlib
0.8 (M 16, ef_construction 200, 2 threads; cached beside the data), then for
each filter raises ef until recall@10 against the exact filtered top 10
reaches 0.95 over the first 300 queries (its filter is a Python callback: slow), one query thread, and reports QPS
and p50 there. Run it with the peers' virtualenv
(`$HOME/.cache/proximadb-bench/venv/bin/python`, made by peers.sh).
"""
import json
import os
import sys
import time

import numpy as np

from texmex import hnswlib_index, read_vecs

K = 10
QUERIES = 300
EFS = [10, 20, 40, 80, 160, 320, 640, 1280, 2560]


def main():
    data, out = sys.argv[1], sys.argv[2]
    base = read_vecs(os.path.join(data, "base.fvecs"), np.float32)
    queries = read_vecs(os.path.join(data, "query.fvecs"), np.float32)[:QUERIES]
    rows, dim = base.shape
    index = hnswlib_index(data, base)
    index.set_num_threads(1)
    i = np.arange(rows)
    filters = {
        "eq p1 (1%)": i % 100 == 7,
        "eq p01 (0.1%)": i % 1000 == 77,
        "yr in [1950, 1975) (20%)": (i % 125 >= 50) & (i % 125 < 75),
        "eq p1 and yr >= 2000 (0.2%)": (i % 100 == 7) & (i % 125 >= 100),
        "ne p1 (99%)": i % 100 != 7,
    }
    results = []
    for name, mask in filters.items():
        ids = np.nonzero(mask)[0]
        scores = queries @ base[ids].T
        truth = [set(ids[np.argsort(-s)[:K]]) for s in scores]
        allowed = set(ids.tolist()) if len(ids) < rows // 2 else None
        accept = (lambda label: label in allowed) if allowed is not None else (lambda label: mask[label])
        best = None
        for ef in EFS:
            index.set_ef(max(ef, K))
            latencies, found = [], 0
            for q, want in zip(queries, truth):
                started = time.perf_counter()
                labels, _ = index.knn_query(q, k=K, filter=accept)
                latencies.append(time.perf_counter() - started)
                found += len(want & set(labels[0].tolist()))
            recall = found / (K * len(queries))
            best = {"filter": name, "matching_rows": int(len(ids)), "ef": ef, "recall10": recall,
                    "qps": len(queries) / sum(latencies), "p50_ms": 1e3 * float(np.median(latencies))}
            print(f"hnswlib: {name:28} ef {ef:5} recall@10 {recall:.4f} qps {best['qps']:7.0f} p50 {best['p50_ms']:.3f} ms",
                  file=sys.stderr)
            if recall >= 0.95:
                break
        results.append(best)
    with open(out, "w") as f:
        json.dump({"engine": "hnswlib", "version": getattr(hnswlib, "__version__", None), "queries": QUERIES,
                   "filters": results}, f, indent=1)


if __name__ == "__main__":
    main()
