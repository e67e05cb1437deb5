"""Null calibration and power of the group tests on signal-level simulated studies.

Usage::

    python benchmarks/calibration.py [--null-studies 200] [--power-studies 100]

Prints, per patient count (3, 6, 11) and analysis rule, the proportion of simulated studies in
which a ROI has any window significant after correction: under the null (no geometry planted;
contacts share noise; the family-wise rate, nominal 0.05) and with an identity amplitude code
planted in ventral 0.1-0.35 s (power: a significant window with the planted sign overlapping
the interval). Rules (tests/_calibration.py): ``mixed`` (the default: random objective slope by
patient, two-stage floor), ``mixed_no_floor`` (Satterthwaite alone), ``contacts_as_replicates``
(random intercepts only: the model before issue 13) and ``signflip`` (the patient-level check).
The README's calibration table comes from this script.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import pandas as pd

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "tests"))
from _calibration import RULES, rates, run_studies  # noqa: E402


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--null-studies", type=int, default=200)
    parser.add_argument("--power-studies", type=int, default=100)
    parser.add_argument("--effects", type=float, nargs="*", default=[0.3, 0.5])
    parser.add_argument("--n-jobs", type=int, default=2)
    args = parser.parse_args(argv)
    start = time.perf_counter()
    parts = []
    for n in (3, 6, 11):
        parts.append(run_studies(n, args.null_studies, first_seed=1000 * n, rules=tuple(RULES),
                                 n_jobs=args.n_jobs))
        for effect in args.effects:
            parts.append(run_studies(n, args.power_studies, effect=effect,
                                     first_seed=50_000 + 1000 * n, n_jobs=args.n_jobs))
    table = rates(pd.concat(parts, ignore_index=True))
    pd.set_option("display.width", 200)
    null = table[table.effect == 0]
    print("# family-wise rate under the null (any window significant after correction)")
    print(null.pivot_table(index=["rule", "roi"], columns="n_patients", values="rate")
          .round(3).to_string())
    print("# exact binomial 95% upper bound of that rate")
    print(null.pivot_table(index=["rule", "roi"], columns="n_patients", values="upper95")
          .round(3).to_string())
    power = table[(table.effect > 0) & (table.roi == "ventral")]
    print("# power: a significant ventral window with the planted sign in 0.1-0.35 s")
    print(power.pivot_table(index=["effect", "rule"], columns="n_patients", values="planted")
          .round(3).to_string())
    lateral = table[(table.effect > 0) & (table.roi == "lateral")]
    print("# lateral (no effect planted there) with the ventral effect: family-wise rate")
    print(lateral.pivot_table(index=["effect", "rule"], columns="n_patients", values="rate")
          .round(3).to_string())
    print(f"# {time.perf_counter() - start:.0f} s")


if __name__ == "__main__":
    main()
