"""Drives a running ProximaDB through the real `qdrant-client` and checks each
answer against ProximaDB's own `/v1` API or a brute-force model.

usage: python client_suite.py http://127.0.0.1:PORT
Exits non-zero (with the failing check) on the first difference.
"""
import json
import math
import sys
import urllib.request
import uuid

from qdrant_client import QdrantClient, models
from qdrant_client.http.exceptions import UnexpectedResponse

URL = sys.argv[1]
DIM = 4


def v1(method, path, body=None):
    data = None if body is None else json.dumps(body).encode()
    request = urllib.request.Request(URL + path, data=data, method=method, headers={"Content-Type": "application/json"})
    with urllib.request.urlopen(request) as response:
        text = response.read()
        return json.loads(text) if text else None


def vector(i):
    return [math.sin(i * 0.7 + j) + 1.5 for j in range(DIM)]


def unit(v):
    n = math.sqrt(sum(x * x for x in v))
    return [x / n for x in v]


def refused(call, status, says=None):
    try:
        call()
    except UnexpectedResponse as e:
        assert e.status_code == status, f"status {e.status_code}, wanted {status}: {e.content!r}"
        if says:
            assert says in e.content.decode(), f"{says!r} not in {e.content!r}"
        return
    raise AssertionError(f"expected a {status}")


def payload(i):
    return {"city": ["London", "Paris", "Oslo"][i % 3], "n": i, "tags": ["a", "b"] if i % 2 else ["c"]}


client = QdrantClient(url=URL, timeout=30)
assert client.create_collection("qc", vectors_config=models.VectorParams(size=DIM, distance=models.Distance.COSINE))
assert client.collection_exists("qc") and not client.collection_exists("absent")
assert "qc" in [c.name for c in client.get_collections().collections]

# Upsert, both forms; integer and UUID ids.
ids = list(range(1, 31))
client.upsert("qc", points=[models.PointStruct(id=i, vector=vector(i), payload=payload(i)) for i in ids[:20]], wait=True)
client.upsert("qc", points=models.Batch(ids=ids[20:], vectors=[vector(i) for i in ids[20:]], payloads=[payload(i) for i in ids[20:]]))
named = str(uuid.UUID(int=12345))
client.upsert("qc", points=[models.PointStruct(id=named, vector=vector(99), payload={"city": "Rome", "note": None})])
model = {i: (unit(vector(i)), payload(i)) for i in ids}
model[named] = (unit(vector(99)), {"city": "Rome", "note": None})

info = client.get_collection("qc")
assert info.points_count == 31, info
assert info.config.params.vectors.size == DIM and info.config.params.vectors.distance == models.Distance.COSINE
assert v1("GET", "/v1/collections/qc")["stats"]["live_records"] == 31

# Retrieve: payloads, stored (unit) vectors, absent ids left out.
got = client.retrieve("qc", ids=[3, named, 999], with_vectors=True)
assert [p.id for p in got] == [3, named], got
assert got[0].payload == payload(3)
assert all(abs(a - b) < 1e-5 for a, b in zip(got[0].vector, unit(vector(3))))
assert v1("GET", "/v1/collections/qc/vectors/3")["record"]["metadata"] == payload(3)

# Count, with filters.
assert client.count("qc").count == 31
london = models.Filter(must=[models.FieldCondition(key="city", match=models.MatchValue(value="London"))])
assert client.count("qc", count_filter=london).count == sum(1 for _, p in model.values() if p["city"] == "London")


def brute(query, k, keep=lambda i, p: True):
    q = unit(query)
    scored = [(sum(a * b for a, b in zip(q, v)), i) for i, (v, p) in model.items() if keep(i, p)]
    scored.sort(key=lambda s: -s[0])
    return scored[:k]


# Query by vector, against /v1 search and brute force.
q = vector(7.5)
found = client.query_points("qc", query=q, limit=5, with_payload=True).points
ours = v1("POST", "/v1/collections/qc/search", {"vector": q, "k": 5})["hits"]
assert [str(p.id) for p in found] == [h["id"] for h in ours], (found, ours)
assert all(abs(p.score - h["score"]) < 1e-5 for p, h in zip(found, ours))
assert [p.id for p in found] == [i for _, i in brute(q, 5)]
assert found[0].payload == model[found[0].id][1]

