"""The registry of feature extractors: names → :class:`Extractor` factories, open to plugins.

Three sources of names, looked up in this order:

1. names registered in this process with :func:`register_extractor`, and the built-in networks
   (the ``EXTRACTORS`` of :mod:`~ieegrsa.models.architectures`, :mod:`~ieegrsa.models.fer` and
   :mod:`~ieegrsa.models.dlib_resnet`), which the registry loads on first lookup; a name the user
   registered first keeps the user's factory;
2. the entry-point group ``ieegrsa.extractors`` of installed packages: a lab's package adds a
   network without touching ieegrsa by declaring, in its ``pyproject.toml``::

       [project.entry-points."ieegrsa.extractors"]
       my_net = "my_lab.nets:MyNetExtractor"

   where the object is an :class:`Extractor` subclass or any callable ``factory(**options)``
   returning an :class:`Extractor`;
3. every torchvision classification model (``torchvision.models.list_models(module=
   torchvision.models)``), e.g. ``"resnet50"``, see :mod:`ieegrsa.models.backbones`.

Nothing here imports torch, torchvision or a plugin until a name is listed or resolved, so a
missing or broken plugin never breaks ``import ieegrsa``. The extractor interface itself
(:class:`Extractor`, :class:`InputSpec`, the weights helpers) lives in :mod:`ieegrsa.models.base`
and is re-exported here.
"""

from __future__ import annotations

import importlib
import importlib.metadata
import inspect
import logging
import warnings
from collections.abc import Callable

from .._check import did_you_mean, validate_type
from ..errors import DataError
from .base import (
    IMAGENET_MEAN,
    IMAGENET_STD,
    OBJECTIVES,
    Extractor,
    InputSpec,
    classify_weights,
    load_state_dict_file,
)

__all__ = [
    "ENTRY_POINT_GROUP",
    "get_extractor",
    "list_extractors",
    "register_extractor",
    # the interface, re-exported from .base for code written against the registry
    "IMAGENET_MEAN",
    "IMAGENET_STD",
    "OBJECTIVES",
    "Extractor",
    "InputSpec",
    "classify_weights",
    "load_state_dict_file",
]

logger = logging.getLogger("ieegrsa")

ENTRY_POINT_GROUP = "ieegrsa.extractors"

_REGISTRY: dict[str, Callable] = {}

_BUILTINS_LOADED = False
#: modules whose ``EXTRACTORS`` dict (name → Extractor class) the registry loads on first use;
#: loaded by name, and none of them imports the registry
_BUILTIN_MODULES = ("ieegrsa.models.architectures", "ieegrsa.models.fer",
                    "ieegrsa.models.dlib_resnet")


def register_extractor(name: str, factory: Callable, *, overwrite: bool = False) -> None:
    """Register an extractor under ``name``.

    Parameters
    ----------
    name : str
        Registry name (what :func:`get_extractor` and the config use).
    factory : callable
        An :class:`Extractor` subclass or any ``factory(**options) -> Extractor``.
    overwrite : bool
        Replace an existing registration of ``name`` (otherwise a DataError).
    """
    validate_type("name", name, str)
    validate_type("factory", factory, "callable", type_name="callable (an Extractor subclass)")
    if not name:
        raise DataError("extractor name must be a non-empty string", field="name", found=name)
    if name in _REGISTRY and not overwrite and not _same_factory(_REGISTRY[name], factory):
        raise DataError(f"extractor {name!r} is already registered", found=_REGISTRY[name],
                        fix="pass overwrite=True to replace it, or choose another name")
    _REGISTRY[name] = factory


def _same_factory(old, new) -> bool:
    # a module imported again (importlib.reload) registers an equal, new object
    return old is new or (getattr(old, "__module__", 1) == getattr(new, "__module__", 2)
                          and getattr(old, "__qualname__", 1) == getattr(new, "__qualname__", 2))


