"""DCNN feature extraction: ieegrsa vs plain torchvision forward hooks, and the cache.

``features_resnet50``: 256 random 224×224 RGB images, a randomly initialised ResNet-50
(seed 0), layers ``layer1``–``layer4``, batch 32, CPU. The peer is the loop people write: a
torchvision ``v2`` transform per image, forward hooks on the four modules, ``torch.no_grad``,
numpy concatenation at the end. Both see identical input tensors, so they must agree to
float32 rounding. Also reported: ieegrsa's images/s and the fraction of the machine's float32
GEMM rate (``torch.mm`` of 2048² matrices, best of three 0.4 s windows) the extraction reaches, with
ResNet-50's forward pass counted as 8.2 GFLOP per image (4.1 G multiply-adds, 2 FLOP each,
the convention of the GEMM count ``2 n³``).

``features_cache``: the same extraction with a feature cache; peer_s is the first (cold) run
that fills the cache, ieegrsa_s the second run that reads it (aim: ≥ 100× faster).
"""

from __future__ import annotations

import tempfile
import time

import numpy as np
from _timing import max_abs_diff, median_time

N_IMAGES, SIZE, BATCH = 256, 224, 32
LAYERS = ["layer1", "layer2", "layer3", "layer4"]
RESNET50_GFLOP = 8.2  # per 224×224 image: 4.1 G multiply-adds


def _images() -> np.ndarray:
    return np.random.default_rng(0).integers(0, 256, (N_IMAGES, SIZE, SIZE, 3), dtype=np.uint8)


def _plain_hooks(images: np.ndarray) -> dict:
    """The obvious torchvision loop: hooks on the modules, a transform per image, concat."""
    import torch
    import torchvision
    from torchvision.transforms import v2

    torch.manual_seed(0)
    model = torchvision.models.resnet50(weights=None).eval()
    transform = v2.Compose([
        v2.Resize(232, antialias=True), v2.CenterCrop(224),
        v2.ToDtype(torch.float32, scale=True),
        v2.Normalize([0.485, 0.456, 0.406], [0.229, 0.224, 0.225]),
    ])
    feats = {name: [] for name in LAYERS}
    modules = dict(model.named_modules())
    hooks = [modules[name].register_forward_hook(
        lambda _m, _i, out, name=name: feats[name].append(out.flatten(1).numpy().copy()))
        for name in LAYERS]
    with torch.no_grad():
        for start in range(0, len(images), BATCH):
            batch = torch.stack([transform(torch.from_numpy(img).permute(2, 0, 1))
                                 for img in images[start:start + BATCH]])
            model(batch)
    for hook in hooks:
        hook.remove()
    return {name: np.concatenate(blocks) for name, blocks in feats.items()}


def _gemm_gflops(n: int = 2048, seconds: float = 1.2, windows: int = 3) -> float:
    """Best float32 ``torch.mm`` rate (GFLOP/s, ``2 n³`` per product) over short windows."""
    import torch

    a, b = torch.randn(n, n), torch.randn(n, n)
    torch.mm(a, b)
    best = 0.0
    for _ in range(windows):
        count, start = 0, time.perf_counter()
        while time.perf_counter() - start < seconds / windows:
            torch.mm(a, b)
            count += 1
        best = max(best, 2 * n ** 3 * count / (time.perf_counter() - start) / 1e9)
    return best


def _max_diff(a: dict, b: dict) -> float:
    return max(max_abs_diff(a[name], b[name]) for name in LAYERS)


# the cold ieegrsa run of features_resnet50 fills this cache; features_cache reuses it (each
# ResNet-50 pass over 256 images takes ~40 s on 2 cores, so no pass is repeated)
_COLD: dict = {}


def _cold_run(images) -> tuple[float, dict]:
    """The first ieegrsa extraction, filling a fresh cache: (seconds, features)."""
    from ieegrsa.models import extract

    if not _COLD:
        _COLD["dir"] = tempfile.TemporaryDirectory(prefix="ieegrsa-bench-")
        start = time.perf_counter()
        feats = extract.extract_features("resnet50", images, LAYERS, weights="random", seed=0,
                                         batch_size=BATCH, cache_dir=_COLD["dir"].name,
                                         verbose=False)
        _COLD["seconds"] = time.perf_counter() - start
        if any(feats.provenance["cached"].values()):
            raise AssertionError("the first run found a cache entry in an empty folder")
        _COLD["features"] = feats
    return _COLD["seconds"], _COLD["features"]


def features_resnet50() -> dict:
    from ieegrsa.models import extract

    images = _images()
    # warm-up on one batch: imports, FX trace, thread pools
    extract.extract_features("resnet50", images[:BATCH], LAYERS, batch_size=BATCH, verbose=False)
    t_ours, f_ours = _cold_run(images)
    start = time.perf_counter()
    f_peer = _plain_hooks(images)
    t_peer = time.perf_counter() - start
    rate = N_IMAGES / t_ours
    gemm = _gemm_gflops()
    fraction = RESNET50_GFLOP * rate / gemm
    diff = _max_diff(f_ours, f_peer)
    scale = max(float(np.abs(f_peer[name]).max()) for name in LAYERS)
    if diff > 1e-5 * scale:
        raise AssertionError(f"features differ: max |diff| {diff:g} (scale {scale:g})")
    return dict(
        ieegrsa_s=t_ours, peer_s=t_peer, maxabsdiff=diff, extra=f"gflops_fraction={fraction:.2f}",
        note=(f"{N_IMAGES} random {SIZE}x{SIZE} images, random-init ResNet-50, {LAYERS}, "
              f"batch {BATCH}, CPU: ieegrsa {rate:.1f} images/s (writing its feature cache), "
              f"plain hooks {N_IMAGES / t_peer:.1f} images/s\n"
              f"float32 GEMM (torch.mm 2048², best of 3 windows) {gemm:.0f} GFLOP/s; ResNet-50 at "
              f"{RESNET50_GFLOP} GFLOP/image -> gflops_fraction={fraction:.2f}\n"
              "peer = torchvision v2 transform per image + forward hooks + numpy concat; "
              "one timed run each (a pass is ~40 s on 2 cores), after a one-batch warm-up"),
    )


def features_cache() -> dict:
    from ieegrsa.models import extract

    images = _images()
    t_first, first = _cold_run(images)

    def run():
        return extract.extract_features("resnet50", images, LAYERS, weights="random", seed=0,
                                        batch_size=BATCH, cache_dir=_COLD["dir"].name,
                                        verbose=False)

    t_cached, again = median_time(run, repeat=5, warmup=1)
    if not all(again.provenance["cached"].values()):
        raise AssertionError("the second run missed the cache")
    diff = _max_diff(first, again)
    return dict(
        ieegrsa_s=t_cached, peer_s=t_first, maxabsdiff=diff,
        note=(f"peer_s = first run filling the cache ({t_first:.1f} s, incl. writing "
              f"{N_IMAGES} images x 1.5 M floats), ieegrsa_s = cached re-run, median of 5 (image "
              f"hashing, key check, memory-mapped load); speed-up {t_first / t_cached:.0f}x"),
    )


CASES = {"features_resnet50": features_resnet50, "features_cache": features_cache}
