"""Probe one network and its controls in one call: readouts, selective units, congruence, morphs.

:func:`probe` extracts the layer features of a stimulus set (identity × expression faces) and,
optionally, of a morph continuum, for the trained network and for its controls (a seeded
untrained instance; an object-trained instance when its weights are given), then runs every
analysis of :mod:`ieegrsa.probing` on each instance and gathers the results in tidy tables with
an ``instance`` column, side by side. :func:`ieegrsa.pipeline.write_probe` writes them as TSV
files with JSON sidecars and the HTML report.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

from .._docs import fill_doc
from .._logging import verbose
from ..errors import DataError
from .congruence import subspace_congruence
from .morphs import (
    categorical_perception_test,
    discrimination_curve,
    fit_logistic,
    identification_curve,
    parse_morph_names,
)
from .readouts import confusion_similarity, read_confusion, readout_pipeline, transfer_readout
from .units import selective_units

__all__ = ["probe", "ProbeResult", "read_stimuli", "morph_identification", "probe_columns",
           "ANALYSES", "PROBE_COLUMNS"]

logger = logging.getLogger("ieegrsa")

#: Analyses :func:`probe` can run.
ANALYSES = ("readouts", "units", "congruence", "morphs")


@dataclass(frozen=True)
class ProbeResult:
    """Tables of :func:`probe`; each has an ``instance`` column (trained, untrained, object).

    Attributes
    ----------
    readouts : pandas.DataFrame
        :func:`~ieegrsa.probing.readouts.transfer_readout` tables with ``target`` (expression
        read out leaving identities out; identity read out leaving expressions out).
    confusions : dict
        ``(instance, target, layer)`` → confusion matrix (rows true, columns predicted).
    units : pandas.DataFrame
        :func:`~ieegrsa.probing.units.selective_units` per-layer counts.
    humans : pandas.DataFrame
        Per instance and layer, the similarity of the expression readout's confusion matrix to
        the human one (``r``, ``p_value``); empty without a human matrix.
    congruence : pandas.DataFrame
        :func:`~ieegrsa.probing.congruence.subspace_congruence` per layer.
    identification : pandas.DataFrame
        Morph continuum: mean P(high-level category) per step (:func:`morph_identification`).
    boundaries : pandas.DataFrame
        Logistic fits of the identification curves, per instance and layer.
    discrimination : pandas.DataFrame
        Distance between neighbouring morph steps per layer.
    categorical : pandas.DataFrame
        Categorical-perception tests (discrimination peak at the boundary), per layer.
    settings : dict
        What was run (network, weights, layers, controls, seeds, permutations).
    """

    readouts: pd.DataFrame
    confusions: dict = field(repr=False)
    units: pd.DataFrame = field(repr=False)
    humans: pd.DataFrame = field(repr=False)
    congruence: pd.DataFrame = field(repr=False)
    identification: pd.DataFrame = field(repr=False)
    boundaries: pd.DataFrame = field(repr=False)
    discrimination: pd.DataFrame = field(repr=False)
    categorical: pd.DataFrame = field(repr=False)
    settings: dict = field(default_factory=dict)

    def tables(self) -> dict[str, pd.DataFrame]:
        """The result tables by name (as :func:`ieegrsa.pipeline.write_probe` writes them)."""
        return {name: getattr(self, name) for name in (
            "readouts", "units", "humans", "congruence", "identification", "boundaries",
            "discrimination", "categorical")}


def read_stimuli(source, *, columns=("identity", "expression")) -> pd.DataFrame:
    """A stimulus table with absolute image paths.

    Parameters
    ----------
    source : pandas.DataFrame | path-like
        A table (TSV or CSV file, or a DataFrame) with ``stim_file`` (image path, relative to the
        table's folder when read from a file) and ``columns``; or a folder of morph images named
        ``ID-feXX-haYY.png`` (Kar et al. 2021 naming), parsed into ``identity``, ``level``.
    columns : sequence of str
        Columns that must be present.

    Returns
    -------
    pandas.DataFrame
        ``stim_file`` as absolute paths, plus the table's other columns.

    Notes
    -----
    Optional face positions: columns ``box_x0``, ``box_y0``, ``box_x1``, ``box_y1`` (pixels of
    the original image; a face detector's box, brows to chin) and the 5 landmark columns of
    :data:`ieegrsa.models.crops.LANDMARK_COLUMNS`, used instead of face detection for each
    network's own crop (:func:`network_inputs`); or ``landmarks`` (a landmark file per image,
    relative to the table; the crop is then the landmarks' bounding box widened by 25 %, see
    :class:`ieegrsa.models.images.ImageSet`).
    """
    if isinstance(source, pd.DataFrame):
        table, root = source.copy(), Path.cwd()
    else:
        path = Path(source)
        if path.is_dir():
            images = sorted(p for p in path.iterdir() if p.suffix.lower() in
                            (".png", ".jpg", ".jpeg", ".bmp", ".tif", ".tiff"))
            table = parse_morph_names(images).rename(columns={"path": "stim_file"})
            root = path
        elif path.is_file():
            sep = "," if path.suffix.lower() == ".csv" else "\t"
            table = pd.read_csv(path, sep=sep, dtype=str, keep_default_na=False)
            root = path.parent
        else:
            raise DataError("no such stimulus table or folder", file=path, field="stimuli",
                            fix="give a TSV/CSV with stim_file, identity, expression, or a "
                                "folder of morph images")
    missing = [c for c in ("stim_file", *columns) if c not in table.columns]
    if missing:
        raise DataError("the stimulus table lacks columns", file=None if isinstance(
            source, pd.DataFrame) else source, field=", ".join(missing),
            found=f"columns {list(table.columns)}",
            fix="add them (stim_file is the image path relative to the table)")
    if "landmarks" in table.columns:  # landmark files, relative like the images
        table["landmarks"] = [str(Path(f) if Path(f).is_absolute() else root / f)
                              for f in table["landmarks"]]
    files = [Path(f) if Path(f).is_absolute() else root / f for f in table["stim_file"]]
    absent = [str(f) for f in files if not f.is_file()]
    if absent:
        raise DataError("images named in the stimulus table do not exist", field="stim_file",
                        found=f"{len(absent)} missing, e.g. {absent[0]}",
                        fix="check the paths (relative to the table's folder)")
    table["stim_file"] = [str(f) for f in files]
    if "level" in table.columns:
        table["level"] = pd.to_numeric(table["level"])
    return table.reset_index(drop=True)


def morph_identification(features, levels, groups, *, C: float = 1.0) -> pd.DataFrame:
    """P(the high end's category) of every morph image, from a readout of the endpoints.

    Per layer, a readout (:func:`~ieegrsa.probing.readouts.readout_pipeline`) is trained on the
    two endpoint levels of the continua of all groups but one (e.g. identities) and applied to
    every step of the held-out group, so that no image is scored by a readout that saw it.

    Returns
    -------
    pandas.DataFrame
        One row per layer × image: ``layer``, ``image`` (row index), ``group``, ``level``, ``p``.
    """
    from ._inputs import as_layers

    levels = np.asarray(levels, dtype=float)
    groups = np.asarray(groups)
    low, high = levels.min(), levels.max()
    endpoint = (levels == low) | (levels == high)
    if len(np.unique(groups)) < 2:
        raise DataError("the endpoint readout needs at least two continua (groups)",
                        field="groups", found=f"{len(np.unique(groups))} group(s)",
                        fix="give the identity of each morph image")
    rows = []
    for layer, X in as_layers(features).items():
        p = np.full(len(levels), np.nan)
        for group in np.unique(groups):
            train = endpoint & (groups != group)
            model = readout_pipeline(X.shape[1], min(int(train.sum()) - 1, X.shape[1]), C=C)
            model.fit(X[train], levels[train] == high)
            test = groups == group
            p[test] = model.predict_proba(X[test])[:, list(model.classes_).index(True)]
        rows.append(pd.DataFrame({"layer": layer, "image": np.arange(len(levels)),
                                  "group": groups, "level": levels, "p": p}))
    return pd.concat(rows, ignore_index=True)


def network_inputs(extractor, table: pd.DataFrame, crop: str = "auto", *,
                   cache_dir=None) -> tuple[list, dict]:
    """The images as ``extractor`` sees them, and the arguments for ``extract_features``.

    A ``landmarks`` column (a landmark file per image) crops to the landmarks' box as before;
    otherwise the network's own crop (:func:`~ieegrsa.models.crops.resolve_crop`) is made from
    the ``box_x0 .. box_y1`` (and 5-landmark) columns where given, else from detected faces, as
    the participant level does.
    """
    from ..models.cache import resolve_cache_dir
    from ..models.crops import crop_faces, resolve_crop, stimulus_faces

    paths = list(table["stim_file"])
    if "landmarks" in table.columns:
        return paths, {"landmarks": list(table["landmarks"])}
    chosen = resolve_crop(extractor, crop)
    if chosen.kind == "none":
        return paths, {}
    faces = stimulus_faces(paths, stimuli=table, landmarks=chosen.kind == "aligned",
                           cache_dir=resolve_cache_dir(cache_dir))
    return crop_faces(paths, faces, chosen), {}


def _instances(weights, controls, object_weights, seed):
    instances = [("trained", weights, seed)]
    for control in controls:
        if control == "untrained":
            instances.append(("untrained", "random", seed))
        elif control == "object":
            if object_weights is None:
                logger.warning("object-trained control skipped: no object_weights given")
                continue
            instances.append(("object", object_weights, seed))
        else:
            raise DataError("unknown control", field="controls", found=repr(control),
                            fix="use untrained and/or object")
    return instances


@fill_doc
@verbose
def probe(network, stimuli, *, weights="random", layers=None, controls=("untrained",),
          object_weights=None, morphs=None, human_confusion=None, analyses=ANALYSES,
          n_permutations: int = 100, seed: int = 0, C: float = 1.0, cache_dir=None,
          options=None, batch_size: int = 32, device: str = "cpu", crop: str = "auto",
          verbose=None) -> ProbeResult:
    """Run the probing analyses on a network and its controls.

    Parameters
    ----------
    network : str
        Extractor name (``ieegrsa models list``), e.g. ``dlib-resnet-face``.
    stimuli : pandas.DataFrame | path-like
        Face images with ``identity`` and ``expression``, optionally face crops (box or
        landmark columns; see :func:`read_stimuli`).
    weights : str
        Weights of the trained instance (a file, or a name the extractor knows such as
        ``dlib`` or ``fer2013``).
    layers : list of str | None
        Layers (default: the extractor's default set).
    controls : sequence of {"untrained", "object"}
        Control instances of the same architecture: seeded random initialisation, and an
        object-trained one (needs ``object_weights``).
    object_weights : str | None
        Weights of the object-trained control (e.g. an ImageNet state dict).
    morphs : pandas.DataFrame | path-like | None
        A morph continuum (``stim_file``, ``identity``, ``level``; or a folder of
        ``ID-feXX-haYY`` images) for the categorical-perception analysis.
    human_confusion : path-like | pandas.DataFrame | None
        Human confusion matrix over the expressions (CSV: first column the true class, header
        the predicted classes), compared with each layer's expression readout.
    analyses : sequence of str
        Among :data:`ANALYSES`.
    n_permutations : int
        Permutations of every test.
    seed : int
        Seed of the permutations and of the untrained instance.
    C : float
        Inverse L2 penalty of the readouts.
    cache_dir, options, batch_size, device
        As in :func:`~ieegrsa.models.extract_features` (``options`` build the extractor).
    crop : {"auto", "aligned", "box", "none"}
        How the faces are framed (:func:`network_inputs`); every instance, controls included,
        sees the same crops.
    %(verbose)s

    Returns
    -------
    ProbeResult
    """
    from ..models import extract_features, get_extractor
    from ..models.crops import resolve_crop

    unknown = [a for a in analyses if a not in ANALYSES]
    if unknown:
        raise DataError("unknown analysis", field="analyses", found=f"{unknown}",
                        fix=f"choose among {list(ANALYSES)}")
    table = read_stimuli(stimuli)
    morph_table = None
    if morphs is not None and "morphs" in analyses:
        morph_table = read_stimuli(morphs, columns=("identity", "level"))
    human = None
    if human_confusion is not None:
        human = (human_confusion if isinstance(human_confusion, pd.DataFrame)
                 else read_confusion(human_confusion))
    extractor = get_extractor(network, **(options or {}))
    out = {name: [] for name in ("readouts", "units", "humans", "congruence", "identification",
                                 "boundaries", "discrimination", "categorical")}
    confusions = {}
    kwargs = dict(layers=layers, cache_dir=cache_dir, batch_size=batch_size, device=device,
                  verbose=verbose)
    images, crop_kwargs = network_inputs(extractor, table, crop, cache_dir=cache_dir)
    if morph_table is not None:
        morph_images, morph_kwargs = network_inputs(extractor, morph_table, crop,
                                                    cache_dir=cache_dir)
    for instance, instance_weights, instance_seed in _instances(weights, controls,
                                                                object_weights, seed):
        logger.info("probing %s (%s)", network, instance)
        features = extract_features(extractor, images, weights=instance_weights,
                                    seed=instance_seed, **crop_kwargs, **kwargs)
        expression, identity = table["expression"].to_numpy(), table["identity"].to_numpy()
        if "readouts" in analyses:
            for target, labels, groups in (("expression", expression, identity),
                                           ("identity", identity, expression)):
                result = transfer_readout(features, labels, groups, C=C,
                                          n_permutations=n_permutations, seed=seed)
                out["readouts"].append(result.table.assign(instance=instance, target=target))
                for layer, matrix in result.confusion.items():
                    confusions[(instance, target, layer)] = matrix
                if target == "expression" and human is not None and len(result.classes) < 3:
                    logger.warning("confusion with humans skipped: it needs at least 3 "
                                   "expressions (found %s)", result.classes)
                elif target == "expression" and human is not None:
                    out["humans"].append(_human_similarity(result, human, n_permutations,
                                                           seed, instance))
        if "units" in analyses:
            out["units"].append(selective_units(features, expression, identity).table.assign(
                instance=instance))
        if "congruence" in analyses:
            out["congruence"].append(subspace_congruence(
                features, identity, expression, n_permutations=n_permutations,
                seed=seed).table.assign(instance=instance))
        if morph_table is not None:
            _morph_analyses(extract_features(extractor, morph_images,
                                             weights=instance_weights, seed=instance_seed,
                                             **morph_kwargs, **kwargs),
                            morph_table, instance, n_permutations, seed, C, out)
    tables = {name: _instance_first(pd.concat(parts, ignore_index=True) if parts
                                    else pd.DataFrame())
              for name, parts in out.items()}
    settings = {"network": network, "weights": str(weights), "layers": layers,
                "controls": list(controls), "object_weights": object_weights,
                "analyses": list(analyses), "n_permutations": n_permutations, "seed": seed,
                "C": C, "n_stimuli": len(table),
                "crop": "landmarks" if crop_kwargs else resolve_crop(extractor, crop).kind,
                "n_morphs": 0 if morph_table is None else len(morph_table)}
    return ProbeResult(confusions=confusions, settings=settings, **tables)


def _human_similarity(result, human, n_permutations, seed, instance):
    rows = []
    for layer, matrix in result.confusion.items():
        found = confusion_similarity(matrix, human, n_permutations=n_permutations, seed=seed)
        rows.append({"instance": instance, "layer": layer, "r": found["r"],
                     "p_value": found["p_value"], "n_cells": found["n_cells"]})
    return pd.DataFrame(rows)


def _morph_analyses(features, table, instance, n_permutations, seed, C, out):
    levels, groups = table["level"].to_numpy(dtype=float), table["identity"].to_numpy()
    scores = morph_identification(features, levels, groups, C=C)
    discrimination = discrimination_curve(features, levels, groups=groups)
    out["discrimination"].append(discrimination.assign(instance=instance))
    for layer, rows in scores.groupby("layer", sort=False):
        curve = identification_curve(rows["p"].to_numpy(), rows["level"].to_numpy(),
                                     groups=rows["group"].to_numpy())
        out["identification"].append(curve.assign(instance=instance, layer=layer))
        fit = fit_logistic(rows["level"].to_numpy(), rows["p"].to_numpy(), seed=seed,
                           groups=rows["group"].to_numpy())
        out["boundaries"].append(fit.table.assign(instance=instance, layer=layer))
        try:
            test = categorical_perception_test(
                discrimination[discrimination["layer"] == layer], fit.boundary,
                n_permutations=n_permutations, seed=seed)
            out["categorical"].append(test.table.assign(instance=instance, layer=layer))
        except DataError as err:  # e.g. a boundary outside the continuum's equal steps
            out["categorical"].append(pd.DataFrame([{
                "instance": instance, "layer": layer, "boundary": fit.boundary,
                "statistic": np.nan, "p_value": np.nan, "peak_at_boundary": False,
                "note": str(err)}]))


def _instance_first(table: pd.DataFrame) -> pd.DataFrame:
    front = [c for c in ("instance", "target", "layer") if c in table.columns]
    return table[front + [c for c in table.columns if c not in front]]


#: Descriptions of the columns of the probe tables (JSON sidecars).
PROBE_COLUMNS = {
    "instance": "trained (the network's weights), untrained (seeded random initialisation) or "
                "object (object-trained weights of the same architecture).",
    "target": "What the readout decodes: expression (identities held out) or identity "
              "(expressions held out).",
    "layer": "Network layer (depth order).",
    "accuracy": "Pooled out-of-fold proportion correct.",
    "balanced_accuracy": "Mean per-class recall of the out-of-fold predictions.",
    "chance": "1 / number of classes.",
    "majority": "Proportion of the most frequent class.",
    "p_value": "Permutation p-value (one-sided).",
    "n_classes": "Classes read out.",
    "n_images": "Images used.",
    "n_folds": "Cross-validation folds (held-out groups).",
    "n_components": "PCA width of the readout (units when no PCA).",
    "model": "ANOVA model: additive (one image per cell) or interaction.",
    "n_expressions": "Expressions in the design.",
    "n_identities": "Identities in the design.",
    "replicates": "Images per identity × expression cell.",
    "n_units": "Units in the layer.",
    "n_tested": "Units whose response varies (tested).",
    "n_selective": "Expression-selective units (expression significant after correction, "
                   "identity not).",
    "proportion": "n_selective / n_units.",
    "r": "Correlation of the off-diagonal cells of the model's and the humans' row-normalised "
         "confusion matrices.",
    "n_cells": "Off-diagonal cells compared.",
    "mean_abs_phi": "Mean |Tucker congruence| between identity and expression discriminant "
                    "directions.",
    "max_abs_phi": "Largest |Tucker congruence| between those directions.",
    "n_identity_dirs": "Identity discriminant directions.",
    "n_expression_dirs": "Expression discriminant directions.",
    "group": "Continuum (identity) or 'average'.",
    "level": "Step along the morph continuum (e.g. percent happy).",
    "p": "Mean probability of the high end's category at this step.",
    "sem": "Standard error of that mean over continua.",
    "n": "Values averaged.",
    "boundary": "Category boundary: the level where the fitted logistic crosses 0.5.",
    "boundary_ci_low": "Lower bound of the boundary's bootstrap interval (continua resampled).",
    "boundary_ci_high": "Upper bound of the boundary's bootstrap interval.",
    "scale": "Logistic scale (levels); small = steep.",
    "slope": "Slope at the boundary, 1 / (4 scale), per level.",
    "slope_ci_low": "Lower bound of the slope's bootstrap interval.",
    "slope_ci_high": "Upper bound of the slope's bootstrap interval.",
    "boundary_inside": "Whether the boundary lies inside the continuum.",
    "spearman_rho": "Spearman correlation of level and mean identification.",
    "spearman_p": "Its p-value.",
    "rises": "Identification rises monotonically (Spearman rho > 0, p < 0.05).",
    "nondecreasing": "The mean identification curve never decreases.",
    "n_levels": "Steps of the continuum.",
    "n_groups": "Continua (identities).",
    "n_bootstrap": "Bootstrap resamples.",
    "n_failed": "Bootstrap resamples whose fit failed.",
    "level_low": "Lower step of a neighbouring pair.",
    "level_high": "Upper step of the pair.",
    "midpoint": "Midpoint of the pair's levels.",
    "step": "Distance between the pair's levels.",
    "distance": "Dissimilarity of the pair's representations.",
    "statistic": "Discrimination of the pair straddling the boundary minus the mean of the "
                 "other pairs.",
    "peak_at_boundary": "Whether that statistic is significantly positive.",
    "argmax_midpoint": "Midpoint of the most discriminable pair.",
    "n_pairs": "Neighbouring pairs per continuum.",
    "n_permutations": "Permutations of the test.",
    "note": "Why a test could not be run (n/a when it ran).",
}


def probe_columns(table) -> dict:
    """The descriptions of a probe table's columns, in its order (:data:`PROBE_COLUMNS`)."""
    return {c: PROBE_COLUMNS.get(c, _prefer_description(c)) for c in table.columns}


def _prefer_description(column: str) -> str:
    if column.startswith("n_"):  # selective units preferring one expression
        return f"Selective units preferring {column[2:]}."
    return column.replace("_", " ")
