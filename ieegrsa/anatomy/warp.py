"""Native contact positions to MNI: register the patient's T1w to the MNI152 template.

The registration is MNE-Python's affine pipeline
(:func:`mne.transforms.compute_volume_registration`: centre of mass, translation, rigid, affine,
each by mutual information) followed by dipy's symmetric diffeomorphic registration (SDR,
cross-correlation): the two libraries and steps MNE uses for sEEG contacts. We run the SDR step
ourselves for one reason: nilearn's template is skull-stripped, so after the affine step the
patient's image is masked with the template's brain mask (grown 6 mm), so that the skull and
scalp of a real T1w do not pull the brain's surface outwards.

A registration is cached by the T1w's content hash and the registration settings, as plain arrays
(``.npz``, read without unpickling).
"""

from __future__ import annotations

import hashlib
import json
import logging
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

import numpy as np

from .._files import atomic_path, file_sha256
from ..errors import DataError

logger = logging.getLogger("ieegrsa")

__all__ = ["TemplateWarp", "register_t1w", "cached_registration", "template_image",
           "TEMPLATE_SPACE"]

#: The space of the template (nilearn's MNI152: ICBM152 2009a, asymmetric).
TEMPLATE_SPACE = "MNI152NLin2009aAsym"

_SDR_FIELDS = ("forward", "backward")
_SDR_GRIDS = ("disp_shape", "disp_grid2world", "domain_shape", "domain_grid2world",
              "codomain_shape", "codomain_grid2world")


@lru_cache(maxsize=1)
def template_image():
    """nilearn's MNI152 template at 2 mm (read and resampled once per process)."""
    from nilearn.datasets import load_mni152_template

    return load_mni152_template(resolution=2)


def _homogeneous(xyz: np.ndarray) -> np.ndarray:
    return np.c_[xyz, np.ones(len(xyz))].T


@dataclass(frozen=True, eq=False)
class TemplateWarp:
    """A map of native T1w positions (mm) to the template (mm).

    Attributes
    ----------
    affine : ndarray, shape (4, 4)
        The affine registration as dipy writes it: template mm -> native mm (so native points
        map to the template by its inverse).
    sdr : dipy.align.imwarp.DiffeomorphicMap | None
        The non-linear step between the template and the affinely aligned image; None: affine.
    space : str
        The template's space.
    """

    affine: np.ndarray
    sdr: object = None
    space: str = TEMPLATE_SPACE

    def apply_affine(self, xyz) -> np.ndarray:
        """Native mm (N, 3) -> template mm by the affine step alone (NaN rows stay NaN)."""
        xyz = np.atleast_2d(np.asarray(xyz, float))
        return (np.linalg.inv(self.affine) @ _homogeneous(xyz))[:3].T

    def apply(self, xyz) -> np.ndarray:
        """Native mm (N, 3) -> template mm, affine then non-linear (NaN rows stay NaN)."""
        out = self.apply_affine(xyz)
        ok = np.isfinite(out).all(axis=1)
        if self.sdr is not None and ok.any():
            # the SDR map takes the template onto the aligned image, so positions in the
            # image reach the template by its inverse (world mm when no coord2world is given;
            # tests/test_anatomy_warp.py checks the direction against a known deformation)
            out[ok] = np.asarray(self.sdr.transform_points_inverse(out[ok]))
        return out


    def warped_image(self, t1w):
        """The T1w resampled onto the template's grid through this registration (for QC)."""
        import nibabel as nib
        from dipy.align.imaffine import AffineMap
        moving = _load_t1w(t1w)
        if self.sdr is not None:
            shape, grid = tuple(self.sdr.domain_shape), self.sdr.domain_grid2world
        else:
            template = template_image()
            shape, grid = template.shape, template.affine
        data = np.asarray(moving.get_fdata(), np.float64)
        moved = AffineMap(self.affine, domain_grid_shape=shape, domain_grid2world=grid,
                          codomain_grid_shape=data.shape,
                          codomain_grid2world=moving.affine).transform(data)
        if self.sdr is not None:
            moved = self.sdr.transform(moved)
        return nib.Nifti1Image(np.asarray(moved, np.float32), grid)


