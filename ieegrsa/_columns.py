"""Column descriptions shared by the tables of several stages (BIDS sidecar form).

Each stage describes its own table's columns next to the code that makes it; the few columns
that mean the same in the tables of two stages are described here once, below both.
"""

from __future__ import annotations

__all__ = ["WINDOW_COLUMNS"]

#: The time window of a neural RDM (the similarity table) and of every per-window group result.
WINDOW_COLUMNS = {
    "window_start": {"Description": "Start of the time window, from image onset.", "Units": "s"},
    "window_stop": {"Description": "End of the time window, from image onset.", "Units": "s"},
}
