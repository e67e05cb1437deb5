"""Shared fixtures: real data paths, a small face dataset written with mne-bids, dataset hashing."""

from __future__ import annotations

import hashlib
import os
import shutil
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

SHARED_DATA = Path(
    os.environ.get("IEEGRSA_SHARED_DATA", Path(__file__).resolve().parents[2] / "shared" / "data")
)


@pytest.fixture(scope="session")
def shared_data() -> Path:
    """``../shared/data`` (real data nobody here made); skip when it is absent."""
    if not SHARED_DATA.is_dir():
        pytest.skip(f"real data folder {SHARED_DATA} is absent (set IEEGRSA_SHARED_DATA)")
    return SHARED_DATA


@pytest.fixture(scope="session")
def london_photos(shared_data) -> list[Path]:
    """The 204 raw London photos: 102 neutral, then the same 102 identities smiling."""
    root = shared_data / "faces" / "london"
    paths = sorted((root / "neutral").glob("*.jpg")) + sorted((root / "smiling").glob("*.jpg"))
    if len(paths) != 204:
        pytest.skip(f"London faces incomplete under {root}")
    return paths


#: A configuration small enough for end-to-end runs in tests (few permutations, no networks).
FAST_CONFIG = """\
rsa:
  n_permutations: 50
  step: 0.05
stats:
  n_permutations: 100
  n_bootstrap: 10
models:
  networks: []
"""


def hash_tree(root) -> dict[str, str]:
    """SHA-256 of every file under ``root`` (relative path -> digest), plus the folder list."""
    root = Path(root)
    digests = {}
    for path in sorted(root.rglob("*")):
        rel = path.relative_to(root).as_posix()
        if path.is_file():
            digests[rel] = hashlib.sha256(path.read_bytes()).hexdigest()
        else:
            digests[rel] = "<dir>"
    return digests


def write_face_bids(root, subject="01", *, fmt="EDF", runs=1, sfreq=512.0, seed=0,
                    session=None, n_identities=3, n_expressions=2, repetitions=2):
    """Write a small face-viewing iEEG BIDS dataset with mne-bids (independent of the simulator).

    Returns the recording's raw signals per run (volts) and the events written, for checks.
    """
    import mne
    import mne_bids
    from PIL import Image

    root = Path(root)
    rng = np.random.default_rng(seed)
    names = [f"LF{i}" for i in range(1, 7)] + [f"RT{i}" for i in range(1, 5)]
    types = ["seeg"] * 6 + ["ecog"] * 4 + ["ecg"]
    info = mne.create_info(names + ["EKG"], sfreq, types)
    positions = {n: np.array([0.040, -0.060 + 0.0035 * i, -0.020]) for i, n in enumerate(names)}
    montage = mne.channels.make_dig_montage(ch_pos=positions, coord_frame="mni_tal")

    stim_dir = root / "stimuli"
    stim_dir.mkdir(parents=True, exist_ok=True)
    stimuli = []
    for i in range(n_identities):
        for j, expression in enumerate(["neutral", "happy", "sad", "angry"][:n_expressions]):
            name = f"faces/id{i + 1}_{expression}.png"
            (stim_dir / "faces").mkdir(exist_ok=True)
            Image.fromarray(np.full((8, 8), 40 * i + 10 * j, np.uint8)).save(stim_dir / name)
            stimuli.append((name, f"id{i + 1}", expression))
    pd.DataFrame(stimuli, columns=["stim_file", "identity", "expression"]).assign(
        category="face"
    ).to_csv(stim_dir / "stimuli.tsv", sep="\t", index=False)

    written = []
    for run in range(1, runs + 1):
        order = [s for s in stimuli for _ in range(repetitions)]
        order = [order[k] for k in rng.permutation(len(order))]
        onsets = 1.0 + 1.1 * np.arange(len(order))
        n_times = int(np.ceil(onsets[-1] + 2.0) * sfreq)  # whole seconds: EDF pads records
        data = rng.normal(scale=1e-5, size=(len(names) + 1, n_times))
        raw = mne.io.RawArray(data, info.copy(), verbose="error")
        raw.set_montage(montage, on_missing="ignore", verbose="error")
        raw.info["line_freq"] = 50.0
        raw.info["bads"] = ["LF6"]
        bids_path = mne_bids.BIDSPath(
            root=root, subject=subject, session=session, task="faces",
            run=f"{run:02d}" if runs > 1 else None, datatype="ieeg",
        )
        # mne-bids writes no FIF for iEEG; labs that keep FIF files have them beside the sidecars
        mne_bids.write_raw_bids(raw, bids_path, format="BrainVision" if fmt == "FIF" else fmt,
                                allow_preload=True, overwrite=True, verbose="error")
        if fmt == "FIF":
            _replace_with_fif(raw, bids_path)
        events = pd.DataFrame({
            "onset": onsets,
            "duration": 0.3,
            "trial_type": "face",
            "stim_file": [s[0] for s in order],
            "identity": [s[1] for s in order],
            "expression": [s[2] for s in order],
        })
        events_path = bids_path.copy().update(suffix="events", extension=".tsv")
        events.to_csv(events_path.fpath, sep="\t", index=False)
        written.append((raw.get_data(), events))
    if not (root / "dataset_description.json").exists():
        mne_bids.make_dataset_description(path=root, name="test", overwrite=True, verbose="error")
    return written