def _load_builtins() -> None:
    global _BUILTINS_LOADED
    if _BUILTINS_LOADED:
        return
    _BUILTINS_LOADED = True
    for module in _BUILTIN_MODULES:
        try:
            extractors = importlib.import_module(module).EXTRACTORS
        except ModuleNotFoundError as err:
            if err.name != module:
                warnings.warn(f"ieegrsa: cannot load built-in extractors from {module}: {err}",
                              RuntimeWarning, stacklevel=3)
            continue
        except Exception as err:  # never let one broken module hide the others
            warnings.warn(f"ieegrsa: cannot load built-in extractors from {module}: {err}",
                          RuntimeWarning, stacklevel=3)
            continue
        for name, factory in extractors.items():
            if name in _REGISTRY and not _same_factory(_REGISTRY[name], factory):
                logger.debug("extractor %r already registered; keeping that one", name)
            else:
                _REGISTRY[name] = factory


def _entry_points() -> dict:
    try:
        eps = importlib.metadata.entry_points(group=ENTRY_POINT_GROUP)
    except Exception as err:
        warnings.warn(f"ieegrsa: cannot read entry points {ENTRY_POINT_GROUP!r}: {err}",
                      RuntimeWarning, stacklevel=3)
        return {}
    return {ep.name: ep for ep in eps}


def _torchvision_names() -> list[str]:
    from .backbones import torchvision_names

    return torchvision_names()


def list_extractors() -> list[str]:
    """Every extractor name: registered (built-in architectures), entry points, torchvision."""
    _load_builtins()
    names = set(_REGISTRY) | set(_entry_points()) | set(_torchvision_names())
    return sorted(names)


def get_extractor(name, **options) -> Extractor:
    """The extractor registered under ``name``, built with ``options``.

    Parameters
    ----------
    name : str | Extractor
        Registry name (see :func:`list_extractors`); an :class:`Extractor` is returned as is.
    **options
        Architecture options passed to the factory (e.g. ``num_classes=7``).

    Raises
    ------
    DataError
        Unknown name (the message suggests close names and lists the valid ones), or a
        plugin that fails to load.
    """
    if isinstance(name, Extractor):
        if options:
            raise DataError("options cannot be given with an Extractor instance",
                            found=sorted(options))
        return name
    _load_builtins()
    factory = _REGISTRY.get(name)
    if factory is None:
        ep = _entry_points().get(name)
        if ep is not None:
            try:
                factory = ep.load()
            except Exception as err:
                raise DataError(f"the plugin extractor {name!r} fails to load",
                                field=ENTRY_POINT_GROUP, found=f"{ep.value}: {err}",
                                fix="fix or uninstall the package that declares it") from err
    if factory is None and name in _torchvision_names():
        from .backbones import TorchvisionExtractor

        factory = _torchvision_factory(name, TorchvisionExtractor)
    if factory is None:
        valid = list_extractors()
        raise DataError("unknown extractor", field="model", found=name,
                        fix=f"{did_you_mean(name, valid, n=3)}valid names: {', '.join(valid)}")
    try:
        extractor = factory(**_wrapped(factory, options))
    except TypeError as err:
        raise DataError(f"invalid options for extractor {name!r}", field="model",
                        found=options, fix=str(err)) from err
    if not isinstance(extractor, Extractor):
        raise DataError(f"the factory of {name!r} did not return an Extractor",
                        found=type(extractor).__name__)
    if not getattr(extractor, "name", ""):
        extractor.name = name
    return extractor


def _torchvision_factory(name, cls):
    def factory(**options):
        return cls(name, **options)
    return factory


def _wrapped(factory, options: dict) -> dict:
    """``options`` with each option of ``factory.wraps`` built into the extractor it names."""
    options = dict(options)
    for option in getattr(factory, "wraps", ()):
        inner = options.get(option)
        if inner is None:
            inner = inspect.signature(factory).parameters[option].default
        if isinstance(inner, str):
            inner_options = dict(options.get(f"{option}_options") or {})
            options[f"{option}_options"] = inner_options
            options[option] = get_extractor(inner, **inner_options)
    return options
