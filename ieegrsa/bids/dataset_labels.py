"""The dataset's own anatomical labels: label columns of electrodes.tsv, in three dialects.

Labs write each contact's atlas label into extra ``electrodes.tsv`` columns, which mne-bids
drops. Three dialects are read:

- integer codes with a text twin and a code table in ``electrodes.json`` (ds004080:
  ``Destrieux_label`` = 21, ``Destrieux_label_text`` = ``G_oc-temp_lat-fusifor``, and
  ``{"Destrieux_label": {"Levels": {"21": "G_oc-temp_lat-fusifor", ...}}}``); the text twin is
  used where given, else the code through the code table; codes without either are not used
  (a warning says why: a code means nothing without its table);
- FreeSurfer lookup-table names (``destrieux``, ``desikan-killiany``, ``dkt`` columns holding
  ``ctx_lh_G_oc-temp_lat-fusifor``, ``ctx-lh-fusiform``, ``Left-Cerebral-White-Matter``);
- bare Destrieux (or Desikan-Killiany) names, the hemisphere then from the file's
  ``hemisphere`` column where there is one.

The FreeSurfer prefixes ``ctx_lh_`` / ``ctx-lh-`` / ``ctx_rh_`` / ``ctx-rh-`` / ``Left-`` /
``Right-`` become a hemisphere (L / R) and a region name (``G_oc-temp_lat-fusifor``,
``fusiform``, ``Cerebral-White-Matter``). ``Unknown`` (and ``ctx-lh-unknown``, code 0, n/a) is no
label. Where a contact has labels in several columns, the first usable one decides, in the
order: the configured ``anatomy.label_columns``, then Destrieux, DKT, Desikan-Killiany.
"""

from __future__ import annotations

import json
import logging
from pathlib import Path

import numpy as np
import pandas as pd

from ..errors import BIDSError

logger = logging.getLogger("ieegrsa")

__all__ = ["KNOWN_LABEL_COLUMNS", "LABEL_COLUMNS", "find_label_columns", "normalise_label",
           "dataset_labels"]

NA = "n/a"

#: Known label columns (compared case-insensitively) -> the parcellation they hold, in order of
#: precedence (Destrieux first: the finest of the three). ``destriuex`` is the spelling of MNE's
#: sample sEEG file; ``*_text`` are the text twins of code columns (ds004080).
KNOWN_LABEL_COLUMNS = {
    "destrieux": "destrieux", "destriuex": "destrieux", "destrieux_label": "destrieux",
    "aparc.a2009s": "destrieux", "a2009s": "destrieux",
    "dkt": "dkt", "dkt_label": "dkt", "dktatlas": "dkt", "dktatlas_label": "dkt",
    "aparc.dktatlas": "dkt",
    "desikan-killiany": "desikan_killiany", "desikan_killiany": "desikan_killiany",
    "desikan": "desikan_killiany", "dk": "desikan_killiany", "aparc": "desikan_killiany",
    "dk_label": "desikan_killiany", "desikan_killiany_label": "desikan_killiany",
}

#: The columns that :func:`dataset_labels` adds to the contacts (the public ones reach the
#: contact table, described in ``anatomy/table.py``; ``_dataset_region`` and
#: ``_dataset_hemisphere`` are the normalised name and hemisphere used to place the contact).
LABEL_COLUMNS = ("dataset_label", "dataset_label_column", "_dataset_region", "_dataset_hemisphere")

_PREFIXES = (("ctx_lh_", "L"), ("ctx-lh-", "L"), ("ctx_rh_", "R"), ("ctx-rh-", "R"),
             ("left-", "L"), ("right-", "R"))
_NO_LABEL = {"", "n/a", "na", "nan", "unknown", "none", "0"}
_HEMISPHERES = {"l": "L", "left": "L", "lh": "L", "r": "R", "right": "R", "rh": "R"}


def normalise_label(label) -> tuple[str | None, str | None]:
    """A label as (hemisphere, region): ``'ctx-lh-fusiform'`` -> ``('L', 'fusiform')``.

    ``Left-Cerebral-White-Matter`` -> ``('L', 'Cerebral-White-Matter')``; a bare name keeps
    hemisphere None; no label (``Unknown``, ``ctx-lh-unknown``, n/a, empty) -> ``(None, None)``.
    """
    if label is None or (isinstance(label, float) and not np.isfinite(label)):
        return None, None
    text = str(label).strip()
    hemisphere = None
    for prefix, side in _PREFIXES:
        if text.lower().startswith(prefix):
            hemisphere, text = side, text[len(prefix):]
            break
    if text.lower() in _NO_LABEL:
        return None, None
    return hemisphere, text


def _column_key(name: str) -> str:
    return str(name).strip().lower()


def find_label_columns(columns, label_columns=()) -> dict[str, str]:
    """The label columns among ``columns``: column -> parcellation, in order of precedence.

    The configured ``label_columns`` come first (parcellation ``custom`` unless the name is a
    known one), then the known ones (:data:`KNOWN_LABEL_COLUMNS`, case-insensitive). A code
    column's text twin (``<column>_text``) is not listed: it is read with its code column.
    """
    columns = [str(c) for c in columns]
    by_key = {_column_key(c): c for c in columns}
    found = {}
    for name in label_columns:
        column = by_key.get(_column_key(name))
        if column is not None:
            found[column] = KNOWN_LABEL_COLUMNS.get(_column_key(column), "custom")
    order = list(dict.fromkeys(KNOWN_LABEL_COLUMNS.values()))
    known = [c for c in columns if _column_key(c) in KNOWN_LABEL_COLUMNS and c not in found]
    known.sort(key=lambda c: order.index(KNOWN_LABEL_COLUMNS[_column_key(c)]))
    for column in known:
        found[column] = KNOWN_LABEL_COLUMNS[_column_key(column)]
    return found


