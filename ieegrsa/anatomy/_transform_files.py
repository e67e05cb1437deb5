"""A lab's own native → template transform for contact coordinates (issue 17, item 2).

``anatomy.warp.transform`` may name a transform the lab already has instead of registering: a
BIDS ``..._from-<A>_to-<B>_mode-image_xfm.{h5,txt,mat}`` file (ITK, as fMRIPrep and ANTs write
them) or a plain-text 4×4 matrix mapping native RAS mm to template RAS mm.

Direction. An ITK transform maps points of the fixed (reference) space to the moving space:
resampling reads the moving image at T(p) for each output point p. An image-mode
``from-A_to-B`` file resamples an image in A into B, so it maps points B → A. Contacts go
native → template, so ``from-<template>_to-T1w`` is applied as it is and
``from-T1w_to-<template>`` is inverted (exactly only when linear). nitransforms' ``map`` of an
ITK file goes the same way, reference → moving (B → A); ``test_direction_matches_resampling``
in ``tests/test_anatomy_transform_files.py`` shows it by resampling coordinate ramps.

ITK stores LPS: the RAS matrix is ``LPS @ C @ M @ C⁻¹ @ LPS`` (C: centre of rotation), as in
nitransforms' ``ITKLinearTransform.to_ras``, but in float64 (nitransforms parses ITK text in
float32). HDF5 composites are read by nitransforms' ``ITKCompositeH5``; a displacement field is
interpolated as ITK does (trilinear, edge-clamped, none outside its grid), not with
nitransforms' cubic splines. Nothing here unpickles.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from functools import reduce
from pathlib import Path

import numpy as np

from ..errors import DataError

__all__ = ["PointTransform", "find_template_transform", "read_point_transform"]

FIELD = "anatomy.warp.transform"
_LPS = np.diag([-1.0, -1.0, 1.0, 1.0])
_LABEL = "[A-Za-z0-9]+"
_BIDS_NAME = re.compile(rf"^sub-(?P<sub>{_LABEL})(?:_ses-(?P<ses>{_LABEL}))?"
                        rf"(?:_{_LABEL}-{_LABEL})*?_from-(?P<a>{_LABEL})_to-(?P<b>{_LABEL})"
                        r"_mode-image_xfm\.(?:h5|txt|mat)$")
_FROM_TO = re.compile(rf"(?:^|_)from-({_LABEL})_to-({_LABEL})(?=[_.])")
_LINEAR = re.compile(r"^(AffineTransform|MatrixOffsetTransformBase)_(double|float)_3_3$")
_TO_AFFINE = "convert it with ANTs: ConvertTransformFile 3 <file> <out>.txt --convertToAffineType"
_AS_WRITTEN = "give the file as ANTs or fMRIPrep wrote it"
_MATRIX = "give a 4×4 matrix mapping native RAS mm to template RAS mm, last row 0 0 0 1"


@dataclass(frozen=True, eq=False)
class PointTransform:
    """A native → template mapping of points, read from a lab's transform file.

    Attributes
    ----------
    file : pathlib.Path
        The file it was read from.
    kind : str
        ``"affine"``, or ``"nonlinear"`` when a displacement field is part of it.
    description : str
        One line for the report and the methods.
    space : str | None
        The template the file name names (e.g. ``"MNI152NLin2009cAsym"``), else None.
    steps : tuple
        What :meth:`apply` does, in order: ``("affine", 4×4 RAS matrix)`` or
        ``("field", RAS displacements (i, j, k, 3) in mm, RAS mm → voxel 4×4)``.
    """

    file: Path
    kind: str
    description: str
    space: str | None = None
    steps: tuple = field(default=(), repr=False)

    def apply(self, xyz):
        """Map points from native RAS mm to template RAS mm.

        Parameters
        ----------
        xyz : array-like, shape (n, 3) or (3,)
            Native (scanner RAS) coordinates in mm; a row with a NaN comes back all NaN.

        Returns
        -------
        ndarray, the shape of ``xyz``
            Template RAS coordinates in mm.
        """
        points = np.array(xyz, dtype=float)
        if points.ndim not in (1, 2) or points.shape[-1] != 3:
            raise DataError("Contact coordinates must be an n×3 array (x, y, z in mm)",
                            field="xyz", found=f"shape {points.shape}")
        rows = np.atleast_2d(points)
        out = np.full(rows.shape, np.nan)
        finite = np.isfinite(rows).all(axis=1)
        p = rows[finite]
        for step in self.steps:
            if step[0] == "affine":
                p = p @ step[1][:3, :3].T + step[1][:3, 3]
            else:
                p = p + _displacement(p, step[1], step[2])
        out[finite] = p
        return out.reshape(points.shape)


def _displacement(p, disp, ras2vox):
    """ITK's DisplacementFieldTransform: trilinear, edge-clamped, zero outside the grid."""
    from scipy.ndimage import map_coordinates

    ijk = p @ ras2vox[:3, :3].T + ras2vox[:3, 3]
    inside = np.all((ijk >= -0.5) & (ijk < np.array(disp.shape[:3]) - 0.5), axis=1)
    out = np.zeros_like(p)
    out[inside] = np.stack([map_coordinates(disp[..., c], ijk[inside].T, order=1,
                                            mode="nearest") for c in range(3)], axis=-1)
    return out


