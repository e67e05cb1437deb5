"""Which contacts are analysed, and how they are re-referenced.

Every re-reference scheme is a linear map of the contacts: a matrix ``W`` (output channels x
input contacts) applied to the data, ``W @ data``. Building ``W`` from the contact table keeps the
rules (which contacts are neighbours, which groups are averaged) apart from the signal, so that
they can be checked on a hand-made table and applied to hundreds of seconds of data in one
matrix product.

Shafts and strips
-----------------
A contact's *group* (its sEEG shaft or ECoG strip) is the ``group`` column of the contact table
where given, else the name without its trailing number (``LA1`` -> ``LA``, ``L'12`` -> ``L'``,
``G01`` -> ``G``). Its *number* is that trailing number. Two contacts are *neighbours* when they
are in the same group, their numbers are consecutive, and they are at most ``max_distance`` mm
apart (pairs with an unknown position are kept: the distance cannot be checked). A dropped
contact therefore breaks a shaft in two: its neighbours are not paired across the gap.
"""

from __future__ import annotations

import logging
import re

import numpy as np
import pandas as pd

from .._check import check_option, did_you_mean
from ..errors import BIDSError, ConfigError

logger = logging.getLogger("ieegrsa")

__all__ = ["contact_groups", "clinical_marks", "select_contacts", "reference_matrix",
           "rereference", "REFERENCES"]

REFERENCES = ("bipolar", "laplacian", "car", "none")

_TRAILING_NUMBER = re.compile(r"^(.*?)(\d+)$")

#: The values of an electrodes.tsv clinical column (soz, resected ...; lower case) that mark a
#: contact, that clear it, and that leave it unknown (kept).
MARKED = ("yes", "y", "true", "1")
CLEARED = ("no", "n", "false", "0")
UNKNOWN = ("", "n/a", "nan")


def contact_groups(contacts: pd.DataFrame) -> pd.DataFrame:
    """Each contact's group (shaft or strip) and number along it.

    Parameters
    ----------
    contacts : pandas.DataFrame
        At least ``name``; ``group`` is used where present and not empty.

    Returns
    -------
    pandas.DataFrame
        ``group`` (str) and ``number`` (float; NaN for a name without a trailing number), in the
        order and with the index of ``contacts``.
    """
    groups, numbers = [], []
    given = contacts["group"] if "group" in contacts.columns else pd.Series(
        np.nan, index=contacts.index)
    for name, group in zip(contacts["name"].astype(str), given):
        match = _TRAILING_NUMBER.match(name.strip())
        prefix, number = (match.group(1), float(match.group(2))) if match else (name, np.nan)
        if isinstance(group, str) and group.strip() and group.strip().lower() != "n/a":
            prefix = group.strip()
        elif group is not None and not isinstance(group, str) and not pd.isna(group):
            prefix = str(group)
        groups.append(prefix.strip() or name)
        numbers.append(number)
    return pd.DataFrame({"group": groups, "number": numbers}, index=contacts.index)


