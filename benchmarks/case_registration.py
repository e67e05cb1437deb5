"""Registering a patient's T1w to MNI for native contacts: ieegrsa against MNE-Python's own recipe.

The "tool people use today" is MNE's sEEG tutorial: ``mne.transforms.compute_volume_registration``
(pipeline ``all``: translation, rigid, affine, SDR) and
``mne.transforms.apply_volume_registration_points`` for the contacts. Both run on the same
synthetic patient (:func:`ieegrsa.simulate.anatomy.native_anatomy`: nilearn's MNI152 template
under a known affine and a smooth 4 mm deformation), at the same voxel sizes (affine 4 mm, SDR
2 mm), so both the time and the accuracy against the known truth can be printed. MNE runs with
its default SDR iterations (10, 10, 5), ieegrsa with its own (40, 20, 10) and the template's
brain mask on the moving image after the affine step.

Run with ``python benchmarks/run.py registration_t1w registration_t1w_same_iterations`` (the
second gives ieegrsa MNE's iterations, for the time of the same work). ``maxabsdiff`` is the
largest distance (mm) between the two tools' MNI positions of the same contacts;
``*_median_mm`` and ``*_max_mm`` are each tool's error against the truth over 300 positions in
the brain.
"""

from __future__ import annotations

import time

import numpy as np


def _brain_points(template, n, seed):
    ijk = np.argwhere(np.asarray(template.get_fdata()) > 0.3)
    ijk = ijk[np.random.default_rng(seed).choice(len(ijk), n, replace=False)]
    return (template.affine @ np.c_[ijk, np.ones(n)].T)[:3].T


def _mne_points(native, moving, static, zooms):
    """MNE's recipe: register, then move a montage through apply_volume_registration_points."""
    import mne
    import nibabel as nib

    moving_mgh = nib.MGHImage(np.asarray(moving.get_fdata(), np.float32), moving.affine)
    static_mgh = nib.MGHImage(np.asarray(static.get_fdata(), np.float32), static.affine)
    reg_affine, sdr = mne.transforms.compute_volume_registration(
        moving_mgh, static_mgh, pipeline="all", zooms=zooms, verbose="error")
    # scanner RAS (mm) -> the moving image's surface RAS (m), the "mri" frame MNE expects
    header = moving_mgh.header
    to_tkr = header.get_vox2ras_tkr() @ np.linalg.inv(header.get_vox2ras())
    tkr = (to_tkr @ np.c_[native, np.ones(len(native))].T)[:3].T / 1000.0
    names = [f"C{k}" for k in range(len(native))]
    info = mne.create_info(names, 1000.0, "seeg")
    info.set_montage(mne.channels.make_dig_montage(dict(zip(names, tkr, strict=True)),
                                                   coord_frame="head"))
    trans = mne.transforms.Transform("head", "mri", np.eye(4))
    moved, _ = mne.transforms.apply_volume_registration_points(
        info, trans, moving_mgh, static_mgh, reg_affine, sdr, verbose="error")
    out = np.array([moved.get_montage().get_positions()["ch_pos"][n] for n in names]) * 1000.0
    static_header = static_mgh.header
    to_scanner = static_header.get_vox2ras() @ np.linalg.inv(static_header.get_vox2ras_tkr())
    return (to_scanner @ np.c_[out, np.ones(len(out))].T)[:3].T


def registration_t1w(niter=None):
    from ieegrsa.anatomy.warp import register_t1w
    from ieegrsa.simulate.anatomy import native_anatomy, template_image

    template = template_image(2)
    patient = native_anatomy(seed=5, deformation_mm=4.0)
    mni = _brain_points(template, 300, seed=0)
    native = patient.to_native(mni)

    start = time.perf_counter()
    ours = register_t1w(patient.t1w, niter=niter).apply(native)
    ieegrsa_s = time.perf_counter() - start
    start = time.perf_counter()
    peer = _mne_points(native, patient.t1w, template,
                       {"translation": 4.0, "rigid": 4.0, "affine": 4.0, "sdr": 2.0})
    peer_s = time.perf_counter() - start

    ours_err = np.linalg.norm(ours - mni, axis=1)
    peer_err = np.linalg.norm(peer - mni, axis=1)
    return {
        "ieegrsa_s": ieegrsa_s, "peer_s": peer_s,
        "maxabsdiff": float(np.linalg.norm(ours - peer, axis=1).max()),
        "extra": (f"ieegrsa_median_mm={np.median(ours_err):.2f} ieegrsa_max_mm={ours_err.max():.2f}"
                  f" peer_median_mm={np.median(peer_err):.2f} peer_max_mm={peer_err.max():.2f}"),
        "note": "one run each (a registration takes tens of seconds); synthetic patient with a "
                "known 4 mm deformation, 2 mm images\npeer: MNE compute_volume_registration "
                "(pipeline all) + apply_volume_registration_points, same zooms",
    }


def registration_t1w_same_iterations():
    """Both with MNE's SDR iterations (10, 10, 5): the time of the same work."""
    return registration_t1w(niter={"sdr": (10, 10, 5)})


CASES = {"registration_t1w": registration_t1w,
         "registration_t1w_same_iterations": registration_t1w_same_iterations}
