"""Checks shared by the readers of BIDS tables (electrodes, stimuli)."""

from __future__ import annotations

import pandas as pd

from ..errors import BIDSError


def check_unique(table: pd.DataFrame, column: str, file, what: str, *, item: str) -> None:
    """Raise unless every value of ``table[column]`` appears once.

    Parameters
    ----------
    table : pandas.DataFrame
        The table read.
    column : str
        The column whose values name the rows (e.g. ``name``, ``stim_file``).
    file : path-like
        The file the table was read from, for the message.
    what : str
        What the table is ("electrodes file", "stimulus table").
    item : str
        What one row describes ("contact", "image").

    Raises
    ------
    BIDSError
        Naming up to five of the values listed twice.
    """
    duplicated = table[column][table[column].duplicated()]
    if len(duplicated):
        raise BIDSError(
            f"The {what} lists {'an' if item[:1] in 'aeiou' else 'a'} {item} twice",
            file=file,
            field=column,
            found=", ".join(pd.unique(duplicated)[:5]),
            fix=f"Keep one row per {item}",
        )
