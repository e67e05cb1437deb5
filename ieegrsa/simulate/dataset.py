"""Assemble a simulated face-viewing iEEG BIDS dataset: stimuli, patients, sidecars, truth."""

from __future__ import annotations

import datetime
import os
import shutil
import uuid
from pathlib import Path

import numpy as np
import pandas as pd

from ieegrsa.errors import DataError

from .._docs import fill_doc
from .._logging import progress_bar, verbose
from . import _native, signals
from .implants import TRAJECTORIES, plan_implant
from .presets import AREAS, resolve_effect, resolve_preset
from .stimuli import copy_stimuli, draw_stimuli
from .writer import write_brainvision, write_edf, write_json, write_tsv

__all__ = ["make_dataset"]

TASK = "faces"
SPACE = "MNI152NLin2009cAsym"
GROUND_TRUTH = Path("sourcedata", "simulation")

# Two recording sites, alternating between patients, so a dataset mixes formats and mains.
_SITES = (
    {"format": "edf", "line_freq": 50, "manufacturer": "Nihon Kohden",
     "model": "Neurofax EEG-1200", "software": "Neuroworkspace 2.0 (EDF+ export)",
     "institution": "Simulated epilepsy centre A", "reference": "intracranial white-matter contact "
     "on a separate shaft, not included in the data", "ref_name": "WM-ref",
     "ground": "scalp electrode at Fpz", "highpass": 0.08},
    {"format": "brainvision", "line_freq": 60, "manufacturer": "Natus Medical",
     "model": "Quantum amplifier", "software": "NeuroWorks 9 (BrainVision export)",
     "institution": "Simulated epilepsy centre B", "reference": "extracranial scalp electrode "
     "at the right mastoid, not included in the data", "ref_name": "mastoid",
     "ground": "scalp electrode at the left mastoid", "highpass": 0.3},
)
_EXPRESSION_LEVELS = {"neutral": "No expression", "happy": "Happiness", "sad": "Sadness",
                      "angry": "Anger", "fearful": "Fear", "surprised": "Surprise",
                      "disgusted": "Disgust"}


def _rng(seed, stream, index=0):
    """An independent generator per stream and item (e.g. images do not depend on n_subjects)."""
    return np.random.default_rng([seed, stream, index])


def _check_root(root, overwrite):
    if root.exists() and not root.is_dir():
        raise DataError("The output path exists and is not a folder", file=root,
                        fix="Choose another path for the simulated dataset")
    if root.is_dir() and any(root.iterdir()):
        if not overwrite:
            raise DataError("The output folder exists and is not empty", file=root,
                            fix="Choose an empty or new folder, or pass overwrite=True to replace "
                                "a dataset simulated there before")
        if not (root / GROUND_TRUTH / "ground_truth.json").is_file():
            raise DataError("Refusing to overwrite a folder that is not a simulated dataset",
                            file=root, found="no sourcedata/simulation/ground_truth.json",
                            fix="Choose another folder; overwrite=True only replaces a dataset "
                                "written by ieegrsa.simulate")