# Filters: must / should / must_not, any / except, range, is_empty, is_null, has_id.
cases = [
    (london, lambda i, p: p["city"] == "London"),
    (models.Filter(must=[models.FieldCondition(key="n", range=models.Range(gte=5, lt=12))]),
     lambda i, p: "n" in p and 5 <= p["n"] < 12),
    (models.Filter(should=[models.FieldCondition(key="city", match=models.MatchAny(any=["Paris", "Rome"]))]),
     lambda i, p: p["city"] in ("Paris", "Rome")),
    (models.Filter(must_not=[models.FieldCondition(key="city", match=models.MatchExcept(**{"except": ["Oslo"]}))]),
     lambda i, p: p["city"] == "Oslo"),
    (models.Filter(must=[models.FieldCondition(key="tags", match=models.MatchValue(value="a"))]),
     lambda i, p: "a" in p.get("tags", [])),
    (models.Filter(must=[models.IsEmptyCondition(is_empty=models.PayloadField(key="n"))]), lambda i, p: "n" not in p),
    (models.Filter(must=[models.IsNullCondition(is_null=models.PayloadField(key="note"))]), lambda i, p: p.get("note", 0) is None),
    (models.Filter(must=[models.HasIdCondition(has_id=[2, 4, 6, named])], must_not=[models.HasIdCondition(has_id=[4])]),
     lambda i, p: i in (2, 6, named)),
    (models.Filter(must=[london], must_not=[models.FieldCondition(key="n", range=models.Range(lt=10))]),
     lambda i, p: p["city"] == "London" and p["n"] >= 10),
]


def filters_agree():
    for flt, keep in cases:
        want = [i for _, i in brute(q, 4, keep)]
        got = [p.id for p in client.query_points("qc", query=q, query_filter=flt, limit=4).points]
        assert got == want, (flt, got, want)
        assert client.count("qc", count_filter=flt).count == sum(1 for i, (_, p) in model.items() if keep(i, p)), flt


filters_agree()

# Payload indexes become declared fields: the answers stay the same, writes
# are checked against the type, and a field some point holds with another
# type is refused without changing anything.
client.create_payload_index("qc", field_name="city", field_schema=models.PayloadSchemaType.KEYWORD, wait=True)
client.create_payload_index("qc", field_name="n", field_schema=models.PayloadSchemaType.INTEGER)
client.create_payload_index("qc", field_name="n", field_schema=models.PayloadSchemaType.INTEGER)
refused(lambda: client.create_payload_index("qc", field_name="tags", field_schema=models.PayloadSchemaType.INTEGER), 400, "tags")
refused(lambda: client.create_payload_index("qc", field_name="n", field_schema=models.PayloadSchemaType.KEYWORD), 400, "declared")
schema = client.get_collection("qc").payload_schema
assert set(schema) == {"city", "n"} and schema["city"].data_type == models.PayloadSchemaType.KEYWORD, schema
assert [f["name"] for f in v1("GET", "/v1/collections/qc")["config"]["fields"]] == ["city", "n"]
refused(lambda: client.upsert("qc", points=[models.PointStruct(id=600, vector=vector(1), payload={"n": "six"})]), 400, "declared")
assert client.count("qc").count == 31
filters_agree()

# By id (the point itself is not an answer), offset, score threshold, exact and hnsw_ef.
by_id = client.query_points("qc", query=7, limit=3).points
assert [p.id for p in by_id] == [i for _, i in brute(vector(7), 4) if i != 7][:3]
page2 = client.query_points("qc", query=q, limit=3, offset=2).points
assert [p.id for p in page2] == [i for _, i in brute(q, 5)][2:5]
threshold = brute(q, 3)[2][0]
above = client.query_points("qc", query=q, limit=10, score_threshold=threshold - 1e-6).points
assert len(above) == 3, above
exact = client.query_points("qc", query=q, limit=5, search_params=models.SearchParams(exact=True, hnsw_ef=64)).points
assert [p.id for p in exact] == [i for _, i in brute(q, 5)]
batch = client.query_batch_points("qc", requests=[models.QueryRequest(query=vector(i), limit=2) for i in (1, 2)])
assert [[p.id for p in r.points] for r in batch] == [[i for _, i in brute(vector(j), 2)] for j in (1, 2)]

# Scroll: pages in id order, with a filter, and ordered by a payload key.
seen, offset = [], None
while True:
    points, offset = client.scroll("qc", limit=7, offset=offset)
    seen += [p.id for p in points]
    if offset is None:
        break