def _replace_with_fif(raw, bids_path):
    """Swap the BrainVision files mne-bids wrote for a FIF file of the same recording."""
    vhdr = bids_path.copy().update(suffix="ieeg", extension=".vhdr").fpath
    raw.save(vhdr.with_suffix(".fif"), overwrite=True, verbose="error")
    for extension in (".vhdr", ".vmrk", ".eeg"):
        vhdr.with_suffix(extension).unlink()
    scans = next(vhdr.parents[1].glob("*_scans.tsv"), None)
    if scans is not None:
        scans.write_text(scans.read_text().replace(vhdr.name, vhdr.with_suffix(".fif").name))


@pytest.fixture
def face_bids(tmp_path):
    """A one-participant face dataset (EDF, one run) written by mne-bids."""
    root = tmp_path / "bids"
    write_face_bids(root)
    return root


@pytest.fixture(scope="session")
def tiny_dataset(tmp_path_factory):
    """The simulator's ``tiny`` dataset, written once per test session (treat as read-only)."""
    from ieegrsa.simulate import make_dataset

    return make_dataset(tmp_path_factory.mktemp("sim") / "tiny", preset="tiny", seed=0)


@pytest.fixture
def tiny_copy(tiny_dataset, tmp_path):
    """A private copy of the tiny dataset that a test may damage."""
    target = tmp_path / "tiny"
    shutil.copytree(tiny_dataset, target)
    return target


def bids_validator_issues(root) -> tuple[list[dict], list[dict]]:
    """Run bids-validator-deno on ``root``; return its (errors, warnings) as issue dicts."""
    import json
    import subprocess
    import sys

    # the venv's scripts are not on PATH when CI calls .venv/bin/python directly
    exe = shutil.which("bids-validator-deno") or shutil.which(
        "bids-validator-deno", path=str(Path(sys.executable).parent))
    if exe is None and os.environ.get("CI"):
        pytest.fail("bids-validator-deno is part of the test extra but was not found")
    if exe is None:
        pytest.skip("bids-validator-deno is not installed (pip install bids-validator-deno)")
    out = subprocess.run([exe, "--format", "json", str(root)], capture_output=True, text=True,
                         timeout=600)
    issues = json.loads(out.stdout)["issues"]["issues"]
    return ([i for i in issues if i["severity"] == "error"],
            [i for i in issues if i["severity"] == "warning"])


# --- models ---------------------------------------------------------------------------------

@pytest.fixture
def arrays():
    """Six random uint8 RGB images 40×48 (H×W)."""
    return np.random.default_rng(0).integers(0, 256, (6, 40, 48, 3), dtype=np.uint8)


@pytest.fixture
def clean_registry(monkeypatch):
    """A private copy of the extractor registry, so registrations do not leak between tests."""
    from ieegrsa.models import registry

    monkeypatch.setattr(registry, "_REGISTRY", dict(registry._REGISTRY))


@pytest.fixture
def count_forward(monkeypatch):
    """Count the forward passes of torchvision extractors and the layers they asked for."""
    from ieegrsa.models.backbones import TorchvisionExtractor

    calls = []
    original = TorchvisionExtractor.features

    def counted(self, module, batch, layers):
        calls.append(tuple(layers))
        return original(self, module, batch, layers)

    monkeypatch.setattr(TorchvisionExtractor, "features", counted)
    return calls