def _templates() -> dict[str, str]:
    from ..config.bids import SUPPORTED_SPACES  # a lower floor, imported when needed

    return {s.lower(): s for s in SUPPORTED_SPACES}


def _error(what, path, found, fix):
    return DataError(what, file=path, field=FIELD, found=found, fix=fix[:1].upper() + fix[1:])


def find_template_transform(bids_root, subject, session=None, *, space=None):
    """Find a subject's BIDS transform between T1w and an MNI-aligned template.

    Looks in ``<root>/sub-<s>[/ses-<x>]/anat/`` and ``<root>/derivatives/*/sub-<s>[/ses-<x>]/anat/``
    (given a session, also the session-less ``anat/``; given none, also every ``ses-*/anat/``)
    for ``sub-<s>[_ses-<x>]*_from-<A>_to-<B>_mode-image_xfm.{h5,txt,mat}``, one of A, B ``T1w``
    and the other in ``ieegrsa.config.SUPPORTED_SPACES``. ``from-<template>_to-T1w`` (applied as
    it is) is preferred to ``from-T1w_to-<template>`` (inverted).

    Parameters
    ----------
    bids_root : path-like
        The BIDS dataset.
    subject : str
        The subject label, with or without ``sub-``.
    session : str | None
        The session label, with or without ``ses-``; None: any session.
    space : str | None
        Only this template (case-insensitive); None: any MNI-aligned one.

    Returns
    -------
    pathlib.Path | None
        The transform file, or None when there is none.

    Raises
    ------
    DataError
        When several files of the same preference fit; it lists them.
    """
    root = Path(bids_root)
    sub = str(subject).removeprefix("sub-")
    ses = None if session is None else str(session).removeprefix("ses-")
    templates, wanted = _templates(), None if space is None else str(space).lower()
    derivatives = root / "derivatives"
    bases = [root, *sorted(p for p in derivatives.glob("*") if p.is_dir())]
    folders = []
    for subdir in (base / f"sub-{sub}" for base in bases):
        folders += ([subdir / f"ses-{ses}" / "anat", subdir / "anat"] if ses is not None
                    else [subdir / "anat", *sorted(subdir.glob("ses-*/anat"))])
    ranked = ([], [])
    for path in (p for f in folders if f.is_dir() for p in sorted(f.iterdir())):
        m = _BIDS_NAME.match(path.name)
        if m is None or m["sub"] != sub or (ses is not None and m["ses"] not in (None, ses)):
            continue
        for rank, (template, native) in enumerate(((m["a"], m["b"]), (m["b"], m["a"]))):
            if native == "T1w" and template.lower() in templates and wanted in (
                    None, template.lower()):
                ranked[rank].append(path)
    pool = ranked[0] or ranked[1]
    if len(pool) > 1:
        raise DataError(f"Several native-to-template transforms fit subject {sub!r}",
                        file=root, field=FIELD,
                        found=", ".join(str(p.relative_to(root)) for p in pool),
                        fix="Name the one to use in anatomy.warp.transform")
    return pool[0] if pool else None


def read_point_transform(path) -> PointTransform:
    """Read a lab's native → template transform as a mapping of points.

    Parameters
    ----------
    path : path-like
        An ITK affine (``.txt``, ``.mat``) or ``.h5`` composite (affines and displacement
        fields) with a BIDS name ``..._from-<A>_to-<B>_...``, one of A, B an MNI-aligned
        template, which gives its direction; or a text 4×4 matrix (whitespace or comma
        separated, last row ``0 0 0 1``) mapping native RAS mm to template RAS mm, whatever
        the file's name.

    Returns
    -------
    PointTransform
        Its ``apply(xyz)`` maps n×3 native RAS mm to template RAS mm.

    Raises
    ------
    DataError
        Naming the file and what was found: a missing, empty or unreadable file, a matrix not
        4×4, not finite or singular, an ITK file whose name gives no direction, or a
        ``from-T1w_to-<template>`` file with a displacement field (not invertible exactly).
    """
    path = Path(path)
    if not path.is_file():
        raise _error("The transform file does not exist", path, "no such file",
                     "check the path in anatomy.warp.transform")
    if path.stat().st_size == 0:
        raise _error("The transform file is empty", path, "0 bytes", _AS_WRITTEN)
    suffix = path.suffix.lower()
    if suffix in (".h5", ".mat"):
        steps = _read_h5(path) if suffix == ".h5" else _read_mat(path)
    else:
        text = _read_text(path)
        if not (text.lstrip().startswith("#Insight") or re.search(r"^\s*Transform:", text, re.M)):
            return _plain_matrix(path, text)
        steps = _read_itk_text(path, text)
    for step in steps:
        if step[0] == "affine":
            _check_affine(path, step[1], _AS_WRITTEN)
    return _oriented(path, steps)


