"""Layer-wise features of stimulus images: batched, streamed to disk, cached, optionally reduced.

:func:`extract_features` is the one call. It resolves the extractor, converts the images batch
by batch, computes all requested layers in one forward pass per batch under
``torch.inference_mode``, and streams each layer's flattened activations into its own ``.npy``
file (see :mod:`ieegrsa.models.cache`), so memory holds one batch of activations at a time.
"""

from __future__ import annotations

import logging
import math
from concurrent.futures import ThreadPoolExecutor
from contextlib import ExitStack

import numpy as np

from .._check import check_option
from .._docs import fill_doc
from .._logging import progress_bar, verbose
from ..errors import DataError
from .base import Extractor, InputSpec
from .cache import FeatureCache, LayerStore, resolve_cache_dir
from .images import ImageSet
from .layers import check_layers
from .registry import get_extractor

__all__ = ["Features", "extract_features", "pca_scores", "sparse_projection"]

logger = logging.getLogger("ieegrsa")

REDUCTIONS = ("pca", "srp")


class Features(dict):
    """``{layer: array (n_images, n_units)}`` in network depth order, with provenance.

    Attributes
    ----------
    labels : list of str
        The images in row order (file paths, or ``"array[i]"``).
    provenance : dict
        Extractor, options, weights id, objective, transform, image hashes, reduction and
        library versions (the cache key parts), plus per-layer ``cached`` flags.
    """

    def __init__(self, items=(), labels=(), provenance=None):
        super().__init__(items)
        self.labels = list(labels)
        self.provenance = dict(provenance or {})


