"""Tests of ieegrsa.simulate.studies: the fast simulator of whole similarity tables."""

from __future__ import annotations

import time

import numpy as np
import pandas as pd
import pytest
import scipy.stats
from scipy.spatial.distance import pdist

from ieegrsa.errors import DataError
from ieegrsa.simulate.studies import MODELS, similarity_study, study_signals

COLUMNS = ["subject", "roi", "contact", "window_start", "window_stop", "model", "objective",
           "family", "pattern", "method", "value"]


def _differences(table, start=0.1, stop=0.35):
    """Identity minus expression value per subject and ROI, mean over the contacts and the
    windows within [start, stop]."""
    rows = table[(table.window_start >= start - 1e-9) & (table.window_stop <= stop + 1e-9)]
    wide = rows.pivot_table(index=["subject", "roi", "contact", "window_start"],
                            columns="model", values="value")
    return (wide["identity"] - wide["expression"]).groupby(level=["subject", "roi"]).mean()


def test_columns_dtypes_and_layout():
    table = similarity_study(3, seed=2)
    assert list(table.columns) == COLUMNS
    for column in ("window_start", "window_stop", "value"):
        assert table[column].dtype == np.float64
    for column in ("subject", "roi", "contact", "model", "objective", "family", "pattern",
                   "method"):
        assert pd.api.types.is_string_dtype(table[column]), column
    assert sorted(table.subject.unique()) == ["sub-01", "sub-02", "sub-03"]
    assert set(table.roi) == {"ventral", "lateral"}
    assert list(table.model.unique()) == list(MODELS)
    assert set(table.objective) == set(table.family) == {"categorical"}
    assert set(table.pattern) == {"contact"} and set(table.method) == {"spearman"}
    assert table.value.between(-1, 1).all()
    # windows: 0.1 s every 0.05 s from -0.1 to 0.5 s
    windows = table[["window_start", "window_stop"]].drop_duplicates()
    np.testing.assert_allclose(windows.window_start, np.arange(11) * 0.05 - 0.1, atol=1e-9)
    np.testing.assert_allclose(windows.window_stop - windows.window_start, 0.1, atol=1e-9)
    # every contact has every window and model once; 3..8 bipolar contacts per ROI
    per_contact = table.groupby(["subject", "roi", "contact"]).size()
    assert (per_contact == 11 * 2).all()
    per_roi = table.groupby(["subject", "roi"]).contact.nunique()
    assert per_roi.between(3, 8).all()
    assert not table.duplicated(["subject", "contact", "window_start", "model"]).any()
    truth = table.attrs["truth"]
    assert truth["effect"] == {"sub-01": 0.0, "sub-02": 0.0, "sub-03": 0.0}
    for code in truth["code"].values():  # zero-mean code over the 6 identities
        assert len(code) == 6 and abs(sum(code)) < 1e-9


def test_deterministic_nested_and_common_random_numbers():
    a = similarity_study(3, seed=5, effect=0.5)
    pd.testing.assert_frame_equal(a, similarity_study(3, seed=5, effect=0.5))
    assert not a.equals(similarity_study(3, seed=6, effect=0.5))
    # the first patients of a bigger study are the smaller study
    bigger = similarity_study(5, seed=5, effect=0.5)
    pd.testing.assert_frame_equal(bigger[bigger.subject <= "sub-03"].reset_index(drop=True), a)
    # the effect changes only the effect ROI: the lateral rows are identical to the null's
    null = similarity_study(3, seed=5)
    assert (null[COLUMNS[:-1]].to_numpy() == a[COLUMNS[:-1]].to_numpy()).all()
    lateral = a.roi == "lateral"
    np.testing.assert_array_equal(a.value[lateral], null.value[lateral])
    assert not np.allclose(a.value[~lateral], null.value[~lateral])