def _oriented(path, steps):
    """ITK steps (in file order, fixed → moving) as a native → template PointTransform."""
    templates, m = _templates(), _FROM_TO.search(path.name)
    a, b = m.groups() if m else ("", "")
    if m is None or (a.lower() in templates) == (b.lower() in templates):
        raise _error("The name of an ITK transform must say from which native space to which "
                     "MNI-aligned template it goes", path, m and m.group(0).strip("_"),
                     "name it ..._from-<template>_to-T1w_mode-image_xfm (or from-T1w_to-"
                     "<template>) as fMRIPrep does, or give a 4×4 native-to-template matrix")
    fields = [s for s in steps if s[0] == "field"]
    parts = "affine"
    if fields:
        zooms = np.linalg.norm(np.linalg.inv(fields[0][2])[:3, :3], axis=0)
        parts += (" + displacement field " + "×".join(map(str, fields[0][1].shape[:3]))
                  + " at " + "×".join(f"{z:g}" for z in zooms) + " mm")
    if a.lower() in templates:  # from-<template>_to-<native>: maps native points to template
        native, space, how = b, templates[a.lower()], "applied as it is"
        ordered = tuple(reversed(steps))  # ITK applies a composite's last transform first
    else:
        native, space, how = a, templates[b.lower()], "inverted, as it maps template points"
        if fields:
            raise _error(f"A from-{a}_to-{b} transform maps template points to native points, "
                         "and its displacement field cannot be inverted exactly", path, parts,
                         f"give the from-{b}_to-{a}_mode-image_xfm file instead (fMRIPrep "
                         "writes both)")
        total = reduce(np.matmul, (s[1] for s in steps), np.eye(4))  # T1(T2(...(x)))
        ordered = (("affine", np.linalg.inv(total)),)
    return PointTransform(
        file=path, kind="nonlinear" if fields else "affine", space=space, steps=ordered,
        description=f"contacts mapped from {native} to {space} space by the lab's ITK transform "
                    f"{path.name} ({parts}), {how}")


def _itk_to_ras(params, center, path):
    params, center = np.asarray(params, float).ravel(), np.asarray(center, float).ravel()
    if params.size != 12 or center.size != 3:
        raise _error("An ITK affine has 12 parameters and 3 fixed parameters", path,
                     f"{params.size} parameters, {center.size} fixed parameters", _TO_AFFINE)
    matrix, c_pos, c_neg = np.eye(4), np.eye(4), np.eye(4)
    matrix[:3, :3], matrix[:3, 3] = params[:9].reshape(3, 3), params[9:]
    c_pos[:3, 3], c_neg[:3, 3] = center, -center
    return _LPS @ c_pos @ matrix @ c_neg @ _LPS


def _read_itk_text(path, text):
    blocks = re.findall(r"^\s*Transform:\s*(\S+)\s*$(?:\s*^\s*Parameters:(.*)$)?"
                        r"(?:\s*^\s*FixedParameters:(.*)$)?", text, re.M)
    if len(blocks) != 1:
        raise _error("The ITK text file must hold one transform", path,
                     f"{len(blocks)} transforms: {', '.join(k for k, _, _ in blocks)}",
                     "give the one native-to-template transform")
    kind, params, fixed = blocks[0]
    if not _LINEAR.match(kind):
        raise _error("Only affine ITK transforms are read from text files", path,
                     f"an ITK {kind}", f"give the .h5 composite of a warp, or {_TO_AFFINE}")
    try:
        values = [np.array(v.split(), float) for v in (params, fixed)]
    except ValueError:
        raise _error("The ITK parameters are not numbers", path, params.strip(),
                     _AS_WRITTEN) from None
    return [("affine", _itk_to_ras(*values, path))]


def _read_mat(path):
    from scipy.io import loadmat

    try:
        mdict = loadmat(str(path))
    except Exception:  # scipy raises many kinds for a file that is not MATLAB
        if _numbers(_read_text(path, quiet=True) or "x") is not None:
            raise _error("A text matrix in a .mat file is an FSL FLIRT matrix, which maps "
                         "scaled voxel coordinates and needs both images", path,
                         "a text matrix", "convert it to RAS (c3d_affine_tool -src -ref "
                         "-fsl2ras) and save it as a 4×4 .txt matrix") from None
        raise _error("The .mat file is not an ITK transform", path, "not a MATLAB file",
                     _AS_WRITTEN) from None
    key = next((k for k in mdict if _LINEAR.match(k)), None)
    if key is None or "fixed" not in mdict:
        raise _error("The .mat file holds no ITK affine", path,
                     ", ".join(k for k in mdict if not k.startswith("__")) or "nothing",
                     _TO_AFFINE)
    return [("affine", _itk_to_ras(mdict[key], mdict["fixed"], path))]


