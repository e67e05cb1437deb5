"""A lab's own native → template transform (issue 17, item 2): ITK files and 4×4 matrices.

The ITK files are written here from known matrices (by hand in float64, and by nitransforms),
the HDF5 composite by h5py following ITK's layout, and the points are checked against a
brute-force computation in ITK's own LPS terms. The direction of image-mode files is shown by
resampling coordinate ramps with nitransforms.
"""

from __future__ import annotations

import pickle

import h5py
import numpy as np
import pytest
from scipy.io import savemat
from scipy.spatial.transform import Rotation

from ieegrsa.anatomy._transform_files import (
    FIELD,
    find_template_transform,
    read_point_transform,
)
from ieegrsa.errors import DataError

nt = pytest.importorskip("nitransforms")

MNI = "MNI152NLin2009cAsym"
AS_IS = f"sub-01_from-{MNI}_to-T1w_mode-image_xfm"  # maps T1w points to MNI points
INVERTED = f"sub-01_from-T1w_to-{MNI}_mode-image_xfm"  # maps MNI points to T1w points
LPS = np.diag([-1.0, -1.0, 1.0, 1.0])
POINTS = np.array([[0.0, 0.0, 0.0], [-42.5, 17.25, 30.0], [61.0, -80.0, -12.5],
                   [np.nan, 1.0, 2.0], [12.0, -3.0, 55.0]])


def _affine(angles=(8.0, -6.0, 9.5), scale=(1.07, 0.96, 1.03), shift=(4.5, -12.0, 9.25)):
    """A known native → template RAS matrix: rotation, anisotropic scale, translation."""
    m = np.eye(4)
    m[:3, :3] = Rotation.from_euler("xyz", angles, degrees=True).as_matrix() @ np.diag(scale)
    m[:3, 3] = shift
    return m


def _ras_map(m, xyz):
    return xyz @ m[:3, :3].T + m[:3, 3]


def _itk_params(ras, center=(11.0, -7.5, 23.0)):
    """ITK's LPS parameters (matrix, translation) and centre for a RAS points matrix."""
    lps = LPS @ ras @ LPS
    c = np.asarray(center, float)
    a = lps[:3, :3]
    return a, lps[:3, 3] - c + a @ c, c  # T(x) = A (x - c) + c + t


def _write_itk_txt(path, ras, kind="AffineTransform_double_3_3"):
    a, t, c = _itk_params(ras)
    num = lambda v: " ".join(f"{x:.17g}" for x in v)  # noqa: E731
    path.write_text(f"#Insight Transform File V1.0\n#Transform 0\nTransform: {kind}\n"
                    f"Parameters: {num(np.r_[a.ravel(), t])}\nFixedParameters: {num(c)}\n")
    return path


def _write_itk_mat(path, ras, key="AffineTransform_double_3_3"):
    a, t, c = _itk_params(ras)
    savemat(str(path), {key: np.r_[a.ravel(), t][:, None], "fixed": c[:, None]}, format="4")
    return path


# the displacement field of the composite, in ITK's terms: LPS grid, LPS vectors
FIELD_SIZE = np.array([9, 8, 7])
FIELD_ORIGIN = np.array([30.0, 40.0, -25.0])
FIELD_SPACING = np.array([10.0, 11.0, 9.0])
FIELD_DIRECTION = np.array([[0.0, -1.0, 0.0], [1.0, 0.0, 0.0], [0.0, 0.0, 1.0]])


def _field_values():
    rng = np.random.default_rng(3)
    return rng.normal(scale=2.0, size=(*FIELD_SIZE, 3))


def _write_composite(path, ras, with_field=True):
    a, t, c = _itk_params(ras)
    with h5py.File(path, "w") as f:
        group = f.create_group("TransformGroup")
        group.create_group("0")["TransformType"] = np.array([b"CompositeTransform_double_3_3"])
        affine = group.create_group("1")
        affine["TransformType"] = np.array([b"AffineTransform_double_3_3"])
        affine["TransformParameters"] = np.r_[a.ravel(), t]
        affine["TransformFixedParameters"] = c
        if with_field:
            warp = group.create_group("2")
            warp["TransformType"] = np.array([b"DisplacementFieldTransform_double_3_3"])
            warp["TransformFixedParameters"] = np.r_[FIELD_SIZE, FIELD_ORIGIN, FIELD_SPACING,
                                                     FIELD_DIRECTION.ravel()]
            # ITK's pixel buffer: the vector components fastest, then x, y, z
            warp["TransformParameters"] = np.moveaxis(_field_values(), -1, 0).ravel(order="F")
    return path