assert seen == ids + [named], seen
points, _ = client.scroll("qc", scroll_filter=london, limit=100, with_payload=False)
assert [p.id for p in points] == [i for i in ids if model[i][1]["city"] == "London"] and points[0].payload is None
points, _ = client.scroll("qc", limit=3, order_by=models.OrderBy(key="n", direction=models.Direction.DESC))
assert [p.id for p in points] == [30, 29, 28], points

# Payload changes.
client.set_payload("qc", payload={"city": "Berlin", "extra": 1}, points=[1, 2])
assert client.retrieve("qc", ids=[1])[0].payload == {**payload(1), "city": "Berlin", "extra": 1}
client.overwrite_payload("qc", payload={"only": True}, points=[2])
assert client.retrieve("qc", ids=[2])[0].payload == {"only": True}
client.delete_payload("qc", keys=["extra"], points=[1])
assert v1("GET", "/v1/collections/qc/vectors/1")["record"]["metadata"] == {**payload(1), "city": "Berlin"}
client.set_payload("qc", payload={"flag": "x"}, points=models.Filter(must=[models.FieldCondition(key="city", match=models.MatchValue(value="Oslo"))]))
flagged = models.Filter(must=[models.FieldCondition(key="flag", match=models.MatchValue(value="x"))])
assert client.count("qc", count_filter=flagged).count == 9  # the Oslo points but 2, now without a city

# Deletes, by ids (absent ones ignored, as Qdrant does) and by filter.
client.delete("qc", points_selector=models.PointIdsList(points=[3, 4, 1000]))
assert client.count("qc").count == 29
client.delete("qc", points_selector=models.FilterSelector(filter=flagged))
assert client.count("qc").count == 29 - 9

# Bad input is a 400 in Qdrant's shape, and changes nothing.
before = client.count("qc").count
refused(lambda: client.upsert("qc", points=[models.PointStruct(id=500, vector=[1.0, 2.0], payload={})]), 400)
refused(lambda: client.upsert("qc", points=[models.PointStruct(id=501, vector={"text": [1.0] * DIM}, payload={})]), 400, "named vectors")
assert client.count("qc").count == before
refused(lambda: client.query_points("qc", query=models.RecommendQuery(recommend=models.RecommendInput(positive=[1]))), 400, "recommend")
refused(lambda: client.query_points("qc", query=q, query_filter=models.Filter(must=[models.FieldCondition(key="city", match=models.MatchText(text="Lon"))])), 400, "full-text")
refused(lambda: client.create_collection("sparse", vectors_config={}, sparse_vectors_config={"s": models.SparseVectorParams()}), 400, "sparse")
refused(lambda: client.create_collection("named", vectors_config={"a": models.VectorParams(size=4, distance=models.Distance.DOT)}), 400, "named vectors")
refused(lambda: client.create_collection("q8", vectors_config=models.VectorParams(size=4, distance=models.Distance.DOT),
                                         quantization_config=models.ScalarQuantization(scalar=models.ScalarQuantizationConfig(type=models.ScalarType.INT8))), 400, "quantization")
refused(lambda: client.create_collection("sharded", vectors_config=models.VectorParams(size=4, distance=models.Distance.DOT), shard_number=3), 400, "sharding")
refused(lambda: client.create_payload_index("qc", field_name="place", field_schema=models.PayloadSchemaType.GEO), 400, "geo")
assert not client.collection_exists("sparse") and not client.collection_exists("named")
refused(lambda: client.get_collection("absent"), 404)

# Euclid: scores are distances, and the threshold bounds them from above.
assert client.create_collection("qe", vectors_config=models.VectorParams(size=DIM, distance=models.Distance.EUCLID))
client.upsert("qe", points=[models.PointStruct(id=i, vector=vector(i)) for i in range(10)])
near = client.query_points("qe", query=vector(0.2), limit=3).points
dist = sorted((math.dist(vector(0.2), vector(i)), i) for i in range(10))[:3]
assert [p.id for p in near] == [i for _, i in dist] and all(abs(p.score - d) < 1e-3 for p, (d, _) in zip(near, dist))
assert len(client.query_points("qe", query=vector(0.2), limit=10, score_threshold=dist[1][0] + 1e-4).points) == 2

assert client.delete_collection("qe") and client.delete_collection("qc")
assert not client.collection_exists("qc")
print("qdrant-client suite: every check passed")