def test_values_are_scipy_spearman_of_pdist_correlation_rdms():
    options = dict(seed=3, effect=0.7, n_identities=4, n_expressions=3)
    table = similarity_study(2, **options)
    signals = study_signals(2, **options)
    conditions = signals.conditions
    models = {m: pdist(conditions[[m]].to_numpy(), lambda u, v: float(u[0] != v[0]))
              for m in MODELS}
    sfreq = 200.0
    rng = np.random.default_rng(0)
    for row in table.iloc[rng.choice(len(table), 12, replace=False)].itertuples():
        channel = np.flatnonzero((signals.channels.subject == row.subject)
                                 & (signals.channels.contact == row.contact))
        assert len(channel) == 1
        first = int(np.searchsorted(signals.times, row.window_start - 0.5 / sfreq))
        length = int(round((row.window_stop - row.window_start) * sfreq))
        patterns = signals.data[channel[0], :, first:first + length]  # conditions x samples
        rdm = pdist(patterns, "correlation")
        expected = scipy.stats.spearmanr(rdm, models[row.model]).statistic
        assert row.value == pytest.approx(expected, abs=1e-10)


def test_windows_follow_the_pipeline_convention():
    from ieegrsa.rsa.neural import window_starts

    signals = study_signals(1)
    starts, length = window_starts(signals.times, 200.0, 0.1, 0.05, -0.1, 0.5)
    table = similarity_study(1)
    windows = table[["window_start", "window_stop"]].drop_duplicates()
    np.testing.assert_allclose(windows.window_start, signals.times[starts], atol=1e-9)
    np.testing.assert_allclose(windows.window_stop, signals.times[starts] + length / 200.0,
                               atol=1e-9)
    explicit = similarity_study(1, windows=[[0.1, 0.2], [0.25, 0.35]])
    assert explicit[["window_start", "window_stop"]].drop_duplicates().to_numpy().tolist() \
        == [[0.1, 0.2], [0.25, 0.35]]


def test_neighbouring_bipolar_channels_share_noise():
    rho = 0.8
    expected = (2 * rho - 1 - rho ** 4) / (2 * (1 - rho))  # local noise, gaussian fall-off
    x, y = [], []
    for seed in range(10):
        signals = study_signals(3, seed=seed, contacts=5, shared_noise=rho)
        pre = signals.data[:, :, signals.times < 0]  # noise only before the response
        names = signals.channels.contact
        x.append(pre[names.str.match(r"[VL]2-")].ravel())
        y.append(pre[names.str.match(r"[VL]3-")].ravel())
    assert np.corrcoef(np.concatenate(x), np.concatenate(y))[0, 1] == pytest.approx(expected,
                                                                                    abs=0.08)


def test_neighbouring_contacts_values_correlate_under_the_null():
    near, far = [], []
    for seed in range(40):
        table = similarity_study(3, seed=seed, contacts=6)
        wide = table[table.model == "identity"].pivot_table(
            index=["subject", "roi", "window_start"], columns="contact", values="value")
        for roi, shaft in (("ventral", "V"), ("lateral", "L")):
            part = wide.xs(roi, level="roi")
            near.append(part[[f"{shaft}1-{shaft}2", f"{shaft}2-{shaft}3"]].to_numpy())
            far.append(part[[f"{shaft}1-{shaft}2", f"{shaft}5-{shaft}6"]].to_numpy())
    near, far = np.concatenate(near), np.concatenate(far)
    r_near = np.corrcoef(near.T)[0, 1]
    r_far = np.corrcoef(far.T)[0, 1]
    print(f"null value correlation: neighbours {r_near:.3f}, 4 contacts apart {r_far:.3f}")
    assert r_near > 0.06  # ~0.12; about 2600 rows, standard error ~0.02
    assert r_near > r_far


