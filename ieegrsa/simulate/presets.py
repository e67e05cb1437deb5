"""Presets of the simulator: dataset sizes, planted effects and face-area anatomy.

Everything the simulator can be asked for by name lives here, with its validation, so that a bad
name fails before any file is written.
"""

from __future__ import annotations

import copy
from types import MappingProxyType

from ieegrsa._check import check_option, did_you_mean
from ieegrsa.errors import DataError

__all__ = ["PRESETS", "EFFECTS", "AREAS", "ROIS", "MODELS", "CODES", "EXPRESSIONS",
           "resolve_preset", "resolve_effect"]

#: Expressions the face drawer knows, in the order presets take them from.
EXPRESSIONS = ("neutral", "happy", "angry", "fearful", "sad", "surprised", "disgusted")

#: Representational models a region can carry.
MODELS = ("identity", "expression", "none")

#: How a coding ROI's contacts carry the stimulus property (see :mod:`ieegrsa.simulate.signals`):
#: ``spatial`` (an additive pattern across contacts, the simulator's original code),
#: ``amplitude`` (a contact-specific gain on the same face response), ``common-gain`` (one gain
#: for all the ROI's contacts), ``latency`` (the response earlier or later) and ``shape`` (the
#: response's mass moved within the window).
CODES = ("spatial", "amplitude", "common-gain", "latency", "shape")

#: Regions of interest, as named in the project's default configuration.
ROIS = ("ventral", "lateral")

#: Face-selective areas: ROI, peak in MNI152NLin2009cAsym mm for the right hemisphere (x is
#: mirrored for the left) and the radius (mm) within which a contact counts as inside the area.
#: The peaks are rounded representative group peaks of face-localizer fMRI, not the exact peak of
#: any single study: FFA in the lateral mid-fusiform gyrus (Kanwisher, McDermott & Chun 1997,
#: J Neurosci 17:4302; Rossion, Hanseeuw & Dricot 2012, Brain Cogn 79:138), OFA in the inferior
#: occipital gyrus (Gauthier et al. 2000, J Cogn Neurosci 12:495; Pitcher, Walsh & Duchaine
#: 2011, Exp Brain Res 209:481) and the face patch of the posterior superior temporal sulcus
#: (Pitcher et al. 2011, NeuroImage 56:2356; Allison, Puce & McCarthy 2000, Trends Cogn Sci 4:267).
AREAS = MappingProxyType({
    "FFA": {"roi": "ventral", "peak": (40.0, -52.0, -20.0), "radius": 12.0},
    "OFA": {"roi": "ventral", "peak": (40.0, -78.0, -12.0), "radius": 12.0},
    "pSTS": {"roi": "lateral", "peak": (50.0, -50.0, 10.0), "radius": 12.0},
})

_DEFAULT_ROI_EFFECT = {
    # Face-selective responses start ~100-150 ms after onset in ventral temporal cortex and a few
    # tens of ms later over the STS (e.g. Allison et al. 1999, Cereb Cortex 9:415; Ghuman et al.
    # 2014, Nat Commun 5:5672).
    "ventral": {"onset": 0.12, "window": 0.25, "strength": 0.6},
    "lateral": {"onset": 0.18, "window": 0.25, "strength": 0.6},
}


def _effect(**models):
    return {roi: {"model": models[roi], "code": "spatial", **_DEFAULT_ROI_EFFECT[roi]}
            for roi in ROIS}


#: Planted representational geometry per ROI. ``model`` is the stimulus property that drives the
#: response pattern across the ROI's contacts (``identity``, ``expression`` or ``none``);
#: ``onset`` (s after image onset) and ``window`` (s) bound the time during which it does;
#: ``strength`` is the pattern's amplitude as a fraction of the high-gamma baseline amplitude
#: (the face response itself is separate and present in every effect); ``code`` (one of
#: :data:`CODES`) is how the contacts carry it.
EFFECTS = MappingProxyType({
    "classical": _effect(ventral="identity", lateral="expression"),
    "identity": _effect(ventral="identity", lateral="identity"),
    "expression": _effect(ventral="expression", lateral="expression"),
    "none": _effect(ventral="none", lateral="none"),
})