@fill_doc
@verbose
def make_dataset(root, preset="tiny", seed=0, effect="classical", overwrite=False, *,
                 verbose=None, stimuli=None, anatomy="mni"):
    """Write a realistic simulated face-viewing iEEG dataset in BIDS, with a planted ground truth.

    Patients with sEEG shafts and ECoG strips in MNI space view procedurally drawn faces (an
    identity × expression design) and non-face images, several times each. Contacts near the
    fusiform and occipital face areas (ROI ``ventral``) and the posterior STS (ROI ``lateral``)
    respond more to faces than to non-faces in high-gamma power and in their evoked potential, and
    carry the planted representational geometry of ``effect`` from the ROI's onset latency on.

    Parameters
    ----------
    root : str | path-like
        Folder to create. It must be absent or empty unless ``overwrite``.
    preset : str
        Dataset size, a key of :data:`ieegrsa.simulate.PRESETS` (``tiny``, ``small``, ``paper``).
    seed : int
        Seed of every random choice: the same seed gives byte-identical data, tables and images.
    effect : str | dict
        Planted geometry: a key of :data:`ieegrsa.simulate.EFFECTS` (``classical``, ``identity``,
        ``expression``, ``none``), a string like ``"ventral=identity,lateral=expression"``, or a
        dict ``{roi: model}`` or ``{roi: {"model", "onset" (s), "window" (s), "strength"}}``.
    overwrite : bool
        Replace a dataset previously simulated at ``root``.
    %(verbose)s
    stimuli : str | path-like | None
        A folder of a lab's own images with a ``stimuli.tsv`` (``stim_file`` relative to that
        folder, ``identity``, ``expression``, ``category`` = face/nonface) to show instead of
        drawn ones; the preset's ``n_identities``, ``expressions``, ``n_nonfaces`` and
        ``image_size`` are then unused. The planted geometry follows the table's labels.
    anatomy : str
        Where the contacts are given. ``"mni"``: in MNI152NLin2009cAsym. The others give each
        patient an anatomy of their own (:func:`ieegrsa.simulate.anatomy.native_anatomy`, seeded
        by ``seed`` and the patient) and write the contacts in its ``ACPC`` space (the MNI
        positions stay the ground truth), with what places them: ``"labels"``, a ``destrieux``
        column of FreeSurfer names (the planted face areas' Destrieux regions, plausible others
        elsewhere); ``"t1w"``, the patient's T1w (``anat/sub-<L>_T1w.nii.gz``, an affine and a
        ~3 mm smooth deformation of the MNI152 template; coordsystem.json's ``IntendedFor``);
        ``"transform"``, an affine-only patient's T1w and the lab's ITK transform
        ``derivatives/transforms/sub-<L>/anat/sub-<L>_from-MNI152NLin2009cAsym_to-T1w_mode-image_xfm.txt``;
        ``"native"``, nothing (contacts ieegrsa cannot place).

    Returns
    -------
    pathlib.Path
        ``root``. The dataset is written to a temporary sibling folder and renamed at the end, so a
        crash never leaves a partial dataset at ``root``.

    Notes
    -----
    Files (no session entity; ``<L>`` is ``01``, ``02`` …)::

        dataset_description.json  README  participants.tsv/.json  task-faces_events.json
        stimuli/stimuli.tsv/.json  stimuli/faces/idNN_<expression>.png  stimuli/nonfaces/*.png
        sub-<L>/ieeg/sub-<L>_task-faces_ieeg.{edf | vhdr,vmrk,eeg}   (EDF for odd, BrainVision
            for even patient numbers)  _ieeg.json  _channels.tsv  _events.tsv
        sub-<L>/ieeg/sub-<L>_space-MNI152NLin2009cAsym_electrodes.tsv  _coordsystem.json
        sourcedata/simulation/ground_truth.json  sub-<L>_contacts.tsv

    With ``anatomy`` other than ``"mni"`` the contacts are ``sub-<L>_space-ACPC_electrodes.tsv``
    (and ``.json`` for ``labels``) with ``_coordsystem.json``, and ground_truth.json's
    ``anatomy`` gives the kind and each patient's ``affine_mni_to_native``.
    """
    params = resolve_preset(preset)
    anatomy = _native.check_anatomy(anatomy)
    geometry = resolve_effect(effect)
    if isinstance(seed, bool) or not isinstance(seed, (int, np.integer)) or not 0 <= seed < 2 ** 32:
        raise DataError("The seed must be an integer from 0 to 4294967295", field="seed",
                        found=seed, fix="Pass an integer seed, e.g. seed=0")
    seed = int(seed)
    root = Path(root).expanduser().absolute()
    _check_root(root, overwrite)
    root.parent.mkdir(parents=True, exist_ok=True)
    tmp = root.parent / f".{root.name}.partial-{uuid.uuid4().hex[:8]}"
    tmp.mkdir()
    try:
        _build(tmp, params, geometry, seed, stimuli, anatomy)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    if root.exists():  # swap, so the old dataset stays whole until the new one is in place
        old = root.parent / f".{root.name}.old-{uuid.uuid4().hex[:8]}"
        os.replace(root, old)
        os.replace(tmp, root)
        shutil.rmtree(old)
    else:
        os.replace(tmp, root)
    return root