def _brute_composite(ras, xyz):
    """ITK's composite [affine, field] on points: affine(field(x)), all in LPS."""
    a, t, c = _itk_params(ras)
    disp = _field_values()
    to_index = np.linalg.inv(FIELD_DIRECTION @ np.diag(FIELD_SPACING))
    out = []
    for p in xyz:
        x = np.array([-p[0], -p[1], p[2]])
        idx = to_index @ (x - FIELD_ORIGIN)
        if np.all(idx >= -0.5) and np.all(idx < FIELD_SIZE - 0.5):
            base = np.floor(idx).astype(int)
            frac = idx - base
            d = np.zeros(3)
            for corner in np.ndindex(2, 2, 2):
                w = np.prod([frac[k] if corner[k] else 1 - frac[k] for k in range(3)])
                ijk = np.clip(base + corner, 0, FIELD_SIZE - 1)
                d += w * disp[tuple(ijk)]
            x = x + d
        x = a @ (x - c) + c + t
        out.append([-x[0], -x[1], x[2]])
    return np.array(out)


# --------------------------------------------------------------------------------- ITK affines
@pytest.mark.parametrize("suffix", [".txt", ".mat"])
def test_itk_affine_from_template_to_t1w_is_applied_as_is(tmp_path, suffix):
    m = _affine()
    writer = _write_itk_txt if suffix == ".txt" else _write_itk_mat
    xfm = read_point_transform(writer(tmp_path / (AS_IS + suffix), m))
    got = xfm.apply(POINTS)
    finite = np.isfinite(POINTS).all(axis=1)
    np.testing.assert_allclose(got[finite], _ras_map(m, POINTS[finite]), atol=1e-6)
    assert np.isnan(got[~finite]).all()
    assert xfm.kind == "affine" and xfm.space == MNI and xfm.file.name == AS_IS + suffix
    assert "applied as it is" in xfm.description and "\n" not in xfm.description
    np.testing.assert_allclose(xfm.apply(POINTS[1]), _ras_map(m, POINTS[1]), atol=1e-6)


@pytest.mark.parametrize("suffix", [".txt", ".mat"])
def test_itk_affine_from_t1w_to_template_is_inverted(tmp_path, suffix):
    m = _affine()  # native -> template; the from-T1w_to-MNI file holds template -> native
    writer = _write_itk_txt if suffix == ".txt" else _write_itk_mat
    xfm = read_point_transform(writer(tmp_path / (INVERTED + suffix), np.linalg.inv(m)))
    finite = np.isfinite(POINTS).all(axis=1)
    np.testing.assert_allclose(xfm.apply(POINTS)[finite], _ras_map(m, POINTS[finite]),
                               atol=1e-6)
    assert xfm.kind == "affine" and "inverted" in xfm.description


@pytest.mark.parametrize("suffix", [".txt", ".mat"])
def test_files_written_by_nitransforms_read_the_same(tmp_path, suffix):
    """LPS/RAS as nitransforms has it: its ITK writer and its reader agree with ours."""
    m = _affine()
    path = tmp_path / (AS_IS + suffix)
    nt.linear.Affine(m).to_filename(str(path), fmt="itk")
    xfm = read_point_transform(path)
    pts = POINTS[[0, 1, 2, 4]]
    tol = 1e-3 if suffix == ".txt" else 1e-9  # nitransforms writes text with 6 digits (%g)
    np.testing.assert_allclose(xfm.apply(pts), _ras_map(m, pts), atol=tol)
    theirs = nt.linear.load(str(_write_itk_txt(tmp_path / (AS_IS + ".txt"), m)), fmt="itk")
    np.testing.assert_allclose(theirs.map(pts), _ras_map(m, pts), atol=1e-4)  # float32 parse


