"""The group level: statistics across the complete participants, the group tables and report."""

from __future__ import annotations

import logging
import os
import shutil
from pathlib import Path

import pandas as pd

from ..bids.derivatives import complete_participants, group_path, provenance_record
from ..config import load_config
from ..errors import DataError

logger = logging.getLogger("ieegrsa")

__all__ = ["read_similarity_tables", "run_group", "group_paths"]


def group_paths(output_dir, task="faces") -> dict[str, Path]:
    """Where the group level writes each table, by kind (:data:`ieegrsa.stats.group.TABLES`)."""
    from ..stats.group import TABLES

    return {kind: group_path(output_dir, task, kind) for kind in TABLES}


def read_similarity_tables(output_dir, task="faces") -> pd.DataFrame:
    """The similarity tables of every complete participant under ``output_dir``.

    The participants are :func:`ieegrsa.bids.derivatives.complete_participants` (those with a
    provenance file), as in the group report.
    """
    output_dir = Path(output_dir)
    tables = []
    for participant in complete_participants(output_dir, task):
        path = participant["files"]["similarity"]
        tables.append(pd.read_csv(path, sep="\t", na_values=["n/a"], keep_default_na=False,
                                  dtype={"subject": str, "session": str, "contact": str,
                                         "instance": str, "layer": str}))
    if not tables:
        raise DataError("no complete participant outputs to analyse", file=output_dir,
                        field="output_dir", found=f"no sub-*_task-{task}_provenance.json",
                        fix="run the participant level first")
    return pd.concat(tables, ignore_index=True)


def run_group(output_dir, config=None, *, report=True, n_jobs=None) -> dict:
    """Run the group level: statistics across the participants' similarity tables.

    Parameters
    ----------
    output_dir : path-like
        The derivatives root written by the participant level.
    config : ieegrsa.Config | Mapping | path-like | None
        The configuration (its ``stats`` section; ``bids.task`` names the tables).
    report : bool
        Write ``group.html``.
    n_jobs : int | None
        Parallel jobs of the cluster tests (default ``config.n_jobs``).

    Returns
    -------
    dict
        Paths of the tables written (``mixedlm``, ``clusters``, ``onsets``, ``patients``,
        ``comparison`` when there is one) and ``report``.
    """
    from ..stats.group import group_statistics
    from ..stats.tables import write_stats_table

    config = load_config(config)
    output_dir = Path(output_dir)
    task = config.bids.task
    similarity = read_similarity_tables(output_dir, task)
    tables = group_statistics(similarity, config.stats, seed=config.random_seed,
                              n_jobs=config.n_jobs if n_jobs is None else n_jobs)
    paths = group_paths(output_dir, task)
    folder = output_dir / "group"
    provenance = provenance_record(config)
    sidecar = {k: provenance[k] for k in ("Config", "SoftwareVersions")}
    # written aside and swapped in whole: no mix of old and new tables, no half folder
    for stale in output_dir.glob(".group.*.part"):  # left by an interrupted group level
        shutil.rmtree(stale, ignore_errors=True)
    staging = output_dir / f".group.{os.getpid()}.part"
    written = []
    for kind in paths:
        table = tables.get(kind)
        if table is None or (table.empty and kind == "comparison"):
            continue
        name = paths[kind].name
        write_stats_table(table, staging / name, kind, extra=sidecar)
        written.append((kind, name))
    staging.mkdir(parents=True, exist_ok=True)
    if folder.exists():
        shutil.rmtree(folder)
    os.replace(staging, folder)
    outputs = {kind: folder / name for kind, name in written}
    if report:
        from ..report import group_report

        outputs["report"] = group_report(output_dir, task=task)
    return outputs
