"""The feature cache: one ``.npy`` file per layer with a JSON sidecar, written atomically.

Where
-----
``cache_dir=None`` (the default of :func:`~ieegrsa.models.extract_features`) caches nothing.
``cache_dir="auto"`` uses ``$IEEGRSA_CACHE`` when set, else ``~/.cache/ieegrsa/features``;
any other value is the folder itself. Inside it::

    <cache_dir>/<extractor name>/<key>/<layer>.npy    features, float32 (n_images, n_units)
    <cache_dir>/<extractor name>/<key>/<layer>.json   provenance and the key

Key
---
``key`` is the SHA-256 of the canonical JSON of everything the features depend on: the
extractor (name, class, options), the weights id (seed, weights-file SHA-256 or weights
name), the image conversion (input spec, crop boxes, pipeline version), the SHA-256 of
every image's content in order, the reduction settings, and the ieegrsa, torch, torchvision
and numpy versions (a new torch may initialise or compute differently). The sidecar stores
these parts and the layer; a file is used only when its sidecar names the same key and layer
and the array has the recorded shape, so a changed input can never return old features.
Deleting any folder of the cache is always safe.

Atomic writes
-------------
A layer is streamed into a temporary file beside its final name (``.<layer>.<pid>.<random>
.tmp.npy``) and renamed when complete; its sidecar is written the same way afterwards. A run
stopped by an exception (Ctrl-C included) removes its temporary files; a killed process may
leave one behind, never read and safe to delete, but never a file that looks complete.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import secrets
from pathlib import Path

import numpy as np

__all__ = ["CACHE_ENV", "FeatureCache", "LayerStore", "default_cache_dir", "key_of",
           "resolve_cache_dir"]

CACHE_ENV = "IEEGRSA_CACHE"
#: version of the cache layout and key; bump it when either changes
CACHE_FORMAT = 1


def default_cache_dir() -> Path:
    """``$IEEGRSA_CACHE`` when set, else ``~/.cache/ieegrsa/features``."""
    env = os.environ.get(CACHE_ENV)
    return Path(env).expanduser() if env else Path.home() / ".cache" / "ieegrsa" / "features"


def resolve_cache_dir(cache_dir) -> Path | None:
    """``None`` → no cache; ``"auto"`` → :func:`default_cache_dir`; else the path itself."""
    if cache_dir is None:
        return None
    if isinstance(cache_dir, str) and cache_dir == "auto":
        return default_cache_dir()
    return Path(cache_dir).expanduser()


def key_of(parts: dict) -> str:
    """SHA-256 hex digest of the canonical JSON of ``parts``."""
    text = json.dumps(parts, sort_keys=True, separators=(",", ":"), ensure_ascii=True)
    return hashlib.sha256(text.encode()).hexdigest()


def _safe(name: str) -> str:
    return re.sub(r"[^A-Za-z0-9._-]", "_", name) or "_"


class FeatureCache:
    """The cached layers of one extraction (one key).

    Parameters
    ----------
    root : path-like
        The cache folder.
    name : str
        Extractor name (first folder level, for browsing).
    parts : dict
        Everything the features depend on (JSON-able); the key is :func:`key_of` of it.
    """

    def __init__(self, root, name: str, parts: dict):
        self.parts = {"format": CACHE_FORMAT, **parts}
        self.key = key_of(self.parts)
        self.folder = Path(root) / _safe(name) / self.key

    def paths(self, layer: str) -> tuple[Path, Path]:
        """(features file, sidecar file) of ``layer``."""
        stem = _safe(layer)
        return self.folder / f"{stem}.npy", self.folder / f"{stem}.json"

    def load(self, layer: str):
        """The cached features of ``layer`` (read-only memory map), or None on a miss."""
        array_path, meta_path = self.paths(layer)
        try:
            meta = json.loads(meta_path.read_text())
            if meta.get("key") != self.key or meta.get("layer") != layer:
                return None
            array = np.load(array_path, mmap_mode="r")
        except (OSError, ValueError):
            return None
        if list(array.shape) != meta.get("shape") or array.dtype != np.float32:
            return None
        return array

    def store(self, layer: str, n_rows: int) -> LayerStore:
        """A :class:`LayerStore` of ``n_rows`` streaming into a temporary file of this cache."""
        self.folder.mkdir(parents=True, exist_ok=True)
        array_path, _ = self.paths(layer)
        return LayerStore(n_rows, _temp_beside(array_path))

    def commit(self, layer: str, store: LayerStore, provenance: dict):
        """Move a finished layer to its final name, then write its sidecar (both atomic)."""
        array_path, meta_path = self.paths(layer)
        array = store.finish()
        store.array = None
        os.replace(store.path, array_path)
        meta = {"key": self.key, "layer": layer, "shape": list(array.shape),
                "dtype": "float32", "parts": self.parts, "provenance": provenance}
        temp = _temp_beside(meta_path)
        try:
            temp.write_text(json.dumps(meta, indent=1, sort_keys=True))
            os.replace(temp, meta_path)
        finally:
            temp.unlink(missing_ok=True)
        return np.load(array_path, mmap_mode="r")


def _temp_beside(path: Path) -> Path:
    return path.with_name(f".{path.stem}.{os.getpid()}.{secrets.token_hex(4)}.tmp{path.suffix}")


class LayerStore:
    """Rows of one layer written block by block, in memory or into a ``.npy`` file.

    The array is allocated at the first block, when the number of units is known.

    Parameters
    ----------
    n_rows : int
        Number of rows (images).
    path : path-like | None
        File to stream into (``numpy.lib.format.open_memmap``); None keeps it in memory.
    """

    def __init__(self, n_rows: int, path=None):
        self.path = None if path is None else Path(path)
        self.n_rows = n_rows
        self.array = None

    def write(self, start: int, block: np.ndarray) -> None:
        """Write ``block`` (rows × units, float32) at row ``start``."""
        if self.array is None:
            shape = (self.n_rows, block.shape[1])
            if self.path is None:
                self.array = np.empty(shape, dtype=np.float32)
            else:
                self.array = np.lib.format.open_memmap(self.path, mode="w+", dtype=np.float32,
                                                       shape=shape)
        self.array[start:start + len(block)] = block

    def finish(self) -> np.ndarray:
        """Flush and return the array (a memory map when on disk)."""
        if isinstance(self.array, np.memmap):
            self.array.flush()
        return self.array

    def abort(self) -> None:
        """Drop the array and remove its temporary file."""
        self.array = None
        if self.path is not None:
            self.path.unlink(missing_ok=True)