def clinical_marks(contacts: pd.DataFrame, columns=()) -> pd.DataFrame:
    """Which contacts the clinical columns of electrodes.tsv mark (soz, resected ...).

    Parameters
    ----------
    contacts : pandas.DataFrame
        The recording's contact table; its further columns are those of electrodes.tsv (text,
        NaN for ``n/a``), and ``attrs["electrodes_file"]`` names the file (for the error).
    columns : sequence of str
        The columns to read (``preprocessing.exclude_columns``), matched to the table's columns
        case-insensitively. A column the table lacks is skipped (logged at INFO).

    Returns
    -------
    pandas.DataFrame
        One bool column per column found (named as configured, lower case), with the index of
        ``contacts``: True where the value is yes, y, true or 1 (any case); False where it is no,
        n, false or 0, empty or ``n/a`` (unknown: not excluded).

    Raises
    ------
    BIDSError
        For the first column holding any other value (e.g. ``maybe``), naming the file, the
        column, the values and the contacts that hold them.
    """
    by_lower = {}
    for column in contacts.columns:
        by_lower.setdefault(str(column).strip().lower(), column)
    marks = pd.DataFrame(index=contacts.index)
    absent = []
    for wanted in dict.fromkeys(str(c).strip().lower() for c in columns):
        if wanted not in by_lower:
            absent.append(wanted)
            continue
        column = by_lower[wanted]
        values = contacts[column].map(
            lambda v: "" if v is None or (isinstance(v, float) and np.isnan(v))
            else str(v).strip().lower())
        values = values.map(lambda v: _as_flag(v) or v)
        wrong = ~values.isin(MARKED + CLEARED + UNKNOWN)
        if wrong.any():
            found = [f"{contacts.loc[i, column]!r} ({contacts.loc[i, 'name']})"
                     for i in contacts.index[wrong]]
            raise BIDSError(
                f"The {column} column of the electrodes file holds values that are not yes or "
                "no, so it cannot say which contacts to exclude",
                file=contacts.attrs.get("electrodes_file"), field=column,
                found=", ".join(found[:6]) + (f" and {len(found) - 6} more"
                                              if len(found) > 6 else ""),
                fix=f"Write yes or no in every row of {column} (also true/false, 1/0, y/n; n/a "
                "where unknown), or take it out of preprocessing.exclude_columns",
            )
        marks[wanted] = values.isin(MARKED).to_numpy(bool)
    if absent:
        logger.info("electrodes.tsv has no %s column: preprocessing.exclude_columns %s not "
                    "used", " or ".join(absent), ", ".join(absent))
    return marks


def _as_flag(value: str) -> str | None:
    """``'1.0'`` -> ``'1'``, ``'0.0'`` -> ``'0'`` (a column written by a numeric tool)."""
    try:
        number = float(value)
    except ValueError:
        return None
    return {1.0: "1", 0.0: "0"}.get(number)


def select_contacts(contacts: pd.DataFrame, *, channel_types=("seeg", "ecog"), drop_bad=True,
                    exclude_status=(), exclude_channels=(), exclude_columns=()):
    """Choose the contacts to analyse.

    Parameters
    ----------
    contacts : pandas.DataFrame
        The recording's contact table (``name``, ``type``, ``status``, ``status_description``,
        and the further columns of electrodes.tsv). It is not modified.
    channel_types : sequence of str
        Channel types kept.
    drop_bad : bool
        Drop contacts whose ``status`` is ``bad``.
    exclude_status : sequence of str
        Drop contacts whose ``status_description`` contains any of these words
        (case-insensitive).
    exclude_channels : sequence of str
        Names of contacts to drop.
    exclude_columns : sequence of str
        Clinical columns of electrodes.tsv (``soz``, ``resected`` ...): drop the contacts any of
        them marks yes (:func:`clinical_marks`).

    Returns
    -------
    kept : pandas.DataFrame
        The kept rows of ``contacts``, in recording order (index reset).
    reasons : dict
        ``{name: reason}`` for every dropped contact: the first that applies, in the order of
        the parameters. A clinical mark reads ``clinical: soz, resected (electrodes.tsv;
        preprocessing.exclude_columns)``, naming every column that marks the contact.

    Raises
    ------
    BIDSError
        A clinical column with values that are not yes or no.
    """
    reasons = {}
    description = (contacts["status_description"] if "status_description" in contacts.columns
                   else pd.Series(np.nan, index=contacts.index))
    status = contacts["status"] if "status" in contacts.columns else pd.Series(
        "good", index=contacts.index)
    words = [w.lower() for w in exclude_status if w.strip()]
    marks = clinical_marks(contacts, exclude_columns)
    clinical = [", ".join(c for c in marks.columns if row[c]) for _, row in marks.iterrows()] \
        if len(marks.columns) else [""] * len(contacts)
    listed = set(exclude_channels)
    missing = sorted(listed - set(contacts["name"]))
    if missing:
        logger.warning("preprocessing.exclude_channels names contacts this recording lacks: %s",
                       ", ".join(missing))
    for name, kind, state, text, marked in zip(contacts["name"], contacts["type"], status,
                                               description, clinical):
        text = text if isinstance(text, str) and text.strip().lower() != "n/a" else ""
        if kind not in channel_types:
            reasons[name] = f"channel type {kind} not analysed (preprocessing.channel_types)"
        elif drop_bad and str(state).lower() == "bad":
            reasons[name] = "bad in channels.tsv" + (f" ({text})" if text else "")
        elif words and any(w in text.lower() for w in words):
            word = next(w for w in words if w in text.lower())
            reasons[name] = (f"status_description {text!r} matches {word!r} "
                             "(preprocessing.exclude_status)")
        elif name in listed:
            reasons[name] = "listed in preprocessing.exclude_channels"
        elif marked:
            reasons[name] = (f"clinical: {marked} (electrodes.tsv; "
                             "preprocessing.exclude_columns)")
    kept = contacts[~contacts["name"].isin(list(reasons))].reset_index(drop=True)
    return kept, reasons