def _code_tables(electrodes_file: Path) -> dict:
    """``{column (lower case): {code: name}}`` from the electrodes.json beside the file."""
    sidecar = electrodes_file.with_suffix(".json")
    if not sidecar.is_file():
        return {}
    try:
        info = json.loads(sidecar.read_text(encoding="utf-8-sig"))
    except (ValueError, UnicodeDecodeError) as err:
        raise BIDSError("electrodes.json is not valid JSON", file=sidecar, found=str(err),
                        fix="Repair the file") from None
    tables = {}
    for column, spec in (info.items() if isinstance(info, dict) else ()):
        levels = spec.get("Levels") if isinstance(spec, dict) else None
        if isinstance(levels, dict):
            tables[_column_key(column)] = {_code(k): str(v) for k, v in levels.items()}
    return tables


def _code(value) -> str:
    """A code as text: ``'21'``, ``'21.0'`` and ``21`` are all ``'21'``."""
    text = str(value).strip()
    try:
        number = float(text)
    except ValueError:
        return text
    return str(int(number)) if number.is_integer() else text


def _is_code_column(values: pd.Series) -> bool:
    given = values.dropna().astype(str).str.strip()
    given = given[~given.str.lower().isin(_NO_LABEL - {"0"})]
    return bool(len(given)) and bool(given.str.fullmatch(r"-?\d+(\.0+)?").all())


def _column_text(table, column, tables, electrodes_file) -> pd.Series | None:
    """The labels of one column as text (codes through the text twin or the code table)."""
    values = table[column]
    if not _is_code_column(values):
        return values
    twin = next((c for c in table.columns if _column_key(c) == _column_key(column) + "_text"),
                None)
    levels = tables.get(_column_key(column), {})
    codes = values.map(lambda v: _code(v) if isinstance(v, str) else None)
    from_table = codes.map(lambda c: levels.get(c) if c is not None else None)
    if twin is not None:
        text = table[twin].where(table[twin].notna(), from_table)
    elif levels:
        text = from_table
    else:
        logger.warning(
            "%s: column %r holds numeric codes without a text twin (%s_text) or a code table "
            "(Levels in electrodes.json); its labels are not used",
            electrodes_file.name, column, column)
        return None
    unknown = codes.notna() & text.isna() & ~codes.isin(["0"])
    if unknown.any():
        raise BIDSError(
            f"Label codes of column {column} are not in the code table",
            file=electrodes_file.with_suffix(".json"),
            field=f"{column}.Levels",
            found=", ".join(sorted(set(codes[unknown]))[:8]),
            fix="Give every code its name under Levels in electrodes.json, or add the text twin "
            f"column {column}_text",
        )
    return text


def dataset_labels(table: pd.DataFrame, electrodes_file, label_columns=()) -> pd.DataFrame | None:
    """Each contact's label from the dataset's own label columns, or None without any.

    Parameters
    ----------
    table : pandas.DataFrame
        The electrodes file as read (all columns as text).
    electrodes_file : path-like
        That file; its ``electrodes.json`` supplies code tables.
    label_columns : sequence of str
        Further label columns (``anatomy.label_columns``), before the known ones.

    Returns
    -------
    pandas.DataFrame | None
        Same index; the columns of :data:`LABEL_COLUMNS`: ``dataset_label`` (the label as the
        file gives it, codes as their names; n/a without one), ``dataset_label_column`` (the
        column it came from), ``_dataset_region`` (without the hemisphere prefix) and
        ``_dataset_hemisphere`` (L / R from the prefix, else from the file's ``hemisphere``
        column, else n/a). None when the file has no label column. ``attrs["label_columns"]``
        maps the columns read to their parcellation.
    """
    electrodes_file = Path(electrodes_file)
    found = find_label_columns(table.columns, label_columns)
    missing = [c for c in label_columns
               if _column_key(c) not in {_column_key(t) for t in table.columns}]
    if missing:
        raise BIDSError(
            "Label columns named in the configuration are not in the electrodes file",
            file=electrodes_file,
            field="anatomy.label_columns",
            found=", ".join(missing),
            fix=f"Name columns of the file ({', '.join(map(str, table.columns))})",
        )
    if not found:
        return None
    tables = _code_tables(electrodes_file)
    n = len(table)
    label = np.full(n, NA, dtype=object)
    source = np.full(n, NA, dtype=object)
    region = np.full(n, NA, dtype=object)
    hemisphere = np.full(n, NA, dtype=object)
    used = {}
    for column, scheme in found.items():
        text = _column_text(table, column, tables, electrodes_file)
        if text is None:
            continue
        used[column] = scheme
        for i, value in enumerate(text.to_numpy()):
            if source[i] != NA:
                continue
            side, name = normalise_label(value)
            if name is None:
                continue
            label[i], source[i], region[i] = str(value).strip(), column, name
            hemisphere[i] = side if side is not None else NA
    if not used:
        return None
    file_side = next((c for c in table.columns if _column_key(c) == "hemisphere"), None)
    if file_side is not None:
        sides = table[file_side].map(lambda v: _HEMISPHERES.get(str(v).strip().lower(), NA))
        hemisphere = np.where(hemisphere == NA, sides.to_numpy(object), hemisphere)
    out = pd.DataFrame({"dataset_label": label, "dataset_label_column": source,
                        "_dataset_region": region, "_dataset_hemisphere": hemisphere},
                       index=table.index)
    out.attrs["label_columns"] = used
    return out

