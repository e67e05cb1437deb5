"""Helpers shared by the anatomy tests: literature peaks, a toy atlas, localizer epochs."""

from __future__ import annotations

import numpy as np
import pandas as pd

PEAKS = {  # the packaged literature peaks (MNI mm)
    "FFA_right": (40, -52, -20), "FFA_left": (-40, -52, -20),
    "OFA_right": (40, -78, -12), "pSTS_right": (50, -50, 10), "pSTS_left": (-50, -50, 10),
}


def toy_atlas(tmp_path, name="toy"):
    """A 30 mm cube: label 1 'Toy_Cortex_L' for x < 10 mm, label 2 white matter elsewhere."""
    import nibabel as nib

    data = np.full((30, 30, 30), 2, np.int16)
    data[:10] = 1
    affine = np.eye(4)
    image = tmp_path / f"{name}.nii.gz"
    nib.save(nib.Nifti1Image(data, affine), image)
    labels = tmp_path / f"{name}.tsv"
    pd.DataFrame({"index": [1, 2], "name": ["Toy_Cortex_L", "Left-Cerebral-White-Matter"]}).to_csv(
        labels, sep="\t", index=False)
    return image, labels


def mne_quiet():
    import mne

    return mne.utils.use_log_level("ERROR")


def face_epochs(n_face=30, n_nonface=20, effects=(1.0, 0.0, -0.5, 0.0), seed=0, sfreq=100.0,
            positions=None, names=None, bads=()):
    """High-gamma-like epochs: channel c adds effects[c] to face trials in 0.1-0.4 s."""
    import mne

    rng = np.random.default_rng(seed)
    n_ch = len(effects)
    names = names or [f"C{i + 1}" for i in range(n_ch)]
    times = np.arange(-0.2, 0.8, 1 / sfreq)
    category = np.array(["face"] * n_face + ["nonface"] * n_nonface)
    rng.shuffle(category)
    data = rng.normal(1.0, 0.5, (len(category), n_ch, len(times)))
    window = (times >= 0.1) & (times <= 0.4)
    for c, effect in enumerate(effects):
        data[np.ix_(category == "face", [c], window)] += effect
    info = mne.create_info(names, sfreq, "seeg")
    metadata = pd.DataFrame({"category": category, "stim_file": [f"s{i}.png" for i in
                                                                 range(len(category))]})
    epochs = mne.EpochsArray(data, info, tmin=times[0], metadata=metadata, verbose="error")
    if positions is not None:
        montage = mne.channels.make_dig_montage(
            ch_pos={n: np.asarray(p, float) / 1000.0 for n, p in zip(names, positions)},
            coord_frame="mni_tal")
        epochs.set_montage(montage, verbose="error")
    epochs.info["bads"] = list(bads)
    return epochs
