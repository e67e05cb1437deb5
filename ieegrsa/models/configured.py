"""Model RDMs as the configuration asks for them: categorical models and network layers."""

from __future__ import annotations

import logging
from pathlib import Path

from ..errors import DataError
from ..rsa.rdms import RDMs, concat
from .extract import extract_features
from .rdms import categorical_rdms, model_rdms
from .registry import get_extractor

__all__ = ["configured_model_rdms", "network_instances"]

logger = logging.getLogger("ieegrsa")


def network_instances(network, seed: int) -> list[tuple[int, str, int]]:
    """``(instance, weights, seed)`` of each instance of a ``models.networks`` entry.

    ``weights: [random]`` with ``instances: n`` gives n seeded initialisations (seeds ``seed``,
    ``seed + 1`` ...); otherwise each entry of ``weights`` is one instance.
    """
    if list(network.weights) == ["random"]:
        return [(k, "random", seed + k) for k in range(network.instances)]
    return [(k, weights, seed + k) for k, weights in enumerate(network.weights)]


def configured_model_rdms(stimuli, conditions, config, *, stimuli_root=None, cache_dir=None,
                          verbose=None) -> RDMs:
    """The model RDMs of ``config.models`` over ``conditions``.

    Parameters
    ----------
    stimuli : pandas.DataFrame
        The stimulus table (``Recording.stimuli``).
    conditions : sequence
        The RSA conditions, in the neural RDMs' order (values of ``config.rsa.condition_column``).
    config : ieegrsa.Config
    stimuli_root : path-like | None
        Folder the ``stim_file`` values are relative to (the dataset's ``stimuli/``); needed only
        when ``config.models.networks`` is not empty.
    cache_dir : path-like | "auto" | None
        Feature cache (default: ``config.models.cache_dir``).
    verbose : bool | None
        Progress bars and log messages of the feature extraction.

    Returns
    -------
    RDMs
        Categorical models first (objective ``categorical``), then each network's layers in
        depth order; descriptors ``model``, ``objective``, ``instance``, ``layer``.
    """
    section = config.models
    conditions = list(conditions)
    column = config.rsa.condition_column
    pieces = []
    if section.categorical:
        pieces.append(categorical_rdms(stimuli, section.categorical, condition_column=column,
                                       conditions=conditions))
    if section.networks:
        if column != "stim_file":
            raise DataError(
                "network model RDMs need one image per RSA condition", field="rsa.condition_column",
                found=column, fix="use condition_column: stim_file with models.networks, or "
                                  "remove the networks")
        if stimuli_root is None:
            raise DataError("the stimulus folder is needed for network features",
                            field="stimuli_root", found=None, fix="pass the dataset's stimuli/")
        images = [Path(stimuli_root) / str(c) for c in conditions]
        cache = section.cache_dir if cache_dir is None else cache_dir
        for network in section.networks:
            extractor = get_extractor(network.name, **network.options)
            label = network.label or network.name
            for instance, weights, seed in network_instances(network, config.random_seed):
                objective = network.objective or extractor.objective_of(weights)
                if weights == "random":
                    objective = "untrained"
                logger.info("features of %s (instance %d, weights %s)", label, instance, weights)
                features = extract_features(
                    extractor, images, layers=network.layers, weights=weights, cache_dir=cache,
                    seed=seed, batch_size=section.batch_size, device=section.device,
                    reduce=section.reduce, n_components=section.n_components,
                    reduce_seed=config.random_seed, verbose=verbose,
                )
                pieces.append(model_rdms(features, section.metric, conditions=conditions,
                                         model=label, objective=objective, instance=instance))
    if not pieces:
        raise DataError("no model to compare with", field="models",
                        found="models.categorical and models.networks are both empty",
                        fix="list categorical columns (identity, expression) or networks")
    return concat(pieces)
