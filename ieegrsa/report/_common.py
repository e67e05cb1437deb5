"""Shared pieces of the reports: reading derivatives, formatting tables, rendering templates."""

from __future__ import annotations

import json
import logging
import math
import os
from pathlib import Path

import numpy as np
import pandas as pd

logger = logging.getLogger("ieegrsa")

TEMPLATES = Path(__file__).resolve().parent / "templates"

#: Columns read as text (labels such as "01" must not become numbers).
_TEXT_COLUMNS = ("subject", "session", "name", "contact", "roi", "model", "instance", "layer",
                 "term", "family", "objective", "contrast", "exclusion_reason", "reason")

#: Rows shown at most in one HTML table (the rest are counted in a sentence).
MAX_ROWS = 400


# Reading the derivatives


def read_table(path) -> pd.DataFrame | None:
    """Read a BIDS TSV (``n/a`` = missing); ``None`` when the file is absent or unreadable."""
    path = Path(path)
    if not path.is_file():
        logger.info("report: %s is absent", path.name)
        return None
    try:
        return pd.read_csv(path, sep="\t", na_values=["n/a"], keep_default_na=False,
                           dtype={c: str for c in _TEXT_COLUMNS})
    except Exception as err:  # a broken table should not stop the whole page
        logger.warning("report: could not read %s (%s)", path, err)
        return None


def read_sidecar(path) -> dict:
    """The JSON sidecar of a ``.tsv``/``.npz``/``.png`` (same name, ``.json``), or ``{}``."""
    path = Path(path).with_suffix(".json")
    if not path.is_file():
        return {}
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as err:
        logger.warning("report: could not read %s (%s)", path, err)
        return {}
    return data if isinstance(data, dict) else {}


def provenance(paths) -> dict:
    """Configuration and software versions from the first sidecar of ``paths`` that has them.

    Returns
    -------
    info : dict
        ``config_yaml`` (str | None), ``config`` (:class:`ieegrsa.config.Config` | None),
        ``versions`` (dict), ``source`` (name of the file they came from).
    """
    import yaml

    info = {"config_yaml": None, "config": None, "versions": {}, "source": None}
    for path in paths:
        sidecar = read_sidecar(path)
        if not sidecar:
            continue
        if not info["versions"] and isinstance(sidecar.get("SoftwareVersions"), dict):
            info["versions"] = {str(k): str(v) for k, v in sidecar["SoftwareVersions"].items()}
        raw = sidecar.get("Config")
        if info["config_yaml"] is None and raw is not None:
            # a JSON object since issue 16; YAML text in output folders written before it
            if isinstance(raw, str):
                info["config_yaml"] = raw
                try:
                    data = yaml.safe_load(raw)
                except yaml.YAMLError:
                    data = None
            else:
                data = raw
                info["config_yaml"] = yaml.safe_dump(raw, sort_keys=False, allow_unicode=True)
            info["source"] = Path(path).name
            info["config"] = _load_config(data)
        if info["config_yaml"] is not None and info["versions"]:
            break
    return info


def _load_config(data):
    if not isinstance(data, dict):
        return None
    from ..config import load_config

    try:
        return load_config(data)
    except Exception as err:  # a config from another version: show the text, skip the methods
        logger.warning("report: the recorded configuration does not validate (%s)",
                       str(err).splitlines()[0])
        return None


def as_bool(series: pd.Series) -> pd.Series:
    """A True/False column read from TSV (bool, strings or missing) as booleans (missing False)."""
    if series.dtype == bool:
        return series
    text = series.astype(str).str.strip().str.lower()
    return text.isin(["true", "1", "yes", "1.0"])


def is_missing(value) -> bool:
    """True for None, NaN and empty text."""
    if value is None:
        return True
    if isinstance(value, float) and math.isnan(value):
        return True
    if isinstance(value, str) and value.strip() in ("", "n/a", "nan"):
        return True
    return False


# Formatting


def fmt(value, digits: int = 3) -> str:
    """A cell as text: ``n/a`` for missing, ~``digits`` significant digits for numbers."""
    if is_missing(value):
        return "n/a"
    if isinstance(value, (bool, np.bool_)):
        return "yes" if value else "no"
    if isinstance(value, (int, np.integer)):
        return str(int(value))
    if isinstance(value, (float, np.floating)):
        value = float(value)
        if math.isinf(value):
            return "inf" if value > 0 else "-inf"
        if value == int(value) and abs(value) < 1e6:
            return str(int(value))
        if abs(value) < 10 ** -digits or abs(value) >= 1e6:
            return f"{value:.{max(digits - 1, 1)}e}"
        return f"{value:.{digits}g}" if abs(value) >= 1 else f"{value:.{digits}f}"
    return str(value)


