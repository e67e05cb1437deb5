"""The stimulus table: which image each trial showed, and its identity and expression.

Identity and expression come from the events file's columns, or, where the events lack them, from
``stimuli/stimuli.tsv`` keyed by ``stim_file``. Where both give a value they must agree.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from ..errors import BIDSError
from ._tables import check_unique

__all__ = ["read_tsv", "build_stimuli", "FACE_GEOMETRY", "STIMULUS_COLUMNS"]

STIMULUS_COLUMNS = ("stim_file", "identity", "expression", "category")
#: Optional stimuli.tsv columns placing each face (pixels of the image; n/a to detect it): the
#: box (right and bottom exclusive) and dlib's 5 landmarks (``ieegrsa.models.crops``).
FACE_GEOMETRY = ("box_x0", "box_y0", "box_x1", "box_y1",
                 *(f"{name}_{axis}" for name in ("right_eye_outer", "right_eye_inner",
                                                 "left_eye_outer", "left_eye_inner", "nose")
                   for axis in "xy"))


def read_tsv(path, *, what="table") -> pd.DataFrame:
    """Read a BIDS TSV with ``n/a`` as missing, every column as text.

    Text keeps labels such as ``01`` intact; numeric columns are converted by the caller.
    """
    path = Path(path)
    try:
        # utf-8-sig: several real datasets (py_neuromodulation) start their TSVs with a BOM
        return pd.read_csv(
            path, sep="\t", dtype=str, na_values=["n/a", "N/A", ""], keep_default_na=False,
            encoding="utf-8-sig",
        )
    except (OSError, UnicodeDecodeError, pd.errors.ParserError, pd.errors.EmptyDataError) as err:
        raise BIDSError(
            f"The {what} cannot be read as a tab-separated table",
            file=path,
            found=str(err).strip().splitlines()[-1] if str(err).strip() else type(err).__name__,
            fix="Check it is a UTF-8 TSV with one header line (bids-validator shows the problem)",
        ) from None


def _refuse_files(events, files, what, fix):
    """One error for the stimulus files ``files``, naming the events file of the first."""
    rows = events.loc[events["stim_file"].isin(files[:1])]
    raise BIDSError(
        f"{len(files)} stimulus file(s) named in the events {what}",
        file=rows["events_file"].iloc[0],
        field="stim_file",
        found=", ".join(map(str, files[:5])) + (" ..." if len(files) > 5 else ""),
        fix=fix,
    )


def build_stimuli(
    events: pd.DataFrame,
    events_files,
    bids_root: Path,
    *,
    stim_file_column="stim_file",
    identity_column="identity",
    expression_column="expression",
    stimuli_table="stimuli/stimuli.tsv",
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Check the events' stimuli and build the stimulus table.

    Parameters
    ----------
    events : pandas.DataFrame
        Concatenated events of all runs, with an ``events_file`` column naming each row's file.
    events_files : list of path-like
        The events files (for messages).
    bids_root : pathlib.Path
        The dataset root; images live under ``stimuli/``.
    stim_file_column, identity_column, expression_column : str
        Names of those columns in events.tsv and stimuli.tsv.
    stimuli_table : str
        Path of the stimulus table relative to ``bids_root``; used when present.

    Returns
    -------
    events : pandas.DataFrame
        The events with canonical ``stim_file``, ``identity``, ``expression`` and ``category``
        columns filled in from the stimulus table.
    stimuli : pandas.DataFrame
        One row per image shown, in the stimulus table's order where there is one, else in the
        order of first presentation (never sorted). Columns ``stim_file``, ``identity``,
        ``expression``, ``category`` (``face`` or ``nonface``), ``n_presentations``.
    """
    first_file = Path(events_files[0])
    if stim_file_column not in events.columns:
        raise BIDSError(
            "The events have no stimulus-file column",
            file=first_file,
            field=stim_file_column,
            found=f"columns {list(events.columns)}",
            fix=f"Add a '{stim_file_column}' column naming each trial's image relative to "
            "the dataset's stimuli/ folder (see bids_templates/events.json), or set "
            "bids.stim_file_column to the column that holds it",
        )
    events = events.rename(
        columns={
            stim_file_column: "stim_file",
            identity_column: "identity",
            expression_column: "expression",
        }
    )
    shown = events["stim_file"].notna()
    if not shown.any():
        raise BIDSError(
            "No event names a stimulus file",
            file=first_file,
            field="stim_file",
            found="only n/a",
            fix="Fill stim_file for every stimulus trial",
        )

    stimuli_dir = bids_root / "stimuli"
    shown_files = pd.unique(events.loc[shown, "stim_file"])
    # BIDS: stim_file is relative to stimuli/; a path leaving it (``..``, absolute, a link out)
    # would let an events file feed any file of the machine to the networks
    inside = stimuli_dir.resolve()
    outside = [f for f in shown_files
               if not (stimuli_dir / str(f)).resolve().is_relative_to(inside)]
    if outside:
        _refuse_files(events, outside, "lie outside stimuli/",
                      f"Put the images in {stimuli_dir} and name them relative to that folder "
                      "(BIDS stim_file), without '..' or an absolute path")
    missing = [f for f in shown_files if not (stimuli_dir / f).is_file()]
    if missing:
        _refuse_files(events, missing, "do not exist under stimuli/",
                      f"Put the images in {stimuli_dir} (stim_file is relative to that folder, "
                      "as BIDS specifies) or correct the names")

    table_path = bids_root / stimuli_table
    table = None
    if table_path.is_file():
        table = read_tsv(table_path, what="stimulus table")
        table = table.rename(
            columns={
                stim_file_column: "stim_file",
                identity_column: "identity",
                expression_column: "expression",
            }
        )
        if "stim_file" not in table.columns:
            raise BIDSError(
                "The stimulus table has no stim_file column",
                file=table_path,
                field=stim_file_column,
                found=f"columns {list(table.columns)}",
                fix="Add stim_file (see bids_templates/stimuli.tsv)",
            )
        check_unique(table, "stim_file", table_path, "stimulus table", item="image")

    for column in ("identity", "expression", "category"):
        events[column] = _merge_column(events, table, column, table_path)

    per_image = events.loc[shown].groupby("stim_file", sort=False)
    for column in ("identity", "expression"):
        n_values = per_image[column].nunique()
        bad = n_values[n_values > 1]
        if len(bad):
            image = bad.index[0]
            values = sorted(events.loc[events["stim_file"] == image, column].dropna().unique())
            raise BIDSError(
                f"One image has several {column} labels across trials",
                file=first_file,
                field=column,
                found=f"{image}: {values}",
                fix=f"Give every trial of an image the same {column}",
            )

    if table is not None:
        order = [f for f in table["stim_file"] if f in set(shown_files)]
        order += [f for f in shown_files if f not in set(order)]
    else:
        order = list(shown_files)
    first = per_image.first()
    stimuli = pd.DataFrame({"stim_file": order})
    for column in ("identity", "expression", "category"):
        stimuli[column] = first[column].reindex(order).to_numpy()
    stimuli["n_presentations"] = per_image.size().reindex(order).to_numpy()
    if table is not None:
        for column, values in _face_geometry(table, order, table_path).items():
            stimuli[column] = values

    # An image without a category is a face when it has an identity (the common case of a
    # face-only experiment); otherwise it is a non-face image.
    unlabelled = stimuli["category"].isna()
    stimuli.loc[unlabelled, "category"] = np.where(
        stimuli.loc[unlabelled, "identity"].notna(), "face", "nonface"
    )
    events.loc[shown, "category"] = (
        events.loc[shown, "stim_file"].map(stimuli.set_index("stim_file")["category"])
    )
    return events, stimuli