def _build(root, params, geometry, seed, source, anatomy):
    """Write the whole dataset into the (temporary) folder ``root``."""
    from ieegrsa import __version__

    (root / GROUND_TRUTH).mkdir(parents=True)
    if source is None:
        stimuli = draw_stimuli(root / "stimuli", params, seed)
    else:
        stimuli = copy_stimuli(root / "stimuli", source)
    faces = stimuli[stimuli["category"] == "face"]
    labels = [f"{i + 1:02d}" for i in range(params["n_subjects"])]
    demo_rng = _rng(seed, 3)
    participants = pd.DataFrame({
        "participant_id": [f"sub-{label}" for label in labels],
        "age": demo_rng.integers(16, 60, len(labels)),
        "sex": demo_rng.choice(["F", "M"], len(labels)),
        "hand": demo_rng.choice(["R", "L", "A"], len(labels), p=[0.8, 0.15, 0.05]),
    })
    subjects = {}
    for i, label in enumerate(progress_bar(labels, desc="simulating patients")):
        subjects[label] = _write_patient(root, label, i, params, geometry, stimuli, seed,
                                         anatomy)
    if anatomy == "transform":
        _native.write_transforms_description(root, __version__)

    write_json({
        "Name": f"Simulated face-viewing intracranial EEG ({params['name']} preset, seed {seed})",
        "BIDSVersion": "1.10.0",
        "DatasetType": "raw",
        "License": "CC0",
        "Authors": ["ieegrsa.simulate", "The ieegrsa developers"],
        "HowToAcknowledge": "Simulated with ieegrsa.simulate.make_dataset; cite ieegrsa.",
        "GeneratedBy": [{"Name": "ieegrsa", "Version": __version__,
                         "Description": "ieegrsa.simulate.make_dataset: synthetic sEEG/ECoG with "
                                        "a planted representational geometry",
                         "CodeURL": "https://github.com/ieegrsa/ieegrsa"}],
    }, root / "dataset_description.json")
    where = SPACE if anatomy == "mni" else f"each patient's own {_native.NATIVE_SPACE} space"
    effect_text = ", ".join(f"{roi}: {g['model']} from {g['onset']:.3f} s for {g['window']:.3f} s "
                            f"(strength {g['strength']:g})" for roi, g in geometry.items())
    (root / "README").write_text(
        f"Simulated face-viewing intracranial EEG\n"
        f"=======================================\n\n"
        f"Synthetic data written by ieegrsa {__version__} (preset {params['name']}, seed {seed}).\n"
        f"No patient was recorded. {len(labels)} simulated epilepsy patients with sEEG shafts and\n"
        f"ECoG strips (coordinates in {where}) watched {len(faces)} {'drawn ' * (source is None)}"
        f"faces\n({faces['identity'].nunique()} identities x {faces['expression'].nunique()} "
        f"expressions) and {len(stimuli) - len(faces)} non-face images,\n"
        f"each shown {params['n_repetitions']} times in random order.\n\n"
        f"Planted representational geometry: {effect_text}.\n"
        f"The ground truth per contact is in {GROUND_TRUTH.as_posix()}/.\n", encoding="utf-8")
    write_tsv(participants, root / "participants.tsv")
    write_json({
        "participant_id": {"Description": "Unique participant identifier"},
        "age": {"Description": "Age of the participant at the time of the recording",
                "Units": "year"},
        "sex": {"Description": "Sex of the participant", "Levels": {"F": "female", "M": "male"}},
        "hand": {"Description": "Handedness of the participant",
                 "Levels": {"R": "right", "L": "left", "A": "ambidextrous"}},
    }, root / "participants.json")
    write_json(_events_sidecar(faces["expression"].unique(), __version__),
               root / f"task-{TASK}_events.json")
    truth = {
        "preset": params["name"],
        "preset_parameters": {k: v for k, v in params.items() if k != "name"},
        "seed": seed, "effect": geometry, "ieegrsa_version": __version__, "space": SPACE,
        "areas": {name: dict(area) for name, area in AREAS.items()},
        "response": {"hg_band_hz": list(signals.HG_BAND), "face_gain": signals.FACE_GAIN,
                     "nonface_ratio": signals.NONFACE_RATIO, "visual_gain": signals.VISUAL_GAIN,
                     "idiosyncratic": signals.IDIOSYNCRATIC, "trial_gain_sd": signals.TRIAL_GAIN_SD,
                     "sigma_area_mm": signals.SIGMA_AREA},
        "subjects": subjects,
    }
    if anatomy != "mni":  # the truth's positions (sub-<L>_contacts.tsv) stay in SPACE
        truth["anatomy"] = anatomy
    write_json(truth, root / GROUND_TRUTH / "ground_truth.json")