def test_direction_matches_resampling(tmp_path):
    """nitransforms' map of an ITK file goes reference -> moving: a from-T1w_to-MNI image-mode
    file resamples a T1w image into MNI, and maps MNI points to T1w points; we invert it."""
    import nibabel as nib
    from nitransforms.resampling import apply

    m = _affine(shift=(3.0, -4.0, 2.0))  # native -> template
    path = _write_itk_txt(tmp_path / (INVERTED + ".txt"), np.linalg.inv(m))
    t1w_affine = np.diag([1.0, 1.0, 1.0, 1.0])
    t1w_affine[:3, 3] = -60.0
    grid = np.stack(np.meshgrid(*[np.arange(121.0)] * 3, indexing="ij"), axis=-1)
    ras = grid @ t1w_affine[:3, :3].T + t1w_affine[:3, 3]
    mni_affine = np.diag([4.0, 4.0, 4.0, 1.0])
    mni_affine[:3, 3] = -40.0
    mni = nib.Nifti1Image(np.zeros((21, 21, 21)), mni_affine)
    itk = nt.linear.load(str(path), fmt="itk")
    # each resampled ramp holds, at an MNI voxel, the T1w coordinate sampled there
    sampled = np.stack([np.asarray(apply(itk, nib.Nifti1Image(ras[..., k], t1w_affine),
                                         reference=mni, order=1).dataobj, float)
                        for k in range(3)], axis=-1)
    q_idx = np.stack(np.meshgrid(*[np.arange(5, 16)] * 3, indexing="ij"), -1).reshape(-1, 3)
    q = q_idx @ mni_affine[:3, :3].T + mni_affine[:3, 3]
    p = sampled[tuple(q_idx.T)]
    np.testing.assert_allclose(itk.map(q), p, atol=1e-3)  # nitransforms: MNI -> T1w points
    np.testing.assert_allclose(read_point_transform(path).apply(p), q, atol=1e-3)


# ------------------------------------------------------------------------- ITK HDF5 composite
def test_h5_composite_with_displacement_field_matches_brute_force(tmp_path):
    m = _affine()
    xfm = read_point_transform(_write_composite(tmp_path / (AS_IS + ".h5"), m))
    assert xfm.kind == "nonlinear" and "displacement field 9×8×7" in xfm.description
    rng = np.random.default_rng(0)
    # inside the field (LPS x in 30..110 -> RAS y in -110..-30 etc.), its half-voxel border,
    # and outside it (no displacement)
    to_ras = LPS[:3, :3] @ FIELD_DIRECTION @ np.diag(FIELD_SPACING)
    idx = np.r_[rng.uniform(0, FIELD_SIZE - 1, size=(40, 3)),
                [[-0.4, 3.2, 2.0], [8.45, 0.0, 6.4], [-0.6, 2.0, 2.0], [4.0, 20.0, 3.0]]]
    pts = idx @ to_ras.T + LPS[:3, :3] @ FIELD_ORIGIN
    pts = np.r_[pts, [[np.nan, 0.0, 0.0]]]
    got = xfm.apply(pts)
    np.testing.assert_allclose(got[:-1], _brute_composite(m, pts[:-1]), atol=1e-6)
    assert np.isnan(got[-1]).all()
    np.testing.assert_allclose(got[-2], _ras_map(m, pts[-2]), atol=1e-6)  # outside: affine
    # nitransforms reads the same file: at grid points its own map is exact (float32)
    on_grid = np.array([[0, 0, 0], [3, 4, 5], [8, 7, 6]]) @ to_ras.T + LPS[:3, :3] @ FIELD_ORIGIN
    chain = nt.manip.load(str(tmp_path / (AS_IS + ".h5")), fmt="itk")
    np.testing.assert_allclose(chain.map(on_grid), xfm.apply(on_grid), atol=1e-3)


def test_h5_affine_only_from_t1w_is_inverted(tmp_path):
    m = _affine()
    path = _write_composite(tmp_path / (INVERTED + ".h5"), np.linalg.inv(m), with_field=False)
    xfm = read_point_transform(path)
    np.testing.assert_allclose(xfm.apply(POINTS[:3]), _ras_map(m, POINTS[:3]), atol=1e-6)


@pytest.mark.parametrize("name", [AS_IS, INVERTED])
def test_h5_two_affines_compose_in_itk_order(tmp_path, name):
    """A composite [T1, T2] maps points T1(T2(x)); inverted as a whole for from-T1w_to-MNI."""
    m1, m2 = _affine(), _affine(angles=(-3.0, 4.0, 1.0), scale=(1.0, 1.1, 0.9), shift=(1, 2, 3))
    path = tmp_path / (name + ".h5")
    with h5py.File(path, "w") as f:
        group = f.create_group("TransformGroup")
        group.create_group("0")["TransformType"] = np.array([b"CompositeTransform_double_3_3"])
        for i, m in enumerate((m1, m2), start=1):
            a, t, c = _itk_params(m)
            g = group.create_group(str(i))
            g["TransformType"] = np.array([b"AffineTransform_double_3_3"])
            g["TransformParameters"], g["TransformFixedParameters"] = np.r_[a.ravel(), t], c
    want = m1 @ m2 if name == AS_IS else np.linalg.inv(m1 @ m2)
    got = read_point_transform(path).apply(POINTS[:3])
    np.testing.assert_allclose(got, _ras_map(want, POINTS[:3]), atol=1e-6)


