"""ieegrsa: representational similarity analysis of face-viewing intracranial EEG.

The public API is imported lazily so that ``ieegrsa --help`` starts fast::

    import ieegrsa
    rec = ieegrsa.load_recording(bids_root, subject="01", task="faces")
"""

from __future__ import annotations

import importlib

__version__ = "0.1.0.dev0"

# public name -> (module, attribute); modules load on first access
_LAZY = {
    "load_recording": ("ieegrsa.bids", "load_recording"),
    "Recording": ("ieegrsa.bids", "Recording"),
    "IeegrsaError": ("ieegrsa.errors", "IeegrsaError"),
    "load_config": ("ieegrsa.config", "load_config"),
    "Config": ("ieegrsa.config", "Config"),
    "localize": ("ieegrsa.anatomy", "localize"),
    "preprocess": ("ieegrsa.preprocessing", "preprocess"),
    "set_log_level": ("ieegrsa._logging", "set_log_level"),
}
_SUBMODULES = {
    "bids", "config", "errors", "simulate", "cli", "preprocessing", "anatomy", "rsa", "models",
    "stats", "report", "pipeline", "probing",
}

__all__ = sorted(list(_LAZY) + list(_SUBMODULES) + ["__version__"])


def __getattr__(name):
    if name in _LAZY:
        module, attr = _LAZY[name]
        return getattr(importlib.import_module(module), attr)
    if name in _SUBMODULES:
        return importlib.import_module(f"ieegrsa.{name}")
    raise AttributeError(f"module 'ieegrsa' has no attribute {name!r}")


def __dir__():
    return __all__
