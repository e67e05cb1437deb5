"""HTML reports of the derivatives: one page per participant and one for the group.

The pages are single self-contained HTML files (figures embedded as base64 PNG, no scripts,
no network needed to view them), rendered from jinja2 templates shipped as package data:

- :func:`participant_report` reads a participant's derivative files and writes
  ``OUTPUT_DIR/sub-<label>.html``.
- :func:`group_report` reads ``OUTPUT_DIR/group/`` and the participants' similarity tables and
  writes ``OUTPUT_DIR/group.html``.
- :func:`make_participant_report` and :func:`make_group_report` build the same pages from
  results held in memory (tables, RDMs, figures) and return a :class:`Report`, shown inline in
  a notebook and written with ``save()``; the two functions above read the derivatives and
  call them.
- :func:`methods_text` writes the methods paragraphs (a boilerplate) from a configuration.

Figures are in :mod:`ieegrsa.report.figures`. Names load lazily so that importing
:mod:`ieegrsa.report` stays cheap.
"""

from __future__ import annotations

from .._lazy import lazy_exports

# public name -> submodule of ieegrsa.report
_LAZY = {
    "participant_report": "participant",
    "make_participant_report": "participant",
    "group_report": "group",
    "make_group_report": "group",
    "Report": "_common",
    "methods_text": "methods",
    "probe_report": "probe",
}

__all__ = sorted(_LAZY)

__getattr__, __dir__ = lazy_exports(__name__, _LAZY)