def _settings(nonlinear, zooms, niter) -> dict:
    return {"template": TEMPLATE_SPACE, "nonlinear": bool(nonlinear),
            "zooms": {k: float(v) for k, v in zooms.items()},
            "niter": {k: [int(i) for i in v] for k, v in niter.items()}, "version": 2}


#: Default voxel sizes (mm) and iterations per resolution level of each step: the SDR on the
#: template's own 2 mm grid takes about 30 s on 2 cores (benchmarks/bench_registration.py).
ZOOMS = {"affine": 4.0, "sdr": 2.0}
NITER = {"affine": (1000, 500, 100), "sdr": (40, 20, 10)}


def _load_t1w(t1w):
    import nibabel as nib

    if not hasattr(t1w, "get_fdata"):
        path = Path(t1w)
        try:
            t1w = nib.load(path)
            data = np.asarray(t1w.get_fdata(), np.float32)
        except Exception as err:  # nibabel raises several kinds for a broken file
            raise DataError("The T1w image cannot be read", file=path, found=str(err),
                            fix="Give a readable NIfTI image (anatomy.warp.t1w), or the "
                            "dataset's own labels or a transform") from None
    else:
        path = None
        data = np.asarray(t1w.get_fdata(), np.float32)
    if data.ndim == 4 and data.shape[3] == 1:
        data = data[..., 0]
    finite = np.isfinite(data)
    if data.ndim != 3 or not finite.any() or np.nanmax(np.abs(data)) == 0:
        found = (f"an image of shape {data.shape}" if data.ndim != 3
                 else "no finite non-zero values (a placeholder?)")
        raise DataError("The T1w image holds no anatomy", file=path, found=found,
                        fix="Give the patient's real T1w (anatomy.warp.t1w), or the "
                        "dataset's own labels or a transform")
    data = np.where(finite, data, 0.0).astype(np.float32)
    return nib.Nifti1Image(data, t1w.affine)


def register_t1w(t1w, *, nonlinear=True, zooms=None, niter=None) -> TemplateWarp:
    """Register a patient's T1w to nilearn's MNI152 template.

    Parameters
    ----------
    t1w : path-like | nibabel image
        The patient's T1w; contacts must be in its world coordinates (RAS mm).
    nonlinear : bool
        Follow the affine step with the SDR step (the default); False: affine only.
    zooms : dict | None
        Voxel size (mm) the images are resliced to for the ``affine`` and ``sdr`` steps;
        None: :data:`ZOOMS`.
    niter : dict | None
        Iterations per resolution level (coarse to fine) of each step; None: :data:`NITER`.

    Returns
    -------
    TemplateWarp
    """
    import mne
    from dipy.align.imaffine import AffineMap
    from dipy.align.imwarp import SymmetricDiffeomorphicRegistration
    from dipy.align.metrics import CCMetric
    from scipy.ndimage import binary_dilation

    zooms = {**ZOOMS, **(zooms or {})}
    niter = {**NITER, **(niter or {})}
    moving = _load_t1w(t1w)
    static = template_image()
    affine_zoom = zooms["affine"]
    with mne.use_log_level("warning"):
        reg_affine, _ = mne.transforms.compute_volume_registration(
            moving, static, pipeline=("translation", "rigid", "affine"),
            zooms={"translation": affine_zoom, "rigid": affine_zoom, "affine": affine_zoom},
            niter={"translation": niter["affine"], "rigid": niter["affine"],
                   "affine": niter["affine"]})
    if not nonlinear:
        return TemplateWarp(affine=np.asarray(reg_affine, float))

    import nibabel.processing

    grid = nibabel.processing.resample_to_output(static, voxel_sizes=zooms["sdr"], order=1)
    static_data = np.asarray(grid.get_fdata(), np.float64)
    moving_data = np.asarray(moving.get_fdata(), np.float64)
    moved = AffineMap(reg_affine, domain_grid_shape=static_data.shape,
                      domain_grid2world=grid.affine, codomain_grid_shape=moving_data.shape,
                      codomain_grid2world=moving.affine).transform(moving_data)
    # the template is skull-stripped: so is the patient, by the template's mask grown 6 mm
    mask = binary_dilation(static_data > 0.05 * static_data.max(),
                           iterations=max(1, int(round(6.0 / zooms["sdr"]))))
    moved = np.where(mask, moved, 0.0)
    static_data = static_data / static_data.max()
    moved = moved / max(np.percentile(moved[mask], 99.5), 1e-12)
    sigma_diff = 2.0 / zooms["sdr"]
    metric = CCMetric(3, sigma_diff=sigma_diff, radius=max(int(np.ceil(2 * sigma_diff)), 1))
    sdr = SymmetricDiffeomorphicRegistration(metric, level_iters=list(niter["sdr"]))
    morph = sdr.optimize(static_data, moved, static_grid2world=grid.affine,
                         moving_grid2world=grid.affine)
    return TemplateWarp(affine=np.asarray(reg_affine, float), sdr=morph)


