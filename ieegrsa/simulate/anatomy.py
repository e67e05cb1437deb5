"""A patient's own anatomy: a T1w image in native space and the exact map from MNI to it.

The "patient" is nilearn's MNI152 template (ICBM152 2009a, skull-stripped) moved by a known
affine (rotation, translation, anisotropic scale: head size and position in the scanner) and a
smooth non-linear deformation (individual anatomy). Because both maps are known, a registration
of the T1w back to the template can be scored point by point: contacts planned in MNI are moved
into native space with :meth:`NativeAnatomy.to_native` and the registration must bring them back.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache

import numpy as np

__all__ = ["NativeAnatomy", "native_anatomy", "template_image"]


@lru_cache(maxsize=4)
def template_image(resolution: int = 2):
    """nilearn's MNI152 template (ICBM152 2009a asymmetric, skull-stripped) at ``resolution`` mm."""
    from nilearn.datasets import load_mni152_template

    return load_mni152_template(resolution=resolution)


@dataclass(frozen=True, eq=False)
class NativeAnatomy:
    """A native T1w and its known relation to MNI.

    ``mni = to_mni(native) = B @ native + u(B @ native)`` with ``B`` the inverse of
    :attr:`affine` and ``u`` the displacement field (MNI mm, sampled trilinearly on
    :attr:`field_affine`'s grid).

    Attributes
    ----------
    t1w : nibabel.Nifti1Image
        The native image (float32, the template's intensities).
    affine : ndarray, shape (4, 4)
        The linear part, MNI mm -> native mm.
    field : ndarray, shape (X, Y, Z, 3)
        The displacement ``u`` in mm, on the template's grid.
    field_affine : ndarray, shape (4, 4)
        Voxel -> MNI mm of ``field``.
    """

    t1w: object
    affine: np.ndarray
    field: np.ndarray
    field_affine: np.ndarray

    def _displacement(self, mni: np.ndarray) -> np.ndarray:
        from scipy.ndimage import map_coordinates

        vox = (np.linalg.inv(self.field_affine) @ np.c_[mni, np.ones(len(mni))].T)[:3]
        return np.stack([map_coordinates(self.field[..., k], vox, order=1, mode="nearest")
                         for k in range(3)], axis=1)

    def to_mni(self, native) -> np.ndarray:
        """Native mm (N, 3) -> MNI mm (N, 3), exactly (NaN rows stay NaN)."""
        native = np.atleast_2d(np.asarray(native, float))
        q = (np.linalg.inv(self.affine) @ np.c_[native, np.ones(len(native))].T)[:3].T
        out = np.full_like(q, np.nan)
        ok = np.isfinite(q).all(axis=1)
        out[ok] = q[ok] + self._displacement(q[ok])
        return out

    def to_native(self, mni) -> np.ndarray:
        """MNI mm (N, 3) -> native mm (N, 3): the inverse of :meth:`to_mni` (to < 1e-6 mm)."""
        mni = np.atleast_2d(np.asarray(mni, float))
        out = np.full_like(mni, np.nan)
        ok = np.isfinite(mni).all(axis=1)
        target = mni[ok]
        q = target.copy()
        for _ in range(200):  # q + u(q) = m; a contraction because |grad u| < 1
            step = target - self._displacement(q) - q
            q += step
            if np.abs(step).max(initial=0.0) < 1e-9:
                break
        out[ok] = (self.affine @ np.c_[q, np.ones(len(q))].T)[:3].T
        return out


def _rotation(angles_deg) -> np.ndarray:
    ax, ay, az = np.deg2rad(angles_deg)
    rx = np.array([[1, 0, 0], [0, np.cos(ax), -np.sin(ax)], [0, np.sin(ax), np.cos(ax)]])
    ry = np.array([[np.cos(ay), 0, np.sin(ay)], [0, 1, 0], [-np.sin(ay), 0, np.cos(ay)]])
    rz = np.array([[np.cos(az), -np.sin(az), 0], [np.sin(az), np.cos(az), 0], [0, 0, 1]])
    return rz @ ry @ rx


def native_anatomy(*, seed=0, rotation_deg=8.0, translation_mm=12.0, scale=0.06,
                   deformation_mm=3.0, smoothness_mm=20.0, resolution=2) -> NativeAnatomy:
    """A synthetic patient T1w: the MNI152 template under a known affine and deformation.

    Parameters
    ----------
    seed : int
        Seed of the random affine and deformation.
    rotation_deg : float
        Largest rotation about each axis (degrees).
    translation_mm : float
        Largest translation along each axis (mm).
    scale : float
        Largest relative change of size along each axis (0.06: 94-106 %).
    deformation_mm : float
        Largest displacement of the non-linear part (mm); 0 for an affine-only patient.
    smoothness_mm : float
        Gaussian width (mm) of the random displacement field: anatomy-scale, smooth bends.
    resolution : int
        Voxel size (mm) of the template and of the native image.

    Returns
    -------
    NativeAnatomy
    """
    import nibabel as nib
    from scipy.ndimage import gaussian_filter, map_coordinates

    rng = np.random.default_rng(seed)
    template = template_image(resolution)
    data = np.asarray(template.get_fdata(), np.float32)
    linear = _rotation(rng.uniform(-rotation_deg, rotation_deg, 3)) \
        @ np.diag(1.0 + rng.uniform(-scale, scale, 3))
    affine = np.eye(4)
    affine[:3, :3] = linear
    affine[:3, 3] = rng.uniform(-translation_mm, translation_mm, 3)

    field = np.zeros(data.shape + (3,), np.float64)
    if deformation_mm > 0:
        sigma = smoothness_mm / resolution
        for k in range(3):
            field[..., k] = gaussian_filter(rng.standard_normal(data.shape), sigma, mode="wrap")
        field *= deformation_mm / np.abs(field).max()
    anatomy = NativeAnatomy(t1w=None, affine=affine, field=field,
                            field_affine=np.asarray(template.affine, float))

    # The native grid: the template's voxels carried by the affine (an oblique acquisition),
    # each native voxel filled with the template at its MNI position.
    grid_affine = affine @ template.affine
    ijk = np.indices(data.shape).reshape(3, -1)
    native_xyz = (grid_affine @ np.r_[ijk, np.ones((1, ijk.shape[1]))])[:3].T
    mni_vox = (np.linalg.inv(template.affine)
               @ np.c_[anatomy.to_mni(native_xyz), np.ones(len(native_xyz))].T)[:3]
    image = map_coordinates(data, mni_vox, order=1, mode="constant", cval=0.0)
    t1w = nib.Nifti1Image(image.reshape(data.shape).astype(np.float32), grid_affine)
    t1w.header.set_xyzt_units("mm")
    return NativeAnatomy(t1w=t1w, affine=affine, field=field,
                         field_affine=anatomy.field_affine)