def test_null_has_no_geometry_and_effect_is_planted_where_asked():
    null = pd.concat([_differences(similarity_study(6, seed=s)) for s in range(15)])
    strong = pd.concat([_differences(similarity_study(6, seed=s, effect=1.0))
                        for s in range(15)])
    null_means = null.groupby(level="roi").mean()
    strong_means = strong.groupby(level="roi").mean()
    print("identity - expression per patient, null:", null_means.round(3).to_dict(),
          "effect=1:", strong_means.round(3).to_dict())
    assert abs(null_means["ventral"]) < 0.015 and abs(null_means["lateral"]) < 0.015
    assert strong_means["ventral"] > 0.05
    assert abs(strong_means["lateral"]) < 0.015
    # before stimulus onset nothing, even with the effect
    early = pd.concat([_differences(similarity_study(6, seed=s, effect=1.0), -0.1, 0.05)
                       for s in range(15)]).groupby(level="roi").mean()
    assert abs(early["ventral"]) < 0.015
    # an expression code shows up as expression > identity
    expr = pd.concat([_differences(similarity_study(6, seed=s, effect=1.0,
                                                    effect_model="expression"))
                      for s in range(10)]).groupby(level="roi").mean()
    assert expr["ventral"] < -0.03


def test_options():
    one_roi = similarity_study(6, both_rois=0.0, seed=1)
    assert (one_roi.groupby("subject").roi.nunique() == 1).all()
    fixed = similarity_study(2, contacts=4, rois=("ventral",), effect_rois="ventral",
                             effect=0.5)
    assert (fixed.groupby("subject").contact.nunique() == 4).all()
    assert fixed.attrs["truth"]["effect_rois"] == ["ventral"]
    assert all(e > 0 for e in fixed.attrs["truth"]["effect"].values())
    same = similarity_study(2, effect=0.5, effect_variability=0.0, seed=4)
    assert set(same.attrs["truth"]["effect"].values()) == {0.5}
    trials = study_signals(2, trial_level=True, seed=1)
    means = study_signals(2, seed=1)
    assert trials.data.shape == means.data.shape
    for bad in (dict(effect=-1), dict(effect_model="gender"), dict(effect_rois=("frontal",)),
                dict(contacts=(5, 2)), dict(shared_noise=1.0), dict(windows=(0.7, 0.9, 0.1, 0.05)),
                dict(n_identities=1), dict(spatial="cubic"), dict(seed=-1)):
        with pytest.raises(DataError):
            similarity_study(2, **bad)
    with pytest.raises(TypeError):
        study_signals(2, noise_level=1.0)


@pytest.mark.parametrize("reference", [(0.3, 0.2), (3.0, 0.5)])
def test_trial_level_simulation_has_the_same_distribution(reference):
    reference_noise, reference_gain_sd = reference
    variances, peaks = {}, {}
    for trial_level in (False, True):
        pre, post = [], []
        for seed in range(8):
            signals = study_signals(3, seed=seed, trial_level=trial_level, contacts=5,
                                    reference_noise=reference_noise,
                                    reference_gain_sd=reference_gain_sd)
            pre.append(signals.data[:, :, signals.times < 0].var())
            post.append(np.abs(signals.data[:, :, (signals.times > 0.18)
                                            & (signals.times < 0.22)]).mean())
        variances[trial_level], peaks[trial_level] = np.mean(pre), np.mean(post)
    # bipolar local noise 2 (1 - c1) and reference residual 2 sd_g² sd_r², over 4 repetitions
    expected = (2 * (1 - 0.8) + 2 * reference_gain_sd ** 2 * reference_noise ** 2) / 4
    assert variances[False] == pytest.approx(expected, rel=0.1)
    assert variances[True] == pytest.approx(expected, rel=0.1)
    assert peaks[True] == pytest.approx(peaks[False], rel=0.1)


def test_timing_of_an_eleven_patient_study():
    similarity_study(11, seed=0)  # warm
    times = []
    for seed in range(5):
        start = time.perf_counter()
        similarity_study(11, seed=seed, effect=0.5)
        times.append(time.perf_counter() - start)
    print(f"one 11-patient study: {np.median(times) * 1000:.1f} ms (median of 5)")