def test_h5_with_field_from_t1w_cannot_be_inverted(tmp_path):
    path = _write_composite(tmp_path / (INVERTED + ".h5"), _affine())
    with pytest.raises(DataError, match=f"from-{MNI}_to-T1w_mode-image_xfm") as err:
        read_point_transform(path)
    assert err.value.field == FIELD and err.value.file == str(path)
    assert "displacement field" in err.value.found


# --------------------------------------------------------------------------- plain matrices
@pytest.mark.parametrize(("name", "sep"), [("affine.txt", " "), ("affine.csv", ","),
                                           ("affine.tsv", "\t"), (INVERTED + ".txt", "  ")])
def test_plain_matrix_maps_native_to_template(tmp_path, name, sep):
    m = _affine()
    path = tmp_path / name
    path.write_text("# native RAS mm -> template RAS mm\n"
                    + "\n".join(sep.join(f"{v:.17g}" for v in row) for row in m) + "\n")
    xfm = read_point_transform(path)
    np.testing.assert_allclose(xfm.apply(POINTS[:3]), _ras_map(m, POINTS[:3]), atol=1e-9)
    assert xfm.kind == "affine" and "4×4" in xfm.description
    assert xfm.space == (MNI if name.startswith("sub") else None)


# ---------------------------------------------------------------------------- bad inputs
def _bad(tmp_path, name, content):
    path = tmp_path / name
    path.write_bytes(content if isinstance(content, bytes) else content.encode())
    return path


BAD = [
    ("empty.txt", b"", "0 bytes"),
    (AS_IS + ".h5", b"", "0 bytes"),
    ("three.txt", "1 0 0 0\n0 1 0 0\n0 0 1 0\n", "a 3×4 matrix"),
    ("ragged.txt", "1 0 0 0\n0 1 0\n0 0 1 0\n0 0 0 1\n", "rows of 4, 3, 4, 4 numbers"),
    ("nan.txt", "1 0 0 nan\n0 1 0 0\n0 0 1 0\n0 0 0 1\n", "non-finite values"),
    ("flat.txt", "1 0 0 0\n0 1 0 0\n0 0 0 0\n0 0 0 1\n", "singular matrix"),
    ("row.txt", "1 0 0 0\n0 1 0 0\n0 0 1 0\n0 0 1 1\n", "last row 0 0 1 1"),
    ("words.txt", "x y z\n1 2 3\n", "text that is not numbers"),
    ("binary.txt", b"\xff\xfe\x00\x81", "binary content"),
    (AS_IS + ".mat", b"\x00\x01garbage\xff" * 10, "not a MATLAB file"),
    (AS_IS + ".mat", "1 0 0 0\n0 1 0 0\n0 0 1 0\n0 0 0 1\n", "a text matrix"),
    (AS_IS + ".h5", b"not hdf5 at all", "Unable to"),
    (AS_IS + ".txt", "#Insight Transform File V1.0\n#Transform 0\n"
     "Transform: Euler3DTransform_double_3_3\nParameters: 0 0 0 0 0 0\n"
     "FixedParameters: 0 0 0\n", "an ITK Euler3DTransform_double_3_3"),
    ("affine_itk.txt", "#Insight Transform File V1.0\n#Transform 0\n"
     "Transform: AffineTransform_double_3_3\nParameters: 1 0 0 0 1 0 0 0 1 0 0 0\n"
     "FixedParameters: 0 0 0\n", None),
    (f"sub-01_from-MNI305_to-{MNI}_mode-image_xfm.txt", "#Insight Transform File V1.0\n"
     "#Transform 0\nTransform: AffineTransform_double_3_3\n"
     "Parameters: 1 0 0 0 1 0 0 0 1 0 0 0\nFixedParameters: 0 0 0\n", f"from-MNI305_to-{MNI}"),
    (AS_IS + ".txt", "#Insight Transform File V1.0\n#Transform 0\n"
     "Transform: AffineTransform_double_3_3\nParameters: 1 0 0 0 1 0 0 0 1 0 0\n"
     "FixedParameters: 0 0 0\n", "11 parameters"),
]


@pytest.mark.parametrize(("name", "content", "found"), BAD, ids=[b[2] or b[0] for b in BAD])
def test_bad_files_raise_one_data_error(tmp_path, name, content, found):
    path = _bad(tmp_path, name, content)
    with pytest.raises(DataError) as err:
        read_point_transform(path)
    e = err.value
    assert e.field == FIELD and e.file == str(path) and e.fix
    if found is not None:
        assert found in str(e.found)
    assert str(path) in str(e) and f"[{FIELD}]" in str(e)


