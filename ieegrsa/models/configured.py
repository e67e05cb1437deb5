"""Model RDMs as the configuration asks for them: categorical models and network layers."""

from __future__ import annotations

import json
import logging
from pathlib import Path

from .._docs import fill_doc
from .._logging import verbose
from ..config import config_section, config_value
from ..errors import DataError
from ..rsa.rdms import concat
from .cache import resolve_cache_dir
from .crops import crop_faces, resolve_crop, stimulus_faces
from .extract import extract_features
from .rdms import categorical_rdms, model_rdms
from .registry import get_extractor
from .trained import expand_trained_weights, trained_options

__all__ = ["configured_model_rdms", "network_instances"]

logger = logging.getLogger("ieegrsa")


def network_instances(network, seed: int) -> list[tuple[int, str, int]]:
    """``(instance, weights, seed)`` of each instance of a ``models.networks`` entry.

    Every entry of ``weights`` other than ``random`` is one instance, in order; then each
    ``random`` entry gives ``instances`` seeded initialisations. Instance ``k`` has seed
    ``seed + k`` (``weights: [random]``, ``instances: n``: seeds ``seed`` .. ``seed + n - 1``).
    """
    named = [w for w in network.weights if w != "random"]
    randoms = ["random"] * (network.instances * (len(network.weights) - len(named)))
    return [(k, weights, seed + k) for k, weights in enumerate(named + randoms)]


