"""Shared parameter descriptions, filled into docstrings (MNE's ``docdict``).

A docstring line ``%(verbose)s`` becomes the entry below, indented as the line is.
"""

from __future__ import annotations

__all__ = ["docdict", "fill_doc"]

docdict = {
    "verbose": """verbose : bool | str | int | None
    Level of the ``ieegrsa`` logger during the call: ``True`` = ``"INFO"``, ``False`` =
    ``"WARNING"``, a level name or number; ``None`` keeps the level set with
    :func:`ieegrsa.set_log_level`. Progress bars are shown at ``"INFO"`` and below; MNE's
    messages at ``"DEBUG"``.""",
    "seed": """seed : int | None
    Seed of the random number generator (permutations, bootstraps, initialisations).""",
    "n_jobs": """n_jobs : int | None
    Parallel jobs (joblib convention: -1 = all cores).""",
}


def fill_doc(function):
    """Replace ``%(name)s`` lines of ``function``'s docstring by :data:`docdict` entries."""
    doc = function.__doc__
    if not doc:
        return function
    lines = []
    for line in doc.splitlines():
        stripped = line.strip()
        if stripped.startswith("%(") and stripped.endswith(")s"):
            key = stripped[2:-2]
            indent = line[: len(line) - len(line.lstrip())]
            lines += [indent + part for part in docdict[key].splitlines()]
        else:
            lines.append(line)
    function.__doc__ = "\n".join(lines)
    return function
