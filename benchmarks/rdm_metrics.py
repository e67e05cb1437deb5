"""Which neural RDM dissimilarity sees which code: power and false-positive rate at the group level.

Usage::

    python benchmarks/rdm_metrics.py [--power-studies 40] [--null-studies 100] [--out docs]

For each planted code (amplitude, common-gain, latency, shape, spatial; ``none`` = the null) ×
neural pattern (contact, ROI) × dissimilarity (correlation, euclidean, cv-euclidean, crossnobis
with a shrinkage noise precision from the residuals) × patients (3, 6, 11), the proportion of
simulated studies (:func:`ieegrsa.simulate.trials.code_study`, the code in both ROIs) in which
the calibrated group test (tests/_metric_study.py: the mixed model with a random objective slope
by patient, FDR over windows and ROIs) finds identity > expression in a ROI: the power, and under
the null the false-positive rate (any significant window, nominal 0.05). Writes
``<out>/rdm_metrics.tsv`` (every cell, with exact binomial 95% intervals),
``<out>/rdm_metrics.png`` and ``<out>/rdm_metrics_table.md``; docs/rdm_metrics.md shows the
figure and quotes the table. ``--quick`` runs a few studies of 6
patients (for CI).
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import pandas as pd

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "tests"))
from _metric_study import METRICS, rates, run_studies  # noqa: E402

#: The size of each code in the study (see ieegrsa.simulate.trials), chosen so that the best
#: dissimilarity is neither at 0 nor at 1 with 6 patients.
SIZES = {"amplitude": 0.3, "common-gain": 0.3, "latency": 1.0, "shape": 0.3, "spatial": 0.3}
PATIENTS = (3, 6, 11)
RESPONSE = 2.0  # peak face response, in noise SDs of one trial


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--power-studies", type=int, default=40)
    parser.add_argument("--null-studies", type=int, default=100)
    parser.add_argument("--patients", type=int, nargs="*", default=list(PATIENTS))
    parser.add_argument("--n-jobs", type=int, default=2)
    parser.add_argument("--out", type=Path, default=Path(__file__).resolve().parent.parent / "docs")
    parser.add_argument("--quick", action="store_true")
    args = parser.parse_args(argv)
    if args.quick:
        args.power_studies, args.null_studies, args.patients = 2, 2, [6]
    start = time.perf_counter()
    cells = [("none", n, 0.0) for n in args.patients]
    results = [run_studies(cells, args.null_studies, n_jobs=args.n_jobs, response=RESPONSE)]
    cells = [(code, n, size) for code, size in SIZES.items() for n in args.patients]
    results.append(run_studies(cells, args.power_studies, n_jobs=args.n_jobs,
                               first_seed=10_000, response=RESPONSE))
    table = rates(pd.concat(results, ignore_index=True))
    args.out.mkdir(parents=True, exist_ok=True)
    table.round(4).to_csv(args.out / "rdm_metrics.tsv", sep="\t", index=False)
    _figure(table, args.out / "rdm_metrics.png")
    (args.out / "rdm_metrics_table.md").write_text(_markdown(table), encoding="utf-8")
    pd.set_option("display.width", 220)
    print(table.pivot_table(index=["code", "n_patients"], columns=["pattern", "metric"],
                            values="rate").round(2).to_string())
    print(f"RESULT rdm_metrics studies={len(pd.concat(results))} "
          f"seconds={time.perf_counter() - start:.0f}")


def _markdown(table) -> str:
    """One Markdown table per pattern: code × metric rows, a column per patient count, each
    cell the rate and its exact 95% interval."""
    lines = []
    counts = sorted(table["n_patients"].unique())
    for pattern in ("contact", "roi"):
        lines += [f"**{pattern} pattern** (null: false-positive rate; codes: power)", "",
                  "| code (size) | metric | " + " | ".join(f"{n} patients" for n in counts)
                  + " |", "|---|---|" + "---|" * len(counts)]
        for code in ["none", *SIZES]:
            for metric in METRICS:
                part = table[(table.code == code) & (table.pattern == pattern)
                             & (table.metric == metric)].set_index("n_patients")
                if part.empty:
                    continue
                cells = [f"{part.loc[n, 'rate']:.2f} [{part.loc[n, 'low95']:.2f}, "
                         f"{part.loc[n, 'high95']:.2f}]" if n in part.index else ""
                         for n in counts]
                size = "" if code == "none" else f" ({SIZES[code]:g})"
                lines.append(f"| {code}{size} | {metric} | " + " | ".join(cells) + " |")
        lines.append("")
    return "\n".join(lines)


def _figure(table, path):
    import matplotlib

    matplotlib.use("Agg")
    from matplotlib import pyplot as plt

    codes = ["none", *SIZES]
    fig, axes = plt.subplots(2, len(codes), figsize=(2.4 * len(codes), 5), sharex=True,
                             sharey=True, squeeze=False)
    for i, pattern in enumerate(("contact", "roi")):
        for j, code in enumerate(codes):
            ax = axes[i, j]
            for metric in METRICS:
                part = table[(table.code == code) & (table.pattern == pattern)
                             & (table.metric == metric)].sort_values("n_patients")
                ax.plot(part["n_patients"], part["rate"], marker="o", label=metric)
            if code == "none":
                ax.axhline(0.05, color="grey", lw=0.8, ls="--")
            ax.set_title(f"{code}" if i == 0 else "", fontsize=9)
            ax.set_ylim(-0.02, 1.02)
            ax.set_xticks(sorted(table["n_patients"].unique()))
            if j == 0:
                ax.set_ylabel(f"{pattern} pattern\n{'power / FPR'}")
            if i == 1:
                ax.set_xlabel("patients")
    axes[0, -1].legend(fontsize=7, loc="lower right")
    fig.suptitle("Group-level detection of each planted code (null: false-positive rate)",
                 fontsize=10)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


if __name__ == "__main__":
    main()