def _face_geometry(table, order, table_path) -> dict:
    """The :data:`FACE_GEOMETRY` columns the stimulus table has, as numbers in ``order``."""
    out = {}
    indexed = table.set_index("stim_file")
    for column in (c for c in FACE_GEOMETRY if c in table.columns):
        text = indexed[column].reindex(order)
        values = pd.to_numeric(text, errors="coerce")
        bad = text.notna() & values.isna()
        if bad.any():
            image = bad.idxmax()
            raise BIDSError("A face position in the stimulus table is not a number",
                            file=table_path, field=column, found=f"{image}: {text[image]!r}",
                            fix="Give pixel coordinates as numbers, or n/a to detect the face")
        out[column] = values.to_numpy(float)
    return out


def _merge_column(events, table, column, table_path):
    """Fill an events column from the stimulus table where the events lack it; check agreement."""
    from_events = events[column] if column in events.columns else pd.Series(
        np.nan, index=events.index, dtype=object
    )
    if table is None or column not in table.columns:
        return from_events
    from_table = events["stim_file"].map(table.set_index("stim_file")[column])
    both = from_events.notna() & from_table.notna()
    disagree = both & (from_events.astype(str) != from_table.astype(str))
    if disagree.any():
        i = disagree.idxmax()
        raise BIDSError(
            f"The events and the stimulus table disagree on {column}",
            file=events.loc[i, "events_file"],
            field=column,
            found=f"{events.loc[i, 'stim_file']}: events say {from_events[i]!r}, "
            f"{table_path.name} says {from_table[i]!r}",
            fix="Correct one of the two files so they agree",
        )
    return from_events.where(from_events.notna(), from_table)