@fill_doc
@verbose
def configured_model_rdms(stimuli, conditions, config=None, *, condition_column=None, seed=None,
                          stimuli_root=None, cache_dir=None, verbose=None, return_faces=False):
    """The model RDMs the ``models`` section asks for, over ``conditions``.

    Each network sees the stimuli framed as its ``crop`` says (default: the extractor's own
    convention, :mod:`ieegrsa.models.crops`); the faces come from the boxes in the stimulus
    table where given, else from dlib's detector. Untrained instances of a network get exactly
    its trained instances' crops.

    Parameters
    ----------
    stimuli : pandas.DataFrame
        The stimulus table (``Recording.stimuli``).
    conditions : sequence
        The RSA conditions, in the neural RDMs' order (values of ``condition_column``).
    config : ModelsConfig | Config | Mapping | str | path-like | None
        The ``models`` section (what the pipeline passes), or anything
        :func:`~ieegrsa.load_config` accepts, of which the ``models`` section is used.
    condition_column : str | None
        The stimulus-table column the conditions are values of (``rsa.condition_column``);
        networks need ``stim_file``. Default: ``config``'s when it is a whole configuration, else
        the default configuration's.
    seed : int | None
        Seed of the first random instance of each network and of the SRP reduction
        (``random_seed``); default as for ``condition_column``.
    stimuli_root : path-like | None
        Folder the ``stim_file`` values are relative to (the dataset's ``stimuli/``); needed only
        when ``models.networks`` is not empty.
    cache_dir : path-like | "auto" | None
        Feature cache (default: ``models.cache_dir``); face detections are cached in its
        ``faces/`` folder.
    %(verbose)s
    return_faces : bool
        Also return the faces table.

    Returns
    -------
    RDMs
        Categorical models first (objective ``categorical``), then each network's layers in
        depth order; descriptors ``model``, ``objective``, ``instance``, ``layer``, ``crop``.
    faces : pandas.DataFrame
        Only with ``return_faces``: per condition (``image``), the face geometry
        (:func:`~ieegrsa.models.crops.stimulus_faces`; None when no network crops) and, per
        network label, the crop it received (column ``crop_<label>``: the JSON of
        :meth:`FaceCrop.key` and the network's input ``channels``, 1 = grey).

    Raises
    ------
    DataError
        Networks without ``condition_column: stim_file`` or without the stimulus folder, a
        non-face stimulus among the conditions, a face image without exactly one face found
        and no box given, or nothing to compare with.
    """
    section = config_section(config, "models")
    column = config_value(config, "rsa.condition_column", condition_column)
    seed = config_value(config, "random_seed", seed)
    conditions = list(conditions)
    pieces = []
    faces = None
    if section.categorical:
        pieces.append(categorical_rdms(stimuli, section.categorical, condition_column=column,
                                       conditions=conditions))
    if section.networks:
        images, rows = _network_images(stimuli, conditions, column, stimuli_root)
        cache = section.cache_dir if cache_dir is None else cache_dir
        root = resolve_cache_dir(cache)
        networks = []
        for network in section.networks:
            # trained instances (ieegrsa train): their manifests give the head and objective
            weights = expand_trained_weights(network.weights)
            options, trained_objective = trained_options(network, weights)
            network = network.model_copy(update={
                "weights": weights, "objective": network.objective or trained_objective})
            networks.append((network, get_extractor(network.name,
                                                    **(options or network.options))))
        crops = [resolve_crop(extractor, network.crop) for network, extractor in networks]
        kinds = {crop.kind for crop in crops}
        if kinds != {"none"}:
            faces = stimulus_faces(images, names=conditions, stimuli=rows,
                                   landmarks="aligned" in kinds, cache_dir=root)
        framed: dict[str, list] = {}
        for (network, extractor), crop in zip(networks, crops):
            label = network.label or network.name
            key = json.dumps(crop.key(), sort_keys=True)
            if key not in framed:
                framed[key] = crop_faces(images, faces, crop)
            if faces is not None:  # what the network received, for the table and the sheet
                faces[f"crop_{label}"] = json.dumps(
                    {**crop.key(), "channels": extractor.input_spec.channels})
            for instance, weights, instance_seed in network_instances(network, seed):
                objective = network.objective or extractor.objective_of(weights)
                if weights == "random":
                    objective = "untrained"
                logger.info("features of %s (instance %d, weights %s, crop %s)", label,
                            instance, weights, crop.kind)
                features = extract_features(
                    extractor, framed[key], layers=network.layers, weights=weights,
                    cache_dir=root, seed=instance_seed, batch_size=section.batch_size,
                    device=section.device, reduce=section.reduce,
                    n_components=section.n_components, reduce_seed=seed,
                )
                rdms = model_rdms(features, section.metric, conditions=conditions, model=label,
                                  objective=objective, instance=instance)
                rdms.descriptors["crop"] = crop.kind
                pieces.append(rdms)
    if not pieces:
        raise DataError("no model to compare with", field="models",
                        found="models.categorical and models.networks are both empty",
                        fix="list categorical columns (identity, expression) or networks")
    out = concat(pieces)
    return (out, faces) if return_faces else out


def _network_images(stimuli, conditions, column, stimuli_root):
    """The image path and stimulus-table row of every condition; refuses non-face stimuli."""
    if column != "stim_file":
        raise DataError(
            "network model RDMs need one image per RSA condition", field="condition_column",
            found=column, fix="use condition_column: stim_file with models.networks, or "
                              "remove the networks")
    if stimuli_root is None:
        raise DataError("the stimulus folder is needed for network features",
                        field="stimuli_root", found=None, fix="pass the dataset's stimuli/")
    table = stimuli.drop_duplicates("stim_file").set_index("stim_file", drop=False)
    known = [c for c in conditions if c in table.index]
    rows = table.loc[known].reset_index(drop=True) if len(known) == len(conditions) else None
    if rows is not None and "category" in rows:
        category = rows["category"].astype(str).str.lower()
        other = rows.loc[~category.isin(["face", "faces"]), "stim_file"].tolist()
        if other:
            raise DataError(
                "non-face stimuli would reach the networks", file="stimuli/stimuli.tsv",
                field="category", found=f"{len(other)} condition(s) not of category face: "
                + ", ".join(map(str, other[:4])) + (" ..." if len(other) > 4 else ""),
                fix="keep rsa.trials: face (trials with a known identity and expression), or "
                    "remove the networks")
    return [Path(stimuli_root) / str(c) for c in conditions], rows
