"""The whole ieegrsa configuration as one validated schema.

Every setting has a default, so an empty configuration runs the whole analysis. A YAML file
overrides any subset of the settings; unknown keys are errors (a misspelt key silently falling
back to its default would be worse than no configuration at all). The resolved configuration is
written beside the outputs, so that every result can be reproduced from it.

Adding a section is one class and one field: subclass :class:`_Section`, give every field a
default and a ``description``, and add it as a field of :class:`Config`. Loading, error messages
and the commented template (:func:`config_template_yaml`) follow from the schema; the machinery
that walks it is in :mod:`ieegrsa.config._io`.

One module per section, in the order of the analysis: :mod:`~ieegrsa.config.bids`,
:mod:`~ieegrsa.config.preprocessing`, :mod:`~ieegrsa.config.anatomy`, :mod:`~ieegrsa.config.rsa`,
:mod:`~ieegrsa.config.models`, :mod:`~ieegrsa.config.stats`; what they share (the base class,
field types) is in :mod:`ieegrsa.config._base`. The sections live here, not in the stage
packages, so that ``import ieegrsa.config`` imports no stage.

Run ``python -m ieegrsa.config > config.yaml`` to write the commented template with every
setting at its default.

Examples
--------
>>> from ieegrsa.config import load_config
>>> config = load_config({"bids": {"task": "emotion"}})
>>> config.bids.task, config.n_jobs
('emotion', 1)
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path

import yaml
from pydantic import Field, StrictInt, ValidationError

from .._files import write_text
from ..errors import ConfigError
from ._base import NJobs, _Section
from ._io import comment_lines, config_error, deep_merge, read_yaml_mapping, template_lines
from .anatomy import (
    AnatomyConfig,
    AtlasFileConfig,
    LocalizerConfig,
    ROIDefinitionConfig,
    WarpConfig,
)
from .bids import SUPPORTED_SPACES, BIDSConfig
from .models import ModelsConfig, NetworkConfig
from .preprocessing import PreprocessingConfig
from .rsa import DEFAULT_NEURAL_METRIC, NeuralMetric, RSAConfig
from .stats import StatsConfig
from .training import TrainingConfig

__all__ = [
    "Config",
    "BIDSConfig",
    "PreprocessingConfig",
    "AnatomyConfig",
    "LocalizerConfig",
    "WarpConfig",
    "ROIDefinitionConfig",
    "AtlasFileConfig",
    "RSAConfig",
    "NeuralMetric",
    "DEFAULT_NEURAL_METRIC",
    "ModelsConfig",
    "NetworkConfig",
    "StatsConfig",
    "TrainingConfig",
    "SUPPORTED_SPACES",
    "load_config",
    "config_section",
    "config_value",
    "config_to_yaml",
    "write_config",
    "config_template_yaml",
]


class Config(_Section):
    """The whole ieegrsa configuration.

    Every field has a default; a YAML file overrides any subset of them (see
    :func:`load_config`).
    """

    # StrictInt: YAML reads `random_seed: yes` as True, which lax validation would turn into 1.
    random_seed: StrictInt = Field(
        0,
        ge=0,
        le=2**32 - 1,
        description="Seed of all randomness (permutations, bootstraps, simulated data, network "
        "initialisation): the same configuration gives the same numbers. 0 to 4294967295.",
    )
    n_jobs: NJobs = Field(
        1,
        description="Participants processed in parallel: 1 = one at a time, -1 = all cores, "
        "-2 = all cores but one (as in joblib).",
    )
    bids: BIDSConfig = Field(
        default_factory=BIDSConfig,
        description="The input BIDS dataset.",
    )
    preprocessing: PreprocessingConfig = Field(
        default_factory=PreprocessingConfig,
        description="From the raw signal to epochs: channels, reference, notch, signal, epochs, "
        "trial rejection.",
    )
    anatomy: AnatomyConfig = Field(
        default_factory=AnatomyConfig,
        description="Atlas labels, face ROIs and the face-selectivity localizer.",
    )
    models: ModelsConfig = Field(
        default_factory=ModelsConfig,
        description="Model RDMs: network layers from the stimulus images, and categorical "
        "models from the stimulus table.",
    )
    rsa: RSAConfig = Field(
        default_factory=RSAConfig,
        description="Neural RDMs over sliding windows, comparisons with model RDMs, noise "
        "ceilings and permutation tests.",
    )
    stats: StatsConfig = Field(
        default_factory=StatsConfig,
        description="Group statistics across patients: mixed models, model comparisons, "
        "cluster tests over time and onset latencies.",
    )
    training: TrainingConfig = Field(
        default_factory=TrainingConfig,
        description="ieegrsa train: identity- and expression-trained networks from a lab's "
        "face images.",
    )


# ---------------------------------------------------------------------------------------------
# Loading and writing


def load_config(source=None, *, overrides=None) -> Config:
    """Build and validate the configuration.

    Parameters
    ----------
    source : None | dict | Config | str | path-like
        ``None`` for the defaults; a (nested) mapping or a :class:`Config`; or the path of a YAML
        file. A mapping or a file may hold any subset of the settings; the rest keep their
        defaults.
    overrides : Mapping | None
        A nested mapping applied on top of ``source`` (e.g. command-line options such as
        ``{"n_jobs": 4}``); validated together with it.

    Returns
    -------
    config : Config

    Raises
    ------
    ConfigError
        For a missing or unreadable file, invalid YAML, a top level that is not a mapping, an
        unknown key or an invalid value. One message names the file, the dotted key, what was
        found and what to do, and lists every problem if there are several.
    """
    file = None
    lines = {}
    if source is None:
        data = {}
    elif isinstance(source, Config):
        if overrides is None:
            return source.model_copy(deep=True)
        data = source.model_dump()
    elif isinstance(source, Mapping):
        data = source
    elif isinstance(source, (str, os.PathLike)):
        file = Path(source)
        data, lines = read_yaml_mapping(file)
    else:
        raise ConfigError(
            "The configuration must be a YAML file, a mapping or a Config",
            found=type(source).__name__,
            fix="Pass the path of a YAML file (or a dict of settings)",
        )
    if overrides is not None:
        data = deep_merge(data, overrides)
    try:
        return Config.model_validate(data)
    except ValidationError as err:
        raise config_error(err, Config, file, lines) from None


_SECTIONS = ("bids", "preprocessing", "anatomy", "rsa", "models", "stats", "training")


def config_section(config, name: str):
    """The validated ``name`` section of ``config``: how every stage takes its configuration.

    Parameters
    ----------
    config : section | Config | Mapping | str | path-like | None
        The section itself (returned as it is: the pipeline validates once and hands each stage
        its section), or anything :func:`load_config` accepts, of which only ``name`` is used.
    name : str
        ``bids``, ``preprocessing``, ``anatomy``, ``rsa``, ``models`` or ``stats``.
    """
    if name not in _SECTIONS:
        raise ValueError(f"name must be one of {_SECTIONS}, got {name!r}")
    model = Config.model_fields[name].annotation
    if isinstance(config, model):
        return config
    return getattr(load_config(config), name)


def config_value(config, key: str, value=None):
    """``value`` when given, else the dotted ``key`` of a whole configuration, else its default.

    A stage takes values from outside its own section (``random_seed``,
    ``rsa.condition_column`` ...) as keyword arguments; when a script hands it a whole
    configuration instead of its section, this reads them from there.
    """
    if value is not None:
        return value
    if isinstance(config, _Section) and not isinstance(config, Config):
        config = None  # a section: the other settings are not in it
    node = load_config(config)
    for part in key.split("."):
        node = getattr(node, part)
    return node


def config_to_yaml(config) -> str:
    """Return the resolved configuration as YAML, every field included.

    Parameters
    ----------
    config : Config | Mapping | str | path-like | None
        Anything :func:`load_config` accepts.

    Returns
    -------
    text : str
        YAML that :func:`load_config` reads back into an equal :class:`Config`.
    """
    data = load_config(config).model_dump(mode="json")
    return yaml.safe_dump(data, sort_keys=False, allow_unicode=True)


def write_config(config, path) -> Path:
    """Write the resolved configuration to a YAML file, atomically.

    The text goes to a temporary file in the same folder, which is then renamed over ``path``
    (:func:`ieegrsa._files.write_text`), so that a crash never leaves a truncated configuration
    that looks complete.

    Parameters
    ----------
    config : Config | Mapping | str | path-like | None
        Anything :func:`load_config` accepts.
    path : str | path-like
        The file to write; its folder is created if needed.

    Returns
    -------
    path : pathlib.Path
    """
    return write_text(config_to_yaml(config), path)


def config_template_yaml() -> str:
    """Return a commented YAML configuration with every field at its default.

    Each field is preceded by its description as ``#`` comments, and each section by its
    docstring, so the file documents itself. :func:`load_config` reads it back into the defaults.

    Returns
    -------
    text : str
    """
    header = [
        "ieegrsa configuration.",
        "",
        "Every setting is shown at its default. Keep only what you change (any subset overrides "
        "the defaults; unknown keys are errors) and pass the file with --config.",
        "",
        "Generated by `python -m ieegrsa.config`.",
    ]
    lines = comment_lines(header, "")
    lines += template_lines(Config)
    return "\n".join(lines) + "\n"

