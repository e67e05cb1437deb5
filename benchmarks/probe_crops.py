"""Transfer readouts of the trained face networks and their untrained controls, on the raw
London photos, with each network's own crop (``crop: auto``) and with the whole photo
(``crop: none``): the table in the README's "Probing the networks".

Run: ``python benchmarks/probe_crops.py [--cache DIR]`` (needs ``../shared/data``; ~9 min on
2 cores). Prints one Markdown table and ``RESULT`` lines of the probe's wall time per crop.
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

import pandas as pd

from ieegrsa.probing.probe import probe

ROOT = Path(__file__).resolve().parents[1]
LONDON = ROOT.parent / "shared" / "data" / "faces" / "london"
#: (network, weights, layers): a middle block, the last block and the output of each
NETWORKS = (("dlib-resnet-face", "dlib", ["layer3", "layer5", "fc"]),
            ("fer-mini-xception", "fer2013", ["add_2", "add_4", "predictions"]))


def london_table() -> pd.DataFrame:
    rows = []
    for path in sorted((LONDON / "neutral").glob("*_03.jpg")):
        face = path.stem.split("_")[0]
        rows.append({"stim_file": str(path), "identity": face, "expression": "neutral"})
        rows.append({"stim_file": str(LONDON / "smiling" / f"{face}_08.jpg"),
                     "identity": face, "expression": "smiling"})
    return pd.DataFrame(rows)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--cache", default=None, help="feature cache folder (default: none)")
    args = parser.parse_args()
    table = london_table()
    rows = []
    for network, weights, layers in NETWORKS:
        for crop in ("auto", "none"):
            start = time.perf_counter()
            result = probe(network, table, weights=weights, layers=layers, analyses=("readouts",),
                           n_permutations=0, crop=crop, cache_dir=args.cache)
            seconds = time.perf_counter() - start
            print(f"RESULT probe_{network}_{crop} ieegrsa_s={seconds:.1f}", flush=True)
            for row in result.readouts.itertuples():
                rows.append({"network": network, "crop": result.settings["crop"],
                             "instance": row.instance, "target": row.target,
                             "layer": row.layer, "accuracy": row.accuracy})
    frame = pd.DataFrame(rows)
    best = (frame.groupby(["network", "crop", "instance", "target"], sort=False)["accuracy"]
            .agg(best="max", last="last").reset_index())
    wide = best.pivot_table(index=["network", "crop", "instance"], columns="target",
                            values=["best", "last"], sort=False)
    wide.columns = [f"{target} ({which} layer)" for which, target in wide.columns]
    wide = wide.round(2).reset_index()
    print("| " + " | ".join(wide.columns) + " |")
    print("|" + "---|" * len(wide.columns))
    for values in wide.itertuples(index=False):
        print("| " + " | ".join(str(v) for v in values) + " |")


if __name__ == "__main__":
    main()