def _events_sidecar(expressions, version):
    """The top-level task-faces_events.json: every events.tsv column described."""
    return {
        "onset": {"Description": "Image onset from the first sample of the recording",
                  "Units": "s"},
        "duration": {"Description": "Time the image stayed on the screen", "Units": "s"},
        "sample": {"Description": "Image onset as a 0-based sample index of the recording"},
        "trial_type": {"Description": "Category of the image shown",
                       "Levels": {"face": "A face image",
                                  "nonface": "A non-face image, the face localizer's control "
                                             "category"}},
        "stim_file": {"Description": "Image shown, relative to the stimuli/ folder"},
        "identity": {"Description": "Identity of the face shown (the same for all expressions of "
                                    "a person); n/a for non-face images"},
        "expression": {"Description": "Facial expression of the face shown; n/a for non-face "
                                      "images",
                       "Levels": {e: _EXPRESSION_LEVELS.get(e, e) for e in expressions}},
        "repetition": {"Description": "How many times this image has been shown so far, this "
                                      "presentation included (1 = first showing)"},
        "value": {"Description": "Trigger code sent to the amplifier: the 1-based row of the "
                                 "image in stimuli/stimuli.tsv"},
        "StimulusPresentation": {
            "OperatingSystem": "n/a (simulated presentation)",
            "SoftwareName": "ieegrsa.simulate", "SoftwareVersion": version,
            "Code": "https://github.com/ieegrsa/ieegrsa"},
    }


