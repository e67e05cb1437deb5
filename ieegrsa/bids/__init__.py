"""BIDS input and output: dataset discovery, recording readers, the stimulus table, derivatives."""

from .derivatives import (
    atomic_path,
    derivative_name,
    write_dataset_description,
    write_json,
    write_tsv,
)
from .discovery import RECORDING_EXTENSIONS, check_bids_root, find_recordings, list_subjects
from .electrodes import IEEG_TYPES, MNI_SPACES, read_contacts
from .readers import Recording, load_recording
from .stimuli import build_stimuli, read_tsv

__all__ = [
    "IEEG_TYPES",
    "MNI_SPACES",
    "RECORDING_EXTENSIONS",
    "Recording",
    "atomic_path",
    "build_stimuli",
    "check_bids_root",
    "derivative_name",
    "find_recordings",
    "list_subjects",
    "load_recording",
    "read_contacts",
    "read_tsv",
    "write_dataset_description",
    "write_json",
    "write_tsv",
]