def table(frame: pd.DataFrame | None, columns=None, *, highlight=None, max_rows: int = MAX_ROWS,
          labels: dict | None = None) -> dict | None:
    """A DataFrame as a plain structure for the ``table`` macro (text cells, escaped later).

    Parameters
    ----------
    frame : pandas.DataFrame | None
    columns : list of str | None
        Columns to show, in order (those absent from ``frame`` are skipped).
    highlight : array-like of bool | None
        Rows to mark (class ``hl``).
    max_rows : int
        Rows shown at most; ``omitted`` counts the rest.
    labels : dict | None
        Header text per column.
    """
    if frame is None or len(frame) == 0:
        return None
    columns = [c for c in (columns or list(frame.columns)) if c in frame.columns]
    if highlight is None:
        highlight = np.zeros(len(frame), bool)
    highlight = np.asarray(highlight, bool)
    shown = frame.iloc[:max_rows]
    rows = []
    for k, (_, row) in enumerate(shown.iterrows()):
        rows.append({"cells": [fmt(row[c]) for c in columns], "hl": bool(highlight[k])})
    labels = labels or {}
    return {"columns": [labels.get(c, c) for c in columns], "rows": rows,
            "omitted": max(len(frame) - max_rows, 0)}


# Rendering


def environment():
    """The jinja2 environment of the report templates (autoescape on)."""
    import jinja2

    env = jinja2.Environment(
        loader=jinja2.FileSystemLoader(str(TEMPLATES)),
        autoescape=jinja2.select_autoescape(["html"], default=True),
        undefined=jinja2.StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
    )
    env.filters["fmt"] = fmt
    return env


def render(template: str, **context) -> str:
    """Render ``templates/<template>`` with ``context``."""
    return environment().get_template(template).render(**context)


def write_html(text: str, path) -> Path:
    """Write ``text`` to ``path`` atomically."""
    from .._files import atomic_path

    path = Path(path)
    with atomic_path(path) as tmp:
        tmp.write_text(text, encoding="utf-8")
        umask = os.umask(0)
        os.umask(umask)
        os.chmod(tmp, 0o666 & ~umask)  # a page to share, not a private temporary file
    return path


def png_data_uri(path) -> str | None:
    """``data:image/png;base64,...`` of a PNG file, or ``None`` when absent."""
    import base64

    path = Path(path)
    if not path.is_file():
        return None
    data = path.read_bytes()
    if not data.startswith(b"\x89PNG"):
        logger.warning("report: %s is not a PNG file", path)
        return None
    return "data:image/png;base64," + base64.b64encode(data).decode("ascii")


def versions_rows(versions: dict) -> list[tuple[str, str]]:
    """Software versions as sorted (package, version) rows, ieegrsa and python first."""
    first = [k for k in ("ieegrsa", "python") if k in versions]
    rest = sorted(k for k in versions if k not in first)
    return [(k, str(versions[k])) for k in first + rest]


def ieegrsa_version() -> str:
    from .. import __version__

    return __version__


class Report:
    """An HTML report held in memory, as nilearn's reports: shown inline in a notebook
    (``_repr_html_``) and written with :meth:`save`.

    Parameters
    ----------
    html : str
        The self-contained page.
    name : str
        The default file name (``sub-01.html``, ``group.html`` ...).
    """

    def __init__(self, html: str, name: str):
        self.html = html
        self.name = name

    def save(self, path) -> Path:
        """Write the page to ``path`` (a file, or a folder to put :attr:`name` in), atomically."""
        path = Path(path)
        if path.is_dir():
            path = path / self.name
        return write_html(self.html, path)

    def _repr_html_(self) -> str:
        return self.html

    def __repr__(self) -> str:
        return f"<Report {self.name!r}, {len(self.html) / 1024:.0f} kB>"


def image_uri(image) -> str | None:
    """A data URI of a PNG file path, PNG bytes or a matplotlib Figure; ``None`` for ``None``."""
    import base64

    if image is None:
        return None
    if hasattr(image, "savefig"):
        from .figures import figure_data_uri

        return figure_data_uri(image)
    if isinstance(image, (bytes, bytearray)):
        return "data:image/png;base64," + base64.b64encode(bytes(image)).decode("ascii")
    return png_data_uri(image)