@fill_doc
@verbose
def extract_features(model, images, layers=None, weights="random", cache_dir=None, *, seed=0,
                     batch_size=32, device="cpu", reduce=None, n_components=None,
                     reduce_seed=0, transform=None, boxes=None, landmarks=None,
                     crop_margin=0.25, verbose=None) -> Features:
    """Features of ``images`` at ``layers`` of a network.

    Parameters
    ----------
    model : str | Extractor
        A registry name (see :func:`~ieegrsa.models.list_extractors`) or an extractor (e.g.
        ``get_extractor("resnet18_gray", num_classes=7)``).
    images : path-like | sequence | numpy.ndarray
        A folder of images, a list of paths (e.g. a BIDS dataset's ``stim_file`` paths), an
        array ``(n, H, W[, C])`` (uint8, or float in [0, 1]) or a list of PIL images; see
        :class:`~ieegrsa.models.images.ImageSet`.
    layers : str | list of str | None
        Layer names (see ``Extractor.layers``); None = the extractor's default layers.
    weights : str | path-like | None
        ``"random"`` (or None): seeded random initialisation, the untrained control; a
        state-dict file; or a weights name the extractor knows (torchvision: ``"DEFAULT"``,
        ``"IMAGENET1K_V1"`` …).
    cache_dir : path-like | "auto" | None
        None: no cache. ``"auto"``: ``$IEEGRSA_CACHE`` or ``~/.cache/ieegrsa/features``.
        Otherwise the cache folder. See :mod:`ieegrsa.models.cache`.
    seed : int
        Seed of the random initialisation (``weights="random"``).
    batch_size : int
        Images per forward pass.
    device : str
        Torch device, e.g. ``"cpu"``, ``"cuda"``, ``"cuda:1"``; ``"auto"`` = ``"cuda"`` when
        a GPU is present, else ``"cpu"``. Not part of the cache key.
    reduce : {None, "none", "pca", "srp"}
        Dimensionality reduction per layer. ``"pca"``: principal-component scores of the
        centred features (all images; computed after the layer is complete, from the
        ``n × n`` Gram matrix), sign fixed so that each component's largest-magnitude score
        is positive. ``"srp"``: very sparse random projection (Li et al., 2006) applied per
        batch, ``x @ R`` with ``R[i, j] = ±sqrt(s / k)`` with probability ``1 / (2 s)``
        each, else 0, ``s = sqrt(n_units)``: squared distances are preserved in expectation.
    n_components : int | None
        Output width ``k``. Default: ``min(n_images, n_units)`` for PCA; for SRP the
        Johnson–Lindenstrauss bound ``4 ln(n) / (ε²/2 − ε³/3)`` with ε = 0.1. A layer with
        at most ``k`` units is kept as it is.
    reduce_seed : int
        Seed of the SRP matrix.
    transform : InputSpec | dict | None
        The input conversion: the extractor's ``input_spec`` (None), another
        :class:`InputSpec`, or a dict of fields to change in it (e.g. ``{"size": 112}``).
    boxes, landmarks, crop_margin
        Optional face crop before the conversion; see :class:`ImageSet`.
    %(verbose)s

    Returns
    -------
    Features
        A dict ``{layer: float32 array (n_images, n_units)}`` in network depth order (cached
        layers are read-only memory maps), with ``.labels`` and ``.provenance``.

    Raises
    ------
    DataError
        Unknown model or layer, unreadable image, mismatching weights file, pretrained
        weights unavailable offline, unavailable device, bad reduction settings.
    """

    extractor = get_extractor(model) if not isinstance(model, Extractor) else model
    spec = _resolve_spec(extractor.input_spec, transform)
    image_set = ImageSet(images, boxes=boxes, landmarks=landmarks, margin=crop_margin)
    n_images = len(image_set)
    all_layers = extractor.layers()
    layers = _resolve_layers(extractor, layers, all_layers)
    torch_device = _resolve_device(device)
    if int(batch_size) < 1:
        raise DataError("batch_size must be at least 1", field="batch_size", found=batch_size)
    reduction = _resolve_reduction(reduce, n_components, reduce_seed, n_images)

    parts = {
        "extractor": {"name": extractor.name, "options": extractor.get_options(),
                      "class": f"{type(extractor).__module__}.{type(extractor).__qualname__}"},
        "weights": extractor.weights_id(weights, seed),
        "transform": image_set.transform_key(spec),
        "images": image_set.hashes,
        "reduce": reduction,
        "versions": _versions(),
    }
    provenance = {**parts, "objective": extractor.objective_of(weights),
                  "weights_given": str(weights), "labels": image_set.labels}
    root = resolve_cache_dir(cache_dir)
    cache = None if root is None else FeatureCache(root, extractor.name, parts)

    out, cached = {}, {}
    for layer in layers:
        out[layer] = None if cache is None else cache.load(layer)
        cached[layer] = out[layer] is not None
    missing = [layer for layer in layers if out[layer] is None]
    if cache is not None:
        logger.info("feature cache %s: %d of %d layer(s) cached", cache.folder,
                    len(layers) - len(missing), len(layers))
    if missing:
        module = extractor.build(weights, seed).to(torch_device)
        out.update(_extract(extractor, module, image_set, spec, missing, cache, int(batch_size),
                            torch_device, reduction, provenance))
    provenance["cached"] = cached
    return Features(((layer, out[layer]) for layer in layers), image_set.labels, provenance)


def _extract(extractor, module, image_set, spec, layers, cache, batch_size, device, reduction,
             provenance) -> dict[str, np.ndarray]:
    """Stream every batch's activations of ``layers`` into one store per layer, then finish."""
    import torch

    n_images = len(image_set)
    pca = bool(reduction) and reduction["method"] == "pca"
    stores: dict[str, LayerStore] = {}
    projections: dict[int, object] = {}
    with ExitStack() as stack:
        try:
            for layer in layers:
                if cache is not None:
                    stores[layer] = cache.store(layer, n_images)
                elif pca:  # PCA needs every row: raw features go to a scratch file
                    stores[layer] = LayerStore(n_images, _scratch_file(stack, layer))
                else:
                    stores[layer] = LayerStore(n_images)
            progress = stack.enter_context(progress_bar(total=n_images, unit="img", leave=False,
                                                        desc=f"features {extractor.name}"))
            pool = stack.enter_context(ThreadPoolExecutor(1))  # decodes the next batch meanwhile
            batches = image_set.batches(spec, batch_size)
            pending = pool.submit(next, batches, None)
            while (item := pending.result()) is not None:
                pending = pool.submit(next, batches, None)
                start, batch = item
                with torch.inference_mode():
                    activations = extractor.features(module, batch.to(device), layers)
                for layer in layers:
                    block = _flat(activations[layer], layer, len(batch))
                    if reduction and reduction["method"] == "srp":
                        block = _project(block, reduction, projections)
                    stores[layer].write(start, block)
                progress.update(len(batch))
            return {layer: _finish(layer, stores, cache, reduction, provenance)
                    for layer in layers}
        except BaseException:
            for store in stores.values():  # never leave a partial file behind
                store.abort()
            raise


