"""The group level on the simulator's ``paper`` preset, against the same fits looped in R/lme4.

Case ``group_paper``: the participants' similarity tables of the ``paper`` preset (11 patients,
default configuration; simulated and run once, not timed; or read from an existing derivatives
folder named by ``IEEGRSA_BENCH_DERIVATIVES``), then

- ieegrsa: :func:`ieegrsa.stats.mixed_model` with the configuration's settings (REML, random
  objective slope by patient, contacts nested, Satterthwaite df) on every ROI × window of the
  categorical models;
- peer: ``benchmarks/lme4_loop.R``, lmerTest::lmer with the same formula and ``summary()`` per
  fit (default lmerControl; package loading and reading excluded);
- agreement: the largest absolute difference of the estimates against lme4
  (tests/r/lmer_reference.R, bobyqa with rhoend 1e-12) over the fits where both reach the same
  optimum; ``lme4_worse_optimum`` counts the fits where lme4 stopped at a lower likelihood
  than ieegrsa (never the reverse: that raises);
- ``group_level_s`` (extra): the whole :func:`ieegrsa.stats.group_statistics` of the default
  configuration (mixed models, sign-flip checks, model comparisons, cluster tests, onsets with
  200 patient bootstraps), which has no peer.

Needs Rscript with lme4, lmerTest and jsonlite.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path

import numpy as np
from _timing import max_abs_diff, median_time

HERE = Path(__file__).resolve().parent


def _derivatives(work):
    given = os.environ.get("IEEGRSA_BENCH_DERIVATIVES")
    if given:
        return Path(given)
    from ieegrsa.pipeline import run_participants
    from ieegrsa.simulate import make_dataset

    root = make_dataset(work / "bids", preset="paper", seed=0)
    out = work / "derivatives"
    run_participants(root, out, None, {"n_jobs": 2}, progress=False)
    return out


def group_paper():
    from ieegrsa.config import load_config
    from ieegrsa.pipeline import read_similarity_tables
    from ieegrsa.stats import mixed_model
    from ieegrsa.stats.group import analysis_table, group_statistics

    sys.path.insert(0, str(HERE.parent / "tests"))
    from _lme4 import lme4_fits

    config = load_config({})
    stats = config.stats
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        similarity = read_similarity_tables(_derivatives(work), config.bids.task)
        rows = analysis_table(similarity, "categorical", stats.pattern)

        def ours():
            return mixed_model(rows, stats.formula, slopes=stats.slopes, by=stats.by,
                               reml=stats.reml, se_floor=stats.se_floor,
                               min_subjects=stats.min_patients)

        ours_s, result = median_time(ours, repeat=3)
        table = rows.assign(value=np.arctanh(rows["value"]))
        table["fit"] = table["roi"].astype(str) + "/" + table["window_start"].astype(str)
        table = table[["fit", "value", "subject", "contact", "objective"]]
        formula = "value ~ objective + (1 + objective | subject) + (1 | subject:contact)"
        csv, spec = work / "fits.csv", work / "spec.json"
        table.to_csv(csv, index=False, float_format="%.17g")
        spec.write_text(json.dumps({"formula": formula, "reml": True,
                                    "factors": ["subject", "contact", "objective"]}))
        times = []
        for _ in range(3):
            out = subprocess.run(["Rscript", str(HERE / "lme4_loop.R"), str(csv), str(spec)],
                                 capture_output=True, text=True, check=True).stdout
            times.append(float(out.split("R_SECONDS")[1].split()[0]))
        reference = lme4_fits(table, formula)
        got, want, lme4_worse = [], [], 0
        for key, fit in result.fits.items():
            ref = reference[f"{key[0]}/{key[1]}"]
            if fit.llf < ref["logLik"] - 1e-7:
                raise AssertionError(f"{key}: below lme4's optimum ({fit.llf} < "
                                     f"{ref['logLik']})")
            if fit.llf > ref["logLik"] + 1e-6:  # bobyqa stopped at a worse point
                lme4_worse += 1
                continue
            got += list(fit.beta)
            want += [f["estimate"] for f in ref["fixed"]]
        group_s, _ = median_time(lambda: group_statistics(similarity, config), repeat=1,
                                 warmup=0)
    n_fits = len(result.fits)
    n_singular = sum(f.singular for f in result.fits.values())
    return {"ieegrsa_s": ours_s, "peer_s": float(np.median(times)),
            "maxabsdiff": max_abs_diff(got, want),
            "extra": f"group_level_s={group_s:.3g} fits={n_fits} singular={n_singular} "
                     f"lme4_worse_optimum={lme4_worse}",
            "note": "peer: lmerTest::lmer + summary() looped in R over the same fits"}


CASES = {"group_paper": group_paper}

if __name__ == "__main__":
    sys.path.insert(0, str(HERE))
    out = group_paper()
    ratio = out["peer_s"] / out["ieegrsa_s"]
    print(f"RESULT group_paper ieegrsa_s={out['ieegrsa_s']:.4g} peer_s={out['peer_s']:.4g} "
          f"ratio={ratio:.3g} maxabsdiff={out['maxabsdiff']:.3g} {out['extra']}")
    print(f"# group_paper: {out['note']}")
