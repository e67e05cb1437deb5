"""The levels of the BIDS-App: they chain the stages and write the BIDS derivatives.

- :func:`run_participant` / :func:`run_participants` (:mod:`.participant`): per patient, load,
  preprocess, localise the contacts, build the neural and model RDMs, compare them, and write
  the derivatives and ``sub-<L>.html``; a provenance file written last marks it complete.
- :func:`run_group` (:mod:`.group`): the statistics across the complete participants, the
  ``group/`` tables and ``group.html``.
- :func:`write_probe` (:mod:`.probe`): the tables and report of a network probe.

The configuration is validated once here; each stage gets its own section. Where the files go
is :mod:`ieegrsa.bids.derivatives` (``participant_paths``, ``group_path``); what their columns
mean belongs to the stage that makes each table.
"""

from __future__ import annotations

from .._lazy import lazy_exports

# public name -> submodule of ieegrsa.pipeline
_LAZY = {
    "load_participant": "participant",
    "run_participant": "participant",
    "run_participants": "participant",
    "read_similarity_tables": "group",
    "run_group": "group",
    "write_probe": "probe",
    # where the files go lives with the derivatives writer; kept here for scripts that used it
    "participant_paths": "participant",
    "group_paths": "group",
    "config_hash": "participant",
}

#: Table descriptions that lived here before each stage owned its own (kept importable)
_MOVED = {"CONTACT_COLUMNS": "ieegrsa.anatomy.table",
          "SIMILARITY_COLUMNS": "ieegrsa.rsa.similarity"}

__all__ = sorted(_LAZY)

_getattr, __dir__ = lazy_exports(__name__, _LAZY)


def __getattr__(name):
    if name in _MOVED:
        import importlib

        return getattr(importlib.import_module(_MOVED[name]), name)
    return _getattr(name)