def _positions(contacts):
    columns = [c for c in ("x", "y", "z") if c in contacts.columns]
    if len(columns) < 3:
        return np.full((len(contacts), 3), np.nan)
    return contacts[["x", "y", "z"]].to_numpy(dtype=float)


def _neighbours(contacts, max_distance):
    """(i, j) index pairs of neighbouring contacts (number j = number i + 1)."""
    groups = contact_groups(contacts).reset_index(drop=True)
    xyz = _positions(contacts)
    lookup = {(g, n): i for i, (g, n) in enumerate(zip(groups["group"], groups["number"]))
              if not np.isnan(n)}
    pairs, skipped = [], []
    for (group, number), i in lookup.items():
        j = lookup.get((group, number + 1))
        if j is None:
            continue
        distance = float(np.linalg.norm(xyz[i] - xyz[j]))
        if distance > max_distance:  # False for NaN: unknown positions keep the pair
            skipped.append((i, j, distance))
        else:
            pairs.append((i, j))
    return sorted(pairs), skipped, groups


def reference_matrix(contacts: pd.DataFrame, scheme: str = "bipolar", *, max_distance=15.0,
                     laplacian_ends="drop", car_scope="group"):
    """The re-referencing of ``contacts`` as a matrix.

    Parameters
    ----------
    contacts : pandas.DataFrame
        The contacts to re-reference, in data order: ``name``, ``x``, ``y``, ``z`` (mm) and
        optionally ``group`` and ``type``.
    scheme : {"bipolar", "laplacian", "car", "none"}
        ``car``: each contact minus the mean of its group (or of all contacts, ``car_scope``);
        a contact alone in its group is dropped. ``bipolar``: for each pair of neighbours
        (numbers n and n+1) a channel ``<n>-<n+1>`` = contact n minus contact n+1, placed at
        their midpoint; contacts in no pair are dropped. ``laplacian``: each contact minus the
        mean of its neighbours (n-1 and n+1); a contact with one neighbour (a shaft's end, or
        next to a dropped contact) is dropped (``laplacian_ends="drop"``) or that contact minus
        the neighbour (``"one_neighbour"``); a contact without neighbours is dropped. ``none``:
        the identity.
    max_distance : float
        Largest distance (mm) between neighbours.
    laplacian_ends : {"drop", "one_neighbour"}
    car_scope : {"group", "all"}

    Returns
    -------
    W : numpy.ndarray
        ``(n_channels, n_contacts)``; the re-referenced data are ``W @ data``.
    channels : pandas.DataFrame
        One row per output channel: ``name``, ``x``, ``y``, ``z`` (mm; the midpoint for a
        bipolar channel), ``type``, ``group``, ``contact_a`` (the contact itself, or the first of
        a bipolar pair), ``contact_b`` (the second of a bipolar pair, else None).
    dropped : dict
        ``{contact name: reason}`` for contacts that feed no output channel.
    """
    check_option("scheme", scheme, REFERENCES, what="re-reference scheme", error=ConfigError,
                 fix=did_you_mean(scheme, REFERENCES) + f"Use one of: {', '.join(REFERENCES)}")
    contacts = contacts.reset_index(drop=True)
    n = len(contacts)
    names = list(contacts["name"])
    xyz = _positions(contacts)
    types = list(contacts["type"]) if "type" in contacts.columns else ["seeg"] * n
    pairs, skipped, groups = _neighbours(contacts, max_distance)
    group = list(groups["group"])
    for i, j, distance in skipped:
        logger.info("Contacts %s and %s are %.1f mm apart (> %g mm): not paired as neighbours",
                    names[i], names[j], distance, max_distance)
    rows, channels, dropped = [], [], {}

    def add(weights, name, position, i, j=None):
        rows.append(weights)
        channels.append({"name": name, "x": position[0], "y": position[1], "z": position[2],
                         "type": types[i], "group": group[i], "contact_a": names[i],
                         "contact_b": None if j is None else names[j]})

    if scheme == "none":
        for i in range(n):
            add(np.eye(n)[i], names[i], xyz[i], i)
    elif scheme == "car":
        scopes = np.array(group) if car_scope == "group" else np.zeros(n, dtype=int)
        for i in range(n):
            members = np.flatnonzero(scopes == scopes[i])
            if len(members) < 2:
                dropped[names[i]] = ("alone in its group: its common average is itself "
                                     "(preprocessing.reference: car)")
                continue
            weights = np.zeros(n)
            weights[members] = -1.0 / len(members)
            weights[i] += 1.0
            add(weights, names[i], xyz[i], i)
    elif scheme == "bipolar":
        used = set()
        for i, j in pairs:
            weights = np.zeros(n)
            weights[i], weights[j] = 1.0, -1.0
            add(weights, f"{names[i]}-{names[j]}", (xyz[i] + xyz[j]) / 2, i, j)
            used.update((i, j))
        for i in range(n):
            if i not in used:
                dropped[names[i]] = _why_alone(i, names, skipped, max_distance, "bipolar")
    else:  # laplacian
        around = {i: [] for i in range(n)}
        for i, j in pairs:
            around[i].append(j)
            around[j].append(i)
        for i in range(n):
            nb = around[i]
            if not nb or (len(nb) == 1 and laplacian_ends == "drop"):
                dropped[names[i]] = (_why_alone(i, names, skipped, max_distance, "laplacian")
                                     if not nb else "end of a shaft or strip (one neighbour; "
                                     "preprocessing.laplacian_ends: drop)")
                continue
            weights = np.zeros(n)
            weights[nb] = -1.0 / len(nb)
            weights[i] = 1.0
            add(weights, names[i], xyz[i], i)
    columns = ["name", "x", "y", "z", "type", "group", "contact_a", "contact_b"]
    W = np.array(rows, dtype=float).reshape(len(rows), n)
    return W, pd.DataFrame(channels, columns=columns), dropped


def _why_alone(i, names, skipped, max_distance, scheme):
    far = [names[b if a == i else a] for a, b, _ in skipped if i in (a, b)]
    if far:
        return (f"no neighbour within {max_distance:g} mm (next contact {far[0]} is farther; "
                f"preprocessing.reference: {scheme})")
    return (f"no neighbouring contact (consecutive number on the same shaft/strip; "
            f"preprocessing.reference: {scheme})")


def rereference(data, contacts: pd.DataFrame, scheme: str = "bipolar", **kwargs):
    """Re-reference ``data`` (contacts x times) by :func:`reference_matrix`.

    Returns
    -------
    data : numpy.ndarray
        ``(n_channels, n_times)``.
    channels : pandas.DataFrame
    dropped : dict
    """
    W, channels, dropped = reference_matrix(contacts, scheme, **kwargs)
    data = np.asarray(data)
    if scheme == "none":
        return data.copy(), channels, dropped
    return W @ data, channels, dropped
