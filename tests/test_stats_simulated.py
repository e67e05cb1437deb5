"""End to end on the simulator: BIDS -> epochs -> contacts -> neural RDMs -> similarity -> stats.

The ``paper`` preset plants identity geometry in the ventral ROI and expression geometry in the
lateral ROI (ground truth in sourcedata/simulation/ground_truth.json). The group statistics must
find identity > expression in ventral and the reverse in lateral, in windows overlapping the
planted interval, and nothing in windows that end before stimulus onset.
"""

from __future__ import annotations

import json
import warnings

import pandas as pd
import pytest

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def similarity(tmp_path_factory):
    import ieegrsa
    from ieegrsa.bids import list_subjects
    from ieegrsa.config import load_config
    from ieegrsa.models import categorical_rdms
    from ieegrsa.pipeline import load_participant
    from ieegrsa.rsa import compare, neural_rdms
    from ieegrsa.simulate import make_dataset

    root = make_dataset(tmp_path_factory.mktemp("sim") / "paper", preset="paper", seed=0)
    truth = json.loads((root / "sourcedata/simulation/ground_truth.json").read_text())["effect"]
    config = load_config({})
    rows = []
    for subject in list_subjects(root):
        recording = load_participant(root, subject, config)
        epochs = ieegrsa.preprocess(recording, config)
        contacts = ieegrsa.localize(recording, epochs, config)
        neural = neural_rdms(epochs, contacts, pattern="contact", window=0.1, step=0.05,
                             subject=subject)
        models = categorical_rdms(recording.stimuli, conditions=neural.conditions)
        values = compare(neural, models, method="spearman")
        for k, model in enumerate(models.descriptors.model):
            part = neural.descriptors[["subject", "roi", "contact", "window_start",
                                       "window_stop"]].copy()
            part["model"], part["method"], part["value"] = model, "spearman", values[:, k]
            rows.append(part)
    return pd.concat(rows, ignore_index=True), truth


def _overlaps(start, stop, truth):
    return (start < truth["onset"] + truth["window"] + 0.2) & (stop > truth["onset"])


def test_cluster_test_finds_the_planted_effects(similarity):
    from ieegrsa.stats import cluster_test

    table, truth = similarity
    result = cluster_test(table, ("identity", "expression"), column="model",
                          n_permutations=1000, seed=0)
    found = result.clusters[result.clusters.p_value < 0.05]
    for roi, sign in (("ventral", 1), ("lateral", -1)):
        hits = found[(found.roi == roi) & (found.statistic * sign > 0)]
        assert len(hits), (roi, result.clusters)
        assert _overlaps(hits.start, hits.stop, truth[roi]).all(), hits
    assert not (found.stop <= 0).any()


def test_mixed_model_finds_the_planted_effects(similarity):
    from ieegrsa.stats import mixed_model

    table, truth = similarity
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        fits = mixed_model(table, "value ~ C(model)", slopes=("model",)).table
    term = fits[fits.term == "C(model)[T.identity]"]
    significant = term[term.p_corrected < 0.05]
    for roi, sign in (("ventral", 1), ("lateral", -1)):
        hits = significant[(significant.roi == roi) & (significant.estimate * sign > 0)]
        assert _overlaps(hits.window_start, hits.window_stop, truth[roi]).any(), (roi, term)
    assert not (significant.window_stop <= 0).any(), significant


def test_mixed_model_matches_lme4_on_participant_level_tables(similarity):
    """The same numbers as lme4/lmerTest on similarity values the RSA stage computed."""
    import sys
    from pathlib import Path

    import numpy as np

    sys.path.insert(0, str(Path(__file__).parent))
    from _lme4 import SKIP_REASON, have_lme4, lme4_fits
    from test_stats_lme4 import assert_matches_lme4

    from ieegrsa.stats import mixed_model

    if not have_lme4():
        pytest.skip(SKIP_REASON)
    table, _ = similarity
    starts = sorted(table.window_start.unique())
    rows = table[table.window_start.isin(starts[::3])].rename(columns={"model": "objective"})
    result = mixed_model(rows)
    r = rows.assign(value=np.arctanh(rows["value"]))
    r["fit"] = r["roi"].astype(str) + "/" + r["window_start"].astype(str)
    reference = lme4_fits(r[["fit", "value", "subject", "contact", "objective"]],
                          "value ~ objective + (1 + objective | subject) + (1 | subject:contact)")
    n, worst = assert_matches_lme4(result, reference, table=rows)
    print(f"\nparticipant-level tables, {n} fits: "
          + ", ".join(f"{k} {v:.1e}" for k, v in worst.items()))
    assert n >= 8