def _finish(layer, stores, cache, reduction, provenance):
    """PCA if asked, then commit the layer to the cache (or return it)."""
    store = stores[layer]
    array = store.finish()
    n_images, units = array.shape
    if reduction and reduction["method"] == "pca":
        if reduction["n_components"] < units:
            scores = pca_scores(array)[:, :reduction["n_components"]].astype(np.float32)
            store.abort()
            store = LayerStore(n_images) if cache is None else cache.store(layer, n_images)
            stores[layer] = store
            store.write(0, scores)
            array = store.finish()
        elif cache is None:  # the scratch file goes: keep the rows in memory
            array = np.array(array)
            store.abort()
    if cache is None:
        return array
    return cache.commit(layer, store, {**provenance, "layer_units": units})


def pca_scores(features: np.ndarray, block: int = 8192) -> np.ndarray:
    """Principal-component scores of the rows of ``features``.

    With ``X`` the column-centred ``(n, p)`` features and ``X Xᵀ = U Λ Uᵀ`` (eigenvalues in
    decreasing order), the scores are ``U Λ^½ = X V`` (``n × min(n, p)``), computed from the
    ``n × n`` Gram matrix accumulated over column blocks (``features`` may be a memory map).
    Each component's sign makes its largest-magnitude score positive.

    Returns
    -------
    numpy.ndarray
        float64, shape ``(n, min(n, p))``.
    """
    n, p = features.shape
    gram = np.zeros((n, n))
    for lo in range(0, p, block):
        chunk = np.asarray(features[:, lo:lo + block], dtype=np.float64)
        chunk = chunk - chunk.mean(axis=0)
        gram += chunk @ chunk.T
    values, vectors = np.linalg.eigh(gram)
    order = np.argsort(values)[::-1][:min(n, p)]
    values, vectors = np.clip(values[order], 0, None), vectors[:, order]
    signs = np.sign(vectors[np.abs(vectors).argmax(axis=0), np.arange(vectors.shape[1])])
    return vectors * (signs * np.sqrt(values))


def sparse_projection(n_units: int, n_components: int, seed: int = 0):
    """The very sparse random projection matrix ``R`` (``n_units × n_components``, CSC).

    Entries are ``+sqrt(s / k)`` or ``-sqrt(s / k)`` with probability ``1 / (2 s)`` each and 0
    otherwise, ``s = sqrt(n_units)``, ``k = n_components`` (Li, Hastie & Church, 2006), so
    that ``E ||x R||² = ||x||²``. Seeded by ``seed`` (numpy ``default_rng``).
    """
    import scipy.sparse

    rng = np.random.default_rng([int(seed), int(n_units), int(n_components)])
    density = 1 / math.sqrt(n_units)
    counts = rng.binomial(n_units, density, size=n_components)
    rows = np.concatenate([rng.choice(n_units, c, replace=False) for c in counts])
    indptr = np.concatenate([[0], np.cumsum(counts)])
    scale = math.sqrt(1 / density / n_components)
    data = np.where(rng.random(len(rows)) < 0.5, -scale, scale).astype(np.float32)
    return scipy.sparse.csc_matrix((data, rows, indptr), shape=(n_units, n_components))