def test_mat_without_an_affine_and_missing_file(tmp_path):
    path = tmp_path / (AS_IS + ".mat")
    savemat(str(path), {"something": np.eye(4)}, format="4")
    with pytest.raises(DataError, match="holds no ITK affine") as err:
        read_point_transform(path)
    assert err.value.found == "something"
    with pytest.raises(DataError, match="does not exist"):
        read_point_transform(tmp_path / "nope.txt")


def test_h5_first_transform_not_composite_and_wrong_points(tmp_path):
    path = tmp_path / (AS_IS + ".h5")
    with h5py.File(path, "w") as f:
        f.create_group("TransformGroup").create_group("0")["TransformType"] = np.array(
            [b"AffineTransform_double_3_3"])
    with pytest.raises(DataError, match="not an ITK composite") as err:
        read_point_transform(path)
    assert "not a composite" in err.value.found
    good = read_point_transform(_write_itk_txt(tmp_path / (AS_IS + ".txt"), _affine()))
    with pytest.raises(DataError, match="n×3"):
        good.apply(np.zeros((4, 2)))


def test_nothing_is_unpickled(tmp_path, monkeypatch):
    def refuse(*args, **kwargs):
        raise AssertionError("the transform reader unpickled something")

    for name in ("load", "loads", "Unpickler"):
        monkeypatch.setattr(pickle, name, refuse)
    monkeypatch.setattr(np, "load", refuse)
    m = _affine()
    plain = tmp_path / "m.txt"
    plain.write_text("\n".join(" ".join(map(str, row)) for row in m))
    for path in (_write_itk_txt(tmp_path / (AS_IS + ".txt"), m),
                 _write_itk_mat(tmp_path / (AS_IS + ".mat"), m),
                 _write_composite(tmp_path / (AS_IS + ".h5"), m), plain):
        read_point_transform(path).apply(POINTS)


# ------------------------------------------------------------------------------- discovery
def _touch(root, *relative):
    for rel in relative:
        path = root / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text("x")
    return root


def test_discovery_prefers_from_template_to_t1w(tmp_path):
    root = _touch(tmp_path, f"sub-01/anat/{INVERTED}.h5")
    assert find_template_transform(root, "01") == root / f"sub-01/anat/{INVERTED}.h5"
    _touch(root, f"derivatives/fmriprep/sub-01/anat/{AS_IS}.h5",
           "derivatives/fmriprep/sub-01/anat/sub-01_from-fsnative_to-T1w_mode-image_xfm.txt",
           f"sub-010/anat/sub-010_from-{MNI}_to-T1w_mode-image_xfm.h5")
    found = find_template_transform(root, "sub-01")
    assert found == root / f"derivatives/fmriprep/sub-01/anat/{AS_IS}.h5"
    assert find_template_transform(root, "02") is None


def test_discovery_with_and_without_sessions(tmp_path):
    name = f"sub-01_ses-pre_from-{MNI}_to-T1w_mode-image_xfm.h5"
    root = _touch(tmp_path, f"derivatives/fmriprep/sub-01/ses-pre/anat/{name}")
    want = root / f"derivatives/fmriprep/sub-01/ses-pre/anat/{name}"
    assert find_template_transform(root, "01", "pre") == want
    assert find_template_transform(root, "01", "ses-pre") == want
    assert find_template_transform(root, "01") == want  # no session asked: any session
    assert find_template_transform(root, "01", "post") is None
    # a session-less transform (fMRIPrep's anatomy of several sessions) serves each session
    _touch(root, f"derivatives/fmriprep/sub-01/anat/{AS_IS}.txt")
    assert find_template_transform(root, "01", "post") == (
        root / f"derivatives/fmriprep/sub-01/anat/{AS_IS}.txt")
    with pytest.raises(DataError, match="Several"):
        find_template_transform(root, "01", "pre")


def test_discovery_ambiguity_names_every_candidate(tmp_path):
    other = "sub-01_from-MNI152NLin6Asym_to-T1w_mode-image_xfm.h5"
    root = _touch(tmp_path, f"derivatives/fmriprep/sub-01/anat/{AS_IS}.h5",
                  f"derivatives/fmriprep/sub-01/anat/{other}")
    with pytest.raises(DataError) as err:
        find_template_transform(root, "01")
    e = err.value
    assert e.field == FIELD and "anatomy.warp.transform" in e.fix
    assert AS_IS in e.found and other in e.found
    assert find_template_transform(root, "01", space="mni152nlin6asym").name == other
    assert find_template_transform(root, "01", space=MNI).name == AS_IS + ".h5"