def _write_patient(root, label, index, params, geometry, stimuli, seed, anatomy="mni"):
    """Simulate and write one patient; return their entry of ground_truth.json."""
    rng = _rng(seed, 2, index)
    site = _SITES[index % 2]
    sfreq = float(params["sampling_rates"][index % len(params["sampling_rates"])])
    hardware = {"highpass": site["highpass"], "lowpass": round(0.4 * sfreq, 1)}
    contacts = plan_implant(rng, params, index)
    stim_index, repetition, onset_sample, n_samples = signals.schedule(rng, len(stimuli), params,
                                                                       sfreq)
    trials = pd.DataFrame({"stim_index": stim_index, "onset_sample": onset_sample})
    n_bad = int(rng.integers(params["n_bad"][0], params["n_bad"][1] + 1))
    data, truth = signals.simulate_patient(rng, contacts, stimuli, trials, geometry, sfreq,
                                           n_samples, site["line_freq"], hardware, n_bad)

    folder = root / f"sub-{label}" / "ieeg"
    folder.mkdir(parents=True)
    base = f"sub-{label}_task-{TASK}"
    names = list(contacts["name"]) + ["ECG"]
    meas_date = datetime.datetime(2021, 3, 1, 9, 30) + datetime.timedelta(days=17 * index)
    if site["format"] == "edf":
        write_edf(folder / f"{base}_ieeg.edf", data, sfreq, names,
                  f"HP:{hardware['highpass']}Hz LP:{hardware['lowpass']}Hz", meas_date,
                  [(s / sfreq, f"trigger {v + 1}")
                   for s, v in zip(onset_sample, stim_index, strict=True)])
    else:
        write_brainvision(folder, f"{base}_ieeg", data, sfreq, names, meas_date, onset_sample,
                          stim_index + 1)
    del data

    shown = stimuli.iloc[stim_index]
    write_tsv(pd.DataFrame({
        "onset": np.round(onset_sample / sfreq, 6),
        "duration": params["stim_duration"],
        "sample": onset_sample,
        "trial_type": shown["category"].to_numpy(),
        "stim_file": shown["stim_file"].to_numpy(),
        "identity": shown["identity"].to_numpy(),
        "expression": shown["expression"].to_numpy(),
        "repetition": repetition,
        "value": stim_index + 1,
    }), folder / f"{base}_events.tsv")

    is_depth = contacts["kind"] == "depth"
    status = np.where(truth["bad"], "bad", "good")
    write_tsv(pd.DataFrame({
        "name": names,
        "type": list(np.where(is_depth, "SEEG", "ECOG")) + ["ECG"],
        "units": "µV",
        "low_cutoff": hardware["highpass"],
        "high_cutoff": hardware["lowpass"],
        "reference": [site["ref_name"]] * len(contacts) + ["bipolar"],
        "group": list(contacts["group"]) + ["n/a"],
        "sampling_frequency": sfreq,
        "description": [f"{'depth' if d else 'strip'} contact, {t}"
                        for d, t in zip(is_depth, contacts["target"], strict=True)]
                       + ["electrocardiogram"],
        "notch": "n/a",
        "status": list(status) + ["good"],
        "status_description": [signals.BAD_KINDS[k] if k else "n/a" for k in truth["bad_kind"]]
                              + ["n/a"],
    }), folder / f"{base}_channels.tsv")
    electrodes = pd.DataFrame({
        "name": contacts["name"], "x": contacts["x"], "y": contacts["y"], "z": contacts["z"],
        "size": contacts["size"], "material": "platinum-iridium",
        "manufacturer": np.where(is_depth, "DIXI Medical", "Ad-Tech Medical"),
        "group": contacts["group"], "hemisphere": contacts["hemisphere"],
        "type": contacts["kind"],
    })
    native = None
    if anatomy != "mni":  # its own stream: the rest of the patient is that of an MNI dataset
        anatomy_seed = int(_rng(seed, 11, index).integers(2 ** 32))
        native = {"seed": anatomy_seed, **_native.write_native_contacts(
            root, label, anatomy, electrodes, contacts,
            _native.patient_anatomy(anatomy, anatomy_seed))}
    else:
        _write_mni_contacts(folder, label, electrodes)
    groups = contacts.groupby("group", sort=False)
    write_json({
        "TaskName": TASK,
        "TaskDescription": "Passive viewing of face images (identities x expressions) and "
                           "non-face images (houses, cars, scrambled faces), each shown "
                           f"{params['n_repetitions']} times in random order for "
                           f"{params['stim_duration']} s with a jittered "
                           f"{params['soa'][0]}-{params['soa'][1]} s onset asynchrony.",
        "Instructions": "Keep your eyes on the centre of the screen and look at each picture.",
        "InstitutionName": site["institution"],
        "InstitutionAddress": "n/a (simulated)",
        "InstitutionalDepartmentName": "Epilepsy monitoring unit",
        "Manufacturer": site["manufacturer"],
        "ManufacturersModelName": site["model"],
        "SoftwareVersions": site["software"],
        "DeviceSerialNumber": f"SIM-{index % 2 + 1:04d}",
        "SamplingFrequency": sfreq,
        "PowerLineFrequency": site["line_freq"],
        "SoftwareFilters": "n/a",
        "HardwareFilters": {"HighpassFilter": {"CutoffFrequency": hardware["highpass"]},
                            "LowpassFilter": {"CutoffFrequency": hardware["lowpass"]}},
        "iEEGReference": site["reference"],
        "iEEGGround": site["ground"],
        "iEEGPlacementScheme": "Clinically planned stereotactic depth electrodes and subdural "
                               "strips targeting: " + "; ".join(
                                   f"{g} {TRAJECTORIES[g[1:]]['target']}" for g in groups.groups),
        "iEEGElectrodeGroups": "; ".join(
            f"{g}: {'depth electrode' if rows['kind'].iloc[0] == 'depth' else 'subdural strip'} "
            f"with {len(rows)} contacts" for g, rows in groups),
        "ElectrodeManufacturer": "DIXI Medical (depth), Ad-Tech Medical (strips)",
        "ElectrodeManufacturersModelName": "Microdeep (depth), subdural strip (strips)",
        "ECOGChannelCount": int((~is_depth).sum()),
        "SEEGChannelCount": int(is_depth.sum()),
        "EEGChannelCount": 0,
        "EOGChannelCount": 0,
        "ECGChannelCount": 1,
        "EMGChannelCount": 0,
        "MiscChannelCount": 0,
        "TriggerChannelCount": 0,
        "RecordingDuration": n_samples / sfreq,
        "RecordingType": "continuous",
        "ElectricalStimulation": False,
        "SubjectArtefactDescription": "Bad contacts are marked in channels.tsv; "
                                      "mild ECG pick-up on all contacts.",
    }, folder / f"{base}_ieeg.json")

    write_tsv(pd.DataFrame({
        "name": contacts["name"], "x": contacts["x"], "y": contacts["y"], "z": contacts["z"],
        "group": contacts["group"], "hemisphere": contacts["hemisphere"],
        "roi": contacts["roi"], "area": contacts["area"],
        "distance_mm": np.where(np.isfinite(contacts["distance"]),
                                contacts["distance"].round(1), np.nan),
        "responsive": truth["responsive"], "face_selective": truth["face_selective"],
        "planted_model": truth["planted_model"], "planted_code": truth["planted_code"],
        "onset_s": truth["onset_s"],
        "bad": truth["bad"],
    }), root / GROUND_TRUTH / f"sub-{label}_contacts.tsv")
    entry = {"sampling_frequency": sfreq, "format": site["format"],
             "line_frequency": site["line_freq"], "n_contacts": len(contacts),
             "duration_s": n_samples / sfreq}
    if native is not None:
        entry["anatomy"] = native
    return entry


def _write_mni_contacts(folder, label, electrodes):
    """electrodes.tsv and coordsystem.json of contacts in the template (MNI) space."""
    write_tsv(electrodes, folder / f"sub-{label}_space-{SPACE}_electrodes.tsv")
    write_json({
        "iEEGCoordinateSystem": SPACE,
        "iEEGCoordinateUnits": "mm",
        "iEEGCoordinateSystemDescription": "ICBM 2009c nonlinear asymmetric MNI template "
                                           "(Fonov et al. 2009, 2011), RAS orientation, mm",
        "iEEGCoordinateProcessingDescription": "contacts localised on the post-implantation CT "
                                               "and normalised to the template (simulated)",
        "iEEGCoordinateProcessingReference": "simulated with ieegrsa.simulate",
    }, folder / f"sub-{label}_space-{SPACE}_coordsystem.json")