def _project(block, reduction, projections):
    units, k = block.shape[1], reduction["n_components"]
    if k >= units:
        return block
    if units not in projections:
        projections[units] = sparse_projection(units, k, reduction["seed"])
    return np.asarray(block @ projections[units], dtype=np.float32)


def _jl_dim(n: int, eps: float = 0.1) -> int:
    return int(4 * math.log(max(n, 2)) / (eps ** 2 / 2 - eps ** 3 / 3))


def _flat(tensor, layer, n):
    import torch

    if not isinstance(tensor, torch.Tensor) or tensor.ndim == 0 or tensor.shape[0] != n:
        raise DataError(f"layer {layer!r} does not output one tensor row per image",
                        field="layers", found=getattr(tensor, "shape", type(tensor).__name__),
                        fix="choose another layer (e.g. the module around this node)")
    return tensor.detach().reshape(n, -1).to("cpu", torch.float32).numpy()


def _resolve_spec(spec: InputSpec, transform) -> InputSpec:
    import dataclasses

    if transform is None:
        return spec
    if isinstance(transform, InputSpec):
        return transform
    if isinstance(transform, dict):
        fields = {f.name for f in dataclasses.fields(InputSpec)}
        unknown = sorted(set(transform) - fields)
        if unknown:
            raise DataError("unknown transform field(s)", field="transform", found=unknown,
                            fix=f"valid fields: {', '.join(sorted(fields))}")
        values = {k: tuple(v) if k in ("mean", "std") else v for k, v in transform.items()}
        return dataclasses.replace(spec, **values)
    raise DataError("transform must be an InputSpec or a dict of its fields",
                    field="transform", found=type(transform).__name__)


def _resolve_layers(extractor, layers, all_layers) -> list[str]:
    if layers is None:
        layers = extractor.default_layers()
    elif isinstance(layers, str):
        layers = [layers]
    layers = list(dict.fromkeys(layers))
    if not layers:
        raise DataError("no layers asked for", field="layers",
                        fix=f"choose from: {', '.join(all_layers)}")
    check_layers(extractor, layers, all_layers)
    position = {name: i for i, name in enumerate(all_layers)}
    return sorted(layers, key=position.__getitem__)


def _resolve_device(device):
    import torch

    if device == "auto":
        device = "cuda" if torch.cuda.is_available() else "cpu"
    try:
        torch_device = torch.device(device)
    except (RuntimeError, TypeError) as err:
        raise DataError("unknown torch device", field="device", found=device) from err
    if torch_device.type == "cuda" and not torch.cuda.is_available():
        raise DataError("CUDA was asked for but no CUDA device is available", field="device",
                        found=device, fix="use device='cpu' (or install a CUDA build of torch)")
    if torch_device.type == "mps" and not torch.backends.mps.is_available():
        raise DataError("MPS was asked for but is not available", field="device", found=device,
                        fix="use device='cpu'")
    return torch_device


def _resolve_reduction(reduce, n_components, seed, n_images):
    if reduce is None or reduce == "none":
        if n_components is not None:
            raise DataError("n_components needs reduce='pca' or 'srp'", field="n_components",
                            found=n_components)
        return None
    check_option("reduce", reduce, (*REDUCTIONS, None), what="reduction")
    if n_components is not None and int(n_components) < 1:
        raise DataError("n_components must be at least 1", field="n_components",
                        found=n_components)
    if n_components is None:
        n_components = n_images if reduce == "pca" else _jl_dim(n_images)
    out = {"method": reduce, "n_components": int(n_components)}
    if reduce == "srp":
        out["seed"] = int(seed)
    return out


def _versions() -> dict:
    import torch
    import torchvision

    from .. import __version__

    return {"ieegrsa": __version__, "torch": torch.__version__,
            "torchvision": torchvision.__version__, "numpy": np.__version__}


def _scratch_file(stack, layer):
    import tempfile
    from pathlib import Path

    folder = Path(stack.enter_context(tempfile.TemporaryDirectory(prefix="ieegrsa-")))
    return folder / f"{layer}.npy"
