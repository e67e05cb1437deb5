"""Realistic simulated face-viewing iEEG datasets in BIDS, with a planted ground truth.

``make_dataset(root, preset="tiny", seed=0, effect="classical")`` writes a BIDS iEEG dataset
(sEEG and ECoG patients, EDF and BrainVision recordings, drawn face stimuli, events with identity
and expression) whose face ROIs carry a known representational geometry, and the ground truth per
contact under ``sourcedata/simulation/``. See :data:`PRESETS` for dataset sizes and
:data:`EFFECTS` for the planted geometries. ``anatomy=`` (one of :data:`ANATOMIES`) gives the
contacts in each patient's own ACPC space instead of MNI, with dataset labels, a T1w or a lab
transform to place them.
"""

from ._native import ANATOMIES
from .dataset import make_dataset
from .presets import AREAS, EFFECTS, EXPRESSIONS, MODELS, PRESETS, ROIS

__all__ = ["make_dataset", "PRESETS", "EFFECTS", "AREAS", "ROIS", "MODELS", "EXPRESSIONS",
           "ANATOMIES"]
