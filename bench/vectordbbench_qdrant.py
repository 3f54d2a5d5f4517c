"""Drives ProximaDB through VectorDBBench's own Qdrant client class
(`vectordb_bench.backend.clients.qdrant_cloud.QdrantCloud`) on synthetic
data: the calls VectorDBBench makes in a run (collection with hnsw and
optimizer settings, integer and keyword payload indexes, batched upserts,
the wait for a green status, searches unfiltered, `pk >= n` and
`label == x`), with recall@k against brute force. VectorDBBench's datasets
are downloaded from the internet; this checks the client path without them.

usage: python vectordbbench_qdrant.py http://127.0.0.1:6333 [rows] [dim]
(needs `pip install vectordb-bench numpy`)
"""
import sys
import time

import numpy as np
from vectordb_bench.backend.clients.api import MetricType
from vectordb_bench.backend.clients.qdrant_cloud.config import QdrantConfig, QdrantIndexConfig
from vectordb_bench.backend.clients.qdrant_cloud.qdrant_cloud import QdrantCloud
from vectordb_bench.backend.filter import IntFilter, LabelFilter, non_filter

URL = sys.argv[1]
ROWS = int(sys.argv[2]) if len(sys.argv) > 2 else 20_000
DIM = int(sys.argv[3]) if len(sys.argv) > 3 else 64
K = 10
LABELS = ["label_1p", "label_10p", "label_rest"]

# Clustered, as embeddings are: uniform random vectors in 64 dimensions are
# far harder for any graph index (hnswlib reaches recall 0.61 on them at ef 128).
rng = np.random.default_rng(7)
centres = rng.standard_normal((256, DIM), dtype=np.float32)


def clustered(n):
    v = centres[rng.integers(len(centres), size=n)] + 0.35 * rng.standard_normal((n, DIM), dtype=np.float32)
    return v / np.linalg.norm(v, axis=1, keepdims=True)


data = clustered(ROWS)
labels = rng.choice(LABELS, size=ROWS, p=[0.01, 0.09, 0.90])
queries = clustered(50)

case = QdrantIndexConfig(
    metric_type=MetricType.COSINE, create_payload_int_index=True, create_payload_keyword_index=True, hnsw_ef=128
)
db = QdrantCloud(
    DIM, QdrantConfig(url=URL).to_dict(), case, collection_name="vdbbench", drop_old=True, with_scalar_labels=True
)
with db.init():
    started = time.time()
    count, error = db.insert_embeddings(data.tolist(), list(range(ROWS)), labels_data=labels.tolist())
    assert error is None and count == ROWS, error
    print(f"inserted {ROWS} x {DIM} in {time.time() - started:.1f}s")
    db.optimize(ROWS)

    def recall(flt, keep):
        db.prepare_filter(flt)
        allowed = np.flatnonzero(keep)
        total = 0.0
        for q in queries:
            scores = data[allowed] @ (q / np.linalg.norm(q))
            truth = set(allowed[np.argsort(-scores)[:K]].tolist())
            got = db.search_embedding(q.tolist(), k=K)
            total += len(truth & set(got)) / max(1, min(K, len(allowed)))
        return total / len(queries)

    ids = np.arange(ROWS)
    cases = [
        ("unfiltered", non_filter, ids >= 0),
        ("pk >= 99%", IntFilter(filter_rate=0.99, int_value=int(ROWS * 0.99)), ids >= int(ROWS * 0.99)),
        ("pk >= 1%", IntFilter(filter_rate=0.01, int_value=int(ROWS * 0.01)), ids >= int(ROWS * 0.01)),
        ("label 1%", LabelFilter(label_percentage=0.01), labels == "label_1p"),
    ]
    for name, flt, keep in cases:
        r = recall(flt, keep)
        print(f"{name:12} recall@{K} {r:.3f}")
        assert r >= 0.9, f"{name}: recall {r}"
print("VectorDBBench's Qdrant client: every call served")
