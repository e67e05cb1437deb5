"""Null calibration of the group tests on signal-level simulated studies (slow; CI runs it).

No identity/expression geometry is planted; contacts of a patient share noise (neighbouring
bipolar channels share a contact; a common-reference artefact). With 3, 6 and 11 patients and
200 studies each, the family-wise rate of "any window significant after correction" per ROI
must not exceed 0.05 beyond Monte-Carlo error (a one-sided exact binomial test at 0.01 against
0.05), for the mixed model (default rule) and for the sign-flip check. The sign-flip check can
never reject with 3 patients (its smallest p is 0.25); the mixed model is tested there without
the group-claim minimum, as the raw test. The rates are printed into the test log.
"""

from __future__ import annotations

import sys
from pathlib import Path

import pytest
from scipy import stats

sys.path.insert(0, str(Path(__file__).parent))
from _calibration import rates, run_studies  # noqa: E402

pytestmark = pytest.mark.slow

N_STUDIES = 200


@pytest.mark.parametrize("n_patients", [3, 6, 11])
def test_family_wise_rate_under_the_null(n_patients, capsys):
    results = run_studies(n_patients, N_STUDIES, first_seed=1000 * n_patients)
    table = rates(results)
    with capsys.disabled():  # the figures belong in CI's log
        print(f"\nnull, {n_patients} patients, {N_STUDIES} studies:\n"
              + table[["rule", "roi", "rate", "upper95"]].to_string(index=False))
    for row in table.itertuples():
        p_above = stats.binomtest(int(row.hits), int(row.n_studies), 0.05,
                                  alternative="greater").pvalue
        assert p_above > 0.01, row


def test_power_with_a_planted_identity_code(capsys):
    """The same tests find an amplitude code of identity where it is planted (ventral,
    0.1-0.35 s; effect 1.0: a per-patient identity - expression difference of about 0.13
    Fisher z). Power at smaller effects and patient counts is in the README."""
    results = run_studies(11, 40, effect=1.0, first_seed=50_000)
    table = rates(results).set_index(["rule", "roi"])
    with capsys.disabled():
        print("\npower, 11 patients, effect 1.0:\n" + table.to_string())
    assert table.loc[("mixed", "ventral"), "planted"] >= 0.8
    assert table.loc[("signflip", "ventral"), "planted"] >= 0.8
