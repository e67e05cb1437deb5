"""The dataset's stimuli/ folder: drawn images, or a lab's own images with their stimuli.tsv."""

from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np
import pandas as pd

from ieegrsa.errors import DataError

from . import images
from .writer import write_json, write_tsv

__all__ = ["draw_stimuli", "copy_stimuli", "COLUMNS"]

#: Required columns of stimuli.tsv.
COLUMNS = ("stim_file", "identity", "expression", "category")

#: Face geometry columns written for drawn faces (n/a for non-faces): the box and 5 landmarks.
GEOMETRY = ("box_x0", "box_y0", "box_x1", "box_y1",
            *(f"{name}_{axis}" for name in images.LANDMARKS for axis in "xy"))

_SIDECAR = {
    "stim_file": {"Description": "Image path relative to the stimuli/ folder"},
    "identity": {"Description": "Identity of the person shown (the same for all expressions of "
                                "a person); n/a for non-face images"},
    "expression": {"Description": "Facial expression of the face shown; n/a for non-face images"},
    "category": {"Description": "Image category",
                 "Levels": {"face": "A face", "nonface": "A non-face image"}},
    **{f"box_{edge}": {"Description": f"Face box, {text} (pixels; right and bottom exclusive); "
                                      "n/a for non-face images", "Units": "pixel"}
       for edge, text in (("x0", "left edge"), ("y0", "top edge"), ("x1", "right edge"),
                          ("y1", "bottom edge"))},
    **{f"{name}_{axis}": {"Description": f"{name.replace('_', ' ')} landmark (dlib's 5-point "
                                         f"order), {axis}; n/a for non-face images",
                          "Units": "pixel"}
       for name in images.LANDMARKS for axis in "xy"},
}


def _rng(seed, index):
    return np.random.default_rng([seed, 1, index])


def draw_stimuli(folder, params, seed) -> pd.DataFrame:
    """Draw every face (identity × expression) and non-face image and write stimuli.tsv.

    Parameters
    ----------
    folder : pathlib.Path
        The dataset's ``stimuli/`` folder (created).
    params : dict
        Resolved preset (``n_identities``, ``expressions``, ``n_nonfaces``, ``image_size``).
    seed : int

    Returns
    -------
    pandas.DataFrame
        The stimulus table: ``stim_file``, ``identity``, ``expression``, ``category``, ``object``.
    """
    size = params["image_size"]
    (folder / "faces").mkdir(parents=True)
    (folder / "nonfaces").mkdir()
    rows = []
    for k in range(params["n_identities"]):
        traits = images.identity_traits(_rng(seed, k))
        identity = f"id{k + 1:02d}"
        for expression in params["expressions"]:
            stim_file = f"faces/{identity}_{expression}.png"
            images.draw_face(traits, expression, size).save(folder / stim_file)
            rows.append((stim_file, identity, expression, "face", "face",
                         *images.face_geometry(traits, expression, size).values()))
    kinds = ("house", "car", "scrambled")
    for k in range(params["n_nonfaces"]):
        kind = kinds[k % len(kinds)]
        rng = np.random.default_rng([seed, 4, k])
        if kind == "house":
            image = images.draw_house(rng, size)
        elif kind == "car":
            image = images.draw_car(rng, size)
        else:  # a phase-scrambled neutral face of one of the identities
            traits = images.identity_traits(_rng(seed, k % params["n_identities"]))
            image = images.phase_scramble(images.draw_face(traits, "neutral", size), rng)
        stim_file = f"nonfaces/{kind}{k // len(kinds) + 1:02d}.png"
        image.save(folder / stim_file)
        rows.append((stim_file, "n/a", "n/a", "nonface", kind, *[np.nan] * len(GEOMETRY)))
    table = pd.DataFrame(rows, columns=[*COLUMNS, "object", *GEOMETRY])
    write_tsv(table, folder / "stimuli.tsv")
    sidecar = {**_SIDECAR, "object": {
        "Description": "What the image shows",
        "Levels": {"face": "A face", "house": "A house", "car": "A car",
                   "scrambled": "A phase-scrambled face (Fourier amplitude kept)"}}}
    write_json(sidecar, folder / "stimuli.json")
    return table


def copy_stimuli(folder, source) -> pd.DataFrame:
    """Use a lab's own images: copy ``source`` (images and its stimuli.tsv) into ``folder``.

    Parameters
    ----------
    folder : pathlib.Path
        The dataset's ``stimuli/`` folder (created).
    source : str | path-like
        A folder holding ``stimuli.tsv`` (columns ``stim_file``, ``identity``, ``expression``,
        ``category``; ``n/a`` identity and expression for non-faces) and the images it names,
        relative to the folder.

    Returns
    -------
    pandas.DataFrame
        The stimulus table, as read.
    """
    source = Path(source)
    table_file = source / "stimuli.tsv"
    if not table_file.is_file():
        raise DataError("The stimulus folder has no stimuli.tsv", file=source,
                        fix="Add a stimuli.tsv with columns " + ", ".join(COLUMNS))
    table = pd.read_csv(table_file, sep="\t", dtype=str, keep_default_na=False)
    missing = [c for c in COLUMNS if c not in table.columns]
    if missing:
        raise DataError("stimuli.tsv lacks required columns", file=table_file, field=missing[0],
                        found=list(table.columns), fix="Add the columns " + ", ".join(COLUMNS))
    bad = sorted(set(table["category"]) - {"face", "nonface"})
    if bad:
        raise DataError("Unknown image category", file=table_file, field="category", found=bad,
                        fix="Use face or nonface")
    faces = table[table["category"] == "face"]
    if faces["identity"].nunique() < 2 or faces["expression"].nunique() < 2 \
            or (faces[["identity", "expression"]] == "n/a").any().any():
        raise DataError("The faces need an identity and an expression, with at least two of each",
                        file=table_file, field="identity/expression",
                        found=f"{faces['identity'].nunique()} identities, "
                              f"{faces['expression'].nunique()} expressions",
                        fix="Fill identity and expression for every face image")
    if table["stim_file"].duplicated().any():
        raise DataError("stimuli.tsv names an image twice", file=table_file, field="stim_file",
                        found=table.loc[table["stim_file"].duplicated(), "stim_file"].tolist())
    for stim_file in table["stim_file"]:
        path = source / stim_file
        if not path.is_file():
            raise DataError("An image named in stimuli.tsv does not exist", file=table_file,
                            field="stim_file", found=stim_file,
                            fix="Give paths relative to the folder holding stimuli.tsv")
        (folder / stim_file).parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(path, folder / stim_file)
    write_tsv(table, folder / "stimuli.tsv")
    write_json(_SIDECAR, folder / "stimuli.json")
    return table