def _save(warp: TemplateWarp, path: Path, settings: dict) -> None:
    arrays = {"affine": warp.affine, "settings": np.array(json.dumps(settings))}
    if warp.sdr is not None:
        for name in _SDR_FIELDS:
            arrays[name] = np.asarray(getattr(warp.sdr, name), np.float32)
        for name in _SDR_GRIDS:
            arrays[name] = np.asarray(getattr(warp.sdr, name), float)
        # dipy's optimize returns the map flagged as an inverse: the flag picks the fields
        arrays["is_inverse"] = np.array(bool(warp.sdr.is_inverse))
    with atomic_path(path) as tmp:
        with open(tmp, "wb") as handle:
            np.savez_compressed(handle, **arrays)


def _load(path: Path) -> TemplateWarp:
    from dipy.align.imwarp import DiffeomorphicMap

    with np.load(path, allow_pickle=False) as stored:
        affine = stored["affine"]
        if "forward" not in stored:
            return TemplateWarp(affine=affine)
        grids = {name: stored[name] for name in _SDR_GRIDS}
        morph = DiffeomorphicMap(
            3, tuple(int(v) for v in grids["disp_shape"]),
            disp_grid2world=grids["disp_grid2world"],
            domain_shape=tuple(int(v) for v in grids["domain_shape"]),
            domain_grid2world=grids["domain_grid2world"],
            codomain_shape=tuple(int(v) for v in grids["codomain_shape"]),
            codomain_grid2world=grids["codomain_grid2world"])
        morph.forward = np.ascontiguousarray(stored["forward"], np.float32)
        morph.backward = np.ascontiguousarray(stored["backward"], np.float32)
        morph.is_inverse = bool(stored["is_inverse"])
    return TemplateWarp(affine=affine, sdr=morph)


def cached_registration(t1w_path, cache_dir, *, nonlinear=True, zooms=None,
                        niter=None) -> tuple[TemplateWarp, dict]:
    """:func:`register_t1w`, cached in ``cache_dir`` by the T1w's content and the settings.

    Returns
    -------
    warp : TemplateWarp
    info : dict
        ``t1w`` (path), ``t1w_sha256``, ``cache`` (the file), ``cached`` (whether it was
        read from the cache) and ``settings``.
    """
    t1w_path = Path(t1w_path)
    settings = _settings(nonlinear, {**ZOOMS, **(zooms or {})}, {**NITER, **(niter or {})})
    content = file_sha256(t1w_path)
    key = hashlib.sha256((content + json.dumps(settings, sort_keys=True)).encode()).hexdigest()
    path = Path(cache_dir) / f"t1w-{content[:16]}_warp-{key[:12]}.npz"
    info = {"t1w": str(t1w_path), "t1w_sha256": content, "cache": str(path),
            "settings": settings}
    if path.exists():
        logger.info("Registration of %s read from the cache (%s)", t1w_path.name, path.name)
        return _load(path), {**info, "cached": True}
    logger.info("Registering %s to the MNI152 template (%s) ...", t1w_path.name,
                "affine + SDR" if nonlinear else "affine")
    warp = register_t1w(t1w_path, nonlinear=nonlinear, zooms=zooms, niter=niter)
    path.parent.mkdir(parents=True, exist_ok=True)
    _save(warp, path, settings)
    return warp, {**info, "cached": False}
