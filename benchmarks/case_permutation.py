"""Group inference on data-model RDM similarity over many time windows.

Input: 10 subjects × 500 windows of RDMs over 64 conditions (16 face identities × 4 expressions,
2016 pairs), and the two categorical models ``identity`` and ``expression`` (0/1 RDMs, so with
many ties); an identity effect is planted in windows 200-299. 64 conditions is the size of a
typical face set (and inside the 60-80 asked for); the cost grows with the number of pairs.

- ieegrsa: :func:`ieegrsa.rsa.permutation_test`, Spearman, 1000 condition permutations shared by
  all windows and subjects: per-window p, max-statistic p over windows and cluster masses.
- peer: rsatoolbox's inference per time point, ``eval_bootstrap_pattern`` (bootstrap over
  conditions, ``boot_noise_ceil=False``, the cheaper setting) with the two models as
  ``ModelFixed`` and method ``'spearman'``. It is timed on 3 windows with 40 samples each and
  extrapolated linearly to 500 windows × 1000 samples (its cost is a loop over windows and
  samples).

Agreement: the observed group statistic (mean Spearman over subjects) of the timed windows
against rsatoolbox's point estimate (``eval_fixed``).
"""

from __future__ import annotations

import contextlib
import io

import numpy as np
from _timing import max_abs_diff, median_time

N_SUBJECTS, N_WINDOWS, N_PERMUTATIONS = 10, 500, 1000
N_IDENTITIES, N_EXPRESSIONS = 16, 4
PEER_WINDOWS, PEER_SAMPLES = (0, 250, 499), 40


def make_input(seed: int = 0):
    """Data RDMs (subject × window descriptors) and the identity / expression model RDMs."""
    import pandas as pd

    from ieegrsa.rsa import RDMs

    identity = np.repeat(np.arange(N_IDENTITIES), N_EXPRESSIONS)
    expression = np.tile(np.arange(N_EXPRESSIONS), N_IDENTITIES)
    rows, cols = np.triu_indices(len(identity), k=1)
    model_values = np.stack([(identity[rows] != identity[cols]).astype(float),
                             (expression[rows] != expression[cols]).astype(float)])
    conditions = [f"id{i:02d}_ex{e}" for i, e in zip(identity, expression)]
    models = RDMs(model_values, conditions, pd.DataFrame({"model": ["identity", "expression"]}))
    rng = np.random.default_rng(seed)
    start = np.arange(N_WINDOWS) * 0.01
    effect = np.where((start >= 2.0) & (start < 3.0), 0.3, 0.0)
    values = rng.random((N_SUBJECTS, N_WINDOWS, len(rows)))
    values += effect[None, :, None] * model_values[0]
    descriptors = pd.DataFrame({"subject": np.repeat(np.arange(N_SUBJECTS), N_WINDOWS),
                                "window_start": np.tile(start, N_SUBJECTS),
                                "window_stop": np.tile(start + 0.1, N_SUBJECTS)})
    data = RDMs(values.reshape(-1, len(rows)), conditions, descriptors, metric="correlation")
    return data, models


def _peer(data, models, windows, n_samples):
    """rsatoolbox bootstrap per window; returns the point estimates (windows × models)."""
    import rsatoolbox
    from rsatoolbox.inference import eval_bootstrap_pattern, eval_fixed
    from rsatoolbox.model import ModelFixed

    fixed = [ModelFixed(name, rsatoolbox.rdm.RDMs(values[None]))
             for name, values in zip(models.descriptors["model"], models.values)]
    points = []
    np.random.seed(0)  # rsatoolbox draws from numpy's global generator
    for w in windows:
        window = rsatoolbox.rdm.RDMs(data.values[w::N_WINDOWS])  # rows are subject-major
        with contextlib.redirect_stderr(io.StringIO()):  # its tqdm bar
            eval_bootstrap_pattern(fixed, window, method="spearman", N=n_samples,
                                   boot_noise_ceil=False)
        points.append(eval_fixed(fixed, window, method="spearman").evaluations[0].mean(-1))
    return np.array(points)


def permutation_spearman():
    from ieegrsa.rsa import permutation_test

    data, models = make_input()

    def ours():
        return permutation_test(data, models, "spearman", N_PERMUTATIONS, seed=0)

    ieegrsa_s, result = median_time(ours, repeat=3, warmup=1)
    timed_s, points = median_time(lambda: _peer(data, models, PEER_WINDOWS, PEER_SAMPLES),
                                  repeat=1, warmup=0)
    peer_s = timed_s / (len(PEER_WINDOWS) * PEER_SAMPLES) * N_WINDOWS * N_PERMUTATIONS
    diff = max_abs_diff(result.observed[list(PEER_WINDOWS)], points)
    if diff > 1e-10:
        raise AssertionError(f"observed statistics differ from rsatoolbox by {diff}")
    planted = result.table.query("model == 'identity' and 2.0 <= window_start < 3.0")
    found = int((planted["p_fwe"] < 0.05).sum())
    note = (f"{N_SUBJECTS} subjects x {N_WINDOWS} windows, {models.n_conditions} conditions, "
            f"2 models, {N_PERMUTATIONS} permutations (ieegrsa: per-window, max-stat and cluster "
            f"p-values)\npeer: rsatoolbox eval_bootstrap_pattern per window timed on "
            f"{len(PEER_WINDOWS)} windows x {PEER_SAMPLES} samples ({timed_s:.2f} s), "
            f"extrapolated linearly to {N_WINDOWS} windows x {N_PERMUTATIONS} samples\n"
            f"maxabsdiff: observed group Spearman vs rsatoolbox eval_fixed on the timed windows; "
            f"planted identity effect: {found}/100 windows with p_fwe < 0.05")
    return dict(ieegrsa_s=ieegrsa_s, peer_s=peer_s, maxabsdiff=diff, note=note)


CASES = {"permutation_spearman": permutation_spearman}