#: Dataset sizes. Keys of each preset:
#:
#: ``n_subjects``: patients. ``n_identities``, ``expressions``: face images are every identity in
#: every expression. ``n_nonfaces``: houses, cars and phase-scrambled faces for the localizer.
#: ``n_repetitions``: showings of each image. ``image_size``: image side (px).
#: ``contacts``: (min, max) recording contacts per patient. ``shaft_contacts``,
#: ``strip_contacts``: (min, max) contacts per sEEG shaft (3.5 mm apart) and ECoG strip (10 mm
#: apart). ``sampling_rates``: Hz, given to patients in turn. ``bilateral``: probability of an
#: implant in both hemispheres. ``both_rois``: probability that a patient has contacts in both
#: ROIs (the others alternate between ventral and lateral). ``n_bad``: (min, max) bad contacts.
#: ``soa``: (min, max) stimulus onset asynchrony (s), drawn uniformly. ``stim_duration``: s.
PRESETS = MappingProxyType({
    "tiny": {
        "n_subjects": 2, "n_identities": 4, "expressions": ("neutral", "happy", "angry"),
        "n_nonfaces": 4, "n_repetitions": 3, "image_size": 128, "contacts": (14, 20),
        "shaft_contacts": (8, 10), "strip_contacts": (4, 6), "sampling_rates": (1000, 2048),
        "bilateral": 0.0, "both_rois": 1.0, "n_bad": (1, 2), "soa": (0.9, 1.2),
        "stim_duration": 0.3,
    },
    "small": {
        "n_subjects": 4, "n_identities": 6, "expressions": ("neutral", "happy", "angry", "fearful"),
        "n_nonfaces": 6, "n_repetitions": 4, "image_size": 256, "contacts": (24, 40),
        "shaft_contacts": (8, 12), "strip_contacts": (4, 8), "sampling_rates": (1000, 2048, 1024),
        "bilateral": 0.25, "both_rois": 0.75, "n_bad": (1, 3), "soa": (0.9, 1.2),
        "stim_duration": 0.3,
    },
    "paper": {
        "n_subjects": 11, "n_identities": 8,
        "expressions": ("neutral", "happy", "angry", "fearful", "sad"),
        "n_nonfaces": 10, "n_repetitions": 4, "image_size": 256, "contacts": (40, 70),
        "shaft_contacts": (8, 12), "strip_contacts": (4, 8), "sampling_rates": (1000, 2048, 1024),
        "bilateral": 0.3, "both_rois": 0.6, "n_bad": (2, 5), "soa": (0.9, 1.2),
        "stim_duration": 0.3,
    },
})


def resolve_preset(preset) -> dict:
    """Return a copy of the named preset's parameters.

    Parameters
    ----------
    preset : str
        A key of :data:`PRESETS`.

    Returns
    -------
    dict
        The preset's parameters, with ``name`` added.
    """
    check_option("preset", preset, PRESETS, what="simulation preset",
                 fix=did_you_mean(preset, PRESETS) + f"Use one of: {', '.join(PRESETS)}")
    return {"name": preset, **copy.deepcopy(dict(PRESETS[preset]))}


def resolve_effect(effect) -> dict:
    """Turn an effect specification into the planted geometry of every ROI.

    Parameters
    ----------
    effect : str | dict
        A key of :data:`EFFECTS`; or a string such as ``"ventral=identity,lateral=expression"``;
        or a dict mapping an ROI to a model name, or to a dict with any of ``model``, ``onset``
        (s), ``window`` (s), ``strength`` (fraction of baseline high-gamma amplitude; for
        ``latency`` the shift in units of 30 ms) and ``code`` (:data:`CODES`). ROIs left out
        get model ``none`` with their default timing.

    Returns
    -------
    dict
        ``{roi: {"model", "code", "onset", "window", "strength"}}`` for every ROI in
        :data:`ROIS`.
    """
    if isinstance(effect, str) and effect in EFFECTS:
        return copy.deepcopy(dict(EFFECTS[effect]))
    if isinstance(effect, str) and "=" in effect:
        spec = {}
        for item in effect.split(","):
            roi, sep, model = (part.strip() for part in item.partition("="))
            if not sep:
                raise DataError("Cannot parse the effect string", field="effect", found=effect,
                                fix="Write it as roi=model pairs separated by commas, e.g. "
                                    "'ventral=identity,lateral=expression'")
            spec[roi] = model
        effect_spec = spec
    elif isinstance(effect, dict):
        effect_spec = effect
    else:
        raise DataError("Unknown effect", field="effect", found=effect,
                        fix=f"Use one of: {', '.join(EFFECTS)}, a string such as "
                            "'ventral=identity,lateral=expression', or a dict {roi: model}")
    resolved = copy.deepcopy(dict(EFFECTS["none"]))
    for roi, value in effect_spec.items():
        if roi not in ROIS:
            raise DataError("Unknown ROI in the effect", field="effect", found=roi,
                            fix=f"Use one of: {', '.join(ROIS)}")
        value = {"model": value} if isinstance(value, str) else dict(value)
        unknown = set(value) - set(resolved[roi])
        if unknown:
            raise DataError(f"Unknown key in the effect of ROI {roi!r}", field="effect",
                            found=sorted(unknown),
                            fix="Use only model, code, onset, window and strength")
        resolved[roi].update(value)
        if resolved[roi]["model"] not in MODELS:
            raise DataError(f"Unknown model for ROI {roi!r}", field="effect",
                            found=resolved[roi]["model"], fix=f"Use one of: {', '.join(MODELS)}")
        if resolved[roi]["code"] not in CODES:
            raise DataError(f"Unknown code for ROI {roi!r}", field="effect",
                            found=resolved[roi]["code"], fix=f"Use one of: {', '.join(CODES)}")
        for key in ("onset", "window", "strength"):
            number = resolved[roi][key]
            if not isinstance(number, (int, float)) or isinstance(number, bool) or number < 0 \
                    or (key == "window" and number == 0) or number > 2:
                raise DataError(f"Invalid {key} for ROI {roi!r}", field="effect", found=number,
                                fix=f"Give {key} as a number between 0 and 2 "
                                    f"({'seconds' if key != 'strength' else 'fraction'})")
            resolved[roi][key] = float(number)
    return resolved
