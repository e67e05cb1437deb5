"""Run the side-by-side benchmarks and print one ``RESULT`` line per case.

Usage::

    python benchmarks/run.py                 # every case
    python benchmarks/run.py CASE [CASE ...] # some cases
    python benchmarks/run.py --list          # the case names

Each case builds one input, runs ieegrsa and the tool people use today on it in this process,
checks that they agree, and returns the median times. The line printed is::

    RESULT <case> ieegrsa_s=<median> peer_s=<median> ratio=<peer/ieegrsa> maxabsdiff=<x>

followed by ``# <case>: ...`` notes (what the peer is, what was extrapolated). A case whose two
results disagree beyond its tolerance raises instead of printing a ratio.

Cases live in ``benchmarks/case_*.py`` modules, each with a ``CASES`` dict mapping a case name to
a function that returns ``dict(ieegrsa_s=..., peer_s=..., maxabsdiff=..., note=...)`` and
optionally ``extra`` (more ``key=value`` fields for the RESULT line).
"""

from __future__ import annotations

import argparse
import importlib
import os
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent


def all_cases() -> dict:
    sys.path.insert(0, str(HERE))
    cases = {}
    for path in sorted(HERE.glob("case_*.py")):
        module = importlib.import_module(path.stem)
        cases.update(module.CASES)
    return cases


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("cases", nargs="*", help="case names (default: every case)")
    parser.add_argument("--list", action="store_true", help="list the case names and exit")
    args = parser.parse_args(argv)
    cases = all_cases()
    if args.list:
        print("\n".join(cases))
        return 0
    unknown = [name for name in args.cases if name not in cases]
    if unknown:
        parser.error(f"unknown case(s) {unknown}; choose from {sorted(cases)}")
    print(f"# {os.cpu_count()} CPU cores; times are medians of repeated runs in seconds")
    for name in args.cases or list(cases):
        out = cases[name]()
        ratio = out["peer_s"] / out["ieegrsa_s"]
        print(f"RESULT {name} ieegrsa_s={out['ieegrsa_s']:.4g} peer_s={out['peer_s']:.4g} "
              f"ratio={ratio:.3g} maxabsdiff={out['maxabsdiff']:.3g}"
              + (f" {out['extra']}" if out.get("extra") else ""), flush=True)
        for line in str(out.get("note", "")).splitlines():
            print(f"# {name}: {line}", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