def _read_h5(path):
    import h5py
    from nitransforms.io.base import TransformIOError
    from nitransforms.io.itk import ITKCompositeH5, ITKLinearTransform

    try:
        with h5py.File(path, "r") as f:
            first = bytes(np.asarray(f["TransformGroup"]["0"]["TransformType"])[0]).decode()
            if not first.startswith("CompositeTransform"):  # nitransforms skips transform 0
                raise ValueError(f"its first transform is a {first}, not a composite")
            xfms = ITKCompositeH5.from_h5obj(f)
    except TransformIOError as err:  # an ITK transform type other than the two below
        raise _error("The .h5 composite holds a transform ieegrsa cannot apply", path,
                     str(err), "give affines and displacement fields only") from None
    except (OSError, KeyError, ValueError, IndexError, TypeError) as err:
        raise _error("The .h5 file is not an ITK composite transform", path, str(err),
                     _AS_WRITTEN) from None
    if not xfms:
        raise _error("The .h5 composite holds no transform", path, "an empty composite",
                     _AS_WRITTEN)
    steps = []
    for x in xfms:
        if isinstance(x, ITKLinearTransform):
            matrix = np.asarray(x.structarr["parameters"], float)
            params = np.r_[matrix[:3, :3].ravel(), matrix[:3, 3]]
            steps.append(("affine", _itk_to_ras(params, x.structarr["offset"], path)))
            continue
        disp = np.asarray(x.dataobj, float)  # nitransforms turned LPS vectors and grid to RAS
        if not np.isfinite(disp).all():
            raise _error("The displacement field has non-finite values", path,
                         "non-finite values", _AS_WRITTEN)
        steps.append(("field", disp, np.linalg.inv(x.affine)))
    return steps


def _read_text(path, quiet=False):
    try:
        return path.read_text(encoding="utf-8")
    except UnicodeDecodeError:
        if quiet:
            return None
        raise _error("The transform file is not an ITK transform nor a 4×4 matrix", path,
                     "binary content", "give an ITK .txt/.mat/.h5 file, or " + _MATRIX[5:]
                     ) from None


def _numbers(text):
    """The rows of numbers of a text matrix (``#`` comments skipped), None if not numbers."""
    rows = [[t for t in re.split(r"[\s,;]+", line.strip()) if t]
            for line in text.splitlines() if line.strip() and not line.lstrip().startswith("#")]
    try:
        return [[float(t) for t in row] for row in rows]
    except ValueError:
        return None


def _plain_matrix(path, text):
    rows = _numbers(text)
    if rows is None:
        raise _error("The transform file is not an ITK transform nor a 4×4 matrix", path,
                     "text that is not numbers", _MATRIX)
    if not rows:
        raise _error("The transform file is empty", path, "no numbers", _MATRIX)
    if len({len(r) for r in rows}) != 1:
        raise _error("The matrix rows have different lengths", path,
                     f"rows of {', '.join(str(len(r)) for r in rows)} numbers", _MATRIX)
    matrix = np.array(rows)
    if matrix.shape != (4, 4):
        raise _error("The matrix must be 4×4", path, "a {}×{} matrix".format(*matrix.shape),
                     _MATRIX + (" (add that row)" if matrix.shape == (3, 4) else ""))
    _check_affine(path, matrix, _MATRIX, plain=True)
    m, templates = _FROM_TO.search(path.name), _templates()
    space = next((templates[s.lower()] for s in (m.groups() if m else ())
                  if s.lower() in templates), None)
    return PointTransform(
        file=path, kind="affine", space=space, steps=(("affine", matrix),),
        description=f"contacts mapped to {space or 'template'} space by the lab's 4×4 affine "
                    f"{path.name} (native RAS mm to template RAS mm)")


def _check_affine(path, matrix, fix, plain=False):
    if not np.isfinite(matrix).all():
        raise _error("The transform has non-finite values", path, "non-finite values", fix)
    if plain and not np.allclose(matrix[3], [0, 0, 0, 1], atol=1e-9):
        raise _error("The matrix's last row must be 0 0 0 1", path,
                     "last row " + " ".join(f"{v:g}" for v in matrix[3]), fix)
    if np.linalg.cond(matrix[:3, :3]) > 1e8:
        raise _error("The transform's matrix is singular", path, "singular matrix", fix)
