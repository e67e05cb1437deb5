"""The whole BIDS-App on the simulator's ``paper`` preset: wall time and peak memory.

Case ``pipeline_paper``: simulate the ``paper`` dataset (11 patients; not timed), then run the
participant level with two patients at once (``run_participants(n_jobs=2)``, joblib's loky
processes) and the group level, both with the default configuration, and print::

    RESULT pipeline_paper wall_s=<participant + group> peak_rss_mb=<process tree> peer_s=n/a ...

There is no peer tool that runs this whole pipeline, so there is no ratio; ``peer_s=n/a``.

Peak RSS of the process tree: psutil (when installed; it comes with ``dask[distributed]``) samples
the summed RSS of this process and all its descendants (the loky workers) every 0.1 s and keeps
the maximum (``peak_rss_mb``); short spikes between samples can be missed. For reference the line
also has ``maxrss_self_mb`` and ``maxrss_children_mb`` from ``resource.getrusage`` (RUSAGE_SELF,
RUSAGE_CHILDREN: kernel peaks, but the children's count only holds children that have exited and
been waited for, which the reusable loky workers need not have). Without psutil ``peak_rss_mb``
is the sum of those two.

Run with ``python benchmarks/case_pipeline.py [--preset paper] [--n-jobs 2] [--keep DIR]``. It is
not registered with ``benchmarks/run.py`` (that runner prints a peer ratio this case does not
have), so ``CASES`` is empty.
"""

from __future__ import annotations

import argparse
import resource
import sys
import tempfile
import threading
import time
from pathlib import Path

CASES: dict = {}  # standalone: see the module docstring


class TreeRss:
    """Sample the summed RSS (bytes) of this process and its descendants in a thread."""

    def __init__(self, interval=0.1):
        try:
            import psutil
        except ImportError:
            psutil = None
        self.psutil, self.interval, self.peak = psutil, interval, 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _sample(self):
        me = self.psutil.Process()
        total = 0
        for proc in [me, *me.children(recursive=True)]:
            try:
                total += proc.memory_info().rss
            except (self.psutil.NoSuchProcess, self.psutil.AccessDenied):
                pass
        self.peak = max(self.peak, total)

    def _run(self):
        while not self._stop.is_set():
            self._sample()
            self._stop.wait(self.interval)

    def __enter__(self):
        if self.psutil is not None:
            self._thread.start()
        return self

    def __exit__(self, *exc):
        if self.psutil is not None:
            self._stop.set()
            self._thread.join()
            self._sample()


def _maxrss_mb(who) -> float:
    # Linux: ru_maxrss in KiB (macOS: bytes)
    value = resource.getrusage(who).ru_maxrss
    return value / (1024 * 1024 if sys.platform == "darwin" else 1024)


def pipeline_paper(preset="paper", n_jobs=2, keep=None, seed=0) -> dict:
    from ieegrsa.pipeline import run_group, run_participants
    from ieegrsa.simulate import make_dataset

    root = Path(keep) if keep else Path(tempfile.mkdtemp(prefix="ieegrsa_bench_"))
    start = time.perf_counter()
    bids = make_dataset(root / "bids", preset=preset, seed=seed, overwrite=True)
    simulate_s = time.perf_counter() - start
    out = root / "derivatives"
    with TreeRss() as tree:
        start = time.perf_counter()
        results = run_participants(bids, out, None, None, n_jobs=n_jobs, overwrite=True,
                                   work_dir=root / "work")
        participant_s = time.perf_counter() - start
        failed = results[results["status"] != "done"]
        if len(failed):
            raise RuntimeError(f"participants failed:\n{failed.to_string()}")
        start = time.perf_counter()
        run_group(out, None)
        group_s = time.perf_counter() - start
    self_mb, children_mb = _maxrss_mb(resource.RUSAGE_SELF), _maxrss_mb(resource.RUSAGE_CHILDREN)
    peak_mb = tree.peak / 2**20 if tree.psutil is not None else self_mb + children_mb
    return {
        "wall_s": participant_s + group_s, "participant_s": participant_s, "group_s": group_s,
        "simulate_s": simulate_s, "peak_rss_mb": peak_mb, "maxrss_self_mb": self_mb,
        "maxrss_children_mb": children_mb, "n_subjects": len(results),
        "rss_source": "psutil tree sampling" if tree.psutil is not None else "getrusage sum",
        "out": out,
    }


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--preset", default="paper")
    parser.add_argument("--n-jobs", type=int, default=2)
    parser.add_argument("--keep", default=None, help="folder to keep the dataset and outputs in")
    args = parser.parse_args(argv)
    import os

    print(f"# {os.cpu_count()} CPU cores")
    r = pipeline_paper(args.preset, args.n_jobs, args.keep)
    print(f"RESULT pipeline_{args.preset} wall_s={r['wall_s']:.1f} "
          f"peak_rss_mb={r['peak_rss_mb']:.0f} peer_s=n/a "
          f"participant_s={r['participant_s']:.1f} group_s={r['group_s']:.1f} "
          f"maxrss_self_mb={r['maxrss_self_mb']:.0f} "
          f"maxrss_children_mb={r['maxrss_children_mb']:.0f}", flush=True)
    print(f"# pipeline_{args.preset}: {r['n_subjects']} patients, n_jobs={args.n_jobs}, default "
          f"config; simulation {r['simulate_s']:.1f} s (not timed); peak_rss_mb from "
          f"{r['rss_source']}; outputs in {r['out']}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
